//! Learning-rate schedules: PyTorch's `StepLR` and `ExponentialLR`, and cosine decay with
//! a linear warm-up.
//!
//! A schedule ([`LrSchedule`]) is a pure function from (base learning rate, number of
//! scheduler steps taken) to a learning rate. An [`LrScheduler`] drives one: built from an
//! optimizer (whose learning rate becomes the base), it sets the rate for step 0 at once
//! and the rate for step `k` at its `k`-th [`LrScheduler::step`], as PyTorch's
//! `scheduler.step()` does when called once per epoch or iteration after
//! `optimizer.step()`.
//!
//! ```
//! use ferrograd_optim::{LrScheduler, Optimizer, Sgd, SgdConfig, StepLr};
//! use ferrograd_tensor::{Parameter, Tensor};
//!
//! let w = Parameter::new(Tensor::<f32>::from([1.0]));
//! let mut opt = Sgd::new([w], SgdConfig::new(0.1))?;
//! let mut sched = LrScheduler::new(StepLr::new(2, 0.5)?, &mut opt)?;
//! let mut lrs = vec![];
//! for _ in 0..5 {
//!     lrs.push(opt.lr());
//!     // … forward, backward, opt.step(&grads)? …
//!     sched.step(&mut opt)?;
//! }
//! assert_eq!(lrs, [0.1, 0.1, 0.05, 0.05, 0.025]);
//! # Ok::<(), ferrograd_optim::OptimError>(())
//! ```

use crate::error::{OptimError, Result, check};
use crate::optimizer::Optimizer;
use crate::state::StateDict;
use ferrograd_tensor::Scalar;

/// A learning rate as a function of the number of scheduler steps taken.
///
/// Implement it for your own schedule; [`LrScheduler`] drives any implementation.
pub trait LrSchedule: std::fmt::Debug {
    /// The learning rate after `step` scheduler steps (0 before the first) when the
    /// optimizer started with `base_lr`.
    fn lr_at(&self, base_lr: f64, step: u64) -> f64;
}

/// PyTorch's `StepLR`: the learning rate is multiplied by `gamma` every `step_size`
/// steps: `lr(k) = base_lr · gammaᶠˡᵒᵒʳ⁽ᵏ ᐟ ˢᵗᵉᵖ_ˢⁱᶻᵉ⁾`.
///
/// ```
/// use ferrograd_optim::{LrSchedule, StepLr};
/// let s = StepLr::new(3, 0.1)?;
/// assert_eq!(s.lr_at(1.0, 2), 1.0);
/// assert_eq!(s.lr_at(1.0, 3), 0.1);
/// # Ok::<(), ferrograd_optim::OptimError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLr {
    step_size: u64,
    gamma: f64,
}

impl StepLr {
    /// Decay by `gamma` every `step_size` steps.
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperParameter`] for `step_size == 0` or a negative or
    /// non-finite `gamma`.
    pub fn new(step_size: u64, gamma: f64) -> Result<Self> {
        check(
            "StepLr::new",
            "step_size",
            step_size as f64,
            step_size > 0,
            "the step size must be at least 1",
        )?;
        check_gamma("StepLr::new", gamma)?;
        Ok(Self { step_size, gamma })
    }

    /// Steps between two decays.
    pub fn step_size(&self) -> u64 {
        self.step_size
    }

    /// The decay factor.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }
}

impl LrSchedule for StepLr {
    fn lr_at(&self, base_lr: f64, step: u64) -> f64 {
        base_lr * self.gamma.powf((step / self.step_size) as f64)
    }
}

/// PyTorch's `ExponentialLR`: `lr(k) = base_lr · gammaᵏ`.
///
/// ```
/// use ferrograd_optim::{ExponentialLr, LrSchedule};
/// let s = ExponentialLr::new(0.5)?;
/// assert_eq!(s.lr_at(1.0, 3), 0.125);
/// # Ok::<(), ferrograd_optim::OptimError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialLr {
    gamma: f64,
}

