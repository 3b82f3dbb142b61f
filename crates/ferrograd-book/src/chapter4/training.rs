//! §4.9 training the decoder language model: the run chapter 3 uses too ([`crate::lm_run`]:
//! one example per line, a 90/10 line split, AdamW, a loss that ignores padding,
//! held-out perplexity, greedy continuations, checkpoints with exact resume) with the
//! decoder in place of the RNN; loss and perplexity curves, an attention map of a sample
//! sentence, and an export of everything the run trained on for the PyTorch comparison
//! (`scripts/reference/decoder_compare.py`).

use std::fmt::Write as _;
use std::path::PathBuf;

use ferrograd::lm::{DecoderConfig, DecoderLanguageModel};
use ferrograd::nn::Module;
use ferrograd::tensor::{IdTensor, Rng};
use plotters::prelude::*;
use serde::Serialize;

use crate::chapter2::Corpus;
use crate::error::Result;
use crate::lm_run::{
    CurveStyle, RunData, RunResults, RunSettings, Tokenizer, draw_curve, export_run_data,
    report_run, train,
};
use crate::plot::{self, Figures};
use crate::progress::Progress;

/// Settings of the model, data and training sections: the decoder's sizes and the run's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Embedding size d.
    pub emb_dim: usize,
    /// Attention heads per block.
    pub num_heads: usize,
    /// Decoder blocks.
    pub num_blocks: usize,
    /// The sentence whose attention map is drawn.
    pub attention_sentence: String,
    /// The tokenizer, batches, optimiser, evaluation, checkpoints and export.
    #[serde(flatten)]
    pub run: RunSettings,
}

impl Default for Settings {
    /// Small and quick: d = 64, 4 heads, 2 blocks, and [`RunSettings::default`] (a
    /// 2,000-id BPE trained on the corpus, batches of 64, one epoch).
    fn default() -> Self {
        Self {
            emb_dim: 64,
            num_heads: 4,
            num_blocks: 2,
            attention_sentence: "The king is dead; long live the king.".into(),
            run: RunSettings::default(),
        }
    }
}

impl Settings {
    /// The notebook's sizes: d = 128, 8 heads, 2 blocks, and [`RunSettings::full`]
    /// (GPT-2's tokenizer, batches of 128, 30 tokens a line, AdamW lr 1e-3, one epoch,
    /// 50 new tokens per prompt).
    pub fn full() -> Self {
        Self {
            emb_dim: 128,
            num_heads: 8,
            run: RunSettings::full(),
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
    /// The run: steps, losses, evaluations, speed, samples.
    #[serde(flatten)]
    pub run: RunResults,
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
    let run = &settings.run;
    let mut data = RunData::new(corpus, run)?;
    let eos = data.tokenizer.eos;
    // The embedding's pad row stays zero.
    let config = settings.decoder_config(data.tokenizer.vocab_size(), Some(eos as usize));
    let model = DecoderLanguageModel::<f32>::new(&config, &mut Rng::new(run.seed))?;
    if let Some(dir) = &run.export {
        let model_config = serde_json::json!({
            "model": "decoder",
            "vocab_size": config.vocab_size,
            "emb_dim": config.emb_dim,
            "num_heads": config.num_heads,
            "num_blocks": config.num_blocks,
            "pad_idx": eos,
            "eval_every": run.eval_every.unwrap_or(0),
        });
        export_run_data(dir, &data, run, &model, model_config)?;
    }
    let results = train(&model, &mut data, run, progress)?;
    let (attention_tokens, attention_map) =
        attention_map(&model, &data.tokenizer, &settings.attention_sentence)?;
    Ok(Training {
        corpus: corpus.name.clone(),
        tokenizer: data.tokenizer.describe(),
        settings: settings.clone(),
        parameters: model.num_parameters(),
        run: results,
        attention_tokens,
        attention_map,
        checkpoint: run.checkpoint.clone(),
        export: run.export.clone(),
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
        s.run.batch_size,
        s.run.max_length,
        s.run.lr
    );
    report_run(&r.run, &s.run, r.export.as_deref(), "decoder_compare.py", t);
}

/// Draws the training loss (averaged over windows) and the held-out loss against the
/// step (`decoder_loss.png`), and the same as perplexities on a log scale
/// (`decoder_perplexity.png`).
///
/// # Errors
/// When a figure cannot be written.
pub fn draw_curves(r: &Training, figures: &Figures) -> Result<Vec<PathBuf>> {
    Ok(vec![
        draw_curve(
            &r.run,
            figures,
            "decoder_loss.png",
            "§4.9 decoder language model: loss while training",
            CurveStyle::Loss,
        )?,
        draw_curve(
            &r.run,
            figures,
            "decoder_perplexity.png",
            "§4.9 decoder language model: perplexity while training",
            CurveStyle::Perplexity,
        )?,
    ])
}

/// Draws the attention map (`decoder_attention.png`): query tokens down, key tokens
/// across, brighter = more weight; the upper triangle (the future) is zero.
///
/// # Errors
/// When the figure cannot be written.
pub fn draw_attention(r: &Training, figures: &Figures) -> Result<PathBuf> {
    let path = figures.path("decoder_attention.png");
    let n = r.attention_tokens.len();
    plot::draw_png(&path, (800, 800), |root| {
        let mut builder = ChartBuilder::on(root);
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
        Ok(())
    })?;
    Ok(path)
}
