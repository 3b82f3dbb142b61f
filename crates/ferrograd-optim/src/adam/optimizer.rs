//! Adam and AdamW: PyTorch's `torch.optim.Adam` and `torch.optim.AdamW`.
//!
//! Both share one implementation; they differ only in how weight decay is applied (added
//! to the gradient for [`Adam`], decoupled `θ ← θ − γ·λ·θ` for [`AdamW`]) and in the
//! default weight decay (0 for Adam, 0.01 for AdamW), as in PyTorch.

use crate::error::{Result, check, check_lr};
use crate::optimizer::{
    Optimizer, StateDict, StateReader, collect_params, dispatch_flags, grad_data, lookup_grads,
    state_tensor,
};
use ferrograd_tensor::{Gradients, Parameter, Scalar};

/// Hyper-parameters of [`Adam`], with PyTorch's names and defaults.
///
/// | field | PyTorch | default |
/// |---|---|---|
/// | `lr` | `lr` | 0.001 |
/// | `betas` | `betas` | (0.9, 0.999) |
/// | `eps` | `eps` | 1e-8 |
/// | `weight_decay` | `weight_decay` (L2 penalty added to the gradient) | 0 |
/// | `amsgrad` | `amsgrad` | false |
/// | `maximize` | `maximize` | false |
///
/// ```
/// use ferrograd_optim::AdamConfig;
/// let config = AdamConfig { amsgrad: true, ..AdamConfig::new(3e-4) };
/// assert_eq!(config.betas, (0.9, 0.999));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate γ, `>= 0`.
    pub lr: f64,
    /// Decay rates (β₁, β₂) of the first and second moment estimates, each in `[0, 1)`.
    pub betas: (f64, f64),
    /// ε added to the denominator, `>= 0`.
    pub eps: f64,
    /// L2 penalty λ, `>= 0`: `λ·θ` is added to the gradient.
    pub weight_decay: f64,
    /// Use the maximum of all second-moment estimates so far (AMSGrad).
    pub amsgrad: bool,
    /// Maximise the objective instead of minimising it.
    pub maximize: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false,
        }
    }
}

impl AdamConfig {
    /// PyTorch's defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            ..Self::default()
        }
    }

    /// Checks the ranges PyTorch's `Adam.__init__` checks (and rejects non-finite values).
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperParameter`](crate::OptimError::InvalidHyperParameter)
    /// for `lr < 0`, `eps < 0`, a beta outside `[0, 1)`, `weight_decay < 0`, or a
    /// non-finite value.
    pub fn validate(&self) -> Result<()> {
        Hyper::from(*self).validate("Adam::new")
    }
}

/// Hyper-parameters of [`AdamW`], with PyTorch's names and defaults: as [`AdamConfig`],
/// except that the weight decay is decoupled and defaults to 0.01.
///
/// | field | PyTorch | default |
/// |---|---|---|
/// | `lr` | `lr` | 0.001 |
/// | `betas` | `betas` | (0.9, 0.999) |
/// | `eps` | `eps` | 1e-8 |
/// | `weight_decay` | `weight_decay` (decoupled: `θ ← θ − γ·λ·θ`) | 0.01 |
/// | `amsgrad` | `amsgrad` | false |
/// | `maximize` | `maximize` | false |
///
/// ```
/// use ferrograd_optim::AdamWConfig;
/// let config = AdamWConfig { weight_decay: 0.1, ..AdamWConfig::new(6e-4) };
/// assert_eq!(config.eps, 1e-8);
/// assert_eq!(AdamWConfig::default().weight_decay, 0.01);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate γ, `>= 0`.
    pub lr: f64,
    /// Decay rates (β₁, β₂) of the first and second moment estimates, each in `[0, 1)`.
    pub betas: (f64, f64),
    /// ε added to the denominator, `>= 0`.
    pub eps: f64,
    /// Decoupled weight decay λ, `>= 0`: `θ ← θ − γ·λ·θ` before the Adam update.
    pub weight_decay: f64,
    /// Use the maximum of all second-moment estimates so far (AMSGrad).
    pub amsgrad: bool,
    /// Maximise the objective instead of minimising it.
    pub maximize: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
            maximize: false,
        }
    }
}

