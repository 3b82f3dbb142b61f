//! Text generation with GPT-2: a key-value cache written in place, greedy decoding or
//! sampling ([`crate::sampling`]), end-of-sequence ids, stop sequences and stop strings,
//! batches of left-padded prompts.
//!
//! With the cache ([`KvCache`]), the prompt goes through the model once (prefill) and then
//! one token at a time: each block's keys and values are written into preallocated
//! per-layer buffers `[B, heads, capacity, d_head]` (never re-concatenated), and the new
//! token's attention reads them in one fused pass (scores, mask, softmax and the value sum
//! per head). Without it, every step runs the whole sequence again through the training
//! forward; both give the same tokens (a test checks it against transformers'
//! `generate` with and without its cache).
//!
//! ```
//! use ferrograd_lm::gpt2::{Gpt2Config, Gpt2LmHeadModel};
//! use ferrograd_lm::gpt2_generate::{generate, GenerationConfig};
//! use ferrograd_lm::sampling::Sampler;
//! use ferrograd_tensor::{IdTensor, Rng};
//!
//! let model = Gpt2LmHeadModel::<f32>::new(&Gpt2Config::small(64, 32, 16, 2, 2), &mut Rng::new(0))?;
//! let prompt = IdTensor::from([[5, 6, 7]]);
//! let config = GenerationConfig::new(8);
//! let cached = generate(&model, &prompt, None, &mut Sampler::greedy(), &config)?;
//! let uncached = generate(&model, &prompt, None, &mut Sampler::greedy(), &config.clone().with_cache(false))?;
//! assert_eq!(cached.sequences, uncached.sequences);
//! assert_eq!(cached.sequences[0].len(), 3 + 8);
//! # Ok::<(), ferrograd_lm::LmError>(())
//! ```

use crate::error::{LmError, Result, invalid};
use crate::gpt2::{Gpt2Attention, Gpt2Block, Gpt2Input, Gpt2LmHeadModel, position_ids_from_mask};
use crate::sampling::NextToken;
use ferrograd_nn::Forward;
use ferrograd_tensor::{IdTensor, NoGradGuard, Scalar, Tensor};
use ferrograd_tokenize::ByteLevelBpe;

/// Preallocated keys and values of every layer, `[batch, heads, capacity, d_head]` each,
/// written in place as tokens arrive.
#[derive(Debug, Clone)]
pub struct KvCache<T: Scalar = f32> {
    keys: Vec<Vec<T>>,
    values: Vec<Vec<T>>,
    batch: usize,
    heads: usize,
    head_dim: usize,
    capacity: usize,
    len: usize,
}

impl<T: Scalar> KvCache<T> {
    /// An empty cache for `batch` rows of up to `capacity` positions of `model`.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] when `capacity` exceeds the model's context
    /// (`n_positions`) or is zero.
    pub fn new(model: &Gpt2LmHeadModel<T>, batch: usize, capacity: usize) -> Result<Self> {
        let c = model.config();
        if capacity == 0 || capacity > c.n_positions {
            return Err(invalid(
                "KvCache::new",
                "capacity",
                capacity,
                format!("between 1 and the context length {}", c.n_positions),
            ));
        }
        let size = batch * c.n_head * capacity * c.head_dim();
        Ok(Self {
            keys: (0..c.n_layer).map(|_| vec![T::ZERO; size]).collect(),
            values: (0..c.n_layer).map(|_| vec![T::ZERO; size]).collect(),
            batch,
            heads: c.n_head,
            head_dim: c.head_dim(),
            capacity,
            len: 0,
        })
    }

