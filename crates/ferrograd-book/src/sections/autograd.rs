//! §1.8: the same logistic regression with automatic differentiation, in the book's
//! PyTorch loop — model `Sequential(Linear(2, 1), Sigmoid)`, `BCELoss`, `SGD(lr = 0.001)`,
//! 500 full-batch steps — and the 2-100-1 network
//! `Linear(2, 100), Sigmoid, Linear(100, 1), Sigmoid` in the same loop.
//!
//! Both start from the initial weights of PyTorch's runs
//! ([`crate::data::PYTORCH_JSON`]) and compute in `f32` as PyTorch did, so every step's
//! loss can be compared with PyTorch's.
//!
//! | PyTorch | here |
//! |---|---|
//! | `optimizer.zero_grad()` | nothing: `backward()` returns fresh gradients |
//! | `outputs = model(X)` | [`Dense::forward`] per layer, then `.sigmoid()` |
//! | `loss = criterion(outputs, y)` | [`bce`] |
//! | `loss.backward()` | `let grads = loss.backward()?` |
//! | `optimizer.step()` | `optimizer.step(&grads)?` ([`ferrograd::optim::Sgd`]) |

use ferrograd::optim::{Optimizer, Sgd, SgdConfig};
use ferrograd::tensor::{Parameter, Tensor, TensorError, no_grad};
use plotters::prelude::RGBColor;
use serde::Serialize;

use crate::data::{BUY_X, BUY_Y, LOGISTIC_LR, LOGISTIC_STEPS, TorchRun, torch_reference};
use crate::error::{BookError, Result};
use crate::plot::{Figures, palette};
use crate::progress::Progress;

/// A dense layer `x · Wᵀ + b` (PyTorch's `Linear`), with PyTorch's parameter layout:
/// `weight` is `[out, in]`, `bias` is `[out]`.
#[derive(Debug, Clone)]
pub struct Dense {
    /// `[out, in]`.
    pub weight: Parameter<f32>,
    /// `[out]`.
    pub bias: Parameter<f32>,
}

impl Dense {
    /// A layer with the given weights.
    pub fn new(weight: Tensor<f32>, bias: Tensor<f32>) -> Self {
        Dense {
            weight: Parameter::new(weight),
            bias: Parameter::new(bias),
        }
    }

    /// `x · Wᵀ + b` for a batch `x` of shape `[n, in]`.
    pub fn forward(&self, x: &Tensor<f32>) -> std::result::Result<Tensor<f32>, TensorError> {
        x.matmul(&self.weight.tensor().t()?)?
            .add(&self.bias.tensor())
    }
}

/// PyTorch's `BCELoss()`: the mean binary cross-entropy of probabilities `p` against
/// labels `y`, with the logs clamped at −100 as PyTorch does.
pub fn bce(p: &Tensor<f32>, y: &Tensor<f32>) -> std::result::Result<Tensor<f32>, TensorError> {
    let log_p = p.log().clamp(Some(-100.0), None);
    let log_q = p.rsub_scalar(1.0).log().clamp(Some(-100.0), None);
    Ok(y.mul(&log_p)?
        .add(&y.rsub_scalar(1.0).mul(&log_q)?)?
        .mean_all()
        .neg())
}

/// One training run of §1.8.
#[derive(Debug, Clone, Serialize)]
pub struct AutogradRun {
    /// The model, as PyTorch prints it.
    pub model: String,
    /// Trainable parameters.
    pub parameters: usize,
    /// The loss before each step.
    pub losses: Vec<f64>,
    /// The loss after the last step.
    pub final_loss: f64,
    /// Predicted probabilities after training.
    pub predictions: Vec<f64>,
    /// Examples classified right at the 0.5 threshold.
    pub correct: usize,
    /// Trained parameters, PyTorch's names, row-major.
    pub final_parameters: Vec<(String, Vec<f64>)>,
    /// PyTorch's loss after the last step, from the reference file.
    pub pytorch_final_loss: f64,
    /// The largest relative difference from PyTorch's loss over all steps.
    pub max_rel_diff_from_pytorch: f64,
}

/// §1.8's two runs.
#[derive(Debug, Clone, Serialize)]
pub struct Autograd {
    /// Logistic regression, `Sequential(Linear(2, 1), Sigmoid)`.
    pub logistic: AutogradRun,
    /// The 2-100-1 network with sigmoid units.
    pub mlp: AutogradRun,
}

