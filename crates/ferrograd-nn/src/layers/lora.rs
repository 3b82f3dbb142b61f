//! LoRA (§5.5 of the book; Hu et al., 2021): a frozen linear layer plus a trainable
//! low-rank update, `y = base(x) + (dropout(x)·Aᵀ·Bᵀ)·alpha/r`, with PEFT's defaults,
//! initialisation, parameter names and merge rule.
//!
//! - [`LoraConfig`]: rank `r`, `alpha`, dropout, the target modules (by name, PEFT's
//!   matching rule), rsLoRA scaling; `LoraConfig::default()` is PEFT's `LoraConfig()`:
//!   r = 8, alpha = 8, no dropout.
//! - [`Lora`]: a base layer ([`Linear`] or [`Conv1d`], see [`LoraBase`]) and an optional
//!   [`LoraAdapter`] (`lora_A` `[r, in]` drawn from Kaiming-uniform with a = √5, i.e.
//!   `U(−1/√in, 1/√in)`, and `lora_B` `[out, r]` zero, so a fresh adapter changes
//!   nothing). Its parameters are named as PEFT saves them: the base keeps its own names
//!   (`c_attn.weight`), the adapter adds `c_attn.lora_A.weight` and `c_attn.lora_B.weight`.
//! - [`Lora::merge`] / [`Lora::unmerge`]: fold `scaling·B·A` into the base weight (for a
//!   [`Conv1d`], whose weight is `[in, out]`, its transpose — PEFT's `fan_in_fan_out`)
//!   and back; a merged layer computes only the base product.
//! - [`LoraHost`] and [`apply_lora`]: attach adapters to every layer of a model whose name
//!   matches the targets, and report which ones.
//!
//! Freezing is real: a frozen base weight is a constant in the graph, so backward computes
//! the input gradient through it but never its weight gradient.
//!
//! ```
//! use ferrograd_nn::{Forward, Linear, Lora, LoraConfig, Module};
//! use ferrograd_tensor::{Rng, Tensor};
//!
//! let mut rng = Rng::new(0);
//! let mut layer = Lora::new(Linear::<f32>::with_bias(1024, 1024, false, &mut rng));
//! layer.base.freeze();
//! layer.attach(&LoraConfig::default(), &mut rng)?; // r = 8, alpha = 8
//! assert_eq!(layer.num_trainable_parameters(), 16_384); // 8·1024 + 1024·8
//! let x = Tensor::ones(&[2, 1024]);
//! // B starts at zero: the adapter changes nothing until it is trained.
//! assert_eq!(layer.forward(&x)?.to_vec(), layer.base.forward(&x)?.to_vec());
//! # Ok::<(), ferrograd_nn::NnError>(())
//! ```

use crate::error::{NnError, Result, shape_of};
use crate::init::{FanMode, Nonlinearity, kaiming_uniform};
use crate::layers::conv1d::Conv1d;
use crate::layers::dropout::Dropout;
use crate::layers::linear::Linear;
use crate::module::{Forward, Module, Visitor};
use ferrograd_tensor::{Parameter, Rng, Scalar, Tensor, no_grad};
use std::sync::atomic::{AtomicBool, Ordering};

/// LoRA settings, PEFT's `LoraConfig` (the subset that changes the computation).
///
/// ```
/// use ferrograd_nn::LoraConfig;
/// let config = LoraConfig::default();
/// assert_eq!((config.r, config.alpha, config.dropout), (8, 8.0, 0.0)); // PEFT's defaults
/// assert_eq!(LoraConfig::new(16, 32.0).targets(&["c_attn"]).scaling(), 2.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LoraConfig {
    /// Rank of the update (PEFT's `r`; default 8).
    pub r: usize,
    /// Scale numerator (PEFT's `lora_alpha`; default 8): the update is multiplied by
    /// `alpha / r` (or `alpha / √r` with [`LoraConfig::use_rslora`]).
    pub alpha: f64,
    /// Dropout probability on the adapter's input (PEFT's `lora_dropout`; default 0).
    pub dropout: f64,
    /// Which layers get an adapter: a layer named `a.b.c_attn` matches the target
    /// `c_attn` (its last name parts equal the target: PEFT's rule for a list of names),
    /// `b.c_attn`, or `a.b.c_attn`. Empty means the model's default
    /// ([`LoraHost::default_lora_targets`]; PEFT uses `c_attn` for GPT-2).
    pub target_modules: Vec<String>,
    /// rsLoRA: scale by `alpha / √r` instead of `alpha / r` (PEFT's `use_rslora`).
    pub use_rslora: bool,
    /// Seed of the adapters' dropout masks.
    pub dropout_seed: u64,
}

