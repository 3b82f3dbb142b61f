//! §3.1–3.3 the Elman RNN and §3.4–3.6 the RNN language model: a small recurrence worked
//! step by step, the fused forward/backward over time checked against the step-by-step
//! composition and finite differences, and the language model's parameters.

use std::fmt::Write as _;

use ferrograd::lm::rnn::{RnnConfig, RnnLanguageModel};
use ferrograd::lm::train::CausalLm;
use ferrograd::nn::{ElmanCell, ElmanRnn, Forward, Module, gradcheck_module};
use ferrograd::tensor::{GradcheckOptions, IdTensor, Rng, Tensor, no_grad};
use serde::Serialize;

use super::training::Settings;
use crate::error::Result;

/// §3.1–3.3's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct ElmanExample {
    /// The inputs x_1…x_4 (2 features each).
    pub inputs: Vec<Vec<f64>>,
    /// W (input → hidden, `[2, 3]`), U (hidden → hidden, `[3, 3]`), b (`[3]`).
    pub w: Vec<Vec<f64>>,
    /// U.
    pub u: Vec<Vec<f64>>,
    /// b.
    pub b: Vec<f64>,
    /// h_1…h_4 of the layer.
    pub hidden: Vec<Vec<f64>>,
    /// h_4 of a second layer stacked on the first.
    pub stacked_last: Vec<f64>,
    /// Largest difference between the fused layers and the step-by-step composition
    /// (values and every gradient) on a random 2-layer RNN in f64.
    pub fused_vs_composed: f64,
    /// Largest |autodiff − finite difference| / (atol + rtol·|fd|) over the parameters of
    /// that RNN (≤ 1 passes).
    pub gradcheck_ratio: f64,
    /// Parameters of the notebook's 2-layer, 128-unit Elman RNN.
    pub notebook_rnn_parameters: usize,
}

fn rows(t: &Tensor<f64>) -> Vec<Vec<f64>> {
    t.to_vec2().unwrap_or_default()
}

/// The Elman recurrence on a 4-step sequence by a 2-feature → 3-unit layer with fixed
/// weights, a second layer on top, and the checks of the fused implementation.
///
/// # Errors
/// Never with these fixed shapes; the type is shared with the other sections.
pub fn elman_rnn() -> Result<ElmanExample> {
    let w = Tensor::<f64>::from([[0.5, -0.3, 0.2], [0.1, 0.4, -0.6]]);
    let u = Tensor::<f64>::from([[0.3, 0.1, 0.0], [-0.2, 0.5, 0.1], [0.0, 0.2, 0.4]]);
    let b = Tensor::<f64>::from([0.1, 0.0, -0.1]);
    let x = Tensor::<f64>::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0, -1.0, 0.5], &[1, 4, 2])?;
    let cell = ElmanCell::from_tensors(w.clone(), u.clone(), b.clone())?;
    let one = ElmanRnn::from_cells(vec![cell.clone()])?;
    let out = one.forward(&x)?;
    let hidden = rows(&out.output.reshape(&[4, 3])?);
    let top = ElmanCell::from_tensors(u.clone(), u.clone(), b.clone())?;
    let two = ElmanRnn::from_cells(vec![cell, top])?;
    let stacked = two.forward(&x)?;
    let stacked_last = stacked.hidden.select(0, 1)?.to_vec();
    // The fused layers against the composition, and against finite differences.
    let mut rng = Rng::new(3);
    let model = ElmanRnn::<f64>::new(4, 5, 2, &mut rng)?;
    let xs = Tensor::<f64>::randn(&[3, 6, 4], 0.0, 1.0, &mut rng).set_requires_grad(true);
    let fused = model.forward(&xs)?;
    let composed = model.forward_composed(&xs, None)?;
    let diff = |a: &Tensor<f64>, b: &Tensor<f64>| {
        a.to_vec()
            .iter()
            .zip(b.to_vec())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    };
    let mut worst = diff(&fused.output, &composed.output);
    let gf = fused.output.sum_all().backward()?;
    let gc = composed.output.sum_all().backward()?;
    for p in model.parameters() {
        if let (Some(a), Some(b)) = (gf.get(&p), gc.get(&p)) {
            worst = worst.max(diff(a, b));
        }
    }
    let report = gradcheck_module(
        &model,
        || Ok(model.forward(&xs)?.output),
        &GradcheckOptions::default(),
    )?;
    Ok(ElmanExample {
        inputs: rows(&x.reshape(&[4, 2])?),
        w: rows(&w),
        u: rows(&u),
        b: b.to_vec(),
        hidden,
        stacked_last,
        fused_vs_composed: worst,
        gradcheck_ratio: report.worst_ratio,
        notebook_rnn_parameters: ElmanRnn::<f32>::new(128, 128, 2, &mut Rng::new(0))?
            .num_parameters(),
    })
}

