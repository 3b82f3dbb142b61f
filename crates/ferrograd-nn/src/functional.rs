//! Function forms of the layers and losses, as `torch.nn.functional`: thin
//! PyTorch-named wrappers over the tensor crate's ops (where the kernels live), with no
//! parameters of their own. The layers call these (or the same tensor ops), so both forms
//! compute the same numbers; nothing here depends on a layer.
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
use ferrograd_tensor::{DEFAULT_IGNORE_INDEX, IdTensor, Reduction, Rng, Scalar, Tensor};

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

/// GELU's tanh approximation `x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`,
/// `torch.nn.functional.gelu(x, approximate="tanh")` (the tensor method
/// [`Tensor::gelu_tanh`], an element-wise op with its derivative).
///
/// # Errors
/// Never (the output shape is the input's); a `Result` for compatibility.
pub fn gelu_tanh<T: Scalar>(x: &Tensor<T>) -> Result<Tensor<T>> {
    Ok(x.gelu_tanh())
}

/// SiLU (swish) `x·σ(x)`, `torch.nn.functional.silu` (the tensor method
/// [`Tensor::silu`]).
pub fn silu<T: Scalar>(x: &Tensor<T>) -> Tensor<T> {
    x.silu()
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
/// no copy; batch axes fold into the rows of a single product) and the bias broadcast
/// over the rows, added in the same pass ([`Tensor::matmul_add`]).
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
    // One product with the transposed weight (a free view); a bias fills the output
    // first and the product is added into it (`matmul_add`, `torch.addmm`'s way).
    Ok(match bias {
        Some(b) => x.matmul_add(&weight.t()?, b)?,
        None => x.matmul(&weight.t()?)?,
    })
}

/// Inverted dropout, `torch.nn.functional.dropout`: in training, each element is zeroed
/// with probability `p` and the rest scaled by `1/(1 - p)`, so the expected value is
/// unchanged; with `training == false` (or `p == 0`) the input is returned as it is.
/// The mask is drawn from `rng`, one `next_f64` per element ([`Tensor::dropout`]).
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
    if !training {
        return Ok(x.clone());
    }
    Ok(x.dropout(p, rng)?)
}

/// Layer normalisation, `torch.nn.functional.layer_norm` (the tensor method
/// [`Tensor::layer_norm`], a fused op): over the trailing `normalized_shape` axes,
/// `(x - mean) / √(var + eps) · weight + bias` with the biased variance.
///
/// ```
/// use ferrograd_nn::layer_norm;
/// use ferrograd_tensor::Tensor;
/// let x = Tensor::<f64>::from([[1.0, 2.0, 3.0], [10.0, 10.0, 10.0]]);
/// let y = layer_norm(&x, &[3], None, None, 1e-5)?.to_vec();
/// assert_eq!(y[3..], [0.0, 0.0, 0.0]); // a constant row normalises to zero
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// # Errors
/// [`NnError::Tensor`] naming `layer_norm` when `normalized_shape` is empty, the
/// input's trailing axes are not `normalized_shape`, or a parameter has another shape.
pub fn layer_norm<T: Scalar>(
    input: &Tensor<T>,
    normalized_shape: &[usize],
    weight: Option<&Tensor<T>>,
    bias: Option<&Tensor<T>>,
    eps: f64,
) -> Result<Tensor<T>> {
    Ok(input.layer_norm(normalized_shape, weight, bias, eps)?)
}

/// RMS normalisation, `torch.nn.functional.rms_norm` (the tensor method
/// [`Tensor::rms_norm`], a fused op): `x / √(mean(x²) + eps) · weight` over the trailing
/// `normalized_shape` axes; `eps = None` uses the machine epsilon of `T`, as PyTorch.
///
/// ```
/// use ferrograd_nn::rms_norm;
/// use ferrograd_tensor::Tensor;
/// let y = rms_norm(&Tensor::<f64>::from([3.0, 4.0]), &[2], None, Some(0.0))?.to_vec();
/// let rms = 12.5f64.sqrt(); // √((9 + 16) / 2)
/// assert!((y[0] - 3.0 / rms).abs() < 1e-15 && (y[1] - 4.0 / rms).abs() < 1e-15);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// # Errors
/// As [`layer_norm`], naming `rms_norm`.
pub fn rms_norm<T: Scalar>(
    input: &Tensor<T>,
    normalized_shape: &[usize],
    weight: Option<&Tensor<T>>,
    eps: Option<f64>,
) -> Result<Tensor<T>> {
    Ok(input.rms_norm(normalized_shape, weight, eps)?)
}

