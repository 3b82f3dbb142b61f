//! The reverse pass and the gradient store it fills.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Index;

use crate::error::ScalarError;
use crate::op::Op;
use crate::tape::{Tape, Value};

/// Gradients of one output with respect to every node of its tape, as computed by
/// [`Tape::backward`].
///
/// Read them with [`wrt`](Gradients::wrt) or by indexing: `grads[x]`, `grads[&x]`. A value
/// the output does not depend on (including any value created after the output) has
/// gradient `0`.
#[derive(Clone, Default, PartialEq)]
pub struct Gradients {
    adj: Vec<f64>,
    tape_id: u64,
}

impl Gradients {
    /// An empty store, to be filled by [`Tape::backward_into`].
    pub fn new() -> Self {
        Self::default()
    }

    /// `d output / d value`.
    ///
    /// # Panics
    /// With the message of [`ScalarError::StaleGradients`] if `value` belongs to another
    /// tape, or to this tape after it was cleared. [`try_wrt`](Gradients::try_wrt) returns
    /// the error instead.
    #[track_caller]
    pub fn wrt<'t>(&self, value: impl Borrow<Value<'t>>) -> f64 {
        match self.try_wrt(value) {
            Ok(g) => g,
            Err(e) => panic!("{e}"),
        }
    }

    /// `d output / d value`, or [`ScalarError::StaleGradients`] if `value` belongs to
    /// another tape, or to this tape after it was cleared.
    ///
    /// # Errors
    /// See above.
    pub fn try_wrt<'t>(&self, value: impl Borrow<Value<'t>>) -> Result<f64, ScalarError> {
        let v = value.borrow();
        if v.tape().id() != self.tape_id {
            return Err(ScalarError::StaleGradients { op: "wrt" });
        }
        Ok(self.adj.get(v.index()).copied().unwrap_or(0.0))
    }

    /// The gradients of nodes `0..=output` in node order (index with
    /// [`Value::index`]).
    pub fn as_slice(&self) -> &[f64] {
        &self.adj
    }

    #[track_caller]
    fn slot(&self, v: &Value<'_>) -> &f64 {
        if v.tape().id() != self.tape_id {
            panic!("{}", ScalarError::StaleGradients { op: "index" });
        }
        self.adj.get(v.index()).unwrap_or(&0.0)
    }
}

impl<'t> Index<Value<'t>> for Gradients {
    type Output = f64;
    #[track_caller]
    fn index(&self, v: Value<'t>) -> &f64 {
        self.slot(&v)
    }
}

impl<'t> Index<&Value<'t>> for Gradients {
    type Output = f64;
    #[track_caller]
    fn index(&self, v: &Value<'t>) -> &f64 {
        self.slot(v)
    }
}

impl fmt::Debug for Gradients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gradients")
            .field("tape_id", &self.tape_id)
            .field("nodes", &self.adj.len())
            .finish()
    }
}

impl<'t> Value<'t> {
    /// Gradients of this value with respect to every node it depends on: a shorthand for
    /// [`Tape::backward`]`(self)`. (Defined here, beside the reverse pass, so the tape
    /// does not import the gradient store.)
    ///
    /// # Errors
    /// As [`Tape::backward`].
    pub fn backward(self) -> Result<Gradients, ScalarError> {
        self.tape().backward(self)
    }
}

impl Tape {
    /// Reverse-mode differentiation of `output`: one reverse loop over the tape from
    /// `output` down to node 0, accumulating `adjoint[operand] += adjoint[node] * ∂node/∂operand`.
    ///
    /// The gradients come back in a fresh store, so calling `backward` twice (or for two
    /// different outputs) gives independent, identical-when-repeated results; nothing on
    /// the tape is modified. [`backward_into`](Tape::backward_into) reuses a store's memory.
    ///
    /// # Errors
    /// - [`ScalarError::TapeMismatch`] if `output` lives on another tape;
    /// - the first recorded forward problem ([`ScalarError::Domain`],
    ///   [`ScalarError::NonFiniteValue`], [`ScalarError::NonFiniteInput`]) among the nodes
    ///   `output` depends on; problems in unrelated nodes are ignored;
    /// - [`ScalarError::NonFiniteGradient`] if the reverse pass itself overflowed.
    pub fn backward(&self, output: Value<'_>) -> Result<Gradients, ScalarError> {
        let mut grads = Gradients::new();
        self.backward_into(output, &mut grads)?;
        Ok(grads)
    }

