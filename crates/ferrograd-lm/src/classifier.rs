//! A language model as a classifier (§5.6 of the book): GPT-2's body, and a linear head on
//! the hidden state of each row's **last real token** — the only position whose causal
//! attention has seen the whole text. Hugging Face's `GPT2ForSequenceClassification`
//! (`transformer.*` and `score.weight`, `[num_labels, d]`, no bias).
//!
//! The last real token is found from the attention mask, so left and right padding give
//! the same answer. (transformers finds it from `pad_token_id` instead: the rightmost id
//! that is not the pad id. The book's classifier notebook pads its batches with id 0 while
//! the config's pad id is the eos id 50256, so transformers sees no padding at all and
//! pools the *last position of the padded row* — a padding token — for every row shorter
//! than the longest. It still trains, since that position attends to the real tokens, but
//! it is not the intended token; this module does not reproduce it.)
//!
//! **Positions differ from transformers for left-padded input.** With a mask, the
//! positions count real tokens only (`cumsum(mask) − 1`, as
//! [`crate::gpt2::position_ids_from_mask`] makes them), so a left-padded row's first real
//! token is at position 0 and left and right padding give the same scores. transformers'
//! `GPT2ForSequenceClassification` called without `position_ids` uses `arange(T)`
//! whatever the mask: for a left-padded row its logits differ from ours (and from the
//! same text right-padded). Unpadded and right-padded batches agree with transformers;
//! for left padding, pass transformers `position_ids = (mask.cumsum(-1) - 1).clamp(min=0)`
//! to compare. This divergence is deliberate and documented in `docs/chapter5.md`.
//!
//! ```
//! use ferrograd_lm::classifier::Gpt2ForSequenceClassification;
//! use ferrograd_lm::gpt2::Gpt2Config;
//! use ferrograd_tensor::{IdTensor, Rng};
//!
//! let model = Gpt2ForSequenceClassification::<f64>::new(&Gpt2Config::small(50, 16, 16, 1, 2), 6, &mut Rng::new(0))?;
//! // The same two texts, right- and left-padded: the same class scores.
//! let right = model.logits(&IdTensor::from([[5, 6, 7], [8, 9, 0]]), Some(&IdTensor::from([[1, 1, 1], [1, 1, 0]])))?;
//! let left = model.logits(&IdTensor::from([[5, 6, 7], [0, 8, 9]]), Some(&IdTensor::from([[1, 1, 1], [0, 1, 1]])))?;
//! assert_eq!(right.shape(), &[2, 6]);
//! assert!(right.to_vec().iter().zip(left.to_vec()).all(|(a, b)| (a - b).abs() < 1e-12));
//! # Ok::<(), ferrograd_lm::LmError>(())
//! ```

use crate::error::{LmError, Result, invalid};
use crate::gpt2::{Gpt2Config, Gpt2Input, Gpt2Model, position_ids_from_mask};
use crate::gpt2_load::{
    check_config_fits, load_into, normalized_state_dict, save_weights, write_json,
};
use ferrograd_nn::{
    CrossEntropyLoss, Forward, Linear, LoraHost, LoraSlot, Module, StateDict, Visitor,
};
use ferrograd_tensor::{IdTensor, Rng, Scalar, Tensor};
use std::path::Path;

/// Refuses a classifier of no class.
fn check_num_labels(num_labels: usize) -> Result<()> {
    if num_labels == 0 {
        return Err(invalid(
            "Gpt2ForSequenceClassification",
            "num_labels",
            0,
            "at least one class",
        ));
    }
    Ok(())
}

/// GPT-2 with a classification head on the last real token.
#[derive(Debug)]
pub struct Gpt2ForSequenceClassification<T: Scalar = f32> {
    /// The body.
    pub transformer: Gpt2Model<T>,
    /// The head, `[num_labels, d]`, no bias (Hugging Face's `score`).
    pub score: Linear<T>,
}

