//! §1.4: vectors — dot product, sum, Hadamard product, norm, unit vector and cosine
//! similarity (eq. 1.5).
//!
//! The vectors are illustrative (two-dimensional so they can be drawn), not the book's
//! exact numbers: `a = [3, 2]`, `b = [1, 4]` for the operations; for cosine similarity
//! `u = [2, 1]` with an aligned `v = [4, 2.2]`, a nearly orthogonal `o = [−1, 2.2]` and
//! the opposite `−u`.

use ferrograd::linalg::Vector;
use plotters::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::plot::{self, Figures, palette, size};

/// The illustrative vector `a`.
pub const A: [f64; 2] = [3.0, 2.0];
/// The illustrative vector `b`.
pub const B: [f64; 2] = [1.0, 4.0];
/// The reference direction `u` for cosine similarity.
pub const U: [f64; 2] = [2.0, 1.0];
/// A vector nearly aligned with [`U`].
pub const ALIGNED: [f64; 2] = [4.0, 2.2];
/// A vector nearly orthogonal to [`U`].
pub const NEARLY_ORTHOGONAL: [f64; 2] = [-1.0, 2.2];

/// §1.4's quantities.
#[derive(Debug, Clone, Serialize)]
pub struct Vectors {
    /// `a`.
    pub a: Vec<f64>,
    /// `b`.
    pub b: Vec<f64>,
    /// `a · b`.
    pub dot: f64,
    /// `a + b`.
    pub sum: Vec<f64>,
    /// `a − b`.
    pub difference: Vec<f64>,
    /// `a ⊙ b`, element by element.
    pub hadamard: Vec<f64>,
    /// `2a`.
    pub scaled: Vec<f64>,
    /// `‖a‖`.
    pub norm_a: f64,
    /// `‖b‖`.
    pub norm_b: f64,
    /// `a / ‖a‖`.
    pub unit_a: Vec<f64>,
    /// `‖a / ‖a‖‖` (1).
    pub unit_a_norm: f64,
    /// `cos(u, v)` for the aligned pair.
    pub cosine_aligned: f64,
    /// `cos(u, o)` for the nearly orthogonal pair.
    pub cosine_nearly_orthogonal: f64,
    /// `cos(u, −u)`.
    pub cosine_opposite: f64,
}

/// Computes §1.4's quantities with [`ferrograd::linalg::Vector`].
pub fn vectors() -> Result<Vectors> {
    let a = Vector::from(A);
    let b = Vector::from(B);
    let u = Vector::from(U);
    let unit_a = a.unit_vector()?;
    Ok(Vectors {
        a: A.to_vec(),
        b: B.to_vec(),
        dot: a.dot(&b)?,
        sum: a.try_add(&b)?.into_vec(),
        difference: a.try_sub(&b)?.into_vec(),
        hadamard: a.hadamard(&b)?.into_vec(),
        scaled: a.scale(2.0).into_vec(),
        norm_a: a.norm(),
        norm_b: b.norm(),
        unit_a_norm: unit_a.norm(),
        unit_a: unit_a.into_vec(),
        cosine_aligned: u.cosine_similarity(&Vector::from(ALIGNED))?,
        cosine_nearly_orthogonal: u.cosine_similarity(&Vector::from(NEARLY_ORTHOGONAL))?,
        cosine_opposite: u.cosine_similarity(&u.scale(-1.0))?,
    })
}

/// Draws `a`, `b`, `a + b` and the cosine examples as arrows from the origin
/// (`vectors.png`).
pub fn draw(v: &Vectors, figures: &Figures) -> Result<std::path::PathBuf> {
    let path = figures.path("vectors.png");
    plot::draw_png(&path, size::CHART, |root| {
        let mut chart = plot::chart(
            root,
            figures,
            "§1.4 vectors as arrows (illustrative)",
            -3.0..6.0,
            -2.5..6.5,
        )?;
        plot::mesh(&mut chart, figures, "x₁", "x₂")?;
        let arrows = [
            (format!("a = {A:?}"), A, palette::BLUE),
            (format!("b = {B:?}"), B, palette::RED),
            (
                format!("a + b = {:?}", v.sum),
                [v.sum[0], v.sum[1]],
                palette::PURPLE,
            ),
            (format!("u = {U:?}"), U, palette::GREY),
            (
                format!(
                    "aligned v = {ALIGNED:?}: cos(u, v) = {:.3}",
                    v.cosine_aligned
                ),
                ALIGNED,
                palette::GREEN,
            ),
            (
                format!(
                    "nearly orthogonal o = {NEARLY_ORTHOGONAL:?}: cos(u, o) = {:.3}",
                    v.cosine_nearly_orthogonal
                ),
                NEARLY_ORTHOGONAL,
                palette::ORANGE,
            ),
        ];
        for (label, [x, y], color) in arrows {
            let len = (x * x + y * y).sqrt();
            let (dx, dy) = (x / len, y / len);
            let head = 0.3;
            let left = (x - head * (dx - 0.5 * dy), y - head * (dy + 0.5 * dx));
            let right = (x - head * (dx + 0.5 * dy), y - head * (dy - 0.5 * dx));
            chart
                .draw_series([
                    PathElement::new(vec![(0.0, 0.0), (x, y)], color.stroke_width(3)),
                    PathElement::new(vec![left, (x, y), right], color.stroke_width(3)),
                ])?
                .label(label)
                .legend(plot::legend_line(color));
        }
        plot::legend(&mut chart, figures, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    })?;
    Ok(path)
}
