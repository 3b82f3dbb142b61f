//! Softmax, log-softmax and logsumexp along an axis: fused row kernels with their fused
//! backward, on the kernel floor's lane reductions ([`ferrograd_linalg::cpu::lanes`]).
//!
//! Every row is shifted by its maximum first, so logits of 10⁴ (f32) or 10³⁰⁰ (f64) do
//! not overflow, and log-softmax is computed as `(x − max) − ln Σ exp(x − max)`, as
//! PyTorch does: the two large terms cancel before the small one is added, so
//! `log_softmax([1e4, 1e4, 1e4])` is `−ln 3` to the last bit in f32, not `1e4 − (1e4 +
//! ln 3)` rounded at the scale of 10⁴.
//!
//! The NaN rule (the stack's one rule, see [`ferrograd_linalg::cpu::lanes`]): a row
//! holding a NaN or `+inf`, or made only of `−inf` (fully masked), gives a NaN row, as in
//! PyTorch; `−inf` entries of an otherwise finite row give probability 0 (log-probability
//! `−inf`).

use crate::autograd::BackwardOp;
use crate::error::Result;
use crate::layout::normalize_axis;
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::cpu::{lanes, partition, thresholds};
use ferrograd_linalg::{Scalar, simd_kernel};

/// What a row kernel computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Softmax,
    LogSoftmax,
}

simd_kernel! {
    /// Softmax (`LOG = false`) or log-softmax (`LOG = true`) of each row of length `n`.
    fn softmax_rows<T: Scalar, const LOG: bool>(x: &[T], y: &mut [T], n: usize) {
        for (x, y) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)) {
            let max = lanes::max(x);
            if !max.is_finite() {
                // NaN or +inf in the row, or every entry −inf: NaN, as PyTorch.
                y.fill(T::from_f64(f64::NAN));
                continue;
            }
            if LOG {
                let log_total = lanes::sum_exp(x, max).ln();
                for (y, &x) in y.iter_mut().zip(x) {
                    *y = (x - max) - log_total;
                }
            } else {
                let inv = T::ONE / lanes::exp_sum(x, y, max);
                y.iter_mut().for_each(|y| *y *= inv);
            }
        }
    }
}

simd_kernel! {
    /// `ln Σ exp(x)` of each row of length `n` into `out` (one value per row).
    fn logsumexp_rows<T: Scalar>(x: &[T], out: &mut [T], n: usize) {
        for (x, out) in x.chunks_exact(n).zip(out.iter_mut()) {
            let max = lanes::max(x);
            *out = if max.is_finite() {
                max + lanes::sum_exp(x, max).ln()
            } else {
                // NaN stays NaN; a row of −inf sums to 0 (ln → −inf); a +inf gives +inf:
                // PyTorch's values for these rows.
                max
            };
        }
    }
}

simd_kernel! {
    /// Backward for rows of length `n`: of softmax (`LOG = false`, `y` the output,
    /// `gx = y·(g − Σ g·y)`) or of log-softmax (`LOG = true`, `y` the log-probabilities,
    /// `gx = g − exp(y)·Σ g`).
    fn softmax_backward_rows<T: Scalar, const LOG: bool>(y: &[T], g: &[T], gx: &mut [T], n: usize) {
        for (gx, (y, g)) in gx.chunks_exact_mut(n).zip(y.chunks_exact(n).zip(g.chunks_exact(n))) {
            if LOG {
                let total = lanes::sum(g, |v| v);
                for ((o, &y), &g) in gx.iter_mut().zip(y).zip(g) {
                    *o = g - y.exp_fast() * total;
                }
            } else {
                let dot = lanes::dot(y, g);
                for ((o, &y), &g) in gx.iter_mut().zip(y).zip(g) {
                    *o = y * (g - dot);
                }
            }
        }
    }
}

