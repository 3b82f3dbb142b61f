//! The closed set of primitive operations. For each one, its forward value, its domain check
//! and its local derivatives sit side by side in this file.

/// An operation with one tape operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unary {
    Neg,
    Exp,
    Ln,
    Sqrt,
    Tanh,
    Sigmoid,
    Relu,
    Abs,
}

/// An operation with two tape operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

/// An operation with one tape operand `v` and one constant `c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WithConst {
    /// `v + c` (and `c + v`, which is the same IEEE operation).
    Add,
    /// `v - c`.
    Sub,
    /// `c - v`.
    SubFrom,
    /// `v * c` (and `c * v`).
    Mul,
    /// `v / c`.
    Div,
    /// `c / v`.
    DivInto,
    /// `v.pow(c)`.
    Pow,
}

/// One node of the tape: how its value was made. Operands are earlier node indices, so the
/// push order is a topological order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    /// A leaf created by `Tape::var`.
    Var,
    /// A leaf created by `Tape::constant`.
    Const,
    Unary(Unary, u32),
    Binary(Binary, u32, u32),
    WithConst(WithConst, u32, f64),
}

impl Unary {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Unary::Neg => "neg",
            Unary::Exp => "exp",
            Unary::Ln => "ln",
            Unary::Sqrt => "sqrt",
            Unary::Tanh => "tanh",
            Unary::Sigmoid => "sigmoid",
            Unary::Relu => "relu",
            Unary::Abs => "abs",
        }
    }

    /// The forward value.
    #[inline]
    pub(crate) fn eval(self, x: f64) -> f64 {
        match self {
            Unary::Neg => -x,
            Unary::Exp => x.exp(),
            Unary::Ln => x.ln(),
            Unary::Sqrt => x.sqrt(),
            Unary::Tanh => x.tanh(),
            Unary::Sigmoid => sigmoid(x),
            // Written so that NaN propagates (f64::max would turn NaN into 0).
            Unary::Relu => {
                if x <= 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Unary::Abs => x.abs(),
        }
    }

    /// `Some(reason)` when `x` lies outside the domain (or where the derivative is infinite).
    #[inline]
    pub(crate) fn domain(self, x: f64) -> Option<&'static str> {
        match self {
            Unary::Ln if x < 0.0 => Some("logarithm of a negative number"),
            Unary::Ln if x == 0.0 => Some("logarithm of zero"),
            Unary::Sqrt if x < 0.0 => Some("square root of a negative number"),
            Unary::Sqrt if x == 0.0 => Some("the derivative of sqrt is infinite at 0"),
            _ => None,
        }
    }

    /// `d y / d x`, given the operand `x` and the result `y`.
    #[inline]
    pub(crate) fn derivative(self, x: f64, y: f64) -> f64 {
        match self {
            Unary::Neg => -1.0,
            Unary::Exp => y,
            Unary::Ln => 1.0 / x,
            Unary::Sqrt => 0.5 / y,
            Unary::Tanh => 1.0 - y * y,
            Unary::Sigmoid => y * (1.0 - y),
            // The kinks take derivative 0, as PyTorch does.
            Unary::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Unary::Abs => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// The logistic function `1 / (1 + e^-x)`, written so that it never overflows.
#[inline]
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl Binary {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
        }
    }

    /// The forward value.
    #[inline]
    pub(crate) fn eval(self, a: f64, b: f64) -> f64 {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
        }
    }

    /// `Some(reason)` when the operands lie outside the domain.
    #[inline]
    pub(crate) fn domain(self, _a: f64, b: f64) -> Option<&'static str> {
        match self {
            Binary::Div if b == 0.0 => Some("division by zero"),
            _ => None,
        }
    }

    /// `(d y / d a, d y / d b)`, given the operands and the result `y`.
    #[inline]
    pub(crate) fn derivatives(self, a: f64, b: f64, y: f64) -> (f64, f64) {
        match self {
            Binary::Add => (1.0, 1.0),
            Binary::Sub => (1.0, -1.0),
            Binary::Mul => (b, a),
            // d(a/b)/db = -a/b² = -y/b, which does not overflow where b*b would.
            Binary::Div => (1.0 / b, -(y / b)),
        }
    }

    /// The operand that a domain error is about.
    pub(crate) fn offending(self, _a: f64, b: f64) -> f64 {
        b
    }
}