    /// Positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Positions it can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forgets everything (the buffers are kept).
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<T: Scalar> Gpt2LmHeadModel<T> {
    /// Runs `input_ids` `[B, t]` through the model after the `cache.len()` positions the
    /// cache holds, appends their keys and values to it, and returns the logits of the
    /// last of them, `[B, V]`. `attention_mask` covers the past and the new positions,
    /// `[B, past + t]` (all ones when `None`); positions default to `past..past + t`.
    /// Nothing is recorded for gradients.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] when `input_ids` has no
    /// position, the cache would overflow, its batch differs, it was made for a model of
    /// another shape (number of layers, heads or head size), or the shapes do not fit.
    pub fn forward_cached(
        &self,
        input_ids: &IdTensor,
        attention_mask: Option<&IdTensor>,
        position_ids: Option<&IdTensor>,
        cache: &mut KvCache<T>,
    ) -> Result<Tensor<T>> {
        let _no_grad = NoGradGuard::new();
        let &[b, t] = input_ids.shape() else {
            return Err(invalid(
                "forward_cached",
                "input_ids",
                format!("shape {:?}", input_ids.shape()),
                "[batch, time]",
            ));
        };
        if t == 0 {
            return Err(invalid(
                "forward_cached",
                "input_ids",
                format!("shape {:?}", input_ids.shape()),
                "at least one position (t >= 1)",
            ));
        }
        let c = self.config();
        if cache.keys.len() != c.n_layer
            || cache.heads != c.n_head
            || cache.head_dim != c.head_dim()
        {
            return Err(invalid(
                "forward_cached",
                "cache",
                format!(
                    "{} layers × {} heads × head_dim {}",
                    cache.keys.len(),
                    cache.heads,
                    cache.head_dim
                ),
                format!(
                    "a cache made for this model: {} layers × {} heads × head_dim {}",
                    c.n_layer,
                    c.n_head,
                    c.head_dim()
                ),
            ));
        }
        let past = cache.len;
        if b != cache.batch || past + t > cache.capacity {
            return Err(invalid(
                "forward_cached",
                "cache",
                format!(
                    "batch {}, {past} of {} positions used",
                    cache.batch, cache.capacity
                ),
                format!("room for {t} more positions of a batch of {b}"),
            ));
        }
        let ones;
        let mask = match attention_mask {
            Some(m) => m,
            None => {
                ones = IdTensor::full(&[b, past + t], 1)?;
                &ones
            }
        };
        let input = Gpt2Input {
            input_ids: Some(input_ids),
            attention_mask: Some(mask),
            position_ids,
        };
        let mut x = self.transformer.embed(&input, past)?;
        let key_mask = mask.contiguous_data().into_owned();
        for (layer, block) in self.transformer.h.iter().enumerate() {
            x = block.forward_cached(&x, &key_mask, cache, layer)?;
        }
        cache.len = past + t;
        let last = x.narrow(1, t - 1, 1)?.reshape(&[b, x.shape()[2]])?;
        let hidden = self.transformer.ln_f.forward(&last)?;
        self.project(&hidden)
    }
}

impl<T: Scalar> Gpt2Block<T> {
    fn forward_cached(
        &self,
        x: &Tensor<T>,
        key_mask: &[i64],
        cache: &mut KvCache<T>,
        layer: usize,
    ) -> Result<Tensor<T>> {
        let a = self
            .attn
            .forward_cached(&self.ln_1.forward(x)?, key_mask, cache, layer)?;
        let x = x.add(&a)?;
        let m = self.mlp_forward(&self.ln_2.forward(&x)?)?;
        Ok(x.add(&m)?)
    }

    fn mlp_forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        crate::gpt2::mlp_forward(&self.mlp, x)
    }
}