impl<T: Scalar> Module<T> for Gpt2ForSequenceClassification<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.module("transformer", &self.transformer);
        v.module("score", &self.score);
    }
}

impl<T: Scalar> Gpt2ForSequenceClassification<T> {
    /// A random model (the body as [`Gpt2Model::new`], the head `N(0, 0.02²)` as
    /// transformers initialises it).
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for an invalid config or
    /// `num_labels = 0`; [`LmError::ModelTooLarge`] naming
    /// `Gpt2ForSequenceClassification::new`, before anything is allocated, for a config
    /// whose parameter count (the head's `num_labels·n_embd` included) overflows `usize`
    /// or whose parameters need more than `isize::MAX` bytes, and for a weight the
    /// allocator refuses.
    pub fn new(config: &Gpt2Config, num_labels: usize, rng: &mut Rng) -> Result<Self> {
        let op = "Gpt2ForSequenceClassification::new";
        check_num_labels(num_labels)?;
        let transformer = Gpt2Model::random(op, config, num_labels, rng)?;
        Self::with_head(op, transformer, num_labels, rng)
    }

    /// A classifier on an existing body (a pretrained model's `transformer`) with a fresh
    /// head.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for `num_labels = 0`;
    /// [`LmError::ModelTooLarge`] naming
    /// `Gpt2ForSequenceClassification::with_body` for a head `[num_labels, n_embd]` whose
    /// size overflows, exceeds `isize::MAX` bytes or cannot be allocated.
    pub fn with_body(transformer: Gpt2Model<T>, num_labels: usize, rng: &mut Rng) -> Result<Self> {
        check_num_labels(num_labels)?;
        let op = "Gpt2ForSequenceClassification::with_body";
        Self::with_head(op, transformer, num_labels, rng)
    }

    /// The body and a fresh head `N(0, initializer_range²)` for the constructor `op`.
    fn with_head(
        op: &'static str,
        transformer: Gpt2Model<T>,
        num_labels: usize,
        rng: &mut Rng,
    ) -> Result<Self> {
        let d = transformer.config().n_embd;
        let std = transformer.config().initializer_range;
        // The fallible form of `init::normal`: the same draws.
        let weight =
            Tensor::try_randn(&[num_labels, d], T::ZERO, T::from_f64(std), rng).map_err(|e| {
                LmError::ModelTooLarge {
                    op,
                    config: format!("n_embd {d}, num_labels {num_labels}"),
                    reason: format!("cannot make the head score.weight [{num_labels}, {d}]: {e}"),
                }
            })?;
        let score = Linear::from_tensors(weight, None)?;
        Ok(Self { transformer, score })
    }

    /// Number of classes.
    pub fn num_labels(&self) -> usize {
        self.score.out_features()
    }

    /// Class scores `[B, num_labels]` of ids `[B, T]` with an optional padding mask
    /// (1 = token, 0 = padding, either side). Positions count real tokens only.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for a row that is all padding or shapes that do not fit.
    pub fn logits(
        &self,
        input_ids: &IdTensor,
        attention_mask: Option<&IdTensor>,
    ) -> Result<Tensor<T>> {
        let pooled = self.pooled(input_ids, attention_mask)?;
        Ok(self.score.forward(&pooled)?)
    }

