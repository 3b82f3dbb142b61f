//! §1.7: logistic regression on the twelve buy/no-buy customers, trained by gradient
//! descent with hand-derived gradients (eq. 1.11):
//! `∂L/∂w = (ŷ − y)·x`, `∂L/∂b = ŷ − y`, averaged over the examples, for the binary
//! cross-entropy `L = −[y log ŷ + (1 − y) log(1 − ŷ)]` of `ŷ = σ(w·x + b)`.
//!
//! It starts from the weights of PyTorch's run (`w = [0.1, −0.2]`, `b = 0.05`) with the
//! book's lr 0.001 and 500 steps, computes in `f64`, and checks its hand-derived gradient
//! against tensor autodiff at the start.

use ferrograd::linalg::Vector;
use ferrograd::tensor::{Parameter, Tensor};
use plotters::prelude::*;
use serde::Serialize;

use crate::data::{BUY_X, BUY_Y, LOGISTIC_LR, LOGISTIC_STEPS};
use crate::error::Result;
use crate::plot::{self, Figures, palette, size};
use crate::progress::Progress;
use crate::sections::activations::sigmoid;

/// The initial weights (PyTorch's run starts from the same).
pub const INIT_W: [f64; 2] = [0.1, -0.2];
/// The initial bias.
pub const INIT_B: f64 = 0.05;

/// §1.7's results.
#[derive(Debug, Clone, Serialize)]
pub struct Logistic {
    /// Learning rate.
    pub lr: f64,
    /// Steps.
    pub steps: usize,
    /// The mean BCE before each step.
    pub losses: Vec<f64>,
    /// The mean BCE after the last step.
    pub final_loss: f64,
    /// Trained weights.
    pub w: Vec<f64>,
    /// Trained bias.
    pub b: f64,
    /// `z = w·x + b` of each example after training.
    pub z: Vec<f64>,
    /// `ŷ = σ(z)` of each example after training.
    pub predictions: Vec<f64>,
    /// Examples classified right at the 0.5 threshold.
    pub correct: usize,
    /// The largest |hand-derived − autodiff| gradient component at the initial weights.
    pub gradient_check_max_abs_diff: f64,
}

/// Mean BCE and its hand-derived gradient (eq. 1.11) at `(w, b)`.
pub fn loss_and_gradient(w: &Vector<f64>, b: f64) -> Result<(f64, Vector<f64>, f64)> {
    let n = BUY_X.len() as f64;
    let mut loss = 0.0;
    let mut grad_w = Vector::zeros(2);
    let mut grad_b = 0.0;
    for (x, &y) in BUY_X.iter().zip(&BUY_Y) {
        let x = Vector::from(*x);
        let y_hat = sigmoid(w.dot(&x)? + b);
        loss -= y * y_hat.ln() + (1.0 - y) * (1.0 - y_hat).ln();
        grad_w = grad_w.try_add(&x.scale(y_hat - y))?;
        grad_b += y_hat - y;
    }
    Ok((loss / n, grad_w.div_scalar(n), grad_b / n))
}

/// The same gradient by tensor autodiff, for the check.
fn autodiff_gradient(w: &[f64; 2], b: f64) -> Result<(Vec<f64>, f64)> {
    let x = Tensor::<f64>::from(BUY_X);
    let y = Tensor::from_vec(BUY_Y.to_vec(), &[12, 1])?;
    let wp = Parameter::new(Tensor::from_vec(w.to_vec(), &[2, 1])?);
    let bp = Parameter::new(Tensor::from([b]));
    let p = x.matmul(&wp.tensor())?.add(&bp.tensor())?.sigmoid();
    let bce = y
        .mul(&p.log())?
        .add(&y.rsub_scalar(1.0).mul(&p.rsub_scalar(1.0).log())?)?
        .mean_all()
        .neg();
    let grads = bce.backward()?;
    let gw = grads.get(&wp).map(Tensor::to_vec).unwrap_or_default();
    let gb = grads.get(&bp).map(|g| g.to_vec()[0]).unwrap_or(f64::NAN);
    Ok((gw, gb))
}