simd_kernel! {
    /// Backward of logsumexp for rows of length `n`: `gx = g_row·softmax(x_row)`.
    ///
    /// For a row with a finite maximum the weights are `exp(x − max) / Σ exp(x − max)`,
    /// not `exp(x − lse)`: `lse` is rounded at its own magnitude, and `x − lse` carries
    /// that rounding into every weight (the error log-softmax had: `[1e4; 3]` in f32 gave
    /// 0.333327 instead of 1/3, and f64 `[1e300, 1e300, −1e300]` gave weights 1, 1, 0
    /// instead of 0.5, 0.5, 0 — as PyTorch's own formula still does). Rows with a NaN,
    /// `+inf` or only `−inf` keep `g·exp(x − lse)`, PyTorch's values for them.
    fn logsumexp_backward_rows<T: Scalar>(x: &[T], lse: &[T], g: &[T], gx: &mut [T], n: usize) {
        for (((gx, x), &l), &g) in gx.chunks_exact_mut(n).zip(x.chunks_exact(n)).zip(lse).zip(g) {
            let max = lanes::max(x);
            if max.is_finite() {
                let scale = g / lanes::exp_sum(x, gx, max);
                gx.iter_mut().for_each(|o| *o *= scale);
            } else {
                for (o, &v) in gx.iter_mut().zip(x) {
                    *o = g * (v - l).exp_fast();
                }
            }
        }
    }
}

/// `kernel(x_rows, y_rows)` over rows of length `n`, in blocks of rows on the pool for
/// large inputs.
fn for_rows<T: Scalar>(x: &[T], y: &mut [T], n: usize, kernel: impl Fn(&[T], &mut [T]) + Sync) {
    if n == 0 {
        return;
    }
    partition::rows_mut(y, n, thresholds::ROWS, |start, y| {
        kernel(&x[start..start + y.len()], y);
    });
}

struct SoftmaxBackward(Kind);

impl<T: Scalar> BackwardOp<T> for SoftmaxBackward {
    fn name(&self) -> &'static str {
        match self.0 {
            Kind::Softmax => "softmax",
            Kind::LogSoftmax => "log_softmax",
        }
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
        let log = self.0 == Kind::LogSoftmax;
        if n > 0 {
            partition::rows_mut(&mut gx, n, thresholds::ROWS, |start, gx| {
                let range = start..start + gx.len();
                if log {
                    softmax_backward_rows::<T, true>(&y[range.clone()], &g[range], gx, n);
                } else {
                    softmax_backward_rows::<T, false>(&y[range.clone()], &g[range], gx, n);
                }
            });
        }
        Ok(vec![Some(Tensor::from_vec_unchecked(gx, shape))])
    }
}

struct LogsumexpBackward;

impl<T: Scalar> BackwardOp<T> for LogsumexpBackward {
    fn name(&self) -> &'static str {
        "logsumexp"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        output: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        // The recorded input has the reduced axis last (a permuted view of the user's).
        let x = inputs[0].contiguous_data();
        let n = *inputs[0].shape().last().unwrap_or(&1);
        let (lse, g) = (output.contiguous_data(), grad.contiguous_data());
        let mut gx = storage::take_buffer::<T>(x.len());
        if n > 0 {
            partition::rows_mut(&mut gx, n, thresholds::ROWS, |start, gx| {
                let rows = start / n..(start + gx.len()) / n;
                let range = start..start + gx.len();
                logsumexp_backward_rows(&x[range], &lse[rows.clone()], &g[rows], gx, n);
            });
        }
        Ok(vec![Some(Tensor::from_vec_unchecked(
            gx,
            inputs[0].shape(),
        ))])
    }
}

impl<T: Scalar> Tensor<T> {
    fn softmax_impl(&self, op: &'static str, axis: isize, kind: Kind) -> Result<Tensor<T>> {
        let a = normalize_axis(op, axis, self.shape())?;
        let last = self.rank() - 1;
        if a != last {
            // Move the axis last, work on rows, move it back (all views but one copy).
            let moved = self.transpose(a as isize, last as isize)?;
            return moved
                .softmax_impl(op, -1, kind)?
                .transpose(a as isize, last as isize);
        }
        let n = self.shape()[a];
        let x = self.contiguous_data();
        let mut y = storage::take_buffer::<T>(x.len());
        match kind {
            Kind::Softmax => for_rows(&x, &mut y, n, |x, y| softmax_rows::<T, false>(x, y, n)),
            Kind::LogSoftmax => for_rows(&x, &mut y, n, |x, y| softmax_rows::<T, true>(x, y, n)),
        }
        Ok(Tensor::op_result(
            y,
            self.shape(),
            &[self],
            SoftmaxBackward(kind),
        ))
    }

