//! [`draw_curve`]: a run's training and held-out loss against the step.

use std::path::PathBuf;

use plotters::prelude::*;

use super::RunResults;
use crate::error::Result;
use crate::plot::{self, Figures, palette, size};

/// How [`draw_curve`] shows the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurveStyle {
    /// Cross-entropy in nats per token, on a linear axis.
    Loss,
    /// Perplexity (e to the loss), on a log axis.
    Perplexity,
}

/// Draws the training loss (the mean over windows of about 1/50 of the run) and the
/// held-out loss (every evaluation and the final one) against the step, as `style` says,
/// into `file` under `figures`.
///
/// # Errors
/// When the figure cannot be written.
pub fn draw_curve(
    r: &RunResults,
    figures: &Figures,
    file: &str,
    caption: &str,
    style: CurveStyle,
) -> Result<PathBuf> {
    let log = style == CurveStyle::Perplexity;
    // On the log chart y is log10(perplexity) = loss / ln 10.
    let y = |loss: f64| {
        if log {
            loss / std::f64::consts::LN_10
        } else {
            loss
        }
    };
    let window = (r.losses.len() / 50).max(1);
    let train: Vec<(f64, f64)> = r
        .losses
        .chunks(window)
        .map(|c| {
            let step = c[c.len() - 1].0 as f64;
            (step, y(c.iter().map(|x| x.1).sum::<f64>() / c.len() as f64))
        })
        .collect();
    let held: Vec<(f64, f64)> = r
        .evals
        .iter()
        .chain([&r.final_eval])
        .map(|e| (e.step as f64, y(e.loss)))
        .collect();
    let path = figures.path(file);
    plot::draw_png(&path, size::CHART, |root| {
        let all = train.iter().chain(&held);
        let lo = all.clone().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = all.map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() && hi.is_finite() {
            (lo, hi)
        } else {
            (0.0, 1.0)
        };
        let pad = if log { 0.05 } else { 0.1 };
        let steps = r.steps.max(1) as f64;
        let mut chart = plot::chart(
            root,
            figures,
            caption,
            0.0..steps * 1.02,
            (lo - pad)..(hi + pad),
        )?;
        if log {
            plot::mesh_log_y(&mut chart, figures, "step", "perplexity")?;
        } else {
            plot::mesh(
                &mut chart,
                figures,
                "step",
                "cross-entropy (nats per token)",
            )?;
        }
        chart
            .draw_series(LineSeries::new(train, palette::BLUE.stroke_width(2)))?
            .label("training batches (mean over a window)")
            .legend(plot::legend_line(palette::BLUE));
        chart
            .draw_series(LineSeries::new(
                held.clone(),
                palette::ORANGE.stroke_width(2),
            ))?
            .label("held-out lines")
            .legend(plot::legend_line(palette::ORANGE));
        chart.draw_series(
            held.iter()
                .map(|&p| Circle::new(p, 4, palette::ORANGE.filled())),
        )?;
        plot::legend(&mut chart, figures, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })?;
    Ok(path)
}
