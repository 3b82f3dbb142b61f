//! Element-wise losses with PyTorch's reductions and numerics: mean squared error, binary
//! cross-entropy on probabilities and on logits. Each is one fused op with its own
//! backward, reduction included: the book's chapter-1 loops run a loss on a dozen
//! examples hundreds of times, where each extra tensor op costs as much as the
//! arithmetic. Sums behind [`Reduction::Mean`] and [`Reduction::Sum`] are accumulated in
//! `f64`.
//!
//! [`Reduction`] and the reduction helpers here are shared with
//! [`cross_entropy`](super::cross_entropy).

use crate::autograd::BackwardOp;
use crate::error::{Result, TensorError, shape_of};
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;
use std::marker::PhantomData;

/// How per-element losses are combined, as PyTorch's `reduction=` argument.
///
/// ```
/// use ferrograd_tensor::{Reduction, Tensor};
/// let (x, y) = (Tensor::<f32>::from([1.0, 2.0]), Tensor::from([1.0, 4.0]));
/// assert_eq!(x.mse_loss(&y, Reduction::Mean)?.item()?, 2.0);
/// assert_eq!(x.mse_loss(&y, Reduction::None)?.to_vec(), vec![0.0, 4.0]);
/// # Ok::<(), ferrograd_tensor::TensorError>(())
/// ```
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

/// Reduces per-element losses (of the shape `shape`); `count` is the divisor of a mean
/// (the number of elements, or of targets not ignored). The sum is accumulated in f64.
pub(crate) fn reduce<T: Scalar>(
    losses: Vec<T>,
    reduction: Reduction,
    count: usize,
    shape: &[usize],
) -> (Vec<T>, Vec<usize>) {
    match reduction {
        Reduction::None => (losses, shape.to_vec()),
        Reduction::Sum | Reduction::Mean => {
            let total: f64 = losses.iter().map(|v| v.to_f64()).sum();
            let value = if reduction == Reduction::Mean {
                // 0/0 = NaN when there is nothing to average, as in PyTorch.
                total / count as f64
            } else {
                total
            };
            (vec![T::from_f64(value)], Vec::new())
        }
    }
}

/// The output gradient reaching each of `len` elements: the gradient itself for
/// [`Reduction::None`], else its one value (divided by `count` for a mean).
pub(crate) fn coefficients<T: Scalar>(
    grad: &Tensor<T>,
    reduction: Reduction,
    len: usize,
    count: usize,
) -> Vec<T> {
    let g = grad.contiguous_data();
    match reduction {
        Reduction::None => g.into_owned(),
        Reduction::Sum => vec![g[0]; len],
        Reduction::Mean => vec![g[0] / T::from_usize(count); len],
    }
}

/// An element-wise loss `l(x, y)` with its two partial derivatives, fused with its
/// reduction by [`pointwise_loss`].
trait Pointwise: Copy + Send + Sync + 'static {
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
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let (input, target) = (&inputs[0], &inputs[1]);
        let (x, y) = (input.contiguous_data(), target.contiguous_data());
        let n = x.len();
        let coef = coefficients(grad, self.reduction, n, n);
        let side = |d: fn(T, T) -> T| -> Tensor<T> {
            let mut data = storage::take_buffer::<T>(n);
            for (((out, &x), &y), &k) in data.iter_mut().zip(x.iter()).zip(y.iter()).zip(&coef) {
                *out = k * d(x, y);
            }
            Tensor::from_vec_unchecked(data, input.shape())
        };
        let gx = input.requires_grad().then(|| side(K::grad_input));
        let gy = target.requires_grad().then(|| side(K::grad_target));
        Ok(vec![gx, gy])
    }
}

/// Applies the element-wise loss `K` to same-shaped `input` and `target` and reduces it,
/// as one operation.
fn pointwise_loss<T: Scalar, K: Pointwise>(
    _kind: K,
    input: &Tensor<T>,
    target: &Tensor<T>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    if input.shape() != target.shape() {
        return Err(TensorError::InvalidArgument {
            op: K::NAME,
            reason: format!(
                "the target must have the input's shape {}, got {}",
                shape_of(input.shape()),
                shape_of(target.shape())
            ),
        });
    }
    let (x, y) = (input.contiguous_data(), target.contiguous_data());
    let mut losses = storage::take_buffer::<T>(x.len());
    for ((out, &x), &y) in losses.iter_mut().zip(x.iter()).zip(y.iter()) {
        *out = K::loss(x, y);
    }
    let (data, shape) = reduce(losses, reduction, x.len(), input.shape());
    drop((x, y));
    let op = PointwiseBackward::<K> {
        reduction,
        kind: PhantomData,
    };
    Ok(Tensor::op_result(data, &shape, &[input, target], op))
}

#[derive(Debug, Clone, Copy)]
struct SquaredError;

impl Pointwise for SquaredError {
    const NAME: &'static str = "mse_loss";

    fn loss<T: Scalar>(x: T, y: T) -> T {
        (x - y) * (x - y)
    }

    fn grad_input<T: Scalar>(x: T, y: T) -> T {
        T::from_f64(2.0) * (x - y)
    }