    /// [`backward`](Tape::backward) into an existing store, which is zeroed first (its
    /// allocation is reused, so a training loop does not allocate per step).
    ///
    /// # Errors
    /// As [`backward`](Tape::backward). On error the store's contents are unspecified.
    pub fn backward_into(
        &self,
        output: Value<'_>,
        grads: &mut Gradients,
    ) -> Result<(), ScalarError> {
        if !std::ptr::eq(output.tape(), self) {
            return Err(ScalarError::TapeMismatch { op: "backward" });
        }
        let inner = self.inner();
        let out = output.index();
        let ops = &inner.ops[..=out];
        let values = &inner.values[..=out];
        // Issues are in node order, so one compare skips the search when none can matter.
        if inner
            .issues
            .first()
            .is_some_and(|(n, _)| *n as usize <= out)
            && let Some(err) = first_reachable_issue(ops, &inner.issues, out)
        {
            return Err(err);
        }
        grads.tape_id = self.id();
        let adj = &mut grads.adj;
        adj.clear();
        adj.resize(out + 1, 0.0);
        adj[out] = 1.0;
        let mut finite = true;
        for i in (0..=out).rev() {
            let g = adj[i];
            // Nodes the output does not depend on keep adjoint 0 and cost one compare.
            if g == 0.0 {
                continue;
            }
            finite &= g.is_finite();
            ops[i].for_each_partial(values, values[i], |a, d| adj[a as usize] += g * d);
        }
        if finite {
            Ok(())
        } else {
            Err(diagnose_gradient_overflow(ops, values, out))
        }
    }
}

/// The first recorded forward problem at a node that `out` depends on.
#[cold]
fn first_reachable_issue(
    ops: &[Op],
    issues: &[(u32, ScalarError)],
    out: usize,
) -> Option<ScalarError> {
    let mut reach = vec![false; out + 1];
    reach[out] = true;
    for i in (0..=out).rev() {
        if reach[i] {
            let (a, b) = ops[i].operands();
            for p in [a, b].into_iter().flatten() {
                reach[p as usize] = true;
            }
        }
    }
    issues
        .iter()
        .find(|(n, _)| (*n as usize) <= out && reach[*n as usize])
        .map(|(_, e)| e.clone())
}

/// Replays the reverse pass with a check on every step, to name where a non-finite
/// gradient first appeared.
#[cold]
fn diagnose_gradient_overflow(ops: &[Op], values: &[f64], out: usize) -> ScalarError {
    let mut adj = vec![0.0_f64; out + 1];
    adj[out] = 1.0;
    for i in (0..=out).rev() {
        let g = adj[i];
        if g == 0.0 {
            continue;
        }
        if !g.is_finite() {
            return ScalarError::NonFiniteGradient {
                op: ops[i].name(),
                node: i,
                gradient: g,
                detail: String::from("the gradient overflowed while summing its uses"),
            };
        }
        let mut bad = None;
        ops[i].for_each_partial(values, values[i], |a, d| {
            let c = g * d;
            if !c.is_finite() && bad.is_none() {
                bad = Some(c);
            }
            adj[a as usize] += c;
        });
        if let Some(gradient) = bad {
            return ScalarError::NonFiniteGradient {
                op: ops[i].name(),
                node: i,
                gradient,
                detail: ops[i].describe_operands(values),
            };
        }
    }
    // Unreachable when called after a failed pass; kept total rather than panicking.
    ScalarError::NonFiniteGradient {
        op: ops[out].name(),
        node: out,
        gradient: f64::NAN,
        detail: String::from("not reproduced by the diagnostic pass"),
    }
}
