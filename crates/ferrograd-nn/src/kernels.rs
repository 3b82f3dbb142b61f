//! Row kernels of the fused layers and losses (cross-entropy, layer norm, RMS norm).
//!
//! Each kernel works on contiguous rows with eight independent accumulator lanes, so the
//! loops vectorise, and is compiled again for AVX-512 and for AVX2, the widest the CPU
//! has being chosen at run time (the portable build targets SSE2). No fast-math: results are deterministic and
//! the same on every run; only the summation order differs from a plain left-to-right
//! loop.

use ferrograd_tensor::Scalar;

/// A zero-filled buffer of `len` elements for a kernel's output, taken from the tensor
/// crate's per-thread pool ([`ferrograd_tensor::storage::zeroed_buffer`]): the buffer of
/// a dropped tensor of ≥ 64 KiB goes back to that pool, so the next step's allocation of
/// the same size reuses it instead of faulting fresh pages in from the operating system.
pub(crate) fn buffer<T: Scalar>(len: usize) -> Vec<T> {
    ferrograd_tensor::storage::zeroed_buffer(len)
}

/// Inputs smaller than this (in elements) run on the calling thread: starting a thread
/// costs ~20 µs, about the time of 2·10⁵ elements of these kernels.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 18;

/// Into how many blocks of whole rows to split `rows` rows of `row_len` elements: one
/// unless the input is large and [`ferrograd_tensor::num_threads`] allows more, then at
/// most one per thread and at least [`PARALLEL_MIN_ELEMENTS`]/2 elements each.
pub(crate) fn rows_per_block(rows: usize, row_len: usize) -> usize {
    let total = rows.saturating_mul(row_len);
    let threads = ferrograd_tensor::num_threads();
    let blocks = if threads <= 1 || total < PARALLEL_MIN_ELEMENTS {
        1
    } else {
        threads.min(rows).min(total / (PARALLEL_MIN_ELEMENTS / 2))
    };
    rows.div_ceil(blocks.max(1)).max(1)
}

/// Runs `f` on every item on ferrograd's worker pool ([`ferrograd_tensor::pool`], whose
/// workers stay awake between the kernels of a step), the calling thread included. Items are disjoint blocks of rows, see
/// [`rows_per_block`].
pub(crate) fn in_parallel<I: Send>(items: Vec<I>, f: impl Fn(I) + Sync) {
    if items.len() <= 1 {
        return items.into_iter().for_each(f);
    }
    // Each task takes its own item out of its slot, exactly once.
    let slots: Vec<std::sync::Mutex<Option<I>>> = items
        .into_iter()
        .map(|item| std::sync::Mutex::new(Some(item)))
        .collect();
    ferrograd_tensor::pool::run(slots.len(), &|task| {
        let item = slots[task]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(item) = item {
            f(item);
        }
    });
}

/// Generates a dispatcher `$name` that runs `$inner` compiled for the widest vector
/// instructions of the CPU, through [`ferrograd_tensor::simd_kernel!`]. `$inner` must be
/// `#[inline(always)]` so that its body (and the helpers it calls) is compiled inside each
/// variant. Every variant does the same IEEE operations in the same order, so results are
/// identical on every CPU.
macro_rules! simd_dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident<$t:ident>($($arg:ident: $ty:ty),* $(,)?) => $inner:ident) => {
        ferrograd_tensor::simd_kernel! {
            $(#[$meta])*
            #[allow(clippy::too_many_arguments)]
            $vis fn $name<$t: Scalar>($($arg: $ty),*) {
                $inner($($arg),*)
            }
        }
    };
}

/// Σ f(x) over a row, in eight lanes.
#[inline(always)]
fn lanes_sum<T: Scalar>(row: &[T], f: impl Fn(T) -> T) -> T {
    let mut lanes = [T::ZERO; 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f(v);
        }
    }
    let mut total = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
    for &v in tail {
        total += f(v);
    }
    total
}

