//! Reading and writing named tensors in the [safetensors](https://huggingface.co/docs/safetensors)
//! format, which PyTorch (`safetensors.torch.save_file` / `load_file`) reads and writes.
//!
//! Saving never leaves a half-written file: the bytes go to a temporary file in the same
//! directory, which is then renamed over the target. A truncated or corrupt file is an
//! error naming the file, never a panic.
//!
//! Each path form has an in-memory twin: [`load_safetensors_bytes`] reads bytes already
//! in memory (an embedded file, a network buffer, a fuzzer's input) and
//! [`save_safetensors_bytes`] encodes to a `Vec<u8>`; the file forms are built on them.

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
    /// [`TensorError::Format`] when the stored element type is not `T`'s, or when the
    /// shape's extent overflows: the product of its non-zero sizes, times the element
    /// size, must fit in `isize` (a file may store `[0, 2^63]`, which holds no elements
    /// but has strides no tensor can have).
    pub fn to_tensor<T: Scalar>(&self, path: &Path) -> Result<Tensor<T>> {
        let extent = self
            .shape
            .iter()
            .filter(|&&d| d != 0)
            .try_fold(size_of::<T>(), |acc, &d| acc.checked_mul(d))
            .filter(|&bytes| isize::try_from(bytes).is_ok());
        if extent.is_none() {
            return Err(TensorError::Format {
                op: "load_safetensors",
                path: path.display().to_string(),
                reason: format!(
                    "tensor `{}` has shape {:?}, whose extent overflows the address space",
                    self.name, self.shape
                ),
            });
        }
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
        let count = crate::layout::checked_numel(&self.shape);
        if count.and_then(|c| c.checked_mul(width)) != Some(self.bytes.len()) {
            return Err(TensorError::Format {
                op: "load_safetensors",
                path: path.display().to_string(),
                reason: format!(
                    "tensor `{}` of shape {:?} needs {} bytes of {}, the file holds {}",
                    self.name,
                    self.shape,
                    count.map_or_else(|| "too many".into(), |c| (c * width).to_string()),
                    self.dtype,
                    self.bytes.len()
                ),
            });
        }
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
    /// Checks that the shape's extent (the product of its non-zero sizes times `width`
    /// bytes) fits in `isize`, so a layout can be built for it.
    fn check_extent(&self, source: &str, width: usize) -> Result<()> {
        let fits = self
            .shape
            .iter()
            .filter(|&&d| d != 0)
            .try_fold(width, |acc, &d| acc.checked_mul(d))
            .is_some_and(|bytes| isize::try_from(bytes).is_ok());
        if fits {
            return Ok(());
        }
        Err(TensorError::Format {
            op: "load_safetensors",
            path: source.to_string(),
            reason: format!(
                "tensor `{}` has shape {:?}, whose extent overflows the address space",
                self.name, self.shape
            ),
        })
    }

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
        self.check_extent(source, width)?;
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
        self.check_extent(source, width.max(8))?;
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
    let path = path.as_ref();
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, t)| {
            t.contiguous_data()
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect()
        })
        .collect();
    let entries: Vec<Entry<'_>> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, t), b)| (*name, Dtype::I64, t.shape().to_vec(), b.as_slice()))
        .collect();
    let encoded = encode_entries(
        "save_ids_safetensors",
        &path.display().to_string(),
        &entries,
    )?;
    write_atomically("save_ids_safetensors", path, &encoded)
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

/// Encodes named tensors in the safetensors format, in memory: the bytes
/// [`save_safetensors`] writes to a file.
///
/// ```
/// use ferrograd_tensor::{io, Tensor};
/// let w = Tensor::<f64>::from([1.0, -2.5]);
/// let bytes = io::save_safetensors_bytes(&[("w", &w)])?;
/// let loaded = io::load_safetensors_bytes(&bytes, "w.safetensors")?;
/// assert_eq!((loaded[0].dtype.as_str(), loaded[0].shape.as_slice()), ("F64", &[2][..]));
/// # Ok::<(), ferrograd_tensor::TensorError>(())
/// ```
///
/// # Errors
/// [`TensorError::InvalidArgument`] for duplicate names.
pub fn save_safetensors_bytes<T: Scalar>(tensors: &[(&str, &Tensor<T>)]) -> Result<Vec<u8>> {
    encode("save_safetensors_bytes", "(in memory)", tensors)
}

/// One tensor to encode: name, dtype, shape and little-endian bytes.
type Entry<'a> = (&'a str, Dtype, Vec<usize>, &'a [u8]);

fn encode<T: Scalar>(
    op: &'static str,
    path: &str,
    tensors: &[(&str, &Tensor<T>)],
) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, t)| to_bytes(t)).collect();
    let dtype = if size_of::<T>() == 4 {
        Dtype::F32
    } else {
        Dtype::F64
    };
    let entries: Vec<Entry<'_>> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, t), b)| (*name, dtype, t.shape().to_vec(), b.as_slice()))
        .collect();
    encode_entries(op, path, &entries)
}

