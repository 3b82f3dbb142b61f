//! Cross-entropy over classes and negative log-likelihood, with `ignore_index` and label
//! smoothing, as fused operations with their own backward.
//!
//! Cross-entropy is one pass over the logits forward (row maximum, `ln Σ exp`, the
//! target's log-probability) keeping only two numbers per row, and one pass backward
//! (`softmax - target distribution`), instead of the chain log-softmax → gather → neg →
//! mask → mean with a full `[M, C]` log-probability tensor and a scatter. The gradients
//! are checked against finite differences and PyTorch in the tests; `benches/nn.rs`
//! measures the difference.

use super::Reduction;
use crate::error::{NnError, Result, shape_of};
use crate::kernels::{self, CeConfig};
use ferrograd_tensor::{BackwardOp, IdTensor, Scalar, Tensor};

/// Moves the class axis (1) of `[N, C, d…]` last and flattens to `[M, C]` (a view for
/// `[N, C]`, one copy otherwise); targets must have shape `[N, d…]` (`[]` for a `[C]`
/// input).
fn flatten_classes<T: Scalar>(
    op: &'static str,
    input: &Tensor<T>,
    target: &IdTensor,
) -> Result<Tensor<T>> {
    let rank = input.rank();
    let expected_target: Vec<usize> = match rank {
        1 => vec![],
        _ => input
            .shape()
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 1)
            .map(|(_, &d)| d)
            .collect(),
    };
    if rank == 0 || target.shape() != expected_target.as_slice() {
        return Err(NnError::BadInput {
            op,
            expected: format!(
                "input [N, C] or [N, C, d...] with targets of shape {}; the targets have shape {}",
                shape_of(&expected_target),
                shape_of(target.shape())
            ),
            got: shape_of(input.shape()),
        });
    }
    let classes = input.shape()[if rank == 1 { 0 } else { 1 }];
    if classes == 0 {
        return Err(NnError::BadInput {
            op,
            expected: "at least one class".into(),
            got: shape_of(input.shape()),
        });
    }
    Ok(match rank {
        1 => input.reshape(&[1, classes])?,
        2 => input.clone(),
        _ => {
            let mut perm: Vec<usize> = (0..rank).filter(|&d| d != 1).collect();
            perm.push(1);
            input.permute(&perm)?.reshape(&[target.len(), classes])?
        }
    })
}

/// Checks every target that is not `ignore_index` against the class count, and returns
/// the targets as row positions (an ignored target becomes [`IGNORED`]) with the number
/// not ignored (the divisor of a mean, as in PyTorch).
fn checked_targets(
    op: &'static str,
    targets: &IdTensor,
    classes: usize,
    ignore_index: i64,
) -> Result<(Vec<usize>, usize)> {
    let ids = targets.contiguous_data();
    let mut positions = Vec::with_capacity(ids.len());
    let mut kept = 0;
    for (i, &t) in ids.iter().enumerate() {
        if t == ignore_index {
            positions.push(IGNORED);
            continue;
        }
        match usize::try_from(t) {
            Ok(class) if class < classes => {
                positions.push(class);
                kept += 1;
            }
            _ => {
                return Err(NnError::InvalidArgument {
                    op,
                    reason: format!(
                        "target {t} (at position {i}) is out of range for {classes} classes \
                         (and is not the ignore_index {ignore_index})"
                    ),
                });
            }
        }
    }
    Ok((positions, kept))
}

/// The row position an ignored target is mapped to: no class has it.
const IGNORED: usize = usize::MAX;

/// Reduces per-target losses; the sum is accumulated in f64.
fn reduce<T: Scalar>(
    losses: Vec<T>,
    reduction: Reduction,
    kept: usize,
    target_shape: &[usize],
) -> (Vec<T>, Vec<usize>) {
    match reduction {
        Reduction::None => (losses, target_shape.to_vec()),
        Reduction::Sum | Reduction::Mean => {
            let total: f64 = losses.iter().map(|v| v.to_f64()).sum();
            let value = if reduction == Reduction::Mean {
                // 0/0 = NaN when every target is ignored, as in PyTorch.
                total / kept as f64
            } else {
                total
            };
            (vec![T::from_f64(value)], Vec::new())
        }
    }
}

/// The output gradient reaching each row, divided by the count for a mean.
fn row_coefficients<T: Scalar>(
    grad: &Tensor<T>,
    reduction: Reduction,
    rows: usize,
    kept: usize,
) -> Vec<T> {
    let g = grad.contiguous_data();
    match reduction {
        Reduction::None => g.into_owned(),
        Reduction::Sum => vec![g[0]; rows],
        Reduction::Mean => vec![g[0] / T::from_usize(kept); rows],
    }
}

struct CrossEntropyBackward<T: Scalar> {
    targets: Vec<usize>,
    config: CeConfig<T>,
    /// Per row: maximum and `ln Σ exp(x - max)`.
    stats: Vec<T>,
    reduction: Reduction,
    kept: usize,
}