/// Looks up rows of `weight` (`[num_embeddings, dim]`) for `ids` of any shape, giving
/// `ids.shape() ++ [dim]`, `torch.nn.functional.embedding` (the tensor method
/// [`Tensor::embedding`], a fused op). The row `padding_idx` receives no gradient.
///
/// ```
/// use ferrograd_nn::functional::embedding;
/// use ferrograd_tensor::{IdTensor, Tensor};
/// let table = Tensor::<f32>::from([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]]);
/// let out = embedding(&table, &IdTensor::new(vec![2, 1, 2], &[1, 3])?, None)?;
/// assert_eq!(out.to_vec(), vec![3.0, 4.0, 1.0, 2.0, 3.0, 4.0]);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// # Errors
/// [`NnError::Tensor`]: a weight that is not 2-D, or the first id past the table with
/// its position ([`ferrograd_tensor::TensorError::IdOutOfRange`]).
pub fn embedding<T: Scalar>(
    weight: &Tensor<T>,
    ids: &IdTensor,
    padding_idx: Option<usize>,
) -> Result<Tensor<T>> {
    Ok(weight.embedding(ids, padding_idx)?)
}

/// Mean squared error with the given reduction (the tensor method
/// [`Tensor::mse_loss`]; [`crate::MseLoss`] is the module form).
///
/// # Errors
/// [`NnError::Tensor`] when the shapes differ.
pub fn mse_loss<T: Scalar>(
    input: &Tensor<T>,
    target: &Tensor<T>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    Ok(input.mse_loss(target, reduction)?)
}

/// Binary cross-entropy on probabilities with the given reduction (the tensor method
/// [`Tensor::binary_cross_entropy`]; [`crate::BceLoss`] is the module form).
///
/// # Errors
/// [`NnError::Tensor`] for different shapes, or an input or target outside [0, 1].
pub fn binary_cross_entropy<T: Scalar>(
    input: &Tensor<T>,
    target: &Tensor<T>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    Ok(input.binary_cross_entropy(target, reduction)?)
}

/// Binary cross-entropy on logits with the given reduction (the tensor method
/// [`Tensor::binary_cross_entropy_with_logits`]; [`crate::BceWithLogitsLoss`] is the
/// module form).
///
/// # Errors
/// [`NnError::Tensor`] for different shapes.
pub fn binary_cross_entropy_with_logits<T: Scalar>(
    input: &Tensor<T>,
    target: &Tensor<T>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    Ok(input.binary_cross_entropy_with_logits(target, reduction)?)
}

/// Mean cross-entropy of logits against class indices with PyTorch's defaults
/// (`ignore_index = -100`, no smoothing): the tensor method [`Tensor::cross_entropy`]
/// (use it, or [`crate::CrossEntropyLoss`], for other options).
///
/// # Errors
/// [`NnError::Tensor`] for mismatched shapes, zero classes or a target out of range.
pub fn cross_entropy<T: Scalar>(input: &Tensor<T>, target: &IdTensor) -> Result<Tensor<T>> {
    Ok(input.cross_entropy(target, Reduction::Mean, DEFAULT_IGNORE_INDEX, 0.0)?)
}

/// Mean negative log-likelihood of log-probabilities with PyTorch's defaults: the tensor
/// method [`Tensor::nll_loss`] ([`crate::NllLoss`] is the module form).
///
/// # Errors
/// As [`cross_entropy`].
pub fn nll_loss<T: Scalar>(input: &Tensor<T>, target: &IdTensor) -> Result<Tensor<T>> {
    Ok(input.nll_loss(target, Reduction::Mean, DEFAULT_IGNORE_INDEX)?)
}
