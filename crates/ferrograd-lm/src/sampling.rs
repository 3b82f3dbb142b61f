//! Choosing the next token (§5.4 of the book): greedy decoding, temperature, top-k, top-p
//! (nucleus), repetition / presence / frequency penalties, seeded and reproducible.
//!
//! The processors run in Hugging Face transformers' order, on the logits of one position:
//!
//! 1. **repetition penalty** (HF's `repetition_penalty`): for every distinct id among the
//!    previous ids (the prompt and what was generated), a positive score is divided by the
//!    penalty and a negative one multiplied by it;
//! 2. **presence and frequency penalties** (OpenAI's definition, which the book's notebook
//!    applies): `score − presence·[count > 0] − frequency·count`;
//! 3. **temperature**: `score / T`;
//! 4. **top-k**: keep the `k` largest scores *and every score tied with the k-th* (HF's
//!    rule; the book's notebook keeps exactly k by sort position);
//! 5. **top-p**: keep the smallest set of top tokens whose probability reaches `p`,
//!    *including the token that crosses p* (the book's prose and HF; the notebook drops
//!    it), never fewer than `min_tokens_to_keep`. Tokens tied at the cut are taken
//!    lowest id first; HF's order among ties follows `torch.sort`, which is not stable,
//!    so on ties the kept set can differ from HF's.
//!
//! Then the next token is drawn from the softmax of what is left, or the largest score is
//! taken when not sampling. Nothing is on unless asked for: unlike transformers'
//! `generate`, which fills in `top_k = 50` when neither the caller nor the checkpoint's
//! generation config sets it, there is no hidden default.
//!
//! The book's temperature example, logits [4, 2, 0]:
//!
//! ```
//! use ferrograd_lm::sampling::{SamplingConfig, softmax};
//! for (t, expected) in [(0.5, [0.98, 0.02, 0.00]), (1.0, [0.87, 0.12, 0.02]), (2.0, [0.67, 0.24, 0.09])] {
//!     let config = SamplingConfig { temperature: t, ..SamplingConfig::default() };
//!     let probs = softmax(&config.process(&[4.0, 2.0, 0.0], &[])?);
//!     for (p, e) in probs.iter().zip(expected) {
//!         assert!((p - e).abs() < 0.005 + 1e-12, "T = {t}: {probs:?}");
//!     }
//! }
//! # Ok::<(), ferrograd_lm::LmError>(())
//! ```

use crate::error::{LmError, Result, invalid};
use ferrograd_tensor::Rng;
use std::collections::HashMap;

/// The processors' settings. `SamplingConfig::default()` changes nothing (temperature 1,
/// no top-k, top-p 1, no penalties).
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingConfig {
    /// Divides the scores; must be > 0 (1 leaves them as they are).
    pub temperature: f64,
    /// Keep the `k` largest scores and their ties; `None` keeps all. `k` above the
    /// vocabulary size keeps all (as transformers clamps it).
    pub top_k: Option<usize>,
    /// Keep the top tokens whose probability reaches `p`, in (0, 1]; 1 keeps all.
    pub top_p: f64,
    /// Top-k and top-p never keep fewer tokens than this (at least 1).
    pub min_tokens_to_keep: usize,
    /// HF's repetition penalty, > 0: 1 is off, above 1 discourages repeats, below 1
    /// encourages them.
    pub repetition_penalty: f64,
    /// Subtracted once from the score of every token already present.
    pub presence_penalty: f64,
    /// Subtracted from a token's score once per earlier occurrence.
    pub frequency_penalty: f64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_k: None,
            top_p: 1.0,
            min_tokens_to_keep: 1,
            repetition_penalty: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
        }
    }
}

