//! Exact results from the book, chapter 1.
//!
//! §1.2: for J(w, b) = (1/3) Σ (w·xᵢ + b − yᵢ)² on (150, 200), (200, 600), (260, 500),
//!   ∂J/∂w = (2/3) Σ (w·xᵢ + b − yᵢ)·xᵢ = (1/3)(2w·Σx² + 2b·Σx − 2·Σxy)
//!         = (1/3)(260200w + 1220b − 560000),
//!   ∂J/∂b = (2/3) Σ (w·xᵢ + b − yᵢ)   = (1/3)(2w·Σx + 2·3·b − 2·Σy)
//!         = (1/3)(1220w + 6b − 2600),
//! with Σx² = 150² + 200² + 260² = 22500 + 40000 + 67600 = 130100, Σx = 610,
//! Σxy = 30000 + 120000 + 130000 = 280000 and Σy = 1300 (checked in `constants_of_the_formula`).
//!
//! §1.7: for logistic regression ỹ = σ(w·x + b) with the binary cross-entropy loss
//! L = −[y ln ỹ + (1 − y) ln(1 − ỹ)], ∂L/∂wⱼ = (ỹ − y)·xⱼ and ∂L/∂b = ỹ − y (eq. 1.11).

use ferrograd_scalar::Tape;
use ferrograd_scalar::nn::{BUY_X, BUY_Y, bce_with_logits, binary_cross_entropy};

const XS: [f64; 3] = [150.0, 200.0, 260.0];
const YS: [f64; 3] = [200.0, 600.0, 500.0];

#[test]
fn constants_of_the_formula() {
    let sx2: f64 = XS.iter().map(|x| x * x).sum();
    let sx: f64 = XS.iter().sum();
    let sxy: f64 = XS.iter().zip(YS).map(|(x, y)| x * y).sum();
    let sy: f64 = YS.iter().sum();
    assert_eq!(2.0 * sx2, 260200.0);
    assert_eq!(2.0 * sx, 1220.0);
    assert_eq!(2.0 * sxy, 560000.0);
    assert_eq!(2.0 * 3.0, 6.0);
    assert_eq!(2.0 * sy, 2600.0);
}

/// Points include the closed-form minimiser (where both derivatives vanish, so the check is
/// about absolute error) and points far from it.
const POINTS: [(f64, f64); 6] = [
    (0.0, 0.0),
    (2.0, -90.0),
    (2.5824175824175835, -91.75824175824197),
    (-1.3, 17.25),
    (10.0, 100.0),
    (0.001, -1234.5),
];

