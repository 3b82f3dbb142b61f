//! Binary cross-entropy, on probabilities and on logits, matching PyTorch's formulas at
//! the edges (probabilities of exactly 0 or 1, logits of ±1000).

use super::Reduction;
use crate::error::Result;
use ferrograd_tensor::{Scalar, Tensor};

/// Binary cross-entropy on probabilities, `torch.nn.BCELoss`:
/// `-(y ln p + (1 - y) ln(1 - p))` with each log clamped at -100 (so p = 0 or 1 gives a
/// finite loss of at most 100) and `ln(1 - p)` computed as `ln_1p(-p)`, as PyTorch does.
/// The input gradient is `(p - y) / max(p(1 - p), 1e-12)`, also as in PyTorch.
///
/// ```
/// use ferrograd_nn::BceLoss;
/// use ferrograd_tensor::Tensor;
/// let p = Tensor::<f32>::from([0.9, 0.2]);
/// let y = Tensor::<f32>::from([1.0, 0.0]);
/// let loss = BceLoss::default().forward(&p, &y)?.item()?;
/// assert!((loss - (-(0.9f32.ln() + 0.8f32.ln()) / 2.0)).abs() < 1e-6);
/// // A confidently wrong prediction costs 100, not infinity.
/// let worst = BceLoss::default().forward(&Tensor::<f32>::from([0.0]), &Tensor::from([1.0]))?;
/// assert_eq!(worst.item()?, 100.0);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BceLoss {
    /// How to combine per-element losses.
    pub reduction: Reduction,
}

impl BceLoss {
    /// The loss with the given reduction (`BceLoss::default()` takes the mean).
    pub fn new(reduction: Reduction) -> Self {
        Self { reduction }
    }

    /// The loss of probabilities `input` against targets in [0, 1] (same shapes).
    ///
    /// # Errors
    /// [`NnError::Tensor`](crate::NnError::Tensor) naming `BceLoss` for different shapes,
    /// or an input or target outside [0, 1] or NaN (PyTorch raises too).
    pub fn forward<T: Scalar>(&self, input: &Tensor<T>, target: &Tensor<T>) -> Result<Tensor<T>> {
        input
            .binary_cross_entropy(target, self.reduction)
            .map_err(|e| e.with_op("BceLoss").into())
    }
}

/// Binary cross-entropy on logits, `torch.nn.BCEWithLogitsLoss`:
/// `(1 - y)·z - log σ(z) = max(z, 0) - z·y + ln(1 + e^-|z|)`, exact and finite for any
/// logit (|z| = 1000 included), with gradient `σ(z) - y`. Prefer it to
/// [`crate::Sigmoid`] followed by [`BceLoss`].
///
/// ```
/// use ferrograd_nn::{BceWithLogitsLoss, Reduction};
/// use ferrograd_tensor::Tensor;
/// let z = Tensor::<f32>::from([1000.0, -1000.0, 0.0]);
/// let y = Tensor::<f32>::from([0.0, 0.0, 1.0]);
/// let loss = BceWithLogitsLoss::new(Reduction::None).forward(&z, &y)?.to_vec();
/// assert_eq!(loss[..2], [1000.0, 0.0]);
/// assert!((loss[2] - 2f32.ln()).abs() < 1e-7);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BceWithLogitsLoss {
    /// How to combine per-element losses.
    pub reduction: Reduction,
}

impl BceWithLogitsLoss {
    /// The loss with the given reduction (`BceWithLogitsLoss::default()` takes the mean).
    pub fn new(reduction: Reduction) -> Self {
        Self { reduction }
    }

    /// The loss of logits `input` against targets (same shapes; PyTorch does not check
    /// that targets lie in [0, 1] here, and neither do we).
    ///
    /// # Errors
    /// [`NnError::Tensor`](crate::NnError::Tensor) naming `BceWithLogitsLoss` for
    /// different shapes.
    pub fn forward<T: Scalar>(&self, input: &Tensor<T>, target: &Tensor<T>) -> Result<Tensor<T>> {
        input
            .binary_cross_entropy_with_logits(target, self.reduction)
            .map_err(|e| e.with_op("BceWithLogitsLoss").into())
    }
}
