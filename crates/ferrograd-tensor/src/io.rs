//! Reading and writing named tensors in the [safetensors](https://huggingface.co/docs/safetensors)
//! format, which PyTorch (`safetensors.torch.save_file` / `load_file`) reads and writes.
//!
//! Saving never leaves a half-written file: the bytes go to a temporary file in the same
//! directory, which is then renamed over the target. A truncated or corrupt file is an
//! error naming the file, never a panic.

use crate::error::{Result, TensorError};
use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::path::Path;

/// A tensor as stored in a file, before conversion to an element type.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTensor {
    /// Its name in the file.
    pub name: String,
    /// Its element type as safetensors names it (`"F32"`, `"F64"`, `"BF16"`…).
    pub dtype: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its raw little-endian bytes.
    pub bytes: Vec<u8>,
}

fn dtype_name<T: Scalar>() -> &'static str {
    if T::DTYPE == "float32" { "F32" } else { "F64" }
}

impl StoredTensor {
    /// Converts to a tensor of `T`.
    ///
    /// # Errors
    /// [`TensorError::Format`] when the stored element type is not `T`'s.
    pub fn to_tensor<T: Scalar>(&self, path: &Path) -> Result<Tensor<T>> {
        if self.dtype != dtype_name::<T>() {
            return Err(TensorError::Format {
                op: "load_safetensors",
                path: path.display().to_string(),
                reason: format!(
                    "tensor `{}` is stored as {}, expected {}",
                    self.name,
                    self.dtype,
                    dtype_name::<T>()
                ),
            });
        }
        let width = size_of::<T>();
        let data: Vec<T> = self
            .bytes
            .chunks_exact(width)
            .map(|b| {
                if width == 4 {
                    T::from_f64(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                } else {
                    T::from_f64(f64::from_le_bytes([
                        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                    ]))
                }
            })
            .collect();
        Tensor::from_vec(data, &self.shape)
    }
}

/// The value of an IEEE half-precision (binary16) number.
fn f16_to_f32(bits: u16) -> f32 {
    let sign = if bits & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let mantissa = f32::from(bits & 0x3ff);
    match exponent {
        0 => sign * mantissa * 2f32.powi(-24), // zero and subnormals
        0x1f if mantissa == 0.0 => sign * f32::INFINITY,
        0x1f => f32::NAN,
        _ => sign * (1.0 + mantissa / 1024.0) * 2f32.powi(exponent - 15),
    }
}

/// The value of a bfloat16 number: the upper half of an `f32`.
fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

impl StoredTensor {
    /// Converts any floating-point tensor (`F16`, `BF16`, `F32`, `F64`) to a tensor of
    /// `T`, as PyTorch's `load_state_dict` copies a checkpoint's values into a model of
    /// another dtype. Half-precision values widen exactly; `F64` into `f32` rounds to
    /// nearest.
    ///
    /// # Errors
    /// [`TensorError::Format`] naming the tensor and the source for a non-float dtype or
    /// a byte count that does not fill the shape.
    pub fn to_tensor_converted<T: Scalar>(&self, source: &str) -> Result<Tensor<T>> {
        let format = |reason: String| TensorError::Format {
            op: "load_safetensors",
            path: source.to_string(),
            reason: format!("tensor `{}`: {reason}", self.name),
        };
        let width = match self.dtype.as_str() {
            "F16" | "BF16" => 2,
            "F32" => 4,
            "F64" => 8,
            other => {
                return Err(format(format!(
                    "dtype {other} is not a floating-point type (F16, BF16, F32, F64)"
                )));
            }
        };
        let count = crate::layout::checked_numel(&self.shape)
            .ok_or_else(|| format(format!("shape {:?} overflows", self.shape)))?;
        if count.checked_mul(width) != Some(self.bytes.len()) {
            return Err(format(format!(
                "{} bytes cannot hold shape {:?} of {}",
                self.bytes.len(),
                self.shape,
                self.dtype
            )));
        }
        let chunks = self.bytes.chunks_exact(width);
        let data: Vec<T> = match self.dtype.as_str() {
            "F16" => chunks
                .map(|b| T::from_f64(f64::from(f16_to_f32(u16::from_le_bytes([b[0], b[1]])))))
                .collect(),
            "BF16" => chunks
                .map(|b| T::from_f64(f64::from(bf16_to_f32(u16::from_le_bytes([b[0], b[1]])))))
                .collect(),
            "F32" => chunks
                .map(|b| T::from_f64(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))))
                .collect(),
            _ => chunks
                .map(|b| {
                    T::from_f64(f64::from_le_bytes([
                        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                    ]))
                })
                .collect(),
        };
        Tensor::from_vec(data, &self.shape)
    }

    /// Reads an integer tensor (`I64`, `I32`, `U8`, `BOOL`) as ids: token ids and labels
    /// saved by PyTorch (`int64`, its default integer type).
    ///
    /// # Errors
    /// [`TensorError::Format`] naming the tensor for another dtype or a byte count that
    /// does not fill the shape.
    pub fn to_ids(&self, source: &str) -> Result<crate::IdTensor> {
        let format = |reason: String| TensorError::Format {
            op: "load_safetensors",
            path: source.to_string(),
            reason: format!("tensor `{}`: {reason}", self.name),
        };
        let width = match self.dtype.as_str() {
            "I64" => 8,
            "I32" => 4,
            "U8" | "BOOL" => 1,
            other => return Err(format(format!("dtype {other} is not an integer type"))),
        };
        let count = crate::layout::checked_numel(&self.shape)
            .ok_or_else(|| format(format!("shape {:?} overflows", self.shape)))?;
        if count.checked_mul(width) != Some(self.bytes.len()) {
            return Err(format(format!(
                "{} bytes cannot hold shape {:?} of {}",
                self.bytes.len(),
                self.shape,
                self.dtype
            )));
        }
        let data: Vec<i64> = match width {
            8 => self
                .bytes
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect(),
            4 => self
                .bytes
                .chunks_exact(4)
                .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
            _ => self.bytes.iter().map(|&b| i64::from(b)).collect(),
        };
        crate::IdTensor::new(data, &self.shape)
    }
}

