//! The one implementation of Adam and AdamW ([`Core`]), its per-parameter state, and
//! the two public optimizers, each a configuration of it ([`Variant`]).

use super::config::{AdamConfig, AdamWConfig, Hyper};
use super::update::{AMSGRAD, Consts, DECOUPLED, L2, MAXIMIZE, SMALL_WEIGHT, update};
use crate::error::{Result, check_lr};
use crate::optimizer::{Optimizer, collect_params, dispatch_flags, grad_data, lookup_grads};
use crate::state::{StateDict, StateReader, state_tensor};
use ferrograd_tensor::{Gradients, Parameter, Scalar};

/// Which of the two configurations: they differ only in what weight decay means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// L2 penalty: `λ·θ` is added to the gradient.
    Adam,
    /// Decoupled decay: `θ ← θ − γ·λ·θ` before the update.
    AdamW,
}

/// The public calls, for error messages.
#[derive(Debug, Clone, Copy)]
enum Method {
    New,
    Step,
    SetLr,
    LoadStateDict,
}

impl Variant {
    /// The name in state dicts and `Debug`.
    fn kind(self) -> &'static str {
        match self {
            Variant::Adam => "Adam",
            Variant::AdamW => "AdamW",
        }
    }

    /// The call the user made, for errors.
    fn op(self, method: Method) -> &'static str {
        match (self, method) {
            (Variant::Adam, Method::New) => "Adam::new",
            (Variant::Adam, Method::Step) => "Adam::step",
            (Variant::Adam, Method::SetLr) => "Adam::set_lr",
            (Variant::Adam, Method::LoadStateDict) => "Adam::load_state_dict",
            (Variant::AdamW, Method::New) => "AdamW::new",
            (Variant::AdamW, Method::Step) => "AdamW::step",
            (Variant::AdamW, Method::SetLr) => "AdamW::set_lr",
            (Variant::AdamW, Method::LoadStateDict) => "AdamW::load_state_dict",
        }
    }

    /// The update kernel's flag for a non-zero weight decay.
    fn decay_flag(self) -> u8 {
        match self {
            Variant::Adam => L2,
            Variant::AdamW => DECOUPLED,
        }
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

/// The implementation shared by [`Adam`] and [`AdamW`].
#[derive(Clone)]
struct Core<T: Scalar> {
    variant: Variant,
    params: Vec<Parameter<T>>,
    hyper: Hyper,
    states: Vec<Option<State<T>>>,
}

impl<T: Scalar> Core<T> {
    fn new(
        variant: Variant,
        params: impl IntoIterator<Item = Parameter<T>>,
        hyper: Hyper,
    ) -> Result<Self> {
        let op = variant.op(Method::New);
        hyper.validate(op)?;
        let params = collect_params(op, params)?;
        let states = vec![None; params.len()];
        Ok(Self {
            variant,
            params,
            hyper,
            states,
        })
    }

    fn debug(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(self.variant.kind())
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

    fn step(&mut self, grads: &Gradients<T>) -> Result<()> {
        let op = self.variant.op(Method::Step);
        let found = lookup_grads(op, &self.params, grads)?;
        let h = self.hyper;
        let mut flags = 0;
        if h.maximize {
            flags |= MAXIMIZE;
        }
        if h.weight_decay != 0.0 {
            flags |= self.variant.decay_flag();
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
                    update::<T>(w, &g, exp_avg, exp_avg_sq, vmax, c),
                    [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
                     16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31]
                );
            })?;
        }
        Ok(())
    }

    fn set_lr(&mut self, lr: f64) -> Result<()> {
        check_lr(self.variant.op(Method::SetLr), lr)?;
        self.hyper.lr = lr;
        Ok(())
    }

    fn state_dict(&self) -> StateDict<T> {
        let h = &self.hyper;
        let mut dict = StateDict::new(self.variant.kind());
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

    fn load_state_dict(&mut self, dict: &StateDict<T>) -> Result<()> {
        let op = self.variant.op(Method::LoadStateDict);
        let mut r = StateReader::new(op, dict, self.variant.kind(), self.params.len())?;
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

    /// Number of steps the parameter at `index` has taken (0 before its first gradient).
    fn step_count(&self, index: usize) -> u64 {
        self.states
            .get(index)
            .and_then(Option::as_ref)
            .map_or(0, |s| s.step)
    }
}

/// `Optimizer` for a public type by delegation to its [`Core`].
macro_rules! delegate_optimizer {
    ($name:ident) => {
        impl<T: Scalar> Optimizer<T> for $name<T> {
            fn step(&mut self, grads: &Gradients<T>) -> Result<()> {
                self.core.step(grads)
            }
            fn lr(&self) -> f64 {
                self.core.hyper.lr
            }
            fn set_lr(&mut self, lr: f64) -> Result<()> {
                self.core.set_lr(lr)
            }
            fn parameters(&self) -> &[Parameter<T>] {
                &self.core.params
            }
            fn state_dict(&self) -> StateDict<T> {
                self.core.state_dict()
            }
            fn load_state_dict(&mut self, state: &StateDict<T>) -> Result<()> {
                self.core.load_state_dict(state)
            }
        }
    };
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
        let core = Core::new(Variant::Adam, params, config.into())?;
        Ok(Self { core })
    }

    /// The hyper-parameters in use.
    pub fn config(&self) -> AdamConfig {
        self.core.hyper.into()
    }

    /// Number of steps the parameter at `index` has taken (0 before its first gradient).
    pub fn step_count(&self, index: usize) -> u64 {
        self.core.step_count(index)
    }
}

delegate_optimizer!(Adam);

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
        let core = Core::new(Variant::AdamW, params, config.into())?;
        Ok(Self { core })
    }

    /// The hyper-parameters in use.
    pub fn config(&self) -> AdamWConfig {
        self.core.hyper.into()
    }

    /// Number of steps the parameter at `index` has taken (0 before its first gradient).
    pub fn step_count(&self, index: usize) -> u64 {
        self.core.step_count(index)
    }
}

delegate_optimizer!(AdamW);