impl SamplingConfig {
    /// Checks the settings.
    ///
    /// ```
    /// use ferrograd_lm::sampling::SamplingConfig;
    /// let cold = SamplingConfig { temperature: 0.0, ..SamplingConfig::default() };
    /// assert!(cold.validate().unwrap_err().to_string().contains("temperature"));
    /// let wide = SamplingConfig { top_p: 1.5, ..SamplingConfig::default() };
    /// assert!(wide.validate().is_err());
    /// ```
    ///
    /// # Errors
    /// [`crate::LmError::InvalidConfig`] for a temperature that is not > 0 and finite, a
    /// top-p outside (0, 1], `top_k = Some(0)`, `min_tokens_to_keep = 0`, a repetition
    /// penalty that is not > 0, or a penalty that is not finite.
    pub fn validate(&self) -> Result<()> {
        let op = "SamplingConfig";
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(invalid(
                op,
                "temperature",
                self.temperature,
                "must be > 0 (use greedy decoding for the limit T → 0)",
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(invalid(op, "top_p", self.top_p, "must be in (0, 1]"));
        }
        if self.top_k == Some(0) {
            return Err(invalid(
                op,
                "top_k",
                0,
                "must be at least 1 (None switches top-k off)",
            ));
        }
        if self.min_tokens_to_keep == 0 {
            return Err(invalid(op, "min_tokens_to_keep", 0, "must be at least 1"));
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite()) {
            return Err(invalid(
                op,
                "repetition_penalty",
                self.repetition_penalty,
                "must be > 0 (1 is off)",
            ));
        }
        for (name, v) in [
            ("presence_penalty", self.presence_penalty),
            ("frequency_penalty", self.frequency_penalty),
        ] {
            if !v.is_finite() {
                return Err(invalid(op, name, v, "must be finite"));
            }
        }
        Ok(())
    }

    /// The processed scores of one position's logits, in HF's order (see the module
    /// docs); removed tokens are `-inf`. `previous` are the ids seen so far (prompt and
    /// generated), used by the penalties.
    ///
    /// ```
    /// use ferrograd_lm::sampling::SamplingConfig;
    /// // Ties at the k-th value are kept: top-2 of [3, 2, 2, 1] keeps three tokens.
    /// let config = SamplingConfig { top_k: Some(2), ..SamplingConfig::default() };
    /// let scores = config.process(&[3.0, 2.0, 2.0, 1.0], &[])?;
    /// assert_eq!(scores, [3.0, 2.0, 2.0, f64::NEG_INFINITY]);
    /// # Ok::<(), ferrograd_lm::LmError>(())
    /// ```
    ///
    /// # Errors
    /// As [`SamplingConfig::validate`]; [`crate::LmError::InvalidConfig`] for empty logits
    /// or a previous id outside the vocabulary.
    pub fn process(&self, logits: &[f64], previous: &[i64]) -> Result<Vec<f64>> {
        let mut scores = logits.to_vec();
        self.process_in_place(&mut scores, previous)?;
        Ok(scores)
    }

    /// [`SamplingConfig::process`] on a buffer, in place.
    ///
    /// # Errors
    /// As [`SamplingConfig::process`].
    pub fn process_in_place(&self, scores: &mut [f64], previous: &[i64]) -> Result<()> {
        // A handful of comparisons: cheap beside the pass over the vocabulary below, and
        // it keeps a hand-made config (top_k 0, temperature 0) from a panic or NaNs.
        self.validate()?;
        if scores.is_empty() {
            return Err(invalid(
                "sampling",
                "logits",
                "[]",
                "at least one token's logit",
            ));
        }
        if let Some(&bad) = previous
            .iter()
            .find(|&&id| id < 0 || id as usize >= scores.len())
        {
            return Err(invalid(
                "sampling",
                "previous id",
                bad,
                format!("an id below the vocabulary size {}", scores.len()),
            ));
        }
        self.apply_penalties(scores, previous);
        if self.temperature != 1.0 {
            scores.iter_mut().for_each(|s| *s /= self.temperature);
        }
        if let Some(k) = self.top_k {
            top_k_filter(scores, k, self.min_tokens_to_keep);
        }
        if self.top_p < 1.0 {
            top_p_filter(scores, self.top_p, self.min_tokens_to_keep);
        }
        Ok(())
    }

    fn apply_penalties(&self, scores: &mut [f64], previous: &[i64]) {
        if previous.is_empty() {
            return;
        }
        let needs_counts = self.presence_penalty != 0.0 || self.frequency_penalty != 0.0;
        if self.repetition_penalty == 1.0 && !needs_counts {
            return;
        }
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for &id in previous {
            *counts.entry(id as usize).or_default() += 1;
        }
        if self.repetition_penalty != 1.0 {
            let p = self.repetition_penalty;
            for &id in counts.keys() {
                let s = &mut scores[id];
                *s = if *s < 0.0 { *s * p } else { *s / p };
            }
        }
        if needs_counts {
            for (&id, &count) in &counts {
                scores[id] -= self.presence_penalty + self.frequency_penalty * count as f64;
            }
        }
    }
}

/// HF's top-k: removes every score strictly below the k-th largest
/// (`k = min(max(k, min_keep), V)`); ties with the k-th stay.
fn top_k_filter(scores: &mut [f64], k: usize, min_keep: usize) {
    let k = k.max(min_keep).min(scores.len());
    if k == scores.len() {
        return;
    }
    let mut sorted: Vec<f64> = scores.to_vec();
    // The k-th largest: select, descending (total order; -inf sorts last).
    let (_, kth, _) = sorted.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    let threshold = *kth;
    for s in scores.iter_mut() {
        if *s < threshold {
            *s = f64::NEG_INFINITY;
        }
    }
}

/// HF's top-p: in ascending order of score, removes the tokens whose cumulative
/// probability is ≤ 1 − p (so the token that crosses p stays), never the `min_keep`
/// largest.
fn top_p_filter(scores: &mut [f64], p: f64, min_keep: usize) {
    let probs = softmax(scores);
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Ascending by score; ties by id, descending, so the ascending walk meets the
    // larger id first and among equal scores the smaller id survives longest.
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(b.cmp(&a)));
    let keep_from = scores.len().saturating_sub(min_keep);
    let mut cumulative = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        cumulative += probs[i];
        if rank < keep_from && cumulative <= 1.0 - p {
            scores[i] = f64::NEG_INFINITY;
        }
    }
}

