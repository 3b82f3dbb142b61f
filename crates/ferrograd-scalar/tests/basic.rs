//! Behaviour of the tape: each operation's derivative against its calculus formula, reuse,
//! repeated backward, tape separation, and the domain-error contract.
//!
//! Tolerances: each expected derivative below is computed from its closed form with at most
//! a few f64 roundings, and so is the tape's, so they agree to a few units in the last place;
//! `close` allows 1e-14 relative, i.e. ~45 ulps, far above that and far below any real bug.

use ferrograd_scalar::{ScalarError, Tape, Value};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-14 * a.abs().max(b.abs()).max(1.0)
}

#[track_caller]
fn assert_close(got: f64, want: f64) {
    assert!(close(got, want), "got {got}, want {want}");
}

#[test]
fn each_unary_op_matches_its_derivative_formula() {
    let x0 = 0.7_f64;
    type Case = (&'static str, fn(Value<'_>) -> Value<'_>, f64, f64);
    let s = 1.0 / (1.0 + (-x0).exp());
    let cases: [Case; 11] = [
        ("neg", |v| -v, -x0, -1.0),
        ("exp", |v| v.exp(), x0.exp(), x0.exp()),
        ("ln", |v| v.ln(), x0.ln(), 1.0 / x0),
        ("sqrt", |v| v.sqrt(), x0.sqrt(), 0.5 / x0.sqrt()),
        ("tanh", |v| v.tanh(), x0.tanh(), 1.0 / x0.cosh().powi(2)),
        ("sigmoid", |v| v.sigmoid(), s, s * (1.0 - s)),
        ("relu", |v| v.relu(), x0, 1.0),
        ("relu-neg", |v| (-v).relu(), 0.0, 0.0),
        ("abs", |v| v.abs(), x0, 1.0),
        ("abs-neg", |v| (-v).abs(), x0, 1.0),
        ("pow", |v| v.pow(2.5), x0.powf(2.5), 2.5 * x0.powf(1.5)),
    ];
    for (name, f, value, grad) in cases {
        let tape = Tape::new();
        let x = tape.var(x0);
        let y = f(x);
        let g = y.backward().unwrap();
        assert!(
            close(y.value(), value),
            "{name}: value {} vs {value}",
            y.value()
        );
        assert!(close(g[x], grad), "{name}: grad {} vs {grad}", g[x]);
    }
}

#[test]
fn binary_and_constant_ops_in_both_orders() {
    let tape = Tape::new();
    let (a0, b0) = (1.5_f64, -0.4_f64);
    let a = tape.var(a0);
    let b = tape.var(b0);
    let cases: Vec<(&str, Value<'_>, f64, f64)> = vec![
        ("a+b", a + b, 1.0, 1.0),
        ("a-b", a - b, 1.0, -1.0),
        ("a*b", a * b, b0, a0),
        ("a/b", a / b, 1.0 / b0, -a0 / (b0 * b0)),
        ("a+2", a + 2.0, 1.0, 0.0),
        ("2+a", 2.0 + a, 1.0, 0.0),
        ("a-2", a - 2.0, 1.0, 0.0),
        ("2-a", 2.0 - a, -1.0, 0.0),
        ("a*3", a * 3.0, 3.0, 0.0),
        ("3*a", 3.0 * a, 3.0, 0.0),
        ("a/4", a / 4.0, 0.25, 0.0),
        ("4/b", 4.0 / b, 0.0, -4.0 / (b0 * b0)),
        ("-&a", -&a, -1.0, 0.0),
    ];
    for (name, y, ga, gb) in cases {
        let g = tape.backward(y).unwrap();
        assert!(close(g[a], ga), "{name}: d/da {} vs {ga}", g[a]);
        assert!(close(g[&b], gb), "{name}: d/db {} vs {gb}", g[&b]);
    }
    // Values agree with f64 arithmetic exactly: the same IEEE operation is performed.
    assert_eq!((2.0 - a).value(), 2.0 - a0);
    assert_eq!((4.0 / b).value(), 4.0 / b0);
    assert_eq!((a * b).value(), a0 * b0);
}

