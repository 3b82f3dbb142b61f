//! Stochastic gradient descent with optional momentum, dampening, Nesterov momentum,
//! weight decay and maximisation: PyTorch's `torch.optim.SGD`.

use crate::error::{Result, check, check_lr};
use crate::optimizer::{Optimizer, collect_params, dispatch_flags, grad_data, lookup_grads};
use crate::state::{StateDict, StateReader, state_tensor};
use ferrograd_linalg::cpu::{partition, thresholds};
use ferrograd_linalg::simd_kernel;
use ferrograd_tensor::{Gradients, Parameter, Scalar};

/// Hyper-parameters of [`Sgd`], with PyTorch's names and defaults.
///
/// | field | PyTorch | default |
/// |---|---|---|
/// | `lr` | `lr` | 0.001 |
/// | `momentum` | `momentum` | 0 |
/// | `dampening` | `dampening` | 0 |
/// | `weight_decay` | `weight_decay` (L2 penalty added to the gradient) | 0 |
/// | `nesterov` | `nesterov` | false |
/// | `maximize` | `maximize` | false |
///
/// ```
/// use ferrograd_optim::SgdConfig;
/// let config = SgdConfig { momentum: 0.9, nesterov: true, ..SgdConfig::new(0.01) };
/// assert_eq!(config.lr, 0.01);
/// assert_eq!(config.dampening, 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate γ, `>= 0`.
    pub lr: f64,
    /// Momentum factor μ, `>= 0` (0 disables momentum).
    pub momentum: f64,
    /// Dampening τ for momentum: the new gradient enters the buffer scaled by `1 - τ`.
    pub dampening: f64,
    /// L2 penalty λ, `>= 0`: `λ·θ` is added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum (needs `momentum > 0` and `dampening == 0`).
    pub nesterov: bool,
    /// Maximise the objective instead of minimising it.
    pub maximize: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        }
    }
}

impl SgdConfig {
    /// PyTorch's defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            ..Self::default()
        }
    }

    /// Checks the ranges PyTorch's `SGD.__init__` checks (and rejects non-finite values).
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperParameter`](crate::OptimError::InvalidHyperParameter)
    /// for `lr < 0`, `momentum < 0`, `weight_decay < 0`, a non-finite value, or
    /// `nesterov` without momentum or with dampening.
    pub fn validate(&self) -> Result<()> {
        const OP: &str = "Sgd::new";
        check_lr(OP, self.lr)?;
        check(
            OP,
            "momentum",
            self.momentum,
            self.momentum.is_finite() && self.momentum >= 0.0,
            "momentum must be finite and >= 0",
        )?;
        check(
            OP,
            "dampening",
            self.dampening,
            self.dampening.is_finite(),
            "dampening must be finite",
        )?;
        check(
            OP,
            "weight_decay",
            self.weight_decay,
            self.weight_decay.is_finite() && self.weight_decay >= 0.0,
            "weight decay must be finite and >= 0",
        )?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(crate::OptimError::InvalidHyperParameter {
                op: OP,
                name: "nesterov",
                value: format!(
                    "true (momentum {}, dampening {})",
                    self.momentum, self.dampening
                ),
                reason: "Nesterov momentum requires a momentum and zero dampening",
            });
        }
        Ok(())
    }
}

/// Stochastic gradient descent: PyTorch's `torch.optim.SGD`, same update, same defaults,
/// same numbers.
///
/// For each parameter θ with gradient g, at step t (PyTorch's documented algorithm):
///
/// ```text
/// g ← −g                          if maximize
/// g ← g + λ·θ                     if λ (weight_decay) ≠ 0
/// if μ (momentum) ≠ 0:
///     b ← g                       on the parameter's first step (no dampening applied)
///     b ← μ·b + (1 − τ)·g         afterwards
///     g ← g + μ·b                 if nesterov
///     g ← b                       otherwise
/// θ ← θ − γ·g
/// ```
///
/// Hyper-parameters are `f64` as in Python and are rounded to the parameter's element type
/// where PyTorch rounds them (every multiplication above happens in `T`).
///
/// ```
/// use ferrograd_optim::{Optimizer, Sgd, SgdConfig};
/// use ferrograd_tensor::{Parameter, Tensor};
///
/// // Minimise (w − 3)² from w = 0.
/// let w = Parameter::new(Tensor::<f32>::from([0.0]));
/// let mut opt = Sgd::new([w.clone()], SgdConfig { momentum: 0.5, ..SgdConfig::new(0.1) })?;
/// for _ in 0..100 {
///     let loss = w.tensor().sub_scalar(3.0).square().sum_all();
///     let grads = loss.backward_free()?;
///     opt.step(&grads)?;
/// }
/// assert!((w.tensor().item()? - 3.0).abs() < 1e-4);
/// # Ok::<(), ferrograd_optim::OptimError>(())
/// ```
pub struct Sgd<T: Scalar = f32> {
    params: Vec<Parameter<T>>,
    config: SgdConfig,
    /// Momentum buffer per parameter, created on its first step when momentum is on.
    buffers: Vec<Option<Vec<T>>>,
}