impl AdamWConfig {
    /// PyTorch's defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            ..Self::default()
        }
    }

    /// Checks the ranges PyTorch's `AdamW.__init__` checks (and rejects non-finite
    /// values).
    ///
    /// # Errors
    /// As [`AdamConfig::validate`].
    pub fn validate(&self) -> Result<()> {
        Hyper::from(*self).validate("AdamW::new")
    }
}

/// The hyper-parameters both variants share.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Hyper {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
}

impl From<AdamConfig> for Hyper {
    fn from(c: AdamConfig) -> Self {
        Self {
            lr: c.lr,
            beta1: c.betas.0,
            beta2: c.betas.1,
            eps: c.eps,
            weight_decay: c.weight_decay,
            amsgrad: c.amsgrad,
            maximize: c.maximize,
        }
    }
}

impl From<AdamWConfig> for Hyper {
    fn from(c: AdamWConfig) -> Self {
        Self {
            lr: c.lr,
            beta1: c.betas.0,
            beta2: c.betas.1,
            eps: c.eps,
            weight_decay: c.weight_decay,
            amsgrad: c.amsgrad,
            maximize: c.maximize,
        }
    }
}

impl Hyper {
    fn validate(&self, op: &'static str) -> Result<()> {
        check_lr(op, self.lr)?;
        check(
            op,
            "eps",
            self.eps,
            self.eps.is_finite() && self.eps >= 0.0,
            "epsilon must be finite and >= 0",
        )?;
        for (name, beta) in [("betas.0", self.beta1), ("betas.1", self.beta2)] {
            check(
                op,
                name,
                beta,
                (0.0..1.0).contains(&beta),
                "each beta must lie in [0, 1)",
            )?;
        }
        check(
            op,
            "weight_decay",
            self.weight_decay,
            self.weight_decay.is_finite() && self.weight_decay >= 0.0,
            "weight decay must be finite and >= 0",
        )
    }
}

/// Per-parameter state, created on the parameter's first step.
#[derive(Clone)]
struct State<T> {
    /// Number of steps taken by this parameter.
    step: u64,
    /// First moment estimate m.
    exp_avg: Vec<T>,
    /// Second moment estimate v.
    exp_avg_sq: Vec<T>,
    /// Running maximum of v (AMSGrad only).
    max_exp_avg_sq: Option<Vec<T>>,
}

const MAXIMIZE: u8 = 1;
const L2: u8 = 2;
const DECOUPLED: u8 = 4;
const AMSGRAD: u8 = 8;
/// The lerp weight `1 − β₁` is below ½: PyTorch's lerp then computes `m + w·(g − m)`,
/// otherwise `g − (1 − w)·(g − m)`.
const SMALL_WEIGHT: u8 = 16;

/// The per-step constants, computed in `f64` and rounded to `T` where PyTorch rounds them.
#[derive(Clone, Copy)]
struct Consts<T> {
    /// λ for the L2 variant.
    weight_decay: T,
    /// `1 − γ·λ` for the decoupled variant.
    decay_factor: T,
    /// Lerp weight `1 − β₁` …
    lerp_weight: T,
    /// … and `1 − (1 − β₁)` as PyTorch's lerp computes it in `T`.
    lerp_complement: T,
    beta2: T,
    one_minus_beta2: T,
    /// `sqrt(1 − β₂ᵗ)`.
    bias_correction2_sqrt: T,
    eps: T,
    /// `−γ / (1 − β₁ᵗ)`.
    neg_step_size: T,
}