#[test]
fn operators_on_references() {
    let tape = Tape::new();
    let xs = tape.vars(&[2.0, 3.0]);
    // Iterating a slice of values yields references; all operators accept them.
    let prods: Vec<Value<'_>> = xs.iter().map(|v| v * v).collect();
    let mixed: Vec<Value<'_>> = xs.iter().zip(&prods).map(|(a, b)| a + b).collect();
    let consts: Vec<Value<'_>> = xs.iter().map(|v| 2.0 / v - v * 3.0 + -v).collect();
    assert_eq!(prods[1].value(), 9.0);
    assert_eq!(mixed[0].value(), 6.0);
    assert_eq!(consts[0].value(), 1.0 - 6.0 - 2.0);
    let g = consts[0].backward().unwrap();
    // d(2/x − 3x − x)/dx = −2/x² − 4 = −4.5 at x = 2.
    assert_eq!(g[&xs[0]], -4.5);
}

#[test]
fn compound_assignment() {
    let tape = Tape::new();
    let x = tape.var(3.0);
    let mut y = x;
    y += x; // 2x
    y *= x; // 2x²
    y -= 1.0; // 2x² - 1
    y /= 2.0; // x² - 1/2
    assert_eq!(y.value(), 8.5);
    assert_eq!(y.backward().unwrap()[x], 6.0);
}

#[test]
fn reused_nodes_accumulate_every_use() {
    let tape = Tape::new();
    let x = tape.var(3.0);
    let sq = x * x;
    assert_eq!(sq.backward().unwrap()[x], 6.0);

    // One node feeding two branches: h = x + 1; y = h*h + exp(h); dy/dx = 2h + e^h.
    let h = x + 1.0;
    let y = h * h + h.exp();
    let g = y.backward().unwrap();
    assert_close(g[x], 2.0 * 4.0 + 4.0_f64.exp());
    assert_close(g[h], 2.0 * 4.0 + 4.0_f64.exp());

    // Diamond: y = (x*2) * (x*3) = 6x², dy/dx = 12x.
    let y = (x * 2.0) * (x * 3.0);
    assert_eq!(y.backward().unwrap()[x], 36.0);
}

#[test]
fn backward_twice_is_identical_and_leaves_the_tape_alone() {
    let tape = Tape::new();
    let x = tape.var(0.3);
    let y = (x * x).tanh() + x.sigmoid() * x;
    let n = tape.len();
    let g1 = y.backward().unwrap();
    let g2 = y.backward().unwrap();
    assert_eq!(g1, g2);
    assert_eq!(g1[x], g2[x]);
    assert_eq!(tape.len(), n);

    let mut store = ferrograd_scalar::Gradients::new();
    tape.backward_into(y, &mut store).unwrap();
    tape.backward_into(y, &mut store).unwrap();
    assert_eq!(store, g1);
}

#[test]
fn gradients_of_intermediates_and_unrelated_values() {
    let tape = Tape::new();
    let x = tape.var(2.0);
    let unrelated = tape.var(5.0);
    let h = x * 3.0;
    let y = h * h;
    let later = y + 1.0;
    let g = y.backward().unwrap();
    assert_eq!(g[y], 1.0);
    assert_eq!(g[h], 2.0 * 6.0);
    assert_eq!(g[x], 36.0);
    assert_eq!(g[unrelated], 0.0);
    assert_eq!(g[later], 0.0);
    assert_eq!(g.wrt(x), 36.0);
    let by_ref: &Value<'_> = &x;
    assert_eq!(g.wrt(by_ref), 36.0);
}

#[test]
fn sum_of_nothing_is_zero_and_sum_adds() {
    let tape = Tape::new();
    assert_eq!(tape.sum(Vec::new()).value(), 0.0);
    let xs = tape.vars(&[1.0, 2.0, 4.0]);
    let s = tape.sum(xs.iter().map(|v| *v * *v));
    assert_eq!(s.value(), 21.0);
    let g = s.backward().unwrap();
    assert_eq!([g[xs[0]], g[xs[1]], g[xs[2]]], [2.0, 4.0, 8.0]);
}