fn encode_entries(op: &'static str, path: &str, entries: &[Entry<'_>]) -> Result<Vec<u8>> {
    let mut names: Vec<&str> = entries.iter().map(|(n, ..)| *n).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(TensorError::InvalidArgument {
            op,
            reason: format!("tensor name `{}` is given twice", w[0]),
        });
    }
    let format_error = |e: safetensors::SafeTensorError| TensorError::Format {
        op,
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let views = entries
        .iter()
        .map(|(name, dtype, shape, b)| {
            TensorView::new(*dtype, shape.clone(), b).map(|v| (name.to_string(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(format_error)?;
    safetensors::tensor::serialize(views, None).map_err(format_error)
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
    let path = path.as_ref();
    let encoded = encode("save_safetensors", &path.display().to_string(), tensors)?;
    write_atomically("save_safetensors", path, &encoded)
}

/// Writes `bytes` to `path` through a temporary file in the same directory, synced, then
/// renamed over the target: a crash never leaves a half-written file.
fn write_atomically(op: &'static str, path: &Path, bytes: &[u8]) -> Result<()> {
    let io_error = |source| TensorError::Io {
        op,
        path: path.display().to_string(),
        source,
    };
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
        file.write_all(bytes)?;
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
    decode("load_safetensors", &path.display().to_string(), &bytes)
}

/// Reads every tensor of safetensors bytes held in memory, sorted by name; `name` names
/// them in errors, as a path would (pass `Path::new(name)` to
/// [`StoredTensor::to_tensor`] for the same).
///
/// ```
/// use ferrograd_tensor::{io, Tensor};
/// use std::path::Path;
/// let bytes = io::save_safetensors_bytes(&[("b", &Tensor::<f32>::from([0.5]))])?;
/// let loaded = io::load_safetensors_bytes(&bytes, "model.safetensors")?;
/// assert_eq!(loaded[0].to_tensor::<f32>(Path::new("model.safetensors"))?.to_vec(), vec![0.5]);
///
/// let err = io::load_safetensors_bytes(&bytes[..20], "model.safetensors").unwrap_err();
/// assert!(err.to_string().starts_with("load_safetensors_bytes: model.safetensors: "), "{err}");
/// # Ok::<(), ferrograd_tensor::TensorError>(())
/// ```
///
/// # Errors
/// [`TensorError::Format`] when the bytes are truncated or malformed.
pub fn load_safetensors_bytes(bytes: &[u8], name: &str) -> Result<Vec<StoredTensor>> {
    decode("load_safetensors_bytes", name, bytes)
}

fn decode(op: &'static str, path: &str, bytes: &[u8]) -> Result<Vec<StoredTensor>> {
    let format_error = |reason: String| TensorError::Format {
        op,
        path: path.to_owned(),
        reason,
    };
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| format_error(format!("not a valid safetensors file: {e}")))?;
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
    fn bytes_forms_match_the_file_forms() {
        let path = temp("bytes");
        let a = Tensor::<f32>::from([[1.5, -2.0, 0.25]]);
        let b = Tensor::<f32>::from([7.0]);
        save_safetensors(&path, &[("b", &b), ("a", &a)]).unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        let in_memory = save_safetensors_bytes(&[("b", &b), ("a", &a)]).unwrap();
        assert_eq!(on_disk, in_memory);
        assert_eq!(
            load_safetensors_bytes(&in_memory, "x").unwrap(),
            load_safetensors(&path).unwrap()
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn bytes_errors_name_the_call_and_the_source() {
        let a = Tensor::<f64>::ones(&[3]);
        let bytes = save_safetensors_bytes(&[("a", &a)]).unwrap();
        for cut in [0, 7, 8, 30, bytes.len() - 1] {
            let err = load_safetensors_bytes(&bytes[..cut], "ckpt.bin").unwrap_err();
            match &err {
                TensorError::Format { op, path, .. } => {
                    assert_eq!((*op, path.as_str()), ("load_safetensors_bytes", "ckpt.bin"));
                }
                other => panic!("cut at {cut}: {other}"),
            }
        }
        let err = save_safetensors_bytes(&[("a", &a), ("a", &a)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "save_safetensors_bytes: tensor name `a` is given twice"
        );
    }

    /// Found by fuzzing: a valid file may store an empty tensor whose other sizes are
    /// huge; its strides overflowed (a panic in debug builds) when it was converted.
    #[test]
    fn empty_tensors_with_huge_sizes_are_errors() {
        let stored = StoredTensor {
            name: "empty".into(),
            dtype: "F64".into(),
            shape: vec![0, 4, usize::MAX],
            bytes: Vec::new(),
        };
        let err = stored
            .to_tensor::<f64>(Path::new("e.safetensors"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "load_safetensors: e.safetensors: tensor `empty` has shape [0, 4, {}], \
                 whose extent overflows the address space",
                usize::MAX
            )
        );
        // Empty tensors of sensible sizes still load.
        let fine = StoredTensor {
            shape: vec![0, 4, 1 << 20],
            ..stored
        };
        assert_eq!(
            fine.to_tensor::<f64>(Path::new("e")).unwrap().shape(),
            &[0, 4, 1 << 20]
        );
    }

    #[test]
    fn bytes_that_do_not_fill_the_shape_are_errors_naming_the_tensor() {
        for bytes in [vec![0u8; 9], vec![0u8; 4]] {
            let stored = StoredTensor {
                name: "w".into(),
                dtype: "F32".into(),
                shape: vec![2],
                bytes,
            };
            let err = stored
                .to_tensor::<f32>(Path::new("m.safetensors"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("m.safetensors") && err.contains("`w`") && err.contains("8 bytes"),
                "{err}"
            );
        }
    }

    #[test]
    fn duplicate_names_are_rejected_and_nothing_is_written() {
        let path = temp("dup");
        let a = Tensor::<f32>::ones(&[1]);
        assert!(save_safetensors(&path, &[("a", &a), ("a", &a)]).is_err());
        assert!(!path.exists());
    }
}
