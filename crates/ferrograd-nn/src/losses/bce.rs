//! Binary cross-entropy, on probabilities and on logits, matching PyTorch's formulas at
//! the edges (probabilities of exactly 0 or 1, logits of ±1000).

use super::{Pointwise, Reduction, pointwise_loss};
use crate::error::{NnError, Result};
use ferrograd_tensor::{Scalar, Tensor};

/// `max(v, -100)`: PyTorch's BCELoss clamps each log at -100 so that p = 0 or 1 gives a
/// finite loss.
fn clamp_log<T: Scalar>(v: T) -> T {
    v.max(T::from_f64(-100.0))
}

#[derive(Debug, Clone, Copy)]
struct Bce;

impl Pointwise for Bce {
    const NAME: &'static str = "BceLoss";

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
    /// [`NnError::BadInput`] for different shapes, [`NnError::InvalidArgument`] for an
    /// input or target outside [0, 1] or NaN (PyTorch raises too).
    pub fn forward<T: Scalar>(&self, input: &Tensor<T>, target: &Tensor<T>) -> Result<Tensor<T>> {
        for (what, t) in [("input", input), ("target", target)] {
            if let Some(bad) = t
                .contiguous_data()
                .iter()
                .find(|&&v| !(v >= T::ZERO && v <= T::ONE))
            {
                return Err(NnError::InvalidArgument {
                    op: "BceLoss",
                    reason: format!("{what} element {bad} is not in [0, 1]"),
                });
            }
        }
        pointwise_loss(Bce, input, target, self.reduction)
    }
}

#[derive(Debug, Clone, Copy)]
struct BceWithLogits;

impl Pointwise for BceWithLogits {
    const NAME: &'static str = "BceWithLogitsLoss";

    fn loss<T: Scalar>(z: T, y: T) -> T {
        // PyTorch: (1 - y)·z - log σ(z), with log σ(z) = min(z, 0) - ln(1 + e^-|z|):
        // exact and finite for any z.
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
    /// [`NnError::BadInput`] for different shapes.
    pub fn forward<T: Scalar>(&self, input: &Tensor<T>, target: &Tensor<T>) -> Result<Tensor<T>> {
        pointwise_loss(BceWithLogits, input, target, self.reduction)
    }
}
