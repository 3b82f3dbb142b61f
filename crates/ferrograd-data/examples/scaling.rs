//! What standardization does to gradient descent on the book's §1.7 buy/no-buy data:
//! the loss after the same number of full-batch gradient-descent steps of logistic
//! regression, raw inputs (years, thousands of dollars) against standardized ones, for a
//! range of learning rates.
//!
//! Run with `cargo run -p ferrograd-data --example scaling`.

use ferrograd_data::book;
use ferrograd_data::scale::StandardScaler;
use ferrograd_tensor::Tensor;

/// Mean binary cross-entropy from logits: `max(z, 0) − z·y + ln(1 + e^(−|z|))`.
fn bce_with_logits(
    z: &Tensor<f64>,
    y: &Tensor<f64>,
) -> Result<Tensor<f64>, Box<dyn std::error::Error>> {
    let tail = z.abs().neg().exp().add_scalar(1.0).log();
    Ok(z.relu().sub(&z.mul(y)?)?.add(&tail)?.mean_all())
}

/// Loss after `steps` of gradient descent from zero weights.
fn train(
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    lr: f64,
    steps: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let mut w = Tensor::<f64>::zeros(&[2, 1]);
    let mut b = Tensor::<f64>::zeros(&[1]);
    for _ in 0..steps {
        let (wl, bl) = (w.set_requires_grad(true), b.set_requires_grad(true));
        let grads = bce_with_logits(&x.matmul(&wl)?.add(&bl)?, y)?.backward()?;
        let (gw, gb) = (
            grads.get(&wl).ok_or("no grad")?,
            grads.get(&bl).ok_or("no grad")?,
        );
        w = wl.detach().sub(&gw.mul_scalar(lr))?;
        b = bl.detach().sub(&gb.mul_scalar(lr))?;
    }
    Ok(bce_with_logits(&x.matmul(&w)?.add(&b)?, y)?.item()?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = book::buy_no_buy::<f64>();
    let (raw, y) = (data.inputs(), data.targets());
    let scaler = StandardScaler::fit(raw)?;
    let scaled = scaler.transform(raw)?;
    println!("mean {:?}, std {:?}", scaler.mean(), scaler.scale());
    for steps in [100, 1000] {
        println!("\n{steps} steps   lr        raw loss   standardized loss");
        for lr in [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0] {
            println!(
                "            {lr:<8}  {:<9.4}  {:.4}",
                train(raw, y, lr, steps)?,
                train(&scaled, y, lr, steps)?
            );
        }
    }
    // Each at its own safe step size 1/L, with L bounded by Σ(1 + |x|²)/(4n).
    let safe = |x: &Tensor<f64>| -> Result<f64, Box<dyn std::error::Error>> {
        let rows = x.to_vec2()?;
        let trace: f64 = rows
            .iter()
            .map(|r| 1.0 + r.iter().map(|v| v * v).sum::<f64>())
            .sum();
        Ok(4.0 * rows.len() as f64 / trace)
    };
    let (lr_raw, lr_scaled) = (safe(raw)?, safe(&scaled)?);
    println!("\nsafe step sizes: raw {lr_raw:.3e}, standardized {lr_scaled:.4}");
    for steps in [100, 500, 1000] {
        println!(
            "{steps:>5} steps: raw {:.4}, standardized {:.4}",
            train(raw, y, lr_raw, steps)?,
            train(&scaled, y, lr_scaled, steps)?
        );
    }
    Ok(())
}