impl<T: Scalar> Gpt2Attention<T> {
    /// Attention of `t` new positions over the cache: writes their keys and values, then
    /// one fused pass per (row, head) — scores, mask, softmax, value sum.
    fn forward_cached(
        &self,
        x: &Tensor<T>,
        key_mask: &[i64],
        cache: &mut KvCache<T>,
        layer: usize,
    ) -> Result<Tensor<T>> {
        let (b, t, d) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let (h, dh, cap, past) = (cache.heads, cache.head_dim, cache.capacity, cache.len);
        let total = past + t;
        let qkv = self.c_attn.forward(x)?;
        let qkv = qkv.contiguous_data();
        // Write the new keys and values: qkv row (b, s) = [q | k | v], each [h, dh].
        let (keys, values) = (&mut cache.keys[layer], &mut cache.values[layer]);
        for row in 0..b {
            for s in 0..t {
                let src = &qkv[(row * t + s) * 3 * d..(row * t + s + 1) * 3 * d];
                for head in 0..h {
                    let dst = ((row * h + head) * cap + past + s) * dh;
                    keys[dst..dst + dh].copy_from_slice(&src[d + head * dh..d + (head + 1) * dh]);
                    values[dst..dst + dh]
                        .copy_from_slice(&src[2 * d + head * dh..2 * d + (head + 1) * dh]);
                }
            }
        }
        let mut out = vec![T::ZERO; b * t * d];
        let scale = T::from_f64(self.scale);
        let mut scores = vec![T::ZERO; total];
        for row in 0..b {
            let mask = &key_mask[row * total..(row + 1) * total];
            for head in 0..h {
                let base = (row * h + head) * cap * dh;
                let (k, v) = (
                    &keys[base..base + total * dh],
                    &values[base..base + total * dh],
                );
                for s in 0..t {
                    let q = &qkv[(row * t + s) * 3 * d + head * dh..][..dh];
                    let visible = past + s + 1; // causal: keys 0..=past+s
                    let mut max = T::NEG_INFINITY;
                    for j in 0..visible {
                        scores[j] = if mask[j] == 0 {
                            T::NEG_INFINITY
                        } else {
                            let kj = &k[j * dh..(j + 1) * dh];
                            dot(q, kj) * scale
                        };
                        if scores[j] > max {
                            max = scores[j];
                        }
                    }
                    let o = &mut out[(row * t + s) * d + head * dh..][..dh];
                    if max == T::NEG_INFINITY {
                        continue; // a padding query: no key to look at (output unused)
                    }
                    let mut total_weight = T::ZERO;
                    for score in scores.iter_mut().take(visible) {
                        *score = (*score - max).exp();
                        total_weight += *score;
                    }
                    let inv = T::ONE / total_weight;
                    for (j, &w) in scores.iter().take(visible).enumerate() {
                        if w == T::ZERO {
                            continue;
                        }
                        let w = w * inv;
                        for (o, &vj) in o.iter_mut().zip(&v[j * dh..(j + 1) * dh]) {
                            *o += w * vj;
                        }
                    }
                }
            }
        }
        drop(qkv);
        let out = Tensor::from_vec(out, &[b, t, d])?;
        Ok(self.c_proj.forward(&out)?)
    }
}

#[inline]
fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
    let mut lanes = [T::ZERO; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    let mut s = lanes.iter().fold(T::ZERO, |acc, &l| acc + l);
    for (x, y) in ta.iter().zip(tb) {
        s += *x * *y;
    }
    s
}

/// How long to generate and when to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationConfig {
    /// Most tokens to add to each row.
    pub max_new_tokens: usize,
    /// A row stops after producing one of these (its end-of-sequence ids); the id is kept.
    pub eos_token_ids: Vec<i64>,
    /// A row stops when its generated ids end with one of these sequences (a stop token
    /// that the tokenizer splits into several ids, such as `<|im_end|>` in GPT-2's
    /// vocabulary).
    pub stop_sequences: Vec<Vec<i64>>,
    /// What finished rows are filled with while others go on (default: the first eos id,
    /// else 0).
    pub pad_token_id: Option<i64>,
    /// Use the key-value cache (default) or run the whole sequence every step.
    pub use_cache: bool,
}

impl GenerationConfig {
    /// Up to `max_new_tokens` tokens, no stop ids, with the cache.
    pub fn new(max_new_tokens: usize) -> Self {
        Self {
            max_new_tokens,
            eos_token_ids: Vec::new(),
            stop_sequences: Vec::new(),
            pad_token_id: None,
            use_cache: true,
        }
    }

    /// The same, stopping at these end-of-sequence ids.
    pub fn with_eos(mut self, ids: &[i64]) -> Self {
        self.eos_token_ids = ids.to_vec();
        self
    }

    /// The same, stopping when the generated ids end with `sequence`.
    pub fn with_stop_sequence(mut self, sequence: Vec<i64>) -> Self {
        self.stop_sequences.push(sequence);
        self
    }

    /// The same with or without the cache.
    pub fn with_cache(mut self, use_cache: bool) -> Self {
        self.use_cache = use_cache;
        self
    }

    /// The same with this padding id for finished rows.
    pub fn with_pad(mut self, pad: i64) -> Self {
        self.pad_token_id = Some(pad);
        self
    }

    fn pad(&self) -> i64 {
        self.pad_token_id
            .or_else(|| self.eos_token_ids.first().copied())
            .unwrap_or(0)
    }
}

/// Why a row stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// It produced an end-of-sequence id.
    Eos,
    /// Its ids ended with a stop sequence.
    StopSequence,
    /// A stop string appeared in its text ([`generate_text`]).
    StopString,
    /// It reached `max_new_tokens`, or the end of the model's context.
    Length,
}