#[test]
fn mixing_tapes_is_an_error_not_garbage() {
    let t1 = Tape::new();
    let t2 = Tape::new();
    let a = t1.var(1.0);
    let b = t2.var(2.0);
    assert!(matches!(
        a.try_add(b),
        Err(ScalarError::TapeMismatch { op: "add" })
    ));
    assert!(matches!(
        a.try_mul(b),
        Err(ScalarError::TapeMismatch { op: "mul" })
    ));
    assert!(matches!(
        a.try_sub(b),
        Err(ScalarError::TapeMismatch { op: "sub" })
    ));
    assert!(matches!(
        a.try_div(b),
        Err(ScalarError::TapeMismatch { op: "div" })
    ));
    assert!(matches!(
        t2.backward(a),
        Err(ScalarError::TapeMismatch { op: "backward" })
    ));
    let ga = a.backward().unwrap();
    assert!(matches!(
        ga.try_wrt(b),
        Err(ScalarError::StaleGradients { .. })
    ));

    let msg = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a * b))
        .map(|_| ())
        .expect_err("mixing tapes must panic");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("two different tapes") && msg.contains("mul"),
        "{msg}"
    );
}

#[test]
fn gradients_do_not_survive_a_clear() {
    let mut tape = Tape::new();
    let g = {
        let x = tape.var(1.0);
        (x * 2.0).backward().unwrap()
    };
    tape.clear();
    assert!(tape.is_empty());
    let x = tape.var(1.0);
    assert!(matches!(
        g.try_wrt(x),
        Err(ScalarError::StaleGradients { op: "wrt" })
    ));
}

#[test]
fn a_million_op_chain_builds_backprops_and_drops_on_a_small_stack() {
    // 256 KiB of stack: any recursion over a million nodes (in backward, in drop) would
    // overflow it.
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            const STEPS: usize = 500_000;
            let r = 1.0 + 1e-7;
            let tape = Tape::with_capacity(2 * STEPS + 1);
            let x = tape.var(0.5);
            let mut y = x;
            for _ in 0..STEPS {
                y = y * r + 0.25;
            }
            assert_eq!(tape.len(), 2 * STEPS + 1);
            let g = y.backward().unwrap();
            // dy/dx = r^STEPS. Each of the STEPS multiplications of the adjoint by r
            // rounds with relative error <= 2^-53, so the accumulated relative error is
            // <= STEPS * 2^-53 ≈ 5.6e-11 (and powi's own is smaller): 1e-9 is safe.
            let want = r.powi(STEPS as i32);
            assert!((g[x] - want).abs() <= 1e-9 * want, "{} vs {want}", g[x]);
            drop(g);
            drop(tape);
        })
        .unwrap();
    handle
        .join()
        .expect("the chain must not overflow the stack");
}

fn domain_err<'t>(y: Value<'t>) -> ScalarError {
    y.backward().expect_err("expected an error")
}