fn fmt(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:+.4}")).collect();
    format!("[{}]", items.join(", "))
}

/// Writes §3.1–3.3's report.
pub fn report_elman(e: &ElmanExample, t: &mut String) {
    let _ = writeln!(t, "one layer, 2 inputs → 3 units, h_0 = 0:");
    for (i, (x, h)) in e.inputs.iter().zip(&e.hidden).enumerate() {
        let _ = writeln!(t, "  t = {}: x = {}  h = {}", i + 1, fmt(x), fmt(h));
    }
    let _ = writeln!(
        t,
        "  a second layer on top (its inputs are these h): h_4 = {}",
        fmt(&e.stacked_last)
    );
    let _ = writeln!(
        t,
        "fused forward/backward over time vs the step-by-step graph: max difference {:.1e}",
        e.fused_vs_composed
    );
    let _ = writeln!(
        t,
        "gradient check against finite differences (f64): worst ratio {:.2e} (≤ 1 passes)",
        e.gradcheck_ratio
    );
    let _ = writeln!(
        t,
        "the notebook's RNN (2 layers of 128): {} parameters = 2·(2·128² + 128)",
        e.notebook_rnn_parameters
    );
}

/// §3.4–3.6's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct ModelNumbers {
    /// `(V, parameters)` for the notebook's sizes: 257·V + 65,792.
    pub counts: Vec<(usize, usize)>,
    /// The model this run builds: vocabulary, embedding size, layers, parameters.
    pub this_run: (usize, usize, usize, usize),
    /// Parameter names and shapes, as the notebook's `state_dict`.
    pub names: Vec<(String, Vec<usize>)>,
    /// Logits shape for a batch of 2 sequences of 5 ids.
    pub logits_shape: Vec<usize>,
    /// The loss of a random batch at initialisation, and ln V for comparison.
    pub initial_loss: (f64, f64),
}

/// Parameter counts of the notebook's model and the shapes of one forward pass.
///
/// # Errors
/// Invalid settings.
pub fn model(settings: &Settings) -> Result<ModelNumbers> {
    let counts = [1000, 8192, 32_011, 50_257]
        .iter()
        .map(|&v| (v, RnnConfig::new(v).num_parameters()))
        .collect();
    let v = settings.run.tokenizer.model_vocab_size()?;
    let config = RnnConfig {
        vocab_size: v,
        emb_dim: settings.emb_dim,
        num_layers: settings.num_layers,
        pad_index: Some(0),
    };
    let model = RnnLanguageModel::<f32>::new(&config, &mut Rng::new(settings.run.seed))?;
    let names = model
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.shape()))
        .collect();
    let mut rng = Rng::new(1);
    let ids: Vec<i64> = (0..2 * 6).map(|_| 1 + rng.below(v - 1) as i64).collect();
    let input = IdTensor::new(
        ids.chunks(6).flat_map(|c| c[..5].to_vec()).collect(),
        &[2, 5],
    )?;
    let target = IdTensor::new(
        ids.chunks(6).flat_map(|c| c[1..].to_vec()).collect(),
        &[2, 5],
    )?;
    let logits_shape = no_grad(|| model.forward(&input))?.shape().to_vec();
    let loss = no_grad(|| model.loss(&input, &target, -100))?.item()?;
    Ok(ModelNumbers {
        counts,
        this_run: (
            v,
            settings.emb_dim,
            settings.num_layers,
            model.num_parameters(),
        ),
        names,
        logits_shape,
        initial_loss: (f64::from(loss), (v as f64).ln()),
    })
}

/// Writes §3.4–3.6's report.
pub fn report_model(m: &ModelNumbers, t: &mut String) {
    let _ = writeln!(
        t,
        "Embedding(V, 128, pad) → Elman RNN (2 × 128) → Linear(128, V): 257·V + 65,792 parameters"
    );
    for (v, n) in &m.counts {
        let _ = writeln!(t, "  V = {v:>6}: {n:>10} parameters");
    }
    let (v, e, l, n) = m.this_run;
    let _ = writeln!(
        t,
        "this run's model: V = {v}, E = {e}, {l} layers: {n} parameters"
    );
    for (name, shape) in &m.names {
        let _ = writeln!(t, "  {name:<22} {shape:?}");
    }
    let _ = writeln!(
        t,
        "ids [2, 5] → logits {:?}; loss of a random batch at initialisation {:.3} (ln V = {:.3})",
        m.logits_shape, m.initial_loss.0, m.initial_loss.1
    );
}

#[cfg(test)]
mod tests {
    use crate::lm_run::TokenizerChoice;

    #[test]
    fn no_model_is_built_for_a_bpe_smaller_than_its_bytes() {
        let mut settings = crate::chapter3::settings::Settings::default();
        settings.run.tokenizer = TokenizerChoice::Trained(1);
        assert!(super::model(&settings).is_err());
    }
}