/// Σ f(x, y) over two rows of equal length, in eight lanes.
#[inline(always)]
fn lanes_sum2<T: Scalar>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> T {
    let mut lanes = [T::ZERO; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (xa, xb) in ca.zip(cb) {
        for ((lane, &u), &v) in lanes.iter_mut().zip(xa).zip(xb) {
            *lane += f(u, v);
        }
    }
    let mut total = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
    for (&u, &v) in ta.iter().zip(tb) {
        total += f(u, v);
    }
    total
}

/// Maximum of a row; NaN if any element is NaN (as PyTorch's `max`).
#[inline(always)]
fn lanes_max<T: Scalar>(row: &[T]) -> T {
    let mut lanes = [T::NEG_INFINITY; 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    let mut nan = false;
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            nan |= v.is_nan();
            *lane = if v > *lane { v } else { *lane };
        }
    }
    let mut max = lanes
        .iter()
        .fold(T::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    for &v in tail {
        nan |= v.is_nan();
        max = if v > max { v } else { max };
    }
    if nan { T::from_f64(f64::NAN) } else { max }
}

/// What the cross-entropy kernels need to know about the targets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CeConfig<T> {
    /// Number of classes (row length).
    pub(crate) classes: usize,
    /// Targets equal to this contribute nothing.
    pub(crate) ignore_index: Option<usize>,
    /// Label smoothing ε.
    pub(crate) smoothing: T,
}

/// Cross-entropy forward over rows of logits `x` (`[M, C]`, row-major): for each row,
/// `stats[2i] = max`, `stats[2i + 1] = ln Σ exp(x - max)`, and `losses[i]` the row's loss
/// `(1 - ε)·(-log p_t) + (ε / C)·Σ_c (-log p_c)`, zero for an ignored target.
#[inline(always)]
fn ce_forward_impl<T: Scalar>(
    x: &[T],
    targets: &[usize],
    config: CeConfig<T>,
    stats: &mut [T],
    losses: &mut [T],
) {
    let c = config.classes;
    let eps = config.smoothing;
    let classes = T::from_usize(c);
    for (i, row) in x.chunks_exact(c).enumerate() {
        let max = lanes_max(row);
        let log_sum = lanes_sum(row, |v| (v - max).exp_fast()).ln();
        stats[2 * i] = max;
        stats[2 * i + 1] = log_sum;
        let t = targets[i];
        losses[i] = if config.ignore_index == Some(t) {
            T::ZERO
        } else {
            // -log p_t = -((x_t - max) - ln Σ), as PyTorch's log_softmax computes it.
            let nll = log_sum - (row[t] - max);
            if eps > T::ZERO {
                // Σ_c -log p_c = C·ln Σ - Σ_c (x_c - max).
                let smooth = classes * log_sum - lanes_sum(row, |v| v - max);
                (T::ONE - eps) * nll + eps / classes * smooth
            } else {
                nll
            }
        };
    }
}

simd_dispatch!(
    /// See `ce_forward_impl`.
    pub(crate) fn ce_forward<T>(
        x: &[T],
        targets: &[usize],
        config: CeConfig<T>,
        stats: &mut [T],
        losses: &mut [T],
    ) => ce_forward_impl
);

/// Cross-entropy backward: `gx[i, c] = coef_i·(p_ic - ε/C - (1 - ε)·[c = t_i])` with
/// `p = exp((x - max) - ln Σ)`, zero rows for ignored targets. `coef[i]` is the output
/// gradient reaching row `i` (already divided by the count for a mean).
#[inline(always)]
fn ce_backward_impl<T: Scalar>(
    x: &[T],
    targets: &[usize],
    config: CeConfig<T>,
    stats: &[T],
    coef: &[T],
    gx: &mut [T],
) {
    let c = config.classes;
    let eps = config.smoothing;
    let off = eps / T::from_usize(c);
    for (i, (row, out)) in x.chunks_exact(c).zip(gx.chunks_exact_mut(c)).enumerate() {
        let t = targets[i];
        if config.ignore_index == Some(t) {
            out.fill(T::ZERO);
            continue;
        }
        let (max, log_sum, k) = (stats[2 * i], stats[2 * i + 1], coef[i]);
        for (o, &v) in out.iter_mut().zip(row) {
            *o = k * (((v - max) - log_sum).exp_fast() - off);
        }
        out[t] -= k * (T::ONE - eps);
    }
}

