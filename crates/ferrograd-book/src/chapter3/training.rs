//! §3.8 training the RNN language model: the notebook's loop (AdamW, cross-entropy that
//! ignores padding) on a 90/10 line split of the corpus through `ferrograd-lm`'s training
//! program, held-out perplexity every N steps and at the end, greedy continuations of
//! prompts, checkpoints with exact resume, a perplexity curve, and an export of everything
//! the run trained on for the PyTorch comparison (`scripts/reference/rnn_compare.py`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ferrograd::data::text::{LineBatches, LineOptions, Padding, TokenizedLines};
use ferrograd::lm::rnn::{RnnConfig, RnnLanguageModel};
use ferrograd::lm::train::{Sampling, TrainConfig, Trainer, evaluate};
use ferrograd::nn::Module;
use ferrograd::tensor::{IdTensor, Rng, Tensor, io};
use plotters::prelude::*;
use serde::Serialize;

use super::Tokenizer;
use super::data::train_text;
pub use super::settings::Settings;
use crate::chapter2::Corpus;
use crate::error::{BookError, Result};
use crate::lm_loop::{LoopOutcome, train_with_progress};
use crate::plot::{self, Figures, palette, size};
use crate::progress::Progress;

/// One held-out evaluation.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EvalPoint {
    /// Steps done.
    pub step: u64,
    /// Loss per scored token.
    pub loss: f64,
    /// exp(loss).
    pub perplexity: f64,
    /// Sentences evaluated.
    pub sentences: usize,
}

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
    /// Training / held-out examples.
    pub examples: (usize, usize),
    /// Steps done (including any before a resume).
    pub steps: u64,
    /// The step this run resumed from, if it did.
    pub resumed_from: Option<u64>,
    /// Every step's loss `(step, loss)`.
    pub losses: Vec<(u64, f64)>,
    /// Periodic evaluations (at most `eval_max_sentences` sentences).
    pub evals: Vec<EvalPoint>,
    /// The final evaluation on every held-out example.
    pub final_eval: EvalPoint,
    /// Scored tokens trained on by this run, and its training time in seconds.
    pub tokens: usize,
    /// Seconds of training steps.
    pub seconds: f64,
    /// Tokens per second of training steps.
    pub tokens_per_second: f64,
    /// Greedy continuations `(prompt, text)`.
    pub samples: Vec<(String, String)>,
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
    let tokenizer = Tokenizer::new(
        settings.tokenizer,
        &train_text(&corpus.text, settings.train_fraction),
    )?;
    let v = tokenizer.vocab_size();
    let options = LineOptions::new(settings.max_length).vocab_limit(v);
    let lines =
        TokenizedLines::from_text(&corpus.text, tokenizer.encoder(), &options, &corpus.name)?;
    super::data::require_examples(&lines)?;
    let (train, valid) = lines.split_by_lines(settings.train_fraction)?;
    if valid.is_empty() {
        return Err(BookError::Input(format!(
            "{}: no held-out lines after the first {:.0}% (the corpus is too small)",
            corpus.name,
            settings.train_fraction * 100.0
        )));
    }
    let examples = (train.len(), valid.len());
    // The notebook's convention: the pad token (GPT-2's end of text) pads inputs and
    // targets, and the loss ignores it.
    let padding = Padding::same(tokenizer.eos);
    let mut batches = LineBatches::new(train, settings.batch_size, padding)?.shuffle(settings.seed);
    let valid_batches = LineBatches::new(valid.clone(), settings.batch_size, padding)?.all()?;
    let config = RnnConfig {
        vocab_size: v,
        emb_dim: settings.emb_dim,
        num_layers: settings.num_layers,
        pad_index: Some(tokenizer.eos as usize),
    };
    let model = RnnLanguageModel::<f32>::new(&config, &mut Rng::new(settings.seed))?;
    let train_config = TrainConfig {
        lr: settings.lr,
        epochs: settings.epochs,
        max_steps: settings.max_steps,
        eval_every: settings.eval_every,
        eval_max_sentences: Some(settings.eval_max_sentences),
        checkpoint_every: settings.checkpoint.as_ref().and(settings.checkpoint_every),
        checkpoint_path: settings.checkpoint.clone(),
        ignore_index: i64::from(tokenizer.eos),
        ..TrainConfig::default()
    };
    let export = match &settings.export {
        Some(dir) => Some(export(dir, settings, &tokenizer, &batches, &valid, &model)?),
        None => None,
    };
    let mut trainer = Trainer::new(&model, train_config)?;
    let sampling = Sampling {
        encoder: tokenizer.encoder(),
        prompts: &settings.prompts,
        max_new_tokens: settings.max_new_tokens,
        eos: Some(tokenizer.eos),
    };
    let LoopOutcome {
        summary,
        resumed_from,
    } = train_with_progress(
        &mut trainer,
        &mut batches,
        &valid_batches,
        settings.checkpoint.as_deref().filter(|_| settings.resume),
        settings.epochs,
        settings.max_steps,
        &sampling,
        progress,
    )?;
    // The final evaluation on every held-out sentence.
    let last = evaluate(
        &model,
        &valid_batches,
        i64::from(tokenizer.eos),
        None,
        trainer.steps(),
    )?;
    let history = trainer.history();
    let point = |e: &ferrograd::lm::train::EvalRecord| EvalPoint {
        step: e.step,
        loss: e.loss,
        perplexity: e.perplexity,
        sentences: e.sentences,
    };
    Ok(Training {
        corpus: corpus.name.clone(),
        tokenizer: tokenizer.describe(),
        settings: settings.clone(),
        parameters: model.num_parameters(),
        examples,
        steps: trainer.steps(),
        resumed_from,
        losses: history.steps.iter().map(|s| (s.step, s.loss)).collect(),
        evals: history.evals.iter().map(point).collect(),
        final_eval: point(&last),
        tokens: summary.tokens_this_run,
        seconds: summary.train_seconds,
        tokens_per_second: summary.tokens_per_second(),
        samples: summary.samples,
        checkpoint: settings.checkpoint.clone(),
        export,
    })
}

