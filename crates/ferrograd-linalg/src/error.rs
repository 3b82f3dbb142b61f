//! The crate's one error type.

use std::fmt;

/// A shape written the way PyTorch prints one: `[3, 2]`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Shape(pub Vec<usize>);

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<&[usize]> for Shape {
    fn from(dims: &[usize]) -> Self {
        Shape(dims.to_vec())
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(dims: [usize; N]) -> Self {
        Shape(dims.to_vec())
    }
}

/// Everything that can go wrong in `ferrograd-linalg`. Every variant names the operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LinalgError {
    /// Two operands whose dimensions do not fit together.
    #[error("{op}: shape mismatch between {lhs} and {rhs}")]
    ShapeMismatch {
        /// The operation, e.g. `"matmul"`.
        op: &'static str,
        /// Shape of the left operand.
        lhs: Shape,
        /// Shape of the right operand.
        rhs: Shape,
    },
    /// A buffer whose length does not match the shape it should fill.
    #[error("{op}: {len} elements cannot fill shape {shape}")]
    DataLength {
        /// The operation.
        op: &'static str,
        /// The shape requested.
        shape: Shape,
        /// Number of elements given.
        len: usize,
    },
    /// A strided view that would read or write outside its buffer, or alias itself.
    #[error("{op}: invalid strided view: {reason}")]
    InvalidView {
        /// The operation.
        op: &'static str,
        /// What is wrong with the view.
        reason: String,
    },
}
