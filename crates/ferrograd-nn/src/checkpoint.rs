//! Saving and loading a module's parameters in the safetensors format, under PyTorch's
//! names (`"0.weight"`), so PyTorch can read our checkpoints and we can read its
//! `safetensors.torch.save_file(model.state_dict(), …)` files.

use crate::error::{NnError, Result};
use crate::module::Module;
use ferrograd_tensor::io::{load_safetensors, save_safetensors};
use ferrograd_tensor::{Scalar, Tensor};
use std::collections::BTreeMap;
use std::path::Path;

/// Writes every parameter of `module` to `path` (atomically: a temporary file, then a
/// rename).
///
/// ```
/// use ferrograd_nn::{load_checkpoint, save_checkpoint, Linear, Module};
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
/// [`NnError::Tensor`] when the file cannot be written.
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
/// lists every difference.
///
/// # Errors
/// [`NnError::CheckpointMismatch`] as above; [`NnError::Tensor`] for an unreadable,
/// truncated or corrupt file.
pub fn load_checkpoint<T: Scalar>(module: &dyn Module<T>, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let stored = load_safetensors(path)?;
    let mut by_name: BTreeMap<&str, &ferrograd_tensor::io::StoredTensor> =
        stored.iter().map(|t| (t.name.as_str(), t)).collect();
    let params = module.named_parameters();
    let expected_dtype = if T::DTYPE == "float32" { "F32" } else { "F64" };
    let mut problems = Vec::new();
    let mut updates = Vec::new();
    for (name, param) in &params {
        match by_name.remove(name.as_str()) {
            None => problems.push(format!("missing tensor `{name}`")),
            Some(t) if t.shape != param.shape() => problems.push(format!(
                "`{name}` has shape {:?} in the file but {:?} in the model",
                t.shape,
                param.shape()
            )),
            Some(t) if t.dtype != expected_dtype => problems.push(format!(
                "`{name}` is {} in the file but {expected_dtype} in the model",
                t.dtype
            )),
            Some(t) => updates.push((param, t.to_tensor::<T>(path)?)),
        }
    }
    problems.extend(
        by_name
            .keys()
            .map(|name| format!("unexpected tensor `{name}`")),
    );
    if !problems.is_empty() {
        return Err(NnError::CheckpointMismatch {
            path: path.display().to_string(),
            problems,
        });
    }
    for (param, value) in updates {
        param.set(&value)?;
    }
    Ok(())
}