fn init_layer(run: &TorchRun, weight: &str, bias: &str) -> Result<Dense> {
    let find = |name: &str| -> Result<Tensor<f32>> {
        let (_, shape, values) = run
            .init
            .iter()
            .find(|(n, _, _)| n == name)
            .ok_or_else(|| BookError::Reference(format!("no initial {name}")))?;
        Ok(Tensor::from_vec(
            values.iter().map(|&v| v as f32).collect(),
            shape,
        )?)
    };
    Ok(Dense::new(find(weight)?, find(bias)?))
}

/// Trains `layers` (each followed by a sigmoid) with BCE and SGD, the book's PyTorch loop.
pub fn train(
    model: &str,
    layers: &[Dense],
    reference: &TorchRun,
    progress: &Progress,
) -> Result<AutogradRun> {
    let x = Tensor::<f32>::from(BUY_X.map(|r| r.map(|v| v as f32)));
    let y = Tensor::from_vec(BUY_Y.iter().map(|&v| v as f32).collect(), &[12, 1])?;
    let params: Vec<Parameter<f32>> = layers
        .iter()
        .flat_map(|l| [l.weight.clone(), l.bias.clone()])
        .collect();
    let forward = |x: &Tensor<f32>| -> Result<Tensor<f32>> {
        let mut h = x.clone();
        for layer in layers {
            h = layer.forward(&h)?.sigmoid();
        }
        Ok(h)
    };
    let mut optimizer = Sgd::new(params.clone(), SgdConfig::new(LOGISTIC_LR))?;
    let bar = progress.bar(LOGISTIC_STEPS as u64, &format!("§1.8 {model}"));
    let mut losses = Vec::with_capacity(LOGISTIC_STEPS);
    for _ in 0..LOGISTIC_STEPS {
        // optimizer.zero_grad(): nothing to do, each backward() returns fresh gradients.
        let outputs = forward(&x)?; //                   outputs = model(X)
        let loss = bce(&outputs, &y)?; //                loss = criterion(outputs, y)
        losses.push(f64::from(loss.item()?));
        let grads = loss.backward()?; //                 loss.backward()
        optimizer.step(&grads)?; //                      optimizer.step()
        bar.inc(1);
    }
    bar.finish_and_clear();
    let (final_loss, predictions) = no_grad(|| -> Result<(f64, Vec<f64>)> {
        let p = forward(&x)?;
        let loss = f64::from(bce(&p, &y)?.item()?);
        Ok((loss, p.to_vec().into_iter().map(f64::from).collect()))
    })?;
    let correct = predictions
        .iter()
        .zip(&BUY_Y)
        .filter(|&(&p, &y)| (p >= 0.5) == (y == 1.0))
        .count();
    let names = ["weight", "bias"];
    let final_parameters = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let name = if layers.len() == 1 {
                names[i % 2].to_string()
            } else {
                format!("{}.{}", 2 * (i / 2), names[i % 2])
            };
            (
                name,
                p.tensor().to_vec().into_iter().map(f64::from).collect(),
            )
        })
        .collect();
    let max_rel = losses
        .iter()
        .zip(&reference.loss_per_step)
        .map(|(a, b)| (a - b).abs() / b.abs())
        .fold(0.0, f64::max);
    Ok(AutogradRun {
        model: model.to_string(),
        parameters: params.iter().map(Parameter::numel).sum(),
        losses,
        final_loss,
        predictions,
        correct,
        final_parameters,
        pytorch_final_loss: reference.final_loss,
        max_rel_diff_from_pytorch: max_rel,
    })
}

/// Runs both trainings from PyTorch's initial weights.
pub fn autograd(progress: &Progress) -> Result<Autograd> {
    let reference = torch_reference()?;
    let logistic = train(
        "Sequential(Linear(2, 1), Sigmoid)",
        &[init_layer(&reference.logistic, "weight", "bias")?],
        &reference.logistic,
        progress,
    )?;
    let mlp = train(
        "Sequential(Linear(2, 100), Sigmoid, Linear(100, 1), Sigmoid)",
        &[
            init_layer(&reference.mlp, "0.weight", "0.bias")?,
            init_layer(&reference.mlp, "2.weight", "2.bias")?,
        ],
        &reference.mlp,
        progress,
    )?;
    Ok(Autograd { logistic, mlp })
}

/// Draws both loss curves (`autograd_loss.png`).
pub fn draw(a: &Autograd, figures: &Figures) -> Result<std::path::PathBuf> {
    let curves: [(&str, &[f64], RGBColor); 2] = [
        ("Linear(2,1) + sigmoid", &a.logistic.losses, palette::BLUE),
        ("2-100-1 sigmoid network", &a.mlp.losses, palette::RED),
    ];
    crate::sections::logistic::draw_losses(
        figures.path("autograd_loss.png"),
        "§1.8 autograd + SGD(lr 0.001), BCE",
        &curves,
        figures,
    )
}
