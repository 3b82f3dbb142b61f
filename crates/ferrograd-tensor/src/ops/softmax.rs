//! Softmax and log-softmax along an axis: fused, numerically stable kernels (the row
//! maximum is subtracted first, so logits of 1000 do not overflow) with fused backward.

use super::PARALLEL_MIN_ELEMENTS;
use crate::autograd::BackwardOp;
use crate::error::Result;
use crate::layout::normalize_axis;
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::{Scalar, num_threads};
use rayon::prelude::*;

/// Applies `row_fn(input_row, output_row)` to each row of length `n`, on several threads
/// for large inputs.
fn for_rows<T: Scalar>(
    input: &[T],
    out: &mut [T],
    n: usize,
    row_fn: impl Fn(&[T], &mut [T]) + Sync,
) {
    if n == 0 {
        return;
    }
    if num_threads() > 1 && input.len() >= PARALLEL_MIN_ELEMENTS && input.len() / n > 1 {
        out.par_chunks_mut(n)
            .zip(input.par_chunks(n))
            .for_each(|(o, x)| row_fn(x, o));
    } else {
        out.chunks_mut(n)
            .zip(input.chunks(n))
            .for_each(|(o, x)| row_fn(x, o));
    }
}

/// Maximum of a row (NaN if any element is NaN), with eight independent lanes so the
/// loop vectorises.
#[inline(always)]
fn row_max<T: Scalar>(row: &[T]) -> T {
    let mut lanes = [T::NEG_INFINITY; 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = if v > *lane { v } else { *lane };
        }
    }
    let max = lanes
        .iter()
        .chain(tail)
        .fold(T::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    if row.iter().any(|v| v.is_nan()) {
        T::from_f64(f64::NAN)
    } else {
        max
    }
}

/// Sum of a row with eight independent lanes (vectorises; error grows with n/8).
#[inline(always)]
fn row_sum<T: Scalar>(row: &[T]) -> T {
    let mut lanes = [T::ZERO; 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().chain(tail).fold(T::ZERO, |a, &b| a + b)
}

#[inline(always)]
fn softmax_row<T: Scalar>(x: &[T], y: &mut [T]) {
    let max = row_max(x);
    // A row of -inf (fully masked) has no valid maximum: PyTorch returns NaN there too.
    for (y, &x) in y.iter_mut().zip(x) {
        *y = (x - max).exp_fast();
    }
    let inv = T::ONE / row_sum(y);
    y.iter_mut().for_each(|y| *y *= inv);
}

#[inline(always)]
fn log_softmax_row<T: Scalar>(x: &[T], y: &mut [T]) {
    let max = row_max(x);
    // y holds the exponentials first, then the result.
    for (y, &x) in y.iter_mut().zip(x) {
        *y = (x - max).exp_fast();
    }
    let log_norm = max + row_sum(y).ln();
    for (y, &x) in y.iter_mut().zip(x) {
        *y = x - log_norm;
    }
}

/// The row kernels compiled a second time with AVX2 enabled, chosen at run time: the
/// portable build targets SSE2 (4 lanes); AVX2 machines get 8 lanes per instruction.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use ferrograd_linalg::Scalar;

    #[target_feature(enable = "avx2")]
    pub(super) fn softmax_row<T: Scalar>(x: &[T], y: &mut [T]) {
        super::softmax_row(x, y)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn log_softmax_row<T: Scalar>(x: &[T], y: &mut [T]) {
        super::log_softmax_row(x, y)
    }
}

fn softmax_row_best<T: Scalar>(x: &[T], y: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { avx2::softmax_row(x, y) };
    }
    softmax_row(x, y)
}

fn log_softmax_row_best<T: Scalar>(x: &[T], y: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { avx2::log_softmax_row(x, y) };
    }
    log_softmax_row(x, y)
}

struct SoftmaxBackward {
    log: bool,
}

impl<T: Scalar> BackwardOp<T> for SoftmaxBackward {
    fn name(&self) -> &'static str {
        if self.log { "log_softmax" } else { "softmax" }
    }

    fn backward(
        &self,
        _: &[Tensor<T>],
        output: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let shape = output.shape();
        let n = *shape.last().unwrap_or(&1);
        let y = output.contiguous_data();
        let g = grad.contiguous_data();
        let mut gx = storage::take_buffer::<T>(y.len());
        // Rows of (y, g) interleaved through one input slice is awkward; walk indices.
        let log = self.log;
        let rows = |(gx, (y, g)): (&mut [T], (&[T], &[T]))| {
            if log {
                // d log_softmax: gx = g - softmax * Σg
                let total: T = g.iter().copied().sum();
                for ((o, &y), &g) in gx.iter_mut().zip(y).zip(g) {
                    *o = g - y.exp() * total;
                }
            } else {
                // d softmax: gx = y (g - Σ g·y)
                let dot: T = y.iter().zip(g).map(|(&y, &g)| y * g).sum();
                for ((o, &y), &g) in gx.iter_mut().zip(y).zip(g) {
                    *o = y * (g - dot);
                }
            }
        };
        if n > 0 {
            if num_threads() > 1 && y.len() >= PARALLEL_MIN_ELEMENTS {
                gx.par_chunks_mut(n)
                    .zip(y.par_chunks(n).zip(g.par_chunks(n)))
                    .for_each(rows);
            } else {
                gx.chunks_mut(n)
                    .zip(y.chunks(n).zip(g.chunks(n)))
                    .for_each(rows);
            }
        }
        Ok(vec![Some(Tensor::from_vec_unchecked(gx, shape))])
    }
}

impl<T: Scalar> Tensor<T> {
    fn softmax_impl(&self, op: &'static str, axis: isize, log: bool) -> Result<Tensor<T>> {
        let a = normalize_axis(op, axis, self.shape())?;
        let last = self.rank() - 1;
        if a != last {
            // Move the axis last, work on rows, move it back (all views but one copy).
            let moved = self.transpose(a as isize, last as isize)?;
            return moved
                .softmax_impl(op, -1, log)?
                .transpose(a as isize, last as isize);
        }
        let n = self.shape()[a];
        let x = self.contiguous_data();
        let mut y = storage::take_buffer::<T>(x.len());
        if log {
            for_rows(&x, &mut y, n, log_softmax_row_best);
        } else {
            for_rows(&x, &mut y, n, softmax_row_best);
        }
        Ok(Tensor::op_result(
            y,
            self.shape(),
            &[self],
            SoftmaxBackward { log },
        ))
    }

    /// Softmax along `axis`: `exp(x - max) / Σ exp(x - max)`; stable for any finite logits.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let p = Tensor::<f32>::from([1000.0, 1000.0]).softmax(-1)?;
    /// assert_eq!(p.to_vec(), vec![0.5, 0.5]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`crate::TensorError::InvalidAxis`] for an axis out of range.
    pub fn softmax(&self, axis: isize) -> Result<Tensor<T>> {
        self.softmax_impl("softmax", axis, false)
    }

    /// Log-softmax along `axis`: `x - max - ln Σ exp(x - max)`; stable for any finite
    /// logits.
    ///
    /// # Errors
    /// [`crate::TensorError::InvalidAxis`] for an axis out of range.
    pub fn log_softmax(&self, axis: isize) -> Result<Tensor<T>> {
        self.softmax_impl("log_softmax", axis, true)
    }
}