impl WithConst {
    pub(crate) fn name(self) -> &'static str {
        match self {
            WithConst::Add => "add",
            WithConst::Sub | WithConst::SubFrom => "sub",
            WithConst::Mul => "mul",
            WithConst::Div | WithConst::DivInto => "div",
            WithConst::Pow => "pow",
        }
    }

    /// A short label for graph pictures, e.g. `"+ 2"` or `"2 /"`.
    pub(crate) fn label(self, c: f64) -> String {
        match self {
            WithConst::Add => format!("+ {c}"),
            WithConst::Sub => format!("- {c}"),
            WithConst::SubFrom => format!("{c} -"),
            WithConst::Mul => format!("* {c}"),
            WithConst::Div => format!("/ {c}"),
            WithConst::DivInto => format!("{c} /"),
            WithConst::Pow => format!("pow {c}"),
        }
    }

    /// The forward value of the operation on tape operand `v` and constant `c`.
    #[inline]
    pub(crate) fn eval(self, v: f64, c: f64) -> f64 {
        match self {
            WithConst::Add => v + c,
            WithConst::Sub => v - c,
            WithConst::SubFrom => c - v,
            WithConst::Mul => v * c,
            WithConst::Div => v / c,
            WithConst::DivInto => c / v,
            WithConst::Pow => v.powf(c),
        }
    }

    /// `Some(reason)` when the operands lie outside the domain.
    #[inline]
    pub(crate) fn domain(self, v: f64, c: f64) -> Option<&'static str> {
        match self {
            WithConst::Div if c == 0.0 => Some("division by zero"),
            WithConst::DivInto if v == 0.0 => Some("division by zero"),
            WithConst::Pow => pow_domain(v, c),
            _ => None,
        }
    }

    /// `d y / d v`, given the tape operand `v`, the constant `c` and the result `y`.
    #[inline]
    pub(crate) fn derivative(self, v: f64, c: f64, y: f64) -> f64 {
        match self {
            WithConst::Add | WithConst::Sub => 1.0,
            WithConst::SubFrom => -1.0,
            WithConst::Mul => c,
            WithConst::Div => 1.0 / c,
            // d(c/v)/dv = -c/v² = -y/v.
            WithConst::DivInto => -(y / v),
            WithConst::Pow => {
                if c == 0.0 {
                    0.0
                } else {
                    c * v.powf(c - 1.0)
                }
            }
        }
    }

    /// The operand that a domain error is about.
    pub(crate) fn offending(self, v: f64, c: f64) -> f64 {
        match self {
            WithConst::Div => c,
            _ => v,
        }
    }

    /// Operands written out in the order the user wrote them.
    pub(crate) fn operands(self, v: f64, c: f64) -> String {
        match self {
            WithConst::SubFrom | WithConst::DivInto => format!("a = {c}, b = {v}"),
            WithConst::Pow => format!("base = {v}, exponent = {c}"),
            _ => format!("a = {v}, b = {c}"),
        }
    }
}

#[inline]
fn pow_domain(base: f64, p: f64) -> Option<&'static str> {
    if !p.is_finite() {
        Some("the exponent is not finite")
    } else if base < 0.0 && p.fract() != 0.0 {
        Some("negative base with a non-integer exponent")
    } else if base == 0.0 && p < 0.0 {
        Some("zero raised to a negative power")
    } else if base == 0.0 && p > 0.0 && p < 1.0 {
        Some("the derivative of pow is infinite at base 0 for exponents between 0 and 1")
    } else {
        None
    }
}

impl Op {
    /// The user-facing name of the operation.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Var => "var",
            Op::Const => "constant",
            Op::Unary(u, _) => u.name(),
            Op::Binary(b, _, _) => b.name(),
            Op::WithConst(k, _, _) => k.name(),
        }
    }

    /// The tape operands (0, 1 or 2 of them; the same index twice for `x * x`).
    #[inline]
    pub(crate) fn operands(self) -> (Option<u32>, Option<u32>) {
        match self {
            Op::Var | Op::Const => (None, None),
            Op::Unary(_, a) | Op::WithConst(_, a, _) => (Some(a), None),
            Op::Binary(_, a, b) => (Some(a), Some(b)),
        }
    }

    /// Calls `f(operand, local derivative)` for each tape operand of the node whose result
    /// is `y`. `values` is the tape's value array. This is the one place that knows how
    /// each operation differentiates, used by the backward pass and its diagnostics.
    #[inline(always)]
    pub(crate) fn for_each_partial(self, values: &[f64], y: f64, mut f: impl FnMut(u32, f64)) {
        match self {
            Op::Var | Op::Const => {}
            Op::Unary(u, a) => f(a, u.derivative(values[a as usize], y)),
            Op::Binary(b, a, c) => {
                let (da, dc) = b.derivatives(values[a as usize], values[c as usize], y);
                f(a, da);
                f(c, dc);
            }
            Op::WithConst(k, a, c) => f(a, k.derivative(values[a as usize], c, y)),
        }
    }

    /// Operands written out, for error messages.
    pub(crate) fn describe_operands(self, values: &[f64]) -> String {
        match self {
            Op::Var | Op::Const => String::from("a leaf"),
            Op::Unary(_, a) => format!("x = {}", values[a as usize]),
            Op::Binary(_, a, b) => {
                format!("a = {}, b = {}", values[a as usize], values[b as usize])
            }
            Op::WithConst(k, a, c) => k.operands(values[a as usize], c),
        }
    }
}
