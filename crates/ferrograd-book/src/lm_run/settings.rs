//! [`RunSettings`], and [`RunArgs`], the command-line options that change them.

use std::path::PathBuf;

use ferrograd::lm::train::TrainConfig;
use serde::Serialize;

use super::{MIN_TRAINED_VOCAB, TokenizerChoice};

/// The settings of a training run that do not depend on the model: the tokenizer, the
/// batches, the optimiser, evaluation, checkpoints and the export.
///
/// A chapter's settings hold these beside the model's sizes (serialised flat, as one
/// object).
///
/// ```
/// use ferrograd_book::lm_run::{RunSettings, TokenizerChoice};
///
/// let full = RunSettings::full();
/// assert_eq!(full.tokenizer, TokenizerChoice::Gpt2);
/// assert_eq!((full.batch_size, full.max_length, full.lr), (128, 30, 1e-3));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSettings {
    /// The tokenizer.
    pub tokenizer: TokenizerChoice,
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
    /// Periodic evaluations use at most this many held-out sentences (the notebook's
    /// 1,000); the final one uses all of them.
    pub eval_max_sentences: usize,
    /// Seed of the initial weights and of the batch order.
    pub seed: u64,
    /// The part of the lines (from the start) that is trained on.
    pub train_fraction: f64,
    /// Prompts continued greedily at each evaluation.
    pub prompts: Vec<String>,
    /// New tokens per prompt.
    pub max_new_tokens: usize,
    /// Checkpoint file, if any (written every `checkpoint_every` steps and at the end).
    pub checkpoint: Option<PathBuf>,
    /// Steps between checkpoints.
    pub checkpoint_every: Option<u64>,
    /// Continue from `checkpoint` when it exists.
    pub resume: bool,
    /// Write what the run trains on (ids, batch order, initial weights) into this folder
    /// for the chapter's PyTorch comparison script.
    pub export: Option<PathBuf>,
}

impl Default for RunSettings {
    /// Small and quick: a 2,000-id BPE trained on the corpus, batches of 64 lines of up to
    /// 30 tokens, AdamW lr 3e-3, one epoch, held-out perplexity every 100 steps.
    fn default() -> Self {
        Self {
            tokenizer: TokenizerChoice::Trained(2000),
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
            checkpoint: None,
            checkpoint_every: None,
            resume: false,
            export: None,
        }
    }
}

impl RunSettings {
    /// The notebooks' run: GPT-2's tokenizer, batches of 128 lines of up to 30 tokens,
    /// AdamW lr 1e-3, one epoch, 50 new tokens per prompt.
    pub fn full() -> Self {
        Self {
            tokenizer: TokenizerChoice::Gpt2,
            batch_size: 128,
            lr: 1e-3,
            max_new_tokens: 50,
            ..Self::default()
        }
    }

    /// The trainer's configuration: these settings, the notebook's AdamW defaults, and a
    /// loss that ignores `ignore_index` (the pad id).
    pub fn train_config(&self, ignore_index: u32) -> TrainConfig {
        TrainConfig {
            lr: self.lr,
            epochs: self.epochs,
            max_steps: self.max_steps,
            eval_every: self.eval_every,
            eval_max_sentences: Some(self.eval_max_sentences),
            checkpoint_every: self.checkpoint.as_ref().and(self.checkpoint_every),
            checkpoint_path: self.checkpoint.clone(),
            ignore_index: i64::from(ignore_index),
            ..TrainConfig::default()
        }
    }
}

/// The command-line options of a training run (`ferrograd-book chapter3` and
/// `chapter4`): each one given replaces the matching field of [`RunSettings`]; the
/// model's sizes are the chapter's own options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunArgs {
    /// A UTF-8 text file to learn from (one example per line) instead of the built-in
    /// Shakespeare
    #[arg(long, global = true, value_name = "FILE")]
    pub corpus: Option<PathBuf>,
    /// The notebook's sizes: GPT-2's tokenizer, the book's model, batches of 128, lr 1e-3
    #[arg(long, global = true)]
    pub full: bool,
    /// Tokenizer: `gpt2`, or `bpe` (a byte-level BPE trained on the corpus, see --vocab)
    #[arg(long, global = true, value_name = "NAME")]
    pub tokenizer: Option<String>,
    /// Size of the BPE trained on the corpus (implies --tokenizer bpe)
    #[arg(long, global = true, value_name = "N")]
    pub vocab: Option<usize>,
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
    /// New tokens per prompt (and, in chapter 4's generation section, after its prompt)
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
    /// Write what the run trains on to DIR for the chapter's script in scripts/reference/
    #[arg(long, global = true, value_name = "DIR")]
    pub export: Option<PathBuf>,
    /// Threads for the tensor kernels (default: all cores, or FERROGRAD_NUM_THREADS)
    #[arg(long, global = true)]
    pub threads: Option<usize>,
}