/// One Adam step over one parameter: every state buffer and the weights in one pass.
///
/// The arithmetic is PyTorch's `_single_tensor_adam`, operation by operation, in `T`:
/// `m ← lerp(m, g, 1 − β₁)`, `v ← v·β₂ + ((1 − β₂)·g)·g`,
/// `denom ← sqrt(v̂)/sqrt(1 − β₂ᵗ) + ε`, `θ ← θ + (−γ/(1 − β₁ᵗ))·(m/denom)`.
#[inline(always)]
fn adam_kernel<T: Scalar, const FLAGS: u8>(
    w: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: &mut [T],
    c: Consts<T>,
) {
    let n = w.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    let vmax = if FLAGS & AMSGRAD != 0 {
        &mut vmax[..n]
    } else {
        &mut vmax[..0]
    };
    for i in 0..n {
        let mut grad = if FLAGS & MAXIMIZE != 0 { -g[i] } else { g[i] };
        let mut theta = w[i];
        if FLAGS & DECOUPLED != 0 {
            theta *= c.decay_factor;
        }
        if FLAGS & L2 != 0 {
            grad += c.weight_decay * theta;
        }
        let diff = grad - m[i];
        let mi = if FLAGS & SMALL_WEIGHT != 0 {
            m[i] + c.lerp_weight * diff
        } else {
            grad - diff * c.lerp_complement
        };
        m[i] = mi;
        let vi = v[i] * c.beta2 + c.one_minus_beta2 * grad * grad;
        v[i] = vi;
        let second = if FLAGS & AMSGRAD != 0 {
            // NaN-propagating maximum, as torch.maximum. Written so that no branch of the
            // select is the old value itself: LLVM would turn `store(select(c, new, old))`
            // into a masked store, which is microcoded (slow) on AMD CPUs.
            let old = vmax[i];
            let max = if vi.is_nan() || old.is_nan() {
                vi + old
            } else {
                old.max(vi)
            };
            vmax[i] = max;
            max
        } else {
            vi
        };
        let denom = second.sqrt() / c.bias_correction2_sqrt + c.eps;
        w[i] = theta + c.neg_step_size * (mi / denom);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn adam_kernel_avx2<T: Scalar, const FLAGS: u8>(
    w: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: &mut [T],
    c: Consts<T>,
) {
    adam_kernel::<T, FLAGS>(w, g, m, v, vmax, c)
}

/// Parameters with at least this many elements are updated on several threads (when
/// [`ferrograd_tensor::num_threads`] allows): below it, the update takes less time than
/// handing half of it to another thread.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 16;

/// The update on several threads for large parameters; each element's arithmetic is
/// independent of the others, so results are identical to the single-thread update.
fn adam_dispatch<T: Scalar, const FLAGS: u8>(
    w: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: &mut [T],
    c: Consts<T>,
) {
    let n = w.len();
    let threads = ferrograd_tensor::num_threads();
    if threads < 2 || n < PARALLEL_MIN_ELEMENTS || g.len() < n || m.len() < n || v.len() < n {
        return adam_dispatch_seq::<T, FLAGS>(w, g, m, v, vmax, c);
    }
    /// Base pointers of the state the blocks update; each block takes a disjoint range.
    struct Bases<T> {
        w: *mut T,
        m: *mut T,
        v: *mut T,
        vmax: Option<*mut T>,
    }
    // SAFETY: blocks only form disjoint sub-slices from these pointers (see below).
    unsafe impl<T: Send> Sync for Bases<T> {}
    impl<T> Bases<T> {
        /// Mutable sub-slices `range` of each buffer.
        ///
        /// # Safety
        /// `range` must lie inside every buffer, no two live results may overlap, and the
        /// buffers must outlive `'a`.
        #[allow(clippy::type_complexity)]
        unsafe fn slices<'a>(
            &self,
            range: &std::ops::Range<usize>,
        ) -> (&'a mut [T], &'a mut [T], &'a mut [T], &'a mut [T]) {
            let (start, len) = (range.start, range.len());
            // SAFETY: guaranteed by the caller.
            unsafe {
                (
                    std::slice::from_raw_parts_mut(self.w.add(start), len),
                    std::slice::from_raw_parts_mut(self.m.add(start), len),
                    std::slice::from_raw_parts_mut(self.v.add(start), len),
                    match self.vmax {
                        Some(p) => std::slice::from_raw_parts_mut(p.add(start), len),
                        None => &mut [],
                    },
                )
            }
        }
    }
    let bases = Bases {
        w: w.as_mut_ptr(),
        m: m.as_mut_ptr(),
        v: v.as_mut_ptr(),
        vmax: (vmax.len() >= n).then_some(vmax.as_mut_ptr()),
    };
    ferrograd_tensor::pool::run_ranges(n, threads, PARALLEL_MIN_ELEMENTS / 2, &|range| {
        // SAFETY: the ranges of `run_ranges` are disjoint and inside `0..n`, every buffer
        // holds at least `n` elements (checked above), and the borrows they come from
        // outlive `run_ranges`.
        let (w, m, v, vmax) = unsafe { bases.slices(&range) };
        adam_dispatch_seq::<T, FLAGS>(w, &g[range], m, v, vmax, c);
    });
}

fn adam_dispatch_seq<T: Scalar, const FLAGS: u8>(
    w: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: &mut [T],
    c: Consts<T>,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { adam_kernel_avx2::<T, FLAGS>(w, g, m, v, vmax, c) };
        return;
    }
    adam_kernel::<T, FLAGS>(w, g, m, v, vmax, c)
}

