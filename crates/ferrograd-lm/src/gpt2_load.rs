//! Hugging Face GPT-2 checkpoint directories: `config.json` and `model.safetensors` in,
//! the same out, and the tokenizer beside them.
//!
//! Loading ([`Gpt2LmHeadModel::from_pretrained`]):
//! - `config.json` is read strictly: GPT-2's own keys are used, the generic keys every
//!   transformers config carries (and the stray keys some real GPT-2 checkpoints carry,
//!   listed in [`IGNORED_CONFIG_KEYS`]) are ignored, and any other key is an error, as is
//!   a `model_type` other than `gpt2` or an architecture that is not a GPT-2 class;
//! - `model.safetensors` may name tensors with the `transformer.` prefix
//!   (`GPT2LMHeadModel`'s state dict, as in `hf-internal-testing/tiny-random-gpt2`) or
//!   without it (`GPT2Model`'s, as in `openai-community/gpt2`); float32, float16 and
//!   bfloat16 (and float64) files convert to the model's type; the causal-mask buffers
//!   `h.N.attn.bias` / `h.N.attn.masked_bias` older versions saved are skipped; there is no
//!   `lm_head.weight` (tied to `wte`) — a file that has one fills the same parameter;
//! - a config that describes a far larger model than the weights file holds (a huge
//!   `n_positions`, `n_layer`, …) is an [`LmError::Checkpoint`] naming `config.json`,
//!   found before anything is allocated;
//! - anything else wrong — a missing, unexpected or mis-shaped tensor — is one
//!   [`LmError::Checkpoint`] error listing every problem, and nothing is loaded.
//!
//! Saving ([`Gpt2LmHeadModel::save_pretrained`]) writes `config.json` and
//! `model.safetensors` (with the `transformer.` prefix, the tied head once) that
//! `GPT2LMHeadModel.from_pretrained` loads; LoRA adapters are not part of it (merge them
//! first, or save them with [`crate::peft`]).

use crate::error::{LmError, Result};
use crate::gpt2::{Activation, Gpt2Config, Gpt2LmHeadModel};
use ferrograd_nn::{LoadOptions, Module, StateDict, load_state_dict};
use ferrograd_tensor::Scalar;
use ferrograd_tokenize::ByteLevelBpe;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// Config keys that transformers writes for every model (or that real GPT-2 checkpoints
/// carry) and that do not change GPT-2's computation: read past without complaint.
///
/// Besides transformers' generic `PretrainedConfig` keys and GPT-2's `summary_*` keys
/// (used only by the double-heads model), this includes the BERT-style keys
/// (`hidden_act`, `intermediate_size`, `type_vocab_size`, …) that
/// `hf-internal-testing/tiny-random-gpt2` carries and `GPT2Config` itself ignores, and the
/// generation settings older configs stored.
pub const IGNORED_CONFIG_KEYS: &[&str] = &[
    "_name_or_path",
    "transformers_version",
    "torch_dtype",
    "dtype",
    "use_cache",
    "n_ctx",
    "summary_type",
    "summary_use_proj",
    "summary_activation",
    "summary_proj_to_labels",
    "summary_first_dropout",
    "task_specific_params",
    "gradient_checkpointing",
    "reorder_and_upcast_attn",
    "chunk_size_feed_forward",
    "output_attentions",
    "output_hidden_states",
    "return_dict",
    "torchscript",
    "tokenizer_class",
    "prefix",
    "finetuning_task",
    "sep_token_id",
    "decoder_start_token_id",
    "is_decoder",
    "tie_encoder_decoder",
    "pruned_heads",
    "cross_attention_hidden_size",
    "id2label",
    "label2id",
    "num_labels",
    "problem_type",
    // stray keys of real GPT-2 checkpoints that no GPT-2 class reads: gpt2-medium's
    // `n_special` / `predict_special_tokens` (from the original OpenAI GPT config),
    // distilgpt2's `_num_labels`, older configs' `output_past` / `use_bfloat16`, and the
    // bookkeeping keys other transformers versions wrote
    "n_special",
    "predict_special_tokens",
    "_num_labels",
    "output_past",
    "use_bfloat16",
    "_attn_implementation_autoset",
    "tf_legacy_loss",
    "xla_device",
    "use_return_dict",
    // BERT-style strays in hf-internal-testing/tiny-random-gpt2 (ignored by GPT2Config)
    "attention_probs_dropout_prob",
    "hidden_act",
    "hidden_dropout_prob",
    "intermediate_size",
    "type_vocab_size",
    // generation settings of older configs
    "max_length",
    "min_length",
    "do_sample",
    "early_stopping",
    "num_beams",
    "num_beam_groups",
    "diversity_penalty",
    "temperature",
    "top_k",
    "top_p",
    "typical_p",
    "repetition_penalty",
    "length_penalty",
    "no_repeat_ngram_size",
    "encoder_no_repeat_ngram_size",
    "bad_words_ids",
    "num_return_sequences",
    "output_scores",
    "return_dict_in_generate",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "remove_invalid_values",
    "exponential_decay_length_penalty",
    "suppress_tokens",
    "begin_suppress_tokens",
];