/// Trains the logistic regression by hand-derived gradient descent.
pub fn logistic_regression(progress: &Progress) -> Result<Logistic> {
    let mut w = Vector::from(INIT_W);
    let mut b = INIT_B;

    let (_, gw, gb) = loss_and_gradient(&w, b)?;
    let (aw, ab) = autodiff_gradient(&INIT_W, INIT_B)?;
    let check = gw
        .iter()
        .zip(&aw)
        .map(|(h, a)| (h - a).abs())
        .fold((gb - ab).abs(), f64::max);

    let bar = progress.bar(LOGISTIC_STEPS as u64, "§1.7 logistic regression");
    let mut losses = Vec::with_capacity(LOGISTIC_STEPS);
    for _ in 0..LOGISTIC_STEPS {
        let (loss, grad_w, grad_b) = loss_and_gradient(&w, b)?;
        losses.push(loss);
        w = w.try_sub(&grad_w.scale(LOGISTIC_LR))?;
        b -= LOGISTIC_LR * grad_b;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let (final_loss, _, _) = loss_and_gradient(&w, b)?;
    let z = BUY_X
        .iter()
        .map(|x| Ok(w.dot(&Vector::from(*x))? + b))
        .collect::<Result<Vec<f64>>>()?;
    let predictions: Vec<f64> = z.iter().map(|&z| sigmoid(z)).collect();
    let correct = predictions
        .iter()
        .zip(&BUY_Y)
        .filter(|&(&p, &y)| (p >= 0.5) == (y == 1.0))
        .count();
    Ok(Logistic {
        lr: LOGISTIC_LR,
        steps: LOGISTIC_STEPS,
        losses,
        final_loss,
        w: w.into_vec(),
        b,
        z,
        predictions,
        correct,
        gradient_check_max_abs_diff: check,
    })
}

/// Draws a loss curve (or several) against the step, on a log₁₀ axis so that the
/// first steps (loss 7.5) do not flatten the rest.
pub(crate) fn draw_losses(
    path: std::path::PathBuf,
    title: &str,
    curves: &[(&str, &[f64], RGBColor)],
    figures: &Figures,
) -> Result<std::path::PathBuf> {
    draw_losses_titled(
        path,
        title,
        "mean binary cross-entropy (log scale)",
        curves,
        figures,
    )
}

/// [`draw_losses`] with the y axis named `y_desc`.
pub(crate) fn draw_losses_titled(
    path: std::path::PathBuf,
    title: &str,
    y_desc: &str,
    curves: &[(&str, &[f64], RGBColor)],
    figures: &Figures,
) -> Result<std::path::PathBuf> {
    plot::draw_png(&path, size::CHART, |root| {
        let steps = curves.iter().map(|c| c.1.len()).max().unwrap_or(1) as f64;
        let all = || curves.iter().flat_map(|c| c.1.iter().map(|l| l.log10()));
        let top = all().fold(f64::MIN, f64::max);
        let bottom = all().fold(f64::MAX, f64::min);
        let pad = (top - bottom).max(1e-3) * 0.05;
        let mut chart = plot::chart(
            root,
            figures,
            title,
            0.0..steps,
            (bottom - pad)..(top + pad),
        )?;
        plot::mesh_log_y(&mut chart, figures, "step", y_desc)?;
        for &(name, losses, color) in curves {
            chart
                .draw_series(LineSeries::new(
                    losses
                        .iter()
                        .enumerate()
                        .map(|(i, &l)| (i as f64, l.log10())),
                    color.stroke_width(2),
                ))?
                .label(format!(
                    "{name}: {:.4} → {:.4}",
                    losses.first().copied().unwrap_or(f64::NAN),
                    losses.last().copied().unwrap_or(f64::NAN)
                ))
                .legend(plot::legend_line(color));
        }
        plot::legend(&mut chart, figures, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })?;
    Ok(path)
}

/// Draws the loss curve (`logistic_loss.png`).
pub fn draw_loss(l: &Logistic, figures: &Figures) -> Result<std::path::PathBuf> {
    draw_losses(
        figures.path("logistic_loss.png"),
        "§1.7 logistic regression, hand-derived gradients, lr 0.001",
        &[("BCE", &l.losses, palette::BLUE)],
        figures,
    )
}

/// Draws σ(z) with each example placed at its trained `z` and its label (buy = 1,
/// no buy = 0), and its predicted probability on the curve (`logistic_sigmoid.png`).
pub fn draw_sigmoid(l: &Logistic, figures: &Figures) -> Result<std::path::PathBuf> {
    let path = figures.path("logistic_sigmoid.png");
    plot::draw_png(&path, size::CHART, |root| {
        let lo = l.z.iter().copied().fold(f64::MAX, f64::min).min(-4.0) - 0.5;
        let hi = l.z.iter().copied().fold(f64::MIN, f64::max).max(4.0) + 0.5;
        let mut chart = plot::chart(
            root,
            figures,
            "§1.7 ŷ = σ(w·x + b) with the twelve customers",
            lo..hi,
            -0.1..1.1,
        )?;
        plot::mesh(&mut chart, figures, "z = w·x + b", "probability of buying")?;
        chart
            .draw_series(LineSeries::new(
                (0..=400).map(|i| {
                    let z = lo + (hi - lo) * f64::from(i) / 400.0;
                    (z, sigmoid(z))
                }),
                palette::GREY.stroke_width(3),
            ))?
            .label("σ(z)")
            .legend(plot::legend_line(palette::GREY));
        chart.draw_series(LineSeries::new(
            [(lo, 0.5), (hi, 0.5)],
            palette::GREY.mix(0.5).stroke_width(1),
        ))?;
        for (label, class, color) in [
            ("bought (y = 1)", 1.0, palette::BLUE),
            ("did not buy (y = 0)", 0.0, palette::RED),
        ] {
            let members = || {
                l.z.iter()
                    .zip(&l.predictions)
                    .zip(&BUY_Y)
                    .filter(move |&(_, &y)| y == class)
                    .map(|((&z, &p), _)| (z, p))
            };
            chart
                .draw_series(members().map(|(z, _)| Circle::new((z, class), 6, color.filled())))?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 10, y), 6, color.filled()));
            chart.draw_series(
                members().map(|(z, p)| Cross::new((z, p), 5, color.stroke_width(2))),
            )?;
            chart.draw_series(members().map(|(z, p)| {
                PathElement::new(vec![(z, class), (z, p)], color.mix(0.4).stroke_width(1))
            }))?;
        }
        plot::legend(&mut chart, figures, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    })?;
    Ok(path)
}
