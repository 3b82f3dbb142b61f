//! Reductions over all or some axes: sum, mean, max, min, variance, argmax; and
//! `sum_to_shape`, which autograd uses to undo broadcasting.

use crate::autograd::{BackwardOp, no_grad};
use crate::error::{Result, TensorError, shape_of};
use crate::ids::IdTensor;
use crate::layout::{contiguous_strides, for_each_run, normalize_axes, normalize_axis};
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::cpu::{lanes, partition, thresholds};
use ferrograd_linalg::{Scalar, simd_kernel};

/// Elements per block of a contiguous sum: each block is summed in lanes, and the block
/// sums are added in order, so rounding error grows with the number of blocks, not of
/// elements.
const SUM_BLOCK: usize = 4096;

/// Sum of a strided run. A contiguous run is summed in blocks of [`SUM_BLOCK`] by the
/// kernel floor's lane sum at the CPU's widest vectors; above the element-wise threshold
/// the block sums are computed on the worker pool and then added in block order, so the
/// result has the same bits at any thread count.
#[inline]
fn sum_run<T: Scalar>(data: &[T], start: usize, len: usize, stride: usize) -> T {
    if stride != 1 {
        return (0..len)
            .map(|i| data[start + i * stride])
            .fold(T::ZERO, |a, b| a + b);
    }
    let run = &data[start..start + len];
    match partition::piece_len(len, thresholds::ELEMENTWISE) {
        None => block_sums_in_order(run),
        Some(piece) => {
            let mut sums = vec![T::ZERO; len.div_ceil(SUM_BLOCK)];
            let blocks_per_piece = piece.div_ceil(SUM_BLOCK);
            partition::chunks_of_mut(&mut sums, blocks_per_piece, |first, out| {
                let from = first * SUM_BLOCK;
                let to = ((first + out.len()) * SUM_BLOCK).min(len);
                block_sums(&run[from..to], out);
            });
            sums.iter().fold(T::ZERO, |total, &b| total + b)
        }
    }
}

simd_kernel! {
    /// `Σ` of `x`, block by block of [`SUM_BLOCK`], the block sums added in order.
    fn block_sums_in_order<T: Scalar>(x: &[T]) -> T {
        x.chunks(SUM_BLOCK)
            .fold(T::ZERO, |total, block| total + lanes::sum(block, |v| v))
    }
}