/// Writes `data.safetensors` (token ids and offsets of the training and held-out
/// examples, and the example indices of every training batch in order, −1 filling a short
/// last batch), `init.safetensors` (the initial weights under the notebook's names) and
/// `config.json` into `dir`.
fn export(
    dir: &Path,
    settings: &Settings,
    tokenizer: &Tokenizer,
    batches: &LineBatches,
    valid: &TokenizedLines,
    model: &RnnLanguageModel,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let flat = |lines: &TokenizedLines| -> Result<(IdTensor, IdTensor)> {
        let mut tokens = Vec::new();
        let mut offsets = vec![0i64];
        for i in 0..lines.len() {
            tokens.extend(lines.example(i).iter().map(|&t| i64::from(t)));
            offsets.push(tokens.len() as i64);
        }
        let n = tokens.len();
        let m = offsets.len();
        Ok((IdTensor::new(tokens, &[n])?, IdTensor::new(offsets, &[m])?))
    };
    let (train_tokens, train_offsets) = flat(batches.corpus())?;
    let (valid_tokens, valid_offsets) = flat(valid)?;
    let per_epoch = batches.num_batches() as u64;
    let steps = settings
        .max_steps
        .unwrap_or(settings.epochs * per_epoch)
        .min(settings.epochs * per_epoch);
    let b = settings.batch_size;
    let mut order = Vec::with_capacity(steps as usize * b);
    'epochs: for epoch in 0..settings.epochs {
        for batch in batches.batch_indices(epoch) {
            if order.len() as u64 >= steps * b as u64 {
                break 'epochs;
            }
            order.extend(batch.iter().map(|&i| i as i64));
            order.extend(std::iter::repeat_n(-1i64, b - batch.len()));
        }
    }
    let rows = order.len() / b;
    let order = IdTensor::new(order, &[rows, b])?;
    io::save_ids_safetensors(
        dir.join("data.safetensors"),
        &[
            ("train.tokens", &train_tokens),
            ("train.offsets", &train_offsets),
            ("valid.tokens", &valid_tokens),
            ("valid.offsets", &valid_offsets),
            ("order", &order),
        ],
    )?;
    let params: Vec<(String, Tensor)> = model
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.tensor()))
        .collect();
    let refs: Vec<(&str, &Tensor)> = params.iter().map(|(n, t)| (n.as_str(), t)).collect();
    io::save_safetensors(dir.join("init.safetensors"), &refs)?;
    let prompts: Vec<Vec<u32>> = settings
        .prompts
        .iter()
        .map(|p| {
            let mut ids = tokenizer.encoder().encode(p);
            ids.truncate(settings.max_new_tokens.max(1));
            ids
        })
        .collect();
    let config = serde_json::json!({
        "vocab_size": tokenizer.vocab_size(),
        "emb_dim": settings.emb_dim,
        "num_layers": settings.num_layers,
        "pad_input": tokenizer.eos,
        "pad_target": tokenizer.eos,
        "ignore_index": tokenizer.eos,
        "lr": settings.lr,
        "betas": [0.9, 0.999],
        "eps": 1e-8,
        "weight_decay": 0.01,
        "batch_size": b,
        "steps": rows,
        "seed": settings.seed,
        "tokenizer": tokenizer.describe(),
        "prompts": prompts,
        "max_new_tokens": settings.max_new_tokens,
        "eos": tokenizer.eos,
    });
    let text =
        serde_json::to_string_pretty(&config).map_err(|e| BookError::Input(e.to_string()))?;
    std::fs::write(dir.join("config.json"), text)?;
    Ok(dir.to_path_buf())
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
        s.batch_size,
        s.max_length,
        s.lr
    );
    let _ = writeln!(
        t,
        "  {} training / {} held-out lines (first {:.0}% / rest); seed {}",
        r.examples.0,
        r.examples.1,
        s.train_fraction * 100.0,
        s.seed
    );
    if let Some(from) = r.resumed_from {
        let _ = writeln!(t, "  resumed from the checkpoint at step {from}");
    }
    let _ = writeln!(
        t,
        "  {} steps; {} tokens in {:.1} s of training steps = {:.0} tokens/s",
        r.steps, r.tokens, r.seconds, r.tokens_per_second
    );
    for e in &r.evals {
        let _ = writeln!(
            t,
            "  step {:>5}: held-out loss {:.4}, perplexity {:.2} ({} sentences)",
            e.step, e.loss, e.perplexity, e.sentences
        );
    }
    let f = &r.final_eval;
    let _ = writeln!(
        t,
        "final: held-out loss {:.4}, perplexity {:.2} on all {} held-out sentences",
        f.loss, f.perplexity, f.sentences
    );
    for (prompt, text) in &r.samples {
        let _ = writeln!(t, "  {prompt:?} → {text:?}");
    }
    if let Some(dir) = &r.export {
        let _ = writeln!(
            t,
            "exported the run for PyTorch: python3 scripts/reference/rnn_compare.py {}",
            dir.display()
        );
    }
}

