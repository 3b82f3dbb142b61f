//! Function forms of the layers and losses, as `torch.nn.functional`: no parameters of
//! their own, everything passed in. The modules call these, so both forms compute the
//! same numbers.
//!
//! ```
//! use ferrograd_nn::functional as F;
//! use ferrograd_tensor::{IdTensor, Tensor};
//! let x = Tensor::<f32>::from([[1.0, -2.0]]);
//! let w = Tensor::<f32>::from([[0.5, 0.25], [1.0, 0.0], [0.0, 1.0]]);
//! let logits = F::linear(&F::relu(&x), &w, None)?; // [[0.5, 1.0, 0.0]]
//! let loss = F::cross_entropy(&logits, &IdTensor::from(vec![1]))?;
//! let expected = -(1f32.exp() / (0.5f32.exp() + 1f32.exp() + 1.0)).ln();
//! assert!((loss.item()? - expected).abs() < 1e-6);
//! # Ok::<(), ferrograd_nn::NnError>(())
//! ```

use crate::error::{NnError, Result, shape_of};
use crate::kernels;
use crate::losses::Reduction;
use ferrograd_tensor::{BackwardOp, IdTensor, Rng, Scalar, Tensor};

pub use crate::layers::embedding::embedding;
pub use crate::layers::norm::{layer_norm, rms_norm};

/// `max(x, 0)` (the tensor method [`Tensor::relu`]).
pub fn relu<T: Scalar>(x: &Tensor<T>) -> Tensor<T> {
    x.relu()
}

/// `1 / (1 + e^-x)` (the tensor method [`Tensor::sigmoid`]).
pub fn sigmoid<T: Scalar>(x: &Tensor<T>) -> Tensor<T> {
    x.sigmoid()
}

/// `tanh x` (the tensor method [`Tensor::tanh`]).
pub fn tanh<T: Scalar>(x: &Tensor<T>) -> Tensor<T> {
    x.tanh()
}

/// Exact GELU `x·Φ(x)` (the tensor method [`Tensor::gelu`]).
pub fn gelu<T: Scalar>(x: &Tensor<T>) -> Tensor<T> {
    x.gelu()
}

/// √(2/π), GELU's tanh-approximation constant.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of GELU's tanh approximation.
const GELU_CUBIC: f64 = 0.044_715;

struct GeluTanhBackward;

impl<T: Scalar> BackwardOp<T> for GeluTanhBackward {
    fn name(&self) -> &'static str {
        "gelu_tanh"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> ferrograd_tensor::Result<Vec<Option<Tensor<T>>>> {
        let (k, c) = (T::from_f64(SQRT_2_OVER_PI), T::from_f64(GELU_CUBIC));
        let (half, three) = (T::from_f64(0.5), T::from_f64(3.0));
        let x = inputs[0].contiguous_data();
        let g = grad.contiguous_data();
        // d/dx = ½(1 + tanh u) + ½x(1 - tanh²u)·k(1 + 3c x²), u = k(x + c x³).
        let mut gx = kernels::buffer(x.len());
        for (out, (&x, &g)) in gx.iter_mut().zip(x.iter().zip(g.iter())) {
            let t = (k * (x + c * x * x * x)).tanh();
            let du = k * (T::ONE + three * c * x * x);
            *out = g * (half * (T::ONE + t) + half * x * (T::ONE - t * t) * du);
        }
        Ok(vec![Some(Tensor::from_vec(gx, inputs[0].shape())?)])
    }
}

/// GELU's tanh approximation `x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`,
/// `torch.nn.functional.gelu(x, approximate="tanh")`, fused with its backward.
///
/// # Errors
/// Never in practice (the output shape is the input's).
pub fn gelu_tanh<T: Scalar>(x: &Tensor<T>) -> Result<Tensor<T>> {
    let (k, c, half) = (
        T::from_f64(SQRT_2_OVER_PI),
        T::from_f64(GELU_CUBIC),
        T::from_f64(0.5),
    );
    let data = x.contiguous_data();
    let mut y = kernels::buffer(data.len());
    for (out, &x) in y.iter_mut().zip(data.iter()) {
        *out = half * x * (T::ONE + (k * (x + c * x * x * x)).tanh());
    }
    drop(data);
    Ok(Tensor::from_op(y, x.shape(), &[x], GeluTanhBackward)?)
}

/// Softmax along `axis` (the tensor method [`Tensor::softmax`]).
///
/// # Errors
/// [`NnError::Tensor`] for an axis out of range.
pub fn softmax<T: Scalar>(x: &Tensor<T>, axis: isize) -> Result<Tensor<T>> {
    Ok(x.softmax(axis)?)
}

/// Log-softmax along `axis` (the tensor method [`Tensor::log_softmax`]).
///
/// # Errors
/// [`NnError::Tensor`] for an axis out of range.
pub fn log_softmax<T: Scalar>(x: &Tensor<T>, axis: isize) -> Result<Tensor<T>> {
    Ok(x.log_softmax(axis)?)
}

