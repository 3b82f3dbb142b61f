//! Layer normalisation, `torch.nn.functional.layer_norm`: a fused op (one pass forward
//! keeping two numbers per row, one pass backward) with its kernels.

use crate::autograd::BackwardOp;
use crate::error::{Result, TensorError, shape_of};
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::cpu::{lanes, partition, thresholds};
use ferrograd_linalg::{Scalar, simd_kernel};

/// Checks that `normalized` is not empty, that the trailing axes of `input` are
/// `normalized` and that the affine parameters have that shape; returns the row length
/// (their product). Shared with RMS norm.
pub(crate) fn check_normalized<T: Scalar>(
    op: &'static str,
    input: &Tensor<T>,
    normalized: &[usize],
    params: [(&str, Option<&Tensor<T>>); 2],
) -> Result<usize> {
    if normalized.is_empty() {
        return Err(TensorError::InvalidArgument {
            op,
            reason: "normalized_shape is [] (empty); it must name at least one trailing axis, \
                     e.g. [d] for rows of d features"
                .into(),
        });
    }
    let rank = input.rank();
    if rank < normalized.len() || input.shape()[rank - normalized.len()..] != *normalized {
        return Err(TensorError::InvalidArgument {
            op,
            reason: format!(
                "normalized_shape is {}, so the input must have shape [..., {}], got {}",
                shape_of(normalized),
                join(normalized),
                shape_of(input.shape())
            ),
        });
    }
    for (name, p) in params {
        if let Some(p) = p
            && p.shape() != normalized
        {
            return Err(TensorError::InvalidArgument {
                op,
                reason: format!(
                    "the {name} must have the normalized_shape {}, got {}",
                    shape_of(normalized),
                    shape_of(p.shape())
                ),
            });
        }
    }
    crate::tensor::checked_len(op, normalized, 1)
}

fn join(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A gradient buffer as a tensor, or `None` when it was not computed (empty).
pub(crate) fn optional_grad<T: Scalar>(data: Vec<T>, shape: &[usize]) -> Option<Tensor<T>> {
    if data.is_empty() && shape.iter().product::<usize>() != 0 {
        return None;
    }
    Some(Tensor::from_vec_unchecked(data, shape))
}

simd_kernel! {
    /// Forward over rows of length `n`: `y = (x − mean)·rstd·w + b` with the biased
    /// variance; `stats[2i] = mean`, `stats[2i + 1] = rstd = 1/√(var + eps)`. Two passes
    /// (mean, then squared deviations): no cancellation for rows with a large mean.
    fn forward_rows<T: Scalar>(
        x: &[T],
        n: usize,
        weight: Option<&[T]>,
        bias: Option<&[T]>,
        eps: T,
        y: &mut [T],
        stats: &mut [T],
    ) {
        let count = T::from_usize(n);
        for (i, (row, out)) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)).enumerate() {
            let mean = lanes::sum(row, |v| v) / count;
            let var = lanes::sum(row, |v| (v - mean) * (v - mean)) / count;
            let rstd = T::ONE / (var + eps).sqrt();
            stats[2 * i] = mean;
            stats[2 * i + 1] = rstd;
            match (weight, bias) {
                (Some(w), Some(b)) => {
                    for (((o, &v), &w), &b) in out.iter_mut().zip(row).zip(w).zip(b) {
                        *o = (v - mean) * rstd * w + b;
                    }
                }
                (Some(w), None) => {
                    for ((o, &v), &w) in out.iter_mut().zip(row).zip(w) {
                        *o = (v - mean) * rstd * w;
                    }
                }
                (None, Some(b)) => {
                    for ((o, &v), &b) in out.iter_mut().zip(row).zip(b) {
                        *o = (v - mean) * rstd + b;
                    }
                }
                (None, None) => {
                    for (o, &v) in out.iter_mut().zip(row) {
                        *o = (v - mean) * rstd;
                    }
                }
            }
        }
    }
}

simd_kernel! {
    /// Backward. With `x̂ = (x − mean)·rstd` and `h = g·w`:
    /// `gx = rstd·(h − mean(h) − x̂·mean(h·x̂))`, `gw += g·x̂`, `gb += g` (summed over rows;
    /// an empty `gw` or `gb` is skipped).
    fn backward_rows<T: Scalar>(
        x: &[T],
        g: &[T],
        n: usize,
        weight: Option<&[T]>,
        stats: &[T],
        gx: &mut [T],
        gw: &mut [T],
        gb: &mut [T],
    ) {
        let count = T::from_usize(n);
        let mut h = vec![T::ZERO; n];
        let mut xhat = vec![T::ZERO; n];
        for (i, ((row, grow), out)) in x
            .chunks_exact(n)
            .zip(g.chunks_exact(n))
            .zip(gx.chunks_exact_mut(n))
            .enumerate()
        {
            let (mean, rstd) = (stats[2 * i], stats[2 * i + 1]);
            for (xh, &v) in xhat.iter_mut().zip(row) {
                *xh = (v - mean) * rstd;
            }
            match weight {
                Some(w) => {
                    for ((h, &g), &w) in h.iter_mut().zip(grow).zip(w) {
                        *h = g * w;
                    }
                }
                None => h.copy_from_slice(grow),
            }
            let mean_h = lanes::sum(&h, |v| v) / count;
            let mean_hx = lanes::dot(&h, &xhat) / count;
            for ((o, &h), &xh) in out.iter_mut().zip(&h).zip(&xhat) {
                *o = rstd * ((h - mean_h) - xh * mean_hx);
            }
            if !gw.is_empty() {
                for ((acc, &g), &xh) in gw.iter_mut().zip(grow).zip(&xhat) {
                    *acc += g * xh;
                }
            }
            if !gb.is_empty() {
                for (acc, &g) in gb.iter_mut().zip(grow) {
                    *acc += g;
                }
            }
        }
    }
}