/// The implementation shared by [`Adam`] and [`AdamW`].
#[derive(Clone)]
struct Core<T: Scalar> {
    kind: &'static str,
    decoupled: bool,
    params: Vec<Parameter<T>>,
    hyper: Hyper,
    states: Vec<Option<State<T>>>,
}

impl<T: Scalar> Core<T> {
    fn new(
        kind: &'static str,
        op: &'static str,
        decoupled: bool,
        params: impl IntoIterator<Item = Parameter<T>>,
        hyper: Hyper,
    ) -> Result<Self> {
        hyper.validate(op)?;
        let params = collect_params(op, params)?;
        let states = vec![None; params.len()];
        Ok(Self {
            kind,
            decoupled,
            params,
            hyper,
            states,
        })
    }

    fn debug(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(self.kind)
            .field("lr", &self.hyper.lr)
            .field("betas", &(self.hyper.beta1, self.hyper.beta2))
            .field("eps", &self.hyper.eps)
            .field("weight_decay", &self.hyper.weight_decay)
            .field("amsgrad", &self.hyper.amsgrad)
            .field("maximize", &self.hyper.maximize)
            .field("params", &self.params.len())
            .field(
                "initialised",
                &self.states.iter().filter(|s| s.is_some()).count(),
            )
            .finish()
    }

    fn step(&mut self, op: &'static str, grads: &Gradients<T>) -> Result<()> {
        let found = lookup_grads(op, &self.params, grads)?;
        let h = self.hyper;
        let mut flags = 0;
        if h.maximize {
            flags |= MAXIMIZE;
        }
        if h.weight_decay != 0.0 {
            flags |= if self.decoupled { DECOUPLED } else { L2 };
        }
        if h.amsgrad {
            flags |= AMSGRAD;
        }
        let lerp_weight = T::from_f64(1.0 - h.beta1);
        if lerp_weight.abs() < T::from_f64(0.5) {
            flags |= SMALL_WEIGHT;
        }
        for ((param, grad), state) in self.params.iter().zip(found).zip(&mut self.states) {
            let Some(grad) = grad else { continue };
            let g = grad_data(grad);
            let n = g.len();
            let state = state.get_or_insert_with(|| State {
                step: 0,
                exp_avg: vec![T::ZERO; n],
                exp_avg_sq: vec![T::ZERO; n],
                max_exp_avg_sq: h.amsgrad.then(|| vec![T::ZERO; n]),
            });
            state.step += 1;
            // As PyTorch: the step count is a float, the bias corrections Python floats.
            let step = state.step as f64;
            let bias_correction1 = 1.0 - h.beta1.powf(step);
            let bias_correction2 = 1.0 - h.beta2.powf(step);
            let c = Consts {
                weight_decay: T::from_f64(h.weight_decay),
                decay_factor: T::from_f64(1.0 - h.lr * h.weight_decay),
                lerp_weight,
                lerp_complement: T::ONE - lerp_weight,
                beta2: T::from_f64(h.beta2),
                one_minus_beta2: T::from_f64(1.0 - h.beta2),
                bias_correction2_sqrt: T::from_f64(bias_correction2.sqrt()),
                eps: T::from_f64(h.eps),
                neg_step_size: T::from_f64(-(h.lr / bias_correction1)),
            };
            let State {
                exp_avg,
                exp_avg_sq,
                max_exp_avg_sq,
                ..
            } = state;
            let vmax: &mut [T] = max_exp_avg_sq.as_deref_mut().unwrap_or(&mut []);
            param.update(|w| {
                dispatch_flags!(
                    flags,
                    adam_dispatch::<T>(w, &g, exp_avg, exp_avg_sq, vmax, c),
                    [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
                     16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31]
                );
            })?;
        }
        Ok(())
    }

