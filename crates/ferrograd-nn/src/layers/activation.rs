//! Activations as modules (the tensor methods `relu`, `sigmoid`, `tanh`, `gelu`,
//! `softmax` are the function forms).

use crate::error::Result;
use crate::module::Module;
use ferrograd_tensor::{Scalar, Tensor};

/// `max(x, 0)`, `torch.nn.ReLU`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Relu;

/// `1 / (1 + e^-x)`, `torch.nn.Sigmoid`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sigmoid;

/// `tanh x`, `torch.nn.Tanh`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tanh;

/// Exact GELU `x Φ(x)`, `torch.nn.GELU()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gelu;

/// Softmax along an axis, `torch.nn.Softmax(dim)`.
#[derive(Debug, Clone, Copy)]
pub struct Softmax {
    /// The axis (negative counts from the end).
    pub axis: isize,
}

impl<T: Scalar> Module<T> for Relu {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.relu())
    }
}

impl<T: Scalar> Module<T> for Sigmoid {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.sigmoid())
    }
}

impl<T: Scalar> Module<T> for Tanh {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.tanh())
    }
}

impl<T: Scalar> Module<T> for Gelu {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.gelu())
    }
}

impl<T: Scalar> Module<T> for Softmax {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.softmax(self.axis)?)
    }
}