impl ExponentialLr {
    /// Decay by `gamma` every step.
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperParameter`] for a negative or non-finite `gamma`.
    pub fn new(gamma: f64) -> Result<Self> {
        check_gamma("ExponentialLr::new", gamma)?;
        Ok(Self { gamma })
    }

    /// The decay factor.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }
}

impl LrSchedule for ExponentialLr {
    fn lr_at(&self, base_lr: f64, step: u64) -> f64 {
        base_lr * self.gamma.powf(step as f64)
    }
}

fn check_gamma(op: &'static str, gamma: f64) -> Result<()> {
    check(
        op,
        "gamma",
        gamma,
        gamma.is_finite() && gamma >= 0.0,
        "the decay factor must be finite and >= 0",
    )
}

/// Linear warm-up followed by cosine decay, the schedule GPT-style models train with.
///
/// With base learning rate `η`, `W = warmup_steps`, `N = total_steps`,
/// `f = start_factor` and `η_min = min_lr`, the learning rate after `k` scheduler steps is
///
/// ```text
/// k <  W:        η · (f + (1 − f) · k / W)                          linear from f·η to η
/// W ≤ k ≤ N:     η_min + (η − η_min) · (1 + cos(π · (k − W) / (N − W))) / 2
/// k >  N:        η_min
/// ```
///
/// so it rises linearly from `f·η` (0 by default) to `η` at step `W`, then follows half a
/// cosine down to `η_min` at step `N`, and stays there. With `f > 0` this is PyTorch's
/// `SequentialLR([LinearLR(start_factor=f, total_iters=W),
/// CosineAnnealingLR(T_max=N − W, eta_min=η_min)], milestones=[W])` up to step `N`; with
/// `f = 0` and `η_min = 0` it is Hugging Face's `get_cosine_schedule_with_warmup`.
///
/// ```
/// use ferrograd_optim::{LrSchedule, WarmupCosineLr};
/// let s = WarmupCosineLr::new(10, 110)?.min_lr(0.1)?;
/// assert_eq!(s.lr_at(1.0, 0), 0.0);
/// assert_eq!(s.lr_at(1.0, 5), 0.5);
/// assert_eq!(s.lr_at(1.0, 10), 1.0);
/// assert!((s.lr_at(1.0, 60) - 0.55).abs() < 1e-12);    // half-way down the cosine
/// assert_eq!(s.lr_at(1.0, 110), 0.1);
/// assert_eq!(s.lr_at(1.0, 500), 0.1);
/// # Ok::<(), ferrograd_optim::OptimError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarmupCosineLr {
    warmup_steps: u64,
    total_steps: u64,
    start_factor: f64,
    min_lr: f64,
}

