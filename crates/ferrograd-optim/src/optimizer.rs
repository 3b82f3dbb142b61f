//! The [`Optimizer`] trait shared by every update rule, and the bookkeeping common to all
//! of them (the [`StateDict`] they save and restore is in `state.rs`).

use crate::error::{OptimError, Result};
use crate::state::StateDict;
use ferrograd_tensor::{Gradients, Parameter, Scalar, Shape, Tensor, TensorId};
use std::borrow::Cow;
use std::collections::HashMap;

/// An update rule over a fixed list of parameters: PyTorch's `torch.optim.Optimizer`.
///
/// `step` reads each parameter's gradient from a [`Gradients`] store (the result of
/// `loss.backward()`) and updates the parameter in place; a parameter without a gradient
/// in the store is skipped and its state left as it was, as PyTorch skips parameters whose
/// `.grad` is `None`. The trait is object safe, so training loops and
/// [`LrScheduler`](crate::LrScheduler) work with any optimizer, boxed or not.
///
/// ```
/// use ferrograd_optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
/// use ferrograd_tensor::{Parameter, Tensor};
///
/// let w = Parameter::new(Tensor::<f32>::from([1.0, -2.0]));
/// let mut optimizers: Vec<Box<dyn Optimizer>> = vec![
///     Box::new(Sgd::new([w.clone()], SgdConfig::new(0.1))?),
///     Box::new(Adam::new([w.clone()], AdamConfig::new(0.1))?),
/// ];
/// for opt in &mut optimizers {
///     let grads = w.tensor().square().sum_all().backward()?;
///     opt.step(&grads)?;
///     opt.set_lr(opt.lr() / 2.0)?;
/// }
/// assert_eq!(optimizers[0].lr(), 0.05);
/// # Ok::<(), ferrograd_optim::OptimError>(())
/// ```
pub trait Optimizer<T: Scalar = f32>: std::fmt::Debug {
    /// Updates every parameter that has a gradient in `grads` (PyTorch's
    /// `optimizer.step()`).
    ///
    /// # Errors
    /// [`OptimError::GradientShape`] when a gradient's shape differs from its
    /// parameter's; all gradients are checked before any parameter changes.
    fn step(&mut self, grads: &Gradients<T>) -> Result<()>;

    /// The current learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate used by the following steps (what a schedule does).
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperParameter`] for a negative or non-finite rate.
    fn set_lr(&mut self, lr: f64) -> Result<()>;

    /// The parameters this optimizer updates, in the order given at construction (the
    /// order that numbers them in a [`StateDict`]).
    fn parameters(&self) -> &[Parameter<T>];

    /// Hyper-parameters and per-parameter state (PyTorch's `optimizer.state_dict()`):
    /// enough to resume a run with bit-identical results.
    fn state_dict(&self) -> StateDict<T>;

    /// Restores what [`Optimizer::state_dict`] saved: hyper-parameters (the learning rate
    /// included) and per-parameter state, matched to parameters by position. Nothing
    /// changes unless the whole dict fits.
    ///
    /// # Errors
    /// [`OptimError::StateDict`] when the dict was written by another kind of optimizer,
    /// for another number of parameters, misses or has unknown entries, or holds a state
    /// tensor whose shape differs from its parameter's;
    /// [`OptimError::InvalidHyperParameter`] for a saved hyper-parameter out of range.
    fn load_state_dict(&mut self, state: &StateDict<T>) -> Result<()>;

    /// Saves [`Optimizer::state_dict`] to a safetensors file, atomically (see
    /// [`save_state`](crate::save_state), which also works on trait objects).
    ///
    /// # Errors
    /// As [`save_state`](crate::save_state).
    fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()>
    where
        Self: Sized,
    {
        crate::save_state(path, &self.state_dict())
    }

    /// Restores the state saved by [`Optimizer::save`] (see
    /// [`load_state`](crate::load_state)); nothing changes unless the whole file fits.
    ///
    /// ```
    /// use ferrograd_optim::{Optimizer, Sgd, SgdConfig};
    /// use ferrograd_tensor::{Parameter, Tensor};
    ///
    /// let w = Parameter::new(Tensor::<f32>::from([1.0]));
    /// let mut opt = Sgd::new([w.clone()], SgdConfig { momentum: 0.9, ..SgdConfig::new(0.1) })?;
    /// opt.step(&w.tensor().square().sum_all().backward()?)?;
    /// let path = std::env::temp_dir().join(format!("sgd-doc-{}.safetensors", std::process::id()));
    /// opt.save(&path)?;
    /// let mut resumed = Sgd::new([w], SgdConfig::default())?;
    /// resumed.load(&path)?;
    /// assert_eq!(resumed.momentum_buffer(0), Some(&[2.0f32][..]));
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), ferrograd_optim::OptimError>(())
    /// ```
    ///
    /// # Errors
    /// As [`load_state`](crate::load_state) and [`Optimizer::load_state_dict`].
    fn load(&mut self, path: impl AsRef<std::path::Path>) -> Result<()>
    where
        Self: Sized,
    {
        let path = path.as_ref();
        self.load_state_dict(&crate::load_state(path)?)
            .map_err(|e| match e {
                // The state-dict check does not know the file: name it.
                OptimError::StateDict { op, reason } => OptimError::StateDict {
                    op,
                    reason: format!("{}: {reason}", path.display()),
                },
                other => other,
            })
    }
}

