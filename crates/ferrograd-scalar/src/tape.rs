//! The tape (an arena of nodes) and the [`Value`] handle into it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ScalarError;
use crate::op::{Binary, Op, Unary, WithConst};

/// Source of tape identities; a tape takes a fresh one when created and when cleared.
static NEXT_TAPE_ID: AtomicU64 = AtomicU64::new(1);

fn fresh_id() -> u64 {
    NEXT_TAPE_ID.fetch_add(1, Ordering::Relaxed)
}

/// The arena that holds every value of a computation and how it was made.
///
/// Each operation on [`Value`]s appends one node (its operation, the indices of its
/// operands, its value). Operands always come before their results, so the push order is
/// a topological order and [`backward`](Tape::backward) is a single reverse loop over the
/// arrays: no recursion, no per-node allocation, and dropping a tape of any size is
/// dropping a few `Vec`s.
///
/// A `Tape` is used through a shared reference (`&Tape`): values borrow it, which is what
/// makes [`Value`] `Copy`. [`clear`](Tape::clear) needs `&mut Tape`, so the borrow checker
/// guarantees that no value outlives the nodes it points to. A tape is `Send` but not
/// `Sync`: build each graph on one thread.
pub struct Tape {
    inner: RefCell<Inner>,
    id: u64,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) values: Vec<f64>,
    pub(crate) ops: Vec<Op>,
    /// Problems found in the forward pass, in node order: only *origins* are recorded
    /// (a node whose operands were finite), so the list stays short.
    pub(crate) issues: Vec<(u32, ScalarError)>,
    pub(crate) labels: BTreeMap<u32, String>,
}

impl Inner {
    /// Appends a node and returns its index.
    #[inline]
    fn push(&mut self, op: Op, value: f64) -> u32 {
        let idx = self.values.len();
        let Ok(idx32) = u32::try_from(idx) else {
            panic!("ferrograd-scalar: a tape holds at most {} nodes", u32::MAX);
        };
        self.values.push(value);
        self.ops.push(op);
        idx32
    }

    /// The slow path: records a domain error or a non-finite result, unless an operand was
    /// already non-finite (then the problem started earlier and is recorded there).
    #[cold]
    #[inline(never)]
    fn record(&mut self, node: u32, domain: Option<(&'static str, f64)>, operands_finite: bool) {
        if !operands_finite {
            return;
        }
        let op = self.ops[node as usize];
        let value = self.values[node as usize];
        let operands = op.describe_operands(&self.values);
        let err = match domain {
            Some((reason, input)) => ScalarError::Domain {
                op: op.name(),
                node: node as usize,
                input,
                reason,
                operands,
            },
            None => ScalarError::NonFiniteValue {
                op: op.name(),
                node: node as usize,
                value,
                operands,
            },
        };
        self.issues.push((node, err));
    }
}

impl Tape {
    /// An empty tape.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty tape with room for `nodes` nodes before it reallocates.
    pub fn with_capacity(nodes: usize) -> Self {
        Tape {
            inner: RefCell::new(Inner {
                values: Vec::with_capacity(nodes),
                ops: Vec::with_capacity(nodes),
                ..Inner::default()
            }),
            id: fresh_id(),
        }
    }

    /// A new input: a leaf whose gradient [`backward`](Tape::backward) computes.
    ///
    /// A non-finite `value` is allowed but recorded: `backward` of anything that depends
    /// on it returns [`ScalarError::NonFiniteInput`].
    pub fn var(&self, value: f64) -> Value<'_> {
        self.leaf(Op::Var, value)
    }

