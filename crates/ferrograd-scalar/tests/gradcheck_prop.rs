//! Property test: for random expression DAGs built from every operation (`+ - * /` between
//! values and with constants in both orders, negation, `pow` with integer and fractional
//! exponents, `exp`, `ln`, `sqrt`, `tanh`, `sigmoid`, `relu`, `abs`), with shared
//! sub-expressions, the tape's gradient with respect to every input equals a finite
//! difference of the same expression evaluated in plain `f64`.
//!
//! **Finite difference.** Richardson-extrapolated central difference: with
//! `D(h) = (f(x+h) − f(x−h)) / 2h`, `R(h) = (4·D(h/2) − D(h)) / 3` has truncation error
//! `C·h⁴` (instead of the plain difference's `O(h²)`). We compute it at two steps,
//! `h₁ = 1e-3·s` and `h₂ = 2.5e-4·s` with `s = max(1, |x|)`, and use `fd = R(h₂)`.
//!
//! **Is the finite difference itself reliable?** Near a singularity (`1/y` at small `y`) or
//! where the expression varies on a scale comparable to the step, no finite difference is.
//! That is detected without looking at the tape: if `|R(h₁) − R(h₂)| > 1e-7·max(1, |fd|)`
//! the case is discarded. Otherwise, since `R(h₁) − R(h₂) ≈ C·h₁⁴·(1 − 1/256)`, the
//! truncation error of `fd`, `C·h₂⁴`, is below 1e-7/255 ≈ 4e-10 relative. Rounding adds
//! about `3·ε·Σ|nodes|/h₂ ≈ 3 · 2.2e-16 · (15 · 1e3) / 2.5e-4 ≈ 4e-8` at worst, because every
//! node's magnitude is kept below 1e3 (cases beyond it are discarded) and there are at most
//! 18 nodes.
//!
//! **Tolerance.** `|ad − fd| ≤ 1e-6 · max(1, |fd|)`: the error budget above is below 1e-7,
//! so the margin is over 10×, while a wrong backward rule (a dropped term, a wrong sign, a
//! wrong factor) changes the gradient by O(1) relative: six orders of magnitude above it.
//!
//! **Domain and kinks.** `ln`, `sqrt` and fractional `pow` are applied to
//! `u·u + 0.5` or `exp(u)`, which are always positive; integer `pow` (including negative
//! exponents) may take any base and division any divisor, near-singular cases being
//! discarded by the checks above. A case is discarded when any `relu`/`abs` operand is zero
//! or changes sign between the points the finite difference visits, so no kink lies inside
//! the differencing interval.

use std::ops::{Add, Div, Mul, Neg, Sub};

use ferrograd_scalar::{Tape, Value};
use proptest::prelude::*;

/// What the interpreter needs from a number type; implemented for `f64` (the reference
/// evaluation) and for [`Value`] (the tape).
trait Num:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
{
    fn get(self) -> f64;
    fn c_add(self, c: f64) -> Self;
    fn c_sub(self, c: f64) -> Self;
    fn c_mul(self, c: f64) -> Self;
    fn c_div(self, c: f64) -> Self;
    fn pow(self, p: f64) -> Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn tanh(self) -> Self;
    fn sigmoid(self) -> Self;
    fn relu(self) -> Self;
    fn abs(self) -> Self;
}

impl Num for f64 {
    fn get(self) -> f64 {
        self
    }
    fn c_add(self, c: f64) -> f64 {
        c + self
    }
    fn c_sub(self, c: f64) -> f64 {
        c - self
    }
    fn c_mul(self, c: f64) -> f64 {
        c * self
    }
    fn c_div(self, c: f64) -> f64 {
        c / self
    }
    fn pow(self, p: f64) -> f64 {
        self.powf(p)
    }
    fn exp(self) -> f64 {
        f64::exp(self)
    }
    fn ln(self) -> f64 {
        f64::ln(self)
    }
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
    fn tanh(self) -> f64 {
        f64::tanh(self)
    }
    fn sigmoid(self) -> f64 {
        1.0 / (1.0 + (-self).exp())
    }
    fn relu(self) -> f64 {
        if self > 0.0 { self } else { 0.0 }
    }
    fn abs(self) -> f64 {
        f64::abs(self)
    }
}

