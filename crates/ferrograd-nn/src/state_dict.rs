//! Named tensors between a model and a file, with the mapping that loading a checkpoint
//! written by another tool needs: [`StateDict`] (rename, drop, transpose, split),
//! [`load_state_dict`] (strict or not, all problems reported at once, nothing changed
//! unless everything fits) and subsets (adapter weights).
//!
//! Loading a Hugging Face GPT-2 `c_attn` (a Conv1D: weight `[in, out]`, Q, K and V fused)
//! into separate `[out, in]` projections:
//!
//! ```
//! use ferrograd_nn::{load_state_dict, LoadOptions, Linear, Module, StateDict, Visitor};
//! use ferrograd_tensor::{Rng, Tensor};
//!
//! #[derive(Debug)]
//! struct Attention { q: Linear, k: Linear, v: Linear }
//! impl Module for Attention {
//!     fn visit(&self, v: &mut dyn Visitor) {
//!         v.module("q", &self.q);
//!         v.module("k", &self.k);
//!         v.module("v", &self.v);
//!     }
//! }
//! let mut rng = Rng::new(0);
//! let attn = Attention {
//!     q: Linear::with_bias(2, 2, false, &mut rng),
//!     k: Linear::with_bias(2, 2, false, &mut rng),
//!     v: Linear::with_bias(2, 2, false, &mut rng),
//! };
//! // What the file holds: `transformer.h.0.attn.c_attn.weight`, [in = 2, out = 3·2].
//! let fused = Tensor::from_vec((0..12).map(|i| i as f32).collect(), &[2, 6])?;
//! let mut dict = StateDict::new("<hf>");
//! dict.insert("transformer.h.0.attn.c_attn.weight", fused);
//! dict.strip_prefix("transformer.h.0.attn.")?;
//! dict.transpose("c_attn.weight")?;                       // [out, in] = [6, 2]
//! dict.split("c_attn.weight", 0, &["q.weight", "k.weight", "v.weight"])?;
//! let report = load_state_dict(&attn, &dict, &LoadOptions::strict())?;
//! assert_eq!(report.loaded.len(), 3);
//! assert_eq!(attn.k.weight.tensor().to_vec(), [2.0, 8.0, 3.0, 9.0]);
//! # Ok::<(), ferrograd_nn::NnError>(())
//! ```

use crate::error::{NnError, Result};
use crate::module::{Module, named_parameters_with_aliases};
use ferrograd_tensor::io::{StoredTensor, load_safetensors_bytes, save_safetensors};
use ferrograd_tensor::{Parameter, Scalar, Shape, Tensor};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Named tensors converted to the model's element type `T`: what a checkpoint holds,
/// ready to be mapped onto a model's parameter names (PyTorch's `state_dict`).
///
/// A file's floating-point tensors (`F16`, `BF16`, `F32`, `F64`) are converted on
/// reading; its other tensors (integer or boolean buffers, such as some attention masks
/// saved by `transformers`) are listed in [`StateDict::others`] and count as unexpected
/// in a strict load unless dropped with [`StateDict::retain`] or [`StateDict::rename`].
#[derive(Debug, Clone)]
pub struct StateDict<T: Scalar = f32> {
    tensors: BTreeMap<String, Tensor<T>>,
    others: BTreeMap<String, String>,
    source: String,
}

