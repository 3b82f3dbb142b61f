//! §4.9 training the decoder language model: chapter 3's pipeline and training program
//! (one example per line, a 90/10 line split, AdamW, a loss that ignores padding,
//! held-out perplexity, greedy continuations, checkpoints with exact resume) with the
//! decoder in place of the RNN; loss and perplexity curves, an attention map of a sample
//! sentence, and an export of everything the run trained on for the PyTorch comparison
//! (`scripts/reference/decoder_compare.py`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ferrograd::data::text::{LineBatches, LineOptions, Padding, TokenizedLines};
use ferrograd::lm::train::{Sampling, TrainConfig, Trainer, evaluate};
use ferrograd::lm::{DecoderConfig, DecoderLanguageModel};
use ferrograd::nn::Module;
use ferrograd::tensor::{IdTensor, Rng, Tensor, io};
use plotters::prelude::*;
use serde::Serialize;

use crate::chapter2::Corpus;
use crate::chapter3::data::train_text;
use crate::chapter3::training::EvalPoint;
use crate::chapter3::{Tokenizer, TokenizerChoice};
use crate::error::{BookError, Result};
use crate::lm_loop::{LoopOutcome, train_with_progress};
use crate::plot::{self, Figures, palette, size};
use crate::progress::Progress;

/// Settings of the model, data and training sections.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// The tokenizer.
    pub tokenizer: TokenizerChoice,
    /// Embedding size d.
    pub emb_dim: usize,
    /// Attention heads per block.
    pub num_heads: usize,
    /// Decoder blocks.
    pub num_blocks: usize,
    /// Examples per batch.
    pub batch_size: usize,
    /// Tokens kept per line (the notebook's context size, 30).
    pub max_length: usize,
    /// AdamW learning rate.
    pub lr: f64,
    /// Passes over the training lines.
    pub epochs: u64,
    /// Stop after this many steps, if set.
    pub max_steps: Option<u64>,
    /// Evaluate and sample every this many steps (and at the end).
    pub eval_every: Option<u64>,
    /// Periodic evaluations use at most this many held-out sentences; the final one all.
    pub eval_max_sentences: usize,
    /// Seed of the initial weights and of the batch order.
    pub seed: u64,
    /// The part of the lines (from the start) that is trained on.
    pub train_fraction: f64,
    /// Prompts continued greedily at each evaluation.
    pub prompts: Vec<String>,
    /// New tokens per prompt.
    pub max_new_tokens: usize,
    /// The sentence whose attention map is drawn.
    pub attention_sentence: String,
    /// Checkpoint file, if any (written every `checkpoint_every` steps and at the end).
    pub checkpoint: Option<PathBuf>,
    /// Steps between checkpoints.
    pub checkpoint_every: Option<u64>,
    /// Continue from `checkpoint` when it exists.
    pub resume: bool,
    /// Write what the run trains on into this folder for
    /// `scripts/reference/decoder_compare.py`.
    pub export: Option<PathBuf>,
}

impl Default for Settings {
    /// Small and quick: a 2,000-id BPE trained on the corpus, d = 64, 4 heads, 2 blocks,
    /// batches of 64, one epoch.
    fn default() -> Self {
        Self {
            tokenizer: TokenizerChoice::Trained(2000),
            emb_dim: 64,
            num_heads: 4,
            num_blocks: 2,
            batch_size: 64,
            max_length: 30,
            lr: 3e-3,
            epochs: 1,
            max_steps: None,
            eval_every: Some(100),
            eval_max_sentences: 1000,
            seed: 42,
            train_fraction: 0.9,
            prompts: ["ROMEO:", "The king", "What is"].map(String::from).to_vec(),
            max_new_tokens: 20,
            attention_sentence: "The king is dead; long live the king.".into(),
            checkpoint: None,
            checkpoint_every: None,
            resume: false,
            export: None,
        }
    }
}

impl Settings {
    /// The notebook's sizes: GPT-2's tokenizer, d = 128, 8 heads, 2 blocks, batches of
    /// 128, 30 tokens a line, AdamW lr 1e-3, one epoch, 50 new tokens per prompt.
    pub fn full() -> Self {
        Self {
            tokenizer: TokenizerChoice::Gpt2,
            emb_dim: 128,
            num_heads: 8,
            batch_size: 128,
            lr: 1e-3,
            max_new_tokens: 50,
            ..Self::default()
        }
    }

