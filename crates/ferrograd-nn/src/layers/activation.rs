//! Activations as modules. Their function forms are the tensor methods (`x.relu()`,
//! `x.sigmoid()`, `x.tanh()`, `x.gelu()`, `x.gelu_tanh()`, `x.silu()`, `x.softmax(axis)`,
//! `x.log_softmax(axis)`: element-wise and row kernels of the tensor crate, SIMD and
//! threads) and the free functions of [`crate::functional`].

use crate::error::Result;
use crate::module::{Forward, Module};
use ferrograd_tensor::{Scalar, Tensor};

/// `max(x, 0)`, `torch.nn.ReLU`.
///
/// ```
/// use ferrograd_nn::{Forward, Relu};
/// use ferrograd_tensor::Tensor;
/// assert_eq!(Relu.forward(&Tensor::<f32>::from([-1.0, 2.0]))?.to_vec(), vec![0.0, 2.0]);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relu;

/// `1 / (1 + e^-x)`, `torch.nn.Sigmoid`.
///
/// ```
/// use ferrograd_nn::{Forward, Sigmoid};
/// use ferrograd_tensor::Tensor;
/// assert_eq!(Sigmoid.forward(&Tensor::<f32>::from([0.0]))?.to_vec(), vec![0.5]);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sigmoid;

/// `tanh x`, `torch.nn.Tanh`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tanh;

/// Exact GELU `x·Φ(x)` (Φ the standard normal CDF), `torch.nn.GELU()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gelu;

/// GELU's tanh approximation `x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`,
/// `torch.nn.GELU(approximate="tanh")` (GPT-2's activation).
///
/// ```
/// use ferrograd_nn::{Forward, Gelu, GeluTanh};
/// use ferrograd_tensor::Tensor;
/// let x = Tensor::<f64>::from([-1.0, 0.5, 2.0]);
/// let (exact, approx) = (Gelu.forward(&x)?.to_vec(), GeluTanh.forward(&x)?.to_vec());
/// for (e, a) in exact.iter().zip(&approx) {
///     assert!((e - a).abs() < 1e-3);
/// }
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GeluTanh;

/// SiLU (swish) `x·σ(x)`, `torch.nn.SiLU` (the activation of LLaMA-style MLPs).
///
/// ```
/// use ferrograd_nn::{Forward, Silu};
/// use ferrograd_tensor::Tensor;
/// assert_eq!(Silu.forward(&Tensor::<f32>::from([0.0, 100.0]))?.to_vec(), vec![0.0, 100.0]);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Silu;

/// Softmax along an axis, `torch.nn.Softmax(dim)`.
///
/// ```
/// use ferrograd_nn::{Forward, Softmax};
/// use ferrograd_tensor::Tensor;
/// let p = Softmax::new(-1).forward(&Tensor::<f32>::from([[0.0, 0.0], [1000.0, 1000.0]]))?;
/// assert_eq!(p.to_vec(), vec![0.5; 4]);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Softmax {
    /// The axis (negative counts from the end).
    pub axis: isize,
}

impl Softmax {
    /// Softmax along `axis`.
    pub fn new(axis: isize) -> Self {
        Self { axis }
    }
}

/// Log-softmax along an axis, `torch.nn.LogSoftmax(dim)`; pair it with
/// [`crate::NllLoss`] (or use [`crate::CrossEntropyLoss`] on the logits directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSoftmax {
    /// The axis (negative counts from the end).
    pub axis: isize,
}

impl LogSoftmax {
    /// Log-softmax along `axis`.
    pub fn new(axis: isize) -> Self {
        Self { axis }
    }
}

impl<T: Scalar> Module<T> for Relu {}

impl<T: Scalar> Forward<&Tensor<T>> for Relu {
    type Output = Tensor<T>;
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.relu())
    }
}

impl<T: Scalar> Module<T> for Sigmoid {}

impl<T: Scalar> Forward<&Tensor<T>> for Sigmoid {
    type Output = Tensor<T>;
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.sigmoid())
    }
}

impl<T: Scalar> Module<T> for Tanh {}

impl<T: Scalar> Forward<&Tensor<T>> for Tanh {
    type Output = Tensor<T>;
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.tanh())
    }
}

impl<T: Scalar> Module<T> for Gelu {}

impl<T: Scalar> Forward<&Tensor<T>> for Gelu {
    type Output = Tensor<T>;
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.gelu())
    }
}

impl<T: Scalar> Module<T> for GeluTanh {}

impl<T: Scalar> Forward<&Tensor<T>> for GeluTanh {
    type Output = Tensor<T>;
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.gelu_tanh())
    }
}

impl<T: Scalar> Module<T> for Silu {}

impl<T: Scalar> Forward<&Tensor<T>> for Silu {
    type Output = Tensor<T>;
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.silu())
    }
}

impl<T: Scalar> Module<T> for Softmax {}

impl<T: Scalar> Forward<&Tensor<T>> for Softmax {
    type Output = Tensor<T>;
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.softmax(self.axis)?)
    }
}

impl<T: Scalar> Module<T> for LogSoftmax {}

impl<T: Scalar> Forward<&Tensor<T>> for LogSoftmax {
    type Output = Tensor<T>;
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.log_softmax(self.axis)?)
    }
}
