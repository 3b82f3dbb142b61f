//! Autoregressive generation (the book's §4.8–4.9): the prompt is fed in one pass, then
//! one token at a time, each chosen from the logits of the last position by a
//! [`NextToken`] rule ([`Greedy`] here; chapter 5's samplers implement the same trait).
//!
//! With the KV cache ([`GenerateOptions::use_cache`], the default) the prompt's keys and
//! values are computed once ("prefill") and each new token costs one position of work in
//! every layer; without it every step runs the whole sequence again, as the book's
//! notebook does. Both give the same tokens.
//!
//! ```
//! use ferrograd_lm::{DecoderConfig, DecoderLanguageModel, GenerateOptions, Greedy, generate};
//! use ferrograd_tensor::Rng;
//!
//! let mut config = DecoderConfig::book(100, Some(0));
//! config.max_positions = 64;
//! let model = DecoderLanguageModel::<f32>::new(&config, &mut Rng::new(1))?;
//! let cached = generate(&model, &[5, 6, 7], &mut Greedy, &GenerateOptions::new(10))?;
//! let uncached = generate(&model, &[5, 6, 7], &mut Greedy, &GenerateOptions::new(10).with_cache(false))?;
//! assert_eq!(cached.tokens, uncached.tokens);
//! assert_eq!(cached.tokens.len(), 10);
//! # Ok::<(), ferrograd_lm::LmError>(())
//! ```

use crate::error::{LmError, Result, invalid};

/// A rule for choosing the next token from the logits of the last position (one row of
/// `vocab_size` values) and the tokens so far (prompt then generated ones): greedy
/// decoding, or chapter 5's samplers (temperature, top-k, top-p, penalties). The same
/// signature as chapter 5's `sampling::NextToken`, so its samplers drive this loop.
pub trait NextToken: std::fmt::Debug {
    /// The chosen token id.
    ///
    /// # Errors
    /// When no token can be chosen (empty or NaN logits, an invalid setting).
    fn next_token(&mut self, logits: &[f64], previous: &[i64]) -> Result<i64>;
}

/// Greedy decoding: the token with the highest logit (the first one on ties, as
/// `torch.argmax`).
///
/// ```
/// use ferrograd_lm::{Greedy, NextToken};
/// assert_eq!(Greedy.next_token(&[0.1, 2.5, -1.0, 2.5], &[])?, 1);
/// assert!(Greedy.next_token(&[0.1, f64::NAN], &[]).is_err());
/// # Ok::<(), ferrograd_lm::LmError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Greedy;

impl NextToken for Greedy {
    fn next_token(&mut self, logits: &[f64], _previous: &[i64]) -> Result<i64> {
        let mut best: Option<(usize, f64)> = None;
        for (i, &v) in logits.iter().enumerate() {
            if v.is_nan() {
                return Err(LmError::BadLogits {
                    op: "Greedy::next_token",
                    reason: format!("logit {i} is NaN"),
                });
            }
            if best.is_none_or(|(_, b)| v > b) {
                best = Some((i, v));
            }
        }
        match best {
            Some((i, v)) if v > f64::NEG_INFINITY => Ok(i as i64),
            Some(_) => Err(LmError::BadLogits {
                op: "Greedy::next_token",
                reason: "every token is banned (all logits are -inf)".into(),
            }),
            None => Err(LmError::BadLogits {
                op: "Greedy::next_token",
                reason: "no logits (empty vocabulary)".into(),
            }),
        }
    }
}

/// A model that generation can drive step by step: logits of the last position after
/// feeding tokens, with or without a cache of the earlier ones. (Training uses
/// [`crate::train::CausalLm`]; this trait is the incremental half.)
pub trait CachedLm {
    /// The model's KV cache (or whatever state it keeps between steps).
    type Cache;

    /// Tokens in the vocabulary (the length of a logits row).
    fn vocab_size(&self) -> usize;

    /// The context: the most positions a sequence may have.
    fn max_positions(&self) -> usize;

    /// A cache for one sequence of up to `capacity` positions.
    ///
    /// # Errors
    /// When `capacity` exceeds the model's context or cannot be allocated.
    fn new_cache(&self, capacity: usize) -> Result<Self::Cache>;

    /// Feeds `ids` (one sequence) and returns the logits of its last position. With a
    /// cache, `ids` are the new tokens only: they follow the cached positions and are
    /// appended to the cache. Without, `ids` is the whole sequence from position 0.
    ///
    /// # Errors
    /// Ids outside the vocabulary, a full cache, a sequence past the context.
    fn last_logits(&self, ids: &[i64], cache: Option<&mut Self::Cache>) -> Result<Vec<f64>>;
}

/// Settings of [`generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Most tokens to generate.
    pub max_new_tokens: usize,
    /// Generation stops after producing one of these (kept in the output), e.g. EOS.
    pub stop_tokens: Vec<i64>,
    /// Tokens never generated (their logits set to -inf), e.g. the notebook's `unk`.
    pub banned_tokens: Vec<i64>,
    /// Use the KV cache (default) or rerun the whole sequence each step.
    pub use_cache: bool,
}

