//! §1.2: linear regression on the three houses, in closed form and by gradient descent.

use ferrograd::linalg::fit_line;
use ferrograd::optim::{Optimizer, Sgd, SgdConfig};
use ferrograd::tensor::{Parameter, Tensor};
use plotters::prelude::*;
use serde::Serialize;

use crate::data::{HOUSE_AREAS, HOUSE_PRICES, NEW_HOUSE_AREA};
use crate::error::Result;
use crate::plot::{self, Figures, palette, size};
use crate::progress::Progress;

/// The book's rounding of the closed-form parameters: `w = 2.58`, `b = −91.76`.
pub const BOOK_W: f64 = 2.58;
/// See [`BOOK_W`].
pub const BOOK_B: f64 = -91.76;

/// The closed-form fit of `price = w·area + b` (§1.2).
#[derive(Debug, Clone, Serialize)]
pub struct ClosedForm {
    /// The areas, m².
    pub x: Vec<f64>,
    /// The prices, thousands of dollars.
    pub y: Vec<f64>,
    /// The least-squares slope w*.
    pub w: f64,
    /// The least-squares intercept b*.
    pub b: f64,
    /// The training mean squared error at (w*, b*).
    pub mse: f64,
    /// The MSE at the book's rounded parameters (2.58, −91.76).
    pub mse_at_rounded: f64,
    /// The area whose price is predicted.
    pub new_area: f64,
    /// w*·240 + b*: the predicted price of a 240 m² house.
    pub predicted_price: f64,
    /// The same prediction with the rounded parameters.
    pub predicted_price_rounded: f64,
}

/// The mean squared error J(w, b) of the line `w·x + b` on `(x, y)` (eq. 1.2).
pub fn mse(w: f64, b: f64, x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    x.iter()
        .zip(y)
        .map(|(x, y)| (w * x + b - y).powi(2))
        .sum::<f64>()
        / n
}

/// Fits the line in closed form (least squares, [`ferrograd::linalg::fit_line`]).
pub fn closed_form() -> Result<ClosedForm> {
    let line = fit_line(&HOUSE_AREAS, &HOUSE_PRICES)?;
    Ok(ClosedForm {
        x: HOUSE_AREAS.to_vec(),
        y: HOUSE_PRICES.to_vec(),
        w: line.w,
        b: line.b,
        mse: line.mse(&HOUSE_AREAS, &HOUSE_PRICES)?,
        mse_at_rounded: mse(BOOK_W, BOOK_B, &HOUSE_AREAS, &HOUSE_PRICES),
        new_area: NEW_HOUSE_AREA,
        predicted_price: line.predict(NEW_HOUSE_AREA),
        predicted_price_rounded: BOOK_W * NEW_HOUSE_AREA + BOOK_B,
    })
}

/// The learning rate of [`gradient_descent`], on standardised areas.
pub const GD_LR: f64 = 0.1;
/// The number of steps of [`gradient_descent`].
pub const GD_STEPS: usize = 200;

/// The same line found by gradient descent with tensor autodiff.
///
/// The areas are standardised first (`x' = (x − mean) / std`) and the fitted
/// `w'`, `b'` mapped back (`w = w'/std`, `b = b' − w'·mean/std`). With raw areas
/// (≈ 200) the MSE's curvature along w is ≈ 2·mean(x²) ≈ 86 000 and along the valley
/// ≈ 0.09, so the largest stable learning rate (≈ 2.3e-5) would need millions of steps to
/// move b; standardised, both curvatures are 2 and lr = 0.1 contracts the error by 0.8 per
/// step.
#[derive(Debug, Clone, Serialize)]
pub struct GradientDescent {
    /// Learning rate (on standardised areas).
    pub lr: f64,
    /// Steps taken.
    pub steps: usize,
    /// The mean and standard deviation used to standardise the areas.
    pub x_mean: f64,
    /// See `x_mean`.
    pub x_std: f64,
    /// The MSE (in the original units, thousands of dollars squared) before each step.
    pub losses: Vec<f64>,
    /// The final slope, mapped back to raw areas.
    pub w: f64,
    /// The final intercept, mapped back to raw areas.
    pub b: f64,
    /// The final MSE.
    pub mse: f64,
}

