//! Mean squared error.

use super::Reduction;
use crate::error::{NnError, Result, shape_of};
use ferrograd_tensor::{Scalar, Tensor};

/// `(input - target)²`, reduced: `torch.nn.MSELoss` (the book's §1.2 loss).
///
/// ```
/// use ferrograd_nn::MseLoss;
/// use ferrograd_tensor::Tensor;
/// let loss = MseLoss::default().forward(&Tensor::<f32>::from([1.0, 2.0]), &Tensor::from([1.0, 4.0]))?;
/// assert_eq!(loss.item()?, 2.0);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MseLoss {
    /// How to combine per-element losses.
    pub reduction: Reduction,
}

impl MseLoss {
    /// The loss of `input` against `target` (same shapes).
    ///
    /// # Errors
    /// [`NnError::BadInput`] when the shapes differ.
    pub fn forward<T: Scalar>(&self, input: &Tensor<T>, target: &Tensor<T>) -> Result<Tensor<T>> {
        if input.shape() != target.shape() {
            return Err(NnError::BadInput {
                op: "MseLoss",
                expected: format!("a target of the input's shape {}", shape_of(input.shape())),
                got: shape_of(target.shape()),
            });
        }
        self.reduction.apply(input.sub(target)?.square())
    }
}
