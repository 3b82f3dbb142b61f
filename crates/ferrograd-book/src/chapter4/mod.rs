//! Chapter 4 of the book: the decoder-only Transformer — §4.2/4.5 causal self-attention,
//! §4.4 rotary position embedding, §4.6–4.7 the decoder language model, §4.8 generation
//! with the KV cache, §4.9 training. Each section has a function computing its numbers
//! into a struct (and, for training and generation, figures); [`run`] runs one section
//! end to end for the program.
//!
//! Training uses chapter 3's text pipeline and training program (the built-in Shakespeare
//! or `--corpus FILE`, one example per line) with the decoder in place of the RNN. By
//! default the settings are small (a 2,000-id BPE trained on the corpus, d = 64, 4 heads,
//! 2 blocks, batches of 64): the whole chapter runs in about a minute. `--full` uses the
//! notebook's sizes with GPT-2's tokenizer.

pub mod sections;
pub mod training;

use std::path::PathBuf;

use serde_json::json;

use crate::chapter2::Corpus;
use crate::chapter3::TokenizerChoice;
use crate::error::Result;
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

/// Chapter 4's command-line options (shared by every section).
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// A UTF-8 text file to learn from (one example per line) instead of the built-in
    /// Shakespeare
    #[arg(long, global = true, value_name = "FILE")]
    pub corpus: Option<PathBuf>,
    /// The notebook's sizes: GPT-2's tokenizer, d = 128, 8 heads, batches of 128, lr 1e-3
    #[arg(long, global = true)]
    pub full: bool,
    /// Tokenizer: `gpt2`, or `bpe` (a byte-level BPE trained on the corpus, see --vocab)
    #[arg(long, global = true, value_name = "NAME")]
    pub tokenizer: Option<String>,
    /// Size of the BPE trained on the corpus (implies --tokenizer bpe)
    #[arg(long, global = true, value_name = "N")]
    pub vocab: Option<usize>,
    /// Embedding size d
    #[arg(long, global = true, value_name = "D")]
    pub emb_dim: Option<usize>,
    /// Attention heads per block (must divide d)
    #[arg(long, global = true)]
    pub heads: Option<usize>,
    /// Decoder blocks
    #[arg(long, global = true)]
    pub blocks: Option<usize>,
    /// Examples per batch
    #[arg(long, global = true)]
    pub batch_size: Option<usize>,
    /// Tokens kept per line (the notebook's context, 30)
    #[arg(long, global = true)]
    pub max_length: Option<usize>,
    /// AdamW learning rate
    #[arg(long, global = true)]
    pub lr: Option<f64>,
    /// Passes over the training lines
    #[arg(long, global = true)]
    pub epochs: Option<u64>,
    /// Stop after this many steps
    #[arg(long, global = true)]
    pub steps: Option<u64>,
    /// Evaluate and sample every N steps (0: only at the end)
    #[arg(long, global = true, value_name = "N")]
    pub eval_every: Option<u64>,
    /// Seed of the weights and of the batch order
    #[arg(long, global = true)]
    pub seed: Option<u64>,
    /// A prompt to continue (repeat for several)
    #[arg(long, global = true)]
    pub prompt: Vec<String>,
    /// New tokens per prompt (training) or after the random prompt (generation)
    #[arg(long, global = true, value_name = "N")]
    pub max_new_tokens: Option<usize>,
    /// Write a checkpoint to FILE (every --checkpoint-every steps and at the end)
    #[arg(long, global = true, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Steps between checkpoints
    #[arg(long, global = true, value_name = "N")]
    pub checkpoint_every: Option<u64>,
    /// Continue from --checkpoint if it exists (exactly where it stopped)
    #[arg(long, global = true)]
    pub resume: bool,
    /// Write what the run trains on to DIR for scripts/reference/decoder_compare.py
    #[arg(long, global = true, value_name = "DIR")]
    pub export: Option<PathBuf>,
    /// Threads for the tensor kernels (default: all cores, or FERROGRAD_NUM_THREADS)
    #[arg(long, global = true)]
    pub threads: Option<usize>,
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
        let mut t = if self.full {
            training::Settings::full()
        } else {
            training::Settings::default()
        };
        match (self.tokenizer.as_deref(), self.vocab) {
            (Some("gpt2"), None) => t.tokenizer = TokenizerChoice::Gpt2,
            (Some("gpt2"), Some(_)) => {
                return Err("--vocab applies to --tokenizer bpe, not gpt2".into());
            }
            (Some("bpe") | None, Some(n)) => t.tokenizer = TokenizerChoice::Trained(n),
            (Some("bpe"), None) => t.tokenizer = TokenizerChoice::Trained(2000),
            (None, None) => {}
            (Some(other), _) => {
                return Err(format!("unknown tokenizer {other:?}: use gpt2 or bpe"));
            }
        }
        let positive =
            |name: &str, v: Option<usize>| -> std::result::Result<Option<usize>, String> {
                match v {
                    Some(0) => Err(format!("--{name} must be at least 1")),
                    other => Ok(other),
                }
            };
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
        if let Some(b) = positive("batch-size", self.batch_size)? {
            t.batch_size = b;
        }
        if let Some(m) = self.max_length {
            if m < 2 {
                return Err("--max-length must be at least 2 (an input and a target)".into());
            }
            t.max_length = m;
        }
        if let Some(lr) = self.lr {
            t.lr = lr;
        }
        if let Some(e) = self.epochs {
            t.epochs = e;
        }
        if self.steps.is_some() {
            t.max_steps = self.steps;
        }
        if let Some(n) = self.eval_every {
            t.eval_every = (n > 0).then_some(n);
        }
        if let Some(s) = self.seed {
            t.seed = s;
        }
        if !self.prompt.is_empty() {
            t.prompts = self.prompt.clone();
        }
        let mut options = Options::default();
        if let Some(n) = self.max_new_tokens {
            t.max_new_tokens = n;
            if n == 0 {
                return Err("--max-new-tokens must be at least 1".into());
            }
            options.new_tokens = n;
        }
        if self.checkpoint_every.is_some() && self.checkpoint.is_none() {
            return Err("--checkpoint-every needs --checkpoint FILE".into());
        }
        if self.resume && self.checkpoint.is_none() {
            return Err("--resume needs --checkpoint FILE".into());
        }
        t.checkpoint = self.checkpoint.clone();
        t.checkpoint_every = self.checkpoint_every;
        t.resume = self.resume;
        t.export = self.export.clone();
        if let Some(n) = self.threads {
            ferrograd::tensor::set_num_threads(n);
        }
        options.corpus = self.corpus.clone();
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