/// Runs gradient descent (see [`GradientDescent`]) with [`Sgd`] on `f64` tensors.
pub fn gradient_descent(progress: &Progress) -> Result<GradientDescent> {
    let n = HOUSE_AREAS.len() as f64;
    let mean = HOUSE_AREAS.iter().sum::<f64>() / n;
    let std = (HOUSE_AREAS.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    let xs: Vec<f64> = HOUSE_AREAS.iter().map(|x| (x - mean) / std).collect();
    let x = Tensor::from_vec(xs, &[3])?;
    let y = Tensor::from(HOUSE_PRICES);

    let w = Parameter::new(Tensor::<f64>::from([0.0]));
    let b = Parameter::new(Tensor::<f64>::from([0.0]));
    let mut optimizer = Sgd::new([w.clone(), b.clone()], SgdConfig::new(GD_LR))?;
    let bar = progress.bar(GD_STEPS as u64, "§1.2 gradient descent");
    let mut losses = Vec::with_capacity(GD_STEPS);
    for _ in 0..GD_STEPS {
        let prediction = x.mul(&w.tensor())?.add(&b.tensor())?;
        let loss = prediction.sub(&y)?.square().mean_all();
        losses.push(loss.item()?);
        let grads = loss.backward_free()?;
        optimizer.step(&grads)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let (ws, bs) = (w.tensor().item()?, b.tensor().item()?);
    let (w, b) = (ws / std, bs - ws * mean / std);
    Ok(GradientDescent {
        lr: GD_LR,
        steps: GD_STEPS,
        x_mean: mean,
        x_std: std,
        losses,
        w,
        b,
        mse: mse(w, b, &HOUSE_AREAS, &HOUSE_PRICES),
    })
}

/// Draws the three houses with the fitted line and the 240 m² prediction
/// (`linear_regression.png`).
pub fn draw_line(fit: &ClosedForm, figures: &Figures) -> Result<std::path::PathBuf> {
    let path = figures.path("linear_regression.png");
    plot::draw_png(&path, size::CHART, |root| {
        let mut chart = plot::chart(
            root,
            figures,
            &format!(
                "§1.2 price = {:.2}·area {} {:.2}",
                fit.w,
                if fit.b < 0.0 { "−" } else { "+" },
                fit.b.abs()
            ),
            100.0..300.0,
            0.0..800.0,
        )?;
        plot::mesh(&mut chart, figures, "area (m²)", "price ($1000s)")?;
        chart
            .draw_series(LineSeries::new(
                [100.0, 300.0].map(|x| (x, fit.w * x + fit.b)),
                palette::BLUE.stroke_width(3),
            ))?
            .label("least-squares line")
            .legend(plot::legend_line(palette::BLUE));
        chart
            .draw_series(
                fit.x
                    .iter()
                    .zip(&fit.y)
                    .map(|(&x, &y)| Circle::new((x, y), 7, palette::RED.filled())),
            )?
            .label("houses")
            .legend(|(x, y)| Circle::new((x + 10, y), 6, palette::RED.filled()));
        chart
            .draw_series(
                [(fit.new_area, fit.predicted_price)]
                    .map(|p| TriangleMarker::new(p, 9, palette::GREEN.filled())),
            )?
            .label(format!(
                "prediction for {} m²: {:.1}",
                fit.new_area, fit.predicted_price
            ))
            .legend(|(x, y)| TriangleMarker::new((x + 10, y), 7, palette::GREEN.filled()));
        plot::legend(&mut chart, figures, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    })?;
    Ok(path)
}

/// Draws the MSE surface J(w, b) as a heat map with contour lines, the minimum marked
/// (`mse_surface.png`). Colour is log J; contours at J_min × {1.02, 1.1, 1.5, 3, 10, 30}.
pub fn draw_surface(fit: &ClosedForm, figures: &Figures) -> Result<std::path::PathBuf> {
    let path = figures.path("mse_surface.png");
    let (w_range, b_range) = (
        (fit.w - 1.2)..(fit.w + 1.2),
        (fit.b - 400.0)..(fit.b + 400.0),
    );
    let (nw, nb) = (200usize, 160usize);
    let ws: Vec<f64> = (0..=nw)
        .map(|i| w_range.start + (w_range.end - w_range.start) * i as f64 / nw as f64)
        .collect();
    let bs: Vec<f64> = (0..=nb)
        .map(|j| b_range.start + (b_range.end - b_range.start) * j as f64 / nb as f64)
        .collect();
    let j: Vec<Vec<f64>> = ws
        .iter()
        .map(|&w| bs.iter().map(|&b| mse(w, b, &fit.x, &fit.y)).collect())
        .collect();
    let (lo, hi) = j
        .iter()
        .flatten()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (llo, lhi) = (lo.ln(), hi.ln());
    plot::draw_png(&path, size::SURFACE, |root| {
        let mut chart = plot::chart(
            root,
            figures,
            "§1.2 MSE surface J(w, b), log colour scale",
            w_range.clone(),
            b_range.clone(),
        )?;
        plot::mesh(&mut chart, figures, "w", "b")?;
        let (dw, db) = (ws[1] - ws[0], bs[1] - bs[0]);
        chart.draw_series(ws.iter().enumerate().flat_map(|(i, &w)| {
            let row = &j[i];
            bs.iter().enumerate().map(move |(k, &b)| {
                let t = (row[k].ln() - llo) / (lhi - llo);
                Rectangle::new(
                    [(w - dw / 2.0, b - db / 2.0), (w + dw / 2.0, b + db / 2.0)],
                    plot::heat(t).filled(),
                )
            })
        }))?;
        for factor in [1.02, 1.1, 1.5, 3.0, 10.0, 30.0] {
            let segments = plot::contour_segments(&ws, &bs, &j, fit.mse * factor);
            chart.draw_series(
                segments
                    .into_iter()
                    .map(|s| PathElement::new(s.to_vec(), WHITE.mix(0.8).stroke_width(1))),
            )?;
        }
        chart
            .draw_series([Cross::new((fit.w, fit.b), 9, RED.stroke_width(3))])?
            .label(format!(
                "minimum: w* = {:.2}, b* = {:.2}, J = {:.2}",
                fit.w, fit.b, fit.mse
            ))
            .legend(|(x, y)| Cross::new((x + 10, y), 6, RED.stroke_width(3)));
        plot::legend(&mut chart, figures, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })?;
    Ok(path)
}

/// Draws gradient descent's loss curve, with the closed-form MSE as a floor
/// (`gradient_descent_loss.png`). The y axis is log₁₀ of the MSE.
pub fn draw_gd_loss(
    gd: &GradientDescent,
    fit: &ClosedForm,
    figures: &Figures,
) -> Result<std::path::PathBuf> {
    let path = figures.path("gradient_descent_loss.png");
    plot::draw_png(&path, size::CHART, |root| {
        let top = gd.losses.iter().copied().fold(fit.mse, f64::max).log10();
        let bottom = fit.mse.log10();
        let pad = (top - bottom) * 0.05;
        let mut chart = plot::chart(
            root,
            figures,
            &format!("§1.2 gradient descent, lr = {} on standardised area", gd.lr),
            0.0..gd.steps as f64,
            (bottom - pad)..(top + pad),
        )?;
        plot::mesh_log_y(&mut chart, figures, "step", "MSE (log scale)")?;
        chart
            .draw_series(LineSeries::new(
                gd.losses
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (i as f64, l.log10())),
                palette::BLUE.stroke_width(2),
            ))?
            .label("MSE by gradient descent")
            .legend(plot::legend_line(palette::BLUE));
        chart
            .draw_series(LineSeries::new(
                [0.0, gd.steps as f64].map(|x| (x, bottom)),
                palette::RED.stroke_width(2),
            ))?
            .label(format!("closed-form MSE {:.2}", fit.mse))
            .legend(plot::legend_line(palette::RED));
        plot::legend(&mut chart, figures, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })?;
    Ok(path)
}
