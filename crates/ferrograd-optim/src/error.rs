//! The crate's one error type.

use ferrograd_tensor::{Shape, TensorError, TensorId};

/// Everything that can go wrong in `ferrograd-optim`. Every variant names the operation
/// (`"Adam::new"`, `"Sgd::step"`, `"clip_grad_norm"`…); problems with one parameter name
/// its position in the optimizer's parameter list, its id and its shape.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptimError {
    /// A hyper-parameter outside its valid range (negative learning rate, a beta outside
    /// `[0, 1)`, Nesterov momentum without momentum…), rejected where PyTorch raises
    /// `ValueError`.
    #[error("{op}: invalid {name} = {value}: {reason}")]
    InvalidHyperParameter {
        /// The operation, e.g. `"Adam::new"`.
        op: &'static str,
        /// The hyper-parameter, e.g. `"betas.0"`.
        name: &'static str,
        /// The value given, as written.
        value: String,
        /// What the valid range is.
        reason: &'static str,
    },
    /// An optimizer built over no parameters (PyTorch: "optimizer got an empty parameter
    /// list").
    #[error("{op}: the optimizer got an empty parameter list")]
    EmptyParameterList {
        /// The operation.
        op: &'static str,
    },
    /// The same parameter given twice to one optimizer.
    #[error(
        "{op}: parameter {index} (id {id}) is the same parameter as parameter {first}; \
         each parameter may appear only once"
    )]
    DuplicateParameter {
        /// The operation.
        op: &'static str,
        /// Position of the repeated entry.
        index: usize,
        /// Position of its first occurrence.
        first: usize,
        /// The parameter's id.
        id: TensorId,
    },
    /// A gradient whose shape differs from its parameter's.
    #[error(
        "{op}: the gradient of parameter {index} (id {id}) has shape {grad}, \
         but the parameter has shape {param}"
    )]
    GradientShape {
        /// The operation.
        op: &'static str,
        /// Position of the parameter in the optimizer.
        index: usize,
        /// The parameter's id.
        id: TensorId,
        /// Shape of the parameter.
        param: Shape,
        /// Shape of the gradient found for it.
        grad: Shape,
    },
    /// The total gradient norm is NaN or infinite and clipping was asked to fail on it
    /// (`error_if_nonfinite` in PyTorch).
    #[error(
        "{op}: the total norm of order {norm_type} of the gradients is non-finite ({total}), \
         so it cannot be clipped"
    )]
    NonFiniteNorm {
        /// The operation.
        op: &'static str,
        /// The order of the norm.
        norm_type: f64,
        /// The norm found.
        total: f64,
    },
    /// A state dict that does not fit the optimizer it is loaded into: another kind of
    /// optimizer, a different number of parameters, a missing or unknown entry, or a state
    /// tensor whose shape differs from its parameter's.
    #[error("{op}: {reason}")]
    StateDict {
        /// The operation.
        op: &'static str,
        /// What does not fit.
        reason: String,
    },
    /// An error from the tensor layer (for example while reading or writing a file).
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// Result alias used throughout the crate.
pub type Result<T, E = OptimError> = std::result::Result<T, E>;

/// Checks `value` against `ok`; otherwise an [`OptimError::InvalidHyperParameter`].
pub(crate) fn check(
    op: &'static str,
    name: &'static str,
    value: f64,
    ok: bool,
    reason: &'static str,
) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(OptimError::InvalidHyperParameter {
            op,
            name,
            value: format!("{value}"),
            reason,
        })
    }
}

/// A learning rate must be a finite number `>= 0` (PyTorch only rejects `lr < 0`; a NaN or
/// infinite rate would silently destroy the parameters, so it is rejected too).
pub(crate) fn check_lr(op: &'static str, lr: f64) -> Result<()> {
    check(
        op,
        "lr",
        lr,
        lr.is_finite() && lr >= 0.0,
        "the learning rate must be finite and >= 0",
    )
}