#[test]
fn domain_errors_name_the_op_and_the_offending_value() {
    let tape = Tape::new();
    let cases: Vec<(Value<'_>, &str, f64, &str)> = vec![
        (tape.var(-2.0).ln(), "ln", -2.0, "negative"),
        (tape.var(0.0).ln(), "ln", 0.0, "zero"),
        (tape.var(-4.0).sqrt(), "sqrt", -4.0, "negative"),
        (tape.var(0.0).sqrt(), "sqrt", 0.0, "infinite"),
        (
            tape.var(3.0) / tape.var(0.0),
            "div",
            0.0,
            "division by zero",
        ),
        (tape.var(3.0) / 0.0, "div", 0.0, "division by zero"),
        (3.0 / tape.var(0.0), "div", 0.0, "division by zero"),
        (tape.var(-2.0).pow(0.5), "pow", -2.0, "non-integer"),
        (tape.var(0.0).pow(-1.0), "pow", 0.0, "negative power"),
        (tape.var(0.0).pow(0.5), "pow", 0.0, "infinite"),
    ];
    for (y, op, input, reason_part) in cases {
        let err = domain_err(y);
        match &err {
            ScalarError::Domain {
                op: o,
                input: i,
                reason,
                ..
            } => {
                assert_eq!(*o, op, "{err}");
                assert_eq!(i.to_bits(), input.to_bits(), "{err}");
                assert!(reason.contains(reason_part), "{err}");
            }
            other => panic!("expected Domain for {op}, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(op), "{msg}");
    }
    let msg = domain_err(tape.var(3.0) / tape.var(0.0)).to_string();
    assert!(msg.contains("a = 3, b = 0"), "{msg}");
    let msg = domain_err(tape.var(-2.0).pow(0.5)).to_string();
    assert!(msg.contains("base = -2, exponent = 0.5"), "{msg}");
}

#[test]
fn allowed_edge_cases_are_not_errors() {
    let tape = Tape::new();
    let x = tape.var(-2.0);
    // Negative base with an integer exponent: d(x³)/dx = 3x² = 12.
    assert_eq!(x.pow(3.0).backward().unwrap()[x], 12.0);
    let z = tape.var(0.0);
    // 0^0 = 1 with derivative 0; 0^1 = 0 with derivative 1; 0^2 has derivative 0.
    assert_eq!(z.pow(0.0).backward().unwrap()[z], 0.0);
    assert_eq!(z.pow(1.0).backward().unwrap()[z], 1.0);
    assert_eq!(z.pow(2.0).backward().unwrap()[z], 0.0);
    // Kinks take derivative 0, as in PyTorch.
    assert_eq!(z.relu().backward().unwrap()[z], 0.0);
    assert_eq!(z.abs().backward().unwrap()[z], 0.0);
}

#[test]
fn errors_follow_dependence_only() {
    let tape = Tape::new();
    let x = tape.var(2.0);
    let bad = (-x).ln(); // NaN
    let downstream = bad * 2.0 + x;
    let fine = x * x;
    // `fine` does not depend on the bad node: its gradient is returned.
    assert_eq!(fine.backward().unwrap()[x], 4.0);
    // Anything downstream reports the origin, not the propagated NaNs.
    match domain_err(downstream) {
        ScalarError::Domain { op, node, .. } => {
            assert_eq!(op, "ln");
            assert_eq!(node, bad.index());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(tape.issues().len(), 1, "only the origin is recorded");
}

#[test]
fn overflow_non_finite_inputs_and_gradient_overflow_are_reported() {
    let tape = Tape::new();
    let big = tape.var(1000.0);
    match domain_err(big.exp()) {
        ScalarError::NonFiniteValue { op, value, .. } => {
            assert_eq!(op, "exp");
            assert_eq!(value, f64::INFINITY);
        }
        other => panic!("{other:?}"),
    }
    let m = tape.var(1e200);
    assert!(matches!(
        domain_err(m * m),
        ScalarError::NonFiniteValue { op: "mul", .. }
    ));
    assert!(matches!(
        domain_err(tape.var(f64::NAN) + 1.0),
        ScalarError::NonFiniteInput { op: "var", .. }
    ));
    assert!(matches!(
        domain_err(tape.var(1.0) * f64::INFINITY),
        ScalarError::NonFiniteValue { op: "mul", .. }
    ));
    // ln at a subnormal is finite, but its derivative 1/x overflows.
    let tiny = tape.var(1e-320);
    let y = tiny.ln();
    assert!(y.value().is_finite());
    match domain_err(y) {
        ScalarError::NonFiniteGradient { op, gradient, .. } => {
            assert_eq!(op, "ln");
            assert_eq!(gradient, f64::INFINITY);
        }
        other => panic!("{other:?}"),
    }
    // Accumulation overflow: each use contributes 1e308, their sum overflows.
    let h = tape.var(1.0);
    let y = h * 1e308 + h * 1e308;
    assert!(y.value().is_infinite());
    // The forward sum already overflowed: reported as a non-finite value at `add`.
    assert!(matches!(
        domain_err(y),
        ScalarError::NonFiniteValue { op: "add", .. }
    ));
    // Finite forward values whose adjoints overflow only when summed: u gets
    // 1e308 from each of its two uses.
    let u = h * 1e-300;
    let y = u * 1e308 + u * 1e308;
    assert!(y.value().is_finite());
    match domain_err(y) {
        ScalarError::NonFiniteGradient {
            op, node, detail, ..
        } => {
            assert_eq!((op, node), ("mul", u.index()));
            assert!(detail.contains("summing"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn debug_and_display() {
    let tape = Tape::new();
    let x = tape.var(2.5);
    assert_eq!(format!("{x:?}"), "Value { index: 0, value: 2.5 }");
    assert_eq!(format!("{x}"), "2.5");
    assert!(format!("{tape:?}").contains("nodes: 1"));
    let g = x.backward().unwrap();
    assert!(format!("{g:?}").contains("Gradients"));
}
