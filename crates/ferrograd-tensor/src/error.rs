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
    /// An id (token id, class label, index) outside the range it indexes.
    #[error("{op}: id {id} at position {position} is out of range 0..{size}")]
    IdOutOfRange {
        /// The operation, e.g. `"Embedding::forward"` or `"cross_entropy"`.
        op: &'static str,
        /// The offending id.
        id: i64,
        /// Its position in the id tensor (row-major).
        position: usize,
        /// The number of valid ids (vocabulary size, number of classes, axis size).
        size: usize,
    },
    /// A shape whose element count or byte size overflows, or whose buffer cannot be
    /// allocated.
    #[error("{op}: shape {shape} is too large ({reason})")]
    TooLarge {
        /// The operation.
        op: &'static str,
        /// The shape requested.
        shape: Shape,
        /// Why: the count overflows, or the allocation failed.
        reason: String,
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
    /// `backward` reached an operation whose graph an earlier
    /// [`Tensor::backward_free`](crate::Tensor::backward_free) released.
    #[error(
        "backward: the graph through `{op}` was freed by an earlier backward_free; \
         run the forward pass again (or use backward(), which keeps the graph)"
    )]
    GraphFreed {
        /// The operation whose recorded inputs are gone.
        op: &'static str,
    },
    /// A [`BackwardOp`](crate::BackwardOp) returned a different number of gradients than
    /// its operation has inputs.
    #[error("backward: the backward of `{op}` returned {gradients} gradients for {inputs} inputs")]
    BackwardArity {
        /// The operation.
        op: &'static str,
        /// Number of inputs recorded.
        inputs: usize,
        /// Number of gradients returned.
        gradients: usize,
    },
    /// Two gradients for the same tensor with different shapes.
    #[error(
        "{op}: gradients of different shapes for tensor {id}: {existing} already held, {incoming} added"
    )]
    GradientShape {
        /// The operation adding the gradient (`"Gradients::accumulate"`, or the op whose
        /// backward produced it).
        op: &'static str,
        /// The tensor or parameter the gradients belong to.
        id: crate::tensor_id::TensorId,
        /// Shape of the gradient already held.
        existing: Shape,
        /// Shape of the gradient being added.
        incoming: Shape,
    },
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

impl TensorError {
    /// The same error reported under another operation name: how a layer or loss built on
    /// a tensor op names the call the user made (`Embedding::forward` rather than
    /// `embedding`). Variants without an operation name are returned unchanged.
    ///
    /// ```
    /// use ferrograd_tensor::{IdTensor, Tensor};
    /// let table = Tensor::<f32>::zeros(&[1000, 4]);
    /// let ids = IdTensor::from(vec![1, 2, 3, 1000]);
    /// let err = table.embedding(&ids, None).unwrap_err().with_op("Embedding::forward");
    /// assert_eq!(err.to_string(), "Embedding::forward: id 1000 at position 3 is out of range 0..1000");
    /// ```
    #[must_use]
    pub fn with_op(mut self, name: &'static str) -> Self {
        match &mut self {
            TensorError::ShapeMismatch { op, .. }
            | TensorError::InvalidAxis { op, .. }
            | TensorError::IndexOutOfRange { op, .. }
            | TensorError::IdOutOfRange { op, .. }
            | TensorError::TooLarge { op, .. }
            | TensorError::ElementCount { op, .. }
            | TensorError::NotScalar { op, .. }
            | TensorError::InvalidArgument { op, .. }
            | TensorError::Io { op, .. }
            | TensorError::Format { op, .. } => *op = name,
            TensorError::NoGraph
            | TensorError::GraphFreed { .. }
            | TensorError::BackwardArity { .. }
            | TensorError::GradientShape { .. }
            | TensorError::Linalg(_) => {}
        }
        self
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = TensorError> = std::result::Result<T, E>;

pub(crate) fn shape_of(dims: &[usize]) -> Shape {
    Shape(dims.to_vec())
}
