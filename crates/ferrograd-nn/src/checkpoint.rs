//! Saving and loading a module's parameters in the safetensors format, under PyTorch's
//! names (`"0.weight"`, `"fc1.bias"`), so PyTorch can read our checkpoints and we can
//! read its `safetensors.torch.save_file(model.state_dict(), …)` files.
//!
//! In Python, a checkpoint written here loads into the matching PyTorch model with
//!
//! ```text
//! from safetensors.torch import load_file
//! model.load_state_dict(load_file("model.safetensors"))
//! ```
//!
//! A tied weight (an embedding shared with the output head) is stored once, under its
//! first name, as Hugging Face stores it: load such a checkpoint with
//! `safetensors.torch.load_model(model, "model.safetensors")`, which knows the model's
//! tied parameters, or with `load_state_dict(..., strict=False)` (the head is the same
//! tensor).
//!
//! Tensors are stored in the module's element type (`F32` for `f32`, the type PyTorch
//! uses by default; `F64` for `f64`). Saving writes a temporary file in the same
//! directory and renames it over the target, so a crash never leaves a half-written
//! checkpoint; loading checks the whole file against the model before changing anything.

use crate::error::{NnError, Result};
use crate::module::{Module, named_parameters_with_aliases};
use ferrograd_tensor::io::{StoredTensor, load_safetensors, save_safetensors};
use ferrograd_tensor::{Parameter, Scalar, Tensor, TensorId};
use std::collections::BTreeMap;
use std::path::Path;

/// Writes every parameter of `module` to `path` under its name from
/// [`Module::named_parameters`] (atomically: a temporary file, then a rename).
///
/// ```
/// use ferrograd_nn::{load_checkpoint, save_checkpoint, Linear, Forward, Module};
/// use ferrograd_tensor::{Rng, Tensor};
/// let path = std::env::temp_dir().join(format!("ferrograd-ckpt-doc-{}.safetensors", std::process::id()));
/// let trained = Linear::<f32>::new(3, 2, &mut Rng::new(1));
/// save_checkpoint(&trained, &path)?;
/// let fresh = Linear::<f32>::new(3, 2, &mut Rng::new(2));
/// load_checkpoint(&fresh, &path)?;
/// let x = Tensor::ones(&[1, 3]);
/// assert_eq!(fresh.forward(&x)?.to_vec(), trained.forward(&x)?.to_vec());
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// # Errors
/// [`NnError::Tensor`] when the file cannot be written (`TensorError::Io` naming it) or
/// the module gives two parameters the same name.
pub fn save_checkpoint<T: Scalar>(module: &dyn Module<T>, path: impl AsRef<Path>) -> Result<()> {
    let params = module.named_parameters();
    let values: Vec<(String, Tensor<T>)> = params
        .iter()
        .map(|(n, p)| (n.clone(), p.tensor()))
        .collect();
    let refs: Vec<(&str, &Tensor<T>)> = values.iter().map(|(n, t)| (n.as_str(), t)).collect();
    Ok(save_safetensors(path, &refs)?)
}