impl<T: Scalar> StateDict<T> {
    /// An empty dict; `source` names it in errors (a path or a description).
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            tensors: BTreeMap::new(),
            others: BTreeMap::new(),
            source: source.into(),
        }
    }

    /// The current values of a module's parameters under their structural names, each
    /// tied parameter once (PyTorch's `model.state_dict()`, deduplicated as
    /// `safetensors.torch.save_model` does).
    pub fn from_module(module: &(impl Module<T> + ?Sized)) -> Self {
        let mut dict = Self::new("<module>");
        for (name, p) in module.named_parameters() {
            dict.tensors.insert(name, p.tensor().detach());
        }
        dict
    }

    /// Reads a safetensors file, converting every floating-point tensor to `T`.
    ///
    /// # Errors
    /// [`NnError::Tensor`] for an unreadable (`Io`) or malformed (`Format`) file, naming
    /// it; a float tensor whose bytes do not fill its shape.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ferrograd_tensor::TensorError::Io {
            op: "StateDict::load",
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// Reads safetensors bytes already in memory; `source` names them in errors.
    ///
    /// # Errors
    /// As [`StateDict::load`].
    pub fn from_bytes(bytes: &[u8], source: &str) -> Result<Self> {
        let stored = load_safetensors_bytes(bytes, source)?;
        let mut dict = Self::new(source);
        for t in &stored {
            if is_float(t) {
                let value = t.to_tensor_converted::<T>(source)?;
                dict.tensors.insert(t.name.clone(), value);
            } else {
                dict.others.insert(t.name.clone(), t.dtype.clone());
            }
        }
        Ok(dict)
    }

    /// Writes the tensors to a safetensors file in `T`'s dtype, atomically.
    ///
    /// # Errors
    /// [`NnError::Tensor`] when the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let refs: Vec<(&str, &Tensor<T>)> =
            self.tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        Ok(save_safetensors(path, &refs)?)
    }

    /// Where the tensors came from (for errors).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Number of float tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// True when there are no float tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The float tensors' names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Names and dtypes of the file's non-float tensors.
    pub fn others(&self) -> &BTreeMap<String, String> {
        &self.others
    }

    /// The tensor stored under `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor<T>> {
        self.tensors.get(name)
    }

    /// Names and tensors, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor<T>)> {
        self.tensors.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// Stores `tensor` under `name` (replacing any tensor of that name).
    pub fn insert(&mut self, name: impl Into<String>, tensor: Tensor<T>) {
        self.tensors.insert(name.into(), tensor.detach());
    }

    /// Removes and returns the tensor stored under `name`.
    pub fn remove(&mut self, name: &str) -> Option<Tensor<T>> {
        self.tensors.remove(name)
    }

    /// Keeps only the tensors (float or not) whose name passes `keep`.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.tensors.retain(|n, _| keep(n));
        self.others.retain(|n, _| keep(n));
    }

    /// A copy holding only the tensors whose name passes `keep` (a subset to save, such
    /// as the adapter weights of a model).
    pub fn filtered(&self, mut keep: impl FnMut(&str) -> bool) -> Self {
        let mut subset = self.clone();
        subset.retain(&mut keep);
        subset
    }

    /// Renames every tensor through `f`; `None` drops the tensor.
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] when two tensors would get the same name (nothing is
    /// changed then).
    pub fn rename(&mut self, mut f: impl FnMut(&str) -> Option<String>) -> Result<()> {
        let mut tensors = BTreeMap::new();
        for (name, t) in &self.tensors {
            if let Some(new) = f(name)
                && let Some(_) = tensors.insert(new.clone(), t.clone())
            {
                return Err(NnError::InvalidArgument {
                    op: "StateDict::rename",
                    reason: format!("two tensors of {} would both be named `{new}`", self.source),
                });
            }
        }
        let mut others = BTreeMap::new();
        for (name, dtype) in &self.others {
            if let Some(new) = f(name) {
                others.insert(new, dtype.clone());
            }
        }
        self.tensors = tensors;
        self.others = others;
        Ok(())
    }

    /// Removes `prefix` from every name that starts with it (`"transformer."` from a
    /// Hugging Face `GPT2LMHeadModel` checkpoint); other names stay.
    ///
    /// # Errors
    /// As [`StateDict::rename`]: the dict holds both `prefix + x` and `x`.
    pub fn strip_prefix(&mut self, prefix: &str) -> Result<()> {
        self.rename(|n| Some(n.strip_prefix(prefix).unwrap_or(n).to_string()))
    }

    /// Replaces the tensor `name` by `f(tensor)`.
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] when there is no tensor `name`; any error of `f`.
    pub fn map(
        &mut self,
        name: &str,
        f: impl FnOnce(&Tensor<T>) -> Result<Tensor<T>>,
    ) -> Result<()> {
        let t = self.tensors.get(name).ok_or_else(|| self.no_such(name))?;
        let mapped = f(t)?.contiguous();
        self.tensors.insert(name.to_string(), mapped);
        Ok(())
    }

    /// Transposes the 2-D tensor `name` (a Conv1D `[in, out]` weight to a Linear's
    /// `[out, in]`).
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] naming the tensor and its source when there is no
    /// tensor `name` or it is not 2-D.
    pub fn transpose(&mut self, name: &str) -> Result<()> {
        let source = self.source.clone();
        self.map(name, |t| {
            if t.rank() != 2 {
                return Err(NnError::InvalidArgument {
                    op: "StateDict::transpose",
                    reason: format!(
                        "`{name}` in {source} has shape {:?}: only a 2-D tensor can be \
                         transposed",
                        t.shape()
                    ),
                });
            }
            Ok(t.t()?.contiguous())
        })
    }

    /// Splits the tensor `name` along `axis` into equal parts stored under `into` (a
    /// fused QKV weight into Q, K and V), and removes it. Every name gets a part (an
    /// empty axis gives each name an empty tensor).
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] when there is no tensor `name`, `into` is empty, or
    /// the axis does not divide evenly.
    pub fn split(&mut self, name: &str, axis: isize, into: &[&str]) -> Result<()> {
        let t = self.tensors.get(name).ok_or_else(|| self.no_such(name))?;
        let size = t.dim(axis).map_err(|_| NnError::InvalidArgument {
            op: "StateDict::split",
            reason: format!(
                "`{name}` in {} has shape {:?}: no axis {axis}",
                self.source,
                t.shape()
            ),
        })?;
        if into.is_empty() || size % into.len() != 0 {
            return Err(NnError::InvalidArgument {
                op: "StateDict::split",
                reason: format!(
                    "`{name}` of shape {:?} cannot be split into {} equal parts along axis {axis}",
                    t.shape(),
                    into.len()
                ),
            });
        }
        // One part per name, also when the axis is empty (`chunk` would give fewer parts
        // than names then, and names would be dropped): each is `size / n` long.
        let len = size / into.len();
        let parts = (0..into.len())
            .map(|i| Ok(t.narrow(axis, i * len, len)?.contiguous()))
            .collect::<Result<Vec<_>>>()?;
        self.tensors.remove(name);
        for (part, new) in parts.into_iter().zip(into) {
            self.tensors.insert((*new).to_string(), part);
        }
        Ok(())
    }

    fn no_such(&self, name: &str) -> NnError {
        NnError::InvalidArgument {
            op: "StateDict",
            reason: format!("{} holds no tensor `{name}`", self.source),
        }
    }
}