simd_dispatch!(
    /// See `ce_backward_impl`.
    pub(crate) fn ce_backward<T>(
        x: &[T],
        targets: &[usize],
        config: CeConfig<T>,
        stats: &[T],
        coef: &[T],
        gx: &mut [T],
    ) => ce_backward_impl
);

/// Layer-norm forward over rows of length `n`: `y = (x - mean)·rstd·w + b` with the
/// biased variance; `stats[2i] = mean`, `stats[2i + 1] = rstd = 1/√(var + eps)`.
#[inline(always)]
fn layer_norm_forward_impl<T: Scalar>(
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
        let mean = lanes_sum(row, |v| v) / count;
        // Two passes (mean, then squared deviations): no cancellation for large means.
        let var = lanes_sum(row, |v| (v - mean) * (v - mean)) / count;
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

simd_dispatch!(
    /// See `layer_norm_forward_impl`.
    pub(crate) fn layer_norm_forward<T>(
        x: &[T],
        n: usize,
        weight: Option<&[T]>,
        bias: Option<&[T]>,
        eps: T,
        y: &mut [T],
        stats: &mut [T],
    ) => layer_norm_forward_impl
);

/// Layer-norm backward. With `x̂ = (x - mean)·rstd` and `h = g·w`:
/// `gx = rstd·(h - mean(h) - x̂·mean(h·x̂))`, `gw += g·x̂`, `gb += g` (summed over rows;
/// an empty `gw` or `gb` is skipped).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn layer_norm_backward_impl<T: Scalar>(
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
        let mean_h = lanes_sum(&h, |v| v) / count;
        let mean_hx = lanes_sum2(&h, &xhat, |a, b| a * b) / count;
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

simd_dispatch!(
    /// See `layer_norm_backward_impl`.
    pub(crate) fn layer_norm_backward<T>(
        x: &[T],
        g: &[T],
        n: usize,
        weight: Option<&[T]>,
        stats: &[T],
        gx: &mut [T],
        gw: &mut [T],
        gb: &mut [T],
    ) => layer_norm_backward_impl
);

/// RMS-norm forward over rows of length `n`: `y = x·r·w` with `r = 1/√(mean(x²) + eps)`
/// stored in `rstd[i]`.
#[inline(always)]
fn rms_norm_forward_impl<T: Scalar>(
    x: &[T],
    n: usize,
    weight: Option<&[T]>,
    eps: T,
    y: &mut [T],
    rstd: &mut [T],
) {
    let count = T::from_usize(n);
    for (i, (row, out)) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)).enumerate() {
        let r = T::ONE / (lanes_sum(row, |v| v * v) / count + eps).sqrt();
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

simd_dispatch!(
    /// See `rms_norm_forward_impl`.
    pub(crate) fn rms_norm_forward<T>(
        x: &[T],
        n: usize,
        weight: Option<&[T]>,
        eps: T,
        y: &mut [T],
        rstd: &mut [T],
    ) => rms_norm_forward_impl
);

/// RMS-norm backward. With `x̂ = x·r` and `h = g·w`: `gx = r·(h - x̂·mean(h·x̂))`,
/// `gw += g·x̂` (summed over rows).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn rms_norm_backward_impl<T: Scalar>(
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
        let mean_hx = r * lanes_sum2(&h, row, |a, b| a * b) / count;
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

simd_dispatch!(
    /// See `rms_norm_backward_impl`.
    pub(crate) fn rms_norm_backward<T>(
        x: &[T],
        g: &[T],
        n: usize,
        weight: Option<&[T]>,
        rstd: &[T],
        gx: &mut [T],
        gw: &mut [T],
    ) => rms_norm_backward_impl
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_helpers_match_plain_loops() {
        let row: Vec<f64> = (0..37).map(|i| (i as f64 * 0.37).sin()).collect();
        let plain: f64 = row.iter().sum();
        assert!((lanes_sum(&row, |v| v) - plain).abs() < 1e-14);
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(lanes_max(&row), max);
        let dot: f64 = row.iter().map(|v| v * v).sum();
        assert!((lanes_sum2(&row, &row, |a, b| a * b) - dot).abs() < 1e-14);
        let mut with_nan = row.clone();
        with_nan[3] = f64::NAN;
        assert!(lanes_max(&with_nan).is_nan());
        assert!(lanes_max(&with_nan[..3]).is_finite());
    }
}