    fn set_lr(&mut self, op: &'static str, lr: f64) -> Result<()> {
        check_lr(op, lr)?;
        self.hyper.lr = lr;
        Ok(())
    }

    fn state_dict(&self) -> StateDict<T> {
        let h = &self.hyper;
        let mut dict = StateDict::new(self.kind);
        for (name, value) in [
            ("lr", h.lr),
            ("beta1", h.beta1),
            ("beta2", h.beta2),
            ("eps", h.eps),
            ("weight_decay", h.weight_decay),
            ("amsgrad", f64::from(u8::from(h.amsgrad))),
            ("maximize", f64::from(u8::from(h.maximize))),
            ("num_params", self.params.len() as f64),
        ] {
            dict.scalars.insert(name.to_owned(), value);
        }
        for (i, (param, state)) in self.params.iter().zip(&self.states).enumerate() {
            let Some(state) = state else { continue };
            let shape = param.shape();
            dict.scalars
                .insert(format!("state.{i}.step"), state.step as f64);
            dict.tensors.insert(
                format!("state.{i}.exp_avg"),
                state_tensor(&state.exp_avg, &shape),
            );
            dict.tensors.insert(
                format!("state.{i}.exp_avg_sq"),
                state_tensor(&state.exp_avg_sq, &shape),
            );
            if let Some(max) = &state.max_exp_avg_sq {
                dict.tensors.insert(
                    format!("state.{i}.max_exp_avg_sq"),
                    state_tensor(max, &shape),
                );
            }
        }
        dict
    }

    fn load_state_dict(&mut self, op: &'static str, dict: &StateDict<T>) -> Result<()> {
        let mut r = StateReader::new(op, dict, self.kind, self.params.len())?;
        let hyper = Hyper {
            lr: r.scalar("lr")?,
            beta1: r.scalar("beta1")?,
            beta2: r.scalar("beta2")?,
            eps: r.scalar("eps")?,
            weight_decay: r.scalar("weight_decay")?,
            amsgrad: r.flag("amsgrad")?,
            maximize: r.flag("maximize")?,
        };
        hyper.validate(op)?;
        let mut states = Vec::with_capacity(self.params.len());
        for (i, p) in self.params.iter().enumerate() {
            let state = match r.optional_count(&format!("state.{i}.step"))? {
                None => None,
                Some(step) => Some(State {
                    step,
                    exp_avg: r.buffer(i, "exp_avg", p)?,
                    exp_avg_sq: r.buffer(i, "exp_avg_sq", p)?,
                    max_exp_avg_sq: if hyper.amsgrad {
                        Some(r.buffer(i, "max_exp_avg_sq", p)?)
                    } else {
                        None
                    },
                }),
            };
            states.push(state);
        }
        r.finish()?;
        self.hyper = hyper;
        self.states = states;
        Ok(())
    }
}

/// Adam: PyTorch's `torch.optim.Adam` — same update, same defaults, same numbers.
///
/// For each parameter θ with gradient g, at its step t = 1, 2, … (PyTorch's documented
/// algorithm; m, v and v̂ start at 0):
///
/// ```text
/// g ← −g                               if maximize
/// g ← g + λ·θ                          if λ (weight_decay) ≠ 0   (L2 penalty)
/// m ← β₁·m + (1 − β₁)·g                (computed as PyTorch's lerp)
/// v ← β₂·v + (1 − β₂)·g²
/// v̂ ← max(v̂, v)                        if amsgrad, and v is replaced by v̂ below
/// θ ← θ − (γ / (1 − β₁ᵗ)) · m / (sqrt(v) / sqrt(1 − β₂ᵗ) + ε)
/// ```
///
/// ε is added *after* the bias correction of `sqrt(v)`, as PyTorch does (not to the raw
/// `sqrt(v)`). Each parameter counts its own steps, so a parameter that had no gradient
/// for a while keeps its own bias correction, as in PyTorch.
///
/// ```
/// use ferrograd_optim::{Adam, AdamConfig, Optimizer};
/// use ferrograd_tensor::{Parameter, Tensor};
///
/// let w = Parameter::new(Tensor::<f32>::from([1.0, -1.0]));
/// let mut opt = Adam::new([w.clone()], AdamConfig::new(0.1))?;
/// let grads = w.tensor().mul_scalar(2.0).sum_all().backward()?; // g = [2, 2]
/// opt.step(&grads)?;
/// // The first Adam step moves every weight by lr·g/(|g| + ε·…) ≈ lr, whatever |g| is.
/// let after = w.tensor().to_vec();
/// assert!((after[0] - 0.9).abs() < 1e-6 && (after[1] + 1.1).abs() < 1e-6);
/// # Ok::<(), ferrograd_optim::OptimError>(())
/// ```
pub struct Adam<T: Scalar = f32> {
    core: Core<T>,
}

