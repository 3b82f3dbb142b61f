//! Chapter 4 of the book: the decoder-only Transformer — §4.2/4.5 causal self-attention,
//! §4.4 rotary position embedding, §4.6–4.7 the decoder language model, §4.8 generation
//! with the KV cache, §4.9 training. Each section has a function computing its numbers
//! into a struct (and, for training and generation, figures); [`run`] runs one section
//! end to end for the program.
//!
//! Training is the run chapter 3 uses too ([`crate::lm_run`]: the built-in Shakespeare or
//! `--corpus FILE`, one example per line) with the decoder in place of the RNN. By
//! default the settings are small (a 2,000-id BPE trained on the corpus, d = 64, 4 heads,
//! 2 blocks, batches of 64): the whole chapter runs in about 10 s. `--full` uses the
//! notebook's sizes with GPT-2's tokenizer.

pub mod sections;
pub mod training;

use std::path::PathBuf;

use serde_json::json;

use crate::chapter2::Corpus;
use crate::error::Result;
use crate::lm_run::{RunArgs, positive};
use crate::plot::Figures;
use crate::progress::Progress;

/// The sections of chapter 4, in the book's order, as the program's subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::Subcommand)]
pub enum Section {
    /// §4.2/4.5 causal self-attention: the book's scores [2, 7, 4, 5] → causal softmax;
    /// the 8-head layer
    Attention,
    /// §4.4 RoPE: the book's q at position 100; lengths and relative positions
    Rope,
    /// §4.6–4.7 the decoder language model: 256·V + 395,008 parameters, shapes, initial loss
    Model,
    /// §4.8 greedy generation with and without the KV cache: same tokens, tokens/s, cost
    /// per position
    Generation,
    /// §4.9 training with AdamW, held-out perplexity, generation, checkpoints, figures
    Training,
}

impl Section {
    /// Every section, in order.
    pub const ALL: [Section; 5] = [
        Section::Attention,
        Section::Rope,
        Section::Model,
        Section::Generation,
        Section::Training,
    ];

    /// The subcommand that runs this section.
    pub fn name(self) -> &'static str {
        match self {
            Section::Attention => "attention",
            Section::Rope => "rope",
            Section::Model => "model",
            Section::Generation => "generation",
            Section::Training => "training",
        }
    }

    /// A one-line title with the book's section numbers.
    pub fn title(self) -> &'static str {
        match self {
            Section::Attention => "§4.2/4.5 causal self-attention: softmax(QKᵀ/√d_h + mask)·V",
            Section::Rope => "§4.4 rotary position embedding: pairs rotated by position·θ_p",
            Section::Model => {
                "§4.6–4.7 the decoder language model: embedding → pre-norm blocks → output"
            }
            Section::Generation => "§4.8 generation with the KV cache",
            Section::Training => "§4.9 training: AdamW, held-out perplexity, greedy generation",
        }
    }
}

/// What a chapter-4 run may be told on the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// The corpus file (`None`: the built-in Shakespeare).
    pub corpus: Option<PathBuf>,
    /// Model, data and training settings.
    pub training: training::Settings,
    /// Prompt length of the generation section.
    pub prompt_tokens: usize,
    /// New tokens of the generation section.
    pub new_tokens: usize,
}

impl Default for Options {
    /// The built-in corpus, small settings, 256 new tokens after a 64-token prompt.
    fn default() -> Self {
        Self {
            corpus: None,
            training: training::Settings::default(),
            prompt_tokens: 64,
            new_tokens: 256,
        }
    }
}

/// Chapter 4's command-line options (shared by every section): the decoder's sizes and
/// the run's options.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Embedding size d
    #[arg(long, global = true, value_name = "D", help_heading = "Model")]
    pub emb_dim: Option<usize>,
    /// Attention heads per block (must divide d)
    #[arg(long, global = true, help_heading = "Model")]
    pub heads: Option<usize>,
    /// Decoder blocks
    #[arg(long, global = true, help_heading = "Model")]
    pub blocks: Option<usize>,
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
        if let Some(h) = positive("heads", self.heads)? {
            t.num_heads = h;
        }
        if let Some(b) = positive("blocks", self.blocks)? {
            t.num_blocks = b;
        }
        if t.emb_dim % t.num_heads != 0 || (t.emb_dim / t.num_heads) % 2 != 0 {
            return Err(format!(
                "--heads {} must divide --emb-dim {} into even head sizes (RoPE rotates pairs)",
                t.num_heads, t.emb_dim
            ));
        }
        // Training feeds max_length − 1 tokens of a line: no more than the model's context.
        let context = t
            .decoder_config(t.run.tokenizer.vocab_size(), None)
            .max_positions;
        if t.run.max_length > context + 1 {
            return Err(format!(
                "--max-length {} is longer than the decoder's context: at most {} (its {context} \
                 positions hold the inputs, one token fewer than a line)",
                t.run.max_length,
                context + 1
            ));
        }
        let mut options = Options::default();
        if let Some(n) = self.run.max_new_tokens {
            if n == 0 {
                return Err("--max-new-tokens must be at least 1".into());
            }
            options.new_tokens = n;
        }
        options.corpus = self.run.corpus.clone();
        options.training = t;
        Ok(options)
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
/// A [`crate::BookError`] when the corpus cannot be read, a tokenizer or model rejects
/// its input, a checkpoint cannot be used, or a figure cannot be written.
pub fn run(
    section: Section,
    options: &Options,
    figures: &Figures,
    progress: &Progress,
) -> Result<Output> {
    let mut t = String::new();
    let value =
        |v: std::result::Result<serde_json::Value, serde_json::Error>| v.unwrap_or_default();
    let (json, files) = match section {
        Section::Attention => {
            let r = sections::attention()?;
            sections::report_attention(&r, &mut t);
            (value(serde_json::to_value(&r)), Vec::new())
        }
        Section::Rope => {
            let r = sections::rope()?;
            sections::report_rope(&r, &mut t);
            (value(serde_json::to_value(&r)), Vec::new())
        }
        Section::Model => {
            let r = sections::model(&options.training)?;
            sections::report_model(&r, &mut t);
            (value(serde_json::to_value(&r)), Vec::new())
        }
        Section::Generation => {
            let r =
                sections::generation(&options.training, options.prompt_tokens, options.new_tokens)?;
            sections::report_generation(&r, &mut t);
            let files = vec![sections::draw_generation(&r, figures)?];
            (value(serde_json::to_value(&r)), files)
        }
        Section::Training => {
            let corpus = Corpus::from_option(options.corpus.as_deref())?;
            let r = training::training(&corpus, &options.training, progress)?;
            training::report(&r, &mut t);
            let mut files = training::draw_curves(&r, figures)?;
            if !r.attention_tokens.is_empty() {
                files.push(training::draw_attention(&r, figures)?);
            }
            files.extend(r.checkpoint.iter().cloned());
            files.extend(r.export.iter().cloned());
            (value(serde_json::to_value(&r)), files)
        }
    };
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