impl WarmupCosineLr {
    /// `warmup_steps` of linear warm-up from 0, then cosine decay to 0 at `total_steps`.
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperParameter`] unless `warmup_steps < total_steps`.
    pub fn new(warmup_steps: u64, total_steps: u64) -> Result<Self> {
        check(
            "WarmupCosineLr::new",
            "total_steps",
            total_steps as f64,
            total_steps > warmup_steps,
            "the total number of steps must exceed the warm-up steps",
        )?;
        Ok(Self {
            warmup_steps,
            total_steps,
            start_factor: 0.0,
            min_lr: 0.0,
        })
    }

    /// Starts the warm-up at `start_factor · base_lr` instead of 0.
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperParameter`] unless `0 <= start_factor <= 1`.
    pub fn start_factor(mut self, start_factor: f64) -> Result<Self> {
        check(
            "WarmupCosineLr::start_factor",
            "start_factor",
            start_factor,
            (0.0..=1.0).contains(&start_factor),
            "the start factor must lie in [0, 1]",
        )?;
        self.start_factor = start_factor;
        Ok(self)
    }

    /// Ends the cosine at the absolute learning rate `min_lr` instead of 0 (PyTorch's
    /// `eta_min`).
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperParameter`] for a negative or non-finite `min_lr`.
    pub fn min_lr(mut self, min_lr: f64) -> Result<Self> {
        check(
            "WarmupCosineLr::min_lr",
            "min_lr",
            min_lr,
            min_lr.is_finite() && min_lr >= 0.0,
            "the minimum learning rate must be finite and >= 0",
        )?;
        self.min_lr = min_lr;
        Ok(self)
    }

    /// Steps of linear warm-up.
    pub fn warmup_steps(&self) -> u64 {
        self.warmup_steps
    }

    /// The step at which the cosine reaches the minimum.
    pub fn total_steps(&self) -> u64 {
        self.total_steps
    }
}

impl LrSchedule for WarmupCosineLr {
    fn lr_at(&self, base_lr: f64, step: u64) -> f64 {
        let (w, n) = (self.warmup_steps, self.total_steps);
        if step < w {
            let f = self.start_factor;
            base_lr * (f + (1.0 - f) * step as f64 / w as f64)
        } else if step <= n {
            let progress = (step - w) as f64 / (n - w) as f64;
            self.min_lr
                + (base_lr - self.min_lr) * (1.0 + (std::f64::consts::PI * progress).cos()) / 2.0
        } else {
            self.min_lr
        }
    }
}

/// Drives an [`LrSchedule`]: sets an optimizer's learning rate step by step (PyTorch's
/// `torch.optim.lr_scheduler` objects).
///
/// The base learning rate is the optimizer's rate when the scheduler is built. The
/// scheduler's position (base rate and steps taken) is saved next to the optimizer's state
/// with [`LrScheduler::write_state`] and restored with [`LrScheduler::read_state`], so a
/// resumed run continues the schedule where it stopped.
///
/// ```
/// use ferrograd_optim::{AdamW, AdamWConfig, LrScheduler, Optimizer, WarmupCosineLr};
/// use ferrograd_tensor::{Parameter, Tensor};
///
/// let w = Parameter::new(Tensor::<f32>::from([0.5, -0.5]));
/// let mut opt = AdamW::new([w.clone()], AdamWConfig::new(6e-4))?;
/// // 100 warm-up steps from 0, cosine down to 6e-5 at step 1000.
/// let mut sched = LrScheduler::new(WarmupCosineLr::new(100, 1000)?.min_lr(6e-5)?, &mut opt)?;
/// for _ in 0..100 {
///     let grads = w.tensor().square().sum_all().backward()?;
///     opt.step(&grads)?;
///     sched.step(&mut opt)?;
/// }
/// assert_eq!(opt.lr(), 6e-4); // warm-up done: the base rate
/// # Ok::<(), ferrograd_optim::OptimError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LrScheduler<S: LrSchedule> {
    schedule: S,
    base_lr: f64,
    step: u64,
}

