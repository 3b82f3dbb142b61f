//! The crate's one error type.

use ferrograd_linalg::LinalgError;
pub use ferrograd_linalg::Shape;

/// Everything that can go wrong in `ferrograd-tensor`. Every variant names the operation;
/// shape problems name the shapes, axis problems the axis and the rank.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TensorError {
    /// Two operands whose shapes do not fit together (for broadcasting, matmul, concat…).
    #[error("{op}: shape mismatch between {lhs} and {rhs}")]
    ShapeMismatch {
        /// The operation, e.g. `"matmul"`.
        op: &'static str,
        /// Shape of the first operand.
        lhs: Shape,
        /// Shape of the second operand.
        rhs: Shape,
    },
    /// An axis outside `-rank..rank`.
    #[error("{op}: axis {axis} is out of range for a tensor of rank {rank} (shape {shape})")]
    InvalidAxis {
        /// The operation.
        op: &'static str,
        /// The axis given.
        axis: isize,
        /// Rank of the tensor.
        rank: usize,
        /// Shape of the tensor.
        shape: Shape,
    },
    /// An index outside the size of the axis it indexes.
    #[error("{op}: index {index} is out of range for axis {axis} of size {size}")]
    IndexOutOfRange {
        /// The operation.
        op: &'static str,
        /// The offending index.
        index: usize,
        /// The axis indexed.
        axis: usize,
        /// Size of that axis.
        size: usize,
    },
    /// A buffer whose length does not fill the requested shape.
    #[error("{op}: {len} elements cannot fill shape {shape}")]
    ElementCount {
        /// The operation.
        op: &'static str,
        /// The shape requested.
        shape: Shape,
        /// Number of elements given.
        len: usize,
    },
    /// An operation that needs a single-element tensor got a larger one.
    #[error("{op}: expected a tensor with one element, got shape {shape}")]
    NotScalar {
        /// The operation.
        op: &'static str,
        /// The shape found.
        shape: Shape,
    },
    /// Any other invalid argument, explained.
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// `backward` called on a tensor that is not part of a graph.
    #[error(
        "backward: the tensor does not require grad (no trainable leaf upstream, \
         or it was computed under no_grad)"
    )]
    NoGraph,
    /// An error from the linear-algebra layer.
    #[error(transparent)]
    Linalg(#[from] LinalgError),
    /// Reading or writing a file failed.
    #[error("{op}: {path}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file whose contents are malformed or do not match what was expected.
    #[error("{op}: {path}: {reason}")]
    Format {
        /// The operation.
        op: &'static str,
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Result alias used throughout the crate.
pub type Result<T, E = TensorError> = std::result::Result<T, E>;

pub(crate) fn shape_of(dims: &[usize]) -> Shape {
    Shape(dims.to_vec())
}
