//! §1.5: non-linearity — the three activations (ReLU, sigmoid, tanh), a straight line
//! failing on curved data, and networks of 2, 4 and 100 ReLU units fitting it better as
//! they grow.
//!
//! The data are generated (the book's figure shows similar curved data, not these exact
//! points): [`DATA_POINTS`] evenly spaced areas `x ∈ [−3, 3]`, `y = sin(1.5x) + 0.3x + ε`
//! with `ε ~ N(0, 0.1²)` from [`ferrograd::tensor::Rng`] seeded with [`DATA_SEED`].
//! Each network is `Sequential(Linear(1, h), ReLU, Linear(h, 1))` ([`ferrograd::nn`]) with
//! PyTorch's default initialisation `U(−1/√fan_in, 1/√fan_in)`, trained full-batch on
//! [`MseLoss`] with [`ferrograd::optim::Adam`] (lr [`FIT_LR`], [`FIT_STEPS`] steps).

use ferrograd::linalg::fit_line;
use ferrograd::nn::{Forward, Linear, Module, MseLoss, Relu, Sequential};
use ferrograd::optim::{Adam, AdamConfig, Optimizer};
use ferrograd::tensor::{Parameter, Rng, Tensor, no_grad};
use plotters::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::plot::{self, Figures, palette, size};
use crate::progress::Progress;

/// Number of generated points.
pub const DATA_POINTS: usize = 60;
/// Seed of the noise.
pub const DATA_SEED: u64 = 7;
/// Seed of the networks' initial weights.
pub const INIT_SEED: u64 = 3;
/// Hidden-layer sizes of the networks.
pub const HIDDEN_SIZES: [usize; 3] = [2, 4, 100];
/// Adam's learning rate.
pub const FIT_LR: f64 = 0.01;
/// Full-batch training steps per network.
pub const FIT_STEPS: usize = 3000;

/// ReLU: `max(0, z)`.
pub fn relu(z: f64) -> f64 {
    z.max(0.0)
}

/// The logistic sigmoid `1 / (1 + e^(−z))`.
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The curved data of this section: `(x, y)`.
pub fn curved_data() -> (Vec<f64>, Vec<f64>) {
    let mut rng = Rng::new(DATA_SEED);
    let x: Vec<f64> = (0..DATA_POINTS)
        .map(|i| -3.0 + 6.0 * i as f64 / (DATA_POINTS - 1) as f64)
        .collect();
    let y = x
        .iter()
        .map(|&x| (1.5 * x).sin() + 0.3 * x + 0.1 * rng.normal())
        .collect();
    (x, y)
}

/// One fitted model: its name, training MSE and predictions on a fine grid.
#[derive(Debug, Clone, Serialize)]
pub struct Fit {
    /// `"line"` or `"2 ReLU units"`, …
    pub name: String,
    /// Number of hidden units (0 for the line).
    pub hidden_units: usize,
    /// Number of trainable parameters.
    pub parameters: usize,
    /// Final training MSE.
    pub mse: f64,
    /// The MSE before each training step (empty for the closed-form line).
    pub losses: Vec<f64>,
    /// Predictions at [`Activations::grid`].
    pub curve: Vec<f64>,
}

/// §1.5's results.
#[derive(Debug, Clone, Serialize)]
pub struct Activations {
    /// The data's x.
    pub x: Vec<f64>,
    /// The data's y.
    pub y: Vec<f64>,
    /// A fine grid over the data's range, where the fits are evaluated.
    pub grid: Vec<f64>,
    /// The line (closed form), then the 2-, 4- and 100-unit networks.
    pub fits: Vec<Fit>,
}