simd_kernel! {
    /// The sum of each block of [`SUM_BLOCK`] elements of `x`, into `out` (one per block).
    fn block_sums<T: Scalar>(x: &[T], out: &mut [T]) {
        for (o, block) in out.iter_mut().zip(x.chunks(SUM_BLOCK)) {
            *o = lanes::sum(block, |v| v);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fold {
    Sum,
    Max,
    Min,
}

impl Fold {
    fn init<T: Scalar>(self) -> T {
        match self {
            Fold::Sum => T::ZERO,
            Fold::Max => T::NEG_INFINITY,
            Fold::Min => T::INFINITY,
        }
    }

    /// Combines an accumulator with a value; NaN wins for max/min (the NaN rule of
    /// `ferrograd_linalg::cpu::lanes`, as in PyTorch).
    #[inline]
    fn combine<T: Scalar>(self, acc: T, v: T) -> T {
        match self {
            Fold::Sum => acc + v,
            Fold::Max => lanes::nan_max(acc, v),
            Fold::Min => {
                if v < acc || v.is_nan() {
                    v
                } else {
                    acc
                }
            }
        }
    }
}

/// The shape with reduced axes kept as size 1.
fn keepdim_shape(shape: &[usize], reduced: &[bool]) -> Vec<usize> {
    shape
        .iter()
        .zip(reduced)
        .map(|(&d, &r)| if r { 1 } else { d })
        .collect()
}

fn squeezed_shape(shape: &[usize], reduced: &[bool]) -> Vec<usize> {
    shape
        .iter()
        .zip(reduced)
        .filter(|(_, r)| !**r)
        .map(|(&d, _)| d)
        .collect()
}

/// Folds `x` over the reduced axes; the result has the keepdim shape.
/// [`TensorError::TooLarge`] naming `op` when the result cannot be counted or allocated
/// (an empty `[2^64 − 1, 0]` summed over its last axis has 2^64 − 1 elements).
fn fold_axes<T: Scalar>(
    op: &'static str,
    x: &Tensor<T>,
    reduced: &[bool],
    fold: Fold,
) -> Result<Vec<T>> {
    let kept = keepdim_shape(x.shape(), reduced);
    let n_out = crate::tensor::checked_len(op, &kept, size_of::<T>())?;
    let mut out = storage::try_take_buffer::<T>(op, &kept, n_out)?;
    out.fill(fold.init());
    // Output strides, zero along reduced axes: every input element maps to its slot.
    let mut out_strides = contiguous_strides(&kept);
    for (s, &r) in out_strides.iter_mut().zip(reduced) {
        if r {
            *s = 0;
        }
    }
    let layout = x.layout();
    let data = x.storage_data();
    for_each_run(
        layout.shape(),
        [&out_strides, layout.strides()],
        [0, layout.offset()],
        |len, [o, s], [os, ss]| match (os, fold) {
            (0, Fold::Sum) => out[o] += sum_run(data, s, len, ss),
            (0, _) => {
                let mut acc = out[o];
                for i in 0..len {
                    acc = fold.combine(acc, data[s + i * ss]);
                }
                out[o] = acc;
            }
            // Summing whole rows into an output row (a bias gradient): one add per
            // element, at the CPU's widest vectors.
            (1, Fold::Sum) if ss == 1 => {
                super::binary::add_assign(&mut out[o..o + len], &data[s..s + len]);
            }
            _ => {
                for i in 0..len {
                    let slot = &mut out[o + i * os];
                    *slot = fold.combine(*slot, data[s + i * ss]);
                }
            }
        },
    );
    Ok(out)
}

struct SumBackward {
    kept_shape: Vec<usize>,
}

impl<T: Scalar> BackwardOp<T> for SumBackward {
    fn name(&self) -> &'static str {
        "sum"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _output: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        // Every input element contributed once: its gradient is the output's, broadcast.
        let g = grad
            .reshape(&self.kept_shape)?
            .broadcast_to(inputs[0].shape())?;
        Ok(vec![Some(g)])
    }
}

struct ExtremumBackward {
    kept_shape: Vec<usize>,
}

impl<T: Scalar> BackwardOp<T> for ExtremumBackward {
    fn name(&self) -> &'static str {
        "max/min"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        output: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        // The gradient goes to the elements equal to the extremum, split evenly among
        // ties (PyTorch's amax/amin).
        let x = &inputs[0];
        let y = output.reshape(&self.kept_shape)?;
        let mask = x.eq(&y)?;
        let reduced: Vec<isize> = self
            .kept_shape
            .iter()
            .zip(x.shape())
            .enumerate()
            .filter(|(_, (k, _))| **k == 1)
            .map(|(i, _)| i as isize)
            .collect();
        let count = mask.sum(&reduced, true)?;
        let g = grad.reshape(&self.kept_shape)?.div(&count)?;
        Ok(vec![Some(mask.mul(&g)?)])
    }
}

impl<T: Scalar> Tensor<T> {
    fn fold(
        &self,
        op: &'static str,
        axes: &[isize],
        keepdim: bool,
        fold: Fold,
    ) -> Result<Tensor<T>> {
        let reduced = normalize_axes(op, axes, self.shape())?;
        let kept = keepdim_shape(self.shape(), &reduced);
        // As PyTorch's amax/amin: an error only when a reduced axis is empty (there is no
        // extremum of nothing); an empty kept axis just gives an empty result.
        let empty_reduced = self
            .shape()
            .iter()
            .zip(&reduced)
            .any(|(&size, &r)| r && size == 0);
        if fold != Fold::Sum && empty_reduced {
            return Err(TensorError::InvalidArgument {
                op,
                reason: format!(
                    "cannot reduce an empty axis of a tensor of shape {}",
                    shape_of(self.shape())
                ),
            });
        }
        let data = fold_axes(op, self, &reduced, fold)?;
        let shape = if keepdim {
            kept.clone()
        } else {
            squeezed_shape(self.shape(), &reduced)
        };
        Ok(match fold {
            Fold::Sum => Tensor::op_result(data, &shape, &[self], SumBackward { kept_shape: kept }),
            _ => Tensor::op_result(data, &shape, &[self], ExtremumBackward { kept_shape: kept }),
        })
    }

    /// Sum over `axes` (all axes when empty); `keepdim` keeps them as size 1.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let x = Tensor::<f32>::from([[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.sum(&[0], false)?.to_vec(), vec![4.0, 6.0]);
    /// assert_eq!(x.sum(&[-1], true)?.shape(), &[2, 1]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range.
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Tensor<T>> {
        self.fold("sum", axes, keepdim, Fold::Sum)
    }

    /// Sum of all elements, as a rank-0 tensor.
    pub fn sum_all(&self) -> Tensor<T> {
        self.fold("sum", &[], false, Fold::Sum)
            .expect("reducing all axes cannot fail")
    }

    /// Mean over `axes` (all axes when empty).
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range.
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Tensor<T>> {
        let reduced = normalize_axes("mean", axes, self.shape())?;
        let count: usize = self
            .shape()
            .iter()
            .zip(&reduced)
            .filter(|(_, r)| **r)
            .map(|(d, _)| d)
            .product();
        Ok(self.sum(axes, keepdim)?.div_scalar(T::from_usize(count)))
    }

    /// Mean of all elements, as a rank-0 tensor (NaN for an empty tensor, as PyTorch).
    pub fn mean_all(&self) -> Tensor<T> {
        self.sum_all().div_scalar(T::from_usize(self.numel()))
    }

    /// Maximum over `axes` (all when empty). NaN propagates; the gradient is split
    /// evenly among tied maxima.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range,
    /// [`TensorError::InvalidArgument`] when a reduced axis is empty.
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Result<Tensor<T>> {
        self.fold("max", axes, keepdim, Fold::Max)
    }

    /// Minimum over `axes` (all when empty); see [`Tensor::max`].
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range,
    /// [`TensorError::InvalidArgument`] when a reduced axis is empty.
    pub fn min(&self, axes: &[isize], keepdim: bool) -> Result<Tensor<T>> {
        self.fold("min", axes, keepdim, Fold::Min)
    }

    /// Variance over `axes` with Bessel's `correction` (1 is PyTorch's default, the
    /// unbiased estimate; 0 is the population variance).
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range.
    pub fn var(&self, axes: &[isize], correction: usize, keepdim: bool) -> Result<Tensor<T>> {
        let reduced = normalize_axes("var", axes, self.shape())?;
        let count: usize = self
            .shape()
            .iter()
            .zip(&reduced)
            .filter(|(_, r)| **r)
            .map(|(d, _)| d)
            .product();
        let mean = self.mean(axes, true)?;
        let centered = self.sub(&mean)?;
        let divisor = T::from_usize(count.saturating_sub(correction));
        Ok(centered.square().sum(axes, keepdim)?.div_scalar(divisor))
    }

    /// Index of the largest element along `axis` (the first one on ties, as PyTorch).
    /// Not differentiable.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range,
    /// [`TensorError::InvalidArgument`] when the axis is empty.
    pub fn argmax(&self, axis: isize, keepdim: bool) -> Result<IdTensor> {
        self.arg_extremum("argmax", axis, keepdim, |v, best| v > best)
    }

    /// Index of the smallest element along `axis` (the first one on ties).
    ///
    /// # Errors
    /// As [`Tensor::argmax`].
    pub fn argmin(&self, axis: isize, keepdim: bool) -> Result<IdTensor> {
        self.arg_extremum("argmin", axis, keepdim, |v, best| v < best)
    }

    fn arg_extremum(
        &self,
        op: &'static str,
        axis: isize,
        keepdim: bool,
        better: impl Fn(T, T) -> bool,
    ) -> Result<IdTensor> {
        let a = normalize_axis(op, axis, self.shape())?;
        let size = self.shape()[a];
        if size == 0 {
            return Err(TensorError::InvalidArgument {
                op,
                reason: format!("axis {a} of shape {} is empty", shape_of(self.shape())),
            });
        }
        // Move the axis last so each reduction is one contiguous row.
        let mut perm: Vec<usize> = (0..self.rank()).filter(|&d| d != a).collect();
        perm.push(a);
        let moved = no_grad(|| self.permute(&perm).map(|t| t.contiguous()))?;
        let data = moved.contiguous_data();
        let result: Vec<i64> = data
            .chunks(size)
            .map(|row| {
                let mut best = 0;
                for (i, &v) in row.iter().enumerate() {
                    if v.is_nan() {
                        return i as i64; // NaN is the extremum, as in PyTorch
                    }
                    if better(v, row[best]) {
                        best = i;
                    }
                }
                best as i64
            })
            .collect();
        let mut shape = self.shape().to_vec();
        if keepdim {
            shape[a] = 1;
        } else {
            shape.remove(a);
        }
        IdTensor::new(result, &shape)
    }

    /// Sums this tensor down to `shape`, the inverse of broadcasting `shape` up to this
    /// tensor's shape: leading axes are summed away, axes where `shape` has 1 are summed
    /// with keepdim.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when `shape` does not broadcast to this shape.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor<T>> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let mismatch = || TensorError::ShapeMismatch {
            op: "sum_to_shape",
            lhs: shape_of(self.shape()),
            rhs: shape_of(shape),
        };
        if shape.len() > self.rank() {
            return Err(mismatch());
        }
        let lead = self.rank() - shape.len();
        let mut axes = Vec::new();
        for (i, &d) in self.shape().iter().enumerate() {
            if i < lead || (shape[i - lead] == 1 && d != 1) {
                axes.push(i as isize);
            } else if shape[i - lead] != d {
                return Err(mismatch());
            }
        }
        if axes.is_empty() {
            return self.reshape(shape);
        }
        self.sum(&axes, true)?.reshape(shape)
    }
}
