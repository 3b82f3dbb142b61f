//! Evaluating language models (the book's §2.6): perplexity, and ROUGE-1, ROUGE-2 and
//! ROUGE-L precision, recall and F-measure.
//!
//! **Perplexity** of a text of `D` tokens is `exp(−(1/D) Σ ln Pr(tᵢ | t₁…tᵢ₋₁))`: the
//! inverse of the geometric mean of the probabilities the model gave the tokens that
//! actually came. A model that spreads its bets evenly over `k` tokens has perplexity `k`.
//!
//! **ROUGE** compares a generated text with a reference: ROUGE-N counts the n-grams they
//! share (each shared n-gram at most as often as it occurs in either), divided by the
//! number of n-grams in the generated text (precision) or in the reference (recall);
//! ROUGE-L uses the length of their longest common subsequence instead. Tokens and scores
//! are those of Google's `rouge-score` package without stemming (lower-cased text, runs of
//! ASCII letters and digits), and F1 is its `fmeasure`; [`RougeScore::f_beta`] gives the
//! recall-weighted F of the original ROUGE-L definition.
//!
//! ```
//! use ferrograd_lm::eval::{perplexity, rouge};
//!
//! // A model that gave every token probability 1/4 is as perplexed as a fair 4-sided die.
//! assert!((perplexity(&[0.25; 8])? - 4.0).abs() < 1e-12);
//!
//! let r = rouge("the quick brown fox jumps over the lazy dog",
//!               "lazy, the quick brown fox jumps high today");
//! assert_eq!((r.rouge1.recall, r.rouge1.precision), (6.0 / 9.0, 6.0 / 8.0));
//! assert_eq!(r.lcs, 5);
//! assert_eq!(format!("{:.4}", r.rouge_l.f_beta(8.0)), "0.5565");
//! # Ok::<(), ferrograd_lm::LmError>(())
//! ```

use crate::error::{LmError, Result};
use crate::text::FxHashMap;

/// Perplexity `exp(−(1/D) Σ ln pᵢ)` of a text whose `D` tokens got probabilities `p`.
///
/// A probability of exactly 0 (an event the model ruled out) makes the perplexity
/// `+∞`, as the formula says.
///
/// # Errors
/// [`LmError::Empty`] for no probabilities; [`LmError::BadProbability`] for one that is
/// NaN, negative or above 1.
pub fn perplexity(probabilities: &[f64]) -> Result<f64> {
    const OP: &str = "perplexity";
    if probabilities.is_empty() {
        return Err(LmError::Empty {
            op: OP,
            what: "the list of probabilities",
        });
    }
    let mut log_likelihood = 0.0;
    for (index, &p) in probabilities.iter().enumerate() {
        if !(0.0..=1.0).contains(&p) {
            return Err(LmError::BadProbability {
                op: OP,
                index,
                value: p,
            });
        }
        log_likelihood += p.ln();
    }
    Ok((-log_likelihood / probabilities.len() as f64).exp())
}

/// Precision, recall and F1 of one ROUGE variant.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RougeScore {
    /// Shared units over the generated text's units.
    pub precision: f64,
    /// Shared units over the reference's units.
    pub recall: f64,
    /// `2PR / (P + R)`, 0 when both are 0 (`rouge-score`'s `fmeasure`).
    pub f1: f64,
}

impl RougeScore {
    fn new(precision: f64, recall: f64) -> Self {
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Self {
            precision,
            recall,
            f1,
        }
    }

    /// `(1 + β²)·P·R / (R + β²·P)`: the F-measure weighting recall `β` times as much as
    /// precision (β = 1 is F1; Lin's ROUGE-L uses a large β, so that recall dominates).
    /// 0 when precision and recall are both 0.
    pub fn f_beta(&self, beta: f64) -> f64 {
        let b2 = beta * beta;
        let denominator = self.recall + b2 * self.precision;
        if denominator > 0.0 {
            (1.0 + b2) * self.precision * self.recall / denominator
        } else {
            0.0
        }
    }
}

/// ROUGE-1, ROUGE-2 and ROUGE-L of a generated text against a reference.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rouge {
    /// Unigram overlap.
    pub rouge1: RougeScore,
    /// Bigram overlap.
    pub rouge2: RougeScore,
    /// Longest common subsequence.
    pub rouge_l: RougeScore,
    /// The longest common subsequence's length, in tokens.
    pub lcs: usize,
    /// Tokens in the reference.
    pub reference_len: usize,
    /// Tokens in the generated text.
    pub candidate_len: usize,
}