/// `x·Wᵀ + b` on the last axis of `x` (`[..., in]` → `[..., out]`),
/// `torch.nn.functional.linear`: one matrix product with the transposed weight (a view,
/// no copy; batch axes fold into the rows of a single product) and a broadcast add.
///
/// # Errors
/// [`NnError::BadInput`] when the weight is not `[out, in]`, the bias not `[out]`, or
/// the input's last axis not `in`.
pub fn linear<T: Scalar>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
) -> Result<Tensor<T>> {
    linear_named("linear", x, weight, bias)
}

/// [`linear`] with the layer's name in errors.
pub(crate) fn linear_named<T: Scalar>(
    op: &'static str,
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
) -> Result<Tensor<T>> {
    if weight.rank() != 2 {
        return Err(NnError::BadInput {
            op,
            expected: "a weight of shape [out, in]".into(),
            got: shape_of(weight.shape()),
        });
    }
    let (out_features, in_features) = (weight.shape()[0], weight.shape()[1]);
    if x.rank() == 0 || x.shape()[x.rank() - 1] != in_features {
        return Err(NnError::BadInput {
            op,
            expected: format!("[..., {in_features}]"),
            got: shape_of(x.shape()),
        });
    }
    if let Some(b) = bias
        && b.shape() != [out_features]
    {
        return Err(NnError::BadInput {
            op,
            expected: format!("a bias of shape [{out_features}]"),
            got: shape_of(b.shape()),
        });
    }
    // One product with the transposed weight (a free view), then a broadcast add.
    let y = x.matmul(&weight.t()?)?;
    Ok(match bias {
        Some(b) => y.add(b)?,
        None => y,
    })
}

/// Inverted dropout, `torch.nn.functional.dropout`: in training, each element is zeroed
/// with probability `p` and the rest scaled by `1/(1 - p)`, so the expected value is
/// unchanged; with `training == false` (or `p == 0`) the input is returned as it is.
/// The mask is drawn from `rng`, one `next_f64` per element.
///
/// # Errors
/// [`NnError::InvalidArgument`] for `p` outside `[0, 1]` (`p = 1` zeroes everything,
/// as in PyTorch).
pub fn dropout<T: Scalar>(
    x: &Tensor<T>,
    p: f64,
    training: bool,
    rng: &mut Rng,
) -> Result<Tensor<T>> {
    if !(0.0..=1.0).contains(&p) {
        return Err(NnError::InvalidArgument {
            op: "dropout",
            reason: format!("probability {p} is not in [0, 1]"),
        });
    }
    if !training || p == 0.0 {
        return Ok(x.clone());
    }
    // p = 1 drops everything (the scale is then never used).
    let scale = T::from_f64(1.0 / (1.0 - p));
    let mut mask = kernels::buffer(x.numel());
    for m in &mut mask {
        *m = if rng.next_f64() < p { T::ZERO } else { scale };
    }
    Ok(x.mul(&Tensor::from_vec(mask, x.shape())?)?)
}

/// Mean squared error, [`crate::MseLoss`] with the given reduction.
///
/// # Errors
/// As [`crate::MseLoss::forward`].
pub fn mse_loss<T: Scalar>(
    input: &Tensor<T>,
    target: &Tensor<T>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    crate::MseLoss { reduction }.forward(input, target)
}

/// Binary cross-entropy on probabilities, [`crate::BceLoss`] with the given reduction.
///
/// # Errors
/// As [`crate::BceLoss::forward`].
pub fn binary_cross_entropy<T: Scalar>(
    input: &Tensor<T>,
    target: &Tensor<T>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    crate::BceLoss { reduction }.forward(input, target)
}

/// Binary cross-entropy on logits, [`crate::BceWithLogitsLoss`] with the given
/// reduction.
///
/// # Errors
/// As [`crate::BceWithLogitsLoss::forward`].
pub fn binary_cross_entropy_with_logits<T: Scalar>(
    input: &Tensor<T>,
    target: &Tensor<T>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    crate::BceWithLogitsLoss { reduction }.forward(input, target)
}

/// Mean cross-entropy of logits against class indices, [`crate::CrossEntropyLoss`]'s
/// defaults (use the struct for `ignore_index`, label smoothing or another reduction).
///
/// # Errors
/// As [`crate::CrossEntropyLoss::forward`].
pub fn cross_entropy<T: Scalar>(input: &Tensor<T>, target: &IdTensor) -> Result<Tensor<T>> {
    crate::CrossEntropyLoss::default().forward(input, target)
}

/// Mean negative log-likelihood of log-probabilities, [`crate::NllLoss`]'s defaults.
///
/// # Errors
/// As [`crate::NllLoss::forward`].
pub fn nll_loss<T: Scalar>(input: &Tensor<T>, target: &IdTensor) -> Result<Tensor<T>> {
    crate::NllLoss::default().forward(input, target)
}
