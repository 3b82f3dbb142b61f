//! Cross-entropy over classes and negative log-likelihood, with `ignore_index` (any
//! integer, PyTorch's −100 by default), label smoothing and reductions: fused ops with
//! their own backward and kernels.
//!
//! Cross-entropy is one pass over the logits forward (row maximum, `ln Σ exp`, the
//! target's log-probability `(x_t − max) − ln Σ`) keeping two numbers per row, and one
//! pass backward (`softmax − target distribution`), instead of the chain log-softmax →
//! gather → neg → mask → mean with a full `[M, C]` log-probability tensor and a scatter.
//! A row holding a NaN or `+inf`, or only `−inf`, has a NaN loss, as in PyTorch (the
//! stack's NaN rule, [`ferrograd_linalg::cpu::lanes`]).

use super::loss::{Reduction, coefficients, reduce};
use crate::autograd::BackwardOp;
use crate::error::{Result, TensorError, shape_of};
use crate::ids::IdTensor;
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::cpu::{lanes, partition, thresholds};
use ferrograd_linalg::{Scalar, simd_kernel};

/// PyTorch's default `ignore_index`: the label of positions that take no part in a loss
/// (prompt tokens and padding in a finetuning batch).
pub const DEFAULT_IGNORE_INDEX: i64 = -100;

