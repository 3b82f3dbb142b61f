//! Comparisons producing masks (tensors of 0 and 1), selection by mask (`where_cond`,
//! `masked_fill`: causal attention masks) and `clamp`.

use super::{map2, map3};
use crate::autograd::BackwardOp;
use crate::error::{Result, TensorError};
use crate::layout::broadcast_shapes;
use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;

fn mask_value<T: Scalar>(b: bool) -> T {
    if b { T::ONE } else { T::ZERO }
}

struct WhereBackward;

impl<T: Scalar> BackwardOp<T> for WhereBackward {
    fn name(&self) -> &'static str {
        "where"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        // The gradient follows the branch each element was taken from.
        let (mask, a, b) = (&inputs[0], &inputs[1], &inputs[2]);
        let shape = grad.shape();
        let pick = |take_true: bool| -> Result<Tensor<T>> {
            let data = map2("where", grad, mask, shape, move |g, m| {
                if (m != T::ZERO) == take_true {
                    g
                } else {
                    T::ZERO
                }
            })?;
            Ok(Tensor::from_vec_unchecked(data, shape))
        };
        Ok(vec![
            None,
            a.requires_grad().then(|| pick(true)).transpose()?,
            b.requires_grad().then(|| pick(false)).transpose()?,
        ])
    }
}

struct ClampBackward<T> {
    min: Option<T>,
    max: Option<T>,
}

impl<T: Scalar> BackwardOp<T> for ClampBackward<T> {
    fn name(&self) -> &'static str {
        "clamp"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        // Gradient 1 inside [min, max] (bounds included, as PyTorch), 0 outside.
        let (lo, hi) = (self.min, self.max);
        let data = map2("clamp", grad, &inputs[0], grad.shape(), move |g, x| {
            let inside = lo.is_none_or(|lo| x >= lo) && hi.is_none_or(|hi| x <= hi);
            if inside { g } else { T::ZERO }
        })?;
        Ok(vec![Some(Tensor::from_vec_unchecked(data, grad.shape()))])
    }
}

/// A comparison that produces a constant mask.
fn compare<T: Scalar>(
    op: &'static str,
    a: &Tensor<T>,
    b: &Tensor<T>,
    f: impl Fn(T, T) -> bool + Sync,
) -> Result<Tensor<T>> {
    let shape = broadcast_shapes(op, a.shape(), b.shape())?;
    let data = map2(op, a, b, &shape, |x, y| mask_value(f(x, y)))?;
    Ok(Tensor::from_vec_unchecked(data, &shape))
}

