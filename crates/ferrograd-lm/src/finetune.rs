//! Supervised finetuning (§5.2–5.3 of the book): prompt/completion examples, labels that
//! train only the completion, padded batches with attention masks, the emotion prompt
//! (§5.3.2) and ChatML instructions (§5.3.3), a training step with AdamW, and evaluation
//! by generation and exact match.
//!
//! An example is `prompt ids ++ completion ids ++ [eos]`; its labels are −100 on the
//! prompt (so the loss ignores it) followed by the completion ids and the eos id, so the
//! model learns to produce the completion and then stop. A batch pads every row to the
//! longest with a pad id (attention mask 0, label −100).
//!
//! ```
//! use ferrograd_lm::finetune::{collate, emotion_prompt, encode_example, Padding};
//! use ferrograd_tokenize::ByteLevelTrainer;
//!
//! let tokenizer = ByteLevelTrainer::new(300).train(&"Predict the emotion joy sadness ".repeat(20))?;
//! let eos = 0;
//! let a = encode_example(&tokenizer, &emotion_prompt("i feel great"), "joy", eos);
//! let b = encode_example(&tokenizer, &emotion_prompt("so sad today, really"), "sadness", eos);
//! assert!(a.labels.iter().take_while(|&&l| l == -100).count() > 5); // the prompt is ignored
//! assert_eq!(*a.labels.last().unwrap(), eos);                     // the model learns to stop
//! let batch = collate(&[&a, &b], eos, Padding::Right)?;
//! assert_eq!(batch.input_ids.shape(), batch.labels.shape());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{Result, invalid};
use crate::gpt2::{Gpt2Input, Gpt2LmHeadModel, position_ids_from_mask};
use crate::gpt2_generate::{GenerationConfig, generate};
use crate::sampling::Sampler;
use ferrograd_optim::Optimizer;
use ferrograd_tensor::{IdTensor, Scalar};
use ferrograd_tokenize::ByteLevelBpe;

/// The label the loss ignores (PyTorch's `ignore_index`).
pub const IGNORE: i64 = -100;

/// The emotion task's prompt (§5.3.2): the model completes it with the label.
///
/// ```
/// assert_eq!(
///     ferrograd_lm::finetune::emotion_prompt("i feel great"),
///     "Predict the emotion for the following text: i feel great\nEmotion:"
/// );
/// ```
pub fn emotion_prompt(text: &str) -> String {
    format!("Predict the emotion for the following text: {text}\nEmotion:")
}

/// ChatML's end-of-turn marker; generation stops when the model writes it.
pub const CHATML_END: &str = "<|im_end|>";

/// The ChatML conversation of §5.3.3 up to the assistant's turn: a system message, the
/// user's instruction, and the opening of the assistant's answer.
///
/// ```
/// let prompt = ferrograd_lm::finetune::chatml_prompt("Name a colour.");
/// assert!(prompt.starts_with("<|im_start|>system\nYou are a helpful assistant.\n<|im_end|>\n"));
/// assert!(prompt.ends_with("<|im_start|>user\nName a colour.\n<|im_end|>\n<|im_start|>assistant"));
/// ```
pub fn chatml_prompt(instruction: &str) -> String {
    format!(
        "<|im_start|>system\nYou are a helpful assistant.\n{CHATML_END}\n<|im_start|>user\n{instruction}\n{CHATML_END}\n<|im_start|>assistant"
    )
}

/// The assistant's answer as it is trained: on a new line, then the end marker.
pub fn chatml_completion(solution: &str) -> String {
    format!("\n{solution}\n{CHATML_END}")
}

/// One training example: ids and labels of equal length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SftExample {
    /// `prompt ++ completion ++ [eos]`.
    pub input_ids: Vec<i64>,
    /// `[−100; prompt] ++ completion ++ [eos]`.
    pub labels: Vec<i64>,
}

/// Encodes a prompt/completion pair (each separately, no special tokens, as the book's
/// notebooks do) with `eos` appended.
pub fn encode_example(
    tokenizer: &ByteLevelBpe,
    prompt: &str,
    completion: &str,
    eos: i64,
) -> SftExample {
    let ids =
        |text: &str| -> Vec<i64> { tokenizer.encode(text).into_iter().map(i64::from).collect() };
    SftExample::new(&ids(prompt), &ids(completion), eos)
}