/// The architectures (`config.json`'s `architectures`) that are GPT-2.
pub const GPT2_ARCHITECTURES: &[&str] = &[
    "GPT2LMHeadModel",
    "GPT2Model",
    "GPT2ForSequenceClassification",
    "GPT2DoubleHeadsModel",
    "GPT2ForTokenClassification",
    "GPT2ForQuestionAnswering",
];

impl Gpt2Config {
    /// Parses `config.json`'s text; `source` names it in errors. Every problem found
    /// (unknown keys, wrong types, another architecture) is listed in one error.
    ///
    /// ```
    /// use ferrograd_lm::gpt2::Gpt2Config;
    /// let config = Gpt2Config::from_json(r#"{"model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 4}"#, "inline")?;
    /// assert_eq!((config.n_layer, config.n_embd, config.n_head), (2, 64, 4));
    /// let bad = Gpt2Config::from_json(r#"{"model_type": "llama", "n_experts": 8}"#, "inline");
    /// let message = bad.unwrap_err().to_string();
    /// assert!(message.contains("model_type") && message.contains("n_experts"), "{message}");
    /// # Ok::<(), ferrograd_lm::LmError>(())
    /// ```
    ///
    /// # Errors
    /// [`LmError::Checkpoint`] listing every problem.
    pub fn from_json(text: &str, source: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text).map_err(|e| LmError::Checkpoint {
            path: source.into(),
            problems: vec![format!("not valid JSON: {e}")],
        })?;
        let Value::Object(map) = value else {
            return Err(LmError::Checkpoint {
                path: source.into(),
                problems: vec!["the top level is not a JSON object".into()],
            });
        };
        let mut problems = Vec::new();
        let config = parse_config(&map, &mut problems);
        if let Err(e) = config.validate() {
            problems.push(e.to_string());
        }
        if !problems.is_empty() {
            return Err(LmError::Checkpoint {
                path: source.into(),
                problems,
            });
        }
        Ok(config)
    }

    /// Reads a `config.json` file.
    ///
    /// # Errors
    /// [`LmError::Io`] when it cannot be read; as [`Gpt2Config::from_json`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = read_text("Gpt2Config::from_file", path)?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// The config as transformers' `config.json` (architecture `GPT2LMHeadModel`).
    pub fn to_json(&self) -> Value {
        self.to_json_as("GPT2LMHeadModel", "float32")
    }

    pub(crate) fn to_json_as(&self, architecture: &str, dtype: &str) -> Value {
        let eos = match self.eos_token_id.as_slice() {
            [] => Value::Null,
            [one] => json!(one),
            many => json!(many),
        };
        json!({
            "architectures": [architecture],
            "model_type": "gpt2",
            "activation_function": self.activation.name(),
            "vocab_size": self.vocab_size,
            "n_positions": self.n_positions,
            "n_embd": self.n_embd,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_inner": self.n_inner,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "embd_pdrop": self.embd_pdrop,
            "attn_pdrop": self.attn_pdrop,
            "resid_pdrop": self.resid_pdrop,
            "initializer_range": self.initializer_range,
            "scale_attn_weights": self.scale_attn_weights,
            "scale_attn_by_inverse_layer_idx": self.scale_attn_by_inverse_layer_idx,
            "reorder_and_upcast_attn": false,
            "tie_word_embeddings": self.tie_word_embeddings,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": eos,
            "pad_token_id": self.pad_token_id,
            "use_cache": true,
            "dtype": dtype,
        })
    }
}

