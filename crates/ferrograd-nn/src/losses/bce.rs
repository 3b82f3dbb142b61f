//! Binary cross-entropy, on probabilities and on logits. Both are fused element-wise ops
//! with their own backward, matching PyTorch's formulas at the edges (probabilities of
//! exactly 0 or 1, logits of ±1000).

use super::Reduction;
use crate::error::{NnError, Result, shape_of};
use ferrograd_tensor::{BackwardOp, Scalar, Tensor, TensorError};

fn check_same_shape<T: Scalar>(
    op: &'static str,
    input: &Tensor<T>,
    target: &Tensor<T>,
) -> Result<()> {
    if input.shape() != target.shape() {
        return Err(NnError::BadInput {
            op,
            expected: format!("a target of the input's shape {}", shape_of(input.shape())),
            got: shape_of(target.shape()),
        });
    }
    Ok(())
}

/// ln x clamped below at -100, as PyTorch's BCELoss does so that p = 0 or 1 gives a
/// finite loss.
fn clamped_ln<T: Scalar>(x: T) -> T {
    x.ln().max(T::from_f64(-100.0))
}

struct BceBackward;

impl<T: Scalar> BackwardOp<T> for BceBackward {
    fn name(&self) -> &'static str {
        "binary_cross_entropy"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> ferrograd_tensor::Result<Vec<Option<Tensor<T>>>> {
        let (p, y) = (inputs[0].contiguous_data(), inputs[1].contiguous_data());
        let g = grad.contiguous_data();
        let shape = inputs[0].shape();
        // PyTorch: ∂/∂p = (p - y) / max(p (1 - p), ε) with ε the f32 constant 1e-12
        // (even for f64 inputs), which matters at p = 0 or 1.
        let eps = T::from_f64(f64::from(1e-12f32));
        let gp: Vec<T> = g
            .iter()
            .zip(p.iter().zip(y.iter()))
            .map(|(&g, (&p, &y))| g * (p - y) / (p * (T::ONE - p)).max(eps))
            .collect();
        let gy = inputs[1].requires_grad().then(|| {
            let data = g
                .iter()
                .zip(p.iter())
                .map(|(&g, &p)| g * (clamped_ln(T::ONE - p) - clamped_ln(p)))
                .collect();
            Tensor::from_vec(data, shape)
        });
        Ok(vec![Some(Tensor::from_vec(gp, shape)?), gy.transpose()?])
    }
}

/// Binary cross-entropy on probabilities, `torch.nn.BCELoss`:
/// `-(y ln p + (1 - y) ln(1 - p))` with each log clamped at -100.
///
/// ```
/// use ferrograd_nn::BceLoss;
/// use ferrograd_tensor::Tensor;
/// let p = Tensor::<f32>::from([0.9, 0.2]);
/// let y = Tensor::<f32>::from([1.0, 0.0]);
/// let loss = BceLoss::default().forward(&p, &y)?.item()?;
/// assert!((loss - (-(0.9f32.ln() + 0.8f32.ln()) / 2.0)).abs() < 1e-6);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct BceLoss {
    /// How to combine per-element losses.
    pub reduction: Reduction,
}

impl BceLoss {
    /// The loss of probabilities `input` against targets in [0, 1] (same shapes).
    ///
    /// # Errors
    /// [`NnError::BadInput`] for different shapes, [`NnError::InvalidArgument`] for an
    /// input outside [0, 1] (PyTorch raises too).
    pub fn forward<T: Scalar>(&self, input: &Tensor<T>, target: &Tensor<T>) -> Result<Tensor<T>> {
        check_same_shape("BceLoss", input, target)?;
        let p = input.contiguous_data();
        if let Some(bad) = p.iter().find(|&&v| !(v >= T::ZERO && v <= T::ONE)) {
            return Err(NnError::InvalidArgument {
                op: "BceLoss",
                reason: format!("input {bad} is not a probability in [0, 1]"),
            });
        }
        let y = target.contiguous_data();
        let losses: Vec<T> = p
            .iter()
            .zip(y.iter())
            .map(|(&p, &y)| -(y * clamped_ln(p) + (T::ONE - y) * clamped_ln(T::ONE - p)))
            .collect();
        let per_element = Tensor::from_op(losses, input.shape(), &[input, target], BceBackward)?;
        self.reduction.apply(per_element)
    }
}

struct BceWithLogitsBackward;

impl<T: Scalar> BackwardOp<T> for BceWithLogitsBackward {
    fn name(&self) -> &'static str {
        "binary_cross_entropy_with_logits"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> ferrograd_tensor::Result<Vec<Option<Tensor<T>>>> {
        let (z, y) = (inputs[0].contiguous_data(), inputs[1].contiguous_data());
        let g = grad.contiguous_data();
        let shape = inputs[0].shape();
        // ∂/∂z = σ(z) - y; ∂/∂y = -z.
        let gz = g
            .iter()
            .zip(z.iter().zip(y.iter()))
            .map(|(&g, (&z, &y))| g * (z.sigmoid() - y))
            .collect();
        let gy = inputs[1].requires_grad().then(|| {
            Tensor::from_vec(
                g.iter().zip(z.iter()).map(|(&g, &z)| -g * z).collect(),
                shape,
            )
        });
        Ok(vec![Some(Tensor::from_vec(gz, shape)?), gy.transpose()?])
    }
}

/// Binary cross-entropy on logits, `torch.nn.BCEWithLogitsLoss`:
/// `max(z, 0) - z y + ln(1 + e^-|z|)`, exact and finite for any logit (|z| = 1000
/// included), with gradient `σ(z) - y`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BceWithLogitsLoss {
    /// How to combine per-element losses.
    pub reduction: Reduction,
}

impl BceWithLogitsLoss {
    /// The loss of logits `input` against targets in [0, 1] (same shapes).
    ///
    /// # Errors
    /// [`NnError::BadInput`] for different shapes.
    pub fn forward<T: Scalar>(&self, input: &Tensor<T>, target: &Tensor<T>) -> Result<Tensor<T>> {
        check_same_shape("BceWithLogitsLoss", input, target)?;
        let (z, y) = (input.contiguous_data(), target.contiguous_data());
        let losses: Vec<T> = z
            .iter()
            .zip(y.iter())
            .map(|(&z, &y)| z.max(T::ZERO) - z * y + (-z.abs()).exp().ln_1p())
            .collect();
        let per_element = Tensor::from_op(
            losses,
            input.shape(),
            &[input, target],
            BceWithLogitsBackward,
        )
        .map_err(|e: TensorError| NnError::from(e))?;
        self.reduction.apply(per_element)
    }
}