/// The parameters of one optimizer, checked: at least one, none twice.
pub(crate) fn collect_params<T: Scalar>(
    op: &'static str,
    params: impl IntoIterator<Item = Parameter<T>>,
) -> Result<Vec<Parameter<T>>> {
    let params: Vec<Parameter<T>> = params.into_iter().collect();
    if params.is_empty() {
        return Err(OptimError::EmptyParameterList { op });
    }
    let mut seen: HashMap<TensorId, usize> = HashMap::with_capacity(params.len());
    for (index, p) in params.iter().enumerate() {
        if let Some(&first) = seen.get(&p.id()) {
            return Err(OptimError::DuplicateParameter {
                op,
                index,
                first,
                id: p.id(),
            });
        }
        seen.insert(p.id(), index);
    }
    Ok(params)
}

/// The gradient of each parameter (`None` where the store has none), every shape checked
/// before the caller changes anything.
pub(crate) fn lookup_grads<'g, T: Scalar>(
    op: &'static str,
    params: &[Parameter<T>],
    grads: &'g Gradients<T>,
) -> Result<Vec<Option<&'g Tensor<T>>>> {
    params
        .iter()
        .enumerate()
        .map(|(index, p)| {
            let Some(g) = grads.get(p) else {
                return Ok(None);
            };
            let shape = p.shape();
            if g.shape() != shape.as_slice() {
                return Err(OptimError::GradientShape {
                    op,
                    index,
                    id: p.id(),
                    param: Shape(shape),
                    grad: Shape(g.shape().to_vec()),
                });
            }
            Ok(Some(g))
        })
        .collect()
}

/// The elements of a gradient, row-major (borrowed when contiguous).
pub(crate) fn grad_data<T: Scalar>(g: &Tensor<T>) -> Cow<'_, [T]> {
    g.contiguous_data()
}

/// Calls `$f::<T, FLAGS>(args…)` with `FLAGS` the runtime value `$flags`, for every value
/// in the list: each combination of boolean options gets its own monomorphised loop, with
/// the options' branches folded away, so the loop vectorises.
macro_rules! dispatch_flags {
    ($flags:expr, $f:ident::<$t:ty> $args:tt, [$($n:literal)*]) => {
        match $flags {
            $($n => $f::<$t, $n> $args,)*
            other => unreachable!("flag combination {other} out of range"),
        }
    };
}
pub(crate) use dispatch_flags;

/// Held by the tests that change the process-wide SIMD level or thread count to compare
/// kernels, so that they do not change them under each other.
#[cfg(test)]
pub(crate) static KERNEL_SETTINGS: std::sync::Mutex<()> = std::sync::Mutex::new(());
