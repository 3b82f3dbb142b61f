//! Element-wise functions of two tensors, with NumPy/PyTorch broadcasting. Each op's
//! backward returns gradients in the broadcast shape; the autograd engine sums them back
//! to each input's shape.

use super::{map2, map3};
use crate::autograd::BackwardOp;
use crate::error::Result;
use crate::layout::broadcast_shapes;
use crate::tensor::Tensor;
use ferrograd_linalg::cpu::{partition, thresholds};
use ferrograd_linalg::{Scalar, simd_kernel};

simd_kernel! {
    /// `dst[i] += src[i]`: gradient accumulation, compiled for the CPU's widest vectors.
    pub(crate) fn add_assign<T: Scalar>(dst: &mut [T], src: &[T]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d += s;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
    Pow,
}

impl Binary {
    fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
            Binary::Maximum => "maximum",
            Binary::Minimum => "minimum",
            Binary::Pow => "pow",
        }
    }

    #[inline]
    fn forward<T: Scalar>(self, a: T, b: T) -> T {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
            // NaN propagates, as torch.maximum.
            Binary::Maximum => {
                if a.is_nan() || a > b {
                    a
                } else {
                    b
                }
            }
            Binary::Minimum => {
                if a.is_nan() || a < b {
                    a
                } else {
                    b
                }
            }
            Binary::Pow => a.powf(b),
        }
    }
}

struct BinaryBackward(Binary);

/// The gradient of `a` in maximum/minimum, PyTorch's formula
/// `where(a == b, g / 2, g).masked_fill(a_loses, 0)`: half on ties, nothing where `a`
/// strictly loses, the whole of `g` otherwise — also where either side is NaN (no
/// comparison with NaN holds, so neither side loses and both get `g`).
#[inline]
fn winner_grad<T: Scalar>(g: T, a: T, b: T, a_loses: bool) -> T {
    if a_loses {
        T::ZERO
    } else if a == b {
        g / T::from_f64(2.0)
    } else {
        g
    }
}

impl<T: Scalar> BackwardOp<T> for BinaryBackward {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        output: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let (a, b) = (&inputs[0], &inputs[1]);
        let shape = grad.shape();
        let op = self.0.name();
        let build = |data: Result<Vec<T>>| -> Result<Option<Tensor<T>>> {
            Ok(Some(Tensor::from_vec_unchecked(data?, shape)))
        };
        let (need_a, need_b) = (a.requires_grad(), b.requires_grad());
        let (ga, gb) = match self.0 {
            Binary::Add => (
                Ok(need_a.then(|| grad.clone())),
                Ok(need_b.then(|| grad.clone())),
            ),
            Binary::Sub => (
                Ok(need_a.then(|| grad.clone())),
                Ok(need_b.then(|| grad.neg())),
            ),
            Binary::Mul => (
                if need_a {
                    build(map2(op, grad, b, shape, |g, b| g * b))
                } else {
                    Ok(None)
                },
                if need_b {
                    build(map2(op, grad, a, shape, |g, a| g * a))
                } else {
                    Ok(None)
                },
            ),
            Binary::Div => (
                if need_a {
                    build(map2(op, grad, b, shape, |g, b| g / b))
                } else {
                    Ok(None)
                },
                // d(a/b)/db = -a/b², as PyTorch computes it: -g · ((a/b)/b). The old
                // (-g · out)/b differed in the last bit for a third of the values and
                // overflowed where g · out does but g · (out/b) does not.
                if need_b {
                    build(map3(op, grad, a, b, shape, |g, a, b| -g * ((a / b) / b)))
                } else {
                    Ok(None)
                },
            ),
            Binary::Maximum | Binary::Minimum => {
                let is_max = self.0 == Binary::Maximum;
                // `x` strictly loses to `y`: x < y for maximum, x > y for minimum.
                let loses = move |x: T, y: T| if is_max { x < y } else { x > y };
                (
                    if need_a {
                        build(map3(op, grad, a, b, shape, |g, a, b| {
                            winner_grad(g, a, b, loses(a, b))
                        }))
                    } else {
                        Ok(None)
                    },
                    if need_b {
                        build(map3(op, grad, b, a, shape, |g, b, a| {
                            winner_grad(g, b, a, loses(b, a))
                        }))
                    } else {
                        Ok(None)
                    },
                )
            }
            Binary::Pow => (
                // d(a^b)/da = b a^(b-1)
                if need_a {
                    build(map3(op, grad, a, b, shape, |g, a, b| {
                        if b == T::ZERO {
                            T::ZERO
                        } else {
                            g * b * a.powf(b - T::ONE)
                        }
                    }))
                } else {
                    Ok(None)
                },
                // d(a^b)/db = a^b ln a, taken as 0 where a == 0 and b >= 0 (PyTorch).
                if need_b {
                    let gy = Tensor::from_vec_unchecked(
                        map2(op, grad, output, shape, |g, y| g * y)?,
                        shape,
                    );
                    build(map3(op, &gy, a, b, shape, |gy, a, b| {
                        if a == T::ZERO && b >= T::ZERO {
                            T::ZERO
                        } else {
                            gy * a.ln()
                        }
                    }))
                } else {
                    Ok(None)
                },
            ),
        };
        Ok(vec![ga?, gb?])
    }
}

