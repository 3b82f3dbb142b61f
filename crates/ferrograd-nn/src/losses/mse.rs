//! Mean squared error.

use super::Reduction;
use crate::error::Result;
use ferrograd_tensor::{Scalar, Tensor};

/// `(input - target)²`, reduced: `torch.nn.MSELoss` (the book's §1.2 loss). Both the
/// input and the target may require gradients.
///
/// ```
/// use ferrograd_nn::{MseLoss, Reduction};
/// use ferrograd_tensor::Tensor;
/// let (x, y) = (Tensor::<f32>::from([1.0, 2.0]), Tensor::from([1.0, 4.0]));
/// assert_eq!(MseLoss::default().forward(&x, &y)?.item()?, 2.0);
/// assert_eq!(MseLoss::new(Reduction::Sum).forward(&x, &y)?.item()?, 4.0);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MseLoss {
    /// How to combine per-element losses.
    pub reduction: Reduction,
}

impl MseLoss {
    /// The loss with the given reduction (`MseLoss::default()` takes the mean).
    pub fn new(reduction: Reduction) -> Self {
        Self { reduction }
    }

    /// The loss of `input` against `target` (same shapes).
    ///
    /// # Errors
    /// [`crate::NnError::Tensor`] naming `MseLoss` when the shapes differ.
    pub fn forward<T: Scalar>(&self, input: &Tensor<T>, target: &Tensor<T>) -> Result<Tensor<T>> {
        input
            .mse_loss(target, self.reduction)
            .map_err(|e| e.with_op("MseLoss").into())
    }
}