    fn grad_target<T: Scalar>(x: T, y: T) -> T {
        T::from_f64(2.0) * (y - x)
    }
}

/// `max(v, -100)`: PyTorch's BCELoss clamps each log at -100 so that p = 0 or 1 gives a
/// finite loss.
fn clamp_log<T: Scalar>(v: T) -> T {
    v.max(T::from_f64(-100.0))
}

#[derive(Debug, Clone, Copy)]
struct Bce;

impl Pointwise for Bce {
    const NAME: &'static str = "binary_cross_entropy";

    fn loss<T: Scalar>(p: T, y: T) -> T {
        // PyTorch: (y - 1)·max(log1p(-p), -100) - y·max(log p, -100).
        (y - T::ONE) * clamp_log((-p).ln_1p()) - y * clamp_log(p.ln())
    }

    fn grad_input<T: Scalar>(p: T, y: T) -> T {
        // PyTorch: (p - y) / max(p (1 - p), ε) with ε the f32 constant 1e-12 (also for
        // f64 inputs), which matters at p = 0 or 1.
        let eps = T::from_f64(f64::from(1e-12f32));
        (p - y) / (p * (T::ONE - p)).max(eps)
    }

    fn grad_target<T: Scalar>(p: T, _: T) -> T {
        // PyTorch: -logit(p), unclamped (±inf at p = 0 or 1).
        -(p / (T::ONE - p)).ln()
    }
}

#[derive(Debug, Clone, Copy)]
struct BceWithLogits;

impl Pointwise for BceWithLogits {
    const NAME: &'static str = "binary_cross_entropy_with_logits";

    fn loss<T: Scalar>(z: T, y: T) -> T {
        // PyTorch: (1 - y)·z - log σ(z), with log σ(z) = min(z, 0) - ln(1 + e^-|z|):
        // exact and finite for any finite z (no large term is added and then removed).
        let log_sigmoid = z.min(T::ZERO) - (-z.abs()).exp().ln_1p();
        (T::ONE - y) * z - log_sigmoid
    }

    fn grad_input<T: Scalar>(z: T, y: T) -> T {
        z.sigmoid() - y
    }

    fn grad_target<T: Scalar>(z: T, _: T) -> T {
        -z
    }
}

impl<T: Scalar> Tensor<T> {
    /// `(input − target)²`, reduced: `torch.nn.functional.mse_loss` (the book's §1.2
    /// loss). Both tensors may require gradients.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `mse_loss` when the shapes differ.
    pub fn mse_loss(&self, target: &Tensor<T>, reduction: Reduction) -> Result<Tensor<T>> {
        pointwise_loss(SquaredError, self, target, reduction)
    }

    /// Binary cross-entropy of probabilities against targets in [0, 1],
    /// `torch.nn.functional.binary_cross_entropy`: `-(y ln p + (1 - y) ln(1 - p))` with
    /// each log clamped at -100 (so p = 0 or 1 gives a finite loss of at most 100) and
    /// `ln(1 - p)` computed as `ln_1p(-p)`; the input gradient is
    /// `(p - y) / max(p(1 - p), 1e-12)`, all as PyTorch.
    ///
    /// ```
    /// use ferrograd_tensor::{Reduction, Tensor};
    /// let worst = Tensor::<f32>::from([0.0]).binary_cross_entropy(&Tensor::from([1.0]), Reduction::Mean)?;
    /// assert_eq!(worst.item()?, 100.0); // a confidently wrong prediction costs 100
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `binary_cross_entropy` for different
    /// shapes, or an input or target outside [0, 1] or NaN (PyTorch raises too).
    pub fn binary_cross_entropy(
        &self,
        target: &Tensor<T>,
        reduction: Reduction,
    ) -> Result<Tensor<T>> {
        for (what, t) in [("input", self), ("target", target)] {
            if let Some(bad) = t
                .contiguous_data()
                .iter()
                .find(|&&v| !(v >= T::ZERO && v <= T::ONE))
            {
                return Err(TensorError::InvalidArgument {
                    op: Bce::NAME,
                    reason: format!("{what} element {bad} is not in [0, 1]"),
                });
            }
        }
        pointwise_loss(Bce, self, target, reduction)
    }

    /// Binary cross-entropy on logits, `torch.nn.functional.binary_cross_entropy_with_logits`:
    /// `(1 − y)·z − log σ(z) = max(z, 0) − z·y + ln(1 + e^−|z|)`, exact and finite for any
    /// finite logit (|z| = 1000 included), with gradient `σ(z) − y`.
    ///
    /// ```
    /// use ferrograd_tensor::{Reduction, Tensor};
    /// let z = Tensor::<f32>::from([1000.0, -1000.0]);
    /// let y = Tensor::<f32>::from([0.0, 0.0]);
    /// assert_eq!(z.binary_cross_entropy_with_logits(&y, Reduction::None)?.to_vec(), [1000.0, 0.0]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming the op for different shapes.
    pub fn binary_cross_entropy_with_logits(
        &self,
        target: &Tensor<T>,
        reduction: Reduction,
    ) -> Result<Tensor<T>> {
        pointwise_loss(BceWithLogits, self, target, reduction)
    }
}