impl<T: Scalar> Tensor<T> {
    pub(crate) fn binary(&self, other: &Tensor<T>, op: Binary) -> Result<Tensor<T>> {
        let shape = if self.shape() == other.shape() {
            self.shape().to_vec()
        } else {
            broadcast_shapes(op.name(), self.shape(), other.shape())?
        };
        // One loop per op, so each one's body is known to the compiler and vectorises.
        let data = match op {
            Binary::Add => map2(op.name(), self, other, &shape, |a, b| a + b),
            Binary::Sub => map2(op.name(), self, other, &shape, |a, b| a - b),
            Binary::Mul => map2(op.name(), self, other, &shape, |a, b| a * b),
            Binary::Div => map2(op.name(), self, other, &shape, |a, b| a / b),
            Binary::Maximum => map2(op.name(), self, other, &shape, |a, b| {
                Binary::Maximum.forward(a, b)
            }),
            Binary::Minimum => map2(op.name(), self, other, &shape, |a, b| {
                Binary::Minimum.forward(a, b)
            }),
            Binary::Pow => map2(op.name(), self, other, &shape, |a, b| a.powf(b)),
        }?;
        Ok(Tensor::op_result(
            data,
            &shape,
            &[self, other],
            BinaryBackward(op),
        ))
    }

    /// `self + other`, broadcasting.
    ///
    /// # Errors
    /// [`crate::TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn add(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(other, Binary::Add)
    }

    /// `self - other`, broadcasting.
    ///
    /// # Errors
    /// [`crate::TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn sub(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(other, Binary::Sub)
    }

    /// `self * other` element-wise (Hadamard product), broadcasting.
    ///
    /// # Errors
    /// [`crate::TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn mul(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(other, Binary::Mul)
    }

    /// `self / other` element-wise, broadcasting (IEEE semantics for zero divisors).
    ///
    /// # Errors
    /// [`crate::TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn div(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(other, Binary::Div)
    }

    /// Element-wise maximum, broadcasting; NaN propagates; ties split the gradient.
    ///
    /// # Errors
    /// [`crate::TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn maximum(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(other, Binary::Maximum)
    }

    /// Element-wise minimum, broadcasting; NaN propagates; ties split the gradient.
    ///
    /// # Errors
    /// [`crate::TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn minimum(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(other, Binary::Minimum)
    }

    /// `self ^ other` element-wise, broadcasting.
    ///
    /// # Errors
    /// [`crate::TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn pow(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(other, Binary::Pow)
    }

    /// `self + other` for gradient accumulation: reuses `self`'s buffer when nothing else
    /// holds it. Not recorded in any graph.
    pub(crate) fn add_into(self, other: Tensor<T>) -> Result<Tensor<T>> {
        if self.shape() != other.shape() {
            return crate::autograd::no_grad(|| self.add(&other));
        }
        let mut this = self;
        if let Some(data) = this.unique_data_mut() {
            let owned;
            let src = match other.as_slice() {
                Some(src) => src,
                None => {
                    owned = other.to_vec();
                    &owned
                }
            };
            partition::chunks_mut(data, thresholds::ELEMENTWISE, |start, d| {
                add_assign(d, &src[start..start + d.len()])
            });
            return Ok(this.detach());
        }
        crate::autograd::no_grad(|| this.add(&other))
    }
}