/// Draws the training loss (as a perplexity, averaged between evaluations) and the
/// held-out perplexity against the step (`rnn_perplexity.png`, log scale).
///
/// # Errors
/// When the figure cannot be written.
pub fn draw_perplexity(r: &Training, figures: &Figures) -> Result<PathBuf> {
    let path = figures.path("rnn_perplexity.png");
    {
        let root = plot::canvas(&path, size::CHART)?;
        // Training loss averaged over windows of ~1/50 of the run.
        let window = (r.losses.len() / 50).max(1);
        let train: Vec<(f64, f64)> = r
            .losses
            .chunks(window)
            .map(|c| {
                let step = c[c.len() - 1].0 as f64;
                let mean = c.iter().map(|x| x.1).sum::<f64>() / c.len() as f64;
                (step, mean.exp().log10())
            })
            .collect();
        let mut held: Vec<(f64, f64)> = r
            .evals
            .iter()
            .map(|e| (e.step as f64, e.perplexity.log10()))
            .collect();
        held.push((r.final_eval.step as f64, r.final_eval.perplexity.log10()));
        let all = train.iter().chain(&held);
        let lo = all.clone().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = all.map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() && hi.is_finite() {
            (lo, hi)
        } else {
            (0.0, 1.0)
        };
        let steps = r.steps.max(1) as f64;
        let mut chart = plot::chart(
            &root,
            figures,
            "§3.8 RNN language model: perplexity while training",
            0.0..steps * 1.02,
            (lo - 0.05)..(hi + 0.05),
        )?;
        plot::mesh_log_y(&mut chart, figures, "step", "perplexity")?;
        chart
            .draw_series(LineSeries::new(train, palette::BLUE.stroke_width(2)))?
            .label("training batches (exp of the mean loss)")
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
        root.present()?;
    }
    Ok(path)
}