impl Num for Value<'_> {
    fn get(self) -> f64 {
        self.value()
    }
    fn c_add(self, c: f64) -> Self {
        c + self
    }
    fn c_sub(self, c: f64) -> Self {
        c - self
    }
    fn c_mul(self, c: f64) -> Self {
        c * self
    }
    fn c_div(self, c: f64) -> Self {
        c / self
    }
    fn pow(self, p: f64) -> Self {
        Value::pow(self, p)
    }
    fn exp(self) -> Self {
        Value::exp(self)
    }
    fn ln(self) -> Self {
        Value::ln(self)
    }
    fn sqrt(self) -> Self {
        Value::sqrt(self)
    }
    fn tanh(self) -> Self {
        Value::tanh(self)
    }
    fn sigmoid(self) -> Self {
        Value::sigmoid(self)
    }
    fn relu(self) -> Self {
        Value::relu(self)
    }
    fn abs(self) -> Self {
        Value::abs(self)
    }
}

#[derive(Debug, Clone, Copy)]
enum Un {
    Neg,
    Exp,
    Tanh,
    Sigmoid,
    Relu,
    Abs,
}

#[derive(Debug, Clone, Copy)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
}

/// One instruction; `usize` operands pick an earlier node (modulo the node count, so any
/// node may be used many times: shared sub-expressions).
#[derive(Debug, Clone)]
enum Ins {
    Un(Un, usize),
    /// `ln` of a positive form: `u*u + 0.5` (true) or `exp(u)` (false).
    Ln(usize, bool),
    /// `sqrt` of a positive form.
    Sqrt(usize, bool),
    /// `pow` with an integer exponent of any base.
    PowInt(usize, i32),
    /// `pow` with a fractional exponent of a positive form.
    PowFrac(usize, f64, bool),
    Bin(Bin, usize, usize),
    /// `v op c`.
    ValConst(Bin, usize, f64),
    /// `c op v`.
    ConstVal(Bin, f64, usize),
}

fn pick(n: usize, s: usize) -> usize {
    // Favour recent nodes so expressions get deep, while any node stays reachable.
    n - 1 - (s % n)
}

fn positive<T: Num>(u: T, square: bool) -> T {
    if square { u * u + 0.5 } else { u.exp() }
}

/// Kink operands seen, and the largest magnitude of any node.
#[derive(Default)]
struct Monitor {
    kinks: Vec<f64>,
    max_abs: f64,
}

fn eval<T: Num>(inputs: &[T], prog: &[Ins], mon: &mut Monitor) -> T {
    let mut nodes: Vec<T> = inputs.to_vec();
    for ins in prog {
        let n = nodes.len();
        let v = match *ins {
            Ins::Un(op, a) => {
                let x = nodes[pick(n, a)];
                match op {
                    Un::Neg => -x,
                    Un::Exp => x.exp(),
                    Un::Tanh => x.tanh(),
                    Un::Sigmoid => x.sigmoid(),
                    Un::Relu => {
                        mon.kinks.push(x.get());
                        x.relu()
                    }
                    Un::Abs => {
                        mon.kinks.push(x.get());
                        x.abs()
                    }
                }
            }
            Ins::Ln(a, sq) => positive(nodes[pick(n, a)], sq).ln(),
            Ins::Sqrt(a, sq) => positive(nodes[pick(n, a)], sq).sqrt(),
            Ins::PowInt(a, p) => nodes[pick(n, a)].pow(f64::from(p)),
            Ins::PowFrac(a, p, sq) => positive(nodes[pick(n, a)], sq).pow(p),
            Ins::Bin(op, a, b) => {
                let (x, y) = (nodes[pick(n, a)], nodes[pick(n, b)]);
                match op {
                    Bin::Add => x + y,
                    Bin::Sub => x - y,
                    Bin::Mul => x * y,
                    Bin::Div => x / y,
                }
            }
            Ins::ValConst(op, a, c) => {
                let x = nodes[pick(n, a)];
                match op {
                    Bin::Add => x + c,
                    Bin::Sub => x - c,
                    Bin::Mul => x * c,
                    Bin::Div => x / c,
                }
            }
            Ins::ConstVal(op, c, a) => {
                let x = nodes[pick(n, a)];
                match op {
                    Bin::Add => x.c_add(c),
                    Bin::Sub => x.c_sub(c),
                    Bin::Mul => x.c_mul(c),
                    Bin::Div => x.c_div(c),
                }
            }
        };
        mon.max_abs = mon.max_abs.max(v.get().abs());
        nodes.push(v);
    }
    // The output uses every instruction's result, so each contributes to the gradient.
    let mut out = nodes[inputs.len()];
    for &v in &nodes[inputs.len() + 1..] {
        out = out + v;
    }
    mon.max_abs = mon.max_abs.max(out.get().abs());
    out
}

