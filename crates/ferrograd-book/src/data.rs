//! The book's chapter-1 data, and PyTorch's results for it.

use serde_json::Value;

use crate::error::{BookError, Result};

// The book's data lives once, in `ferrograd-data`; the program prints and plots it.
pub use ferrograd::data::book::{BUY_FEATURES as BUY_X, HOUSE_AREAS, HOUSE_PRICES};

/// The area whose price §1.2 predicts with the fitted line.
pub const NEW_HOUSE_AREA: f64 = 240.0;

/// §1.7's labels as numbers (1 if the customer bought, 0 if not), from
/// [`ferrograd::data::book::BUY_LABELS`].
pub const BUY_Y: [f64; 12] = labels_as_f64(ferrograd::data::book::BUY_LABELS);

const fn labels_as_f64(labels: [usize; 12]) -> [f64; 12] {
    let mut out = [0.0; 12];
    let mut i = 0;
    while i < labels.len() {
        out[i] = labels[i] as f64;
        i += 1;
    }
    out
}

/// The learning rate of the book's logistic regression (§1.7–1.8).
pub const LOGISTIC_LR: f64 = 0.001;
/// The number of full-batch steps of the book's logistic regression (§1.7–1.8).
pub const LOGISTIC_STEPS: usize = 500;

/// PyTorch's results for chapter 1 (`crates/ferrograd/tests/data/chapter1_pytorch.json`,
/// embedded in the program): the initial weights the trainings start from, and what
/// PyTorch computed, for side-by-side printing.
pub const PYTORCH_JSON: &str = include_str!("../../ferrograd/tests/data/chapter1_pytorch.json");

/// Weights and results of one of PyTorch's trainings, from [`PYTORCH_JSON`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct TorchRun {
    /// Initial parameters, PyTorch's names and row-major values with their shapes.
    pub init: Vec<(String, Vec<usize>, Vec<f64>)>,
    /// Loss before each update.
    pub loss_per_step: Vec<f64>,
    /// Loss after the last update.
    pub final_loss: f64,
    /// Predicted probabilities after the last update.
    pub final_predictions: Vec<f64>,
}

/// PyTorch's chapter-1 results.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TorchReference {
    /// PyTorch's version and device, as the file states it.
    pub source: String,
    /// Closed-form least squares on the houses (float64): `w`, `b`, training MSE.
    pub closed_form: (f64, f64, f64),
    /// `Linear(2, 1)` + sigmoid, BCE, SGD.
    pub logistic: TorchRun,
    /// `Linear(2, 100)`, sigmoid, `Linear(100, 1)`, sigmoid, BCE, SGD.
    pub mlp: TorchRun,
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        Value::Number(n) => n.as_f64().into_iter().collect(),
        _ => Vec::new(),
    }
}

fn shape(v: &Value) -> Vec<usize> {
    match v {
        Value::Array(items) => {
            let mut s = vec![items.len()];
            if let Some(first) = items.first() {
                s.extend(shape(first));
            }
            s
        }
        _ => Vec::new(),
    }
}

fn number(v: &Value, what: &str) -> Result<f64> {
    v.as_f64()
        .ok_or_else(|| BookError::Reference(format!("{what} is not a number")))
}

fn run(section: &Value, names: &[&str]) -> Result<TorchRun> {
    let init = names
        .iter()
        .map(|&name| {
            let v = &section["init"][name];
            if v.is_null() {
                return Err(BookError::Reference(format!("no initial {name}")));
            }
            Ok((name.to_string(), shape(v), floats(v)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(TorchRun {
        init,
        loss_per_step: floats(&section["loss_per_step"]),
        final_loss: number(&section["final_loss"], "final_loss")?,
        final_predictions: floats(&section["final_predictions"]),
    })
}

/// Parses [`PYTORCH_JSON`].
pub fn torch_reference() -> Result<TorchReference> {
    let v: Value = serde_json::from_str(PYTORCH_JSON)
        .map_err(|e| BookError::Reference(format!("not JSON: {e}")))?;
    let cf = &v["linear_regression_closed_form_f64"];
    Ok(TorchReference {
        source: v["source"].as_str().unwrap_or("PyTorch").to_string(),
        closed_form: (
            number(&cf["w"], "w")?,
            number(&cf["b"], "b")?,
            number(&cf["mse"], "mse")?,
        ),
        logistic: run(&v["logistic_regression_sgd"], &["weight", "bias"])?,
        mlp: run(
            &v["mlp_2_100_1_sgd"],
            &["0.weight", "0.bias", "2.weight", "2.bias"],
        )?,
    })
}
