//! What feature scaling does to gradient descent on the book's §1.7 buy/no-buy inputs
//! (age in years, income in thousands of dollars).
//!
//! Plain full-batch gradient descent on logistic regression `p = σ(x·w + b)` with the
//! mean binary cross-entropy, from `w = 0, b = 0` (loss ln 2), once on the raw inputs
//! and once on standardized ones.
//!
//! The loss is L-smooth with `L ≤ λmax(X̃ᵀX̃) / (4n) ≤ Σᵢ(1 + |xᵢ|²) / (4n)` (`X̃` is `X`
//! with a column of ones for the bias), and gradient descent decreases it at every step
//! when `lr ≤ 1/L`. Raw inputs are large and far from zero: `L` is about 1660 and only
//! learning rates below about 6·10⁻⁴ are safe. Standardized inputs have `L ≤ 0.75`.
//! So at one learning rate suited to standardized data (0.1) the raw run overshoots
//! while the standardized one descends; and with each run at its own safe step size
//! the standardized one still gets further in the same number of steps.
//!
//! (At the book's own learning rate of 0.001, tuned for the raw inputs, the raw run is
//! ahead after a few hundred steps: scaling does not make every learning rate better,
//! it makes large ones usable. These twelve examples are also linearly separable, so an
//! overshooting raw run may later land on a huge separating weight vector and a loss
//! near 0 by luck; `cargo run -p ferrograd-data --example scaling` prints the whole
//! table.)

use ferrograd_data::book;
use ferrograd_data::scale::StandardScaler;
use ferrograd_tensor::Tensor;

/// Mean binary cross-entropy from logits, in the overflow-free form
/// `max(z, 0) − z·y + ln(1 + e^(−|z|))`.
fn bce_with_logits(z: &Tensor<f64>, y: &Tensor<f64>) -> Tensor<f64> {
    let softplus_tail = z.abs().neg().exp().add_scalar(1.0).log();
    z.relu()
        .sub(&z.mul(y).unwrap())
        .unwrap()
        .add(&softplus_tail)
        .unwrap()
        .mean_all()
}

/// Runs `steps` of gradient descent and returns the loss before the first step and
/// after every step.
fn train(x: &Tensor<f64>, y: &Tensor<f64>, lr: f64, steps: usize) -> Vec<f64> {
    let mut w = Tensor::<f64>::zeros(&[2, 1]);
    let mut b = Tensor::<f64>::zeros(&[1]);
    let mut losses = Vec::with_capacity(steps + 1);
    for _ in 0..steps {
        let wl = w.set_requires_grad(true);
        let bl = b.set_requires_grad(true);
        let loss = bce_with_logits(&x.matmul(&wl).unwrap().add(&bl).unwrap(), y);
        losses.push(loss.item().unwrap());
        let grads = loss.backward().unwrap();
        w = wl
            .detach()
            .sub(&grads.get(&wl).unwrap().mul_scalar(lr))
            .unwrap();
        b = bl
            .detach()
            .sub(&grads.get(&bl).unwrap().mul_scalar(lr))
            .unwrap();
    }
    let z = x.matmul(&w).unwrap().add(&b).unwrap();
    losses.push(bce_with_logits(&z, y).item().unwrap());
    losses
}

/// `1 / (Σᵢ(1 + |xᵢ|²) / (4n))`: a step size no larger than `1/L`.
fn safe_learning_rate(x: &Tensor<f64>) -> f64 {
    let rows = x.to_vec2().unwrap();
    let n = rows.len() as f64;
    let trace: f64 = rows
        .iter()
        .map(|r| 1.0 + r.iter().map(|v| v * v).sum::<f64>())
        .sum();
    4.0 * n / trace
}

fn is_non_increasing(losses: &[f64]) -> bool {
    losses.windows(2).all(|w| w[1] <= w[0] * (1.0 + 1e-12))
}

fn raw_and_standardized() -> (Tensor<f64>, Tensor<f64>, Tensor<f64>) {
    let data = book::buy_no_buy::<f64>();
    let raw = data.inputs().clone();
    let scaled = StandardScaler::fit(&raw).unwrap().transform(&raw).unwrap();
    (raw, scaled, data.targets().clone())
}

#[test]
fn loss_helper_matches_the_direct_formula() {
    // −[y ln σ(z) + (1 − y) ln(1 − σ(z))] for z = 0.3, y = 1 and z = −2, y = 0.
    let z = Tensor::<f64>::from([[0.3], [-2.0]]);
    let y = Tensor::<f64>::from([[1.0], [0.0]]);
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let expected = (-(sig(0.3).ln()) - (1.0 - sig(-2.0)).ln()) / 2.0;
    assert!((bce_with_logits(&z, &y).item().unwrap() - expected).abs() < 1e-12);
}

#[test]
fn same_learning_rate_and_steps_standardized_descends_raw_overshoots() {
    let (raw, scaled, y) = raw_and_standardized();
    let (lr, steps) = (0.1, 100);
    let raw_losses = train(&raw, &y, lr, steps);
    let scaled_losses = train(&scaled, &y, lr, steps);
    let ln2 = std::f64::consts::LN_2;
    assert!((raw_losses[0] - ln2).abs() < 1e-12 && (scaled_losses[0] - ln2).abs() < 1e-12);

    // Standardized: lr = 0.1 ≤ 1/L (L ≤ 0.75), so every step lowers the loss.
    assert!(safe_learning_rate(&scaled) >= lr);
    assert!(is_non_increasing(&scaled_losses), "{scaled_losses:?}");
    assert!(scaled_losses[steps] < 0.5 * ln2, "{}", scaled_losses[steps]);

    // Raw: the first gradient is (1/24)·(−263, −496) for w, so one step of 0.1 sends
    // w to about (1.1, 2.1) and the non-buyers' logits to 76…160: a mean loss near 35.
    assert!(raw_losses[1] > 10.0 * ln2, "{}", raw_losses[1]);
    assert!(!is_non_increasing(&raw_losses));
    let (final_raw, final_scaled) = (raw_losses[steps], scaled_losses[steps]);
    assert!(
        final_scaled < final_raw,
        "after {steps} steps at lr {lr}: standardized {final_scaled}, raw {final_raw}"
    );
}

#[test]
fn each_at_its_safe_step_size_standardized_gets_further() {
    let (raw, scaled, y) = raw_and_standardized();
    let (lr_raw, lr_scaled) = (safe_learning_rate(&raw), safe_learning_rate(&scaled));
    // Σ(1 + age² + income²)/48 for the book's twelve customers is about 1665; three
    // unit-variance columns (ones, and two standardized ones) give exactly 3/4.
    assert!((5.5e-4..6.5e-4).contains(&lr_raw), "{lr_raw}");
    assert!((lr_scaled - 4.0 / 3.0).abs() < 1e-12, "{lr_scaled}");
    for steps in [100, 500] {
        let raw_losses = train(&raw, &y, lr_raw, steps);
        let scaled_losses = train(&scaled, &y, lr_scaled, steps);
        assert!(is_non_increasing(&raw_losses));
        assert!(is_non_increasing(&scaled_losses));
        let (r, s) = (raw_losses[steps], scaled_losses[steps]);
        assert!(s < 0.75 * r, "{steps} steps: standardized {s}, raw {r}");
    }
}