impl<S: LrSchedule> LrScheduler<S> {
    /// Takes the optimizer's learning rate as the base and sets the rate for step 0
    /// (for a warm-up, the start rate), as constructing a PyTorch scheduler does.
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperParameter`] when the schedule gives a negative or
    /// non-finite rate.
    pub fn new<T: Scalar>(
        schedule: S,
        optimizer: &mut (impl Optimizer<T> + ?Sized),
    ) -> Result<Self> {
        let scheduler = Self {
            base_lr: optimizer.lr(),
            schedule,
            step: 0,
        };
        optimizer.set_lr(scheduler.lr())?;
        Ok(scheduler)
    }

    /// A scheduler at the position stored in `dict` by [`LrScheduler::write_state`], for
    /// resuming a run: unlike [`LrScheduler::new`] it leaves the optimizer's learning rate
    /// alone (loading the optimizer's state dict restores it).
    ///
    /// ```
    /// use ferrograd_optim::{ExponentialLr, LrScheduler, Optimizer, Sgd, SgdConfig};
    /// use ferrograd_tensor::{Parameter, Tensor};
    ///
    /// let w = Parameter::new(Tensor::<f32>::from([1.0]));
    /// let mut opt = Sgd::new([w.clone()], SgdConfig::new(1.0))?;
    /// let mut sched = LrScheduler::new(ExponentialLr::new(0.5)?, &mut opt)?;
    /// sched.step(&mut opt)?;
    /// let mut dict = opt.state_dict();
    /// sched.write_state(&mut dict);
    ///
    /// let mut resumed = Sgd::new([w], SgdConfig::default())?;
    /// resumed.load_state_dict(&dict)?;
    /// let mut sched = LrScheduler::from_state(ExponentialLr::new(0.5)?, &dict)?;
    /// sched.step(&mut resumed)?;
    /// assert_eq!(resumed.lr(), 0.25);
    /// # Ok::<(), ferrograd_optim::OptimError>(())
    /// ```
    ///
    /// # Errors
    /// As [`LrScheduler::read_state`].
    pub fn from_state<T: Scalar>(schedule: S, dict: &StateDict<T>) -> Result<Self> {
        let mut scheduler = Self {
            schedule,
            base_lr: 0.0,
            step: 0,
        };
        scheduler.read_state(dict)?;
        Ok(scheduler)
    }

    /// Advances one step and sets the optimizer's learning rate for it.
    ///
    /// # Errors
    /// [`OptimError::InvalidHyperParameter`] when the schedule gives a negative or
    /// non-finite rate.
    pub fn step<T: Scalar>(&mut self, optimizer: &mut (impl Optimizer<T> + ?Sized)) -> Result<()> {
        let lr = self.schedule.lr_at(self.base_lr, self.step + 1);
        optimizer.set_lr(lr)?;
        self.step += 1;
        Ok(())
    }

    /// The learning rate for the current step (PyTorch's `get_last_lr()`).
    pub fn lr(&self) -> f64 {
        self.schedule.lr_at(self.base_lr, self.step)
    }

    /// Steps taken so far.
    pub fn current_step(&self) -> u64 {
        self.step
    }

    /// The base learning rate the schedule scales.
    pub fn base_lr(&self) -> f64 {
        self.base_lr
    }

    /// The schedule driven.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }

    /// Stores the scheduler's position in an optimizer's state dict, as the scalars
    /// `"scheduler.base_lr"` and `"scheduler.step"` (which optimizers ignore), so that one
    /// file holds both.
    pub fn write_state<T: Scalar>(&self, dict: &mut StateDict<T>) {
        dict.scalars
            .insert("scheduler.base_lr".to_owned(), self.base_lr);
        dict.scalars
            .insert("scheduler.step".to_owned(), self.step as f64);
    }

    /// Restores the position stored by [`LrScheduler::write_state`]. The optimizer's
    /// learning rate is not touched: loading its state dict restores it.
    ///
    /// # Errors
    /// [`OptimError::StateDict`] when the scalars are missing or malformed.
    pub fn read_state<T: Scalar>(&mut self, dict: &StateDict<T>) -> Result<()> {
        const OP: &str = "LrScheduler::read_state";
        let get = |name: &str| {
            dict.scalar(name).ok_or_else(|| OptimError::StateDict {
                op: OP,
                reason: format!("missing scalar {name:?}"),
            })
        };
        let base_lr = get("scheduler.base_lr")?;
        let step = get("scheduler.step")?;
        if !(base_lr.is_finite() && base_lr >= 0.0) {
            return Err(OptimError::StateDict {
                op: OP,
                reason: format!("\"scheduler.base_lr\" must be finite and >= 0, found {base_lr}"),
            });
        }
        if !(step >= 0.0 && step.fract() == 0.0 && step <= 9_007_199_254_740_992.0) {
            return Err(OptimError::StateDict {
                op: OP,
                reason: format!("\"scheduler.step\" must be a whole number >= 0, found {step}"),
            });
        }
        self.base_lr = base_lr;
        self.step = step as u64;
        Ok(())
    }
}
