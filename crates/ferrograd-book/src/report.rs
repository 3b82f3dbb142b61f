//! Running a section end to end: its numbers, the text the program prints, its JSON and
//! its figures.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::json;

use crate::data::torch_reference;
use crate::error::Result;
use crate::plot::Figures;
use crate::progress::Progress;
use crate::sections::{activations, autograd, linear_regression, logistic, matrices, vectors};

/// The sections of chapter 1, in the book's order, as the program's subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// §1.2, closed form.
    LinearRegression,
    /// §1.2, by gradient descent.
    GradientDescent,
    /// §1.4.
    Vectors,
    /// §1.5.
    Activations,
    /// §1.6.
    Matrices,
    /// §1.7.
    LogisticRegression,
    /// §1.8.
    Autograd,
}

impl Section {
    /// Every section, in order.
    pub const ALL: [Section; 7] = [
        Section::LinearRegression,
        Section::GradientDescent,
        Section::Vectors,
        Section::Activations,
        Section::Matrices,
        Section::LogisticRegression,
        Section::Autograd,
    ];

    /// The subcommand that runs this section.
    pub fn name(self) -> &'static str {
        match self {
            Section::LinearRegression => "linear-regression",
            Section::GradientDescent => "gradient-descent",
            Section::Vectors => "vectors",
            Section::Activations => "activations",
            Section::Matrices => "matrices",
            Section::LogisticRegression => "logistic-regression",
            Section::Autograd => "autograd",
        }
    }

    /// A one-line title with the book's section number.
    pub fn title(self) -> &'static str {
        match self {
            Section::LinearRegression => "§1.2 linear regression in closed form",
            Section::GradientDescent => "§1.2 the same line by gradient descent",
            Section::Vectors => "§1.4 vectors",
            Section::Activations => "§1.5 non-linearity: activations and small networks",
            Section::Matrices => "§1.6 matrices",
            Section::LogisticRegression => "§1.7 logistic regression, hand-derived gradients",
            Section::Autograd => "§1.8 automatic differentiation",
        }
    }

    /// The section whose subcommand is `name`.
    pub fn from_name(name: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// What running a section produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// The section.
    pub section: Section,
    /// The report the program prints.
    pub text: String,
    /// The section's numbers as JSON.
    pub json: serde_json::Value,
    /// The PNG files written.
    pub figures: Vec<PathBuf>,
}

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn fmt_vec(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:.4}")).collect();
    format!("[{}]", items.join(", "))
}

fn fmt_rows(rows: &[Vec<f64>]) -> String {
    let items: Vec<String> = rows.iter().map(|r| fmt_vec(r)).collect();
    format!("[{}]", items.join(", "))
}