impl<T: Scalar> std::fmt::Debug for Sgd<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sgd")
            .field("config", &self.config)
            .field("params", &self.params.len())
            .field(
                "momentum_buffers",
                &self.buffers.iter().filter(|b| b.is_some()).count(),
            )
            .finish()
    }
}

const MAXIMIZE: u8 = 1;
const DECAY: u8 = 2;
const NESTEROV: u8 = 4;
const FIRST: u8 = 8;

/// The per-step constants, rounded to `T` as PyTorch rounds Python floats.
#[derive(Clone, Copy)]
struct Consts<T> {
    weight_decay: T,
    momentum: T,
    one_minus_dampening: T,
    neg_lr: T,
}

simd_kernel! {
    /// `θ ← θ − γ·g'` with `g'` the (negated, decayed) gradient; no momentum.
    fn plain_slice<T: Scalar, const FLAGS: u8>(w: &mut [T], g: &[T], c: Consts<T>) {
        let g = &g[..w.len()];
        for (w, &g) in w.iter_mut().zip(g) {
            let mut d = if FLAGS & MAXIMIZE != 0 { -g } else { g };
            if FLAGS & DECAY != 0 {
                d += c.weight_decay * *w;
            }
            *w += c.neg_lr * d;
        }
    }
}

simd_kernel! {
    /// The momentum update for one parameter, buffer and weights in one pass.
    fn momentum_slice<T: Scalar, const FLAGS: u8>(
        w: &mut [T],
        g: &[T],
        buf: &mut [T],
        c: Consts<T>,
    ) {
        let n = w.len();
        let (g, buf) = (&g[..n], &mut buf[..n]);
        for i in 0..n {
            let mut d = if FLAGS & MAXIMIZE != 0 { -g[i] } else { g[i] };
            if FLAGS & DECAY != 0 {
                d += c.weight_decay * w[i];
            }
            let b = if FLAGS & FIRST != 0 {
                d
            } else {
                buf[i] * c.momentum + c.one_minus_dampening * d
            };
            buf[i] = b;
            let step = if FLAGS & NESTEROV != 0 {
                d + c.momentum * b
            } else {
                b
            };
            w[i] += c.neg_lr * step;
        }
    }
}

/// [`plain_slice`] over one parameter, split over threads when large.
fn plain_dispatch<T: Scalar, const FLAGS: u8>(w: &mut [T], g: &[T], c: Consts<T>) {
    partition::ranges_mut(w.len(), [w], thresholds::OPTIMIZER, |range, [w]| {
        plain_slice::<T, FLAGS>(w, &g[range], c);
    });
}

/// [`momentum_slice`] over one parameter, split over threads when large.
fn momentum_dispatch<T: Scalar, const FLAGS: u8>(
    w: &mut [T],
    g: &[T],
    buf: &mut [T],
    c: Consts<T>,
) {
    partition::ranges_mut(
        w.len(),
        [w, buf],
        thresholds::OPTIMIZER,
        |range, [w, buf]| {
            momentum_slice::<T, FLAGS>(w, &g[range], buf, c);
        },
    );
}

