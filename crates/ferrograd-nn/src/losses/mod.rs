//! Losses with PyTorch's reductions and numerics, one file per concept.
//!
//! Every loss is one fused operation with its own backward, reduction included: the
//! book's chapter-1 loops run a loss on a dozen examples hundreds of times, where each
//! extra tensor op costs as much as the arithmetic. Sums behind `Mean` and `Sum` are
//! accumulated in `f64`.

pub mod bce;
pub mod cross_entropy;
pub mod mse;

use crate::error::{NnError, Result, shape_of};
use ferrograd_tensor::{BackwardOp, Scalar, Tensor};
use std::marker::PhantomData;

/// How per-element losses are combined, as PyTorch's `reduction=` argument.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// The per-element losses, unreduced (`reduction="none"`).
    None,
    /// Their mean (the default, `reduction="mean"`).
    #[default]
    Mean,
    /// Their sum (`reduction="sum"`).
    Sum,
}

/// An element-wise loss `l(x, y)` with its two partial derivatives, fused with its
/// reduction by [`pointwise_loss`].
pub(crate) trait Pointwise: Copy + Send + Sync + 'static {
    /// The op name in errors and `grad_fn`.
    const NAME: &'static str;
    /// `l(x, y)`.
    fn loss<T: Scalar>(x: T, y: T) -> T;
    /// `∂l/∂x`.
    fn grad_input<T: Scalar>(x: T, y: T) -> T;
    /// `∂l/∂y`.
    fn grad_target<T: Scalar>(x: T, y: T) -> T;
}

struct PointwiseBackward<K> {
    reduction: Reduction,
    kind: PhantomData<K>,
}

impl<T: Scalar, K: Pointwise> BackwardOp<T> for PointwiseBackward<K> {
    fn name(&self) -> &'static str {
        K::NAME
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> ferrograd_tensor::Result<Vec<Option<Tensor<T>>>> {
        let (input, target) = (&inputs[0], &inputs[1]);
        let (x, y) = (input.contiguous_data(), target.contiguous_data());
        let g = grad.contiguous_data();
        let n = x.len();
        // The output gradient reaching element i.
        let scale = match self.reduction {
            Reduction::None => T::ONE,
            Reduction::Sum => g[0],
            Reduction::Mean => g[0] / T::from_usize(n),
        };
        let coef = |i: usize| {
            if self.reduction == Reduction::None {
                g[i]
            } else {
                scale
            }
        };
        let side = |d: fn(T, T) -> T| -> ferrograd_tensor::Result<Tensor<T>> {
            let mut data = crate::kernels::buffer(x.len());
            for (i, (out, (&x, &y))) in data.iter_mut().zip(x.iter().zip(y.iter())).enumerate() {
                *out = coef(i) * d(x, y);
            }
            Tensor::from_vec(data, input.shape())
        };
        let gx = input
            .requires_grad()
            .then(|| side(K::grad_input))
            .transpose()?;
        let gy = target
            .requires_grad()
            .then(|| side(K::grad_target))
            .transpose()?;
        Ok(vec![gx, gy])
    }
}

/// Applies the element-wise loss `K` to same-shaped `input` and `target` and reduces it,
/// as one operation.
pub(crate) fn pointwise_loss<T: Scalar, K: Pointwise>(
    _kind: K,
    input: &Tensor<T>,
    target: &Tensor<T>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    if input.shape() != target.shape() {
        return Err(NnError::BadInput {
            op: K::NAME,
            expected: format!("a target of the input's shape {}", shape_of(input.shape())),
            got: shape_of(target.shape()),
        });
    }
    let (x, y) = (input.contiguous_data(), target.contiguous_data());
    let losses = x.iter().zip(y.iter()).map(|(&x, &y)| K::loss(x, y));
    let (data, shape) = match reduction {
        Reduction::None => {
            let mut data = crate::kernels::buffer(x.len());
            data.iter_mut().zip(losses).for_each(|(out, l)| *out = l);
            (data, input.shape().to_vec())
        }
        Reduction::Sum | Reduction::Mean => {
            let total: f64 = losses.map(|v| v.to_f64()).sum();
            let value = if reduction == Reduction::Mean {
                total / x.len() as f64
            } else {
                total
            };
            (vec![T::from_f64(value)], Vec::new())
        }
    };
    drop((x, y));
    let op = PointwiseBackward::<K> {
        reduction,
        kind: PhantomData,
    };
    Ok(Tensor::from_op(data, &shape, &[input, target], op)?)
}
