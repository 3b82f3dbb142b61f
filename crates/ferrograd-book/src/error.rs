//! The book program's error type.

use std::fmt;

/// Anything that can go wrong while running a chapter's examples.
#[derive(Debug)]
pub enum BookError {
    /// A tensor operation failed (a shape mismatch, a non-scalar `item`, …).
    Tensor(ferrograd::tensor::TensorError),
    /// A vector or matrix operation failed.
    Linalg(ferrograd::linalg::LinalgError),
    /// A layer or loss rejected its input.
    Nn(ferrograd::nn::NnError),
    /// An optimizer rejected its configuration or a step.
    Optim(ferrograd::optim::OptimError),
    /// The scalar autodiff failed.
    Scalar(ferrograd::scalar::ScalarError),
    /// Writing a figure or creating the output folder failed.
    Io(std::io::Error),
    /// Drawing a figure failed.
    Plot(String),
    /// The embedded PyTorch reference file is not what the program expects.
    Reference(String),
    /// A language model (chapter 2 on) rejected its input.
    Lm(ferrograd::lm::LmError),
    /// A file given on the command line could not be read or has the wrong contents.
    Input(String),
}

impl fmt::Display for BookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BookError::Tensor(e) => write!(f, "tensor: {e}"),
            BookError::Linalg(e) => write!(f, "linear algebra: {e}"),
            BookError::Nn(e) => write!(f, "neural network: {e}"),
            BookError::Optim(e) => write!(f, "optimizer: {e}"),
            BookError::Scalar(e) => write!(f, "scalar autodiff: {e}"),
            BookError::Io(e) => write!(f, "i/o: {e}"),
            BookError::Plot(e) => write!(f, "plot: {e}"),
            BookError::Reference(e) => write!(f, "PyTorch reference: {e}"),
            BookError::Lm(e) => write!(f, "language model: {e}"),
            BookError::Input(e) => write!(f, "input: {e}"),
        }
    }
}

impl std::error::Error for BookError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BookError::Tensor(e) => Some(e),
            BookError::Linalg(e) => Some(e),
            BookError::Nn(e) => Some(e),
            BookError::Optim(e) => Some(e),
            BookError::Scalar(e) => Some(e),
            BookError::Io(e) => Some(e),
            BookError::Lm(e) => Some(e),
            BookError::Plot(_) | BookError::Reference(_) | BookError::Input(_) => None,
        }
    }
}

impl From<ferrograd::tensor::TensorError> for BookError {
    fn from(e: ferrograd::tensor::TensorError) -> Self {
        BookError::Tensor(e)
    }
}

impl From<ferrograd::linalg::LinalgError> for BookError {
    fn from(e: ferrograd::linalg::LinalgError) -> Self {
        BookError::Linalg(e)
    }
}

impl From<ferrograd::nn::NnError> for BookError {
    fn from(e: ferrograd::nn::NnError) -> Self {
        BookError::Nn(e)
    }
}

impl From<ferrograd::optim::OptimError> for BookError {
    fn from(e: ferrograd::optim::OptimError) -> Self {
        BookError::Optim(e)
    }
}

impl From<ferrograd::scalar::ScalarError> for BookError {
    fn from(e: ferrograd::scalar::ScalarError) -> Self {
        BookError::Scalar(e)
    }
}

impl From<ferrograd::lm::LmError> for BookError {
    fn from(e: ferrograd::lm::LmError) -> Self {
        BookError::Lm(e)
    }
}

/// Data errors (a corpus that is not UTF-8, a line too long, ids outside the vocabulary)
/// are problems with the input.
impl From<ferrograd::data::DataError> for BookError {
    fn from(e: ferrograd::data::DataError) -> Self {
        BookError::Input(e.to_string())
    }
}

impl From<std::io::Error> for BookError {
    fn from(e: std::io::Error) -> Self {
        BookError::Io(e)
    }
}

impl<E: std::error::Error + Send + Sync> From<plotters::drawing::DrawingAreaErrorKind<E>>
    for BookError
{
    fn from(e: plotters::drawing::DrawingAreaErrorKind<E>) -> Self {
        BookError::Plot(e.to_string())
    }
}

/// `Result` with [`BookError`].
pub type Result<T> = std::result::Result<T, BookError>;