fn parse_config(map: &Map<String, Value>, problems: &mut Vec<String>) -> Gpt2Config {
    let mut c = Gpt2Config::default();
    // transformers' defaults for keys a config may leave out differ from GPT-2 small's
    // only in the special ids, which GPT2Config defaults to 50256 as well.
    let mut unknown = Vec::new();
    for (key, value) in map {
        let mut bad_type = |expected: &str| {
            problems.push(format!("`{key}` is {value}, expected {expected}"));
        };
        macro_rules! size {
            ($field:expr) => {
                match value.as_u64() {
                    Some(v) => $field = v as usize,
                    None => bad_type("a non-negative integer"),
                }
            };
        }
        macro_rules! float {
            ($field:expr) => {
                match value.as_f64() {
                    Some(v) => $field = v,
                    None => bad_type("a number"),
                }
            };
        }
        macro_rules! flag {
            ($field:expr) => {
                match value.as_bool() {
                    Some(v) => $field = v,
                    None => bad_type("true or false"),
                }
            };
        }
        match key.as_str() {
            "vocab_size" => size!(c.vocab_size),
            "n_positions" => size!(c.n_positions),
            "n_embd" => size!(c.n_embd),
            "n_layer" => size!(c.n_layer),
            "n_head" => size!(c.n_head),
            "n_inner" => match value {
                Value::Null => c.n_inner = None,
                v => match v.as_u64() {
                    Some(n) => c.n_inner = Some(n as usize),
                    None => bad_type("an integer or null"),
                },
            },
            "activation_function" => match value.as_str().map(Activation::parse) {
                Some(Ok(a)) => c.activation = a,
                Some(Err(e)) => problems.push(e.to_string()),
                None => bad_type("a string"),
            },
            "layer_norm_epsilon" => float!(c.layer_norm_epsilon),
            "embd_pdrop" => float!(c.embd_pdrop),
            "attn_pdrop" => float!(c.attn_pdrop),
            "resid_pdrop" => float!(c.resid_pdrop),
            "initializer_range" => float!(c.initializer_range),
            "scale_attn_weights" => flag!(c.scale_attn_weights),
            "scale_attn_by_inverse_layer_idx" => flag!(c.scale_attn_by_inverse_layer_idx),
            "tie_word_embeddings" => flag!(c.tie_word_embeddings),
            "bos_token_id" => match value {
                Value::Null => c.bos_token_id = None,
                v => match v.as_i64() {
                    Some(id) => c.bos_token_id = Some(id),
                    None => bad_type("an integer or null"),
                },
            },
            "pad_token_id" => match value {
                Value::Null => c.pad_token_id = None,
                v => match v.as_i64() {
                    Some(id) => c.pad_token_id = Some(id),
                    None => bad_type("an integer or null"),
                },
            },
            "eos_token_id" => match value {
                Value::Null => c.eos_token_id = Vec::new(),
                Value::Array(ids) => match ids.iter().map(Value::as_i64).collect::<Option<_>>() {
                    Some(ids) => c.eos_token_id = ids,
                    None => bad_type("an integer or a list of integers"),
                },
                v => match v.as_i64() {
                    Some(id) => c.eos_token_id = vec![id],
                    None => bad_type("an integer or a list of integers"),
                },
            },
            "model_type" => {
                if value.as_str() != Some("gpt2") {
                    problems.push(format!(
                        "`model_type` is {value}: this loader reads GPT-2 checkpoints (\"gpt2\")"
                    ));
                }
            }
            "architectures" => match value.as_array() {
                Some(list) => {
                    for a in list {
                        if !a.as_str().is_some_and(|a| GPT2_ARCHITECTURES.contains(&a)) {
                            problems.push(format!(
                                "unknown architecture {a}: expected one of {}",
                                GPT2_ARCHITECTURES.join(", ")
                            ));
                        }
                    }
                }
                None if value.is_null() => {}
                None => bad_type("a list of class names"),
            },
            "add_cross_attention" | "is_encoder_decoder" => {
                if value.as_bool() == Some(true) {
                    problems.push(format!(
                        "`{key}` is true: encoder-decoder GPT-2 (cross-attention) is not supported"
                    ));
                }
            }
            k if IGNORED_CONFIG_KEYS.contains(&k) => {}
            _ => unknown.push(key.clone()),
        }
    }
    if !unknown.is_empty() {
        problems.push(format!(
            "unknown config key(s) {}: not part of GPT-2's config (known keys are GPT2Config's and ferrograd_lm::gpt2_load::IGNORED_CONFIG_KEYS)",
            unknown
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    c
}

fn read_text(op: &'static str, path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| LmError::Io {
        op,
        path: path.to_path_buf(),
        source,
    })
}

/// The weights file of a checkpoint directory.
fn weights_file(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("model.safetensors");
    if path.is_file() {
        return Ok(path);
    }
    let mut problems = vec![format!("no model.safetensors in {}", dir.display())];
    if dir.join("pytorch_model.bin").is_file() {
        problems.push(
            "pytorch_model.bin (pickle) is not read: convert it with safetensors first".into(),
        );
    }
    if dir.join("model.safetensors.index.json").is_file() {
        problems.push("sharded checkpoints are not supported".into());
    }
    Err(LmError::Checkpoint {
        path: dir.display().to_string(),
        problems,
    })
}

/// A checkpoint's tensors under `GPT2LMHeadModel`'s names: `transformer.` added where
/// missing, the causal-mask buffers dropped. Other heads' tensors (`score.weight`) keep
/// their names.
pub(crate) fn normalized_state_dict<T: Scalar>(path: &Path) -> Result<StateDict<T>> {
    let mut dict = StateDict::<T>::load(path)?;
    dict.rename(|name| {
        let is_buffer = name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias");
        if is_buffer {
            return None;
        }
        let top_level = ["wte.", "wpe.", "h.", "ln_f."];
        Some(if top_level.iter().any(|p| name.starts_with(p)) {
            format!("transformer.{name}")
        } else {
            name.to_string()
        })
    })?;
    Ok(dict)
}

impl<T: Scalar> Gpt2LmHeadModel<T> {
    /// Loads a Hugging Face GPT-2 checkpoint directory (`config.json` +
    /// `model.safetensors`), as `GPT2LMHeadModel.from_pretrained(dir)` does; the model is
    /// returned in evaluation mode (dropout off).
    ///
    /// ```
    /// use ferrograd_lm::gpt2::Gpt2LmHeadModel;
    /// use ferrograd_nn::Module;
    /// # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny-random-gpt2");
    /// let model = Gpt2LmHeadModel::<f32>::from_pretrained(dir)?;
    /// assert_eq!(model.num_parameters(), 111_968);
    /// # Ok::<(), ferrograd_lm::LmError>(())
    /// ```
    ///
    /// # Errors
    /// [`LmError::Checkpoint`] listing every problem of the config or of the tensors
    /// (missing, unexpected, mis-shaped); [`LmError::Io`] / a tensor error for unreadable
    /// files; [`LmError::ModelTooLarge`] (from [`Gpt2LmHeadModel::zeros`]) when the memory
    /// for the weights cannot be allocated.
    pub fn from_pretrained(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let config = Gpt2Config::from_file(dir.join("config.json"))?;
        let weights = weights_file(dir)?;
        let dict = normalized_state_dict::<T>(&weights)?;
        check_config_fits(&config, &dict, dir)?;
        // Every weight is overwritten by the checkpoint (loading is strict): no random
        // initialisation to draw first.
        let model = Self::zeros(&config)?;
        load_into(&model, &dict, &weights)?;
        model.eval();
        Ok(model)
    }

    /// Writes `config.json` and `model.safetensors` into `dir` (created if needed) in the
    /// layout `GPT2LMHeadModel.from_pretrained(dir)` reads: `transformer.`-prefixed names,
    /// the tied head once, the model's float type. Attached LoRA adapters are left out
    /// (merge them first with [`Gpt2LmHeadModel::merge_and_unload`] to keep their effect).
    ///
    /// # Errors
    /// [`LmError::Io`] / a tensor error when a file cannot be written.
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let dtype = save_weights(self, dir)?;
        write_json(
            &dir.join("config.json"),
            &self.config().to_json_as("GPT2LMHeadModel", dtype),
        )
    }
}