impl<T: Scalar> Sgd<T> {
    /// SGD over `params` with the given hyper-parameters.
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperParameter`](crate::OptimError::InvalidHyperParameter) as
    /// [`SgdConfig::validate`];
    /// [`OptimError::EmptyParameterList`](crate::OptimError::EmptyParameterList) and
    /// [`OptimError::DuplicateParameter`](crate::OptimError::DuplicateParameter).
    pub fn new(params: impl IntoIterator<Item = Parameter<T>>, config: SgdConfig) -> Result<Self> {
        config.validate()?;
        let params = collect_params("Sgd::new", params)?;
        let buffers = vec![None; params.len()];
        Ok(Self {
            params,
            config,
            buffers,
        })
    }

    /// The hyper-parameters in use.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    /// The momentum buffer of the parameter at `index`, once it has been stepped with
    /// momentum on (PyTorch's `state[p]["momentum_buffer"]`).
    pub fn momentum_buffer(&self, index: usize) -> Option<&[T]> {
        self.buffers.get(index)?.as_deref()
    }
}

impl<T: Scalar> Optimizer<T> for Sgd<T> {
    fn step(&mut self, grads: &Gradients<T>) -> Result<()> {
        let found = lookup_grads("Sgd::step", &self.params, grads)?;
        let cfg = self.config;
        let c = Consts {
            weight_decay: T::from_f64(cfg.weight_decay),
            momentum: T::from_f64(cfg.momentum),
            one_minus_dampening: T::from_f64(1.0 - cfg.dampening),
            neg_lr: T::from_f64(-cfg.lr),
        };
        let mut flags = 0;
        if cfg.maximize {
            flags |= MAXIMIZE;
        }
        if cfg.weight_decay != 0.0 {
            flags |= DECAY;
        }
        for ((param, grad), buffer) in self.params.iter().zip(found).zip(&mut self.buffers) {
            let Some(grad) = grad else { continue };
            let g = grad_data(grad);
            if cfg.momentum == 0.0 {
                param.update(|w| {
                    dispatch_flags!(flags, plain_dispatch::<T>(w, &g, c), [0 1 2 3]);
                })?;
                continue;
            }
            let mut flags = flags;
            if cfg.nesterov {
                flags |= NESTEROV;
            }
            let buf = match buffer {
                Some(buf) => buf,
                None => {
                    flags |= FIRST;
                    buffer.insert(vec![T::ZERO; g.len()])
                }
            };
            param.update(|w| {
                dispatch_flags!(
                    flags,
                    momentum_dispatch::<T>(w, &g, buf, c),
                    [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15]
                );
            })?;
        }
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.config.lr
    }

    fn set_lr(&mut self, lr: f64) -> Result<()> {
        check_lr("Sgd::set_lr", lr)?;
        self.config.lr = lr;
        Ok(())
    }

    fn parameters(&self) -> &[Parameter<T>] {
        &self.params
    }

    fn state_dict(&self) -> StateDict<T> {
        let c = &self.config;
        let mut dict = StateDict::new("Sgd");
        for (name, value) in [
            ("lr", c.lr),
            ("momentum", c.momentum),
            ("dampening", c.dampening),
            ("weight_decay", c.weight_decay),
            ("nesterov", f64::from(u8::from(c.nesterov))),
            ("maximize", f64::from(u8::from(c.maximize))),
            ("num_params", self.params.len() as f64),
        ] {
            dict.scalars.insert(name.to_owned(), value);
        }
        for (i, (param, buf)) in self.params.iter().zip(&self.buffers).enumerate() {
            if let Some(buf) = buf {
                dict.tensors.insert(
                    format!("state.{i}.momentum_buffer"),
                    state_tensor(buf, &param.shape()),
                );
            }
        }
        dict
    }

    fn load_state_dict(&mut self, state: &StateDict<T>) -> Result<()> {
        const OP: &str = "Sgd::load_state_dict";
        let mut r = StateReader::new(OP, state, "Sgd", self.params.len())?;
        let config = SgdConfig {
            lr: r.scalar("lr")?,
            momentum: r.scalar("momentum")?,
            dampening: r.scalar("dampening")?,
            weight_decay: r.scalar("weight_decay")?,
            nesterov: r.flag("nesterov")?,
            maximize: r.flag("maximize")?,
        };
        config.validate()?;
        let buffers = self
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| r.optional_buffer(i, "momentum_buffer", p))
            .collect::<Result<Vec<_>>>()?;
        r.finish()?;
        self.config = config;
        self.buffers = buffers;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrograd_linalg::cpu::simd::{self, Level};

    /// Every vector width and the split over threads must give the bits of the
    /// single-thread baseline build.
    #[test]
    fn every_vector_width_and_thread_split_gives_the_baseline_bits() {
        let _settings = crate::optimizer::KERNEL_SETTINGS
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut rng = ferrograd_tensor::Rng::new(5);
        let n = (1 << 17) + 29;
        let mut fill = || -> Vec<f32> { (0..n).map(|_| rng.normal() as f32).collect() };
        let (w0, g, b0) = (fill(), fill(), fill());
        let c = Consts {
            weight_decay: 0.01f32,
            momentum: 0.9,
            one_minus_dampening: 0.7,
            neg_lr: -0.05,
        };
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let setting = |level: Level, threads: usize| {
            simd::set_max_level(level);
            ferrograd_linalg::set_num_threads(threads);
        };
        for flags in 0..4u8 {
            let (mut a, mut b) = (w0.clone(), w0.clone());
            setting(Level::Avx512, 2);
            dispatch_flags!(flags, plain_dispatch::<f32>(&mut a, &g, c), [0 1 2 3]);
            setting(Level::Baseline, 1);
            dispatch_flags!(flags, plain_dispatch::<f32>(&mut b, &g, c), [0 1 2 3]);
            assert_eq!(bits(&a), bits(&b), "plain, flags {flags}");
        }
        for flags in 0..16u8 {
            let (mut a, mut b, mut ba, mut bb) = (w0.clone(), w0.clone(), b0.clone(), b0.clone());
            setting(Level::Avx512, 2);
            dispatch_flags!(flags, momentum_dispatch::<f32>(&mut a, &g, &mut ba, c),
                [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15]);
            setting(Level::Baseline, 1);
            dispatch_flags!(flags, momentum_dispatch::<f32>(&mut b, &g, &mut bb, c),
                [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15]);
            assert_eq!(
                (bits(&a), bits(&ba)),
                (bits(&b), bits(&bb)),
                "momentum, flags {flags}"
            );
        }
        setting(Level::Avx512, 2);
    }
}