    /// Several inputs at once, in order.
    pub fn vars(&self, values: &[f64]) -> Vec<Value<'_>> {
        values.iter().map(|&v| self.var(v)).collect()
    }

    /// A constant leaf. It behaves exactly like [`var`](Tape::var) (its gradient is computed
    /// too); the difference is its label in graph pictures. Plain `f64` operands
    /// (`v + 2.0`) need no constant node at all.
    pub fn constant(&self, value: f64) -> Value<'_> {
        self.leaf(Op::Const, value)
    }

    fn leaf(&self, op: Op, value: f64) -> Value<'_> {
        let mut inner = self.inner.borrow_mut();
        let idx = inner.push(op, value);
        if !value.is_finite() {
            inner.issues.push((
                idx,
                ScalarError::NonFiniteInput {
                    op: op.name(),
                    node: idx as usize,
                    value,
                },
            ));
        }
        Value { tape: self, idx }
    }

    /// The sum of `values`, left to right; a constant `0` when there are none.
    ///
    /// # Panics
    /// If the values come from another tape.
    pub fn sum<'t, I>(&'t self, values: I) -> Value<'t>
    where
        I: IntoIterator<Item = Value<'t>>,
    {
        let mut it = values.into_iter();
        match it.next() {
            None => self.constant(0.0),
            Some(first) => {
                first.check_tape(self, "sum");
                it.fold(first, |acc, v| acc + v)
            }
        }
    }

    /// Number of nodes on the tape.
    pub fn len(&self) -> usize {
        self.inner.borrow().values.len()
    }

    /// Whether the tape holds no nodes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every node, keeping the allocated memory for reuse (a training loop clears
    /// one tape each step instead of allocating a new one). Gradients computed before the
    /// clear can no longer be read with values created after it.
    pub fn clear(&mut self) {
        let inner = self.inner.get_mut();
        inner.values.clear();
        inner.ops.clear();
        inner.issues.clear();
        inner.labels.clear();
        self.id = fresh_id();
    }

    /// The forward problems recorded so far (domain errors, non-finite results or inputs),
    /// in node order. Only the first node of each chain of non-finite values is listed.
    pub fn issues(&self) -> Vec<ScalarError> {
        self.inner
            .borrow()
            .issues
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn inner(&self) -> std::cell::Ref<'_, Inner> {
        self.inner.borrow()
    }

    #[inline]
    fn unary(&self, u: Unary, a: u32) -> Value<'_> {
        let mut inner = self.inner.borrow_mut();
        let x = inner.values[a as usize];
        let y = u.eval(x);
        let idx = inner.push(Op::Unary(u, a), y);
        let domain = u.domain(x);
        if domain.is_some() || !y.is_finite() {
            inner.record(idx, domain.map(|r| (r, x)), x.is_finite());
        }
        Value { tape: self, idx }
    }

    #[inline]
    fn binary(&self, b: Binary, lhs: u32, rhs: u32) -> Value<'_> {
        let mut inner = self.inner.borrow_mut();
        let x = inner.values[lhs as usize];
        let z = inner.values[rhs as usize];
        let y = b.eval(x, z);
        let idx = inner.push(Op::Binary(b, lhs, rhs), y);
        let domain = b.domain(x, z);
        if domain.is_some() || !y.is_finite() {
            let offending = b.offending(x, z);
            inner.record(
                idx,
                domain.map(|r| (r, offending)),
                x.is_finite() && z.is_finite(),
            );
        }
        Value { tape: self, idx }
    }

    #[inline]
    fn with_const(&self, k: WithConst, a: u32, c: f64) -> Value<'_> {
        let mut inner = self.inner.borrow_mut();
        let v = inner.values[a as usize];
        let y = k.eval(v, c);
        let idx = inner.push(Op::WithConst(k, a, c), y);
        let domain = k.domain(v, c);
        if domain.is_some() || !y.is_finite() {
            let offending = k.offending(v, c);
            // A non-finite constant is this node's own problem, so only the tape operand
            // decides whether the problem started earlier.
            inner.record(idx, domain.map(|r| (r, offending)), v.is_finite());
        }
        Value { tape: self, idx }
    }
}

impl Default for Tape {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.try_borrow() {
            Ok(inner) => f
                .debug_struct("Tape")
                .field("id", &self.id)
                .field("nodes", &inner.values.len())
                .field("issues", &inner.issues.len())
                .finish(),
            Err(_) => f
                .debug_struct("Tape")
                .field("id", &self.id)
                .finish_non_exhaustive(),
        }
    }
}

/// A scalar on a [`Tape`]: a cheap `Copy` handle (a reference to the tape and a node index).
///
/// Arithmetic with `+ - * /` and unary `-` works between values and between a value and
/// an `f64` in either order (`v + 2.0`, `2.0 * v`), on values and on references to values;
/// compound assignment (`+=` …) too. Each operation appends one node to the tape.
///
/// Combining values of two different tapes panics with the message of
/// [`ScalarError::TapeMismatch`]; [`try_add`](Value::try_add) and its siblings return that
/// error instead.
#[derive(Clone, Copy)]
pub struct Value<'t> {
    tape: &'t Tape,
    idx: u32,
}

