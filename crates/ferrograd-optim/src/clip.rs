//! Gradient clipping on a [`Gradients`] store: by global norm
//! (`torch.nn.utils.clip_grad_norm_`) and by value (`torch.nn.utils.clip_grad_value_`).
//!
//! Clipping happens between `backward()` and `step()`, in place on the store:
//!
//! ```
//! use ferrograd_optim::{Optimizer, Sgd, SgdConfig, clip_grad_norm};
//! use ferrograd_tensor::{Parameter, Tensor};
//!
//! let w = Parameter::new(Tensor::<f32>::from([3.0, 4.0]));
//! let mut opt = Sgd::new([w.clone()], SgdConfig::new(0.1))?;
//! let mut grads = w.tensor().square().sum_all().mul_scalar(0.5).backward()?; // g = w
//! let total = clip_grad_norm(&mut grads, 1.0)?;
//! assert_eq!(total, 5.0);                       // the norm before clipping
//! let g = grads.get(&w).unwrap().to_vec();      // now of norm ≈ 1
//! assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
//! opt.step(&grads)?;
//! # Ok::<(), ferrograd_optim::OptimError>(())
//! ```

use crate::OptimError;
use crate::error::{Result, check};
use crate::optimizer::grad_data;
use crate::state::optim_tensor;
use ferrograd_linalg::cpu::lanes;
use ferrograd_tensor::{Gradients, Parameter, Scalar, TensorId};

/// Clipping by global norm, with PyTorch's options (`torch.nn.utils.clip_grad_norm_`).
///
/// The total norm is the `norm_type`-norm of all the gradients taken together as one
/// vector (for `p = ∞`, the largest absolute value). Every gradient is then multiplied by
///
/// ```text
/// clip_coef = min(max_norm / (total_norm + 1e-6), 1)
/// ```
///
/// computed in the gradients' element type, as PyTorch does. The sums run in `f64` over
/// the gradients in the order of their ids, so the result does not depend on the store's
/// iteration order (and a resumed run clips exactly as an uninterrupted one).
///
/// Large finite gradients give their true, finite norm where PyTorch's overflows:
/// - `f32`: the sums run in `f64`, so `[3e20, 4e20]` has norm `5e20` (PyTorch sums
///   squares in `f32`: `inf`, and every gradient becomes 0); only a norm above
///   `f32::MAX` is `inf`.
/// - `f64`: when the sum of `|x|^p` overflows but no element is NaN or infinite, the
///   norm is recomputed scaled by the largest magnitude, so `[1e200]` has norm `1e200`
///   and clips to `[1.0]` (as PyTorch, which takes a one-element norm exactly) and
///   `[3e200, 4e200]` has norm `5e200` and clips to `[0.6, 0.8]` (PyTorch: `inf` and
///   zeros; it also overflows for `[1e200, 0]`).
///
/// A NaN or infinite element still gives a NaN or infinite total (as PyTorch), which
/// `error_if_nonfinite` turns into an error.
///
/// ```
/// use ferrograd_optim::ClipGradNorm;
/// use ferrograd_tensor::{Gradients, Parameter, Tensor};
///
/// let a = Parameter::new(Tensor::<f64>::zeros(&[2]));
/// let b = Parameter::new(Tensor::<f64>::zeros(&[1]));
/// let mut grads = Gradients::<f64>::new();
/// grads.insert(&a, Tensor::from([-3.0, 1.0]));
/// grads.insert(&b, Tensor::from([2.0]));
/// let total = ClipGradNorm { norm_type: f64::INFINITY, ..ClipGradNorm::new(1.5) }.clip(&mut grads)?;
/// assert_eq!(total, 3.0);
/// assert!((grads.get(&a).unwrap().to_vec()[0] + 1.5).abs() < 1e-6);
/// # Ok::<(), ferrograd_optim::OptimError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipGradNorm {
    /// The largest total norm let through, `>= 0` (may be `∞`: no clipping).
    pub max_norm: f64,
    /// Order p of the norm: any `p > 0`, or `f64::INFINITY`. Default 2.
    pub norm_type: f64,
    /// Fail with [`OptimError::NonFiniteNorm`] when the total norm is NaN or infinite,
    /// instead of scaling by it. Default false, as PyTorch.
    pub error_if_nonfinite: bool,
}

impl ClipGradNorm {
    /// Clipping to `max_norm` in the 2-norm, without the non-finite check.
    pub fn new(max_norm: f64) -> Self {
        Self {
            max_norm,
            norm_type: 2.0,
            error_if_nonfinite: false,
        }
    }