/// `rouge-score`'s tokeniser without stemming: lower-case, then every run of ASCII
/// letters and digits is a token (everything else separates).
///
/// ```
/// use ferrograd_lm::eval::rouge_tokens;
/// assert_eq!(rouge_tokens("Don't PANIC: 42 café"), ["don", "t", "panic", "42", "caf"]);
/// ```
pub fn rouge_tokens(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

fn ngram_counts<S: AsRef<str>>(tokens: &[S], n: usize) -> FxHashMap<Vec<&str>, usize> {
    let mut counts = FxHashMap::default();
    if n == 0 || tokens.len() < n {
        return counts;
    }
    for window in tokens.windows(n) {
        let key: Vec<&str> = window.iter().map(AsRef::as_ref).collect();
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// ROUGE-N of tokenised texts: shared n-grams (each counted at most as often as in either
/// text) over the candidate's n-grams (precision) and the reference's (recall). A text
/// with no n-grams gives 0 for the ratio it divides (as `rouge-score`).
pub fn rouge_n<S: AsRef<str>, T: AsRef<str>>(
    reference: &[S],
    candidate: &[T],
    n: usize,
) -> RougeScore {
    let r = ngram_counts(reference, n);
    let c = ngram_counts(candidate, n);
    let shared: usize = r
        .iter()
        .map(|(gram, &count)| count.min(c.get(gram).copied().unwrap_or(0)))
        .sum();
    let r_total: usize = r.values().sum();
    let c_total: usize = c.values().sum();
    RougeScore::new(
        shared as f64 / c_total.max(1) as f64,
        shared as f64 / r_total.max(1) as f64,
    )
}

/// The length of the longest common subsequence of two token sequences (dynamic
/// programming in `O(|a|·|b|)` time and `O(min(|a|, |b|))` memory).
///
/// ```
/// use ferrograd_lm::eval::lcs_len;
/// assert_eq!(lcs_len(&["a", "b", "c", "d"], &["b", "x", "d"]), 2);
/// ```
pub fn lcs_len<S: AsRef<str>, T: AsRef<str>>(a: &[S], b: &[T]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for x in a {
        let mut diagonal = 0;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x.as_ref() == y.as_ref() {
                diagonal + 1
            } else {
                above.max(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// ROUGE-L of tokenised texts: LCS over the candidate's length (precision) and the
/// reference's (recall); all zeros when either text is empty (as `rouge-score`).
pub fn rouge_l<S: AsRef<str>, T: AsRef<str>>(reference: &[S], candidate: &[T]) -> RougeScore {
    if reference.is_empty() || candidate.is_empty() {
        return RougeScore::default();
    }
    let lcs = lcs_len(reference, candidate) as f64;
    RougeScore::new(lcs / candidate.len() as f64, lcs / reference.len() as f64)
}

/// ROUGE-1, ROUGE-2 and ROUGE-L of `candidate` (the generated text) against `reference`,
/// tokenised with [`rouge_tokens`]: the numbers `rouge_score.rouge_scorer.RougeScorer(
/// ["rouge1", "rouge2", "rougeL"]).score(reference, candidate)` gives.
pub fn rouge(reference: &str, candidate: &str) -> Rouge {
    let r = rouge_tokens(reference);
    let c = rouge_tokens(candidate);
    Rouge {
        rouge1: rouge_n(&r, &c, 1),
        rouge2: rouge_n(&r, &c, 2),
        rouge_l: rouge_l(&r, &c),
        lcs: lcs_len(&r, &c),
        reference_len: r.len(),
        candidate_len: c.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perplexity_by_hand() {
        // exp(−(ln .5 + ln .25) / 2) = √8.
        assert!((perplexity(&[0.5, 0.25]).unwrap() - 8f64.sqrt()).abs() < 1e-12);
        assert_eq!(perplexity(&[1.0, 1.0]).unwrap(), 1.0);
        assert_eq!(perplexity(&[0.5, 0.0]).unwrap(), f64::INFINITY);
        assert!(matches!(perplexity(&[]), Err(LmError::Empty { .. })));
        for bad in [f64::NAN, -0.1, 1.5] {
            assert!(matches!(
                perplexity(&[0.5, bad]),
                Err(LmError::BadProbability { index: 1, .. })
            ));
        }
    }

    #[test]
    fn rouge_edge_cases_are_zero_not_nan() {
        let r = rouge("", "");
        assert_eq!(r.rouge1, RougeScore::default());
        assert_eq!(r.rouge_l, RougeScore::default());
        let r = rouge("one", "one");
        assert_eq!(r.rouge1.f1, 1.0);
        // One token has no bigram: both ratios are 0 / max(0, 1).
        assert_eq!(r.rouge2, RougeScore::default());
        assert_eq!(RougeScore::default().f_beta(8.0), 0.0);
    }

    #[test]
    fn clipped_unigram_counts() {
        // "the" three times in the candidate, twice in the reference: 2 shared.
        let s = rouge_n(&["the", "cat", "the"], &["the", "the", "the"], 1);
        assert_eq!((s.precision, s.recall), (2.0 / 3.0, 2.0 / 3.0));
    }

    #[test]
    fn lcs_is_symmetric_and_bounded() {
        let a = ["a", "b", "c", "b", "d", "a", "b"];
        let b = ["b", "d", "c", "a", "b", "a"];
        assert_eq!(lcs_len(&a, &b), 4);
        assert_eq!(lcs_len(&b, &a), 4);
        assert_eq!(lcs_len::<&str, &str>(&[], &b), 0);
    }
}
