//! Chapter 3 of the book: recurrent neural networks — §3.1–3.3 the Elman RNN, §3.4–3.6 the
//! RNN language model, §3.7–3.8 the text pipeline and the training loop. Each section has a
//! function computing its numbers into a struct (and, for training, its figure);
//! [`run`] runs one section end to end for the program.
//!
//! The sections that learn from text use the built-in Shakespeare (chapter 2's
//! [`Corpus`]) or any text file (`--corpus FILE`), one example
//! per line as the book's notebook reads its news corpus. By default the settings are small
//! (a byte-level BPE of 2,000 tokens trained on the corpus, 64-dimensional embeddings,
//! batches of 64): the whole chapter runs in well under a minute. `--full` uses the
//! notebook's sizes with GPT-2's tokenizer.

pub mod data;
pub mod rnn;
pub mod settings;
pub mod training;

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::json;

use crate::chapter2::Corpus;
use crate::error::Result;
use crate::lm_run::{RunArgs, positive};
use crate::plot::Figures;
use crate::progress::Progress;

pub use crate::lm_run::{GPT2_EOS, Tokenizer, TokenizerChoice};

/// The sections of chapter 3, in the book's order, as the program's subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::Subcommand)]
pub enum Section {
    /// §3.1–3.3 the Elman recurrence step by step; fused vs step-by-step gradients
    ElmanRnn,
    /// §3.4–3.6 the RNN language model: parameters (257·V + 65,792), shapes, initial loss
    Model,
    /// §3.7 one example per line, digits to ###, truncation, padded batches
    Data,
    /// §3.8 training with AdamW, held-out perplexity, generation, checkpoints, figure
    Training,
}

impl Section {
    /// Every section, in order.
    pub const ALL: [Section; 4] = [
        Section::ElmanRnn,
        Section::Model,
        Section::Data,
        Section::Training,
    ];

    /// The subcommand that runs this section.
    pub fn name(self) -> &'static str {
        match self {
            Section::ElmanRnn => "elman-rnn",
            Section::Model => "model",
            Section::Data => "data",
            Section::Training => "training",
        }
    }

    /// A one-line title with the book's section numbers.
    pub fn title(self) -> &'static str {
        match self {
            Section::ElmanRnn => "§3.1–3.3 the Elman RNN: h_t = tanh(x_t·W + h_{t−1}·U + b)",
            Section::Model => {
                "§3.4–3.6 the RNN language model: embedding → 2 Elman layers → linear"
            }
            Section::Data => "§3.7 the text pipeline: one example per line, padded batches",
            Section::Training => "§3.8 training: AdamW, held-out perplexity, greedy generation",
        }
    }
}

/// What a chapter-3 run may be told on the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The corpus file (`None`: the built-in Shakespeare).
    pub corpus: Option<PathBuf>,
    /// Training (and data) settings.
    pub training: training::Settings,
}

/// Chapter 3's command-line options (shared by every section): the RNN's sizes and the
/// run's options.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Embedding and hidden size
    #[arg(long, global = true, value_name = "E", help_heading = "Model")]
    pub emb_dim: Option<usize>,
    /// Elman layers
    #[arg(long, global = true, help_heading = "Model")]
    pub layers: Option<usize>,
    /// The corpus, tokenizer, batches, optimiser, evaluation, checkpoints and export.
    #[command(flatten, next_help_heading = "Training run")]
    pub run: RunArgs,
    /// The section to run (every section if none is named)
    #[command(subcommand)]
    pub section: Option<Section>,
}

impl Args {
    /// The options these arguments ask for.
    ///
    /// # Errors
    /// A message for contradictory or out-of-range values.
    pub fn options(&self) -> std::result::Result<Options, String> {
        let mut t = if self.run.full {
            training::Settings::full()
        } else {
            training::Settings::default()
        };
        t.run = self.run.apply(t.run)?;
        if let Some(e) = positive("emb-dim", self.emb_dim)? {
            t.emb_dim = e;
        }
        if let Some(l) = positive("layers", self.layers)? {
            t.num_layers = l;
        }
        Ok(Options {
            corpus: self.run.corpus.clone(),
            training: t,
        })
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
    /// The files written.
    pub files: Vec<PathBuf>,
}

/// Runs `section`: computes its numbers, writes its figures and files, formats the report.
///
/// # Errors
/// A [`crate::BookError`] when the corpus cannot be read, a tokenizer or model rejects its input,
/// a checkpoint cannot be used, or a figure cannot be written.
pub fn run(
    section: Section,
    options: &Options,
    figures: &Figures,
    progress: &Progress,
) -> Result<Output> {
    let mut t = String::new();
    let corpus = || Corpus::from_option(options.corpus.as_deref());
    let (json, files) = match section {
        Section::ElmanRnn => {
            let r = rnn::elman_rnn()?;
            rnn::report_elman(&r, &mut t);
            (serde_json::to_value(&r).unwrap_or_default(), Vec::new())
        }
        Section::Model => {
            let r = rnn::model(&options.training)?;
            rnn::report_model(&r, &mut t);
            (serde_json::to_value(&r).unwrap_or_default(), Vec::new())
        }
        Section::Data => {
            let r = data::data(&corpus()?, &options.training)?;
            data::report(&r, &mut t);
            (serde_json::to_value(&r).unwrap_or_default(), Vec::new())
        }
        Section::Training => {
            let r = training::training(&corpus()?, &options.training, progress)?;
            training::report(&r, &mut t);
            let mut files = vec![training::draw_perplexity(&r, figures)?];
            files.extend(r.checkpoint.iter().cloned());
            files.extend(r.export.iter().cloned());
            (serde_json::to_value(&r).unwrap_or_default(), files)
        }
    };
    let _ = write!(t, "");
    Ok(Output {
        section,
        json: json!({
            "section": section.name(),
            "title": section.title(),
            "results": json,
            "files": files,
        }),
        text: t,
        files,
    })
}