/// True when the two tensors hold the same bits, element by element (NaN equal to the
/// same NaN, `-0.0` different from `0.0`). Through `f64`, which holds every `f32` and
/// `f64` value exactly.
fn same_bits<T: Scalar>(a: &Tensor<T>, b: &Tensor<T>) -> bool {
    let (a, b) = (a.contiguous_data(), b.contiguous_data());
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.to_f64().to_bits() == y.to_f64().to_bits())
}

fn is_float(t: &StoredTensor) -> bool {
    matches!(t.dtype.as_str(), "F16" | "BF16" | "F32" | "F64")
}

/// How [`load_state_dict`] treats differences between the dict and the model.
///
/// ```
/// use ferrograd_nn::LoadOptions;
/// let strict = LoadOptions::strict();
/// let adapters_only = LoadOptions::strict().only(|name| name.contains("lora_"));
/// # let _ = (strict, adapters_only);
/// ```
pub struct LoadOptions {
    /// Every parameter must be filled and every tensor used (PyTorch's `strict=True`);
    /// otherwise whatever fits is loaded and the rest reported.
    pub strict: bool,
    only: Option<NameFilter>,
}

/// A predicate on parameter names.
type NameFilter = Box<dyn Fn(&str) -> bool + Send + Sync>;

impl std::fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("strict", &self.strict)
            .field("only", &self.only.as_ref().map(|_| "<filter>"))
            .finish()
    }
}

impl LoadOptions {
    /// All parameters filled, all tensors used; otherwise an error listing every
    /// missing, unexpected and mismatched name, and nothing loaded.
    pub fn strict() -> Self {
        Self {
            strict: true,
            only: None,
        }
    }

    /// Loads every tensor that fits a parameter and reports the rest
    /// (PyTorch's `strict=False`).
    pub fn lenient() -> Self {
        Self {
            strict: false,
            only: None,
        }
    }

    /// Restricts the load to the names that pass `filter`, on both sides: other
    /// parameters are neither required nor changed and other tensors are ignored (loading
    /// an adapter into a model whose base weights come from elsewhere).
    pub fn only(mut self, filter: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.only = Some(Box::new(filter));
        self
    }

    fn includes(&self, name: &str) -> bool {
        self.only.as_ref().is_none_or(|f| f(name))
    }
}

/// A tensor whose shape differs from its parameter's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// The parameter's name.
    pub name: String,
    /// Shape in the dict.
    pub stored: Shape,
    /// Shape in the model.
    pub model: Shape,
}