impl<T: Scalar> Tensor<T> {
    /// Mask of `self == other` (1 where equal, else 0), broadcasting. Not differentiable.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn eq(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        compare("eq", self, other, |a, b| a == b)
    }

    /// Mask of `self != other`, broadcasting.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn ne(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        compare("ne", self, other, |a, b| a != b)
    }

    /// Mask of `self > other`, broadcasting.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn gt(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        compare("gt", self, other, |a, b| a > b)
    }

    /// Mask of `self >= other`, broadcasting.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn ge(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        compare("ge", self, other, |a, b| a >= b)
    }

    /// Mask of `self < other`, broadcasting.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn lt(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        compare("lt", self, other, |a, b| a < b)
    }

    /// Mask of `self <= other`, broadcasting.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn le(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        compare("le", self, other, |a, b| a <= b)
    }

    /// Mask of `self > c` for a scalar.
    pub fn gt_scalar(&self, c: T) -> Tensor<T> {
        let data = super::map1(self, |x| mask_value(x > c));
        Tensor::from_vec_unchecked(data, self.shape())
    }

    /// Mask of `self < c` for a scalar.
    pub fn lt_scalar(&self, c: T) -> Tensor<T> {
        let data = super::map1(self, |x| mask_value(x < c));
        Tensor::from_vec_unchecked(data, self.shape())
    }

    /// Element-wise choice: `on_true` where `mask` is non-zero, else `on_false`, all three
    /// broadcasting together (`torch.where`). Differentiable in both branches.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn where_cond(
        mask: &Tensor<T>,
        on_true: &Tensor<T>,
        on_false: &Tensor<T>,
    ) -> Result<Tensor<T>> {
        let shape = broadcast_shapes("where", mask.shape(), on_true.shape())?;
        let shape = broadcast_shapes("where", &shape, on_false.shape())?;
        let data = map3("where", mask, on_true, on_false, &shape, |m, a, b| {
            if m != T::ZERO { a } else { b }
        })?;
        let mask = mask.detach();
        Ok(Tensor::op_result(
            data,
            &shape,
            &[&mask, on_true, on_false],
            WhereBackward,
        ))
    }

    /// `value` where `mask` is non-zero, else this tensor's element (the mask broadcasts
    /// to this shape). With `value = -inf` above the diagonal this is the causal mask of
    /// self-attention.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let scores = Tensor::<f32>::zeros(&[3, 3]);
    /// let future = Tensor::<f32>::ones(&[3, 3]).triu(1)?;
    /// let masked = scores.masked_fill(&future, f32::NEG_INFINITY)?;
    /// assert_eq!(masked.to_vec()[1], f32::NEG_INFINITY);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the mask does not broadcast to this shape.
    pub fn masked_fill(&self, mask: &Tensor<T>, value: T) -> Result<Tensor<T>> {
        let shape = broadcast_shapes("masked_fill", mask.shape(), self.shape())?;
        if shape != self.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "masked_fill",
                lhs: crate::error::shape_of(self.shape()),
                rhs: crate::error::shape_of(mask.shape()),
            });
        }
        Tensor::where_cond(mask, &Tensor::scalar(value), self)
    }

    /// Limits every element to `[min, max]` (either bound optional). The gradient is 1
    /// inside the bounds (inclusive) and 0 outside, as in PyTorch.
    pub fn clamp(&self, min: Option<T>, max: Option<T>) -> Tensor<T> {
        let data = super::map1(self, |x| {
            let x = match min {
                Some(lo) if x < lo => lo,
                _ => x,
            };
            match max {
                Some(hi) if x > hi => hi,
                _ => x,
            }
        });
        Tensor::op_result(data, self.shape(), &[self], ClampBackward { min, max })
    }

    /// The upper triangle of the last two axes from diagonal `k` up (1 above the main
    /// diagonal), zeros elsewhere (`torch.triu`).
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for a tensor of rank below 2.
    pub fn triu(&self, k: isize) -> Result<Tensor<T>> {
        self.triangle("triu", k, true)
    }

    /// The lower triangle of the last two axes up to diagonal `k` (`torch.tril`).
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for a tensor of rank below 2.
    pub fn tril(&self, k: isize) -> Result<Tensor<T>> {
        self.triangle("tril", k, false)
    }

    fn triangle(&self, op: &'static str, k: isize, upper: bool) -> Result<Tensor<T>> {
        if self.rank() < 2 {
            return Err(TensorError::InvalidArgument {
                op,
                reason: format!(
                    "needs at least 2 axes, got shape {}",
                    crate::error::shape_of(self.shape())
                ),
            });
        }
        let (rows, cols) = (self.shape()[self.rank() - 2], self.shape()[self.rank() - 1]);
        let plane = crate::tensor::checked_len(op, &[rows, cols], size_of::<T>())?;
        let mut keep = crate::storage::try_take_buffer::<T>(op, &[rows, cols], plane)?;
        keep.fill(T::ZERO);
        for i in 0..rows {
            for j in 0..cols {
                let d = j as isize - i as isize;
                if (upper && d >= k) || (!upper && d <= k) {
                    keep[i * cols + j] = T::ONE;
                }
            }
        }
        Tensor::where_cond(
            &Tensor::from_vec_unchecked(keep, &[rows, cols]),
            self,
            &Tensor::scalar(T::ZERO),
        )
    }
}