    fn validate(&self, op: &'static str) -> Result<()> {
        check(
            op,
            "max_norm",
            self.max_norm,
            self.max_norm >= 0.0,
            "the maximum norm must be >= 0",
        )?;
        check_norm_type(op, self.norm_type)
    }

    /// Clips every gradient in the store; returns the total norm before clipping.
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperParameter`] for a negative or NaN `max_norm` or a
    /// `norm_type` that is not `> 0`; [`OptimError::NonFiniteNorm`] as explained at
    /// [`ClipGradNorm::error_if_nonfinite`] (the store is then left unchanged).
    pub fn clip<T: Scalar>(&self, grads: &mut Gradients<T>) -> Result<T> {
        let ids = sorted_ids(grads);
        self.clip_ids("ClipGradNorm::clip", grads, &ids)
    }

    /// Clips only the gradients of `params` (PyTorch's `clip_grad_norm_(params, …)`):
    /// the total norm is over their gradients alone; other entries are left as they are.
    ///
    /// # Errors
    /// As [`ClipGradNorm::clip`].
    pub fn clip_params<T: Scalar>(
        &self,
        grads: &mut Gradients<T>,
        params: &[Parameter<T>],
    ) -> Result<T> {
        let mut ids: Vec<TensorId> = params
            .iter()
            .map(Parameter::id)
            .filter(|id| grads.get(id).is_some())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        self.clip_ids("ClipGradNorm::clip_params", grads, &ids)
    }

    fn clip_ids<T: Scalar>(
        &self,
        op: &'static str,
        grads: &mut Gradients<T>,
        ids: &[TensorId],
    ) -> Result<T> {
        self.validate(op)?;
        let total = T::from_f64(total_norm(grads, ids, self.norm_type));
        if self.error_if_nonfinite && !total.is_finite() {
            return Err(OptimError::NonFiniteNorm {
                op,
                norm_type: self.norm_type,
                total: total.to_f64(),
            });
        }
        let coef = T::from_f64(self.max_norm) / (total + T::from_f64(1e-6));
        // torch.clamp(max=1): NaN stays NaN.
        let coef = if coef > T::ONE { T::ONE } else { coef };
        if coef != T::ONE {
            for id in ids {
                let Some(g) = grads.get(id) else { continue };
                let scaled =
                    optim_tensor(grad_data(g).iter().map(|&x| x * coef).collect(), g.shape());
                grads.insert(id, scaled);
            }
        }
        Ok(total)
    }
}

/// Clips the gradients in `grads` to a total 2-norm of at most `max_norm` and returns the
/// total norm before clipping: `torch.nn.utils.clip_grad_norm_(params, max_norm)`. See
/// [`ClipGradNorm`] for the other norms and the non-finite check.
///
/// # Errors
/// [`OptimError::InvalidHyperParameter`] for a negative or NaN `max_norm`.
pub fn clip_grad_norm<T: Scalar>(grads: &mut Gradients<T>, max_norm: f64) -> Result<T> {
    ClipGradNorm::new(max_norm).clip(grads)
}

/// The total `norm_type`-norm of every gradient in the store taken as one vector
/// (PyTorch's `torch.nn.utils.get_total_norm`), without changing anything: for logging.
///
/// ```
/// use ferrograd_optim::grad_norm;
/// use ferrograd_tensor::{Gradients, Parameter, Tensor};
/// let p = Parameter::new(Tensor::<f32>::zeros(&[2]));
/// let mut grads = Gradients::new();
/// grads.insert(&p, Tensor::from([3.0, -4.0]));
/// assert_eq!(grad_norm(&grads, 2.0)?, 5.0);
/// assert_eq!(grad_norm(&grads, 1.0)?, 7.0);
/// # Ok::<(), ferrograd_optim::OptimError>(())
/// ```
///
/// # Errors
/// [`OptimError::InvalidHyperParameter`] for a `norm_type` that is not `> 0`.
pub fn grad_norm<T: Scalar>(grads: &Gradients<T>, norm_type: f64) -> Result<T> {
    check_norm_type("grad_norm", norm_type)?;
    Ok(T::from_f64(total_norm(
        grads,
        &sorted_ids(grads),
        norm_type,
    )))
}

/// Clamps every gradient element to `[-clip_value, clip_value]`:
/// `torch.nn.utils.clip_grad_value_`. NaN elements stay NaN.
///
/// ```
/// use ferrograd_optim::clip_grad_value;
/// use ferrograd_tensor::{Gradients, Parameter, Tensor};
/// let p = Parameter::new(Tensor::<f32>::zeros(&[3]));
/// let mut grads = Gradients::new();
/// grads.insert(&p, Tensor::from([-5.0, 0.25, 2.0]));
/// clip_grad_value(&mut grads, 1.0)?;
/// assert_eq!(grads.get(&p).unwrap().to_vec(), vec![-1.0, 0.25, 1.0]);
/// # Ok::<(), ferrograd_optim::OptimError>(())
/// ```
///
/// # Errors
/// [`OptimError::InvalidHyperParameter`] for a negative or NaN `clip_value`.
pub fn clip_grad_value<T: Scalar>(grads: &mut Gradients<T>, clip_value: f64) -> Result<()> {
    check(
        "clip_grad_value",
        "clip_value",
        clip_value,
        clip_value >= 0.0,
        "the clip value must be >= 0",
    )?;
    let hi = T::from_f64(clip_value);
    let lo = -hi;
    for id in sorted_ids(grads) {
        let Some(g) = grads.get(&id) else { continue };
        let clamped = grad_data(g)
            .iter()
            .map(|&x| {
                if x < lo {
                    lo
                } else if x > hi {
                    hi
                } else {
                    x
                }
            })
            .collect();
        let clamped = optim_tensor(clamped, g.shape());
        grads.insert(&id, clamped);
    }
    Ok(())
}

fn check_norm_type(op: &'static str, norm_type: f64) -> Result<()> {
    check(
        op,
        "norm_type",
        norm_type,
        norm_type > 0.0,
        "the order of the norm must be > 0 (or infinite)",
    )
}

fn sorted_ids<T: Scalar>(grads: &Gradients<T>) -> Vec<TensorId> {
    let mut ids: Vec<TensorId> = grads.iter().map(|(id, _)| id).collect();
    ids.sort_unstable();
    ids
}

/// The p-norm of the listed gradients taken together, accumulated in `f64`.
fn total_norm<T: Scalar>(grads: &Gradients<T>, ids: &[TensorId], p: f64) -> f64 {
    let all = ids.iter().filter_map(|id| grads.get(id));
    if p == f64::INFINITY {
        let mut max = 0.0f64;
        for g in all {
            for &x in grad_data(g).iter() {
                let a = x.to_f64().abs();
                // NaN-propagating, as PyTorch's max-abs reduction.
                if a > max || a.is_nan() {
                    max = a;
                }
                if max.is_nan() {
                    return max;
                }
            }
        }
        return max;
    }
    let mut sum = 0.0f64;
    for g in all {
        let data = grad_data(g);
        sum += if p == 2.0 {
            lanes::sum_f64(&data, |x| x * x)
        } else if p == 1.0 {
            lanes::sum_f64(&data, f64::abs)
        } else {
            lanes::sum_f64(&data, |x| x.abs().powf(p))
        };
    }
    if p == 1.0 {
        // |x| does not overflow: a non-finite sum is a norm above f64::MAX, an inf or NaN.
        return sum;
    }
    if !sum.is_finite()
        && let Some(norm) = scaled_norm(grads, ids, p)
    {
        return norm;
    }
    if p == 2.0 {
        sum.sqrt()
    } else {
        sum.powf(1.0 / p)
    }
}

/// The p-norm (p > 1, finite) as `m · (Σ (|x|/m)^p)^(1/p)` with `m` the largest
/// magnitude, for when the plain sum of `|x|^p` overflowed: the powers of f64 gradients
/// above ~1.3e154 (p = 2) overflow although the norm itself is finite. `None` when an
/// element is NaN or infinite (the unscaled sum is then the answer: NaN or inf).
fn scaled_norm<T: Scalar>(grads: &Gradients<T>, ids: &[TensorId], p: f64) -> Option<f64> {
    let all = || ids.iter().filter_map(|id| grads.get(id));
    let mut max = 0.0f64;
    for g in all() {
        for &x in grad_data(g).iter() {
            let a = x.to_f64().abs();
            if !a.is_finite() {
                return None;
            }
            max = max.max(a);
        }
    }
    if max == 0.0 {
        return None;
    }
    let mut sum = 0.0f64;
    for g in all() {
        let data = grad_data(g);
        sum += if p == 2.0 {
            lanes::sum_f64(&data, |x| {
                let s = x / max;
                s * s
            })
        } else {
            lanes::sum_f64(&data, |x| (x.abs() / max).powf(p))
        };
    }
    Some(if p == 2.0 {
        max * sum.sqrt()
    } else {
        max * sum.powf(1.0 / p)
    })
}