/// Writes id tensors to `path` in the safetensors format as `I64` (PyTorch's `int64`),
/// atomically, like [`save_safetensors`].
///
/// # Errors
/// As [`save_safetensors`].
pub fn save_ids_safetensors(
    path: impl AsRef<Path>,
    tensors: &[(&str, &crate::IdTensor)],
) -> Result<()> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, t)| {
            t.contiguous_data()
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect()
        })
        .collect();
    let views: Vec<(&str, Dtype, Vec<usize>, &[u8])> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, t), b)| (*name, Dtype::I64, t.shape().to_vec(), b.as_slice()))
        .collect();
    write_views(path.as_ref(), "save_ids_safetensors", &views)
}

fn to_bytes<T: Scalar>(t: &Tensor<T>) -> Vec<u8> {
    let data = t.contiguous_data();
    let mut bytes = Vec::with_capacity(data.len() * size_of::<T>());
    for &v in data.iter() {
        if size_of::<T>() == 4 {
            bytes.extend_from_slice(&(v.to_f64() as f32).to_le_bytes());
        } else {
            bytes.extend_from_slice(&v.to_f64().to_le_bytes());
        }
    }
    bytes
}

/// Writes named tensors to `path` in the safetensors format, atomically (temporary file
/// in the same directory, then rename).
///
/// ```
/// use ferrograd_tensor::{io, Tensor};
/// let path = std::env::temp_dir().join(format!("ferrograd-io-doc-{}.safetensors", std::process::id()));
/// let w = Tensor::<f32>::from([[1.0, 2.0], [3.0, 4.0]]);
/// io::save_safetensors(&path, &[("weight", &w)])?;
/// let loaded = io::load_safetensors(&path)?;
/// assert_eq!(loaded[0].name, "weight");
/// assert_eq!(loaded[0].to_tensor::<f32>(&path)?.to_vec(), w.to_vec());
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), ferrograd_tensor::TensorError>(())
/// ```
///
/// # Errors
/// [`TensorError::InvalidArgument`] for duplicate names, [`TensorError::Io`] when the
/// file cannot be written.
pub fn save_safetensors<T: Scalar>(
    path: impl AsRef<Path>,
    tensors: &[(&str, &Tensor<T>)],
) -> Result<()> {
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, t)| to_bytes(t)).collect();
    let dtype = if size_of::<T>() == 4 {
        Dtype::F32
    } else {
        Dtype::F64
    };
    let views: Vec<(&str, Dtype, Vec<usize>, &[u8])> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, t), b)| (*name, dtype, t.shape().to_vec(), b.as_slice()))
        .collect();
    write_views(path.as_ref(), "save_safetensors", &views)
}

