//! The numbers the program prints, checked against the book and against PyTorch
//! (`crates/ferrograd/tests/data/chapter1_pytorch.json`), by calling the library's
//! functions. Expected values come from the book, from PyTorch's file, or from formulas
//! worked out by hand in the test — never from the code under test.

use ferrograd_book::Progress;
use ferrograd_book::sections::{
    activations, autograd, linear_regression, logistic, matrices, vectors,
};
use serde_json::Value;

fn pytorch() -> Value {
    serde_json::from_str(include_str!(
        "../../ferrograd/tests/data/chapter1_pytorch.json"
    ))
    .unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not a number: {other}"),
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn closed_form_matches_the_book() {
    let fit = linear_regression::closed_form().unwrap();
    // The book prints w* ≈ 2.58, b* ≈ −91.76, MSE 15403.19 at the rounded parameters.
    assert_eq!(format!("{:.2}", fit.w), "2.58");
    assert_eq!(format!("{:.2}", fit.b), "-91.76");
    assert_eq!(format!("{:.2}", fit.mse_at_rounded), "15403.19");
    // 2.58·240 − 91.76 = 527.44 exactly (up to f64 rounding of the two products).
    assert!((fit.predicted_price_rounded - 527.44).abs() < 1e-9);
}

#[test]
fn closed_form_matches_pytorch_and_the_normal_equations() {
    let r = pytorch();
    let cf = &r["linear_regression_closed_form_f64"];
    let fit = linear_regression::closed_form().unwrap();
    // Both are float64 least squares of a 3×2 problem: agreement to ~1e-13 relative is
    // expected; 1e-10 leaves room for different factorisations (QR vs PyTorch's).
    assert!(rel(fit.w, cf["w"].as_f64().unwrap()) < 1e-10);
    assert!(rel(fit.b, cf["b"].as_f64().unwrap()) < 1e-10);
    assert!(rel(fit.mse, cf["mse"].as_f64().unwrap()) < 1e-10);
    assert!(
        rel(
            fit.mse_at_rounded,
            cf["book_rounded"]["mse_at_rounded"].as_f64().unwrap()
        ) < 1e-6
    );
    // By hand: x̄ = 610/3, ȳ = 1300/3, Σ(x − x̄)(y − ȳ) = 47000/3, Σ(x − x̄)² = 18200/3,
    // so w* = 47000/18200 = 235/91 and b* = ȳ − w*·x̄.
    let w = 235.0 / 91.0;
    let b = 1300.0 / 3.0 - w * 610.0 / 3.0;
    assert!(rel(fit.w, w) < 1e-12);
    assert!(rel(fit.b, b) < 1e-12);
    // The 240 m² house: w*·240 + b* ≈ 528.02.
    assert!(rel(fit.predicted_price, w * 240.0 + b) < 1e-12);
    assert_eq!(format!("{:.0}", fit.predicted_price), "528");
}

#[test]
fn gradient_descent_converges_to_the_closed_form() {
    let gd = linear_regression::gradient_descent(&Progress::hidden()).unwrap();
    let fit = linear_regression::closed_form().unwrap();
    // On standardised x the error contracts by |1 − 2·lr| = 0.8 per step: after 200 steps
    // 0.8²⁰⁰ ≈ 4e-20, so only f64 rounding (~1e-13 relative on b) is left; 1e-9 is loose.
    assert!(rel(gd.w, fit.w) < 1e-9, "w {} vs {}", gd.w, fit.w);
    assert!(rel(gd.b, fit.b) < 1e-9, "b {} vs {}", gd.b, fit.b);
    assert!(rel(gd.mse, fit.mse) < 1e-9);
    assert_eq!(gd.losses.len(), gd.steps);
    // The loss never goes up (gradient descent on a convex quadratic with lr < 1).
    assert!(gd.losses.windows(2).all(|w| w[1] <= w[0] * (1.0 + 1e-12)));
    // The first loss is the MSE at w = b = 0: mean(y²) = (200² + 600² + 500²)/3.
    assert!(rel(gd.losses[0], (40_000.0 + 360_000.0 + 250_000.0) / 3.0) < 1e-12);
}

#[test]
fn vector_operations_match_hand_computation() {
    let v = vectors::vectors().unwrap();
    // a = [3, 2], b = [1, 4]: values are small integers or their square roots, exact in f64
    // up to one rounding, hence 1e-12.
    assert_eq!(v.dot, 11.0);
    assert_eq!(v.sum, [4.0, 6.0]);
    assert_eq!(v.difference, [2.0, -2.0]);
    assert_eq!(v.hadamard, [3.0, 8.0]);
    assert_eq!(v.scaled, [6.0, 4.0]);
    assert!((v.norm_a - 13f64.sqrt()).abs() < 1e-12);
    assert!((v.norm_b - 17f64.sqrt()).abs() < 1e-12);
    assert!((v.unit_a[0] - 3.0 / 13f64.sqrt()).abs() < 1e-12);
    assert!((v.unit_a[1] - 2.0 / 13f64.sqrt()).abs() < 1e-12);
    assert!((v.unit_a_norm - 1.0).abs() < 1e-12);
    // cos(u, v) = u·v / (‖u‖‖v‖) with u = [2, 1]: aligned v = [4, 2.2], o = [−1, 2.2].
    let aligned = (8.0 + 2.2) / (5f64.sqrt() * (16.0f64 + 4.84).sqrt());
    let orthogonal = (-2.0 + 2.2) / (5f64.sqrt() * (1.0f64 + 4.84).sqrt());
    assert!((v.cosine_aligned - aligned).abs() < 1e-12);
    assert!((v.cosine_nearly_orthogonal - orthogonal).abs() < 1e-12);
    assert!((v.cosine_opposite + 1.0).abs() < 1e-12);
    assert_eq!(
        format!("{:.3} {:.3}", v.cosine_aligned, v.cosine_nearly_orthogonal),
        "0.999 0.037"
    );
}

#[test]
fn matrix_operations_match_hand_computation() {
    let m = matrices::matrices().unwrap();
    assert_eq!(m.sum, [[6.0, 8.0], [10.0, 12.0]]);
    assert_eq!(m.product, [[19.0, 22.0], [43.0, 50.0]]);
    assert_eq!(m.transpose, [[1.0, 2.0], [0.0, 1.0], [-1.0, 0.5]]);
    assert_eq!(m.product_rectangular, [[5.0, 2.0, 0.0], [11.0, 4.0, -1.0]]);
    assert_eq!(m.matrix_vector, [-1.0, -1.0]);
    // The matrix form of Figure 1.1 (eq. 1.6–1.7) and the scalar crate's unit-by-unit
    // network compute the same sums in different orders: a few f64 ulps apart.
    assert!((m.output - m.output_unit_by_unit).abs() < 1e-12);
    assert_eq!(
        (m.w1.len(), m.w1[0].len(), m.b1.len(), m.w2.len()),
        (3, 2, 3, 3)
    );
    // Recompute the hidden layer by hand from the reported weights.
    for j in 0..3 {
        let z = m.w1[j][0] * 22.0 + m.w1[j][1] * 25.0 + m.b1[j];
        assert!((m.hidden[j] - z.max(0.0)).abs() < 1e-12);
    }
}

#[test]
fn bigger_relu_networks_fit_the_curve_better() {
    let a = activations::activations(&Progress::hidden()).unwrap();
    let mse: Vec<f64> = a.fits.iter().map(|f| f.mse).collect();
    assert_eq!(
        a.fits.iter().map(|f| f.hidden_units).collect::<Vec<_>>(),
        [0, 2, 4, 100]
    );
    // The line cannot follow sin(1.5x): its MSE stays near var(sin(1.5x) − trend) ≈ 0.45.
    assert!(mse[0] > 0.3, "line MSE {}", mse[0]);
    // Fits improve with size; the 100-unit network gets down to the noise (σ² = 0.01):
    // below 0.02 means it follows the curve, not the noise's double.
    assert!(
        mse[1] < mse[0] && mse[2] < mse[1] && mse[3] < mse[2],
        "{mse:?}"
    );
    assert!(mse[3] < 0.02, "{mse:?}");
    assert_eq!(a.fits[3].parameters, 100 + 100 + 100 + 1);
}

#[test]
fn hand_derived_logistic_regression_matches_pytorch() {
    let r = pytorch();
    let s = &r["logistic_regression_sgd"];
    let l = logistic::logistic_regression(&Progress::hidden()).unwrap();
    // Eq. 1.11's gradient equals autodiff's (both f64, same formula up to summation order).
    assert!(l.gradient_check_max_abs_diff < 1e-12);
    // We run in f64 by hand, PyTorch in f32 with autograd: every loss agrees to float32
    // rounding accumulated over a contractive run, within 1e-5 relative (see the facade's
    // replay test for the argument).
    for (step, (a, b)) in l.losses.iter().zip(floats(&s["loss_per_step"])).enumerate() {
        assert!(rel(*a, b) < 1e-5, "step {step}: {a} vs PyTorch {b}");
    }
    assert!(rel(l.final_loss, s["final_loss"].as_f64().unwrap()) < 1e-5);
    let w = floats(&s["final"]["weight"]);
    let b = floats(&s["final"]["bias"])[0];
    assert!(
        rel(l.w[0], w[0]) < 1e-5 && rel(l.w[1], w[1]) < 1e-5,
        "{:?} vs {w:?}",
        l.w
    );
    // The bias is small (7e-3) and moves by lr·mean(ŷ − y) per step: compare absolutely
    // at 1e-5 of the weights' scale.
    assert!((l.b - b).abs() < 1e-6, "{} vs {b}", l.b);
    assert_eq!(l.correct, 11);
}

#[test]
fn autograd_runs_match_pytorch_final_losses() {
    let r = pytorch();
    let a = autograd::autograd(&Progress::hidden()).unwrap();
    for (run, key) in [
        (&a.logistic, "logistic_regression_sgd"),
        (&a.mlp, "mlp_2_100_1_sgd"),
    ] {
        let s = &r[key];
        // Same f32 computation as PyTorch in a different summation order: 1e-5 relative
        // (the facade's replay test explains the bound and checks every step too).
        assert!(
            rel(run.final_loss, s["final_loss"].as_f64().unwrap()) < 1e-5,
            "{key}"
        );
        assert!(run.max_rel_diff_from_pytorch < 1e-5, "{key}");
        for (p, q) in run.predictions.iter().zip(floats(&s["final_predictions"])) {
            assert!(rel(*p, q) < 1e-5, "{key}: {p} vs {q}");
        }
    }
    assert_eq!(a.logistic.parameters, 3);
    assert_eq!(a.mlp.parameters, 401);
}