/// What [`generate`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// Each row's prompt (padding included, as given) followed by its new ids; rows that
    /// finished early are filled with the padding id, so all have the same length
    /// (transformers' `generate` output).
    pub sequences: Vec<Vec<i64>>,
    /// Each row's new ids up to and including the one that stopped it.
    pub new_tokens: Vec<Vec<i64>>,
    /// Why each row stopped.
    pub finish: Vec<FinishReason>,
}

/// Generates up to `config.max_new_tokens` ids after each row of `input_ids` `[B, T]`,
/// choosing each with `chooser` (greedy or a seeded sampler, drawn row by row in order).
/// Batches of unequal prompts must be left-padded with an `attention_mask` (`[B, T]`, 0 on
/// padding); positions then count real tokens only, as in transformers.
///
/// The last new token is never fed back to the model, so at most `n_positions + 1 − T`
/// tokens fit after a prompt of `T` tokens (one after a prompt that fills the context, as
/// transformers' `generate`). A longer `max_new_tokens` is cut to that: rows still running
/// then finish with [`FinishReason::Length`] (transformers fails with an index error
/// instead).
///
/// # Errors
/// [`LmError::InvalidConfig`] for a mask of another shape, a
/// right-padded row, a prompt longer than the context (`T > n_positions`, when any token is
/// asked for), or an empty prompt; [`LmError::BadLogits`] when
/// the chooser picks an id outside the vocabulary; the chooser's errors.
pub fn generate<T: Scalar>(
    model: &Gpt2LmHeadModel<T>,
    input_ids: &IdTensor,
    attention_mask: Option<&IdTensor>,
    chooser: &mut dyn NextToken,
    config: &GenerationConfig,
) -> Result<Generation> {
    generate_with(
        model,
        input_ids,
        attention_mask,
        chooser,
        config,
        &mut |_, _| false,
    )
}

