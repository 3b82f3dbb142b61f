//! Parameter initialisation with PyTorch's conventions (`torch.nn.init`), from a seeded
//! [`Rng`] so that a seed fixes a model's starting point on every machine. (The random
//! streams are ferrograd's own, so the values differ from PyTorch's for the same seed;
//! the distributions are the same.)
//!
//! Fans follow PyTorch: a weight `[out, in, k…]` has `fan_in = in·Πk` and
//! `fan_out = out·Πk`; gains follow `torch.nn.init.calculate_gain`.
//!
//! ```
//! use ferrograd_nn::init::{kaiming_normal, xavier_uniform, FanMode, Nonlinearity};
//! use ferrograd_nn::Linear;
//! use ferrograd_tensor::Rng;
//! let mut rng = Rng::new(0);
//! // Glorot for a tanh layer, He for a ReLU layer, then handed to a Linear.
//! let w = xavier_uniform::<f32>(&[64, 32], 5.0 / 3.0, &mut rng)?;
//! let bound = 5.0 / 3.0 * (6.0f32 / 96.0).sqrt();
//! assert!(w.to_vec().iter().all(|v| v.abs() <= bound));
//! let he = kaiming_normal::<f32>(&[64, 32], FanMode::FanIn, Nonlinearity::Relu, &mut rng)?;
//! let layer = Linear::from_tensors(he, None)?;
//! assert_eq!(layer.in_features(), 32);
//! # Ok::<(), ferrograd_nn::NnError>(())
//! ```

use crate::error::{NnError, Result};
use ferrograd_tensor::{Rng, Scalar, Tensor};

/// Non-linearities for [`calculate_gain`], as `torch.nn.init.calculate_gain` names them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Nonlinearity {
    /// Identity / linear layers and sigmoid: gain 1.
    Linear,
    /// Sigmoid: gain 1.
    Sigmoid,
    /// Tanh: gain 5/3.
    Tanh,
    /// ReLU: gain √2.
    Relu,
    /// Leaky ReLU with the given negative slope: gain √(2 / (1 + slope²)).
    LeakyRelu(f64),
}

/// The recommended gain for a non-linearity (`torch.nn.init.calculate_gain`).
pub fn calculate_gain(nonlinearity: Nonlinearity) -> f64 {
    match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => 2f64.sqrt(),
        Nonlinearity::LeakyRelu(slope) => (2.0 / (1.0 + slope * slope)).sqrt(),
    }
}

/// `(fan_in, fan_out)` of a weight shape, as PyTorch computes them: `[out, in, k…]` has
/// fan_in = in·Πk and fan_out = out·Πk.
///
/// # Errors
/// [`NnError::InvalidArgument`] for shapes of fewer than 2 dimensions.
pub fn fans(shape: &[usize]) -> Result<(usize, usize)> {
    if shape.len() < 2 {
        return Err(NnError::InvalidArgument {
            op: "fans",
            reason: format!("fan in and fan out need at least 2 dimensions, got {shape:?}"),
        });
    }
    let receptive: usize = shape[2..].iter().product();
    Ok((shape[1] * receptive, shape[0] * receptive))
}

/// Which fan Kaiming initialisation scales by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanMode {
    /// Preserve the variance of activations in the forward pass (PyTorch's default).
    FanIn,
    /// Preserve the variance of gradients in the backward pass.
    FanOut,
}

/// Samples `U(low, high)`.
pub fn uniform<T: Scalar>(shape: &[usize], low: f64, high: f64, rng: &mut Rng) -> Tensor<T> {
    Tensor::rand_uniform(shape, T::from_f64(low), T::from_f64(high), rng)
}

/// Samples `N(mean, std²)`.
pub fn normal<T: Scalar>(shape: &[usize], mean: f64, std: f64, rng: &mut Rng) -> Tensor<T> {
    Tensor::randn(shape, T::from_f64(mean), T::from_f64(std), rng)
}

/// Xavier/Glorot uniform: `U(-a, a)` with `a = gain·√(6 / (fan_in + fan_out))`.
///
/// # Errors
/// As [`fans`].
pub fn xavier_uniform<T: Scalar>(shape: &[usize], gain: f64, rng: &mut Rng) -> Result<Tensor<T>> {
    let (fan_in, fan_out) = fans(shape)?;
    let a = gain * (6.0 / (fan_in + fan_out) as f64).sqrt();
    Ok(uniform(shape, -a, a, rng))
}

/// Xavier/Glorot normal: `N(0, std²)` with `std = gain·√(2 / (fan_in + fan_out))`.
///
/// # Errors
/// As [`fans`].
pub fn xavier_normal<T: Scalar>(shape: &[usize], gain: f64, rng: &mut Rng) -> Result<Tensor<T>> {
    let (fan_in, fan_out) = fans(shape)?;
    Ok(normal(
        shape,
        0.0,
        gain * (2.0 / (fan_in + fan_out) as f64).sqrt(),
        rng,
    ))
}

fn kaiming_std(shape: &[usize], mode: FanMode, nonlinearity: Nonlinearity) -> Result<f64> {
    let (fan_in, fan_out) = fans(shape)?;
    let fan = match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    };
    Ok(calculate_gain(nonlinearity) / (fan as f64).sqrt())
}

/// Kaiming/He uniform: `U(-b, b)` with `b = gain·√(3 / fan)`.
///
/// `Linear`'s default weight initialisation is this with `LeakyRelu(√5)` and `FanIn`,
/// which gives `b = 1/√fan_in`.
///
/// # Errors
/// As [`fans`].
pub fn kaiming_uniform<T: Scalar>(
    shape: &[usize],
    mode: FanMode,
    nonlinearity: Nonlinearity,
    rng: &mut Rng,
) -> Result<Tensor<T>> {
    let bound = 3f64.sqrt() * kaiming_std(shape, mode, nonlinearity)?;
    Ok(uniform(shape, -bound, bound, rng))
}

/// Kaiming/He normal: `N(0, std²)` with `std = gain / √fan`.
///
/// # Errors
/// As [`fans`].
pub fn kaiming_normal<T: Scalar>(
    shape: &[usize],
    mode: FanMode,
    nonlinearity: Nonlinearity,
    rng: &mut Rng,
) -> Result<Tensor<T>> {
    Ok(normal(
        shape,
        0.0,
        kaiming_std(shape, mode, nonlinearity)?,
        rng,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gains_and_fans_follow_pytorch() {
        assert_eq!(calculate_gain(Nonlinearity::Tanh), 5.0 / 3.0);
        assert!(
            (calculate_gain(Nonlinearity::LeakyRelu(5f64.sqrt())) - (1.0f64 / 3.0).sqrt()).abs()
                < 1e-15
        );
        assert_eq!(fans(&[8, 3, 2, 2]).unwrap(), (12, 32));
        assert!(fans(&[3]).is_err());
    }

    #[test]
    fn bounds_and_spreads() {
        let mut rng = Rng::new(1);
        let w: Tensor<f64> = kaiming_uniform(
            &[64, 100],
            FanMode::FanIn,
            Nonlinearity::LeakyRelu(5f64.sqrt()),
            &mut rng,
        )
        .unwrap();
        assert!(w.to_vec().iter().all(|v| v.abs() <= 0.1));
        let x: Tensor<f64> = xavier_normal(&[200, 300], 1.0, &mut rng).unwrap();
        let std = x.var(&[], 1, false).unwrap().item().unwrap().sqrt();
        // Expected std = sqrt(2/500) = 0.0632; 60,000 samples give a standard error of ~0.3%.
        assert!((std - 0.063_245_6).abs() < 0.002, "{std}");
    }
}