/// Serialises `(name, dtype, shape, bytes)` entries and writes them atomically: a
/// temporary file in the same directory, synced, then renamed over `path`.
fn write_views(
    path: &Path,
    op: &'static str,
    entries: &[(&str, Dtype, Vec<usize>, &[u8])],
) -> Result<()> {
    let io_error = |source| TensorError::Io {
        op,
        path: path.display().to_string(),
        source,
    };
    let mut names: Vec<&str> = entries.iter().map(|(n, ..)| *n).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(TensorError::InvalidArgument {
            op,
            reason: format!("tensor name `{}` is given twice", w[0]),
        });
    }
    let views = entries
        .iter()
        .map(|(name, dtype, shape, b)| {
            TensorView::new(*dtype, shape.clone(), b).map(|v| (name.to_string(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| TensorError::Format {
            op,
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    let encoded = safetensors::tensor::serialize(views, None).map_err(|e| TensorError::Format {
        op,
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique per process and per call, so concurrent saves never share a temporary file;
    // synced before the rename so a crash cannot leave a renamed but empty file.
    static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temporary =
        path.with_file_name(format!(".{file_name}.tmp-{}-{serial}", std::process::id()));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&encoded)?;
        file.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&temporary);
        return Err(io_error(e));
    }
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        io_error(e)
    })
}

/// Reads every tensor of a safetensors file, sorted by name.
///
/// # Errors
/// [`TensorError::Io`] when the file cannot be read, [`TensorError::Format`] when it is
/// truncated or malformed.
pub fn load_safetensors(path: impl AsRef<Path>) -> Result<Vec<StoredTensor>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| TensorError::Io {
        op: "load_safetensors",
        path: path.display().to_string(),
        source,
    })?;
    read_safetensors(&bytes, &path.display().to_string())
}

/// Reads every tensor of safetensors bytes already in memory, sorted by name; `source`
/// names them in errors (a path, or a description such as `"<adapter bytes>"`).
///
/// ```
/// use ferrograd_tensor::io;
/// assert!(io::read_safetensors(b"not safetensors", "<test>").is_err());
/// ```
///
/// # Errors
/// [`TensorError::Format`] when the bytes are truncated or malformed.
pub fn read_safetensors(bytes: &[u8], source: &str) -> Result<Vec<StoredTensor>> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| TensorError::Format {
        op: "load_safetensors",
        path: source.to_string(),
        reason: format!("not a valid safetensors file: {e}"),
    })?;
    let mut tensors: Vec<StoredTensor> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| StoredTensor {
            name,
            dtype: format!("{:?}", view.dtype()),
            shape: view.shape().to_vec(),
            bytes: view.data().to_vec(),
        })
        .collect();
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tensors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "ferrograd-io-{name}-{}.safetensors",
            std::process::id()
        ))
    }

    #[test]
    fn round_trip_f32_and_f64() {
        let path = temp("roundtrip");
        let a = Tensor::<f64>::from([[1.5, -2.0], [3.25, 4.0]]);
        let b = Tensor::<f64>::from([0.1]);
        save_safetensors(&path, &[("b", &b), ("a", &a)]).unwrap();
        let loaded = load_safetensors(&path).unwrap();
        assert_eq!(
            loaded.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(loaded[0].dtype, "F64");
        assert_eq!(
            loaded[0].to_tensor::<f64>(&path).unwrap().to_vec(),
            a.to_vec()
        );
        assert!(loaded[0].to_tensor::<f32>(&path).is_err());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn truncated_and_garbage_files_are_errors() {
        let path = temp("truncated");
        let a = Tensor::<f32>::ones(&[4, 4]);
        save_safetensors(&path, &[("a", &a)]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        for cut in [0, 4, 8, 20, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let err = load_safetensors(&path).unwrap_err();
            assert!(
                matches!(err, TensorError::Format { .. }),
                "cut at {cut}: {err}"
            );
        }
        std::fs::write(&path, b"definitely not safetensors").unwrap();
        assert!(load_safetensors(&path).is_err());
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            load_safetensors(&path),
            Err(TensorError::Io { .. })
        ));
    }

    #[test]
    fn duplicate_names_are_rejected_and_nothing_is_written() {
        let path = temp("dup");
        let a = Tensor::<f32>::ones(&[1]);
        assert!(save_safetensors(&path, &[("a", &a), ("a", &a)]).is_err());
        assert!(!path.exists());
    }
}
