//! The crate's one error type.

use ferrograd_tensor::{Shape, TensorError};

/// Everything that can go wrong in `ferrograd-nn`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NnError {
    /// An error from a tensor operation.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An input whose shape does not fit the layer or loss.
    #[error("{op}: expected {expected}, got shape {got}")]
    BadInput {
        /// The layer or loss.
        op: &'static str,
        /// What was expected.
        expected: String,
        /// The shape given.
        got: Shape,
    },
    /// An invalid configuration (a probability outside [0, 1), a zero size…).
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// The layer, loss or function.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint that does not match the model: nothing was loaded.
    #[error("load_checkpoint: {path} does not match the model ({} problem(s)): {}", problems.len(), problems.join("; "))]
    CheckpointMismatch {
        /// The file.
        path: String,
        /// Every difference found: missing, unexpected, wrong shape, wrong dtype.
        problems: Vec<String>,
    },
}

/// Result alias of the crate.
pub type Result<T, E = NnError> = std::result::Result<T, E>;

pub(crate) fn shape_of(dims: &[usize]) -> Shape {
    Shape(dims.to_vec())
}