/// [`generate`] with an extra stop test: `stop(row, new_ids)` is asked after every new
/// id of a row still running; `true` finishes the row ([`FinishReason::StopString`]).
fn generate_with<T: Scalar>(
    model: &Gpt2LmHeadModel<T>,
    input_ids: &IdTensor,
    attention_mask: Option<&IdTensor>,
    chooser: &mut dyn NextToken,
    config: &GenerationConfig,
    stop: &mut dyn FnMut(usize, &[i64]) -> bool,
) -> Result<Generation> {
    let _no_grad = NoGradGuard::new();
    let &[b, t] = input_ids.shape() else {
        return Err(invalid(
            "generate",
            "input_ids",
            format!("shape {:?}", input_ids.shape()),
            "[batch, time]",
        ));
    };
    if t == 0 || b == 0 {
        return Err(invalid("generate", "prompt", "empty", "at least one token"));
    }
    let mask: Vec<i64> = match attention_mask {
        Some(m) if m.shape() == [b, t] => m.contiguous_data().into_owned(),
        Some(m) => {
            return Err(invalid(
                "generate",
                "attention_mask",
                format!("shape {:?}", m.shape()),
                format!("[{b}, {t}] like the ids"),
            ));
        }
        None => vec![1; b * t],
    };
    for row in 0..b {
        let row_mask = &mask[row * t..(row + 1) * t];
        if row_mask.iter().all(|&m| m == 0) {
            return Err(invalid(
                "generate",
                "prompt",
                format!("row {row}"),
                "at least one token (the row is all padding: an empty prompt)",
            ));
        }
        if row_mask[t - 1] == 0 {
            return Err(invalid(
                "generate",
                "attention_mask",
                format!("row {row} ends with padding"),
                "left padding (pad before the prompt, as transformers requires for generation)",
            ));
        }
    }
    // The last new token is never fed back to the model, so a prompt of t <= n_positions
    // tokens leaves room for n_positions + 1 - t new ones (transformers gives one new token
    // for a prompt that fills the context). Longer requests are cut to that and the rows
    // still running finish with `FinishReason::Length`.
    let n_positions = model.config().n_positions;
    if t > n_positions && config.max_new_tokens > 0 {
        return Err(invalid(
            "generate",
            "prompt",
            format!("{t} tokens"),
            format!("at most the context length {n_positions}"),
        ));
    }
    let steps = config
        .max_new_tokens
        .min((n_positions + 1).saturating_sub(t));
    let ids = input_ids.contiguous_data().into_owned();
    let mut sequences: Vec<Vec<i64>> = (0..b).map(|r| ids[r * t..(r + 1) * t].to_vec()).collect();
    // What the penalties see: the real prompt tokens, then the generated ones.
    let mut seen: Vec<Vec<i64>> = (0..b)
        .map(|r| {
            (0..t)
                .filter(|&c| mask[r * t + c] != 0)
                .map(|c| ids[r * t + c])
                .collect()
        })
        .collect();
    let mut new_tokens = vec![Vec::new(); b];
    let mut finish: Vec<Option<FinishReason>> = vec![None; b];
    let mut full_mask = mask.clone();
    // The positions fed: the prompt and every new token but the last.
    let mut cache = if config.use_cache && steps > 0 {
        Some(KvCache::new(model, b, t + steps - 1)?)
    } else {
        None
    };
    let pad = config.pad();
    let mut last_positions: Vec<i64> = (0..b)
        .map(|r| mask[r * t..(r + 1) * t].iter().filter(|&&m| m != 0).count() as i64 - 1)
        .collect();
    for step in 0..steps {
        let len = t + step;
        let logits = match &mut cache {
            Some(cache) => {
                let (step_ids, positions) = if step == 0 {
                    let mask_t = IdTensor::new(full_mask.clone(), &[b, len])?;
                    (input_ids.clone(), position_ids_from_mask(&mask_t)?)
                } else {
                    let last: Vec<i64> = sequences.iter().map(|s| s[len - 1]).collect();
                    (
                        IdTensor::new(last, &[b, 1])?,
                        IdTensor::new(last_positions.clone(), &[b, 1])?,
                    )
                };
                let mask_t = IdTensor::new(full_mask.clone(), &[b, len])?;
                model.forward_cached(&step_ids, Some(&mask_t), Some(&positions), cache)?
            }
            None => {
                let flat: Vec<i64> = sequences.iter().flatten().copied().collect();
                let all = IdTensor::new(flat, &[b, len])?;
                let mask_t = IdTensor::new(full_mask.clone(), &[b, len])?;
                let positions = position_ids_from_mask(&mask_t)?;
                let input = Gpt2Input::masked(&all, &mask_t).with_positions(&positions);
                let logits = model.logits_of(&input)?;
                let v = logits.shape()[2];
                logits.narrow(1, len - 1, 1)?.reshape(&[b, v])?
            }
        };
        let v = logits.shape()[1];
        let data = logits.contiguous_data();
        let mut row_logits = vec![0f64; v];
        for row in 0..b {
            let token = if finish[row].is_some() {
                pad
            } else {
                for (dst, src) in row_logits.iter_mut().zip(&data[row * v..(row + 1) * v]) {
                    *dst = src.to_f64();
                }
                let token = chooser.next_token(&row_logits, &seen[row])?;
                if usize::try_from(token).map_or(true, |id| id >= v) {
                    return Err(LmError::BadLogits {
                        op: "generate",
                        reason: format!(
                            "the chooser picked token {token} for row {row}, outside 0..{v}"
                        ),
                    });
                }
                seen[row].push(token);
                new_tokens[row].push(token);
                if config.eos_token_ids.contains(&token) {
                    finish[row] = Some(FinishReason::Eos);
                } else if config
                    .stop_sequences
                    .iter()
                    .any(|s| !s.is_empty() && new_tokens[row].ends_with(s))
                {
                    finish[row] = Some(FinishReason::StopSequence);
                } else if stop(row, &new_tokens[row]) {
                    finish[row] = Some(FinishReason::StopString);
                }
                token
            };
            sequences[row].push(token);
        }
        drop(data);
        // The mask of the next step: every appended position is a real token (as
        // transformers extends it), and positions move on by one.
        let mut next_mask = Vec::with_capacity(b * (len + 1));
        for row in 0..b {
            next_mask.extend_from_slice(&full_mask[row * len..(row + 1) * len]);
            next_mask.push(1);
        }
        full_mask = next_mask;
        for p in &mut last_positions {
            *p += 1;
        }
        if finish.iter().all(Option::is_some) {
            break;
        }
    }
    Ok(Generation {
        sequences,
        new_tokens,
        finish: finish
            .into_iter()
            .map(|f| f.unwrap_or(FinishReason::Length))
            .collect(),
    })
}

/// A completion as text, from [`generate_text`].
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedText {
    /// The new text, cut before the stop string that ended it (if one did).
    pub text: String,
    /// The new ids (including the one that completed a stop string or was an eos id).
    pub tokens: Vec<i64>,
    /// Why it stopped.
    pub finish: FinishReason,
}