    /// The hidden state of each row's last real token, `[B, d]`.
    ///
    /// # Errors
    /// As [`Gpt2ForSequenceClassification::logits`].
    pub fn pooled(
        &self,
        input_ids: &IdTensor,
        attention_mask: Option<&IdTensor>,
    ) -> Result<Tensor<T>> {
        let &[b, t] = input_ids.shape() else {
            return Err(invalid(
                "Gpt2ForSequenceClassification",
                "input_ids",
                format!("shape {:?}", input_ids.shape()),
                "[batch, time]",
            ));
        };
        let last = match attention_mask {
            Some(mask) => last_token_indices(mask)?,
            None => vec![t.saturating_sub(1); b],
        };
        let positions = attention_mask.map(position_ids_from_mask).transpose()?;
        let input = Gpt2Input {
            input_ids: Some(input_ids),
            attention_mask,
            position_ids: positions.as_ref(),
        };
        let hidden = self.transformer.hidden_states(&input)?; // [B, T, d]
        let d = hidden.shape()[2];
        // Row r's vector sits at flat index r·T + last[r] of [B·T, d].
        let flat: Vec<i64> = last
            .iter()
            .enumerate()
            .map(|(r, &i)| (r * t + i) as i64)
            .collect();
        let index = IdTensor::new(flat, &[b])?;
        Ok(hidden.reshape(&[b * t, d])?.index_select(0, &index)?)
    }

    /// Mean cross-entropy of the class scores against `labels` `[B]`.
    ///
    /// # Errors
    /// A label outside `0..num_labels`.
    pub fn loss(&self, logits: &Tensor<T>, labels: &IdTensor) -> Result<Tensor<T>> {
        Ok(CrossEntropyLoss::default().forward(logits, labels)?)
    }

    /// Loads a Hugging Face checkpoint directory: a `GPT2ForSequenceClassification` one
    /// (with `score.weight`), or a language model's (`GPT2LMHeadModel` / `GPT2Model`,
    /// whose head is dropped) with a fresh head of `num_labels` classes — the book's
    /// `AutoModelForSequenceClassification.from_pretrained("gpt2", num_labels=6)`. Returned
    /// in evaluation mode.
    ///
    /// # Errors
    /// As [`crate::gpt2::Gpt2LmHeadModel::from_pretrained`]; a `score.weight` whose shape
    /// does not fit `num_labels`.
    pub fn from_pretrained(
        dir: impl AsRef<Path>,
        num_labels: usize,
        rng: &mut Rng,
    ) -> Result<Self> {
        let dir = dir.as_ref();
        let config = Gpt2Config::from_file(dir.join("config.json"))?;
        let weights = dir.join("model.safetensors");
        let mut dict = normalized_state_dict::<T>(&weights)?;
        check_config_fits(&config, &dict, dir)?;
        let model = Self::new(&config, num_labels, rng)?;
        let has_head = dict.get("score.weight").is_some();
        // A language model's head (tied or not) is not part of a classifier.
        dict.retain(|n| n != "lm_head.weight");
        if has_head {
            load_into(&model, &dict, &weights)?;
        } else {
            load_into(&model.transformer, &strip(&dict, "transformer.")?, &weights)?;
        }
        model.eval();
        Ok(model)
    }

    /// Writes `config.json` (architecture `GPT2ForSequenceClassification`, `num_labels`
    /// via `id2label`) and `model.safetensors` that transformers'
    /// `AutoModelForSequenceClassification.from_pretrained` loads. `labels` names the
    /// classes in order (or `LABEL_i` when empty).
    ///
    /// # Errors
    /// [`LmError::Io`] when a file cannot be written; [`LmError::InvalidConfig`] when
    /// `labels` is neither empty nor one name per class.
    pub fn save_pretrained(&self, dir: impl AsRef<Path>, labels: &[&str]) -> Result<()> {
        let dir = dir.as_ref();
        if !labels.is_empty() && labels.len() != self.num_labels() {
            return Err(invalid(
                "save_pretrained",
                "labels",
                labels.len(),
                format!("one name per class ({})", self.num_labels()),
            ));
        }
        let dtype = save_weights(self, dir)?;
        let mut config = self
            .transformer
            .config()
            .to_json_as("GPT2ForSequenceClassification", dtype);
        let names: Vec<String> = (0..self.num_labels())
            .map(|i| {
                labels
                    .get(i)
                    .map_or_else(|| format!("LABEL_{i}"), |s| s.to_string())
            })
            .collect();
        let id2label: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i.to_string(), serde_json::json!(n)))
            .collect();
        let label2id: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), serde_json::json!(i)))
            .collect();
        config["id2label"] = serde_json::Value::Object(id2label);
        config["label2id"] = serde_json::Value::Object(label2id);
        write_json(&dir.join("config.json"), &config)
    }
}

