//! RMS normalisation, `torch.nn.functional.rms_norm`: a fused op (one pass forward keeping
//! one number per row, one pass backward) with its kernels.

use super::layer_norm::{check_normalized, optional_grad};
use crate::autograd::BackwardOp;
use crate::error::Result;
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::cpu::{lanes, partition, thresholds};
use ferrograd_linalg::{Scalar, simd_kernel};

simd_kernel! {
    /// Forward over rows of length `n`: `y = x·r·w` with `r = 1/√(mean(x²) + eps)` stored
    /// in `rstd[i]`.
    fn forward_rows<T: Scalar>(
        x: &[T],
        n: usize,
        weight: Option<&[T]>,
        eps: T,
        y: &mut [T],
        rstd: &mut [T],
    ) {
        let count = T::from_usize(n);
        for (i, (row, out)) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)).enumerate() {
            let r = T::ONE / (lanes::sum(row, |v| v * v) / count + eps).sqrt();
            rstd[i] = r;
            match weight {
                Some(w) => {
                    for ((o, &v), &w) in out.iter_mut().zip(row).zip(w) {
                        *o = v * r * w;
                    }
                }
                None => {
                    for (o, &v) in out.iter_mut().zip(row) {
                        *o = v * r;
                    }
                }
            }
        }
    }
}

simd_kernel! {
    /// Backward. With `x̂ = x·r` and `h = g·w`: `gx = r·(h − x̂·mean(h·x̂))`, `gw += g·x̂`
    /// (summed over rows; an empty `gw` is skipped).
    fn backward_rows<T: Scalar>(
        x: &[T],
        g: &[T],
        n: usize,
        weight: Option<&[T]>,
        rstd: &[T],
        gx: &mut [T],
        gw: &mut [T],
    ) {
        let count = T::from_usize(n);
        let mut h = vec![T::ZERO; n];
        for (i, ((row, grow), out)) in x
            .chunks_exact(n)
            .zip(g.chunks_exact(n))
            .zip(gx.chunks_exact_mut(n))
            .enumerate()
        {
            let r = rstd[i];
            match weight {
                Some(w) => {
                    for ((h, &g), &w) in h.iter_mut().zip(grow).zip(w) {
                        *h = g * w;
                    }
                }
                None => h.copy_from_slice(grow),
            }
            // mean(h·x̂) = r·mean(h·x).
            let mean_hx = r * lanes::dot(&h, row) / count;
            for ((o, &h), &v) in out.iter_mut().zip(&h).zip(row) {
                *o = r * (h - v * r * mean_hx);
            }
            if !gw.is_empty() {
                for ((acc, &g), &v) in gw.iter_mut().zip(grow).zip(row) {
                    *acc += g * v * r;
                }
            }
        }
    }
}

struct RmsNormBackward<T: Scalar> {
    n: usize,
    has_weight: bool,
    /// Per row: 1/√(mean(x²) + eps).
    rstd: Vec<T>,
}

impl<T: Scalar> BackwardOp<T> for RmsNormBackward<T> {
    fn name(&self) -> &'static str {
        "rms_norm"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let x = inputs[0].contiguous_data();
        let weight = self.has_weight.then(|| inputs[1].contiguous_data());
        let g = grad.contiguous_data();
        let n = self.n;
        let mut gx = storage::take_buffer::<T>(x.len());
        let wants_w = self.has_weight && inputs[1].requires_grad();
        let gw_len = if wants_w { n } else { 0 };
        let mut gw = vec![T::ZERO; gw_len];
        if n > 0 {
            let per = partition::row_blocks(self.rstd.len(), n, thresholds::ROWS);
            let blocks: Vec<_> = x
                .chunks(per * n)
                .zip(g.chunks(per * n))
                .zip(self.rstd.chunks(per))
                .zip(gx.chunks_mut(per * n))
                .collect();
            // Each block sums its own weight gradient; they are added up after.
            let mut partial = vec![vec![T::ZERO; gw_len]; blocks.len()];
            let items: Vec<_> = blocks.into_iter().zip(partial.iter_mut()).collect();
            let w = weight.as_deref();
            partition::items(items, |((((x, g), rstd), gx), pw)| {
                backward_rows(x, g, n, w, rstd, gx, pw);
            });
            for pw in partial {
                gw.iter_mut().zip(pw).for_each(|(a, b)| *a += b);
            }
        }
        let mut grads = vec![Some(Tensor::from_vec_unchecked(gx, inputs[0].shape()))];
        if self.has_weight {
            grads.push(optional_grad(gw, inputs[1].shape()));
        }
        Ok(grads)
    }
}

impl<T: Scalar> Tensor<T> {
    /// RMS normalisation over the trailing `normalized_shape` axes,
    /// `torch.nn.functional.rms_norm`: `x / √(mean(x²) + eps) · weight`; `eps = None`
    /// uses the machine epsilon of `T` (`f32::EPSILON` for `f32`), as PyTorch does. A
    /// fused op; a NaN in a row makes that row NaN.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let x = Tensor::<f64>::from([3.0, 4.0]);
    /// let y = x.rms_norm(&[2], None, Some(0.0))?.to_vec();
    /// let rms = 12.5f64.sqrt(); // √((9 + 16) / 2)
    /// assert!((y[0] - 3.0 / rms).abs() < 1e-15 && (y[1] - 4.0 / rms).abs() < 1e-15);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`crate::TensorError::InvalidArgument`] naming `rms_norm` when `normalized_shape`
    /// is empty, the input's trailing axes are not `normalized_shape`, or the weight has
    /// another shape.
    pub fn rms_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Tensor<T>>,
        eps: Option<f64>,
    ) -> Result<Tensor<T>> {
        let n = check_normalized(
            "rms_norm",
            self,
            normalized_shape,
            [("weight", weight), ("bias", None)],
        )?;
        let eps = eps.map_or(T::EPSILON, T::from_f64);
        let x = self.contiguous_data();
        let w = weight.map(Tensor::contiguous_data);
        let rows = x.len().checked_div(n).unwrap_or(0);
        let mut y = storage::take_buffer::<T>(x.len());
        let mut rstd = vec![T::ZERO; rows];
        if n > 0 {
            let per = partition::row_blocks(rows, n, thresholds::ROWS);
            let blocks: Vec<_> = x
                .chunks(per * n)
                .zip(y.chunks_mut(per * n))
                .zip(rstd.chunks_mut(per))
                .collect();
            let w = w.as_deref();
            partition::items(blocks, |((x, y), rstd)| {
                forward_rows(x, n, w, eps, y, rstd);
            });
        }
        drop((x, w));
        let mut inputs = vec![self];
        inputs.extend(weight);
        let op = RmsNormBackward {
            n,
            has_weight: weight.is_some(),
            rstd,
        };
        Ok(Tensor::op_result(y, self.shape(), &inputs, op))
    }
}