impl Default for LoraConfig {
    fn default() -> Self {
        Self {
            r: 8,
            alpha: 8.0,
            dropout: 0.0,
            target_modules: Vec::new(),
            use_rslora: false,
            dropout_seed: 0,
        }
    }
}

impl LoraConfig {
    /// Rank `r` and `alpha`, the rest at PEFT's defaults.
    pub fn new(r: usize, alpha: f64) -> Self {
        Self {
            r,
            alpha,
            ..Self::default()
        }
    }

    /// The same with these target module names.
    pub fn targets(mut self, names: &[&str]) -> Self {
        self.target_modules = names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// The same with this adapter dropout probability.
    pub fn with_dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }

    /// The factor the update is multiplied by: `alpha / r`, or `alpha / √r` for rsLoRA.
    pub fn scaling(&self) -> f64 {
        if self.use_rslora {
            self.alpha / (self.r as f64).sqrt()
        } else {
            self.alpha / self.r as f64
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] for `r = 0`, a non-finite `alpha`, or a dropout
    /// probability outside `[0, 1)`.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| {
            Err(NnError::InvalidArgument {
                op: "LoraConfig",
                reason,
            })
        };
        if self.r == 0 {
            return bad("r must be at least 1".into());
        }
        if !self.alpha.is_finite() {
            return bad(format!("alpha = {} is not finite", self.alpha));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout = {} is not in [0, 1)", self.dropout));
        }
        Ok(())
    }

    /// True when the module named `name` (dotted path) is one of the targets: its
    /// trailing name parts equal a target's (`h.0.attn.c_attn` matches `c_attn` and
    /// `attn.c_attn`, not `attn`).
    pub fn matches(&self, name: &str) -> bool {
        self.target_modules.iter().any(|t| name_matches(name, t))
    }
}

/// PEFT's rule for a list of target names: the module's full name equals the target or
/// ends with `"." + target`.
pub(crate) fn name_matches(name: &str, target: &str) -> bool {
    name == target
        || name
            .strip_suffix(target)
            .is_some_and(|head| head.ends_with('.'))
}

/// A layer LoRA can wrap: a linear map with one weight matrix.
pub trait LoraBase<T: Scalar>:
    Module<T> + for<'a> Forward<&'a Tensor<T>, Output = Tensor<T>>
{
    /// Size of the input's last axis.
    fn in_features(&self) -> usize;
    /// Size of the output's last axis.
    fn out_features(&self) -> usize;
    /// The weight matrix.
    fn weight(&self) -> &Parameter<T>;
    /// True when the weight is stored `[in, out]` (a [`Conv1d`]; PEFT's
    /// `fan_in_fan_out`), false for `[out, in]` (a [`Linear`]).
    fn fan_in_fan_out(&self) -> bool;
}

impl<T: Scalar> LoraBase<T> for Linear<T> {
    fn in_features(&self) -> usize {
        Linear::in_features(self)
    }
    fn out_features(&self) -> usize {
        Linear::out_features(self)
    }
    fn weight(&self) -> &Parameter<T> {
        &self.weight
    }
    fn fan_in_fan_out(&self) -> bool {
        false
    }
}

impl<T: Scalar> LoraBase<T> for Conv1d<T> {
    fn in_features(&self) -> usize {
        Conv1d::in_features(self)
    }
    fn out_features(&self) -> usize {
        Conv1d::out_features(self)
    }
    fn weight(&self) -> &Parameter<T> {
        &self.weight
    }
    fn fan_in_fan_out(&self) -> bool {
        true
    }
}

