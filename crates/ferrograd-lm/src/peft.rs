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
    /// classifier's `score` head), named as PEFT names them: an entry takes every module
    /// whose name ends with it ([`in_modules_to_save`]; `"ln_f"` is `transformer.ln_f`).
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

    /// A sequence classifier's adapter (PEFT's `SEQ_CLS`): the `score` head, which
    /// [`crate::classifier::Gpt2ForSequenceClassification::add_lora`] leaves trainable, is
    /// saved whole beside the adapter (`modules_to_save = ["score"]`, as PEFT does for
    /// `SEQ_CLS`).
    pub fn seq_cls() -> Self {
        Self {
            task_type: "SEQ_CLS".into(),
            base_model_name_or_path: None,
            modules_to_save: vec!["score".into()],
        }
    }

    /// The same, naming the base checkpoint.
    pub fn with_base(mut self, name: impl Into<String>) -> Self {
        self.base_model_name_or_path = Some(name.into());
        self
    }
}

/// PEFT's `modules_to_save` rule: a parameter belongs to an entry when the name of a
/// module enclosing it ends with the entry (PEFT's `key.endswith(target_key)` over
/// `named_modules()`, a plain string suffix): `["ln_f"]` takes `transformer.ln_f.weight`
/// and `.bias`, `["transformer.ln_f"]` the same, `["score"]` a classifier's head.
pub fn in_modules_to_save(name: &str, modules: &[String]) -> bool {
    name.match_indices('.').any(|(i, _)| {
        let module = &name[..i];
        modules
            .iter()
            .any(|m| !m.is_empty() && module.ends_with(m.as_str()))
    })
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
/// `config`'s `lora_alpha` gives, or a trainable parameter that is neither an adapter's
/// nor under `modules_to_save` (it would be lost); [`LmError::Io`] / a tensor error when a file cannot be
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
        name.contains(".lora_A.")
            || name.contains(".lora_B.")
            || in_modules_to_save(name, &options.modules_to_save)
    };
    // A trainable parameter that is neither an adapter's nor under `modules_to_save`
    // (a classifier's fresh `score` head, an unfrozen layer) would be trained and then
    // silently lost: refuse, naming it.
    let dropped: Vec<&str> = params
        .iter()
        .filter(|(name, p)| p.is_trainable() && !keep(name))
        .map(|(name, _)| name.as_str())
        .collect();
    if !dropped.is_empty() {
        return Err(problem(format!(
            "trainable parameter(s) {} are neither LoRA adapters nor under modules_to_save {:?}: \
             they would not be saved; add their modules to `modules_to_save` (e.g. \
             AdapterOptions::seq_cls() for a classifier's `score` head) or freeze them",
            dropped
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            options.modules_to_save
        )));
    }
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
        let one = std::slice::from_ref(module);
        if !params.iter().any(|(name, _)| in_modules_to_save(name, one)) {
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

/// `adapter_config.json` keys [`load_adapter`] reads and checks itself.
const PARSED_ADAPTER_KEYS: &[&str] = &[
    "peft_type",
    "r",
    "lora_alpha",
    "lora_dropout",
    "use_rslora",
    "target_modules",
    "bias",
    "modules_to_save",
];

/// `adapter_config.json` keys PEFT 0.21 writes (`LoraConfig().to_dict()`) that do not
/// change what a loaded adapter computes, whatever their value: bookkeeping, the
/// initialisation method (the file's values replace the initial ones), GPT-2's Conv1D
/// layout (PEFT turns `fan_in_fan_out` on for Conv1D itself; the model knows its layout),
/// `layers_pattern` (used only with `layers_to_transform`, which is checked) and
/// `qalora_group_size` (used only with `use_qalora`, which is checked), and the
/// `runtime_config` PEFT's own loader discards. Every other key is refused unless off or
/// at its default.
const HARMLESS_ADAPTER_KEYS: &[&str] = &[
    "base_model_name_or_path",
    "revision",
    "task_type",
    "inference_mode",
    "peft_version",
    "auto_mapping",
    "init_lora_weights",
    "fan_in_fan_out",
    "layers_pattern",
    "qalora_group_size",
    // Not written by 0.21 (`to_dict` drops it) but by some earlier versions; PEFT's own
    // loader deletes it (runtime-only settings such as GPU offload).
    "runtime_config",
];

/// The other keys PEFT 0.21's `LoraConfig().to_dict()` writes, with their defaults (as
/// JSON): each changes the computation when set, so [`load_adapter`] accepts it only null,
/// false or at this default.
const OTHER_ADAPTER_KEY_DEFAULTS: &[(&str, &str)] = &[
    ("exclude_modules", "null"),
    ("layers_to_transform", "null"),
    ("rank_pattern", "{}"),
    ("alpha_pattern", "{}"),
    ("megatron_config", "null"),
    ("megatron_core", "\"megatron.core\""),
    ("trainable_token_indices", "null"),
    ("loftq_config", "{}"),
    ("eva_config", "null"),
    ("corda_config", "null"),
    ("lora_ga_config", "null"),
    ("use_dora", "false"),
    ("velora_config", "null"),
    ("alora_invocation_tokens", "null"),
    ("use_qalora", "false"),
    ("monteclora_config", "null"),
    ("layer_replication", "null"),
    ("lora_bias", "false"),
    ("target_parameters", "null"),
    ("use_bdlora", "null"),
    ("arrow_config", "null"),
    ("kasa_config", "null"),
    ("ensure_weight_tying", "false"),
];

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
        // Every other key — DoRA, patterns, PEFT 0.21's kasa/monteclora/arrow/… configs,
        // keys of later PEFT versions — may change the computation: accepted only when it
        // is null, false, or PEFT 0.21's default for it. (An empty object is not "off":
        // `"kasa_config": {}` turns KaSA on with its default settings.)
        for (key, v) in map {
            let key = key.as_str();
            if PARSED_ADAPTER_KEYS.contains(&key) || HARMLESS_ADAPTER_KEYS.contains(&key) {
                continue;
            }
            let off = matches!(v, Value::Null | Value::Bool(false));
            let at_default = OTHER_ADAPTER_KEY_DEFAULTS
                .iter()
                .find(|(k, _)| *k == key)
                .is_some_and(|(_, d)| serde_json::from_str::<Value>(d).ok().as_ref() == Some(v));
            if !off && !at_default {
                let known = OTHER_ADAPTER_KEY_DEFAULTS.iter().any(|(k, _)| *k == key);
                problems.push(if known {
                    format!("`{key}` = {v} is not supported")
                } else {
                    format!(
                        "`{key}` = {v} is not supported (a key PEFT 0.21 does not write: it may \
                         change the computation, so it is refused rather than ignored)"
                    )
                });
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
/// of the model, as PEFT does; the adapters and the `modules_to_save` stay trainable).
/// Returns the names of the layers that got one.
///
/// The model is left in evaluation mode, as PEFT's `load_adapter` leaves it: the
/// adapters' dropout (`lora_dropout`) is off, so inference right after loading is
/// deterministic. Call [`Module::train`] before training them further.
///
/// `modules_to_save` entries follow PEFT's rule ([`in_modules_to_save`]): `["ln_f"]`
/// loads `base_model.model.transformer.ln_f.{weight,bias}` into `transformer.ln_f`.
///
/// Nothing changes on failure: adapters attached before a problem was found are removed.
/// The model must have no adapter yet (one adapter set per model).
///
/// # Errors
/// [`LmError::Checkpoint`] listing every problem: a model that already has adapters,
/// settings not implemented (DoRA, bias training, rank patterns, regular-expression
/// targets, any key PEFT 0.21 does not write at a non-default value, …), targets that
/// match no layer of the model, missing, unexpected (neither an adapter's nor under
/// `modules_to_save`) or mis-shaped adapter tensors.
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
    let saved = modules_to_save.clone();
    let is_saved = move |name: &str| {
        name.contains(".lora_A.") || name.contains(".lora_B.") || in_modules_to_save(name, &saved)
    };
    // Every tensor of the file must be loaded: one that is neither an adapter's nor under
    // `modules_to_save` would otherwise be skipped without a word.
    let stray: Vec<String> = dict
        .names()
        .chain(dict.others().keys().map(String::as_str))
        .filter(|n| !is_saved(n))
        .map(|n| {
            format!(
                "unexpected tensor `{n}`: neither a LoRA adapter's nor under modules_to_save {modules_to_save:?}"
            )
        })
        .collect();
    if !stray.is_empty() {
        return Err(LmError::Checkpoint {
            path: weights.display().to_string(),
            problems: stray,
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
            // PEFT's `load_adapter` leaves the model in evaluation mode (unless loaded
            // trainable): the new adapters' dropout would otherwise be on, and inference
            // random. Call `model.train()` to train them.
            model.eval();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::Gpt2ForSequenceClassification;
    use crate::gpt2::{Gpt2Config, Gpt2LmHeadModel};
    use ferrograd_tensor::io::load_safetensors;
    use ferrograd_tensor::{IdTensor, Rng, Tensor};
    use std::path::PathBuf;

    fn data(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(path)
    }

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("ferrograd-peft-{name}-{}", std::process::id()))
    }

    fn problems_of(e: LmError) -> String {
        match e {
            LmError::Checkpoint { problems, .. } => problems.join("\n"),
            other => panic!("expected a checkpoint error, got {other}"),
        }
    }

    fn stored(file: &str) -> Vec<ferrograd_tensor::io::StoredTensor> {
        load_safetensors(data(file)).unwrap()
    }

    #[test]
    fn modules_to_save_is_matched_by_suffix_as_peft_does() {
        let m = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(in_modules_to_save("transformer.ln_f.weight", &m(&["ln_f"])));
        assert!(in_modules_to_save(
            "transformer.ln_f.bias",
            &m(&["transformer.ln_f"])
        ));
        assert!(in_modules_to_save("score.weight", &m(&["score"])));
        assert!(!in_modules_to_save(
            "transformer.h.0.ln_1.weight",
            &m(&["ln_f"])
        ));
        // The parameter's own name is not a module: `weight` names none.
        assert!(!in_modules_to_save("score.weight", &m(&["weight"])));
    }

    /// `tests/data/lora_modules_to_save/` (scripts/reference/lora_modules_to_save.py):
    /// PEFT's adapter with `modules_to_save = ["ln_f"]` gives PEFT's logits here too.
    #[test]
    fn peft_adapter_with_modules_to_save_ln_f_gives_peft_logits() {
        let mut model = Gpt2LmHeadModel::<f32>::from_pretrained(data("tiny-random-gpt2")).unwrap();
        load_adapter(&mut model, data("lora_modules_to_save/adapter")).unwrap();
        let file = stored("lora_modules_to_save/adapter/adapter_model.safetensors");
        let ln_f = file
            .iter()
            .find(|t| t.name == "base_model.model.transformer.ln_f.weight")
            .unwrap()
            .to_tensor_converted::<f32>("adapter")
            .unwrap();
        let weight = model.transformer.ln_f.weight.as_ref().unwrap();
        assert_eq!(weight.tensor().to_vec(), ln_f.to_vec());
        assert!(weight.is_trainable());
        let reference = stored("lora_modules_to_save/logits.safetensors");
        let ids = reference.iter().find(|t| t.name == "input_ids").unwrap();
        let ids: IdTensor = ids.to_ids("logits").unwrap();
        let theirs: Tensor<f32> = reference
            .iter()
            .find(|t| t.name == "logits")
            .unwrap()
            .to_tensor_converted("logits")
            .unwrap();
        let ours = model.logits(&ids).unwrap();
        assert_eq!(ours.shape(), theirs.shape());
        // float32 through 5 layers: PEFT's and ours agree to rounding (the lora/ test
        // uses the same bound).
        let diff = ours
            .to_vec()
            .iter()
            .zip(theirs.to_vec())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-5, "max |Δ| = {diff}");

        // Saved back with PEFT's entry: the same tensor names as PEFT's file.
        let dir = temp("ln-f");
        let config = LoraConfig::new(4, 8.0).targets(&["c_attn"]);
        let options = AdapterOptions {
            modules_to_save: vec!["ln_f".into()],
            ..AdapterOptions::causal_lm()
        };
        save_adapter(&model, &config, &dir, &options).unwrap();
        let ours = load_safetensors(dir.join("adapter_model.safetensors")).unwrap();
        let names = |v: &[ferrograd_tensor::io::StoredTensor]| {
            let mut n: Vec<String> = v.iter().map(|t| t.name.clone()).collect();
            n.sort();
            n
        };
        assert_eq!(names(&ours), names(&file));
        std::fs::remove_dir_all(dir).ok();
    }

    /// A tensor that is neither an adapter's nor under modules_to_save is an error, not
    /// skipped.
    #[test]
    fn tensor_outside_adapter_and_modules_to_save_is_refused() {
        let dir = temp("stray");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(
            data("lora/adapter/adapter_config.json"),
            dir.join("adapter_config.json"),
        )
        .unwrap();
        let path = data("lora/adapter/adapter_model.safetensors");
        let mut dict = StateDict::<f32>::load(&path).unwrap();
        dict.insert(
            "base_model.model.transformer.ln_f.weight",
            Tensor::ones(&[32]),
        );
        dict.save(dir.join("adapter_model.safetensors")).unwrap();
        let mut model = Gpt2LmHeadModel::<f32>::from_pretrained(data("tiny-random-gpt2")).unwrap();
        let text = problems_of(load_adapter(&mut model, &dir).unwrap_err());
        assert!(
            text.contains("unexpected tensor `transformer.ln_f.weight`"),
            "{text}"
        );
        assert!(
            model
                .lora_slots()
                .iter()
                .all(|(_, s)| s.adapter().is_none())
        );
        std::fs::remove_dir_all(dir).ok();
    }

    /// An adapter with dropout loads in evaluation mode: inference is deterministic.
    #[test]
    fn loaded_adapter_with_dropout_infers_deterministically() {
        let config = Gpt2Config::small(100, 16, 32, 2, 4);
        let mut model = Gpt2LmHeadModel::<f32>::new(&config, &mut Rng::new(0)).unwrap();
        let lora = LoraConfig::new(4, 8.0)
            .targets(&["c_attn"])
            .with_dropout(0.1);
        model.add_lora(&lora, &mut Rng::new(1)).unwrap();
        // Non-zero B, so the adapter (and its dropout) changes the output.
        for (name, p) in model.named_parameters() {
            if name.contains(".lora_B.") {
                let shape = p.shape();
                p.set(&Tensor::full(&shape, 0.3)).unwrap();
            }
        }
        let dir = temp("dropout");
        save_adapter(&model, &lora, &dir, &AdapterOptions::causal_lm()).unwrap();
        let mut fresh = Gpt2LmHeadModel::<f32>::new(&config, &mut Rng::new(0)).unwrap();
        load_adapter(&mut fresh, &dir).unwrap();
        let x = IdTensor::from([[1, 2, 3, 4, 5, 6, 7, 8]]);
        let first = fresh.logits(&x).unwrap().to_vec();
        let second = fresh.logits(&x).unwrap().to_vec();
        assert_eq!(first, second);
        std::fs::remove_dir_all(dir).ok();
    }

    /// Keys that change the math are refused unless off; PEFT's own files still load.
    #[test]
    fn adapter_config_keys_that_change_the_math_are_refused() {
        let text = std::fs::read_to_string(data("lora/adapter/adapter_config.json")).unwrap();
        let (_, _, problems) = parse_adapter_config(&text, "peft").unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let text2 =
            std::fs::read_to_string(data("lora_modules_to_save/adapter/adapter_config.json"))
                .unwrap();
        let (_, saved, problems) = parse_adapter_config(&text2, "peft").unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(saved, ["ln_f"]);
        let with = |key: &str, value: Value| {
            let mut v: Value = serde_json::from_str(&text).unwrap();
            v[key] = value;
            let (_, _, problems) = parse_adapter_config(&v.to_string(), "x").unwrap();
            problems.join("\n")
        };
        // KaSA on with its defaults: an empty object is not "off".
        let p = with("kasa_config", json!({}));
        assert!(p.contains("`kasa_config` = {} is not supported"), "{p}");
        let p = with("monteclora_config", json!({"n": 2}));
        assert!(p.contains("`monteclora_config`"), "{p}");
        let p = with("arrow_config", json!({"top_k": 3}));
        assert!(p.contains("`arrow_config`"), "{p}");
        let p = with("some_future_setting", json!(2));
        assert!(p.contains("`some_future_setting` = 2"), "{p}");
        // Off / default values of the same keys are fine.
        assert_eq!(with("kasa_config", Value::Null), "");
        assert_eq!(with("some_future_setting", json!(false)), "");
        assert_eq!(with("loftq_config", json!({})), "");
        assert_eq!(with("megatron_core", json!("megatron.core")), "");
        assert_eq!(
            with("runtime_config", json!({"ephemeral_gpu_offload": false})),
            ""
        );
    }

    /// A trainable non-adapter parameter (the classifier's head) is not dropped silently.
    #[test]
    fn save_adapter_refuses_to_drop_a_trainable_head() {
        let config = Gpt2Config::small(100, 16, 32, 2, 4);
        let mut model =
            Gpt2ForSequenceClassification::<f32>::new(&config, 3, &mut Rng::new(0)).unwrap();
        let lora = LoraConfig::new(4, 8.0).targets(&["c_attn"]);
        model.add_lora(&lora, &mut Rng::new(1)).unwrap();
        let dir = temp("score");
        let err = save_adapter(&model, &lora, &dir, &AdapterOptions::causal_lm()).unwrap_err();
        let text = problems_of(err);
        assert!(text.contains("`score.weight`"), "{text}");
        assert!(!dir.exists());
        // With the head saved (PEFT's SEQ_CLS way) it is written and loads back.
        save_adapter(&model, &lora, &dir, &AdapterOptions::seq_cls()).unwrap();
        let mut fresh =
            Gpt2ForSequenceClassification::<f32>::new(&config, 3, &mut Rng::new(0)).unwrap();
        // A different head before loading, the saved one after.
        fresh.score.weight.set(&Tensor::zeros(&[3, 32])).unwrap();
        load_adapter(&mut fresh, &dir).unwrap();
        assert_eq!(
            fresh.score.weight.tensor().to_vec(),
            model.score.weight.tensor().to_vec()
        );
        std::fs::remove_dir_all(dir).ok();
    }
}