impl<'t> Value<'t> {
    /// The forward value.
    pub fn value(self) -> f64 {
        self.tape.inner.borrow().values[self.idx as usize]
    }

    /// This value's node index on its tape (its position in push order).
    pub fn index(self) -> usize {
        self.idx as usize
    }

    /// The tape this value lives on.
    pub fn tape(self) -> &'t Tape {
        self.tape
    }

    /// Attaches a name shown in graph pictures ([`Tape::to_dot`]); returns `self`.
    pub fn label(self, name: impl Into<String>) -> Self {
        self.tape
            .inner
            .borrow_mut()
            .labels
            .insert(self.idx, name.into());
        self
    }

    #[inline]
    pub(crate) fn check_tape(self, other: &Tape, op: &'static str) {
        if !std::ptr::eq(self.tape, other) {
            mismatch(op);
        }
    }

    #[inline]
    fn same_tape(self, other: Value<'t>) -> bool {
        std::ptr::eq(self.tape, other.tape)
    }

    #[inline]
    fn bin(self, b: Binary, rhs: Value<'t>) -> Value<'t> {
        if !self.same_tape(rhs) {
            mismatch(b.name());
        }
        self.tape.binary(b, self.idx, rhs.idx)
    }

    #[inline]
    fn try_bin(self, b: Binary, rhs: Value<'t>) -> Result<Value<'t>, ScalarError> {
        if self.same_tape(rhs) {
            Ok(self.tape.binary(b, self.idx, rhs.idx))
        } else {
            Err(ScalarError::TapeMismatch { op: b.name() })
        }
    }

    /// `self + rhs`, or [`ScalarError::TapeMismatch`] if they live on different tapes.
    ///
    /// # Errors
    /// When the two values belong to different tapes.
    pub fn try_add(self, rhs: Value<'t>) -> Result<Value<'t>, ScalarError> {
        self.try_bin(Binary::Add, rhs)
    }

    /// `self - rhs`, or [`ScalarError::TapeMismatch`] if they live on different tapes.
    ///
    /// # Errors
    /// When the two values belong to different tapes.
    pub fn try_sub(self, rhs: Value<'t>) -> Result<Value<'t>, ScalarError> {
        self.try_bin(Binary::Sub, rhs)
    }

    /// `self * rhs`, or [`ScalarError::TapeMismatch`] if they live on different tapes.
    ///
    /// # Errors
    /// When the two values belong to different tapes.
    pub fn try_mul(self, rhs: Value<'t>) -> Result<Value<'t>, ScalarError> {
        self.try_bin(Binary::Mul, rhs)
    }

    /// `self / rhs`, or [`ScalarError::TapeMismatch`] if they live on different tapes.
    ///
    /// # Errors
    /// When the two values belong to different tapes.
    pub fn try_div(self, rhs: Value<'t>) -> Result<Value<'t>, ScalarError> {
        self.try_bin(Binary::Div, rhs)
    }

    /// `self` raised to the constant power `p`. Domain: a negative base needs an integer
    /// exponent; a zero base needs `p = 0` or `p >= 1` (elsewhere the value or the
    /// derivative is infinite).
    pub fn pow(self, p: f64) -> Value<'t> {
        self.tape.with_const(WithConst::Pow, self.idx, p)
    }

    /// `e^self`.
    pub fn exp(self) -> Value<'t> {
        self.tape.unary(Unary::Exp, self.idx)
    }

    /// The natural logarithm. Domain: `self > 0`.
    pub fn ln(self) -> Value<'t> {
        self.tape.unary(Unary::Ln, self.idx)
    }

    /// The square root. Domain: `self > 0` (at 0 the derivative is infinite).
    pub fn sqrt(self) -> Value<'t> {
        self.tape.unary(Unary::Sqrt, self.idx)
    }

    /// The hyperbolic tangent.
    pub fn tanh(self) -> Value<'t> {
        self.tape.unary(Unary::Tanh, self.idx)
    }

    /// The logistic function `1 / (1 + e^-self)`, computed without overflow.
    pub fn sigmoid(self) -> Value<'t> {
        self.tape.unary(Unary::Sigmoid, self.idx)
    }

    /// `max(self, 0)`; its derivative at 0 is taken as 0.
    pub fn relu(self) -> Value<'t> {
        self.tape.unary(Unary::Relu, self.idx)
    }

    /// `|self|`; its derivative at 0 is taken as 0.
    pub fn abs(self) -> Value<'t> {
        self.tape.unary(Unary::Abs, self.idx)
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn mismatch(op: &'static str) -> ! {
    panic!("{}", ScalarError::TapeMismatch { op })
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Value");
        s.field("index", &self.idx);
        if let Ok(inner) = self.tape.inner.try_borrow() {
            s.field("value", &inner.values[self.idx as usize]);
        }
        s.finish()
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value(), f)
    }
}