/// The trainable part of a LoRA layer: `A` `[r, in]`, `B` `[out, r]`, the scaling and the
/// input dropout.
#[derive(Debug)]
pub struct LoraAdapter<T: Scalar = f32> {
    /// `lora_A.weight`, `[r, in_features]`.
    pub lora_a: Parameter<T>,
    /// `lora_B.weight`, `[out_features, r]`.
    pub lora_b: Parameter<T>,
    scaling: f64,
    dropout: Dropout,
}

impl<T: Scalar> LoraAdapter<T> {
    /// An adapter for a `in_features → out_features` layer with PEFT's initialisation:
    /// `A` from Kaiming-uniform with a = √5 (fan-in = `in_features`, bound `1/√in`), `B`
    /// zero.
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] for invalid settings ([`LoraConfig::validate`]).
    pub fn new(
        in_features: usize,
        out_features: usize,
        config: &LoraConfig,
        rng: &mut Rng,
    ) -> Result<Self> {
        config.validate()?;
        let a = if in_features == 0 {
            Tensor::zeros(&[config.r, 0])
        } else {
            kaiming_uniform(
                &[config.r, in_features],
                FanMode::FanIn,
                Nonlinearity::LeakyRelu(5f64.sqrt()),
                rng,
            )?
        };
        Ok(Self {
            lora_a: Parameter::new(a),
            lora_b: Parameter::new(Tensor::zeros(&[out_features, config.r])),
            scaling: config.scaling(),
            dropout: Dropout::new(config.dropout, config.dropout_seed)?,
        })
    }

    /// An adapter holding the given `A` `[r, in]` and `B` `[out, r]` (loaded from a file).
    ///
    /// # Errors
    /// [`NnError::BadInput`] when the shapes do not fit together or the rank differs from
    /// `config.r`.
    pub fn from_tensors(a: Tensor<T>, b: Tensor<T>, config: &LoraConfig) -> Result<Self> {
        config.validate()?;
        if a.rank() != 2 || b.rank() != 2 || a.shape()[0] != config.r || b.shape()[1] != config.r {
            return Err(NnError::BadInput {
                op: "LoraAdapter::from_tensors",
                expected: format!("A [{r}, in] and B [out, {r}]", r = config.r),
                got: shape_of(&[a.shape(), b.shape()].concat()),
            });
        }
        Ok(Self {
            lora_a: Parameter::new(a),
            lora_b: Parameter::new(b),
            scaling: config.scaling(),
            dropout: Dropout::new(config.dropout, config.dropout_seed)?,
        })
    }

    /// The rank `r`.
    pub fn rank(&self) -> usize {
        self.lora_a.shape()[0]
    }

    /// The factor the update is multiplied by.
    pub fn scaling(&self) -> f64 {
        self.scaling
    }

    /// `scaling · B·A`, `[out, in]` (constant: no graph).
    fn delta(&self) -> Result<Tensor<T>> {
        no_grad(|| {
            Ok(self
                .lora_b
                .tensor()
                .matmul(&self.lora_a.tensor())?
                .mul_scalar(T::from_f64(self.scaling)))
        })
    }

    /// The update's output for `x`: `(dropout(x)·Aᵀ·scaling)·Bᵀ`, scaled on the small
    /// `[.., r]` side.
    fn update(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let x = Forward::<&Tensor<T>>::forward(&self.dropout, x)?;
        let low = x
            .matmul(&self.lora_a.tensor().t()?)?
            .mul_scalar(T::from_f64(self.scaling));
        Ok(low.matmul(&self.lora_b.tensor().t()?)?)
    }
}

impl<T: Scalar> Module<T> for LoraAdapter<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.param("lora_A.weight", &self.lora_a);
        v.param("lora_B.weight", &self.lora_b);
        v.module("lora_dropout", &self.dropout);
    }
}