impl SftExample {
    /// An example from already encoded prompt and completion ids.
    pub fn new(prompt: &[i64], completion: &[i64], eos: i64) -> Self {
        let mut input_ids = prompt.to_vec();
        input_ids.extend_from_slice(completion);
        input_ids.push(eos);
        let mut labels = vec![IGNORE; prompt.len()];
        labels.extend_from_slice(completion);
        labels.push(eos);
        Self { input_ids, labels }
    }
}

/// Which side padding goes: right for training (the notebooks'), left for batched
/// generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Pad after the tokens.
    Right,
    /// Pad before the tokens.
    Left,
}

/// A padded batch.
#[derive(Debug, Clone)]
pub struct SftBatch {
    /// `[B, T]`, padded with the pad id.
    pub input_ids: IdTensor,
    /// `[B, T]`, 1 on tokens, 0 on padding.
    pub attention_mask: IdTensor,
    /// `[B, T]`, −100 on the prompt and on padding.
    pub labels: IdTensor,
    /// Positions counting real tokens only (`cumsum(mask) − 1`).
    pub position_ids: IdTensor,
}

impl SftBatch {
    /// Number of label tokens the loss scores: labels other than −100 in columns 1 and
    /// after (the shifted loss predicts label `t + 1` from position `t`, so column 0 is
    /// never scored, as in [`train_step`]).
    pub fn target_tokens(&self) -> usize {
        let width = self.labels.shape().last().copied().unwrap_or(0);
        if width < 2 {
            return 0;
        }
        self.labels
            .contiguous_data()
            .chunks(width)
            .map(|row| row[1..].iter().filter(|&&l| l != IGNORE).count())
            .sum()
    }
}

/// Pads `examples` to the longest one.
///
/// # Errors
/// [`crate::LmError::InvalidConfig`] for an empty list, an empty example, or an example
/// whose `labels` and `input_ids` differ in length (each named by its index).
pub fn collate(examples: &[&SftExample], pad_id: i64, padding: Padding) -> Result<SftBatch> {
    if examples.is_empty() {
        return Err(invalid("collate", "examples", 0, "at least one example"));
    }
    for (i, e) in examples.iter().enumerate() {
        if e.input_ids.is_empty() {
            return Err(invalid(
                "collate",
                "examples",
                format!("example {i} has no tokens"),
                "every example needs at least one token",
            ));
        }
        if e.labels.len() != e.input_ids.len() {
            return Err(invalid(
                "collate",
                "examples",
                format!(
                    "example {i} has {} input ids and {} labels",
                    e.input_ids.len(),
                    e.labels.len()
                ),
                "one label per input id",
            ));
        }
    }
    let t = examples
        .iter()
        .map(|e| e.input_ids.len())
        .max()
        .unwrap_or(0);
    let b = examples.len();
    let (mut ids, mut mask, mut labels) = (
        Vec::with_capacity(b * t),
        Vec::with_capacity(b * t),
        Vec::with_capacity(b * t),
    );
    for e in examples {
        let pad = t - e.input_ids.len();
        let fill = |ids: &mut Vec<i64>, mask: &mut Vec<i64>, labels: &mut Vec<i64>| {
            ids.extend(std::iter::repeat_n(pad_id, pad));
            mask.extend(std::iter::repeat_n(0, pad));
            labels.extend(std::iter::repeat_n(IGNORE, pad));
        };
        if padding == Padding::Left {
            fill(&mut ids, &mut mask, &mut labels);
        }
        ids.extend_from_slice(&e.input_ids);
        mask.extend(std::iter::repeat_n(1, e.input_ids.len()));
        labels.extend_from_slice(&e.labels);
        if padding == Padding::Right {
            fill(&mut ids, &mut mask, &mut labels);
        }
    }
    let attention_mask = IdTensor::new(mask, &[b, t])?;
    Ok(SftBatch {
        input_ids: IdTensor::new(ids, &[b, t])?,
        position_ids: position_ids_from_mask(&attention_mask)?,
        attention_mask,
        labels: IdTensor::new(labels, &[b, t])?,
    })
}

