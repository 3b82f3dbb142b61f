//! §3.7 the text pipeline: the corpus read one example per line as the notebook does
//! (strip, digit runs to `###`, tokenise, truncate, drop lines under 2 tokens), split
//! 90/10 by lines, and a padded batch shown token by token.

use std::fmt::Write as _;

use ferrograd::data::text::{LineOptions, Padding, TokenizedLines, collate_lines, replace_digits};
use serde::Serialize;

use super::Tokenizer;
use super::settings::Settings;
use crate::chapter2::Corpus;
use crate::error::Result;
pub use crate::lm_run::{require_examples, train_text};

/// §3.7's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct DataNumbers {
    /// The corpus.
    pub corpus: String,
    /// The tokenizer.
    pub tokenizer: String,
    /// Lines in the corpus.
    pub lines: u64,
    /// Lines kept (at least 2 tokens).
    pub kept: usize,
    /// Lines dropped (empty or one token).
    pub dropped: u64,
    /// Kept lines that were longer than the maximum length and cut.
    pub truncated: usize,
    /// Tokens kept, and the targets they give (one less per line).
    pub tokens: usize,
    /// Targets.
    pub targets: usize,
    /// Training / held-out examples (first 90% of the lines / the rest).
    pub split: (usize, usize),
    /// The digit rule on an example.
    pub digits_example: (String, String),
    /// The first three kept lines as tokens.
    pub example_tokens: Vec<Vec<String>>,
    /// Their padded batch: inputs and targets.
    pub batch_inputs: Vec<Vec<i64>>,
    /// Targets (padding is the ignore index −100).
    pub batch_targets: Vec<Vec<i64>>,
}

/// Tokenises the corpus with the section's tokenizer and rules.
///
/// # Errors
/// A tokenizer that cannot be trained, text that is not UTF-8.
pub fn data(corpus: &Corpus, settings: &Settings) -> Result<DataNumbers> {
    let run = &settings.run;
    let tokenizer = Tokenizer::new(run.tokenizer, &train_text(&corpus.text, run.train_fraction))?;
    let options = LineOptions::new(run.max_length);
    let lines =
        TokenizedLines::from_text(&corpus.text, tokenizer.encoder(), &options, &corpus.name)?;
    require_examples(&lines)?;
    let whole = TokenizedLines::from_text(
        &corpus.text,
        tokenizer.encoder(),
        &LineOptions::new(usize::MAX),
        &corpus.name,
    )?;
    let truncated = (0..whole.len())
        .filter(|&i| whole.example(i).len() > run.max_length)
        .count();
    let (train, valid) = lines.split_by_lines(run.train_fraction)?;
    let shown: Vec<&[u32]> = (0..lines.len().min(3)).map(|i| lines.example(i)).collect();
    let example_tokens = shown
        .iter()
        .map(|e| {
            e.iter()
                .map(|&id| {
                    tokenizer
                        .bpe
                        .decode_lossy(&[id])
                        .unwrap_or_else(|_| format!("<{id}>"))
                })
                .collect()
        })
        .collect();
    let batch = collate_lines(&shown, Padding::new(tokenizer.eos))?;
    let digits = "In 1599, 12 players and 3 kings";
    Ok(DataNumbers {
        corpus: corpus.name.clone(),
        tokenizer: tokenizer.describe(),
        lines: lines.lines_read(),
        kept: lines.len(),
        dropped: lines.lines_dropped(),
        truncated,
        tokens: lines.num_tokens(),
        targets: lines.num_targets(),
        split: (train.len(), valid.len()),
        digits_example: (digits.into(), replace_digits(digits).into_owned()),
        example_tokens,
        batch_inputs: batch.inputs.to_vec2()?,
        batch_targets: batch.targets.to_vec2()?,
    })
}

/// Writes §3.7's report.
pub fn report(d: &DataNumbers, t: &mut String) {
    let _ = writeln!(t, "{} with {}", d.corpus, d.tokenizer);
    let _ = writeln!(
        t,
        "  {} lines: {} kept, {} dropped (fewer than 2 tokens), {} cut to the maximum length",
        d.lines, d.kept, d.dropped, d.truncated
    );
    let _ = writeln!(
        t,
        "  {} tokens, {} next-token targets; split by lines 90/10: {} training / {} held-out examples",
        d.tokens, d.targets, d.split.0, d.split.1
    );
    let _ = writeln!(
        t,
        "  digit runs: {:?} → {:?}",
        d.digits_example.0, d.digits_example.1
    );
    for (i, tokens) in d.example_tokens.iter().enumerate() {
        let _ = writeln!(t, "  line {}: {:?}", i + 1, tokens);
    }
    let _ = writeln!(
        t,
        "  their batch, right-padded (inputs = ids[:-1], targets = ids[1:], padding ignored by the loss):"
    );
    for (i, (x, y)) in d.batch_inputs.iter().zip(&d.batch_targets).enumerate() {
        let _ = writeln!(t, "    row {i}: inputs {x:?}");
        let _ = writeln!(t, "           targets {y:?}");
    }
}