/// A base layer with an optional LoRA adapter: `y = base(x) + (dropout(x)·Aᵀ·Bᵀ)·scaling`.
///
/// Without an adapter (or once merged) it is exactly its base layer. Parameter names are
/// the base's (`weight`, `bias`) plus `lora_A.weight` and `lora_B.weight` — the names PEFT
/// writes in `adapter_model.safetensors` under the layer's path — so a model keeps loading
/// its ordinary checkpoints with adapters attached.
///
/// ```
/// use ferrograd_nn::{Conv1d, Forward, Lora, LoraConfig, Module};
/// use ferrograd_tensor::{Rng, Tensor};
/// let mut rng = Rng::new(1);
/// let mut c_attn = Lora::new(Conv1d::<f64>::new(4, 12, 0.02, &mut rng));
/// c_attn.attach(&LoraConfig::new(2, 4.0), &mut rng)?;
/// c_attn.adapter().unwrap().lora_b.update(|b| b.iter_mut().for_each(|v| *v = 0.1))?;
/// let x = Tensor::<f64>::ones(&[3, 4]);
/// let before = c_attn.forward(&x)?.to_vec();
/// c_attn.merge()?; // W += (scaling·B·A)ᵀ; forward is now one product
/// let merged = c_attn.forward(&x)?.to_vec();
/// assert!(before.iter().zip(&merged).all(|(a, b)| (a - b).abs() < 1e-12));
/// c_attn.unmerge()?;
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug)]
pub struct Lora<L, T: Scalar = f32> {
    /// The wrapped layer (freeze it to train only the adapter).
    pub base: L,
    adapter: Option<LoraAdapter<T>>,
    merged: AtomicBool,
}

impl<T: Scalar, L: LoraBase<T>> Lora<L, T> {
    /// `base` without an adapter (computes exactly what `base` computes).
    pub fn new(base: L) -> Self {
        Self {
            base,
            adapter: None,
            merged: AtomicBool::new(false),
        }
    }

    /// Attaches a fresh adapter with PEFT's initialisation (replacing any adapter).
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] for invalid settings.
    pub fn attach(&mut self, config: &LoraConfig, rng: &mut Rng) -> Result<()> {
        let adapter = LoraAdapter::new(
            self.base.in_features(),
            self.base.out_features(),
            config,
            rng,
        )?;
        self.set_adapter(adapter)
    }

    /// Attaches the given adapter (replacing any adapter).
    ///
    /// # Errors
    /// [`NnError::BadInput`] when its `A` is not `[r, in]` or its `B` not `[out, r]`.
    pub fn set_adapter(&mut self, adapter: LoraAdapter<T>) -> Result<()> {
        let (i, o, r) = (
            self.base.in_features(),
            self.base.out_features(),
            adapter.rank(),
        );
        if adapter.lora_a.shape() != [r, i] || adapter.lora_b.shape() != [o, r] {
            return Err(NnError::BadInput {
                op: "Lora::set_adapter",
                expected: format!("A [{r}, {i}] and B [{o}, {r}]"),
                got: shape_of(&[adapter.lora_a.shape(), adapter.lora_b.shape()].concat()),
            });
        }
        if self.is_merged() {
            self.unmerge()?;
        }
        self.adapter = Some(adapter);
        Ok(())
    }

    /// The adapter, if one is attached.
    pub fn adapter(&self) -> Option<&LoraAdapter<T>> {
        self.adapter.as_ref()
    }

    /// Removes the adapter and returns it; a merged adapter is unmerged first, so the
    /// base layer is left as it was.
    ///
    /// # Errors
    /// As [`Lora::unmerge`].
    pub fn detach(&mut self) -> Result<Option<LoraAdapter<T>>> {
        if self.is_merged() {
            self.unmerge()?;
        }
        Ok(self.adapter.take())
    }

    /// True while the adapter is folded into the base weight.
    pub fn is_merged(&self) -> bool {
        self.merged.load(Ordering::Relaxed)
    }

    /// Adds `scaling·B·A` to the base weight (transposed for an `[in, out]` weight), so
    /// forward costs one product; does nothing without an adapter or when merged already.
    ///
    /// # Errors
    /// A tensor error (never for shapes checked at attach time).
    pub fn merge(&self) -> Result<()> {
        self.fold(true)
    }

    /// Subtracts what [`Lora::merge`] added (the base weight comes back up to rounding);
    /// does nothing unless merged.
    ///
    /// # Errors
    /// As [`Lora::merge`].
    pub fn unmerge(&self) -> Result<()> {
        self.fold(false)
    }

    /// Merges the adapter into the base weight and removes it (PEFT's
    /// `merge_and_unload`), returning the plain base layer.
    ///
    /// # Errors
    /// As [`Lora::merge`].
    pub fn merge_and_unload(mut self) -> Result<L> {
        self.merge_and_remove()?;
        Ok(self.base)
    }

    /// Merges the adapter into the base weight and removes it, keeping the layer (the
    /// in-place form of [`Lora::merge_and_unload`]); returns the adapter.
    ///
    /// # Errors
    /// As [`Lora::merge`].
    pub fn merge_and_remove(&mut self) -> Result<Option<LoraAdapter<T>>> {
        self.merge()?;
        self.merged.store(false, Ordering::Relaxed);
        Ok(self.adapter.take())
    }

    fn fold(&self, merge: bool) -> Result<()> {
        let Some(adapter) = &self.adapter else {
            return Ok(());
        };
        if self.is_merged() == merge {
            return Ok(());
        }
        let delta = adapter.delta()?; // [out, in]
        let delta = if self.base.fan_in_fan_out() {
            delta.t()?.contiguous()
        } else {
            delta
        };
        let d = delta.contiguous_data();
        self.base.weight().update(|w| {
            for (w, &d) in w.iter_mut().zip(d.iter()) {
                if merge {
                    *w += d;
                } else {
                    *w -= d;
                }
            }
        })?;
        self.merged.store(merge, Ordering::Relaxed);
        Ok(())
    }
}