/// One optimisation step on a batch (PyTorch's zero-grad / forward / loss / backward /
/// step): returns the loss before the update. Only trainable parameters change (with LoRA
/// attached and the base frozen, only the adapters).
///
/// # Errors
/// Shapes that do not fit the model, [`crate::LmError::InvalidConfig`] for a batch with no
/// scored label, a non-finite loss, or the optimizer's errors.
pub fn train_step<T: Scalar>(
    model: &Gpt2LmHeadModel<T>,
    batch: &SftBatch,
    optimizer: &mut dyn Optimizer<T>,
) -> Result<f64> {
    let input = Gpt2Input::masked(&batch.input_ids, &batch.attention_mask)
        .with_positions(&batch.position_ids);
    // The loss scores label t + 1 from position t, so column 0 is never scored. A batch
    // whose other labels are all -100 (hand-built examples) has nothing to learn from:
    // said as such, not as a NaN loss.
    let width = batch.labels.shape().last().copied().unwrap_or(0);
    let labels = batch.labels.contiguous_data();
    let scored = width > 1
        && labels
            .chunks(width)
            .any(|row| row[1..].iter().any(|&l| l != -100));
    if !scored {
        return Err(invalid(
            "train_step",
            "labels",
            "all -100 past the first column",
            "at least one completion token to score",
        ));
    }
    let loss = model.loss(&model.logits_of(&input)?, &batch.labels)?;
    let value = loss.item()?.to_f64();
    if !value.is_finite() {
        return Err(invalid(
            "train_step",
            "loss",
            value,
            "a finite loss (lower the learning rate?)",
        ));
    }
    let grads = loss.backward_free()?;
    optimizer.step(&grads)?;
    Ok(value)
}

/// The book's answer normalisation before exact match: trimmed, lower case, runs of
/// whitespace as one space.
///
/// ```
/// assert_eq!(ferrograd_lm::finetune::normalize("  Joy \n"), "joy");
/// ```
pub fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Exact-match accuracy of greedy completions: each prompt is completed (up to
/// `max_new_tokens`, stopping at `eos`), decoded, normalised and compared with its expected
/// completion. Prompts go through in left-padded batches of `batch_size` (the tokens are
/// the same as one at a time). Returns the accuracy and the completions.
///
/// # Errors
/// As [`generate`]; a tokenizer error for ids it cannot decode.
pub fn exact_match<T: Scalar>(
    model: &Gpt2LmHeadModel<T>,
    tokenizer: &ByteLevelBpe,
    pairs: &[(String, String)],
    max_new_tokens: usize,
    eos: i64,
    batch_size: usize,
) -> Result<(f64, Vec<String>)> {
    let config = GenerationConfig::new(max_new_tokens)
        .with_eos(&[eos])
        .with_pad(eos);
    let mut completions = Vec::with_capacity(pairs.len());
    let mut correct = 0usize;
    for chunk in pairs.chunks(batch_size.max(1)) {
        let examples: Vec<SftExample> = chunk
            .iter()
            .map(|(p, _)| SftExample {
                input_ids: tokenizer.encode(p).into_iter().map(i64::from).collect(),
                labels: Vec::new(),
            })
            .collect();
        let refs: Vec<&SftExample> = examples.iter().collect();
        let batch = collate_prompts(&refs, eos)?;
        let out = generate(
            model,
            &batch.0,
            Some(&batch.1),
            &mut Sampler::greedy(),
            &config,
        )?;
        for ((_, expected), tokens) in chunk.iter().zip(out.new_tokens) {
            let ids: Vec<u32> = tokens
                .iter()
                .filter(|&&t| t != eos)
                .filter_map(|&t| u32::try_from(t).ok())
                .collect();
            let text = tokenizer.decode_lossy(&ids)?;
            if normalize(&text) == normalize(expected) {
                correct += 1;
            }
            completions.push(text);
        }
    }
    Ok((correct as f64 / pairs.len().max(1) as f64, completions))
}

/// Left-pads prompts (ids only) for generation: `(ids, mask)`.
fn collate_prompts(examples: &[&SftExample], pad: i64) -> Result<(IdTensor, IdTensor)> {
    let t = examples
        .iter()
        .map(|e| e.input_ids.len())
        .max()
        .unwrap_or(0);
    if t == 0 {
        return Err(invalid(
            "exact_match",
            "prompt",
            "empty",
            "at least one token",
        ));
    }
    let mut ids = Vec::new();
    let mut mask = Vec::new();
    for e in examples {
        let n = t - e.input_ids.len();
        ids.extend(std::iter::repeat_n(pad, n));
        mask.extend(std::iter::repeat_n(0, n));
        ids.extend_from_slice(&e.input_ids);
        mask.extend(std::iter::repeat_n(1, e.input_ids.len()));
    }
    let b = examples.len();
    Ok((IdTensor::new(ids, &[b, t])?, IdTensor::new(mask, &[b, t])?))
}