impl<T: Scalar> std::fmt::Debug for Adam<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.debug(f)
    }
}

impl<T: Scalar> Adam<T> {
    /// Adam over `params` with the given hyper-parameters.
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperParameter`](crate::OptimError::InvalidHyperParameter) as
    /// [`AdamConfig::validate`];
    /// [`OptimError::EmptyParameterList`](crate::OptimError::EmptyParameterList) and
    /// [`OptimError::DuplicateParameter`](crate::OptimError::DuplicateParameter).
    pub fn new(params: impl IntoIterator<Item = Parameter<T>>, config: AdamConfig) -> Result<Self> {
        let core = Core::new("Adam", "Adam::new", false, params, config.into())?;
        Ok(Self { core })
    }

    /// The hyper-parameters in use.
    pub fn config(&self) -> AdamConfig {
        let h = self.core.hyper;
        AdamConfig {
            lr: h.lr,
            betas: (h.beta1, h.beta2),
            eps: h.eps,
            weight_decay: h.weight_decay,
            amsgrad: h.amsgrad,
            maximize: h.maximize,
        }
    }

    /// Number of steps the parameter at `index` has taken (0 before its first gradient).
    pub fn step_count(&self, index: usize) -> u64 {
        step_count(&self.core, index)
    }
}

impl<T: Scalar> Optimizer<T> for Adam<T> {
    fn step(&mut self, grads: &Gradients<T>) -> Result<()> {
        self.core.step("Adam::step", grads)
    }
    fn lr(&self) -> f64 {
        self.core.hyper.lr
    }
    fn set_lr(&mut self, lr: f64) -> Result<()> {
        self.core.set_lr("Adam::set_lr", lr)
    }
    fn parameters(&self) -> &[Parameter<T>] {
        &self.core.params
    }
    fn state_dict(&self) -> StateDict<T> {
        self.core.state_dict()
    }
    fn load_state_dict(&mut self, state: &StateDict<T>) -> Result<()> {
        self.core.load_state_dict("Adam::load_state_dict", state)
    }
}

/// AdamW: PyTorch's `torch.optim.AdamW` — Adam with decoupled weight decay, same
/// defaults, same numbers.
///
/// As [`Adam`], except that weight decay does not enter the gradient: before the Adam
/// update each step multiplies the weights by `1 − γ·λ` (γ the learning rate, λ the
/// weight decay):
///
/// ```text
/// θ ← θ − γ·λ·θ
/// (then the Adam update of θ with the undecayed gradient, amsgrad and maximize as Adam)
/// ```
///
/// ```
/// use ferrograd_optim::{AdamW, AdamWConfig, Optimizer};
/// use ferrograd_tensor::{Gradients, Parameter, Tensor};
///
/// // With a zero gradient the Adam part does nothing: only the decay remains.
/// let w = Parameter::new(Tensor::<f64>::from([2.0]));
/// let mut opt = AdamW::new([w.clone()], AdamWConfig { weight_decay: 0.5, ..AdamWConfig::new(0.1) })?;
/// let mut grads = Gradients::new();
/// grads.insert(&w, Tensor::from([0.0]));
/// opt.step(&grads)?;
/// assert_eq!(w.tensor().to_vec(), vec![2.0 * (1.0 - 0.1 * 0.5)]);
/// # Ok::<(), ferrograd_optim::OptimError>(())
/// ```
pub struct AdamW<T: Scalar = f32> {
    core: Core<T>,
}

impl<T: Scalar> std::fmt::Debug for AdamW<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.debug(f)
    }
}