struct LayerNormBackward<T: Scalar> {
    n: usize,
    has_weight: bool,
    has_bias: bool,
    /// Per row: mean and 1/√(var + eps).
    stats: Vec<T>,
}

impl<T: Scalar> BackwardOp<T> for LayerNormBackward<T> {
    fn name(&self) -> &'static str {
        "layer_norm"
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
        let wants = |i: usize| inputs.get(i).is_some_and(Tensor::requires_grad);
        let weight_at = 1;
        let bias_at = 1 + usize::from(self.has_weight);
        let gw_len = if self.has_weight && wants(weight_at) {
            n
        } else {
            0
        };
        let gb_len = if self.has_bias && wants(bias_at) {
            n
        } else {
            0
        };
        let (mut gw, mut gb) = (vec![T::ZERO; gw_len], vec![T::ZERO; gb_len]);
        if n > 0 {
            let rows = self.stats.len() / 2;
            let per = partition::row_blocks(rows, n, thresholds::ROWS);
            let blocks: Vec<_> = x
                .chunks(per * n)
                .zip(g.chunks(per * n))
                .zip(self.stats.chunks(2 * per))
                .zip(gx.chunks_mut(per * n))
                .collect();
            // Each block sums its own weight and bias gradients; they are added up after.
            let mut partial = vec![(vec![T::ZERO; gw_len], vec![T::ZERO; gb_len]); blocks.len()];
            let items: Vec<_> = blocks.into_iter().zip(partial.iter_mut()).collect();
            let w = weight.as_deref();
            partition::items(items, |((((x, g), stats), gx), (pw, pb))| {
                backward_rows(x, g, n, w, stats, gx, pw, pb);
            });
            for (pw, pb) in partial {
                gw.iter_mut().zip(pw).for_each(|(a, b)| *a += b);
                gb.iter_mut().zip(pb).for_each(|(a, b)| *a += b);
            }
        }
        let mut grads = vec![Some(Tensor::from_vec_unchecked(gx, inputs[0].shape()))];
        if self.has_weight {
            grads.push(optional_grad(gw, inputs[weight_at].shape()));
        }
        if self.has_bias {
            grads.push(optional_grad(gb, inputs[bias_at].shape()));
        }
        Ok(grads)
    }
}

impl<T: Scalar> Tensor<T> {
    /// Layer normalisation over the trailing `normalized_shape` axes,
    /// `torch.nn.functional.layer_norm`: `(x − mean) / √(var + eps) · weight + bias` with
    /// the biased variance. `weight` and `bias`, when given, have shape
    /// `normalized_shape`. A fused op: one pass forward keeping two numbers per row, one
    /// pass backward; a NaN in a row makes that row NaN.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let x = Tensor::<f64>::from([[1.0, 2.0, 3.0], [10.0, 10.0, 10.0]]);
    /// let y = x.layer_norm(&[3], None, None, 1e-5)?.to_vec();
    /// let s = (2.0f64 / 3.0 + 1e-5).sqrt(); // √(biased var + eps) of the first row
    /// assert!((y[0] + 1.0 / s).abs() < 1e-12 && y[1].abs() < 1e-12 && (y[2] - 1.0 / s).abs() < 1e-12);
    /// assert_eq!(y[3..], [0.0, 0.0, 0.0]); // a constant row normalises to zero
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `layer_norm` when `normalized_shape` is
    /// empty, the input's trailing axes are not `normalized_shape`, or a parameter has
    /// another shape.
    pub fn layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Tensor<T>>,
        bias: Option<&Tensor<T>>,
        eps: f64,
    ) -> Result<Tensor<T>> {
        let n = check_normalized(
            "layer_norm",
            self,
            normalized_shape,
            [("weight", weight), ("bias", bias)],
        )?;
        let x = self.contiguous_data();
        let (w, b) = (
            weight.map(Tensor::contiguous_data),
            bias.map(Tensor::contiguous_data),
        );
        let rows = x.len().checked_div(n).unwrap_or(0);
        let mut y = storage::take_buffer::<T>(x.len());
        let mut stats = vec![T::ZERO; 2 * rows];
        if n > 0 {
            let per = partition::row_blocks(rows, n, thresholds::ROWS);
            let blocks: Vec<_> = x
                .chunks(per * n)
                .zip(y.chunks_mut(per * n))
                .zip(stats.chunks_mut(2 * per))
                .collect();
            let (w, b, eps) = (w.as_deref(), b.as_deref(), T::from_f64(eps));
            partition::items(blocks, |((x, y), stats)| {
                forward_rows(x, n, w, b, eps, y, stats);
            });
        }
        drop((x, w, b));
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        let op = LayerNormBackward {
            n,
            has_weight: weight.is_some(),
            has_bias: bias.is_some(),
            stats,
        };
        Ok(Tensor::op_result(y, self.shape(), &inputs, op))
    }
}
