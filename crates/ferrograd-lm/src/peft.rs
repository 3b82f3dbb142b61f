//! LoRA adapters in PEFT's file layout (§5.5): an adapter directory holds
//! `adapter_model.safetensors` (only the adapter's tensors, named
//! `base_model.model.<module>.lora_A.weight` / `.lora_B.weight`, `A` `[r, in]`, `B`
//! `[out, r]` even for GPT-2's `[in, out]` Conv1D weights) and `adapter_config.json`
//! (`peft_type` "LORA", `r`, `lora_alpha`, `target_modules`, …).
//!
//! [`save_adapter`] writes a directory that `PeftModel.from_pretrained(base, dir)` loads
//! (checked with `scripts/reference/check_peft_loads_ours.py`); [`load_adapter`] reads one
//! that PEFT wrote, attaching the adapters to the matching layers, or fails with one error
//! listing every problem (settings ferrograd does not implement, targets the model does not
//! have, missing, unexpected or mis-shaped tensors) and leaves the model as it was.
//!
//! ```
//! use ferrograd_lm::gpt2::{Gpt2Config, Gpt2LmHeadModel};
//! use ferrograd_lm::peft::{load_adapter, save_adapter, AdapterOptions};
//! use ferrograd_nn::{LoraConfig, Module};
//! use ferrograd_tensor::{IdTensor, Rng};
//!
//! let config = Gpt2Config::small(100, 16, 32, 2, 4);
//! let mut model = Gpt2LmHeadModel::<f32>::new(&config, &mut Rng::new(0))?;
//! let lora = LoraConfig::new(4, 8.0).targets(&["c_attn"]);
//! model.add_lora(&lora, &mut Rng::new(1))?;
//! // … train the adapters; then keep only them:
//! let dir = std::env::temp_dir().join(format!("ferrograd-peft-doc-{}", std::process::id()));
//! save_adapter(&model, &lora, &dir, &AdapterOptions::causal_lm())?;
//!
//! let mut fresh = Gpt2LmHeadModel::<f32>::new(&config, &mut Rng::new(0))?; // same base
//! let attached = load_adapter(&mut fresh, &dir)?;
//! assert_eq!(attached.len(), 2);
//! let x = IdTensor::from([[1, 2, 3]]);
//! assert_eq!(fresh.logits(&x)?.to_vec(), model.logits(&x)?.to_vec());
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), ferrograd_lm::LmError>(())
//! ```

use crate::error::{LmError, Result};
use crate::gpt2_load::write_json;
use ferrograd_nn::{LoadOptions, LoraConfig, LoraHost, Module, StateDict, load_state_dict};
use ferrograd_tensor::Scalar;
use serde_json::{Map, Value, json};
use std::path::Path;

/// The prefix PEFT puts before a model's own parameter names
/// (`PeftModel.base_model.model`).
pub const PEFT_PREFIX: &str = "base_model.model.";

/// What [`save_adapter`] writes into `adapter_config.json` besides the LoRA settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterOptions {
    /// PEFT's `task_type`: `"CAUSAL_LM"` for a language model, `"SEQ_CLS"` for a
    /// classifier.
    pub task_type: String,
    /// The base checkpoint's name or path (PEFT's `base_model_name_or_path`), if known.
    pub base_model_name_or_path: Option<String>,
    /// Modules saved whole beside the adapter (PEFT's `modules_to_save`, e.g. a
    /// classifier's `score` head).
    pub modules_to_save: Vec<String>,
}

impl AdapterOptions {
    /// A causal language model's adapter.
    pub fn causal_lm() -> Self {
        Self {
            task_type: "CAUSAL_LM".into(),
            base_model_name_or_path: None,
            modules_to_save: Vec::new(),
        }
    }

    /// The same, naming the base checkpoint.
    pub fn with_base(mut self, name: impl Into<String>) -> Self {
        self.base_model_name_or_path = Some(name.into());
        self
    }
}

