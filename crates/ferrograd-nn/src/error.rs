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
    /// A KV cache asked to hold more positions than it was allocated for.
    #[error(
        "{op}: the cache holds {stored} of {capacity} positions; {adding} more do not fit \
         (allocate a larger cache or start a new one)"
    )]
    CacheFull {
        /// The call.
        op: &'static str,
        /// Positions already stored.
        stored: usize,
        /// Positions being added.
        adding: usize,
        /// Positions allocated.
        capacity: usize,
    },
    /// A checkpoint that does not match the model: nothing was loaded.
    #[error("{op}: {path} does not match the model ({} problem(s)): {}", problems.len(), problems.join("; "))]
    CheckpointMismatch {
        /// The call (`load_checkpoint`, `load_state_dict`).
        op: &'static str,
        /// The file, or what the dict was made from.
        path: String,
        /// Every difference found: missing, unexpected, wrong shape, wrong dtype.
        problems: Vec<String>,
    },
}

/// Lets `?` turn an nn error into a tensor error, so modules can run inside closures that
/// return the tensor crate's `Result` — such as those given to
/// [`ferrograd_tensor::gradcheck()`]. A wrapped tensor error comes back as it was; the
/// other variants become [`TensorError::InvalidArgument`] carrying the full message.
///
/// ```
/// use ferrograd_nn::{Linear, Forward, Module};
/// use ferrograd_tensor::{gradcheck, GradcheckOptions, Rng, Tensor};
/// let layer = Linear::<f64>::new(3, 2, &mut Rng::new(0));
/// let x = Tensor::<f64>::ones(&[4, 3]);
/// let report = gradcheck(|v| Ok(layer.forward(&v[0])?), &[x], &GradcheckOptions::default())?;
/// assert!(report.passed(), "{report}");
/// # Ok::<(), ferrograd_tensor::TensorError>(())
/// ```
impl From<NnError> for TensorError {
    fn from(e: NnError) -> Self {
        match e {
            NnError::Tensor(inner) => inner,
            NnError::BadInput { op, .. }
            | NnError::InvalidArgument { op, .. }
            | NnError::CacheFull { op, .. } => TensorError::InvalidArgument {
                op,
                reason: e.to_string(),
            },
            NnError::CheckpointMismatch { .. } => TensorError::InvalidArgument {
                op: "load_checkpoint",
                reason: e.to_string(),
            },
        }
    }
}

/// Result alias of the crate.
pub type Result<T, E = NnError> = std::result::Result<T, E>;

pub(crate) fn shape_of(dims: &[usize]) -> Shape {
    Shape(dims.to_vec())
}