/// Runs `section`: computes its numbers, writes its figures with `figures` and formats
/// the report.
pub fn run_section(section: Section, figures: &Figures, progress: &Progress) -> Result<Output> {
    let mut t = String::new();
    let mut files = Vec::new();
    // `write!` into a String cannot fail.
    let json = match section {
        Section::LinearRegression => {
            let fit = linear_regression::closed_form()?;
            let (tw, tb, tmse) = torch_reference()?.closed_form;
            let _ = writeln!(
                t,
                "houses (area m², price $1000s): {:?}",
                fit.x.iter().zip(&fit.y).collect::<Vec<_>>()
            );
            let _ = writeln!(t, "w* = {:.6}  (book 2.58, PyTorch {tw:.6})", fit.w);
            let _ = writeln!(t, "b* = {:.6}  (book -91.76, PyTorch {tb:.6})", fit.b);
            let _ = writeln!(
                t,
                "training MSE at (w*, b*)      = {:.2}  (PyTorch {tmse:.2})",
                fit.mse
            );
            let _ = writeln!(
                t,
                "training MSE at (2.58, -91.76) = {:.2}  (book 15403.19)",
                fit.mse_at_rounded
            );
            let _ = writeln!(
                t,
                "predicted price of a {} m² house: {:.2} (with the rounded parameters {:.2})",
                fit.new_area, fit.predicted_price, fit.predicted_price_rounded
            );
            files.push(linear_regression::draw_line(&fit, figures)?);
            files.push(linear_regression::draw_surface(&fit, figures)?);
            to_json(&fit)
        }
        Section::GradientDescent => {
            let fit = linear_regression::closed_form()?;
            let gd = linear_regression::gradient_descent(progress)?;
            let _ = writeln!(
                t,
                "areas standardised (mean {:.2}, std {:.2}), lr {}, {} steps, then mapped back",
                gd.x_mean, gd.x_std, gd.lr, gd.steps
            );
            for step in [0, 1, 2, 5, 10, 20, 50, 100, gd.steps - 1] {
                let _ = writeln!(t, "step {step:>4}  MSE {:.4}", gd.losses[step]);
            }
            let _ = writeln!(t, "w = {:.6}  (closed form {:.6})", gd.w, fit.w);
            let _ = writeln!(t, "b = {:.6}  (closed form {:.6})", gd.b, fit.b);
            let _ = writeln!(t, "MSE = {:.4}  (closed form {:.4})", gd.mse, fit.mse);
            files.push(linear_regression::draw_gd_loss(&gd, &fit, figures)?);
            to_json(&gd)
        }
        Section::Vectors => {
            let v = vectors::vectors()?;
            let _ = writeln!(t, "illustrative vectors a = {:?}, b = {:?}", v.a, v.b);
            let _ = writeln!(t, "a · b = {}", v.dot);
            let _ = writeln!(
                t,
                "a + b = {:?}, a - b = {:?}, 2a = {:?}",
                v.sum, v.difference, v.scaled
            );
            let _ = writeln!(t, "a ⊙ b = {:?}", v.hadamard);
            let _ = writeln!(t, "‖a‖ = {:.6}, ‖b‖ = {:.6}", v.norm_a, v.norm_b);
            let _ = writeln!(
                t,
                "unit a = {} (norm {:.6})",
                fmt_vec(&v.unit_a),
                v.unit_a_norm
            );
            let _ = writeln!(
                t,
                "cos(u, v) aligned           u = {:?}, v = {:?}: {:.6}",
                vectors::U,
                vectors::ALIGNED,
                v.cosine_aligned
            );
            let _ = writeln!(
                t,
                "cos(u, o) nearly orthogonal u = {:?}, o = {:?}: {:.6}",
                vectors::U,
                vectors::NEARLY_ORTHOGONAL,
                v.cosine_nearly_orthogonal
            );
            let _ = writeln!(t, "cos(u, -u) opposite: {:.6}", v.cosine_opposite);
            files.push(vectors::draw(&v, figures)?);
            to_json(&v)
        }
        Section::Activations => {
            let a = activations::activations(progress)?;
            let _ = writeln!(
                t,
                "{} points y = sin(1.5x) + 0.3x + noise, x in [-3, 3]; networks trained with Adam (lr {}, {} steps)",
                a.x.len(),
                activations::FIT_LR,
                activations::FIT_STEPS
            );
            for fit in &a.fits {
                let _ = writeln!(
                    t,
                    "{:>16} ({:>3} parameters): final MSE {:.5}",
                    fit.name, fit.parameters, fit.mse
                );
            }
            files.push(activations::draw_activations(figures)?);
            files.push(activations::draw_fits(&a, figures)?);
            to_json(&a)
        }
        Section::Matrices => {
            let m = matrices::matrices()?;
            let _ = writeln!(
                t,
                "A = {:?}, B = {:?}, C = {:?}, x = {:?}",
                matrices::A,
                matrices::B,
                matrices::C,
                matrices::X
            );
            let _ = writeln!(t, "A + B = {:?}", m.sum);
            let _ = writeln!(t, "A B   = {:?}", m.product);
            let _ = writeln!(t, "Cᵀ    = {:?}", m.transpose);
            let _ = writeln!(t, "A C   = {:?}", m.product_rectangular);
            let _ = writeln!(t, "A x   = {:?}", m.matrix_vector);
            let _ = writeln!(
                t,
                "Figure 1.1 network as matrices, input x = {:?}:",
                matrices::NETWORK_INPUT
            );
            let _ = writeln!(t, "  W₁ = {}, b₁ = {}", fmt_rows(&m.w1), fmt_vec(&m.b1));
            let _ = writeln!(t, "  w₂ = {}, b₂ = {:.4}", fmt_vec(&m.w2), m.b2);
            let _ = writeln!(t, "  z = ReLU(W₁x + b₁) = {}", fmt_vec(&m.hidden));
            let _ = writeln!(
                t,
                "  ŷ = σ(w₂·z + b₂) = {:.6} (unit by unit: {:.6})",
                m.output, m.output_unit_by_unit
            );
            to_json(&m)
        }
        Section::LogisticRegression => {
            let l = logistic::logistic_regression(progress)?;
            let torch = torch_reference()?;
            let _ = writeln!(
                t,
                "hand-derived gradient vs autodiff at the start: max |difference| {:.2e}",
                l.gradient_check_max_abs_diff
            );
            for step in [0, 1, 2, 10, 100, 250, l.steps - 1] {
                let _ = writeln!(t, "step {step:>4}  loss {:.6}", l.losses[step]);
            }
            let _ = writeln!(
                t,
                "final loss {:.6}  (PyTorch, float32 autograd: {:.6})",
                l.final_loss, torch.logistic.final_loss
            );
            let _ = writeln!(t, "w = {}, b = {:.6}", fmt_vec(&l.w), l.b);
            let _ = writeln!(t, "predictions {}", fmt_vec(&l.predictions));
            let _ = writeln!(t, "accuracy {}/{}", l.correct, l.predictions.len());
            files.push(logistic::draw_loss(&l, figures)?);
            files.push(logistic::draw_sigmoid(&l, figures)?);
            to_json(&l)
        }
        Section::Autograd => {
            let a = autograd::autograd(progress)?;
            for run in [&a.logistic, &a.mlp] {
                let _ = writeln!(
                    t,
                    "{} ({} parameters), BCE, SGD lr 0.001, {} steps",
                    run.model,
                    run.parameters,
                    run.losses.len()
                );
                let _ = writeln!(
                    t,
                    "  loss {:.6} → {:.6} (PyTorch {:.6}); worst step-by-step relative difference from PyTorch {:.1e}",
                    run.losses[0],
                    run.final_loss,
                    run.pytorch_final_loss,
                    run.max_rel_diff_from_pytorch
                );
                let _ = writeln!(t, "  accuracy {}/{}", run.correct, run.predictions.len());
            }
            if let Some((_, w)) = a.logistic.final_parameters.first() {
                let _ = writeln!(t, "  logistic regression's trained weight {}", fmt_vec(w));
            }
            files.push(autograd::draw(&a, figures)?);
            to_json(&a)
        }
    };
    Ok(Output {
        section,
        text: t,
        json: json!({ "section": section.name(), "title": section.title(), "results": json, "figures": files }),
        figures: files,
    })
}