/// Generates a completion of `prompt` as text: encodes it with `tokenizer`, generates
/// with [`generate`], and stops early at an eos id, a stop sequence, or the first
/// occurrence of one of `stop_strings` in the decoded completion (the text is cut before
/// it; the book's ChatML stops at `<|im_end|>`).
///
/// # Errors
/// As [`generate`]; a tokenizer error for ids it cannot decode.
pub fn generate_text<T: Scalar>(
    model: &Gpt2LmHeadModel<T>,
    tokenizer: &ByteLevelBpe,
    prompt: &str,
    chooser: &mut dyn NextToken,
    config: &GenerationConfig,
    stop_strings: &[&str],
) -> Result<GeneratedText> {
    let ids: Vec<i64> = tokenizer
        .encode(prompt)
        .into_iter()
        .map(i64::from)
        .collect();
    let n = ids.len();
    let input = IdTensor::new(ids, &[1, n])?;
    let decode = |tokens: &[i64]| -> String {
        let ids: Vec<u32> = tokens
            .iter()
            .filter_map(|&t| u32::try_from(t).ok())
            .collect();
        tokenizer.decode_lossy(&ids).unwrap_or_default()
    };
    let mut stop = |_: usize, tokens: &[i64]| {
        let text = decode(tokens);
        stop_strings
            .iter()
            .any(|s| !s.is_empty() && text.contains(s))
    };
    let generation = generate_with(model, &input, None, chooser, config, &mut stop)?;
    let tokens = generation.new_tokens.into_iter().next().unwrap_or_default();
    let finish = generation.finish[0];
    let mut text = decode(&tokens);
    if let Some(cut) = stop_strings
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s))
        .min()
    {
        text.truncate(cut);
    }
    if finish == FinishReason::Eos
        && let Some(&last) = tokens.last()
    {
        let eos_text = decode(&[last]);
        if text.ends_with(&eos_text) {
            text.truncate(text.len() - eos_text.len());
        }
    }
    Ok(GeneratedText {
        text,
        tokens,
        finish,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LmError;
    use crate::gpt2::Gpt2Config;
    use crate::sampling::Sampler;
    use ferrograd_tensor::Rng;

    fn model(n_positions: usize, n_layer: usize, n_head: usize) -> Gpt2LmHeadModel<f32> {
        Gpt2LmHeadModel::new(
            &Gpt2Config::small(40, n_positions, 16, n_layer, n_head),
            &mut Rng::new(3),
        )
        .unwrap()
    }

    fn is_invalid(e: &LmError, name: &str) -> bool {
        matches!(e, LmError::InvalidConfig { op: "forward_cached", name: n, .. } if *n == name)
    }

    #[test]
    fn a_cache_made_for_another_model_is_refused() {
        let ids = IdTensor::from([[1, 2, 3]]);
        let two_layers = model(16, 2, 2);
        // Another number of layers (was: index out of bounds), of heads with the same
        // width (was: silently wrong logits), of head size.
        for other in [model(16, 3, 2), model(16, 2, 4), model(16, 1, 2)] {
            let mut cache = KvCache::new(&other, 1, 8).unwrap();
            let e = two_layers
                .forward_cached(&ids, None, None, &mut cache)
                .unwrap_err();
            assert!(is_invalid(&e, "cache"), "{e}");
            assert!(
                e.to_string().contains("2 layers × 2 heads × head_dim 8"),
                "{e}"
            );
            assert_eq!(cache.len(), 0, "a refused step leaves the cache as it was");
        }
        let wide =
            Gpt2LmHeadModel::<f32>::new(&Gpt2Config::small(40, 16, 32, 2, 2), &mut Rng::new(3))
                .unwrap();
        let mut cache = KvCache::new(&wide, 1, 8).unwrap();
        let e = two_layers
            .forward_cached(&ids, None, None, &mut cache)
            .unwrap_err();
        assert!(e.to_string().contains("head_dim 16"), "{e}");
        // Its own cache works.
        let mut cache = KvCache::new(&two_layers, 1, 8).unwrap();
        two_layers
            .forward_cached(&ids, None, None, &mut cache)
            .unwrap();
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn input_without_positions_is_refused() {
        let m = model(16, 2, 2);
        let mut cache = KvCache::new(&m, 1, 8).unwrap();
        let empty = IdTensor::new(Vec::new(), &[1, 0]).unwrap();
        let e = m
            .forward_cached(&empty, None, None, &mut cache)
            .unwrap_err();
        assert!(is_invalid(&e, "input_ids"), "{e}");
        assert!(e.to_string().contains("at least one position"), "{e}");
    }

    /// The greedy next token of `ids` from the full (uncached) forward.
    fn full_forward_argmax(m: &Gpt2LmHeadModel<f32>, ids: &[i64]) -> i64 {
        let t = ids.len();
        let input = IdTensor::new(ids.to_vec(), &[1, t]).unwrap();
        let logits = m.logits_of(&Gpt2Input::ids(&input)).unwrap();
        let v = logits.shape()[2];
        let last = logits.narrow(1, t - 1, 1).unwrap().to_vec();
        assert_eq!(last.len(), v);
        crate::sampling::argmax(&last.iter().map(|&x| f64::from(x)).collect::<Vec<_>>()) as i64
    }

    #[test]
    fn a_prompt_that_fills_the_context_still_gets_one_token() {
        // transformers (GPT2Config(n_positions=8), random weights, greedy): a prompt of
        // 8 tokens with max_new_tokens=1 gives 1 new token; 7 tokens with 2 give 2; 8 with
        // 2 or 6 with 5 fail with an IndexError (scripts/reference/gpt2_context_bound.py).
        let m = model(8, 2, 2);
        let prompt: Vec<i64> = (1..=8).collect();
        let ids = IdTensor::new(prompt.clone(), &[1, 8]).unwrap();
        for cache in [true, false] {
            let config = GenerationConfig::new(1).with_cache(cache);
            let g = generate(&m, &ids, None, &mut Sampler::greedy(), &config).unwrap();
            assert_eq!(
                g.new_tokens[0],
                [full_forward_argmax(&m, &prompt)],
                "cache {cache}"
            );
            assert_eq!(g.finish, [FinishReason::Length]);
        }
        // 7 tokens leave room for 2 new ones: asking for 5 gives 2, cut by the context.
        let ids7 = IdTensor::new(prompt[..7].to_vec(), &[1, 7]).unwrap();
        let mut runs = Vec::new();
        for cache in [true, false] {
            let config = GenerationConfig::new(5).with_cache(cache);
            let g = generate(&m, &ids7, None, &mut Sampler::greedy(), &config).unwrap();
            assert_eq!(g.new_tokens[0].len(), 2, "cache {cache}");
            assert_eq!(g.sequences[0].len(), 9);
            assert_eq!(g.finish, [FinishReason::Length]);
            runs.push(g);
        }
        assert_eq!(runs[0], runs[1]);
        let first = full_forward_argmax(&m, &prompt[..7]);
        let mut fed = prompt[..7].to_vec();
        fed.push(first);
        assert_eq!(
            runs[0].new_tokens[0],
            [first, full_forward_argmax(&m, &fed)]
        );
        // Longer than the context: refused (with max_new_tokens > 0).
        let ids9 = IdTensor::new((1..=9).collect(), &[1, 9]).unwrap();
        let e = generate(
            &m,
            &ids9,
            None,
            &mut Sampler::greedy(),
            &GenerationConfig::new(1),
        )
        .unwrap_err();
        assert!(e.to_string().contains("9 tokens"), "{e}");
    }

    /// A chooser that returns a fixed id, whatever the logits.
    #[derive(Debug)]
    struct Fixed(i64);

    impl NextToken for Fixed {
        fn next_token(&mut self, _logits: &[f64], _previous: &[i64]) -> Result<i64> {
            Ok(self.0)
        }
    }

    #[test]
    fn a_chooser_id_outside_the_vocabulary_is_an_error() {
        let m = model(16, 1, 2);
        let ids = IdTensor::from([[1, 2, 3]]);
        for cache in [true, false] {
            let config = GenerationConfig::new(3).with_cache(cache);
            for bad in [40, -1, 1_000_000] {
                let e = generate(&m, &ids, None, &mut Fixed(bad), &config).unwrap_err();
                assert!(
                    matches!(&e, LmError::BadLogits { op: "generate", reason }
                        if reason.contains(&format!("token {bad} ")) && reason.contains("0..40")),
                    "{e}"
                );
            }
            let g = generate(&m, &ids, None, &mut Fixed(39), &config).unwrap();
            assert_eq!(g.new_tokens[0], [39, 39, 39]);
        }
    }
}
