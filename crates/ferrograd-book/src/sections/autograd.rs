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
//! | `model = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())` | [`Sequential::new`]`.push(`[`Linear`]`).push(`[`Sigmoid`]`)` |
//! | `criterion = nn.BCELoss()` | [`BceLoss::default`] |
//! | `optimizer.zero_grad()` | nothing: `backward_free()` returns fresh gradients |
//! | `outputs = model(X)` | `model.forward(&x)?` ([`Forward::forward`]) |
//! | `loss = criterion(outputs, y)` | `criterion.forward(&outputs, &y)?` |
//! | `loss.backward()` | `let grads = loss.backward_free()?` (frees the graph, as PyTorch) |
//! | `optimizer.step()` | `optimizer.step(&grads)?` ([`ferrograd::optim::Sgd`]) |

use ferrograd::nn::{BceLoss, Forward, Linear, Module, Sequential, Sigmoid};
use ferrograd::optim::{Optimizer, Sgd, SgdConfig};
use ferrograd::tensor::{Parameter, Tensor, no_grad};
use plotters::prelude::RGBColor;
use serde::Serialize;

use crate::data::{BUY_X, BUY_Y, LOGISTIC_LR, LOGISTIC_STEPS, TorchRun, torch_reference};
use crate::error::{BookError, Result};
use crate::plot::{Figures, palette};
use crate::progress::Progress;

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

fn init_layer(run: &TorchRun, weight: &str, bias: &str) -> Result<Linear> {
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
    Ok(Linear::from_tensors(find(weight)?, Some(find(bias)?))?)
}

/// Trains `model` with `BceLoss` and SGD (lr 0.001, 500 full-batch steps), the book's
/// PyTorch loop, and compares each step's loss with PyTorch's `reference`.
pub fn train(
    name: &str,
    model: &Sequential,
    reference: &TorchRun,
    progress: &Progress,
) -> Result<AutogradRun> {
    let x = Tensor::<f32>::from(BUY_X.map(|r| r.map(|v| v as f32)));
    let y = Tensor::from_vec(BUY_Y.iter().map(|&v| v as f32).collect(), &[12, 1])?;
    let criterion = BceLoss::default();
    let named = model.named_parameters();
    let params: Vec<Parameter<f32>> = named.iter().map(|(_, p)| p.clone()).collect();
    let mut optimizer = Sgd::new(params.clone(), SgdConfig::new(LOGISTIC_LR))?;
    let numel: usize = params.iter().map(Parameter::numel).sum();
    let bar = progress.bar(
        LOGISTIC_STEPS as u64,
        &format!("§1.8 {numel}-parameter model"),
    );
    let mut losses = Vec::with_capacity(LOGISTIC_STEPS);
    for _ in 0..LOGISTIC_STEPS {
        // optimizer.zero_grad(): nothing to do, each backward returns fresh gradients.
        let outputs = model.forward(&x)?; //             outputs = model(X)
        let loss = criterion.forward(&outputs, &y)?; //  loss = criterion(outputs, y)
        losses.push(f64::from(loss.item()?));
        let grads = loss.backward_free()?; //            loss.backward()
        optimizer.step(&grads)?; //                      optimizer.step()
        bar.inc(1);
    }
    bar.finish_and_clear();
    let (final_loss, predictions) = no_grad(|| -> Result<(f64, Vec<f64>)> {
        let p = model.forward(&x)?;
        let loss = f64::from(criterion.forward(&p, &y)?.item()?);
        Ok((loss, p.to_vec().into_iter().map(f64::from).collect()))
    })?;
    let correct = predictions
        .iter()
        .zip(&BUY_Y)
        .filter(|&(&p, &y)| (p >= 0.5) == (y == 1.0))
        .count();
    let final_parameters = named
        .iter()
        .map(|(n, p)| {
            (
                n.clone(),
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
        model: name.to_string(),
        parameters: numel,
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
    // model = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    let model = Sequential::new()
        .push(init_layer(&reference.logistic, "weight", "bias")?)
        .push(Sigmoid);
    let logistic = train(
        "Sequential(Linear(2, 1), Sigmoid)",
        &model,
        &reference.logistic,
        progress,
    )?;
    let model = Sequential::new()
        .push(init_layer(&reference.mlp, "0.weight", "0.bias")?)
        .push(Sigmoid)
        .push(init_layer(&reference.mlp, "2.weight", "2.bias")?)
        .push(Sigmoid);
    let mlp = train(
        "Sequential(Linear(2, 100), Sigmoid, Linear(100, 1), Sigmoid)",
        &model,
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
