//! The state an optimizer saves and restores: [`StateDict`], and the reader that checks a
//! dict against an optimizer's parameters when it is loaded.

use crate::error::{OptimError, Result};
use ferrograd_tensor::{Parameter, Scalar, Shape, Tensor};
use std::collections::{BTreeMap, BTreeSet};

/// An optimizer's state as named values: PyTorch's `state_dict()` in a typed form.
///
/// - `kind`: which optimizer wrote it (`"Sgd"`, `"Adam"`, `"AdamW"`).
/// - `scalars`: hyper-parameters by name (`"lr"`, `"momentum"`, `"beta1"`, …; booleans as
///   0 or 1), `"num_params"`, and per-parameter counters such as `"state.0.step"`, all
///   as exact `f64` values.
/// - `tensors`: per-parameter buffers named as PyTorch names them, prefixed by the
///   parameter's position: `"state.0.exp_avg"`, `"state.0.exp_avg_sq"`,
///   `"state.0.max_exp_avg_sq"`, `"state.1.momentum_buffer"`. A parameter that has not
///   been stepped yet has no entries, as in PyTorch.
///
/// Scalars under `"scheduler."` belong to an [`LrScheduler`](crate::LrScheduler) stored
/// alongside (see [`LrScheduler::write_state`](crate::LrScheduler::write_state));
/// optimizers ignore them.
///
/// ```
/// use ferrograd_optim::{Optimizer, Sgd, SgdConfig};
/// use ferrograd_tensor::{Parameter, Tensor};
///
/// let (w, b) = (Parameter::new(Tensor::<f32>::from([1.0, 2.0])), Parameter::new(Tensor::from([0.0])));
/// let mut opt = Sgd::new([w.clone(), b], SgdConfig { momentum: 0.9, ..SgdConfig::new(0.1) })?;
/// opt.step(&w.tensor().sum_all().backward()?)?;        // only w has a gradient
/// let state = opt.state_dict();
/// assert_eq!(state.kind, "Sgd");
/// assert_eq!(state.scalar("momentum"), Some(0.9));
/// assert_eq!(state.tensor("state.0.momentum_buffer").unwrap().to_vec(), vec![1.0, 1.0]);
/// assert!(state.tensor("state.1.momentum_buffer").is_none());
/// # Ok::<(), ferrograd_optim::OptimError>(())
/// ```
#[derive(Debug, Clone)]
pub struct StateDict<T: Scalar = f32> {
    /// The optimizer that wrote it.
    pub kind: String,
    /// Hyper-parameters and counters.
    pub scalars: BTreeMap<String, f64>,
    /// State buffers, one tensor of the parameter's shape each.
    pub tensors: BTreeMap<String, Tensor<T>>,
}

impl<T: Scalar> StateDict<T> {
    /// An empty state dict for an optimizer of `kind`.
    pub fn new(kind: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            scalars: BTreeMap::new(),
            tensors: BTreeMap::new(),
        }
    }

    /// The scalar stored under `name`.
    pub fn scalar(&self, name: &str) -> Option<f64> {
        self.scalars.get(name).copied()
    }

    /// The tensor stored under `name`.
    pub fn tensor(&self, name: &str) -> Option<&Tensor<T>> {
        self.tensors.get(name)
    }
}

/// Reads a state dict for one optimizer and checks that every entry is used.
pub(crate) struct StateReader<'a, T: Scalar> {
    op: &'static str,
    dict: &'a StateDict<T>,
    used_scalars: BTreeSet<&'a str>,
    used_tensors: BTreeSet<&'a str>,
}

impl<'a, T: Scalar> StateReader<'a, T> {
    /// Starts reading, checking the kind and the number of parameters.
    pub(crate) fn new(
        op: &'static str,
        dict: &'a StateDict<T>,
        kind: &str,
        num_params: usize,
    ) -> Result<Self> {
        if dict.kind != kind {
            return Err(OptimError::StateDict {
                op,
                reason: format!(
                    "the state dict was written by {:?}, not by {kind:?}",
                    dict.kind
                ),
            });
        }
        let mut reader = Self {
            op,
            dict,
            used_scalars: BTreeSet::new(),
            used_tensors: BTreeSet::new(),
        };
        let saved = reader.scalar("num_params")?;
        if saved != num_params as f64 {
            return Err(OptimError::StateDict {
                op,
                reason: format!(
                    "the state dict holds state for {saved} parameters, \
                     but this optimizer has {num_params}"
                ),
            });
        }
        Ok(reader)
    }