impl<T: Scalar, L: LoraBase<T>> Module<T> for Lora<L, T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        self.base.visit(v);
        if let Some(adapter) = &self.adapter {
            adapter.visit(v);
        }
    }
}

impl<T: Scalar, L: LoraBase<T>> Forward<&Tensor<T>> for Lora<L, T> {
    type Output = Tensor<T>;
    fn forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let y = self.base.forward(x)?;
        match &self.adapter {
            Some(adapter) if !self.is_merged() => Ok(y.add(&adapter.update(x)?)?),
            _ => Ok(y),
        }
    }
}

/// One layer of a model that can take a LoRA adapter, seen through [`LoraHost`].
pub trait LoraSlot<T: Scalar = f32>: std::fmt::Debug {
    /// Input and output sizes.
    fn features(&self) -> (usize, usize);
    /// True for an `[in, out]` weight ([`Conv1d`]).
    fn fan_in_fan_out(&self) -> bool;
    /// Attaches a fresh adapter.
    ///
    /// # Errors
    /// Invalid settings.
    fn attach(&mut self, config: &LoraConfig, rng: &mut Rng) -> Result<()>;
    /// Attaches a given adapter.
    ///
    /// # Errors
    /// Shapes that do not fit the layer.
    fn set_adapter(&mut self, adapter: LoraAdapter<T>) -> Result<()>;
    /// The adapter, if any.
    fn adapter(&self) -> Option<&LoraAdapter<T>>;
    /// Removes the adapter (unmerging it first).
    ///
    /// # Errors
    /// A tensor error while unmerging.
    fn detach(&mut self) -> Result<Option<LoraAdapter<T>>>;
    /// Folds the adapter into the base weight.
    ///
    /// # Errors
    /// A tensor error.
    fn merge(&self) -> Result<()>;
    /// Takes a merged adapter back out of the base weight.
    ///
    /// # Errors
    /// A tensor error.
    fn unmerge(&self) -> Result<()>;
    /// Merges the adapter into the base weight and removes it.
    ///
    /// # Errors
    /// A tensor error.
    fn merge_and_remove(&mut self) -> Result<()>;
}

impl<T: Scalar, L: LoraBase<T>> LoraSlot<T> for Lora<L, T> {
    fn features(&self) -> (usize, usize) {
        (self.base.in_features(), self.base.out_features())
    }
    fn fan_in_fan_out(&self) -> bool {
        self.base.fan_in_fan_out()
    }
    fn attach(&mut self, config: &LoraConfig, rng: &mut Rng) -> Result<()> {
        Lora::attach(self, config, rng)
    }
    fn set_adapter(&mut self, adapter: LoraAdapter<T>) -> Result<()> {
        Lora::set_adapter(self, adapter)
    }
    fn adapter(&self) -> Option<&LoraAdapter<T>> {
        Lora::adapter(self)
    }
    fn detach(&mut self) -> Result<Option<LoraAdapter<T>>> {
        Lora::detach(self)
    }
    fn merge(&self) -> Result<()> {
        Lora::merge(self)
    }
    fn unmerge(&self) -> Result<()> {
        Lora::unmerge(self)
    }
    fn merge_and_remove(&mut self) -> Result<()> {
        Lora::merge_and_remove(self).map(|_| ())
    }
}

