//! Softmax and log-softmax along an axis: fused, numerically stable kernels (the row
//! maximum is subtracted first, so logits of 1000 do not overflow) with fused backward.

use super::PARALLEL_MIN_ELEMENTS;
use crate::autograd::BackwardOp;
use crate::error::Result;
use crate::layout::normalize_axis;
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::{Scalar, num_threads, simd_kernel};

/// Softmax (or log-softmax) of every row of length `n` of `input`, on several threads for
/// large inputs.
fn for_rows<T: Scalar>(input: &[T], out: &mut [T], n: usize, log: bool) {
    if n == 0 {
        return;
    }
    if num_threads() > 1 && input.len() >= PARALLEL_MIN_ELEMENTS && input.len() / n > 1 {
        super::par_rows(out, n, |start, o| {
            softmax_rows(&input[start..start + o.len()], o, n, log)
        });
    } else {
        softmax_rows(input, out, n, log);
    }
}

simd_kernel! {
    /// Softmax or log-softmax of each row of length `n`, compiled for the CPU's widest
    /// vectors.
    fn softmax_rows<T: Scalar>(input: &[T], out: &mut [T], n: usize, log: bool) {
        for (o, x) in out.chunks_mut(n).zip(input.chunks(n)) {
            if log {
                log_softmax_row(x, o);
            } else {
                softmax_row(x, o);
            }
        }
    }
}

simd_kernel! {
    /// Backward of softmax (`log = false`, `y` the output) or log-softmax (`y` the
    /// log-probabilities) for rows of length `n`.
    fn softmax_backward_rows<T: Scalar>(y: &[T], g: &[T], gx: &mut [T], n: usize, log: bool) {
        for (gx, (y, g)) in gx.chunks_mut(n).zip(y.chunks(n).zip(g.chunks(n))) {
            if log {
                // d log_softmax: gx = g - softmax · Σg, softmax = exp(log_softmax)
                let total = row_sum(g);
                for ((o, &y), &g) in gx.iter_mut().zip(y).zip(g) {
                    *o = g - y.exp_fast() * total;
                }
            } else {
                // d softmax: gx = y (g - Σ g·y)
                let dot = row_dot(y, g);
                for ((o, &y), &g) in gx.iter_mut().zip(y).zip(g) {
                    *o = y * (g - dot);
                }
            }
        }
    }
}

/// Independent accumulators per row reduction: four AVX-512 registers (eight AVX2 ones)
/// of `f32`, so the loop is not bound by the latency of one max or add chain (32 lanes
/// left the row-maximum pass latency-bound: ~5% slower on `[64, 32000]`).
const LANES: usize = 64;

/// Maximum of a row, ignoring NaN (a NaN still reaches every output through the sum).
#[inline(always)]
fn row_max<T: Scalar>(row: &[T]) -> T {
    let mut lanes = [T::NEG_INFINITY; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = if v > *lane { v } else { *lane };
        }
    }
    lanes
        .iter()
        .chain(tail)
        .fold(T::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

/// Sum of a row with independent lanes (vectorises; error grows with n/LANES).
#[inline(always)]
fn row_sum<T: Scalar>(row: &[T]) -> T {
    let mut lanes = [T::ZERO; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().chain(tail).fold(T::ZERO, |a, &b| a + b)
}

/// `Σ a·b` over a row with independent lanes.
#[inline(always)]
fn row_dot<T: Scalar>(a: &[T], b: &[T]) -> T {
    let mut lanes = [T::ZERO; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail = ca.remainder().iter().zip(cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((lane, &x), &y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += x * y;
        }
    }
    lanes.iter().fold(T::ZERO, |s, &v| s + v) + tail.fold(T::ZERO, |s, (&x, &y)| s + x * y)
}

/// `y = exp(x - max)`, returning `Σ y` (summed in independent lanes, in the same pass).
#[inline(always)]
fn exp_shifted_sum<T: Scalar>(x: &[T], y: &mut [T], max: T) -> T {
    let mut lanes = [T::ZERO; LANES];
    let mut xs = x.chunks_exact(LANES);
    let mut ys = y.chunks_exact_mut(LANES);
    for (x, y) in (&mut xs).zip(&mut ys) {
        for ((lane, y), &x) in lanes.iter_mut().zip(y).zip(x) {
            *y = (x - max).exp_fast();
            *lane += *y;
        }
    }
    let mut total = lanes.iter().fold(T::ZERO, |s, &v| s + v);
    for (y, &x) in ys.into_remainder().iter_mut().zip(xs.remainder()) {
        *y = (x - max).exp_fast();
        total += *y;
    }
    total
}

/// Softmax of one row. A NaN anywhere makes the sum NaN, so the whole row is NaN, as in
/// PyTorch; a row of -inf (fully masked) gives NaN too (-inf - -inf), as in PyTorch.
#[inline(always)]
fn softmax_row<T: Scalar>(x: &[T], y: &mut [T]) {
    let max = row_max(x);
    let inv = T::ONE / exp_shifted_sum(x, y, max);
    y.iter_mut().for_each(|y| *y *= inv);
}

#[inline(always)]
fn log_softmax_row<T: Scalar>(x: &[T], y: &mut [T]) {
    let max = row_max(x);
    // y holds the exponentials first, then the result.
    let log_norm = max + exp_shifted_sum(x, y, max).ln();
    for (y, &x) in y.iter_mut().zip(x) {
        *y = x - log_norm;
    }
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
        if let Some(rows) = y.len().checked_div(n) {
            if num_threads() > 1 && y.len() >= PARALLEL_MIN_ELEMENTS && rows > 1 {
                super::par_rows(&mut gx, n, |start, gx| {
                    let range = start..start + gx.len();
                    softmax_backward_rows(&y[range.clone()], &g[range], gx, n, log)
                });
            } else {
                softmax_backward_rows(&y, &g, &mut gx, n, log);
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
            for_rows(&x, &mut y, n, true);
        } else {
            for_rows(&x, &mut y, n, false);
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
