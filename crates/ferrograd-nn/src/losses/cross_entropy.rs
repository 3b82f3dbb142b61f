//! Cross-entropy over classes and negative log-likelihood, with `ignore_index` and label
//! smoothing: module forms of the tensor crate's fused ops
//! ([`Tensor::cross_entropy`], [`Tensor::nll_loss`]), where the kernels, their backward
//! and their NaN rule live.

use super::Reduction;
use crate::error::{NnError, Result};
use ferrograd_tensor::{IdTensor, Scalar, Tensor};

/// Cross-entropy of logits against class indices, `torch.nn.CrossEntropyLoss`: logits
/// `[N, C]` (or `[N, C, d…]`, or `[C]` with one target), targets of shape `[N]`
/// (`[N, d…]`, `[]`). For a language model's `[B, T, V]` logits, reshape them to
/// `[B·T, V]` and the targets to `[B·T]` (a view, no copy).
///
/// Per target, `-log softmax(x)_t`; with label smoothing ε the target distribution is
/// `(1 - ε)·one_hot + ε/C`, so the loss is `(1 - ε)·(-log p_t) + (ε/C)·Σ_c (-log p_c)`,
/// exactly as PyTorch defines it. Targets equal to `ignore_index` contribute nothing,
/// and the mean divides by the number of targets that are not ignored (NaN when all
/// are, as in PyTorch).
///
/// A fused operation: one pass over the logits forward, one backward
/// ([`Tensor::cross_entropy`]).
///
/// ```
/// use ferrograd_nn::{CrossEntropyLoss, Reduction};
/// use ferrograd_tensor::{IdTensor, Tensor};
/// let logits = Tensor::<f32>::from([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]);
/// let targets = IdTensor::from(vec![0, 2]);
/// let loss = CrossEntropyLoss::default().forward(&logits, &targets)?.item()?;
/// let expected = (-(2f32.exp() / (2f32.exp() + 2.0)).ln() + 3f32.ln()) / 2.0;
/// assert!((loss - expected).abs() < 1e-6);
///
/// // Padding targets (here class 2) ignored, per-target losses.
/// let per_target = CrossEntropyLoss::new()
///     .with_ignore_index(2)
///     .with_reduction(Reduction::None)
///     .forward(&logits, &targets)?;
/// assert_eq!(per_target.to_vec()[1], 0.0);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossEntropyLoss {
    /// How to combine per-target losses.
    pub reduction: Reduction,
    /// Targets equal to this id contribute nothing (and do not count in the mean):
    /// padding in a batch of sequences. Any integer; the default is PyTorch's -100.
    pub ignore_index: i64,
    /// Label smoothing ε in [0, 1]: the target distribution is (1-ε)·one-hot + ε/C.
    pub label_smoothing: f64,
}

impl Default for CrossEntropyLoss {
    /// PyTorch's defaults: mean, `ignore_index = -100`, no smoothing.
    fn default() -> Self {
        Self {
            reduction: Reduction::Mean,
            ignore_index: DEFAULT_IGNORE_INDEX,
            label_smoothing: 0.0,
        }
    }
}

/// PyTorch's default `ignore_index`: the label of positions that take no part in a loss
/// (prompt tokens and padding in a finetuning batch).
pub use ferrograd_tensor::DEFAULT_IGNORE_INDEX;

impl CrossEntropyLoss {
    /// PyTorch's defaults: mean, `ignore_index = -100`, no smoothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same loss with another reduction.
    pub fn with_reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The same loss ignoring targets equal to `index` (any integer).
    pub fn with_ignore_index(mut self, index: i64) -> Self {
        self.ignore_index = index;
        self
    }

    /// The same loss with label smoothing `epsilon` (checked in [`Self::forward`]).
    pub fn with_label_smoothing(mut self, epsilon: f64) -> Self {
        self.label_smoothing = epsilon;
        self
    }

    /// The loss of `input` logits against `target` class indices.
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] for a smoothing outside [0, 1]; [`NnError::Tensor`]
    /// naming `CrossEntropyLoss` for mismatched shapes, zero classes, or a target out of
    /// range (with its position and the class count).
    pub fn forward<T: Scalar>(&self, input: &Tensor<T>, target: &IdTensor) -> Result<Tensor<T>> {
        const OP: &str = "CrossEntropyLoss";
        if !(0.0..=1.0).contains(&self.label_smoothing) {
            return Err(NnError::InvalidArgument {
                op: OP,
                reason: format!("label_smoothing {} is not in [0, 1]", self.label_smoothing),
            });
        }
        input
            .cross_entropy(
                target,
                self.reduction,
                self.ignore_index,
                self.label_smoothing,
            )
            .map_err(|e| e.with_op(OP).into())
    }
}

/// Negative log-likelihood of log-probabilities against class indices,
/// `torch.nn.NLLLoss`: `-input[i, t_i]`, reduced. Cross-entropy is log-softmax followed
/// by this; shapes, `ignore_index` and reductions are as in [`CrossEntropyLoss`].
///
/// ```
/// use ferrograd_nn::NllLoss;
/// use ferrograd_tensor::{IdTensor, Tensor};
/// let log_probs = Tensor::<f32>::from([[-0.5, -1.0], [-2.0, -0.1]]);
/// let loss = NllLoss::default().forward(&log_probs, &IdTensor::from(vec![1, 1]))?;
/// assert!((loss.item()? - 0.55).abs() < 1e-6);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NllLoss {
    /// How to combine per-target losses.
    pub reduction: Reduction,
    /// Targets equal to this id contribute nothing (and do not count in the mean); any
    /// integer, PyTorch's -100 by default.
    pub ignore_index: i64,
}

impl Default for NllLoss {
    /// PyTorch's defaults: mean, `ignore_index = -100`.
    fn default() -> Self {
        Self {
            reduction: Reduction::Mean,
            ignore_index: DEFAULT_IGNORE_INDEX,
        }
    }
}

impl NllLoss {
    /// PyTorch's defaults: mean, `ignore_index = -100`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same loss with another reduction.
    pub fn with_reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The same loss ignoring targets equal to `index` (any integer).
    pub fn with_ignore_index(mut self, index: i64) -> Self {
        self.ignore_index = index;
        self
    }

    /// The loss of `input` log-probabilities against `target` class indices.
    ///
    /// # Errors
    /// As [`CrossEntropyLoss::forward`], naming `NllLoss`.
    pub fn forward<T: Scalar>(&self, input: &Tensor<T>, target: &IdTensor) -> Result<Tensor<T>> {
        input
            .nll_loss(target, self.reduction, self.ignore_index)
            .map_err(|e| e.with_op("NllLoss").into())
    }
}
