//! Saving and loading a [`StateDict`] as a safetensors file, through
//! [`ferrograd_tensor::io`] (atomic writes: a temporary file renamed over the target).
//!
//! Layout of the file (every entry a tensor of the optimizer's element type):
//!
//! | name | holds |
//! |---|---|
//! | `__kind__` | the optimizer kind (`"Adam"`…) as UTF-8 bytes, one byte per element |
//! | `__scalar__.<name>` | the scalar `<name>` (`lr`, `state.0.step`…): the 8 little-endian bytes of its `f64` value, one byte per element |
//! | `<name>` | the state tensor `<name>` (`state.0.exp_avg`…) as it is |
//!
//! Scalars go as bytes rather than as numbers so that `f64` hyper-parameters survive an
//! `f32` file exactly: every byte value 0–255 is exact in `f32`, and a resumed run must
//! see the very same learning rate to give bit-identical results.

use crate::error::{OptimError, Result};
use crate::optimizer::{StateDict, optim_tensor};
use ferrograd_tensor::{Scalar, Tensor, io};
use std::path::Path;

const KIND: &str = "__kind__";
const SCALAR: &str = "__scalar__.";

fn byte_tensor<T: Scalar>(bytes: &[u8]) -> Tensor<T> {
    let data = bytes
        .iter()
        .map(|&b| T::from_usize(usize::from(b)))
        .collect();
    optim_tensor(data, &[bytes.len()])
}

fn tensor_bytes<T: Scalar>(tensor: &Tensor<T>, name: &str, path: &Path) -> Result<Vec<u8>> {
    tensor
        .contiguous_data()
        .iter()
        .map(|&v| {
            let x = v.to_f64();
            if (0.0..=255.0).contains(&x) && x.fract() == 0.0 {
                Ok(x as u8)
            } else {
                Err(format_error(
                    path,
                    format!("entry {name:?} is not a byte string"),
                ))
            }
        })
        .collect()
}

fn format_error(path: &Path, reason: String) -> OptimError {
    OptimError::StateDict {
        op: "load_state",
        reason: format!("{}: {reason}", path.display()),
    }
}

/// Writes an optimizer's state dict (and any scheduler state stored in it) to `path` in
/// the safetensors format, atomically: a crash mid-write leaves the previous file intact.
///
/// ```
/// use ferrograd_optim::{Adam, AdamConfig, Optimizer, load_state, save_state};
/// use ferrograd_tensor::{Parameter, Tensor};
///
/// let w = Parameter::new(Tensor::<f32>::from([1.0, 2.0]));
/// let mut opt = Adam::new([w.clone()], AdamConfig::new(0.01))?;
/// opt.step(&w.tensor().square().sum_all().backward()?)?;
///
/// let path = std::env::temp_dir().join(format!("adam-doc-{}.safetensors", std::process::id()));
/// save_state(&path, &opt.state_dict())?;
/// let mut resumed = Adam::new([w.clone()], AdamConfig::default())?;
/// resumed.load_state_dict(&load_state(&path)?)?;
/// assert_eq!((resumed.lr(), resumed.step_count(0)), (0.01, 1));
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), ferrograd_optim::OptimError>(())
/// ```
///
/// # Errors
/// [`OptimError::Tensor`] wrapping the I/O error when the file cannot be written;
/// [`OptimError::StateDict`] when a tensor name would clash with the file's own entries.
pub fn save_state<T: Scalar>(path: impl AsRef<Path>, state: &StateDict<T>) -> Result<()> {
    let path = path.as_ref();
    if let Some(name) = state.tensors.keys().find(|n| n.starts_with("__")) {
        return Err(OptimError::StateDict {
            op: "save_state",
            reason: format!("tensor name {name:?} is reserved (names starting with \"__\")"),
        });
    }
    let mut owned: Vec<(String, Tensor<T>)> = Vec::with_capacity(1 + state.scalars.len());
    owned.push((KIND.to_owned(), byte_tensor(state.kind.as_bytes())));
    for (name, value) in &state.scalars {
        owned.push((format!("{SCALAR}{name}"), byte_tensor(&value.to_le_bytes())));
    }
    let mut entries: Vec<(&str, &Tensor<T>)> = owned.iter().map(|(n, t)| (n.as_str(), t)).collect();
    entries.extend(state.tensors.iter().map(|(n, t)| (n.as_str(), t)));
    io::save_safetensors(path, &entries)?;
    Ok(())
}

/// Reads a state dict written by [`save_state`]; pass it to
/// [`Optimizer::load_state_dict`](crate::Optimizer::load_state_dict) (and
/// [`LrScheduler::read_state`](crate::LrScheduler::read_state)).
///
/// # Errors
/// [`OptimError::Tensor`] when the file cannot be read, is truncated or corrupt, or holds
/// another element type than `T`; [`OptimError::StateDict`] when it is a safetensors file
/// but not an optimizer state (no kind, malformed scalars).
pub fn load_state<T: Scalar>(path: impl AsRef<Path>) -> Result<StateDict<T>> {
    let path = path.as_ref();
    let stored = io::load_safetensors(path)?;
    let mut kind = None;
    let mut state = StateDict::new(String::new());
    for entry in &stored {
        let tensor = entry.to_tensor::<T>(path)?;
        if entry.name == KIND {
            let bytes = tensor_bytes(&tensor, &entry.name, path)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| format_error(path, "the optimizer kind is not UTF-8".to_owned()))?;
            kind = Some(text);
        } else if let Some(name) = entry.name.strip_prefix(SCALAR) {
            let bytes: [u8; 8] = tensor_bytes(&tensor, &entry.name, path)?
                .try_into()
                .map_err(|_| format_error(path, format!("scalar {name:?} is not 8 bytes")))?;
            state
                .scalars
                .insert(name.to_owned(), f64::from_le_bytes(bytes));
        } else {
            state.tensors.insert(entry.name.clone(), tensor);
        }
    }
    state.kind = kind.ok_or_else(|| {
        format_error(
            path,
            "not an optimizer state file (no \"__kind__\" entry)".to_owned(),
        )
    })?;
    Ok(state)
}