impl<T: Scalar> BackwardOp<T> for CrossEntropyBackward<T> {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> ferrograd_tensor::Result<Vec<Option<Tensor<T>>>> {
        let logits = &inputs[0];
        let x = logits.contiguous_data();
        let rows = self.targets.len();
        let coef = row_coefficients(grad, self.reduction, rows, self.kept);
        let mut gx = kernels::buffer(x.len());
        let (c, per) = (
            self.config.classes,
            kernels::rows_per_block(rows, self.config.classes),
        );
        let blocks: Vec<_> = x
            .chunks(per * c)
            .zip(self.targets.chunks(per))
            .zip(self.stats.chunks(2 * per).zip(coef.chunks(per)))
            .zip(gx.chunks_mut(per * c))
            .collect();
        kernels::in_parallel(blocks, |(((x, t), (stats, coef)), gx)| {
            kernels::ce_backward(x, t, self.config, stats, coef, gx);
        });
        Ok(vec![Some(Tensor::from_vec(gx, logits.shape())?)])
    }
}

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
/// A fused operation: one pass over the logits forward, one backward (see the module
/// docs).
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
pub const DEFAULT_IGNORE_INDEX: i64 = -100;

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
    /// [`NnError::BadInput`] for mismatched shapes or zero classes,
    /// [`NnError::InvalidArgument`] for a target out of range or a smoothing outside
    /// [0, 1].
    pub fn forward<T: Scalar>(&self, input: &Tensor<T>, target: &IdTensor) -> Result<Tensor<T>> {
        const OP: &str = "CrossEntropyLoss";
        if !(0.0..=1.0).contains(&self.label_smoothing) {
            return Err(NnError::InvalidArgument {
                op: OP,
                reason: format!("label_smoothing {} is not in [0, 1]", self.label_smoothing),
            });
        }
        let flat = flatten_classes(OP, input, target)?;
        let (rows, classes) = (flat.shape()[0], flat.shape()[1]);
        let (targets, kept) = checked_targets(OP, target, classes, self.ignore_index)?;
        debug_assert_eq!(targets.len(), rows);
        let config = CeConfig {
            classes,
            ignore_index: Some(IGNORED),
            smoothing: T::from_f64(self.label_smoothing),
        };
        let x = flat.contiguous_data();
        let mut stats = vec![T::ZERO; 2 * rows];
        let mut losses = vec![T::ZERO; rows];
        let per = kernels::rows_per_block(rows, classes);
        let blocks: Vec<_> = x
            .chunks(per * classes)
            .zip(targets.chunks(per))
            .zip(stats.chunks_mut(2 * per).zip(losses.chunks_mut(per)))
            .collect();
        kernels::in_parallel(blocks, |((x, t), (stats, losses))| {
            kernels::ce_forward(x, t, config, stats, losses);
        });
        drop(x);
        let (data, shape) = reduce(losses, self.reduction, kept, target.shape());
        let op = CrossEntropyBackward {
            targets,
            config,
            stats,
            reduction: self.reduction,
            kept,
        };
        Ok(Tensor::from_op(data, &shape, &[&flat], op)?)
    }
}

struct NllBackward {
    targets: Vec<usize>,
    classes: usize,
    reduction: Reduction,
    kept: usize,
}

impl<T: Scalar> BackwardOp<T> for NllBackward {
    fn name(&self) -> &'static str {
        "nll_loss"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> ferrograd_tensor::Result<Vec<Option<Tensor<T>>>> {
        let coef = row_coefficients(grad, self.reduction, self.targets.len(), self.kept);
        let mut gx = kernels::buffer(inputs[0].numel());
        for (i, (&t, &k)) in self.targets.iter().zip(&coef).enumerate() {
            if t != IGNORED {
                gx[i * self.classes + t] = -k;
            }
        }
        Ok(vec![Some(Tensor::from_vec(gx, inputs[0].shape())?)])
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
    /// As [`CrossEntropyLoss::forward`].
    pub fn forward<T: Scalar>(&self, input: &Tensor<T>, target: &IdTensor) -> Result<Tensor<T>> {
        const OP: &str = "NllLoss";
        let flat = flatten_classes(OP, input, target)?;
        let (rows, classes) = (flat.shape()[0], flat.shape()[1]);
        let (targets, kept) = checked_targets(OP, target, classes, self.ignore_index)?;
        debug_assert_eq!(targets.len(), rows);
        let x = flat.contiguous_data();
        let losses: Vec<T> = targets
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                if t == IGNORED {
                    T::ZERO
                } else {
                    -x[i * classes + t]
                }
            })
            .collect();
        drop(x);
        let (data, shape) = reduce(losses, self.reduction, kept, target.shape());
        let op = NllBackward {
            targets,
            classes,
            reduction: self.reduction,
            kept,
        };
        Ok(Tensor::from_op(data, &shape, &[&flat], op)?)
    }
}