/// Trains `Sequential(Linear(1, h), ReLU, Linear(h, 1))` on `(x, y)` and evaluates it on
/// `grid`.
pub fn fit_relu_network(
    hidden: usize,
    x: &[f64],
    y: &[f64],
    grid: &[f64],
    progress: &Progress,
) -> Result<Fit> {
    let mut rng = Rng::new(INIT_SEED + hidden as u64);
    let model = Sequential::new()
        .push(Linear::new(1, hidden, &mut rng))
        .push(Relu)
        .push(Linear::new(hidden, 1, &mut rng));
    let params = model.parameters();
    let criterion = MseLoss::default();
    let column = |v: &[f64]| Tensor::from_vec(v.iter().map(|&v| v as f32).collect(), &[v.len(), 1]);
    let (xt, yt) = (column(x)?, column(y)?);
    let mut optimizer = Adam::new(params.clone(), AdamConfig::new(FIT_LR))?;
    let bar = progress.bar(FIT_STEPS as u64, &format!("§1.5 {hidden} ReLU units"));
    let mut losses = Vec::with_capacity(FIT_STEPS);
    for step in 0..FIT_STEPS {
        let loss = criterion.forward(&model.forward(&xt)?, &yt)?;
        losses.push(f64::from(loss.item()?));
        let grads = loss.backward_free()?;
        optimizer.step(&grads)?;
        if step % 50 == 49 {
            bar.inc(50);
        }
    }
    bar.finish_and_clear();
    let (mse, curve) = no_grad(|| -> Result<(f64, Vec<f64>)> {
        let mse = criterion.forward(&model.forward(&xt)?, &yt)?.item()?;
        let curve = model.forward(&column(grid)?)?;
        Ok((
            f64::from(mse),
            curve.to_vec().into_iter().map(f64::from).collect(),
        ))
    })?;
    Ok(Fit {
        name: format!("{hidden} ReLU units"),
        hidden_units: hidden,
        parameters: params.iter().map(Parameter::numel).sum(),
        mse,
        losses,
        curve,
    })
}

/// Fits the line and the three networks to [`curved_data`].
pub fn activations(progress: &Progress) -> Result<Activations> {
    let (x, y) = curved_data();
    let grid: Vec<f64> = (0..=300)
        .map(|i| -3.2 + 6.4 * f64::from(i) / 300.0)
        .collect();
    let line = fit_line(&x, &y)?;
    let mut fits = vec![Fit {
        name: "line".to_string(),
        hidden_units: 0,
        parameters: 2,
        mse: line.mse(&x, &y)?,
        losses: Vec::new(),
        curve: grid.iter().map(|&g| line.predict(g)).collect(),
    }];
    for h in HIDDEN_SIZES {
        fits.push(fit_relu_network(h, &x, &y, &grid, progress)?);
    }
    Ok(Activations { x, y, grid, fits })
}

/// Draws ReLU, sigmoid and tanh side by side (`activations.png`).
pub fn draw_activations(figures: &Figures) -> Result<std::path::PathBuf> {
    let path = figures.path("activations.png");
    plot::draw_png(&path, size::ACTIVATIONS, |root| {
        let panels = root.split_evenly((1, 3));
        type Panel = (&'static str, fn(f64) -> f64, std::ops::Range<f64>, RGBColor);
        let functions: [Panel; 3] = [
            ("ReLU(z) = max(0, z)", relu, -0.5..5.0, palette::BLUE),
            ("sigmoid σ(z) = 1/(1+e⁻ᶻ)", sigmoid, -0.1..1.1, palette::RED),
            ("tanh(z)", f64::tanh, -1.1..1.1, palette::GREEN),
        ];
        for (panel, (title, f, y_range, color)) in panels.iter().zip(functions) {
            let mut chart = plot::chart(panel, figures, title, -5.0..5.0, y_range)?;
            plot::mesh(&mut chart, figures, "z", "")?;
            chart.draw_series(LineSeries::new(
                (0..=400).map(|i| {
                    let z = -5.0 + 10.0 * f64::from(i) / 400.0;
                    (z, f(z))
                }),
                color.stroke_width(3),
            ))?;
        }
        Ok(())
    })?;
    Ok(path)
}

/// Draws the curved data with the line and the three networks' fits (`nonlinear_fits.png`).
pub fn draw_fits(a: &Activations, figures: &Figures) -> Result<std::path::PathBuf> {
    let path = figures.path("nonlinear_fits.png");
    plot::draw_png(&path, size::CHART, |root| {
        let mut chart = plot::chart(
            root,
            figures,
            "§1.5 a line vs. networks of 2, 4 and 100 ReLU units",
            -3.2..3.2,
            -2.2..2.2,
        )?;
        plot::mesh(&mut chart, figures, "x", "y")?;
        chart
            .draw_series(
                a.x.iter()
                    .zip(&a.y)
                    .map(|(&x, &y)| Circle::new((x, y), 4, palette::GREY.filled())),
            )?
            .label("data")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, palette::GREY.filled()));
        let colors = [palette::RED, palette::ORANGE, palette::GREEN, palette::BLUE];
        for (fit, color) in a.fits.iter().zip(colors) {
            chart
                .draw_series(LineSeries::new(
                    a.grid.iter().copied().zip(fit.curve.iter().copied()),
                    color.stroke_width(3),
                ))?
                .label(format!("{}: MSE {:.4}", fit.name, fit.mse))
                .legend(plot::legend_line(color));
        }
        plot::legend(&mut chart, figures, SeriesLabelPosition::LowerRight)?;
        Ok(())
    })?;
    Ok(path)
}