    fn error(&self, reason: String) -> OptimError {
        OptimError::StateDict {
            op: self.op,
            reason,
        }
    }

    /// A scalar that must be present.
    pub(crate) fn scalar(&mut self, name: &str) -> Result<f64> {
        let (key, value) = self
            .dict
            .scalars
            .get_key_value(name)
            .ok_or_else(|| self.error(format!("missing scalar {name:?}")))?;
        self.used_scalars.insert(key.as_str());
        Ok(*value)
    }

    /// A boolean stored as 0 or 1.
    pub(crate) fn flag(&mut self, name: &str) -> Result<bool> {
        let v = self.scalar(name)?;
        if v == 0.0 {
            Ok(false)
        } else if v == 1.0 {
            Ok(true)
        } else {
            Err(self.error(format!("scalar {name:?} must be 0 or 1, found {v}")))
        }
    }

    /// A scalar that may be absent.
    pub(crate) fn optional_scalar(&mut self, name: &str) -> Option<f64> {
        let (key, value) = self.dict.scalars.get_key_value(name)?;
        self.used_scalars.insert(key.as_str());
        Some(*value)
    }

    /// A counter: a whole number in `0..=2^53`.
    pub(crate) fn optional_count(&mut self, name: &str) -> Result<Option<u64>> {
        match self.optional_scalar(name) {
            None => Ok(None),
            Some(v) if v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_992.0 => {
                Ok(Some(v as u64))
            }
            Some(v) => Err(self.error(format!(
                "scalar {name:?} must be a whole number >= 0, found {v}"
            ))),
        }
    }

    /// The state tensor `state.{index}.{name}` of parameter `param`, if present, as a
    /// row-major buffer of the parameter's shape.
    pub(crate) fn optional_buffer(
        &mut self,
        index: usize,
        name: &str,
        param: &Parameter<T>,
    ) -> Result<Option<Vec<T>>> {
        let full = format!("state.{index}.{name}");
        let Some((key, tensor)) = self.dict.tensors.get_key_value(&full) else {
            return Ok(None);
        };
        self.used_tensors.insert(key.as_str());
        let shape = param.shape();
        if tensor.shape() != shape.as_slice() {
            return Err(self.error(format!(
                "state tensor {full:?} has shape {}, but parameter {index} (id {}) has shape {}",
                Shape(tensor.shape().to_vec()),
                param.id(),
                Shape(shape)
            )));
        }
        Ok(Some(tensor.to_vec()))
    }

    /// The state tensor `state.{index}.{name}`, which must be present.
    pub(crate) fn buffer(
        &mut self,
        index: usize,
        name: &str,
        param: &Parameter<T>,
    ) -> Result<Vec<T>> {
        self.optional_buffer(index, name, param)?.ok_or_else(|| {
            self.error(format!(
                "missing state tensor \"state.{index}.{name}\" for parameter {index}"
            ))
        })
    }

    /// Fails on any entry not read (scheduler scalars excepted).
    pub(crate) fn finish(self) -> Result<()> {
        if let Some(name) = self
            .dict
            .scalars
            .keys()
            .find(|k| !self.used_scalars.contains(k.as_str()) && !k.starts_with("scheduler."))
        {
            return Err(self.error(format!("unknown scalar {name:?}")));
        }
        if let Some(name) = self
            .dict
            .tensors
            .keys()
            .find(|k| !self.used_tensors.contains(k.as_str()))
        {
            return Err(self.error(format!("unknown state tensor {name:?}")));
        }
        Ok(())
    }
}

/// A tensor of `shape` holding a copy of `data`, for a state dict.
pub(crate) fn state_tensor<T: Scalar>(data: &[T], shape: &[usize]) -> Tensor<T> {
    optim_tensor(data.to_vec(), shape)
}

/// A tensor of `shape` owning `data`, whose length the caller knows to fit.
pub(crate) fn optim_tensor<T: Scalar>(data: Vec<T>, shape: &[usize]) -> Tensor<T> {
    Tensor::from_vec(data, shape).expect("a buffer built from a tensor of this shape fits it")
}
