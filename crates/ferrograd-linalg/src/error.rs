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
    /// An index outside the shape of the vector or matrix.
    #[error("{op}: index {index} is out of bounds for shape {shape}")]
    IndexOutOfBounds {
        /// The operation, e.g. `"Matrix::get"`.
        op: &'static str,
        /// The index asked for, printed like a shape: `[row, column]` or `[i]`.
        index: Shape,
        /// Shape of the vector or matrix.
        shape: Shape,
    },
    /// The zero vector has no direction: no unit vector, no angle.
    #[error("{op}: the zero vector of shape {shape} has no direction")]
    ZeroVector {
        /// The operation, e.g. `"unit_vector"`.
        op: &'static str,
        /// Shape of the zero vector.
        shape: Shape,
    },
    /// A least-squares problem whose columns are (numerically) linearly dependent, so the
    /// solution is not unique.
    #[error(
        "{op}: matrix of shape {shape} is rank deficient (numerical rank {rank}, relative \
         tolerance {tolerance:e}): the least-squares solution is not unique"
    )]
    RankDeficient {
        /// The operation, e.g. `"lstsq"`.
        op: &'static str,
        /// Shape of the coefficient matrix.
        shape: Shape,
        /// Numerical rank found (less than the number of columns).
        rank: usize,
        /// Relative tolerance the rank was decided with.
        tolerance: f64,
    },
    /// An operation that needs at least one element got none.
    #[error("{op}: empty input of shape {shape}")]
    EmptyInput {
        /// The operation.
        op: &'static str,
        /// Shape of the empty input.
        shape: Shape,
    },
    /// Rows of different lengths given where a matrix was expected.
    #[error("{op}: row {row} has {found} elements but row 0 has {expected}")]
    RaggedRows {
        /// The operation, e.g. `"Matrix::from_rows"`.
        op: &'static str,
        /// Index of the first row whose length differs from row 0's.
        row: usize,
        /// Length of row 0.
        expected: usize,
        /// Length of the offending row.
        found: usize,
    },
    /// An input that must be finite contains NaN or an infinity.
    #[error("{op}: input of shape {shape} contains NaN or infinity")]
    NonFinite {
        /// The operation.
        op: &'static str,
        /// Shape of the offending input.
        shape: Shape,
    },
    /// Division by a zero scalar in a checked operation.
    #[error("{op}: division of shape {shape} by zero")]
    DivisionByZero {
        /// The operation.
        op: &'static str,
        /// Shape of the dividend.
        shape: Shape,
    },
    /// A result whose number of elements does not fit in `usize`.
    #[error("{op}: a result of shape {shape} has too many elements")]
    SizeOverflow {
        /// The operation.
        op: &'static str,
        /// The shape that overflows.
        shape: Shape,
    },
    /// An argument outside its valid range (other than a shape).
    #[error("{op}: invalid argument: {reason}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
}
