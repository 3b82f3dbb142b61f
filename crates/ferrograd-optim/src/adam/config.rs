//! The hyper-parameters of Adam and AdamW: two public configurations, with PyTorch's
//! names and defaults, of the one set ([`Hyper`]) the implementation reads.

use crate::error::{Result, check, check_lr};

/// Hyper-parameters of [`Adam`](super::Adam), with PyTorch's names and defaults.
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

/// Hyper-parameters of [`AdamW`](super::AdamW), with PyTorch's names and defaults: as [`AdamConfig`],
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

/// The hyper-parameters both configurations share: what the one implementation reads.
/// The two public configs differ only in their default weight decay and in what the
/// decay means (see [`super::Variant`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Hyper {
    pub(super) lr: f64,
    pub(super) beta1: f64,
    pub(super) beta2: f64,
    pub(super) eps: f64,
    pub(super) weight_decay: f64,
    pub(super) amsgrad: bool,
    pub(super) maximize: bool,
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
    /// Checks the ranges PyTorch checks, naming `op`.
    pub(super) fn validate(&self, op: &'static str) -> Result<()> {
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

impl From<Hyper> for AdamConfig {
    fn from(h: Hyper) -> Self {
        Self {
            lr: h.lr,
            betas: (h.beta1, h.beta2),
            eps: h.eps,
            weight_decay: h.weight_decay,
            amsgrad: h.amsgrad,
            maximize: h.maximize,
        }
    }
}

impl From<Hyper> for AdamWConfig {
    fn from(h: Hyper) -> Self {
        Self {
            lr: h.lr,
            betas: (h.beta1, h.beta2),
            eps: h.eps,
            weight_decay: h.weight_decay,
            amsgrad: h.amsgrad,
            maximize: h.maximize,
        }
    }
}