/// The row position an ignored target is mapped to: no class has it.
const IGNORED: usize = usize::MAX;

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
        return Err(TensorError::InvalidArgument {
            op,
            reason: format!(
                "expected input [N, C] or [N, C, d...] with targets of shape {}; got input {} \
                 and targets {}",
                shape_of(&expected_target),
                shape_of(input.shape()),
                shape_of(target.shape())
            ),
        });
    }
    let classes = input.shape()[if rank == 1 { 0 } else { 1 }];
    if classes == 0 {
        return Err(TensorError::InvalidArgument {
            op,
            reason: format!("input {} has no classes", shape_of(input.shape())),
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
    targets.check_ids(op, classes, Some(ignore_index))?;
    let ids = targets.contiguous_data();
    let positions: Vec<usize> = ids
        .iter()
        .map(|&t| {
            if t == ignore_index {
                IGNORED
            } else {
                t as usize
            }
        })
        .collect();
    let kept = positions.iter().filter(|&&p| p != IGNORED).count();
    Ok((positions, kept))
}

/// What the cross-entropy kernels need to know about the targets.
#[derive(Debug, Clone, Copy)]
struct Config<T> {
    /// Number of classes (row length).
    classes: usize,
    /// Label smoothing ε.
    smoothing: T,
}

simd_kernel! {
    /// Forward over rows of logits `x` (`[M, C]`, row-major): for each row,
    /// `stats[2i] = max`, `stats[2i + 1] = ln Σ exp(x − max)`, and `losses[i]` the row's
    /// loss `(1 − ε)·(−log p_t) + (ε / C)·Σ_c (−log p_c)`, zero for an ignored target.
    fn forward_rows<T: Scalar>(
        x: &[T],
        targets: &[usize],
        config: Config<T>,
        stats: &mut [T],
        losses: &mut [T],
    ) {
        let c = config.classes;
        let eps = config.smoothing;
        let classes = T::from_usize(c);
        for (i, row) in x.chunks_exact(c).enumerate() {
            let max = lanes::max(row);
            let log_sum = if max.is_finite() {
                lanes::sum_exp(row, max).ln()
            } else {
                T::from_f64(f64::NAN) // the NaN rule: NaN, +inf or all −inf
            };
            stats[2 * i] = max;
            stats[2 * i + 1] = log_sum;
            let t = targets[i];
            losses[i] = if t == IGNORED {
                T::ZERO
            } else {
                // −log p_t = −((x_t − max) − ln Σ), as PyTorch's log_softmax computes it.
                let nll = log_sum - (row[t] - max);
                if eps > T::ZERO {
                    // Σ_c −log p_c = C·ln Σ − Σ_c (x_c − max).
                    let smooth = classes * log_sum - lanes::sum(row, |v| v - max);
                    (T::ONE - eps) * nll + eps / classes * smooth
                } else {
                    nll
                }
            };
        }
    }
}

simd_kernel! {
    /// Backward: `gx[i, c] = coef_i·(p_ic − ε/C − (1 − ε)·[c = t_i])` with
    /// `p = exp((x − max) − ln Σ)`, zero rows for ignored targets. `coef[i]` is the output
    /// gradient reaching row `i` (already divided by the count for a mean).
    fn backward_rows<T: Scalar>(
        x: &[T],
        targets: &[usize],
        config: Config<T>,
        stats: &[T],
        coef: &[T],
        gx: &mut [T],
    ) {
        let c = config.classes;
        let eps = config.smoothing;
        let off = eps / T::from_usize(c);
        for (i, (row, out)) in x.chunks_exact(c).zip(gx.chunks_exact_mut(c)).enumerate() {
            let t = targets[i];
            if t == IGNORED {
                out.fill(T::ZERO);
                continue;
            }
            let (max, log_sum, k) = (stats[2 * i], stats[2 * i + 1], coef[i]);
            for (o, &v) in out.iter_mut().zip(row) {
                *o = k * (((v - max) - log_sum).exp_fast() - off);
            }
            out[t] -= k * (T::ONE - eps);
        }
    }
}

struct CrossEntropyBackward<T: Scalar> {
    targets: Vec<usize>,
    config: Config<T>,
    /// Per row: maximum and `ln Σ exp(x − max)`.
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
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let logits = &inputs[0];
        let x = logits.contiguous_data();
        let rows = self.targets.len();
        let coef = coefficients(grad, self.reduction, rows, self.kept);
        let mut gx = storage::take_buffer::<T>(x.len());
        let c = self.config.classes;
        let per = partition::row_blocks(rows, c, thresholds::ROWS);
        let blocks: Vec<_> = x
            .chunks(per * c)
            .zip(self.targets.chunks(per))
            .zip(self.stats.chunks(2 * per).zip(coef.chunks(per)))
            .zip(gx.chunks_mut(per * c))
            .collect();
        partition::items(blocks, |(((x, t), (stats, coef)), gx)| {
            backward_rows(x, t, self.config, stats, coef, gx);
        });
        Ok(vec![Some(Tensor::from_vec_unchecked(gx, logits.shape()))])
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
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let coef = coefficients(grad, self.reduction, self.targets.len(), self.kept);
        let mut gx = storage::zeroed_buffer::<T>(inputs[0].numel());
        for (i, (&t, &k)) in self.targets.iter().zip(&coef).enumerate() {
            if t != IGNORED {
                gx[i * self.classes + t] = -k;
            }
        }
        Ok(vec![Some(Tensor::from_vec_unchecked(
            gx,
            inputs[0].shape(),
        ))])
    }
}

impl<T: Scalar> Tensor<T> {
    /// Cross-entropy of these logits against class indices,
    /// `torch.nn.functional.cross_entropy`: logits `[N, C]` (or `[N, C, d…]`, or `[C]`
    /// with one target), targets of shape `[N]` (`[N, d…]`, `[]`). For a language model's
    /// `[B, T, V]` logits, reshape them to `[B·T, V]` and the targets to `[B·T]` (a view).
    ///
    /// Per target, `−log softmax(x)_t`; with label smoothing ε the target distribution is
    /// `(1 − ε)·one_hot + ε/C`, so the loss is `(1 − ε)·(−log p_t) + (ε/C)·Σ_c (−log p_c)`,
    /// exactly as PyTorch defines it. Targets equal to `ignore_index` (any integer;
    /// PyTorch's default is [`DEFAULT_IGNORE_INDEX`], −100) contribute nothing, and the
    /// mean divides by the number of targets that are not ignored (NaN when all are, as
    /// in PyTorch).
    ///
    /// ```
    /// use ferrograd_tensor::{IdTensor, Reduction, Tensor};
    /// let logits = Tensor::<f32>::from([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]);
    /// let targets = IdTensor::from(vec![0, -100]); // the second is padding
    /// let loss = logits.cross_entropy(&targets, Reduction::Mean, -100, 0.0)?.item()?;
    /// let expected = -(2f32.exp() / (2f32.exp() + 2.0)).ln();
    /// assert!((loss - expected).abs() < 1e-6);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `cross_entropy` for mismatched shapes,
    /// zero classes or a smoothing outside [0, 1]; [`TensorError::IdOutOfRange`] for a
    /// target that is neither a class nor `ignore_index`.
    pub fn cross_entropy(
        &self,
        target: &IdTensor,
        reduction: Reduction,
        ignore_index: i64,
        label_smoothing: f64,
    ) -> Result<Tensor<T>> {
        const OP: &str = "cross_entropy";
        if !(0.0..=1.0).contains(&label_smoothing) {
            return Err(TensorError::InvalidArgument {
                op: OP,
                reason: format!("label_smoothing {label_smoothing} is not in [0, 1]"),
            });
        }
        let flat = flatten_classes(OP, self, target)?;
        let (rows, classes) = (flat.shape()[0], flat.shape()[1]);
        let (targets, kept) = checked_targets(OP, target, classes, ignore_index)?;
        let config = Config {
            classes,
            smoothing: T::from_f64(label_smoothing),
        };
        let x = flat.contiguous_data();
        let mut stats = vec![T::ZERO; 2 * rows];
        let mut losses = storage::take_buffer::<T>(rows);
        let per = partition::row_blocks(rows, classes, thresholds::ROWS);
        let blocks: Vec<_> = x
            .chunks(per * classes)
            .zip(targets.chunks(per))
            .zip(stats.chunks_mut(2 * per).zip(losses.chunks_mut(per)))
            .collect();
        partition::items(blocks, |((x, t), (stats, losses))| {
            forward_rows(x, t, config, stats, losses);
        });
        drop(x);
        let (data, shape) = reduce(losses, reduction, kept, target.shape());
        let op = CrossEntropyBackward {
            targets,
            config,
            stats,
            reduction,
            kept,
        };
        Ok(Tensor::op_result(data, &shape, &[&flat], op))
    }

    /// Negative log-likelihood of these log-probabilities against class indices,
    /// `torch.nn.functional.nll_loss`: `−input[i, t_i]`, reduced. Cross-entropy is
    /// [`Tensor::log_softmax`] followed by this; shapes, `ignore_index` and reductions are
    /// as in [`Tensor::cross_entropy`].
    ///
    /// ```
    /// use ferrograd_tensor::{IdTensor, Reduction, Tensor};
    /// let log_probs = Tensor::<f32>::from([[-0.5, -1.0], [-2.0, -0.1]]);
    /// let loss = log_probs.nll_loss(&IdTensor::from(vec![1, 1]), Reduction::Mean, -100)?;
    /// assert!((loss.item()? - 0.55).abs() < 1e-6);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::cross_entropy`], naming `nll_loss`.
    pub fn nll_loss(
        &self,
        target: &IdTensor,
        reduction: Reduction,
        ignore_index: i64,
    ) -> Result<Tensor<T>> {
        const OP: &str = "nll_loss";
        let flat = flatten_classes(OP, self, target)?;
        let classes = flat.shape()[1];
        let (targets, kept) = checked_targets(OP, target, classes, ignore_index)?;
        let x = flat.contiguous_data();
        let mut losses = storage::take_buffer::<T>(targets.len());
        for (i, (out, &t)) in losses.iter_mut().zip(&targets).enumerate() {
            *out = if t == IGNORED {
                T::ZERO
            } else {
                -x[i * classes + t]
            };
        }
        drop(x);
        let (data, shape) = reduce(losses, reduction, kept, target.shape());
        let op = NllBackward {
            targets,
            classes,
            reduction,
            kept,
        };
        Ok(Tensor::op_result(data, &shape, &[&flat], op))
    }
}