fn constant() -> impl Strategy<Value = f64> {
    prop_oneof![0.5..3.0_f64, -3.0..-0.5_f64]
}

fn un() -> impl Strategy<Value = Un> {
    prop_oneof![
        Just(Un::Neg),
        Just(Un::Exp),
        Just(Un::Tanh),
        Just(Un::Sigmoid),
        Just(Un::Relu),
        Just(Un::Abs)
    ]
}

fn bin() -> impl Strategy<Value = Bin> {
    prop_oneof![
        Just(Bin::Add),
        Just(Bin::Sub),
        Just(Bin::Mul),
        Just(Bin::Div)
    ]
}

fn ins() -> impl Strategy<Value = Ins> {
    let s = any::<usize>();
    prop_oneof![
        3 => (un(), s).prop_map(|(o, a)| Ins::Un(o, a)),
        1 => (s, any::<bool>()).prop_map(|(a, q)| Ins::Ln(a, q)),
        1 => (s, any::<bool>()).prop_map(|(a, q)| Ins::Sqrt(a, q)),
        1 => (s, -2..=3_i32).prop_map(|(a, p)| Ins::PowInt(a, p)),
        1 => (s, -1.5..2.5_f64, any::<bool>()).prop_map(|(a, p, q)| Ins::PowFrac(a, p, q)),
        4 => (bin(), s, s).prop_map(|(o, a, b)| Ins::Bin(o, a, b)),
        2 => (bin(), s, constant()).prop_map(|(o, a, c)| Ins::ValConst(o, a, c)),
        2 => (bin(), constant(), s).prop_map(|(o, c, a)| Ins::ConstVal(o, c, a)),
    ]
}

/// Largest node magnitude accepted (see the module documentation).
const MAX_ABS: f64 = 1e3;