/// Loads parameters saved by [`save_checkpoint`] (or PyTorch) into `module`.
///
/// Every name, shape and element type is checked first; if anything differs — a missing
/// or unexpected tensor, a wrong shape, a wrong dtype — nothing is loaded and the error
/// lists every difference (PyTorch's `load_state_dict(strict=True)`).
///
/// A tied parameter (one [`Parameter`] in two fields) is filled from whichever of its
/// names the file holds: ours and `safetensors.torch.save_model` keep one name of it
/// (`lm_head.weight` of a Hugging Face GPT-2, not `transformer.wte.weight`), a
/// `save_file(model.state_dict())` file both, which must then hold the same value.
///
/// ```
/// use ferrograd_nn::{load_checkpoint, save_checkpoint, Linear, NnError};
/// use ferrograd_tensor::Rng;
/// let path = std::env::temp_dir().join(format!("ferrograd-ckpt-doc2-{}.safetensors", std::process::id()));
/// save_checkpoint(&Linear::<f32>::new(3, 2, &mut Rng::new(1)), &path)?;
/// let wider = Linear::<f32>::with_bias(4, 2, false, &mut Rng::new(2));
/// let Err(NnError::CheckpointMismatch { problems, .. }) = load_checkpoint(&wider, &path) else {
///     panic!("a mismatching file must not load");
/// };
/// assert_eq!(problems, [
///     "`weight` has shape [2, 3] in the file but [2, 4] in the model",
///     "unexpected tensor `bias`",
/// ]);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// # Errors
/// [`NnError::CheckpointMismatch`] as above, and when two names of one tied parameter
/// hold different values; [`NnError::Tensor`] for an unreadable file
/// (`TensorError::Io`) or a truncated or corrupt one (`TensorError::Format`), both naming
/// the file.
pub fn load_checkpoint<T: Scalar>(module: &dyn Module<T>, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let stored = load_safetensors(path)?;
    let mut by_name: BTreeMap<&str, &StoredTensor> =
        stored.iter().map(|t| (t.name.as_str(), t)).collect();
    // Every name of every parameter, grouped by parameter: a tied parameter has several
    // names and PyTorch's `save_model` keeps any one of them (Hugging Face keeps
    // `lm_head.weight` of a GPT-2), so each group is filled from whichever is in the file.
    let mut groups: Vec<(Vec<String>, Parameter<T>)> = Vec::new();
    let mut problems = Vec::new();
    let mut seen: BTreeMap<String, TensorId> = BTreeMap::new();
    for (name, param) in named_parameters_with_aliases(module) {
        match seen.insert(name.clone(), param.id()) {
            Some(id) if id == param.id() => continue, // one parameter visited twice
            Some(_) => {
                problems.push(format!("the model names two parameters `{name}`"));
                continue;
            }
            None => {}
        }
        match groups.iter_mut().find(|(_, q)| q.same_as(&param)) {
            Some((names, _)) => names.push(name),
            None => groups.push((vec![name], param)),
        }
    }
    let expected_dtype = if T::DTYPE == "float32" { "F32" } else { "F64" };
    let mut updates = Vec::new();
    for (names, param) in &groups {
        let present: Vec<(&String, &StoredTensor)> = names
            .iter()
            .filter_map(|n| by_name.remove(n.as_str()).map(|t| (n, t)))
            .collect();
        let Some(&(name, t)) = present.first() else {
            problems.push(format!("missing tensor `{}`", names[0]));
            continue;
        };
        let mut fits = true;
        if t.shape != param.shape() {
            problems.push(format!(
                "`{name}` has shape {:?} in the file but {:?} in the model",
                t.shape,
                param.shape()
            ));
            fits = false;
        }
        if t.dtype != expected_dtype {
            problems.push(format!(
                "`{name}` is {} in the file but {expected_dtype} in the model",
                t.dtype
            ));
            fits = false;
        }
        // Names of one tied parameter must hold one value (bit for bit: NaN equals NaN).
        for &(other, o) in &present[1..] {
            if o.dtype != t.dtype || o.shape != t.shape || o.bytes != t.bytes {
                problems.push(format!(
                    "`{other}` and `{name}` name one tied parameter but hold different values"
                ));
                fits = false;
            }
        }
        if fits {
            updates.push((param, t));
        }
    }
    problems.extend(
        by_name
            .keys()
            .map(|name| format!("unexpected tensor `{name}`")),
    );
    if !problems.is_empty() {
        return Err(NnError::CheckpointMismatch {
            op: "load_checkpoint",
            path: path.display().to_string(),
            problems,
        });
    }
    // Convert everything first, so that a failure cannot leave a partly-loaded model.
    let values = updates
        .iter()
        .map(|(_, t)| t.to_tensor::<T>(path))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    for ((param, _), value) in updates.iter().zip(&values) {
        param.set(value)?;
    }
    Ok(())
}