impl RunArgs {
    /// `base` (the chapter's defaults, or its `--full` sizes when `full` is set) with the
    /// options given here applied, and the kernel threads set if `--threads` was given.
    ///
    /// # Errors
    /// A message naming the option, for contradictory or out-of-range values.
    pub fn apply(&self, base: RunSettings) -> Result<RunSettings, String> {
        let mut run = base;
        if let Some(n) = self.vocab
            && n < MIN_TRAINED_VOCAB
        {
            return Err(format!(
                "--vocab {n} is too small: a trained BPE has at least {MIN_TRAINED_VOCAB} ids \
                 (the 256 bytes and <|endoftext|>)"
            ));
        }
        match (self.tokenizer.as_deref(), self.vocab) {
            (Some("gpt2"), None) => run.tokenizer = TokenizerChoice::Gpt2,
            (Some("gpt2"), Some(_)) => {
                return Err("--vocab applies to --tokenizer bpe, not gpt2".into());
            }
            (Some("bpe") | None, Some(n)) => run.tokenizer = TokenizerChoice::Trained(n),
            (Some("bpe"), None) => run.tokenizer = TokenizerChoice::Trained(2000),
            (None, None) => {}
            (Some(other), _) => {
                return Err(format!("unknown tokenizer {other:?}: use gpt2 or bpe"));
            }
        }
        if let Some(b) = positive("batch-size", self.batch_size)? {
            run.batch_size = b;
        }
        if let Some(m) = self.max_length {
            if m < 2 {
                return Err("--max-length must be at least 2 (an input and a target)".into());
            }
            run.max_length = m;
        }
        if let Some(lr) = self.lr {
            run.lr = lr;
        }
        if let Some(e) = self.epochs {
            run.epochs = e;
        }
        if self.steps.is_some() {
            run.max_steps = self.steps;
        }
        if let Some(n) = self.eval_every {
            run.eval_every = (n > 0).then_some(n);
        }
        if let Some(s) = self.seed {
            run.seed = s;
        }
        if !self.prompt.is_empty() {
            run.prompts = self.prompt.clone();
        }
        if let Some(n) = self.max_new_tokens {
            run.max_new_tokens = n;
        }
        if self.checkpoint_every.is_some() && self.checkpoint.is_none() {
            return Err("--checkpoint-every needs --checkpoint FILE".into());
        }
        if self.resume && self.checkpoint.is_none() {
            return Err("--resume needs --checkpoint FILE".into());
        }
        run.checkpoint = self.checkpoint.clone();
        run.checkpoint_every = self.checkpoint_every;
        run.resume = self.resume;
        run.export = self.export.clone();
        if let Some(n) = positive("threads", self.threads)? {
            ferrograd::tensor::set_num_threads(n);
        }
        Ok(run)
    }
}

/// `value`, or an error naming `--option` when it is 0 (a size that must be at least 1).
///
/// # Errors
/// `"--option must be at least 1"` for 0.
pub(crate) fn positive(option: &str, value: Option<usize>) -> Result<Option<usize>, String> {
    match value {
        Some(0) => Err(format!("--{option} must be at least 1")),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_given_replace_the_base_and_the_rest_stay() {
        let args = RunArgs {
            vocab: Some(500),
            lr: Some(0.01),
            steps: Some(7),
            eval_every: Some(0),
            prompt: vec!["Once".into()],
            checkpoint: Some("run.ckpt".into()),
            checkpoint_every: Some(3),
            resume: true,
            ..RunArgs::default()
        };
        let run = args.apply(RunSettings::full()).unwrap();
        assert_eq!(run.tokenizer, TokenizerChoice::Trained(500));
        assert_eq!(
            (run.lr, run.max_steps, run.eval_every),
            (0.01, Some(7), None)
        );
        assert_eq!(run.prompts, ["Once"]);
        assert_eq!(
            run.checkpoint.as_deref(),
            Some(std::path::Path::new("run.ckpt"))
        );
        assert_eq!((run.checkpoint_every, run.resume), (Some(3), true));
        // Not given: `full`'s values.
        assert_eq!((run.batch_size, run.max_new_tokens), (128, 50));
        let config = run.train_config(7);
        assert_eq!((config.ignore_index, config.checkpoint_every), (7, Some(3)));
        assert_eq!(config.eval_max_sentences, Some(1000));
    }

    #[test]
    fn a_bpe_without_a_size_is_the_default_size_and_gpt2_is_gpt2() {
        let bpe = RunArgs {
            tokenizer: Some("bpe".into()),
            ..RunArgs::default()
        };
        let run = bpe.apply(RunSettings::full()).unwrap();
        assert_eq!(run.tokenizer, TokenizerChoice::Trained(2000));
        let gpt2 = RunArgs {
            tokenizer: Some("gpt2".into()),
            ..RunArgs::default()
        };
        assert_eq!(
            gpt2.apply(RunSettings::default()).unwrap().tokenizer,
            TokenizerChoice::Gpt2
        );
        let other = RunArgs {
            tokenizer: Some("wordpiece".into()),
            ..RunArgs::default()
        };
        let message = other.apply(RunSettings::default()).unwrap_err();
        assert!(message.contains("\"wordpiece\""), "{message}");
    }

    #[test]
    fn a_vocabulary_below_the_bytes_and_the_end_token_is_refused() {
        for n in [0, 1, 256] {
            let args = RunArgs {
                vocab: Some(n),
                ..RunArgs::default()
            };
            let message = args.apply(RunSettings::default()).unwrap_err();
            assert!(
                message.contains("--vocab") && message.contains("257"),
                "{message}"
            );
        }
        let smallest = RunArgs {
            vocab: Some(257),
            ..RunArgs::default()
        };
        assert_eq!(
            smallest.apply(RunSettings::default()).unwrap().tokenizer,
            TokenizerChoice::Trained(257)
        );
    }

    #[test]
    fn checkpoint_interval_without_a_file_is_refused() {
        let args = RunArgs {
            checkpoint_every: Some(2),
            ..RunArgs::default()
        };
        assert_eq!(
            args.apply(RunSettings::default()).unwrap_err(),
            "--checkpoint-every needs --checkpoint FILE"
        );
        assert_eq!(
            positive("batch-size", Some(0)).unwrap_err(),
            "--batch-size must be at least 1"
        );
        assert_eq!(positive("batch-size", Some(4)), Ok(Some(4)));
        let no_threads = RunArgs {
            threads: Some(0),
            ..RunArgs::default()
        };
        assert_eq!(
            no_threads.apply(RunSettings::default()).unwrap_err(),
            "--threads must be at least 1"
        );
    }
}
