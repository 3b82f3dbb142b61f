//! The crate's one error type.

/// Everything that can go wrong in `ferrograd-scalar`. Every variant names the operation.
///
/// Forward problems (a domain error such as `ln(-1)`, or an operation that turns finite
/// operands into `inf`/`NaN`) do not stop the forward pass: the value is computed as IEEE 754
/// says and the tape remembers the problem. [`Tape::backward`](crate::Tape::backward) then
/// refuses to return gradients for an output that depends on such a node, and names the
/// first one. See the crate documentation, section *Domain errors*.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ScalarError {
    /// An operation was applied outside its domain, or at a point where its derivative is
    /// infinite: `ln` of a number `<= 0`, `sqrt` of a number `<= 0`, division by zero,
    /// `pow` with a negative base and a non-integer exponent, or `pow(0, p)` with `p < 1`,
    /// `p != 0`.
    #[error("domain error in `{op}` at node {node}: {reason} ({operands})")]
    Domain {
        /// The operation, e.g. `"ln"`.
        op: &'static str,
        /// Index of the offending node on its tape.
        node: usize,
        /// The offending operand (the argument of `ln`/`sqrt`, the divisor, the base of `pow`).
        input: f64,
        /// Why the operand is outside the domain.
        reason: &'static str,
        /// All operands, written out, e.g. `"a = 3, b = 0"`.
        operands: String,
    },
    /// An operation produced `inf` or `NaN` from finite operands (overflow, e.g.
    /// `exp(1000)` or `1e200 * 1e200`, or a non-finite constant operand).
    #[error(
        "`{op}` at node {node} produced the non-finite value {value} from finite operands ({operands})"
    )]
    NonFiniteValue {
        /// The operation, e.g. `"exp"`.
        op: &'static str,
        /// Index of the node on its tape.
        node: usize,
        /// The value it produced.
        value: f64,
        /// All operands, written out.
        operands: String,
    },
    /// A leaf (`var` or `constant`) was created with a non-finite value.
    #[error("`{op}` at node {node} is not finite: {value}")]
    NonFiniteInput {
        /// `"var"` or `"constant"`.
        op: &'static str,
        /// Index of the node on its tape.
        node: usize,
        /// The value given.
        value: f64,
    },
    /// The backward pass overflowed: a local derivative or an accumulated gradient became
    /// `inf` or `NaN` although every forward value is finite (e.g. `ln(x)` at
    /// `x = 1e-320`, whose derivative `1/x` overflows).
    #[error(
        "backward produced the non-finite gradient {gradient} at `{op}` (node {node}; {detail})"
    )]
    NonFiniteGradient {
        /// The operation whose backward step overflowed.
        op: &'static str,
        /// Index of the node on its tape.
        node: usize,
        /// The non-finite gradient.
        gradient: f64,
        /// Its operands, or a note that the gradient overflowed while being accumulated.
        detail: String,
    },
    /// Two values from different tapes were combined, or `backward` was asked for a value
    /// of another tape.
    #[error("cannot combine values from two different tapes in `{op}`")]
    TapeMismatch {
        /// The operation, e.g. `"add"` or `"backward"`.
        op: &'static str,
    },
    /// Gradients were read for a value of a different tape, or of the same tape after it
    /// was cleared.
    #[error(
        "`{op}`: these gradients were computed on a different tape, or before the tape was cleared"
    )]
    StaleGradients {
        /// The operation, e.g. `"wrt"`.
        op: &'static str,
    },
}