fn check(inputs: &[f64], prog: &[Ins]) -> Result<(), TestCaseError> {
    // Reference evaluation, and the conditions for a valid case.
    let mut base = Monitor::default();
    let f0 = eval(inputs, prog, &mut base);
    prop_assume!(f0.is_finite() && base.max_abs <= MAX_ABS);
    prop_assume!(base.kinks.iter().all(|k| *k != 0.0));

    // The tape.
    let tape = Tape::new();
    let xs = tape.vars(inputs);
    let out = eval(&xs, prog, &mut Monitor::default());
    // Same operations in f64; only sigmoid's formula differs by a few ulps, amplified by
    // at most the node magnitude bound: 1e-9 relative is ample.
    prop_assert!(
        (out.value() - f0).abs() <= 1e-9 * f0.abs().max(1.0),
        "forward {} vs {f0}",
        out.value()
    );
    let grads = out
        .backward()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;

    for i in 0..inputs.len() {
        let s = inputs[i].abs().max(1.0);
        let richardson = |h: f64| -> Result<f64, TestCaseError> {
            let mut vals = [0.0; 4];
            for (slot, d) in vals.iter_mut().zip([h, -h, h / 2.0, -h / 2.0]) {
                let mut x = inputs.to_vec();
                x[i] += d;
                let mut m = Monitor::default();
                let y = eval(&x, prog, &mut m);
                // The shifted points obey the same magnitude bound, and every relu/abs
                // operand keeps its sign: no kink between the points visited.
                prop_assume!(m.max_abs <= MAX_ABS && y.is_finite());
                prop_assume!(
                    m.kinks
                        .iter()
                        .zip(&base.kinks)
                        .all(|(a, b)| a.signum() == b.signum() && *a != 0.0)
                );
                *slot = y;
            }
            let d1 = (vals[0] - vals[1]) / (2.0 * h);
            let d2 = (vals[2] - vals[3]) / h;
            Ok((4.0 * d2 - d1) / 3.0)
        };
        let coarse = richardson(1e-3 * s)?;
        let fd = richardson(2.5e-4 * s)?;
        prop_assume!((coarse - fd).abs() <= 1e-7 * fd.abs().max(1.0));
        let ad = grads[xs[i]];
        prop_assert!(
            (ad - fd).abs() <= 1e-6 * fd.abs().max(1.0),
            "input {i}: ad {ad} vs fd {fd} (inputs {inputs:?})"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        max_global_rejects: 100_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn gradients_match_finite_differences(
        inputs in proptest::collection::vec(-2.0..2.0_f64, 1..=4),
        prog in proptest::collection::vec(ins(), 1..=14),
    ) {
        check(&inputs, &prog)?;
    }
}

/// Every kind of instruction, at least once, on fixed cases that must not be discarded:
/// guards against the interpreter or the generator silently skipping one of them.
#[test]
fn every_operation_is_exercised_by_the_interpreter() {
    // Operands are written as node indices (0 and 1 are the inputs, instruction k makes
    // node k + 2) and turned into the interpreter's "how far back" selectors.
    let targets: Vec<(Ins, usize, usize)> = vec![
        (Ins::Un(Un::Neg, 0), 0, 0),
        (Ins::Un(Un::Exp, 0), 1, 0),
        (Ins::Un(Un::Tanh, 0), 2, 0),
        (Ins::Un(Un::Sigmoid, 0), 1, 0),
        (Ins::Un(Un::Relu, 0), 0, 0),
        (Ins::Un(Un::Abs, 0), 1, 0),
        (Ins::Ln(0, true), 0, 0),
        (Ins::Ln(0, false), 1, 0),
        (Ins::Sqrt(0, true), 4, 0),
        (Ins::Sqrt(0, false), 1, 0),
        (Ins::PowInt(0, -2), 7, 0),
        (Ins::PowInt(0, 3), 1, 0),
        (Ins::PowFrac(0, 1.5, true), 0, 0),
        (Ins::Bin(Bin::Add, 0, 0), 0, 1),
        (Ins::Bin(Bin::Sub, 0, 0), 5, 5),
        (Ins::Bin(Bin::Mul, 0, 0), 3, 3),
        (Ins::Bin(Bin::Div, 0, 0), 0, 7),
        (Ins::ValConst(Bin::Sub, 0, 1.5), 6, 0),
        (Ins::ValConst(Bin::Div, 0, -2.0), 4, 0),
        (Ins::ValConst(Bin::Add, 0, 0.5), 9, 0),
        (Ins::ValConst(Bin::Mul, 0, 2.5), 8, 0),
        (Ins::ConstVal(Bin::Sub, 2.0, 0), 1, 0),
        (Ins::ConstVal(Bin::Div, 3.0, 0), 7, 0),
        (Ins::ConstVal(Bin::Add, 1.0, 0), 10, 0),
        (Ins::ConstVal(Bin::Mul, -2.0, 0), 11, 0),
    ];
    let prog: Vec<Ins> = targets
        .into_iter()
        .enumerate()
        .map(|(k, (ins, a, b))| {
            let n = k + 2;
            let (a, b) = (n - 1 - a, n - 1 - b);
            match ins {
                Ins::Un(o, _) => Ins::Un(o, a),
                Ins::Ln(_, q) => Ins::Ln(a, q),
                Ins::Sqrt(_, q) => Ins::Sqrt(a, q),
                Ins::PowInt(_, p) => Ins::PowInt(a, p),
                Ins::PowFrac(_, p, q) => Ins::PowFrac(a, p, q),
                Ins::Bin(o, _, _) => Ins::Bin(o, a, b),
                Ins::ValConst(o, _, c) => Ins::ValConst(o, a, c),
                Ins::ConstVal(o, c, _) => Ins::ConstVal(o, c, a),
            }
        })
        .collect();
    for inputs in [vec![0.7, -1.3], vec![1.1, 0.4], vec![-0.9, 1.7]] {
        check(&inputs, &prog).unwrap();
    }
}
