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
use crate::module::Module;
use ferrograd_tensor::io::{load_safetensors, save_safetensors};
use ferrograd_tensor::{Scalar, Tensor};
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
/// [`NnError::CheckpointMismatch`] as above; [`NnError::Tensor`] for an unreadable file
/// (`TensorError::Io`) or a truncated or corrupt one (`TensorError::Format`), both naming
/// the file.
pub fn load_checkpoint<T: Scalar>(module: &dyn Module<T>, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let stored = load_safetensors(path)?;
    let mut by_name: BTreeMap<&str, &ferrograd_tensor::io::StoredTensor> =
        stored.iter().map(|t| (t.name.as_str(), t)).collect();
    let params = module.named_parameters();
    let expected_dtype = if T::DTYPE == "float32" { "F32" } else { "F64" };
    let mut problems = Vec::new();
    let mut updates = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (name, param) in &params {
        if !seen.insert(name.as_str()) {
            problems.push(format!("the model names two parameters `{name}`"));
            continue;
        }
        let Some(t) = by_name.remove(name.as_str()) else {
            problems.push(format!("missing tensor `{name}`"));
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