fn strip<T: Scalar>(dict: &StateDict<T>, prefix: &str) -> Result<StateDict<T>> {
    let mut d = dict.clone();
    d.rename(|n| Some(n.strip_prefix(prefix).unwrap_or(n).to_string()))?;
    Ok(d)
}

/// The index of each row's last real token (the last 1 of its mask), for left or right
/// padding.
///
/// ```
/// use ferrograd_lm::classifier::last_token_indices;
/// use ferrograd_tensor::IdTensor;
/// let mask = IdTensor::from([[1, 1, 0, 0], [0, 1, 1, 1], [1, 1, 1, 1]]);
/// assert_eq!(last_token_indices(&mask)?, [1, 3, 3]);
/// # Ok::<(), ferrograd_lm::LmError>(())
/// ```
///
/// # Errors
/// [`LmError::InvalidConfig`] for a mask that is not 2-D or a row with no token.
pub fn last_token_indices(mask: &IdTensor) -> Result<Vec<usize>> {
    let &[b, t] = mask.shape() else {
        return Err(invalid(
            "last_token_indices",
            "attention_mask",
            format!("shape {:?}", mask.shape()),
            "[batch, time]",
        ));
    };
    let m = mask.contiguous_data();
    (0..b)
        .map(|r| {
            m[r * t..(r + 1) * t]
                .iter()
                .rposition(|&x| x != 0)
                .ok_or_else(|| {
                    invalid(
                        "last_token_indices",
                        "attention_mask",
                        format!("row {r} is all padding"),
                        "at least one token per row",
                    )
                })
        })
        .collect()
}

/// The fraction of rows whose largest score is the label.
///
/// # Errors
/// [`LmError::InvalidConfig`] when the shapes differ.
pub fn accuracy<T: Scalar>(logits: &Tensor<T>, labels: &IdTensor) -> Result<f64> {
    let predicted = logits.argmax(-1, false)?;
    if predicted.shape() != labels.shape() {
        return Err(invalid(
            "accuracy",
            "labels",
            format!("shape {:?}", labels.shape()),
            format!("{:?}", predicted.shape()),
        ));
    }
    let (p, l) = (predicted.contiguous_data(), labels.contiguous_data());
    let correct = p.iter().zip(l.iter()).filter(|(a, b)| a == b).count();
    Ok(correct as f64 / l.len().max(1) as f64)
}

impl<T: Scalar> LoraHost<T> for Gpt2ForSequenceClassification<T> {
    fn lora_slots(&mut self) -> Vec<(String, &mut dyn LoraSlot<T>)> {
        self.transformer.slots("transformer.")
    }

    fn default_lora_targets(&self) -> Vec<String> {
        vec!["c_attn".into()]
    }

    fn lora_fan_in_fan_out(&self) -> bool {
        true
    }

    fn lora_scalings(&self) -> Vec<(String, f64)> {
        self.transformer.scalings("transformer.")
    }
}

impl<T: Scalar> Gpt2ForSequenceClassification<T> {
    /// PEFT's `get_peft_model` with task type `SEQ_CLS`: freezes the body, attaches
    /// adapters to the targeted projections, and keeps the head trainable (PEFT's
    /// `modules_to_save = ["score"]`). Returns the wrapped layers' names.
    ///
    /// # Errors
    /// Invalid settings or targets that match no layer.
    pub fn add_lora(
        &mut self,
        config: &ferrograd_nn::LoraConfig,
        rng: &mut Rng,
    ) -> Result<Vec<String>> {
        self.transformer.freeze();
        let names = ferrograd_nn::apply_lora(self, config, rng)?;
        self.score.unfreeze();
        Ok(names)
    }
}
