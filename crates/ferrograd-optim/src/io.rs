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
//!
//! [`save_state_bytes`] and [`load_state_bytes`] do the same in memory.

use crate::error::{OptimError, Result};
use crate::state::{StateDict, optim_tensor};
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

fn tensor_bytes<T: Scalar>(
    op: &'static str,
    tensor: &Tensor<T>,
    name: &str,
    path: &str,
) -> Result<Vec<u8>> {
    tensor
        .contiguous_data()
        .iter()
        .map(|&v| {
            let x = v.to_f64();
            if (0.0..=255.0).contains(&x) && x.fract() == 0.0 {
                Ok(x as u8)
            } else {
                Err(format_error(
                    op,
                    path,
                    format!("entry {name:?} is not a byte string"),
                ))
            }
        })
        .collect()
}

fn format_error(op: &'static str, path: &str, reason: String) -> OptimError {
    OptimError::StateDict {
        op,
        reason: format!("{path}: {reason}"),
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
    let owned = entries("save_state", state)?;
    let entries: Vec<(&str, &Tensor<T>)> = owned.iter().map(|(n, t)| (n.as_str(), &**t)).collect();
    io::save_safetensors(path, &entries)?;
    Ok(())
}

/// Encodes an optimizer's state dict in memory: the bytes [`save_state`] writes to a
/// file.
///
/// ```
/// use ferrograd_optim::{Optimizer, Sgd, SgdConfig, load_state_bytes, save_state_bytes};
/// use ferrograd_tensor::{Parameter, Tensor};
///
/// let w = Parameter::new(Tensor::<f64>::from([1.0]));
/// let opt = Sgd::new([w.clone()], SgdConfig::new(0.1))?;
/// let bytes = save_state_bytes(&opt.state_dict())?;
/// let state = load_state_bytes::<f64>(&bytes, "sgd.safetensors")?;
/// assert_eq!((state.kind.as_str(), state.scalar("lr")), ("Sgd", Some(0.1)));
/// # Ok::<(), ferrograd_optim::OptimError>(())
/// ```
///
/// # Errors
/// [`OptimError::StateDict`] when a tensor name would clash with the file's own entries.
pub fn save_state_bytes<T: Scalar>(state: &StateDict<T>) -> Result<Vec<u8>> {
    let owned = entries("save_state_bytes", state)?;
    let entries: Vec<(&str, &Tensor<T>)> = owned.iter().map(|(n, t)| (n.as_str(), &**t)).collect();
    Ok(io::save_safetensors_bytes(&entries)?)
}

/// The file's entries: the kind, the scalars as byte strings, then the state tensors.
fn entries<'a, T: Scalar>(
    op: &'static str,
    state: &'a StateDict<T>,
) -> Result<Vec<(String, std::borrow::Cow<'a, Tensor<T>>)>> {
    use std::borrow::Cow;
    if let Some(name) = state.tensors.keys().find(|n| n.starts_with("__")) {
        return Err(OptimError::StateDict {
            op,
            reason: format!("tensor name {name:?} is reserved (names starting with \"__\")"),
        });
    }
    let mut owned = Vec::with_capacity(1 + state.scalars.len() + state.tensors.len());
    owned.push((
        KIND.to_owned(),
        Cow::Owned(byte_tensor(state.kind.as_bytes())),
    ));
    for (name, value) in &state.scalars {
        owned.push((
            format!("{SCALAR}{name}"),
            Cow::Owned(byte_tensor(&value.to_le_bytes())),
        ));
    }
    owned.extend(
        state
            .tensors
            .iter()
            .map(|(n, t)| (n.clone(), Cow::Borrowed(t))),
    );
    Ok(owned)
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
    decode("load_state", path, &stored)
}

/// Reads a state dict from bytes in memory, as [`load_state`] reads a file; `name` names
/// the bytes in errors.
///
/// ```
/// let err = ferrograd_optim::load_state_bytes::<f32>(b"not a state", "adam.bin").unwrap_err();
/// assert!(err.to_string().contains("adam.bin"), "{err}");
/// ```
///
/// # Errors
/// As [`load_state`], without the I/O errors.
pub fn load_state_bytes<T: Scalar>(bytes: &[u8], name: &str) -> Result<StateDict<T>> {
    let stored = io::load_safetensors_bytes(bytes, name)?;
    decode("load_state_bytes", Path::new(name), &stored)
}

fn decode<T: Scalar>(
    op: &'static str,
    path: &Path,
    stored: &[io::StoredTensor],
) -> Result<StateDict<T>> {
    let shown = path.display().to_string();
    let mut kind = None;
    let mut state = StateDict::new(String::new());
    for entry in stored {
        let tensor = entry.to_tensor::<T>(path)?;
        if entry.name == KIND {
            let bytes = tensor_bytes(op, &tensor, &entry.name, &shown)?;
            let text = String::from_utf8(bytes).map_err(|_| {
                format_error(op, &shown, "the optimizer kind is not UTF-8".to_owned())
            })?;
            kind = Some(text);
        } else if let Some(name) = entry.name.strip_prefix(SCALAR) {
            let bytes: [u8; 8] = tensor_bytes(op, &tensor, &entry.name, &shown)?
                .try_into()
                .map_err(|_| format_error(op, &shown, format!("scalar {name:?} is not 8 bytes")))?;
            state
                .scalars
                .insert(name.to_owned(), f64::from_le_bytes(bytes));
        } else if entry.name.starts_with("__") {
            // Reserved for the file's own entries: save_state refuses to write such a
            // tensor, so a file holding one was not written by it.
            return Err(format_error(
                op,
                &shown,
                format!(
                    "unknown reserved entry {:?} (names starting with \"__\" are the file's own)",
                    entry.name
                ),
            ));
        } else {
            state.tensors.insert(entry.name.clone(), tensor);
        }
    }
    state.kind = kind.ok_or_else(|| {
        format_error(
            op,
            &shown,
            "not an optimizer state file (no \"__kind__\" entry)".to_owned(),
        )
    })?;
    Ok(state)
}