/// Softmax of scores that may hold `-inf` (probability 0); all `-inf` gives all 0.
pub fn softmax(scores: &[f64]) -> Vec<f64> {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return vec![0.0; scores.len()];
    }
    let exps: Vec<f64> = scores.iter().map(|&s| (s - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / total).collect()
}

/// Index of the largest score (the first of equal ones), as `argmax`.
pub fn argmax(scores: &[f64]) -> usize {
    let mut best = 0;
    for (i, &s) in scores.iter().enumerate() {
        if s > scores[best] || scores[best].is_nan() {
            best = i;
        }
    }
    best
}

/// The one next-token trait of the crate (defined beside the generation loop), re-exported
/// here because [`Sampler`] implements it.
pub use crate::generate::NextToken;

/// Greedy decoding or sampling with the processors of [`SamplingConfig`], from its own
/// seeded generator: the same seed gives the same tokens on every machine.
///
/// ```
/// use ferrograd_lm::sampling::{NextToken, Sampler, SamplingConfig};
/// let logits = [2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, -1.5];
/// let mut greedy = Sampler::greedy();
/// assert_eq!(greedy.next_token(&logits, &[])?, 0);
/// let config = SamplingConfig { temperature: 0.7, top_p: 0.9, ..SamplingConfig::default() };
/// let draws = |seed| -> ferrograd_lm::Result<Vec<i64>> {
///     let mut s = Sampler::new(config.clone(), seed)?;
///     (0..20).map(|_| s.next_token(&logits, &[])).collect()
/// };
/// assert_eq!(draws(7)?, draws(7)?); // reproducible
/// assert!(draws(7)?.iter().all(|&t| t <= 4)); // top-p 0.9 keeps 5 tokens here
/// # Ok::<(), ferrograd_lm::LmError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Sampler {
    config: SamplingConfig,
    sample: bool,
    rng: Rng,
    vocab_size: Option<usize>,
    scratch: Vec<f64>,
}

impl Sampler {
    /// Greedy decoding: the largest logit (after the penalties, if any are set with
    /// [`Sampler::greedy_with`]).
    pub fn greedy() -> Self {
        Self {
            config: SamplingConfig::default(),
            sample: false,
            rng: Rng::new(0),
            vocab_size: None,
            scratch: Vec::new(),
        }
    }

    /// Greedy decoding after the processors of `config` (transformers applies the
    /// repetition penalty in greedy decoding too).
    ///
    /// # Errors
    /// As [`SamplingConfig::validate`].
    pub fn greedy_with(config: SamplingConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            ..Self::greedy()
        })
    }

    /// Sampling from the processed distribution with a generator seeded by `seed`.
    ///
    /// # Errors
    /// As [`SamplingConfig::validate`].
    pub fn new(config: SamplingConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            sample: true,
            rng: Rng::new(seed),
            vocab_size: None,
            scratch: Vec::new(),
        })
    }

    /// The same, checking that every logits vector has `vocab_size` entries.
    pub fn with_vocab_size(mut self, vocab_size: usize) -> Self {
        self.vocab_size = Some(vocab_size);
        self
    }

    /// The settings.
    pub fn config(&self) -> &SamplingConfig {
        &self.config
    }

    /// True when sampling, false for greedy decoding.
    pub fn is_sampling(&self) -> bool {
        self.sample
    }

    /// Draws an index from `probs` (which sum to 1) with the sampler's generator.
    fn draw(&mut self, probs: &[f64]) -> usize {
        let u = self.rng.next_f64();
        let mut cumulative = 0.0;
        let mut last = 0;
        for (i, &p) in probs.iter().enumerate() {
            if p > 0.0 {
                cumulative += p;
                last = i;
                if u < cumulative {
                    return i;
                }
            }
        }
        last // rounding left u above the total: the last token with mass
    }
}