/// Writes the adapters attached to `model` (and the parameters of
/// `options.modules_to_save`) to `dir` in PEFT's layout. `config` is the config the
/// adapters were made with (written as `adapter_config.json`); every adapter must have its
/// rank and scaling.
///
/// # Errors
/// [`LmError::Checkpoint`] when the model has no adapter, one whose rank differs from
/// `config`'s or whose layer is not among its targets, or a `modules_to_save` entry that
/// names no module with parameters, or an adapter whose scaling differs from the one
/// `config`'s `lora_alpha` gives; [`LmError::Io`] / a tensor error when a file cannot be
/// written.
pub fn save_adapter<T: Scalar, M: Module<T> + LoraHost<T>>(
    model: &M,
    config: &LoraConfig,
    dir: impl AsRef<Path>,
    options: &AdapterOptions,
) -> Result<()> {
    let dir = dir.as_ref();
    let problem = |p: String| LmError::Checkpoint {
        path: dir.display().to_string(),
        problems: vec![p],
    };
    let params = model.named_parameters();
    let keep = |name: &str| {
        name.contains(".lora_A.") || name.contains(".lora_B.") || {
            options
                .modules_to_save
                .iter()
                .any(|m| name.starts_with(&format!("{m}.")))
        }
    };
    let mut dict = StateDict::new(dir.display().to_string());
    let mut ranks = Vec::new();
    for (name, p) in &params {
        if keep(name) {
            if name.contains(".lora_A.") {
                ranks.push((name.clone(), p.shape()[0]));
            }
            dict.insert(format!("{PEFT_PREFIX}{name}"), p.tensor().detach());
        }
    }
    if ranks.is_empty() {
        return Err(problem("the model has no LoRA adapter to save".into()));
    }
    if let Some((name, r)) = ranks.iter().find(|(_, r)| *r != config.r) {
        return Err(problem(format!(
            "`{name}` has rank {r} but the config says r = {}",
            config.r
        )));
    }
    // The file's config must load back onto the same layers: every adapted layer is one
    // of its targets (or of the model's default targets when it names none).
    let targets = if config.target_modules.is_empty() {
        model.default_lora_targets()
    } else {
        config.target_modules.clone()
    };
    let target_config = LoraConfig {
        target_modules: targets,
        ..config.clone()
    };
    for (name, _) in &ranks {
        let layer = name.split(".lora_A.").next().unwrap_or(name);
        if !target_config.matches(layer) {
            return Err(problem(format!(
                "`{layer}` has an adapter but is not among the config's target modules {:?}",
                target_config.target_modules
            )));
        }
    }
    // The file's `lora_alpha` must give each adapter the scaling it was trained with.
    let scaling = config.scaling();
    for (layer, s) in model.lora_scalings() {
        if (s - scaling).abs() > 1e-12 * scaling.abs().max(1.0) {
            return Err(problem(format!(
                "`{layer}` was attached with scaling {s}, but the config gives {scaling} \
                 (lora_alpha {} / r {}{}): pass the config it was attached with",
                config.alpha,
                config.r,
                if config.use_rslora {
                    ", rsLoRA: / √r"
                } else {
                    ""
                }
            )));
        }
    }
    // Every module to save names something: a misspelt one would save nothing and load
    // back as a frozen, untrained layer.
    for module in &options.modules_to_save {
        let prefix = format!("{module}.");
        if !params.iter().any(|(name, _)| name.starts_with(&prefix)) {
            return Err(problem(format!(
                "modules_to_save names `{module}`, which is not a module with parameters"
            )));
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| LmError::Io {
        op: "save_adapter",
        path: dir.to_path_buf(),
        source,
    })?;
    dict.save(dir.join("adapter_model.safetensors"))?;
    let mut targets = config.target_modules.clone();
    // Record what was actually targeted when the config relied on the model's default.
    if targets.is_empty() {
        targets = model.default_lora_targets();
    }
    let number = |x: f64| {
        if x.fract() == 0.0 && x.abs() < 1e15 {
            json!(x as i64)
        } else {
            json!(x)
        }
    };
    let modules_to_save = if options.modules_to_save.is_empty() {
        Value::Null
    } else {
        json!(options.modules_to_save)
    };
    let value = json!({
        "peft_type": "LORA",
        "task_type": options.task_type,
        "base_model_name_or_path": options.base_model_name_or_path,
        "r": config.r,
        "lora_alpha": number(config.alpha),
        "lora_dropout": config.dropout,
        "target_modules": targets,
        "fan_in_fan_out": model.lora_fan_in_fan_out(),
        "bias": "none",
        "use_rslora": config.use_rslora,
        "use_dora": false,
        "init_lora_weights": true,
        "modules_to_save": modules_to_save,
        "inference_mode": true,
    });
    write_json(&dir.join("adapter_config.json"), &value)
}

/// The LoRA settings of a PEFT `adapter_config.json`, and everything in it ferrograd does
/// not implement listed as problems.
pub(crate) fn parse_adapter_config(
    text: &str,
    source: &str,
) -> Result<(LoraConfig, Vec<String>, Vec<String>)> {
    let fail = |problems: Vec<String>| LmError::Checkpoint {
        path: source.to_string(),
        problems,
    };
    let value: Value =
        serde_json::from_str(text).map_err(|e| fail(vec![format!("not valid JSON: {e}")]))?;
    let Value::Object(map) = value else {
        return Err(fail(vec!["the top level is not a JSON object".into()]));
    };
    let mut problems = Vec::new();
    let get = |k: &str| map.get(k).unwrap_or(&Value::Null);
    match get("peft_type").as_str() {
        Some("LORA") => {}
        other => problems.push(format!(
            "`peft_type` is {other:?}: only LoRA adapters (\"LORA\") are read"
        )),
    }
    let mut config = LoraConfig::default();
    match get("r").as_u64() {
        Some(r) => config.r = r as usize,
        None => problems.push(format!("`r` is {}, expected a positive integer", get("r"))),
    }
    match get("lora_alpha") {
        Value::Null => {}
        v => match v.as_f64() {
            Some(a) => config.alpha = a,
            None => problems.push(format!("`lora_alpha` is {v}, expected a number")),
        },
    }
    match get("lora_dropout") {
        Value::Null => {}
        v => match v.as_f64() {
            Some(p) => config.dropout = p,
            None => problems.push(format!("`lora_dropout` is {v}, expected a number")),
        },
    }
    match get("use_rslora") {
        Value::Null => {}
        v => match v.as_bool() {
            Some(b) => config.use_rslora = b,
            None => problems.push(format!("`use_rslora` is {v}, expected true or false")),
        },
    }
    match get("target_modules") {
        Value::Array(list) => {
            for t in list {
                match t.as_str() {
                    Some(s) => config.target_modules.push(s.to_string()),
                    None => problems.push(format!("target module {t} is not a string")),
                }
            }
        }
        Value::String(s) => problems.push(format!(
            "`target_modules` is the pattern {s:?}: regular-expression targets are not supported; list the module names"
        )),
        Value::Null => {}
        v => problems.push(format!("`target_modules` is {v}, expected a list of names")),
    }
    let unsupported = |map: &Map<String, Value>, problems: &mut Vec<String>| {
        let is_off = |v: &Value| match v {
            Value::Null | Value::Bool(false) => true,
            Value::Object(o) => o.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => false,
        };
        for key in [
            "use_dora",
            "rank_pattern",
            "alpha_pattern",
            "layers_to_transform",
            "layer_replication",
            "lora_bias",
            "trainable_token_indices",
            "target_parameters",
            "exclude_modules",
            "use_qalora",
            "use_bdlora",
            "alora_invocation_tokens",
        ] {
            if let Some(v) = map.get(key)
                && !is_off(v)
            {
                problems.push(format!("`{key}` = {v} is not supported"));
            }
        }
        if let Some(b) = map.get("bias")
            && b.as_str().is_some_and(|b| b != "none")
        {
            problems.push(format!("`bias` = {b} is not supported (only \"none\")"));
        }
    };
    unsupported(&map, &mut problems);
    let modules_to_save: Vec<String> = get("modules_to_save")
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Err(e) = config.validate() {
        problems.push(e.to_string());
    }
    Ok((config, modules_to_save, problems))
}

/// Reads a PEFT adapter directory and attaches its adapters to `model` (freezing the rest
/// of the model, as PEFT does; the adapters stay trainable). Returns the names of the
/// layers that got one.
///
/// Nothing changes on failure: adapters attached before a problem was found are removed.
/// The model must have no adapter yet (one adapter set per model).
///
/// # Errors
/// [`LmError::Checkpoint`] listing every problem: a model that already has adapters,
/// settings not implemented (DoRA, bias training, rank patterns, regular-expression
/// targets, …), targets that match no layer of the model, missing, unexpected or
/// mis-shaped adapter tensors.
pub fn load_adapter<T: Scalar, M: Module<T> + LoraHost<T>>(
    model: &mut M,
    dir: impl AsRef<Path>,
) -> Result<Vec<String>> {
    let dir = dir.as_ref();
    let config_path = dir.join("adapter_config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|source| LmError::Io {
        op: "load_adapter",
        path: config_path.clone(),
        source,
    })?;
    let source = config_path.display().to_string();
    let (config, modules_to_save, mut problems) = parse_adapter_config(&text, &source)?;
    let weights = dir.join("adapter_model.safetensors");
    let mut dict = StateDict::<T>::load(&weights)?;
    let mut foreign = Vec::new();
    dict.rename(|name| match name.strip_prefix(PEFT_PREFIX) {
        Some(rest) => Some(rest.replace(".default.", ".")),
        None => {
            foreign.push(name.to_string());
            None
        }
    })?;
    problems.extend(foreign.into_iter().map(|n| {
        format!("tensor `{n}` does not start with `{PEFT_PREFIX}` (not a PEFT adapter file?)")
    }));
    if !problems.is_empty() {
        return Err(LmError::Checkpoint {
            path: dir.display().to_string(),
            problems,
        });
    }
    // Attaching would replace adapters the model already has, and a failed load could not
    // give them back: one adapter set per model (PEFT's named multi-adapter models are not
    // supported).
    let existing: Vec<String> = model
        .lora_slots()
        .into_iter()
        .filter(|(_, slot)| slot.adapter().is_some())
        .map(|(name, _)| name)
        .collect();
    if !existing.is_empty() {
        return Err(LmError::Checkpoint {
            path: dir.display().to_string(),
            problems: vec![format!(
                "the model already has LoRA adapters on {}; load into a model without \
                 adapters (or merge them first)",
                existing.join(", ")
            )],
        });
    }
    let mut rng = ferrograd_tensor::Rng::new(0); // overwritten by the file's values
    let attached = match ferrograd_nn::apply_lora(model, &config, &mut rng) {
        Ok(a) => a,
        Err(e) => {
            return Err(LmError::Checkpoint {
                path: source,
                problems: vec![e.to_string()],
            });
        }
    };
    let saved = modules_to_save.clone();
    let is_saved = move |name: &str| {
        name.contains(".lora_A.")
            || name.contains(".lora_B.")
            || saved.iter().any(|m| name.starts_with(&format!("{m}.")))
    };
    let options = LoadOptions::strict().only(is_saved.clone());
    let loaded = load_state_dict(model, &dict, &options);
    match loaded {
        Ok(_) => {
            model.freeze();
            for (name, p) in model.named_parameters() {
                if is_saved(&name) {
                    p.unfreeze();
                }
            }
            Ok(attached)
        }
        Err(e) => {
            for (name, slot) in model.lora_slots() {
                if attached.contains(&name) {
                    slot.detach()?;
                }
            }
            let problems = match e {
                ferrograd_nn::NnError::CheckpointMismatch { problems, .. } => problems,
                other => vec![other.to_string()],
            };
            Err(LmError::Checkpoint {
                path: weights.display().to_string(),
                problems,
            })
        }
    }
}
