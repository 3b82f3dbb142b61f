//! Losses with PyTorch's reductions and numerics, one file per concept.

pub mod bce;
pub mod cross_entropy;
pub mod mse;

use crate::error::Result;
use ferrograd_tensor::{Scalar, Tensor};

/// How per-element losses are combined, as PyTorch's `reduction=` argument.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reduction {
    /// The per-element losses, unreduced.
    None,
    /// Their mean (the default).
    #[default]
    Mean,
    /// Their sum.
    Sum,
}

impl Reduction {
    pub(crate) fn apply<T: Scalar>(self, losses: Tensor<T>) -> Result<Tensor<T>> {
        Ok(match self {
            Reduction::None => losses,
            Reduction::Mean => losses.mean_all(),
            Reduction::Sum => losses.sum_all(),
        })
    }
}