impl GenerateOptions {
    /// Up to `max_new_tokens` tokens, no stop or banned token, with the cache.
    pub fn new(max_new_tokens: usize) -> Self {
        Self {
            max_new_tokens,
            stop_tokens: Vec::new(),
            banned_tokens: Vec::new(),
            use_cache: true,
        }
    }

    /// Stops after any of `tokens`.
    pub fn with_stop_tokens(mut self, tokens: &[i64]) -> Self {
        self.stop_tokens = tokens.to_vec();
        self
    }

    /// Never generates any of `tokens`.
    pub fn with_banned_tokens(mut self, tokens: &[i64]) -> Self {
        self.banned_tokens = tokens.to_vec();
        self
    }

    /// With or without the KV cache.
    pub fn with_cache(mut self, use_cache: bool) -> Self {
        self.use_cache = use_cache;
        self
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `max_new_tokens` tokens were generated.
    MaxTokens,
    /// A stop token was generated.
    StopToken,
}

/// The result of [`generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The generated tokens (without the prompt).
    pub tokens: Vec<i64>,
    /// Why it stopped.
    pub stop: StopReason,
}

/// Generates up to `options.max_new_tokens` tokens after `prompt`, choosing each with
/// `chooser` (see the [module docs](self)).
///
/// # Errors
/// [`LmError::InvalidConfig`] for an empty prompt; [`LmError::ContextExceeded`] when the
/// prompt is longer than the model's context, or when the positions the model must see —
/// the prompt and every new token but the last, which is never fed back — are
/// (`prompt.len() + max_new_tokens − 1 > max_positions`; the error's `positions` is
/// `prompt.len() + max_new_tokens`); the request is refused, not cut short;
/// a banned token outside the vocabulary; errors of the model and the chooser (a chosen
/// id outside the vocabulary is [`LmError::BadLogits`]).
pub fn generate<M: CachedLm + ?Sized>(
    model: &M,
    prompt: &[i64],
    chooser: &mut dyn NextToken,
    options: &GenerateOptions,
) -> Result<Generation> {
    const OP: &str = "generate";
    if prompt.is_empty() {
        return Err(invalid(OP, "prompt", "[]", "needs at least one token"));
    }
    let context = model.max_positions();
    let vocab = model.vocab_size();
    if prompt.len() > context {
        return Err(LmError::ContextExceeded {
            op: OP,
            positions: prompt.len(),
            max_positions: context,
        });
    }
    // The last new token is never fed back, so the model sees total - 1 positions: a
    // prompt that fills the context still gets one new token (as transformers' generate).
    let total = prompt.len().saturating_add(options.max_new_tokens);
    if total.saturating_sub(1) > context {
        return Err(LmError::ContextExceeded {
            op: OP,
            positions: total,
            max_positions: context,
        });
    }
    if let Some(&bad) = options
        .banned_tokens
        .iter()
        .find(|&&t| usize::try_from(t).map_or(true, |t| t >= vocab))
    {
        return Err(invalid(
            OP,
            "banned_tokens",
            bad,
            format!("ids must be in 0..{vocab}"),
        ));
    }
    let mut history = prompt.to_vec();
    let mut tokens = Vec::with_capacity(options.max_new_tokens);
    if options.max_new_tokens == 0 {
        return Ok(Generation {
            tokens,
            stop: StopReason::MaxTokens,
        });
    }
    // The last token needs no forward pass of its own: capacity total - 1 suffices.
    let mut cache = if options.use_cache {
        Some(model.new_cache(total - 1)?)
    } else {
        None
    };
    let mut fresh = prompt.len();
    loop {
        let mut logits = match cache.as_mut() {
            Some(c) => model.last_logits(&history[history.len() - fresh..], Some(c))?,
            None => model.last_logits(&history, None)?,
        };
        if logits.len() != vocab {
            return Err(LmError::BadLogits {
                op: OP,
                reason: format!("the model gave {} logits for {vocab} tokens", logits.len()),
            });
        }
        for &t in &options.banned_tokens {
            logits[t as usize] = f64::NEG_INFINITY;
        }
        let next = chooser.next_token(&logits, &history)?;
        if usize::try_from(next).map_or(true, |n| n >= vocab) {
            return Err(LmError::BadLogits {
                op: OP,
                reason: format!("the chooser picked token {next}, outside 0..{vocab}"),
            });
        }
        tokens.push(next);
        history.push(next);
        if options.stop_tokens.contains(&next) {
            return Ok(Generation {
                tokens,
                stop: StopReason::StopToken,
            });
        }
        if tokens.len() == options.max_new_tokens {
            return Ok(Generation {
                tokens,
                stop: StopReason::MaxTokens,
            });
        }
        fresh = 1;
    }
}
