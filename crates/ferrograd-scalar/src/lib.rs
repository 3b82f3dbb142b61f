//! # ferrograd-scalar
//!
//! Scalar reverse-mode automatic differentiation: the computational graphs of *The
//! Hundred-Page Language Models Book* (§1.5–1.8) as a library, with micrograd's clarity.
//!
//! Values live on a [`Tape`], an arena that records every operation with the indices of its
//! operands. A [`Value`] is a `Copy` handle (a reference to its tape and an index), with
//! `+ - * /`, negation, and [`pow`](Value::pow), [`exp`](Value::exp), [`ln`](Value::ln),
//! [`sqrt`](Value::sqrt), [`tanh`](Value::tanh), [`sigmoid`](Value::sigmoid),
//! [`relu`](Value::relu), [`abs`](Value::abs). [`Tape::backward`] walks the tape once in
//! reverse and returns [`Gradients`] for every node.
//!
//! ## Example: the book's loss J(w, b)
//!
//! §1.2 fits `y = w·x + b` to three points with the mean squared error
//! `J(w, b) = (1/3) Σ (w·xᵢ + b − yᵢ)²`, whose partial derivatives are
//! `∂J/∂w = (1/3)(260200w + 1220b − 560000)` and `∂J/∂b = (1/3)(1220w + 6b − 2600)`:
//!
//! ```
//! use ferrograd_scalar::Tape;
//!
//! let tape = Tape::new();
//! let w = tape.var(2.0).label("w");
//! let b = tape.var(-90.0).label("b");
//! let data = [(150.0, 200.0), (200.0, 600.0), (260.0, 500.0)];
//! let errors = data.iter().map(|&(x, y)| (w * x + b - y).pow(2.0));
//! let j = tape.sum(errors) / 3.0;
//!
//! let grads = j.backward()?;
//! let dj_dw = (260200.0 * 2.0 + 1220.0 * -90.0 - 560000.0) / 3.0; // -84613.33…
//! let dj_db = (1220.0 * 2.0 + 6.0 * -90.0 - 2600.0) / 3.0; // -233.33…
//! // The two sides round differently, by a few units in the last place.
//! assert!((grads[w] - dj_dw).abs() < 1e-12 * dj_dw.abs());
//! assert!((grads[b] - dj_db).abs() < 1e-12 * dj_db.abs());
//! # Ok::<(), ferrograd_scalar::ScalarError>(())
//! ```
//!
//! ## How it works
//!
//! - **Index tape.** Each operation appends one node (its operation, its operands' indices,
//!   its value) to the tape's arrays. Operands come before results, so push order is a
//!   topological order and the backward pass is one reverse loop: no recursion anywhere,
//!   so a chain of a million operations builds, backpropagates and drops without touching
//!   the stack. A value used several times (`x * x`, a node feeding two branches)
//!   accumulates the gradient from every use.
//! - **Fresh gradients.** `backward` never modifies the tape; it returns a new
//!   [`Gradients`] (or refills one with [`Tape::backward_into`]), so calling it twice gives
//!   the same result and there is nothing to zero between passes.
//! - **Tapes are separate.** Values borrow their tape, so [`Tape::clear`] (which reuses the
//!   memory for the next training step) cannot run while any value is alive. Combining
//!   values of two different tapes panics with [`ScalarError::TapeMismatch`]'s message; the
//!   `try_*` methods ([`Value::try_add`] …) return it instead. Reading gradients with a
//!   value of another tape, or after a clear, is [`ScalarError::StaleGradients`].
//! - **Plain numbers** combine with values in either order (`v + 2.0`, `2.0 * v`) without
//!   creating constant nodes.
//!
//! ## Domain errors
//!
//! The forward pass always computes what IEEE 754 says (`ln(-1)` is NaN, `1/0` is inf), so
//! building an expression never fails. But the tape records the first node of every
//! problem, and [`Tape::backward`] refuses to return gradients for an output that depends
//! on one, naming the operation, the node and the operands:
//!
//! - [`ScalarError::Domain`]: `ln(x)` with `x <= 0`; `sqrt(x)` with `x < 0`, and with
//!   `x = 0`, where the derivative is infinite; `a / b` with `b = 0`; `pow(x, p)` with
//!   `x < 0` and non-integer `p`, with `x = 0` and `p < 0`, or with `x = 0` and `0 < p < 1`
//!   (infinite derivative), or with a non-finite `p`;
//! - [`ScalarError::NonFiniteValue`]: an operation overflowed (finite operands, non-finite
//!   result), e.g. `exp(1000)`;
//! - [`ScalarError::NonFiniteInput`]: a leaf was created with `inf` or NaN;
//! - [`ScalarError::NonFiniteGradient`]: the forward values are finite but the reverse pass
//!   overflowed, e.g. `ln(x)` at `x = 1e-320`, whose derivative `1/x` is infinite in `f64`.
//!
//! Problems in nodes the output does not depend on are ignored. So a gradient that
//! `backward` returns is always finite and never silently wrong; [`Tape::issues`] lists
//! what was recorded. The kinks of `relu` and `abs` at 0 take derivative 0, as in PyTorch.
//!
//! ```
//! use ferrograd_scalar::{ScalarError, Tape};
//!
//! let tape = Tape::new();
//! let x = tape.var(-1.0);
//! let y = x.ln() * 2.0;
//! assert!(y.value().is_nan());
//! match y.backward() {
//!     Err(ScalarError::Domain { op, input, .. }) => assert_eq!((op, input), ("ln", -1.0)),
//!     other => panic!("expected a domain error, got {other:?}"),
//! }
//! ```
//!
//! ## Also here
//!
//! - [`nn`]: neurons, layers and MLPs (the book's Figure 1.1), binary cross-entropy, a
//!   seeded [`SplitMix64`](nn::SplitMix64) initialisation and plain gradient descent on the
//!   book's buy/no-buy dataset.
//! - [`Tape::to_dot`]: the graph of an expression as Graphviz DOT text, with values and
//!   gradients, like the book's pictures.
//!
//! A tape is `Send` but not `Sync`: build and differentiate each graph on one thread.

mod dot;
mod error;
mod grad;
pub mod nn;
mod op;
mod tape;

pub use error::ScalarError;
pub use grad::Gradients;
pub use tape::{Tape, Value};
