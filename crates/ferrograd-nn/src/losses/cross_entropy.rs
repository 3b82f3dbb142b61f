//! Cross-entropy over classes and negative log-likelihood, with `ignore_index` and label
//! smoothing, from differentiable primitives (log-softmax, gather).

use super::Reduction;
use crate::error::{NnError, Result, shape_of};
use ferrograd_tensor::{Indices, Scalar, Tensor};

/// Moves the class axis (1) of `[N, C, d…]` last and flattens to `[M, C]`; targets
/// `[N, d…]` flatten to `[M]`.
fn flatten_classes<T: Scalar>(
    op: &'static str,
    input: &Tensor<T>,
    target: &Indices,
) -> Result<(Tensor<T>, Vec<usize>)> {
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
                "input [N, C] or [N, C, d...] with targets of shape {:?}; targets are {:?}",
                expected_target,
                target.shape()
            ),
            got: shape_of(input.shape()),
        });
    }
    let classes = input.shape()[if rank == 1 { 0 } else { 1 }];
    let flat = match rank {
        1 => input.reshape(&[1, classes])?,
        2 => input.clone(),
        _ => {
            let mut perm: Vec<usize> = (0..rank).filter(|&d| d != 1).collect();
            perm.push(1);
            input.permute(&perm)?.reshape(&[target.len(), classes])?
        }
    };
    Ok((flat, target.as_slice().to_vec()))
}

/// Per-target negative log-likelihood from log-probabilities `[M, C]`, ignoring targets
/// equal to `ignore_index`, with optional label smoothing; reduced as PyTorch reduces
/// (the mean divides by the number of targets not ignored).
fn nll_core<T: Scalar>(
    op: &'static str,
    log_probs: &Tensor<T>,
    targets: &[usize],
    target_shape: &[usize],
    ignore_index: Option<usize>,
    label_smoothing: f64,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    let (m, classes) = (log_probs.shape()[0], log_probs.shape()[1]);
    let ignored = |t: usize| ignore_index == Some(t);
    if let Some(&bad) = targets.iter().find(|&&t| !ignored(t) && t >= classes) {
        return Err(NnError::InvalidArgument {
            op,
            reason: format!("target {bad} is out of range for {classes} classes"),
        });
    }
    // Ignored targets pick class 0 and are then weighted by 0.
    let safe = Indices::new(
        targets
            .iter()
            .map(|&t| if ignored(t) { 0 } else { t })
            .collect(),
        &[m, 1],
    )?;
    let weights: Vec<T> = targets
        .iter()
        .map(|&t| if ignored(t) { T::ZERO } else { T::ONE })
        .collect();
    let kept = weights.iter().filter(|&&w| w == T::ONE).count();
    let weights = Tensor::from_vec(weights, &[m])?;
    let mut losses = log_probs.gather(1, &safe)?.reshape(&[m])?.neg();
    if label_smoothing > 0.0 {
        // PyTorch: (1 - ε)·nll + ε·mean over classes of (-log p).
        let uniform = log_probs.mean(&[1], false)?.neg();
        losses = losses
            .mul_scalar(T::from_f64(1.0 - label_smoothing))
            .add(&uniform.mul_scalar(T::from_f64(label_smoothing)))?;
    }
    let losses = losses.mul(&weights)?;
    Ok(match reduction {
        Reduction::None => losses.reshape(target_shape)?,
        Reduction::Sum => losses.sum_all(),
        Reduction::Mean => losses.sum_all().div_scalar(T::from_usize(kept)),
    })
}

/// Cross-entropy of logits against class indices, `torch.nn.CrossEntropyLoss`: logits
/// `[N, C]` (or `[N, C, d…]`, or `[C]` with one target), targets of shape `[N]`
/// (`[N, d…]`). For a language model's `[B, T, V]` logits, reshape to `[B·T, V]`.
///
/// ```
/// use ferrograd_nn::CrossEntropyLoss;
/// use ferrograd_tensor::{Indices, Tensor};
/// let logits = Tensor::<f32>::from([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]);
/// let targets = Indices::from(vec![0, 2]);
/// let loss = CrossEntropyLoss::default().forward(&logits, &targets)?.item()?;
/// let expected = (-(2f32.exp() / (2f32.exp() + 2.0)).ln() + 3f32.ln()) / 2.0;
/// assert!((loss - expected).abs() < 1e-6);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CrossEntropyLoss {
    /// How to combine per-target losses.
    pub reduction: Reduction,
    /// Targets equal to this index contribute nothing (and do not count in the mean).
    pub ignore_index: Option<usize>,
    /// Label smoothing ε in [0, 1]: the target distribution is (1-ε)·one-hot + ε/C.
    pub label_smoothing: f64,
}

impl CrossEntropyLoss {
    /// The loss of `input` logits against `target` class indices.
    ///
    /// # Errors
    /// [`NnError::BadInput`] for mismatched shapes, [`NnError::InvalidArgument`] for a
    /// target out of range or a smoothing outside [0, 1].
    pub fn forward<T: Scalar>(&self, input: &Tensor<T>, target: &Indices) -> Result<Tensor<T>> {
        if !(0.0..=1.0).contains(&self.label_smoothing) {
            return Err(NnError::InvalidArgument {
                op: "CrossEntropyLoss",
                reason: format!("label_smoothing {} is not in [0, 1]", self.label_smoothing),
            });
        }
        let (flat, targets) = flatten_classes("CrossEntropyLoss", input, target)?;
        let log_probs = flat.log_softmax(-1)?;
        nll_core(
            "CrossEntropyLoss",
            &log_probs,
            &targets,
            target.shape(),
            self.ignore_index,
            self.label_smoothing,
            self.reduction,
        )
    }
}

/// Negative log-likelihood of log-probabilities against class indices,
/// `torch.nn.NLLLoss` (cross-entropy is log-softmax followed by this).
#[derive(Debug, Clone, Copy, Default)]
pub struct NllLoss {
    /// How to combine per-target losses.
    pub reduction: Reduction,
    /// Targets equal to this index contribute nothing.
    pub ignore_index: Option<usize>,
}

impl NllLoss {
    /// The loss of `input` log-probabilities against `target` class indices.
    ///
    /// # Errors
    /// As [`CrossEntropyLoss::forward`].
    pub fn forward<T: Scalar>(&self, input: &Tensor<T>, target: &Indices) -> Result<Tensor<T>> {
        let (flat, targets) = flatten_classes("NllLoss", input, target)?;
        nll_core(
            "NllLoss",
            &flat,
            &targets,
            target.shape(),
            self.ignore_index,
            0.0,
            self.reduction,
        )
    }
}