/// A model whose linear layers can take LoRA adapters: it lists them with their full
/// module names (the names its parameters carry, without the trailing `.weight`).
pub trait LoraHost<T: Scalar = f32> {
    /// Every layer that can take an adapter, in parameter order, with its dotted name.
    fn lora_slots(&mut self) -> Vec<(String, &mut dyn LoraSlot<T>)>;

    /// The targets used when a config names none (PEFT's per-architecture default;
    /// `["c_attn"]` for GPT-2). The default is none, so such a config is an error.
    fn default_lora_targets(&self) -> Vec<String> {
        Vec::new()
    }

    /// True when the adaptable layers store their weights `[in, out]` ([`Conv1d`], as
    /// GPT-2's): PEFT's `fan_in_fan_out`, written into adapter configs. Default false.
    fn lora_fan_in_fan_out(&self) -> bool {
        false
    }

    /// The scaling of every attached adapter, with its layer's name: what an adapter file
    /// must record (as `lora_alpha`) to load back with the same effect. The default lists
    /// none, and then nothing can be checked.
    fn lora_scalings(&self) -> Vec<(String, f64)> {
        Vec::new()
    }
}

/// Attaches a fresh adapter (PEFT's initialisation, `A` drawn from `rng` in layer order)
/// to every layer of `host` whose name matches `config`'s targets, and returns their
/// names. Does not freeze anything: freeze the model first to train only the adapters
/// (PEFT's `get_peft_model` does both).
///
/// # Errors
/// [`NnError::InvalidArgument`] for invalid settings, or when a target matches no layer
/// (naming the targets and the layers there are; nothing is attached then).
pub fn apply_lora<T: Scalar>(
    host: &mut dyn LoraHost<T>,
    config: &LoraConfig,
    rng: &mut Rng,
) -> Result<Vec<String>> {
    config.validate()?;
    let mut config = config.clone();
    if config.target_modules.is_empty() {
        config.target_modules = host.default_lora_targets();
    }
    if config.target_modules.is_empty() {
        return Err(NnError::InvalidArgument {
            op: "apply_lora",
            reason: "no target modules given and the model has no default".into(),
        });
    }
    let mut slots = host.lora_slots();
    let unmatched: Vec<&String> = config
        .target_modules
        .iter()
        .filter(|t| !slots.iter().any(|(name, _)| name_matches(name, t)))
        .collect();
    if !unmatched.is_empty() {
        let available: Vec<&str> = slots.iter().map(|(n, _)| n.as_str()).collect();
        return Err(NnError::InvalidArgument {
            op: "apply_lora",
            reason: format!(
                "target module(s) {unmatched:?} match no layer of the model; layers that can take an adapter: {}",
                summarize(&available)
            ),
        });
    }
    let mut attached = Vec::new();
    for (i, (name, slot)) in slots.iter_mut().enumerate() {
        if config.matches(name) {
            let mut layer_config = config.clone();
            layer_config.dropout_seed = config.dropout_seed.wrapping_add(i as u64);
            slot.attach(&layer_config, rng)?;
            attached.push(name.clone());
        }
    }
    Ok(attached)
}

/// A long list of names shortened for an error message.
fn summarize(names: &[&str]) -> String {
    if names.len() <= 8 {
        return names.join(", ");
    }
    format!("{}, … ({} in all)", names[..8].join(", "), names.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_as_peft_does() {
        assert!(name_matches("transformer.h.0.attn.c_attn", "c_attn"));
        assert!(name_matches("transformer.h.0.attn.c_attn", "attn.c_attn"));
        assert!(name_matches("c_attn", "c_attn"));
        assert!(!name_matches("transformer.h.0.attn.xc_attn", "c_attn"));
        assert!(!name_matches("transformer.h.0.attn.c_attn", "attn"));
    }
}