    /// Softmax along `axis`: `exp(x - max) / Σ exp(x - max)`; stable for any finite logits.
    /// A row holding NaN or `+inf`, or only `−inf`, gives NaN, as in PyTorch.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let p = Tensor::<f32>::from([1000.0, 1000.0]).softmax(-1)?;
    /// assert_eq!(p.to_vec(), vec![0.5, 0.5]);
    /// let masked = Tensor::<f32>::from([f32::NEG_INFINITY, 0.0]).softmax(-1)?;
    /// assert_eq!(masked.to_vec(), vec![0.0, 1.0]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`crate::TensorError::InvalidAxis`] for an axis out of range.
    pub fn softmax(&self, axis: isize) -> Result<Tensor<T>> {
        self.softmax_impl("softmax", axis, Kind::Softmax)
    }

    /// Log-softmax along `axis`: `(x − max) − ln Σ exp(x − max)`, as PyTorch computes it,
    /// so large logits lose no precision. NaN rows as [`Tensor::softmax`].
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let y = Tensor::<f32>::from([[1e4, 1e4, 1e4]]).log_softmax(-1)?;
    /// assert_eq!(y.to_vec(), vec![-1.0986123; 3]); // −ln 3, not −1.0986328
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`crate::TensorError::InvalidAxis`] for an axis out of range.
    pub fn log_softmax(&self, axis: isize) -> Result<Tensor<T>> {
        self.softmax_impl("log_softmax", axis, Kind::LogSoftmax)
    }

    /// `ln Σ exp(x)` along `axis`, `torch.logsumexp(x, dim, keepdim)`: `max + ln Σ
    /// exp(x − max)`, finite for any finite input; a row of `−inf` gives `−inf`, a `+inf`
    /// gives `+inf` and a NaN gives NaN, as in PyTorch. Its gradient is the softmax.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let x = Tensor::<f64>::from([[1e300, 1e300], [0.0, f64::NEG_INFINITY]]);
    /// let lse = x.logsumexp(-1, false)?.to_vec();
    /// assert_eq!(lse, vec![1e300, 0.0]); // 1e300 + ln 2 rounds to 1e300
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`crate::TensorError::InvalidAxis`] for an axis out of range.
    pub fn logsumexp(&self, axis: isize, keepdim: bool) -> Result<Tensor<T>> {
        let a = normalize_axis("logsumexp", axis, self.shape())?;
        let last = self.rank() - 1;
        // Rows along the reduced axis: move it last, keeping the others in order (a view
        // when it already is last), so the reduced shape is the others' shape.
        let rows = if a == last {
            self.clone()
        } else {
            let perm: Vec<usize> = (0..=last).filter(|&d| d != a).chain([a]).collect();
            self.permute(&perm)?
        };
        let n = rows.shape()[last];
        let out_shape = rows.shape()[..last].to_vec();
        let x = rows.contiguous_data();
        let count = crate::tensor::checked_len("logsumexp", &out_shape, size_of::<T>())?;
        let mut out = storage::try_take_buffer::<T>("logsumexp", &out_shape, count)?;
        if n == 0 {
            out.fill(T::NEG_INFINITY); // the sum of no exponentials is 0
        } else {
            let per = partition::row_blocks(count, n, thresholds::ROWS);
            partition::chunks_of_mut(&mut out, per, |start, out| {
                logsumexp_rows(&x[start * n..(start + out.len()) * n], out, n);
            });
        }
        drop(x);
        let reduced = Tensor::op_result(out, &out_shape, &[&rows], LogsumexpBackward);
        if keepdim {
            reduced.unsqueeze(a as isize)
        } else {
            Ok(reduced)
        }
    }
}