    /// The decoder for a vocabulary of `vocab_size` ids: the book's structure (MLP 4d,
    /// RMSNorm ε = 1e-8, interleaved RoPE) at these sizes.
    pub fn decoder_config(&self, vocab_size: usize, pad_idx: Option<usize>) -> DecoderConfig {
        DecoderConfig {
            emb_dim: self.emb_dim,
            num_heads: self.num_heads,
            num_blocks: self.num_blocks,
            mlp_hidden: 4 * self.emb_dim,
            ..DecoderConfig::book(vocab_size, pad_idx)
        }
    }
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
    /// Scored tokens trained on by this run.
    pub tokens: usize,
    /// Seconds of training steps.
    pub seconds: f64,
    /// Tokens per second of training steps.
    pub tokens_per_second: f64,
    /// Greedy continuations `(prompt, text)`.
    pub samples: Vec<(String, String)>,
    /// The attention map: the sentence's tokens and the first block's weights averaged
    /// over the heads (row = query, column = key).
    pub attention_tokens: Vec<String>,
    /// The weights.
    pub attention_map: Vec<Vec<f64>>,
    /// The checkpoint file, if written.
    pub checkpoint: Option<PathBuf>,
    /// The export folder, if written.
    pub export: Option<PathBuf>,
}

/// Trains the chapter's decoder language model on `corpus` (see the module docs).
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
    // targets, the embedding's pad row stays zero, and the loss ignores it.
    let padding = Padding::same(tokenizer.eos);
    let mut batches = LineBatches::new(train, settings.batch_size, padding)?.shuffle(settings.seed);
    let valid_batches = LineBatches::new(valid.clone(), settings.batch_size, padding)?.all()?;
    let config = settings.decoder_config(v, Some(tokenizer.eos as usize));
    let model = DecoderLanguageModel::<f32>::new(&config, &mut Rng::new(settings.seed))?;
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
        Some(dir) => Some(export(
            dir, settings, &tokenizer, &config, &batches, &valid, &model,
        )?),
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
    let (attention_tokens, attention_map) =
        attention_map(&model, &tokenizer, &settings.attention_sentence)?;
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
        attention_tokens,
        attention_map,
        checkpoint: settings.checkpoint.clone(),
        export,
    })
}

/// The first block's attention weights on `sentence`, averaged over the heads.
fn attention_map(
    model: &DecoderLanguageModel,
    tokenizer: &Tokenizer,
    sentence: &str,
) -> Result<(Vec<String>, Vec<Vec<f64>>)> {
    let mut ids = tokenizer.encoder().encode(sentence);
    ids.truncate(model.config().max_positions.min(40));
    if ids.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let tokens = ids
        .iter()
        .map(|&id| {
            tokenizer
                .bpe
                .decode_lossy(&[id])
                .unwrap_or_else(|_| format!("<{id}>"))
        })
        .collect();
    let n = ids.len();
    let input = IdTensor::new(ids.iter().map(|&t| i64::from(t)).collect(), &[1, n])?;
    let w = model.attention_weights(&input, 0)?; // [1, H, n, n]
    let heads = w.shape()[1];
    let data = w.contiguous_data();
    let map = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    (0..heads)
                        .map(|h| f64::from(data[(h * n + i) * n + j]))
                        .sum::<f64>()
                        / heads as f64
                })
                .collect()
        })
        .collect();
    Ok((tokens, map))
}

/// Writes `data.safetensors` (token ids and offsets of the training and held-out
/// examples, and the example indices of every training batch in order, −1 filling a short
/// last batch), `init.safetensors` (the initial weights under the notebook's names) and
/// `config.json` into `dir`.
fn export(
    dir: &Path,
    settings: &Settings,
    tokenizer: &Tokenizer,
    config: &DecoderConfig,
    batches: &LineBatches,
    valid: &TokenizedLines,
    model: &DecoderLanguageModel,
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
    let eval_every = settings.eval_every.unwrap_or(0);
    let json = serde_json::json!({
        "model": "decoder",
        "vocab_size": config.vocab_size,
        "emb_dim": config.emb_dim,
        "num_heads": config.num_heads,
        "num_blocks": config.num_blocks,
        "pad_idx": tokenizer.eos,
        "pad_input": tokenizer.eos,
        "pad_target": tokenizer.eos,
        "ignore_index": tokenizer.eos,
        "lr": settings.lr,
        "betas": [0.9, 0.999],
        "eps": 1e-8,
        "weight_decay": 0.01,
        "batch_size": b,
        "steps": rows,
        "eval_every": eval_every,
        "seed": settings.seed,
        "tokenizer": tokenizer.describe(),
    });
    let text = serde_json::to_string_pretty(&json).map_err(|e| BookError::Input(e.to_string()))?;
    std::fs::write(dir.join("config.json"), text)?;
    Ok(dir.to_path_buf())
}