impl<T: Scalar> AdamW<T> {
    /// AdamW over `params` with the given hyper-parameters.
    ///
    /// # Errors
    /// As [`Adam::new`].
    pub fn new(
        params: impl IntoIterator<Item = Parameter<T>>,
        config: AdamWConfig,
    ) -> Result<Self> {
        let core = Core::new("AdamW", "AdamW::new", true, params, config.into())?;
        Ok(Self { core })
    }

    /// The hyper-parameters in use.
    pub fn config(&self) -> AdamWConfig {
        let h = self.core.hyper;
        AdamWConfig {
            lr: h.lr,
            betas: (h.beta1, h.beta2),
            eps: h.eps,
            weight_decay: h.weight_decay,
            amsgrad: h.amsgrad,
            maximize: h.maximize,
        }
    }

    /// Number of steps the parameter at `index` has taken (0 before its first gradient).
    pub fn step_count(&self, index: usize) -> u64 {
        step_count(&self.core, index)
    }
}

impl<T: Scalar> Optimizer<T> for AdamW<T> {
    fn step(&mut self, grads: &Gradients<T>) -> Result<()> {
        self.core.step("AdamW::step", grads)
    }
    fn lr(&self) -> f64 {
        self.core.hyper.lr
    }
    fn set_lr(&mut self, lr: f64) -> Result<()> {
        self.core.set_lr("AdamW::set_lr", lr)
    }
    fn parameters(&self) -> &[Parameter<T>] {
        &self.core.params
    }
    fn state_dict(&self) -> StateDict<T> {
        self.core.state_dict()
    }
    fn load_state_dict(&mut self, state: &StateDict<T>) -> Result<()> {
        self.core.load_state_dict("AdamW::load_state_dict", state)
    }
}

fn step_count<T: Scalar>(core: &Core<T>, index: usize) -> u64 {
    core.states
        .get(index)
        .and_then(Option::as_ref)
        .map_or(0, |s| s.step)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 build of the loop must give the bits of the baseline build: the same IEEE
    /// operations (no FMA), each correctly rounded, only more lanes at a time.
    #[test]
    fn runtime_dispatched_kernel_matches_the_baseline_bit_for_bit() {
        let mut rng = ferrograd_tensor::Rng::new(3);
        let n = 1037; // not a multiple of any vector width: exercises the tails
        let mut fill =
            |scale: f64| -> Vec<f32> { (0..n).map(|_| (rng.normal() * scale) as f32).collect() };
        let (w0, g, m0) = (fill(1.0), fill(0.1), fill(0.01));
        let v0: Vec<f32> = fill(1e-3).iter().map(|x| x * x).collect();
        let c = Consts {
            weight_decay: 0.01f32,
            decay_factor: 0.999,
            lerp_weight: 0.1,
            lerp_complement: 0.9,
            beta2: 0.999,
            one_minus_beta2: 0.001,
            bias_correction2_sqrt: 0.0447,
            eps: 1e-8,
            neg_step_size: -0.0123,
        };
        let run = |flags: u8, dispatched: bool| {
            let (mut w, mut m, mut v, mut vmax) = (w0.clone(), m0.clone(), v0.clone(), v0.clone());
            let (w_, m_, v_, x_) = (&mut w[..], &mut m[..], &mut v[..], &mut vmax[..]);
            if dispatched {
                dispatch_flags!(flags, adam_dispatch::<f32>(w_, &g, m_, v_, x_, c),
                    [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
                     16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31]);
            } else {
                dispatch_flags!(flags, adam_kernel::<f32>(w_, &g, m_, v_, x_, c),
                    [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
                     16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31]);
            }
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            (bits(&w), bits(&m), bits(&v), bits(&vmax))
        };
        for flags in 0..32 {
            if flags & L2 != 0 && flags & DECOUPLED != 0 {
                continue; // never both
            }
            assert_eq!(run(flags, true), run(flags, false), "flags {flags}");
        }
    }
}
