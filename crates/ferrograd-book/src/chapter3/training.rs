//! §3.8 training the RNN language model: the notebook's loop (AdamW, cross-entropy that
//! ignores padding) on a 90/10 line split of the corpus through `ferrograd-lm`'s training
//! program, held-out perplexity every N steps and at the end, greedy continuations of
//! prompts, checkpoints with exact resume, a perplexity curve, and an export of everything
//! the run trained on for the PyTorch comparison (`scripts/reference/rnn_compare.py`).

use std::fmt::Write as _;
use std::path::PathBuf;

use ferrograd::lm::rnn::{RnnConfig, RnnLanguageModel};
use ferrograd::nn::Module;
use ferrograd::tensor::Rng;
use serde::Serialize;

pub use super::settings::Settings;
use crate::chapter2::Corpus;
use crate::error::Result;
pub use crate::lm_run::EvalPoint;
use crate::lm_run::{
    CurveStyle, RunData, RunResults, draw_curve, export_run_data, report_run, train,
};
use crate::plot::Figures;
use crate::progress::Progress;

/// What the training section did.
#[derive(Debug, Clone, Serialize)]
pub struct Training {
    /// The corpus.
    pub corpus: String,
    /// The tokenizer.
    pub tokenizer: String,
    /// The settings.
    pub settings: Settings,
    /// Model parameters.
    pub parameters: usize,
    /// The run: steps, losses, evaluations, speed, samples.
    #[serde(flatten)]
    pub run: RunResults,
    /// The checkpoint file, if written.
    pub checkpoint: Option<PathBuf>,
    /// The export folder, if written.
    pub export: Option<PathBuf>,
}

/// Trains the chapter's RNN language model on `corpus` (see the module docs).
///
/// # Errors
/// Corpus, tokenizer, model, checkpoint and export errors.
pub fn training(corpus: &Corpus, settings: &Settings, progress: &Progress) -> Result<Training> {
    let run = &settings.run;
    let mut data = RunData::new(corpus, run)?;
    let eos = data.tokenizer.eos;
    let config = RnnConfig {
        vocab_size: data.tokenizer.vocab_size(),
        emb_dim: settings.emb_dim,
        num_layers: settings.num_layers,
        pad_index: Some(eos as usize),
    };
    let model = RnnLanguageModel::<f32>::new(&config, &mut Rng::new(run.seed))?;
    if let Some(dir) = &run.export {
        let prompts: Vec<Vec<u32>> = run
            .prompts
            .iter()
            .map(|p| {
                let mut ids = data.tokenizer.encoder().encode(p);
                ids.truncate(run.max_new_tokens.max(1));
                ids
            })
            .collect();
        let model_config = serde_json::json!({
            "vocab_size": config.vocab_size,
            "emb_dim": settings.emb_dim,
            "num_layers": settings.num_layers,
            "prompts": prompts,
            "max_new_tokens": run.max_new_tokens,
            "eos": eos,
        });
        export_run_data(dir, &data, run, &model, model_config)?;
    }
    let results = train(&model, &mut data, run, progress)?;
    Ok(Training {
        corpus: corpus.name.clone(),
        tokenizer: data.tokenizer.describe(),
        settings: settings.clone(),
        parameters: model.num_parameters(),
        run: results,
        checkpoint: run.checkpoint.clone(),
        export: run.export.clone(),
    })
}

/// Writes §3.8's report.
pub fn report(r: &Training, t: &mut String) {
    let s = &r.settings;
    let _ = writeln!(
        t,
        "{} with {}; E = {}, {} layers, {} parameters; batches of {}, lines cut to {} tokens, AdamW lr {}",
        r.corpus,
        r.tokenizer,
        s.emb_dim,
        s.num_layers,
        r.parameters,
        s.run.batch_size,
        s.run.max_length,
        s.run.lr
    );
    report_run(&r.run, &s.run, r.export.as_deref(), "rnn_compare.py", t);
}

/// Draws the training loss and the held-out loss as perplexities against the step
/// (`rnn_perplexity.png`, log scale).
///
/// # Errors
/// When the figure cannot be written.
pub fn draw_perplexity(r: &Training, figures: &Figures) -> Result<PathBuf> {
    draw_curve(
        &r.run,
        figures,
        "rnn_perplexity.png",
        "§3.8 RNN language model: perplexity while training",
        CurveStyle::Perplexity,
    )
}