/// Writes §4.9's report.
pub fn report(r: &Training, t: &mut String) {
    let s = &r.settings;
    let _ = writeln!(
        t,
        "{} with {}; d = {}, {} heads, {} blocks, {} parameters; batches of {}, lines cut to {} tokens, AdamW lr {}",
        r.corpus,
        r.tokenizer,
        s.emb_dim,
        s.num_heads,
        s.num_blocks,
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
            "exported the run for PyTorch: python3 scripts/reference/decoder_compare.py {}",
            dir.display()
        );
    }
}

/// Draws the training loss (averaged over windows) and the held-out loss against the
/// step (`decoder_loss.png`), and the same as perplexities on a log scale
/// (`decoder_perplexity.png`).
///
/// # Errors
/// When a figure cannot be written.
pub fn draw_curves(r: &Training, figures: &Figures) -> Result<Vec<PathBuf>> {
    let window = (r.losses.len() / 50).max(1);
    let train: Vec<(f64, f64)> = r
        .losses
        .chunks(window)
        .map(|c| {
            let step = c[c.len() - 1].0 as f64;
            (step, c.iter().map(|x| x.1).sum::<f64>() / c.len() as f64)
        })
        .collect();
    let mut held: Vec<(f64, f64)> = r.evals.iter().map(|e| (e.step as f64, e.loss)).collect();
    held.push((r.final_eval.step as f64, r.final_eval.loss));
    let mut files = Vec::new();
    for (name, log, caption, y) in [
        (
            "decoder_loss.png",
            false,
            "§4.9 decoder language model: loss while training",
            "cross-entropy (nats per token)",
        ),
        (
            "decoder_perplexity.png",
            true,
            "§4.9 decoder language model: perplexity while training",
            "perplexity",
        ),
    ] {
        // On the log chart y is log10(perplexity) = loss / ln 10.
        let map = |p: &(f64, f64)| {
            if log {
                (p.0, p.1 / std::f64::consts::LN_10)
            } else {
                *p
            }
        };
        let train: Vec<(f64, f64)> = train.iter().map(map).collect();
        let held: Vec<(f64, f64)> = held.iter().map(map).collect();
        let path = figures.path(name);
        {
            let root = plot::canvas(&path, size::CHART)?;
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
                &root,
                figures,
                caption,
                0.0..steps * 1.02,
                (lo - pad)..(hi + pad),
            )?;
            if log {
                plot::mesh_log_y(&mut chart, figures, "step", y)?;
            } else {
                plot::mesh(&mut chart, figures, "step", y)?;
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
            root.present()?;
        }
        files.push(path);
    }
    Ok(files)
}

/// Draws the attention map (`decoder_attention.png`): query tokens down, key tokens
/// across, brighter = more weight; the upper triangle (the future) is zero.
///
/// # Errors
/// When the figure cannot be written.
pub fn draw_attention(r: &Training, figures: &Figures) -> Result<PathBuf> {
    let path = figures.path("decoder_attention.png");
    let n = r.attention_tokens.len();
    {
        let root = plot::canvas(&path, (800, 800))?;
        let mut builder = ChartBuilder::on(&root);
        builder.margin(16);
        if figures.has_text() {
            builder
                .caption(
                    "§4.5 attention of block 1 (mean over heads)",
                    plot::font(22),
                )
                .x_label_area_size(110)
                .y_label_area_size(110);
        }
        let nn = n.max(1) as f64;
        let mut chart = builder.build_cartesian_2d(0.0..nn, nn..0.0)?;
        let label = |v: &f64| {
            let i = v.floor() as usize;
            if (v - v.floor() - 0.5).abs() < 1e-6 {
                r.attention_tokens
                    .get(i)
                    .map(|s| s.replace(' ', "·"))
                    .unwrap_or_default()
            } else {
                String::new()
            }
        };
        let mut mesh = chart.configure_mesh();
        mesh.disable_mesh();
        if figures.has_text() {
            mesh.x_labels(4 * n + 1)
                .y_labels(4 * n + 1)
                .x_label_formatter(&label)
                .y_label_formatter(&label)
                .x_desc("key")
                .y_desc("query")
                .label_style(plot::font(13))
                .axis_desc_style(plot::font(16));
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw()?;
        let max = r
            .attention_map
            .iter()
            .flatten()
            .copied()
            .fold(0.0f64, f64::max)
            .max(1e-12);
        chart.draw_series(r.attention_map.iter().enumerate().flat_map(|(i, row)| {
            row.iter().enumerate().map(move |(j, &w)| {
                let colour = plot::heat((w / max).clamp(0.0, 1.0));
                Rectangle::new(
                    [(j as f64, i as f64), (j as f64 + 1.0, i as f64 + 1.0)],
                    colour.filled(),
                )
            })
        }))?;
        root.present()?;
    }
    Ok(path)
}