/// What [`load_state_dict`] did: PyTorch's `_IncompatibleKeys`, plus what was loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Parameter names that were filled, in the model's order.
    pub loaded: Vec<String>,
    /// Parameters with no tensor in the dict.
    pub missing: Vec<String>,
    /// Tensors in the dict that no parameter takes (non-float tensors included).
    pub unexpected: Vec<String>,
    /// Tensors whose shape differs from their parameter's (not loaded).
    pub mismatched: Vec<ShapeMismatch>,
    /// Names of one tied parameter that hold different values in the dict (a checkpoint
    /// trained untied): the first name's value is the one loaded.
    pub conflicting: Vec<String>,
}

impl LoadReport {
    /// True when everything matched: nothing missing, unexpected, mismatched or
    /// conflicting.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.mismatched.is_empty()
            && self.conflicting.is_empty()
    }

    /// Every problem as a line, in the order missing, mismatched, unexpected, conflicting.
    pub fn problems(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .missing
            .iter()
            .map(|n| format!("missing tensor `{n}`"))
            .collect();
        lines.extend(self.mismatched.iter().map(|m| {
            format!(
                "`{}` has shape {} in the file but {} in the model",
                m.name, m.stored, m.model
            )
        }));
        lines.extend(
            self.unexpected
                .iter()
                .map(|n| format!("unexpected tensor `{n}`")),
        );
        lines.extend(self.conflicting.iter().map(|n| {
            format!("`{n}` is a tied parameter whose other name holds a different value")
        }));
        lines
    }
}

/// Copies the dict's tensors into `module`'s parameters by name.
///
/// A tied parameter is filled from any of its names (PyTorch's `state_dict()` lists a
/// tied weight under each; Hugging Face checkpoints hold one). Every tensor is checked
/// and converted first; the parameters change only if the load goes ahead, all of them
/// or none.
///
/// # Errors
/// With [`LoadOptions::strict`], [`NnError::CheckpointMismatch`] naming the source and
/// listing every missing, unexpected and mismatched tensor; nothing is changed then.
pub fn load_state_dict<T: Scalar, M: Module<T> + ?Sized>(
    module: &M,
    dict: &StateDict<T>,
    options: &LoadOptions,
) -> Result<LoadReport> {
    let params = named_parameters_with_aliases(module);
    // Group the names of each parameter (tied ones have several), in model order.
    let mut groups: Vec<(Vec<String>, Parameter<T>)> = Vec::new();
    for (name, p) in params {
        if !options.includes(&name) {
            continue;
        }
        match groups.iter_mut().find(|(_, q)| q.id() == p.id()) {
            Some((names, _)) => names.push(name),
            None => groups.push((vec![name], p)),
        }
    }
    let mut report = LoadReport::default();
    let mut used: BTreeSet<&str> = BTreeSet::new();
    let mut updates: Vec<(&Parameter<T>, &Tensor<T>)> = Vec::new();
    for (names, param) in &groups {
        let present: Vec<&String> = names
            .iter()
            .filter(|n| dict.tensors.contains_key(n.as_str()))
            .collect();
        for n in &present {
            used.insert(n.as_str());
        }
        let Some(first) = present.first() else {
            report.missing.push(names[0].clone());
            continue;
        };
        let value = &dict.tensors[first.as_str()];
        let shape = param.shape();
        if value.shape() != shape.as_slice() {
            report.mismatched.push(ShapeMismatch {
                name: (*first).clone(),
                stored: Shape(value.shape().to_vec()),
                model: Shape(shape),
            });
            continue;
        }
        // Tied names must agree: a model that ties them cannot take two values. Compared
        // bit for bit, so one tensor saved under both names agrees with itself even when
        // it holds NaN (which `!=` would call different).
        for other in &present[1..] {
            let other_value = &dict.tensors[other.as_str()];
            if other_value.shape() != value.shape() || !same_bits(other_value, value) {
                report.conflicting.push((*other).clone());
            }
        }
        report.loaded.push(names[0].clone());
        updates.push((param, value));
    }
    report.unexpected = dict
        .tensors
        .keys()
        .chain(dict.others.keys())
        .filter(|n| options.includes(n) && !used.contains(n.as_str()))
        .cloned()
        .collect();
    if options.strict && !report.is_complete() {
        return Err(NnError::CheckpointMismatch {
            op: "load_state_dict",
            path: dict.source.clone(),
            problems: report.problems(),
        });
    }
    for (param, value) in updates {
        param.set(value)?;
    }
    Ok(report)
}