impl NextToken for Sampler {
    fn next_token(&mut self, logits: &[f64], previous: &[i64]) -> Result<i64> {
        if let Some(v) = self.vocab_size
            && logits.len() != v
        {
            return Err(invalid(
                "Sampler",
                "logits",
                format!("{} values", logits.len()),
                format!("one per token of the vocabulary ({v})"),
            ));
        }
        let bad = |reason: String| LmError::BadLogits {
            op: "Sampler::next_token",
            reason,
        };
        if logits.is_empty() {
            return Err(bad("no logits (empty vocabulary)".into()));
        }
        if let Some(i) = logits.iter().position(|v| v.is_nan()) {
            return Err(bad(format!("logit {i} is NaN")));
        }
        let mut scores = std::mem::take(&mut self.scratch);
        scores.clear();
        scores.extend_from_slice(logits);
        let result = self.config.process_in_place(&mut scores, previous);
        let token = result.and_then(|()| {
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if max == f64::NEG_INFINITY {
                return Err(bad("every token is banned (all scores are -inf)".into()));
            }
            if !self.sample {
                return Ok(argmax(&scores));
            }
            let probs = softmax(&scores);
            if probs.iter().any(|p| !p.is_finite()) {
                // An infinite logit, or a temperature so small that it made one.
                return Err(bad(format!(
                    "the scores after the processors give no distribution (the largest is {max}; \
                     temperature {})",
                    self.config.temperature
                )));
            }
            Ok(self.draw(&probs))
        });
        self.scratch = scores;
        Ok(token? as i64)
    }
}

/// The book's `sample_token`: one token of `vocabulary` drawn from `logits` with the
/// processors of `config`.
///
/// ```
/// use ferrograd_lm::sampling::{sample_token, SamplingConfig};
/// use ferrograd_tensor::Rng;
/// let vocabulary = ["the", "quick", "brown", "fox"];
/// let config = SamplingConfig { top_k: Some(1), ..SamplingConfig::default() };
/// assert_eq!(sample_token(&[0.1, 2.0, 0.3, 0.0], &vocabulary, &config, &[], &mut Rng::new(0))?, "quick");
/// assert!(sample_token(&[0.1, 2.0], &vocabulary, &config, &[], &mut Rng::new(0)).is_err());
/// # Ok::<(), ferrograd_lm::LmError>(())
/// ```
///
/// # Errors
/// [`crate::LmError::InvalidConfig`] when the logits and the vocabulary differ in length;
/// as [`SamplingConfig::process`].
pub fn sample_token<'v>(
    logits: &[f64],
    vocabulary: &[&'v str],
    config: &SamplingConfig,
    previous: &[i64],
    rng: &mut Rng,
) -> Result<&'v str> {
    if logits.len() != vocabulary.len() {
        return Err(invalid(
            "sample_token",
            "logits",
            format!("{} values", logits.len()),
            format!("one per vocabulary entry ({})", vocabulary.len()),
        ));
    }
    let mut sampler = Sampler::new(config.clone(), rng.next_u64())?;
    let id = sampler.next_token(logits, previous)?;
    Ok(vocabulary[id as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logits_without_a_distribution_are_errors_not_token_0() {
        let config = SamplingConfig::default();
        let mut sampler = Sampler::new(config.clone(), 1).unwrap();
        let mut greedy = Sampler::greedy();
        let ninf = f64::NEG_INFINITY;
        for logits in [
            vec![f64::NAN, 1.0],
            vec![1.0, f64::NAN],
            vec![ninf, ninf],
            vec![],
        ] {
            assert!(
                matches!(
                    sampler.next_token(&logits, &[]),
                    Err(LmError::BadLogits { .. })
                ),
                "{logits:?}"
            );
            assert!(greedy.next_token(&logits, &[]).is_err(), "{logits:?}");
        }
        // +inf: greedy takes it; sampling has no distribution (inf − inf is NaN).
        assert_eq!(greedy.next_token(&[0.0, f64::INFINITY], &[]).unwrap(), 1);
        let err = sampler.next_token(&[0.0, f64::INFINITY], &[]).unwrap_err();
        assert!(err.to_string().contains("no distribution"), "{err}");
        // A temperature that passes validation but overflows finite logits.
        let tiny = SamplingConfig {
            temperature: 1e-310,
            ..SamplingConfig::default()
        };
        let mut cold = Sampler::new(tiny, 1).unwrap();
        assert!(cold.next_token(&[1.0, 2.0], &[]).is_err());
        // Banned tokens are never drawn while any other is allowed.
        for _ in 0..50 {
            assert_eq!(sampler.next_token(&[ninf, 0.0, ninf], &[]).unwrap(), 1);
        }
    }

    #[test]
    fn a_hand_made_invalid_config_is_an_error_in_place_too() {
        let zero_k = SamplingConfig {
            top_k: Some(0),
            min_tokens_to_keep: 0,
            ..SamplingConfig::default()
        };
        let mut scores = vec![1.0, 2.0, 3.0];
        assert!(zero_k.process_in_place(&mut scores, &[]).is_err());
        let frozen = SamplingConfig {
            temperature: 0.0,
            ..SamplingConfig::default()
        };
        assert!(frozen.process_in_place(&mut scores, &[]).is_err());
        assert_eq!(scores, [1.0, 2.0, 3.0], "nothing changed");
    }
}