#[test]
fn partial_derivatives_of_j() {
    for (w0, b0) in POINTS {
        for squared_by_mul in [false, true] {
            let tape = Tape::new();
            let w = tape.var(w0);
            let b = tape.var(b0);
            let terms = XS.iter().zip(YS).map(|(&x, y)| {
                let e = w * x + b - y;
                if squared_by_mul { e * e } else { e.pow(2.0) }
            });
            let j = tape.sum(terms) / 3.0;
            let g = j.backward().unwrap();

            let dw = (260200.0 * w0 + 1220.0 * b0 - 560000.0) / 3.0;
            let db = (1220.0 * w0 + 6.0 * b0 - 2600.0) / 3.0;
            // Both sides are sums of about ten rounded products whose magnitudes are at most
            // the sum of the terms' magnitudes (`scale`); each rounding errs by at most
            // 2^-53 of it, so they agree to ~10 · 1.1e-16 · scale. 1e-13 · scale leaves a
            // margin of ~90 while still catching any wrong constant (which would be off by
            // at least ~1e-6 · scale).
            let scale_w = (260200.0 * w0.abs() + 1220.0 * b0.abs() + 560000.0) / 3.0;
            let scale_b = (1220.0 * w0.abs() + 6.0 * b0.abs() + 2600.0) / 3.0;
            assert!(
                (g[w] - dw).abs() <= 1e-13 * scale_w,
                "dJ/dw at ({w0}, {b0}): {} vs {dw}",
                g[w]
            );
            assert!(
                (g[b] - db).abs() <= 1e-13 * scale_b,
                "dJ/db at ({w0}, {b0}): {} vs {db}",
                g[b]
            );
        }
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// (w1, w2, b): the PyTorch replay's initial and final weights, and a point where the
/// predictions saturate towards 1.
const WEIGHTS: [(f64, f64, f64); 3] = [
    (0.1, -0.2, 0.05),
    (
        -0.23846806585788727,
        0.16809223592281342,
        0.007387414574623108,
    ),
    (0.2, 0.1, -3.0),
];

#[test]
fn logistic_regression_gradient_is_equation_1_11_for_every_example() {
    for (w1_0, w2_0, b_0) in WEIGHTS {
        for (x, &y) in BUY_X.iter().zip(&BUY_Y) {
            for from_logits in [false, true] {
                let tape = Tape::new();
                let w1 = tape.var(w1_0);
                let w2 = tape.var(w2_0);
                let b = tape.var(b_0);
                let z = w1 * x[0] + w2 * x[1] + b;
                let loss = if from_logits {
                    bce_with_logits(z, y)
                } else {
                    binary_cross_entropy(z.sigmoid(), y)
                };
                let g = loss.backward().unwrap();

                let y_hat = sigmoid(w1_0 * x[0] + w2_0 * x[1] + b_0);
                let r = y_hat - y;
                // ỹ here and on the tape may differ by a few ulps (different sigmoid
                // formulas), an absolute error below 1e-15 in ỹ − y; the tape's chain
                // (−1/ỹ)·ỹ(1−ỹ)·xⱼ adds a few relative roundings. Hence an absolute 1e-14
                // plus a relative 1e-12, both scaled by |xⱼ|.
                let tol = |xj: f64| (1e-14 + 1e-12 * r.abs()) * xj.abs().max(1.0);
                for (got, xj, name) in [(g[w1], x[0], "w1"), (g[w2], x[1], "w2"), (g[b], 1.0, "b")]
                {
                    let want = r * xj;
                    assert!(
                        (got - want).abs() <= tol(xj),
                        "d/d{name} at x={x:?}, y={y}, logits={from_logits}: {got} vs {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn mean_loss_gradient_is_the_average_of_equation_1_11() {
    let (w1_0, w2_0, b_0) = WEIGHTS[0];
    let tape = Tape::new();
    let w1 = tape.var(w1_0);
    let w2 = tape.var(w2_0);
    let b = tape.var(b_0);
    let terms = BUY_X
        .iter()
        .zip(BUY_Y)
        .map(|(x, y)| bce_with_logits(w1 * x[0] + w2 * x[1] + b, y));
    let loss = tape.sum(terms) / BUY_X.len() as f64;
    let g = loss.backward().unwrap();
    let mut want = [0.0; 3];
    for (x, y) in BUY_X.iter().zip(BUY_Y) {
        let r = sigmoid(w1_0 * x[0] + w2_0 * x[1] + b_0) - y;
        want[0] += r * x[0] / 12.0;
        want[1] += r * x[1] / 12.0;
        want[2] += r / 12.0;
    }
    // Same error budget as above, summed over 12 examples with |x| <= 95.
    for (got, want) in [g[w1], g[w2], g[b]].into_iter().zip(want) {
        assert!((got - want).abs() <= 1e-12 * 95.0, "{got} vs {want}");
    }
}

#[test]
fn bce_with_logits_stays_finite_for_saturated_logits_of_any_size() {
    // A confidently wrong logit of ±800: e^800 overflows f64, but the loss is |z| and its
    // gradient sigmoid(z) - y is ∓1, as PyTorch's BCEWithLogitsLoss gives.
    for (z, y, loss, grad) in [(-800.0, 1.0, 800.0, -1.0), (800.0, 0.0, 800.0, 1.0)] {
        let tape = Tape::new();
        let zv = tape.var(z);
        let l = bce_with_logits(zv, y);
        assert_eq!(l.value(), loss);
        let g = l.backward().unwrap();
        assert_eq!(g.wrt(zv), grad);
    }
    // Confidently right: a loss of e^-800 that rounds to 0, and a gradient of ~0.
    let tape = Tape::new();
    let zv = tape.var(800.0);
    let l = bce_with_logits(zv, 1.0);
    assert_eq!(l.value(), 0.0);
    assert_eq!(l.backward().unwrap().wrt(zv), 0.0);
    // At 0 both branches meet: ln 2 and a gradient of 1/2 - y.
    let tape = Tape::new();
    let zv = tape.var(0.0);
    let l = bce_with_logits(zv, 1.0);
    assert_eq!(l.value(), std::f64::consts::LN_2);
    assert_eq!(l.backward().unwrap().wrt(zv), -0.5);
}

#[test]
#[should_panic(expected = "layer 1 of [3, 0] has 0 units")]
fn an_mlp_layer_of_zero_units_is_refused_when_built() {
    use ferrograd_scalar::nn::{Activation, Mlp};
    let _ = Mlp::new(2, &[3, 0], Activation::Relu, Activation::Sigmoid, 0);
}