/// Creates `dir` and writes `model`'s weights to `dir/model.safetensors` by their Hugging
/// Face names, leaving attached LoRA adapters out; returns the float type's name for
/// `config.json` (`float32` or `float64`). The weights half of every `save_pretrained`.
pub(crate) fn save_weights<T: Scalar>(model: &dyn Module<T>, dir: &Path) -> Result<&'static str> {
    std::fs::create_dir_all(dir).map_err(|source| LmError::Io {
        op: "save_pretrained",
        path: dir.to_path_buf(),
        source,
    })?;
    let dict = StateDict::from_module(model).filtered(|name| !name.contains(".lora_"));
    dict.save(dir.join("model.safetensors"))?;
    Ok(if size_of::<T>() == 4 {
        "float32"
    } else {
        "float64"
    })
}

/// Refuses a `config.json` that describes a far larger model than the weights file holds
/// (more than twice its values plus 2²⁰), before anything is allocated: a huge size there
/// (`n_positions: 1e12`) would otherwise abort the process on allocation instead of
/// failing to load. Smaller differences (a few missing tensors) are left to the strict
/// tensor-by-tensor load, which lists each problem; the memory it allocates stays within
/// about twice the file's.
pub(crate) fn check_config_fits<T: Scalar>(
    config: &Gpt2Config,
    dict: &StateDict<T>,
    dir: &Path,
) -> Result<()> {
    let stored: usize = dict.iter().map(|(_, t)| t.numel()).sum();
    let needed = config.num_parameters();
    if needed.is_some_and(|n| n <= stored.saturating_mul(2).saturating_add(1 << 20)) {
        return Ok(());
    }
    let needed = needed.map_or("more than usize::MAX".to_string(), |n| n.to_string());
    Err(LmError::Checkpoint {
        path: dir.join("config.json").display().to_string(),
        problems: vec![format!(
            "config.json describes a model of {needed} parameter values (vocab_size {}, \
             n_positions {}, n_embd {}, n_layer {}, n_inner {:?}) but model.safetensors \
             holds {stored}: the config does not match the weights",
            config.vocab_size, config.n_positions, config.n_embd, config.n_layer, config.n_inner
        )],
    })
}

