//! [`RunData`]: the corpus through the text pipeline, ready to train on; the training
//! part of a text and the check that a corpus gave examples.

use ferrograd::data::text::{LineBatches, LineOptions, LmBatch, Padding, TokenizedLines};

use super::{RunSettings, Tokenizer};
use crate::chapter2::Corpus;
use crate::error::{BookError, Result};

/// A corpus ready to train on: its tokenizer (trained on the training lines only, or
/// GPT-2's), the shuffled training batches and the held-out lines and batches.
///
/// The notebook's convention: the pad token (GPT-2's end of text) pads inputs and targets,
/// and the loss ignores it.
#[derive(Debug)]
pub struct RunData {
    /// The tokenizer; its end-of-text id is the pad id.
    pub tokenizer: Tokenizer,
    /// The training batches, shuffled by the run's seed.
    pub batches: LineBatches,
    /// The held-out lines.
    pub valid: TokenizedLines,
    /// The held-out lines as batches, in order.
    pub valid_batches: Vec<LmBatch>,
    /// Training / held-out examples.
    pub examples: (usize, usize),
}

impl RunData {
    /// Tokenises `corpus` one example per line with `run`'s tokenizer and maximum length,
    /// splits it by lines (`run.train_fraction` first for training) and batches both parts.
    ///
    /// # Errors
    /// A tokenizer that cannot be trained, a corpus with no line of two or more tokens, or
    /// with no training or no held-out line (naming the corpus), a batch size of 0.
    pub fn new(corpus: &Corpus, run: &RunSettings) -> Result<Self> {
        let tokenizer =
            Tokenizer::new(run.tokenizer, &train_text(&corpus.text, run.train_fraction))?;
        let options = LineOptions::new(run.max_length).vocab_limit(tokenizer.vocab_size());
        let lines =
            TokenizedLines::from_text(&corpus.text, tokenizer.encoder(), &options, &corpus.name)?;
        require_examples(&lines)?;
        let (train, valid) = lines.split_by_lines(run.train_fraction)?;
        if train.is_empty() {
            return Err(BookError::Input(format!(
                "{}: no training lines in the first {:.0}% (the corpus is too small)",
                corpus.name,
                run.train_fraction * 100.0
            )));
        }
        if valid.is_empty() {
            return Err(BookError::Input(format!(
                "{}: no held-out lines after the first {:.0}% (the corpus is too small)",
                corpus.name,
                run.train_fraction * 100.0
            )));
        }
        let examples = (train.len(), valid.len());
        let padding = Padding::same(tokenizer.eos);
        let batches = LineBatches::new(train, run.batch_size, padding)?.shuffle(run.seed);
        let valid_batches = LineBatches::new(valid.clone(), run.batch_size, padding)?.all()?;
        Ok(Self {
            tokenizer,
            batches,
            valid,
            valid_batches,
            examples,
        })
    }
}

/// The first `fraction` of the text's lines (what a tokenizer may be trained on: the
/// held-out part stays unseen).
pub fn train_text(text: &str, fraction: f64) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let keep = (fraction * lines.len() as f64).floor() as usize;
    lines[..keep.min(lines.len())].join("\n")
}

/// An error when no line of the corpus gave an example (every line empty or a single
/// token): nothing to show or learn from.
///
/// # Errors
/// [`BookError::Input`] naming the corpus and the number of lines read.
pub fn require_examples(lines: &TokenizedLines) -> Result<()> {
    if lines.is_empty() {
        return Err(BookError::Input(format!(
            "{}: none of its {} lines has 2 or more tokens (empty and one-token lines are \
             dropped): nothing to learn from",
            lines.source(),
            lines.lines_read()
        )));
    }
    Ok(())
}