// ---- operator overloading -------------------------------------------------------------

use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

macro_rules! value_binop {
    ($Trait:ident, $method:ident, $bin:expr, $vc:expr, $cv:expr) => {
        impl<'t> $Trait<Value<'t>> for Value<'t> {
            type Output = Value<'t>;
            #[inline]
            fn $method(self, rhs: Value<'t>) -> Value<'t> {
                self.bin($bin, rhs)
            }
        }
        impl<'t> $Trait<&Value<'t>> for Value<'t> {
            type Output = Value<'t>;
            #[inline]
            fn $method(self, rhs: &Value<'t>) -> Value<'t> {
                self.bin($bin, *rhs)
            }
        }
        impl<'t> $Trait<Value<'t>> for &Value<'t> {
            type Output = Value<'t>;
            #[inline]
            fn $method(self, rhs: Value<'t>) -> Value<'t> {
                (*self).bin($bin, rhs)
            }
        }
        impl<'t> $Trait<&Value<'t>> for &Value<'t> {
            type Output = Value<'t>;
            #[inline]
            fn $method(self, rhs: &Value<'t>) -> Value<'t> {
                (*self).bin($bin, *rhs)
            }
        }
        impl<'t> $Trait<f64> for Value<'t> {
            type Output = Value<'t>;
            #[inline]
            fn $method(self, rhs: f64) -> Value<'t> {
                self.tape.with_const($vc, self.idx, rhs)
            }
        }
        impl<'t> $Trait<f64> for &Value<'t> {
            type Output = Value<'t>;
            #[inline]
            fn $method(self, rhs: f64) -> Value<'t> {
                self.tape.with_const($vc, self.idx, rhs)
            }
        }
        impl<'t> $Trait<Value<'t>> for f64 {
            type Output = Value<'t>;
            #[inline]
            fn $method(self, rhs: Value<'t>) -> Value<'t> {
                rhs.tape.with_const($cv, rhs.idx, self)
            }
        }
        impl<'t> $Trait<&Value<'t>> for f64 {
            type Output = Value<'t>;
            #[inline]
            fn $method(self, rhs: &Value<'t>) -> Value<'t> {
                rhs.tape.with_const($cv, rhs.idx, self)
            }
        }
    };
}

// `c + v` and `c * v` are recorded as `v + c` and `v * c`: IEEE addition and
// multiplication are commutative, so the value is the same bit for bit.
value_binop!(Add, add, Binary::Add, WithConst::Add, WithConst::Add);
value_binop!(Sub, sub, Binary::Sub, WithConst::Sub, WithConst::SubFrom);
value_binop!(Mul, mul, Binary::Mul, WithConst::Mul, WithConst::Mul);
value_binop!(Div, div, Binary::Div, WithConst::Div, WithConst::DivInto);

macro_rules! value_assign {
    ($Trait:ident, $method:ident, $op:tt) => {
        impl<'t> $Trait<Value<'t>> for Value<'t> {
            #[inline]
            fn $method(&mut self, rhs: Value<'t>) {
                *self = *self $op rhs;
            }
        }
        impl<'t> $Trait<f64> for Value<'t> {
            #[inline]
            fn $method(&mut self, rhs: f64) {
                *self = *self $op rhs;
            }
        }
    };
}

value_assign!(AddAssign, add_assign, +);
value_assign!(SubAssign, sub_assign, -);
value_assign!(MulAssign, mul_assign, *);
value_assign!(DivAssign, div_assign, /);

impl<'t> Neg for Value<'t> {
    type Output = Value<'t>;
    #[inline]
    fn neg(self) -> Value<'t> {
        self.tape.unary(Unary::Neg, self.idx)
    }
}

impl<'t> Neg for &Value<'t> {
    type Output = Value<'t>;
    #[inline]
    fn neg(self) -> Value<'t> {
        -*self
    }
}