/// Loads `dict` into `model` strictly; the error names the file and every problem.
pub(crate) fn load_into<T: Scalar>(
    model: &dyn Module<T>,
    dict: &StateDict<T>,
    path: &Path,
) -> Result<()> {
    // Adapter parameters (if any are attached) come from adapter files, not here.
    let options = LoadOptions::strict().only(|name| !name.contains(".lora_"));
    match load_state_dict(model, dict, &options) {
        Ok(_) => Ok(()),
        Err(ferrograd_nn::NnError::CheckpointMismatch { problems, .. }) => {
            Err(LmError::Checkpoint {
                path: path.display().to_string(),
                problems,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes pretty JSON atomically (temporary file, then rename).
pub(crate) fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("a JSON value serialises");
    crate::train_checkpoint::write_atomically(path, text.as_bytes(), "write_json")
}

/// GPT-2's tokenizer from a checkpoint directory: `tokenizer.json` when present, else
/// `vocab.json` + `merges.txt` (ids equal to Hugging Face tokenizers' and tiktoken's).
///
/// ```
/// use ferrograd_lm::gpt2_load::load_tokenizer;
/// # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny-random-gpt2");
/// let tokenizer = load_tokenizer(dir)?;
/// assert_eq!(tokenizer.vocab_size(), 1000);
/// assert_eq!(tokenizer.token_to_id("<|endoftext|>"), Some(0));
/// # Ok::<(), ferrograd_lm::LmError>(())
/// ```
///
/// # Errors
/// [`LmError::Checkpoint`] when neither form is there; the tokenizer's error (naming the
/// file and line) for a malformed file.
pub fn load_tokenizer(dir: impl AsRef<Path>) -> Result<ByteLevelBpe> {
    let dir = dir.as_ref();
    let json = dir.join("tokenizer.json");
    if json.is_file() {
        return Ok(ByteLevelBpe::from_tokenizer_json_file(&json)?);
    }
    let (vocab, merges) = (dir.join("vocab.json"), dir.join("merges.txt"));
    if vocab.is_file() && merges.is_file() {
        return Ok(ByteLevelBpe::from_hf_files(&vocab, &merges)?);
    }
    Err(LmError::Checkpoint {
        path: dir.display().to_string(),
        problems: vec!["no tokenizer.json, and no vocab.json + merges.txt".into()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys of real Hub configs (gpt2-medium, distilgpt2, and the bookkeeping keys
    /// older and newer transformers versions wrote) load; none changes the computation.
    #[test]
    fn real_gpt2_configs_with_stray_keys_load() {
        let gpt2_medium = r#"{
          "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
          "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
          "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
          "n_ctx": 1024, "n_embd": 1024, "n_head": 16, "n_layer": 24, "n_positions": 1024,
          "n_special": 0, "predict_special_tokens": true, "resid_pdrop": 0.1,
          "summary_activation": null, "summary_first_dropout": 0.1,
          "summary_proj_to_labels": true, "summary_type": "cls_index",
          "summary_use_proj": true,
          "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
          "vocab_size": 50257
        }"#;
        let c = Gpt2Config::from_json(gpt2_medium, "gpt2-medium").unwrap();
        assert_eq!((c.n_layer, c.n_embd, c.n_head), (24, 1024, 16));
        let distilgpt2 = r#"{
          "_num_labels": 1, "activation_function": "gelu_new",
          "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1, "bos_token_id": 50256,
          "embd_pdrop": 0.1, "eos_token_id": 50256, "id2label": {"0": "LABEL_0"},
          "initializer_range": 0.02, "label2id": {"LABEL_0": 0},
          "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768,
          "n_head": 12, "n_layer": 6, "n_positions": 1024, "resid_pdrop": 0.1,
          "summary_activation": null, "summary_first_dropout": 0.1,
          "summary_proj_to_labels": true, "summary_type": "cls_index",
          "summary_use_proj": true, "vocab_size": 50257
        }"#;
        let c = Gpt2Config::from_json(distilgpt2, "distilgpt2").unwrap();
        assert_eq!(c.n_layer, 6);
        let bookkeeping = r#"{
          "model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 4,
          "output_past": true, "use_bfloat16": false, "_attn_implementation_autoset": true,
          "tf_legacy_loss": false, "xla_device": null, "use_return_dict": true
        }"#;
        Gpt2Config::from_json(bookkeeping, "older and newer transformers").unwrap();
        // Still strict about keys that are not GPT-2's.
        let err = Gpt2Config::from_json(r#"{"model_type": "gpt2", "n_experts": 8}"#, "x");
        assert!(err.unwrap_err().to_string().contains("n_experts"));
    }
}
