//! Row reductions in independent lanes, shared by every row kernel of the stack (softmax,
//! log-softmax, logsumexp, cross-entropy, layer and RMS norm, and their backward).
//!
//! A reduction written as one accumulator is bound by the latency of its add (or max)
//! chain and does not vectorise without reassociation, which Rust never does on its
//! own. These helpers keep [`LANES`] independent accumulators, so the loop runs at the
//! throughput of the vector units, then combine the lanes pairwise. They are
//! `#[inline(always)]`: called inside a [`simd_kernel!`](crate::simd_kernel) body they
//! are compiled for the CPU's widest vectors with it. The summation order differs from a
//! left-to-right loop (the error grows with `n / LANES`, not with `n`), but it is fixed:
//! every run and every vector width gives the same bits.
//!
//! # The NaN rule
//!
//! NaN propagates, as in PyTorch: [`max`] of a row holding a NaN is NaN, and sums carry
//! NaN by IEEE arithmetic. So a NaN anywhere in a row makes that row's softmax,
//! log-softmax, logsumexp, cross-entropy loss and norm NaN, in every kernel alike
//! (tested in each crate against PyTorch's outputs).
//!
//! ```
//! use ferrograd_linalg::cpu::lanes;
//! let row: Vec<f32> = (1..=100).map(|i| i as f32).collect();
//! assert_eq!(lanes::sum(&row, |v| v), 5050.0);
//! assert_eq!(lanes::max(&row), 100.0);
//! assert!(lanes::max(&[1.0f32, f32::NAN, 3.0]).is_nan());
//! ```

use crate::Scalar;

/// Independent accumulators per reduction: four AVX-512 registers (eight AVX2 ones) of
/// `f32`. With 32 the row-maximum pass of softmax stayed latency-bound (~5% slower on
/// `[64, 32000]`).
pub const LANES: usize = 64;

/// Folds `N` lanes into one with `op`, halves onto halves (`N` a power of two): vector
/// operations, where a left-to-right fold is a chain of dependent scalar ones. Every
/// reduction here ends with it; kernels that keep lanes of their own (attention's short
/// rows) use it too.
///
/// ```
/// use ferrograd_linalg::cpu::lanes::fold_halves;
/// assert_eq!(fold_halves([1.0f32, 2.0, 3.0, 4.0], |a, b| a + b), 10.0); // (1 + 3) + (2 + 4)
/// ```
#[inline(always)]
pub fn fold_halves<T: Scalar, const N: usize>(mut lanes: [T; N], op: impl Fn(T, T) -> T) -> T {
    debug_assert!(N.is_power_of_two());
    let mut width = N / 2;
    while width > 0 {
        let (low, high) = lanes.split_at_mut(width);
        for (a, &b) in low.iter_mut().zip(high.iter()) {
            *a = op(*a, b);
        }
        width /= 2;
    }
    lanes[0]
}

/// `a` if it is greater or NaN, else `b`: a maximum that propagates NaN from either side
/// when folded (`nan_max(x, NaN)` keeps the NaN accumulated so far).
#[inline(always)]
pub fn nan_max<T: Scalar>(acc: T, v: T) -> T {
    if v > acc || v.is_nan() { v } else { acc }
}

/// `Σ f(x)` over a row.
#[inline(always)]
pub fn sum<T: Scalar>(row: &[T], f: impl Fn(T) -> T) -> T {
    let mut lanes = [T::ZERO; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f(v);
        }
    }
    let mut total = fold_halves(lanes, |a, b| a + b);
    for &v in tail {
        total += f(v);
    }
    total
}

/// `Σ f(x)` over a row with each term and the sum in `f64`, whatever `T` is (gradient
/// norms of `f32` tensors: the accumulator loses no precision). Eight `f64` lanes (one
/// AVX-512 register), added in order at the end: a fixed order, so the same bits on
/// every run and vector width.
///
/// ```
/// use ferrograd_linalg::cpu::lanes;
/// let row = [3.0f32, 4.0];
/// assert_eq!(lanes::sum_f64(&row, |v| v * v), 25.0);
/// ```
#[inline(always)]
pub fn sum_f64<T: Scalar>(row: &[T], f: impl Fn(f64) -> f64) -> f64 {
    const WIDE: usize = 8;
    let mut lanes = [0.0f64; WIDE];
    let chunks = row.chunks_exact(WIDE);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f(v.to_f64());
        }
    }
    let mut total = lanes.iter().sum::<f64>();
    for &v in tail {
        total += f(v.to_f64());
    }
    total
}

/// `Σ f(a, b)` over two rows of equal length.
#[inline(always)]
pub fn sum2<T: Scalar>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> T {
    let mut lanes = [T::ZERO; LANES];
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (xa, xb) in ca.zip(cb) {
        for ((lane, &u), &v) in lanes.iter_mut().zip(xa).zip(xb) {
            *lane += f(u, v);
        }
    }
    let mut total = fold_halves(lanes, |a, b| a + b);
    for (&u, &v) in ta.iter().zip(tb) {
        total += f(u, v);
    }
    total
}

/// `Σ a·b` over two rows of equal length.
#[inline(always)]
pub fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
    sum2(a, b, |u, v| u * v)
}

/// Maximum of a row; NaN if any element is NaN (the NaN rule), `-inf` for an empty row.
#[inline(always)]
pub fn max<T: Scalar>(row: &[T]) -> T {
    let mut lanes = [T::NEG_INFINITY; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = nan_max(*lane, v);
        }
    }
    let mut max = fold_halves(lanes, nan_max);
    for &v in tail {
        max = nan_max(max, v);
    }
    max
}

/// Writes `y = exp(x − shift)` and returns `Σ y`, in one pass over `x`. `shift` must be
/// at least every element and no element NaN (softmax's row maximum, finite): `exp` is
/// [`Scalar::exp_fast_nonpositive`] (a polynomial that vectorises, within 2 ulps for
/// `f32`). Each block of [`LANES`] exponentials is stored first and then added to the
/// lanes from `y` (in L1): computing and summing in one loop kept 64 exponentials' worth
/// of temporaries live, which spilled AVX2's 16 registers.
#[inline(always)]
pub fn exp_sum<T: Scalar>(x: &[T], y: &mut [T], shift: T) -> T {
    let mut lanes = [T::ZERO; LANES];
    let mut xs = x.chunks_exact(LANES);
    let mut ys = y.chunks_exact_mut(LANES);
    for (x, y) in (&mut xs).zip(&mut ys) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = (x - shift).exp_fast_nonpositive();
        }
        for (lane, &y) in lanes.iter_mut().zip(y.iter()) {
            *lane += y;
        }
    }
    let mut total = fold_halves(lanes, |a, b| a + b);
    for (y, &x) in ys.into_remainder().iter_mut().zip(xs.remainder()) {
        *y = (x - shift).exp_fast_nonpositive();
        total += *y;
    }
    total
}

/// `Σ exp(x − shift)` without storing the exponentials (log-softmax, logsumexp,
/// cross-entropy); the same conditions and blocks as [`exp_sum`].
#[inline(always)]
pub fn sum_exp<T: Scalar>(x: &[T], shift: T) -> T {
    let mut lanes = [T::ZERO; LANES];
    let mut block = [T::ZERO; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (e, &x) in block.iter_mut().zip(chunk) {
            *e = (x - shift).exp_fast_nonpositive();
        }
        for (lane, &e) in lanes.iter_mut().zip(block.iter()) {
            *lane += e;
        }
    }
    let mut total = fold_halves(lanes, |a, b| a + b);
    for &x in tail {
        total += (x - shift).exp_fast_nonpositive();
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_reductions_match_plain_loops() {
        for n in [0usize, 1, 37, 64, 65, 1000] {
            let row: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let plain: f64 = row.iter().sum();
            assert!((sum(&row, |v| v) - plain).abs() < 1e-12, "{n}");
            let max_plain = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(max(&row), max_plain);
            let sq: f64 = row.iter().map(|v| v * v).sum();
            assert!((dot(&row, &row) - sq).abs() < 1e-12);
            let mut y = vec![0.0; n];
            let total = exp_sum(&row, &mut y, 1.0);
            let expected: f64 = row.iter().map(|v| (v - 1.0).exp()).sum();
            assert!((total - expected).abs() < 1e-12 * n.max(1) as f64);
            assert!((sum_exp(&row, 1.0) - expected).abs() < 1e-12 * n.max(1) as f64);
            assert!(
                y.iter()
                    .zip(&row)
                    .all(|(y, v)| (y - (v - 1.0).exp()).abs() < 1e-15)
            );
        }
    }

    #[test]
    fn a_nan_anywhere_makes_the_maximum_nan() {
        for n in [3usize, 64, 130] {
            for at in [0, n / 2, n - 1] {
                let mut row = vec![1.0f32; n];
                row[at] = f32::NAN;
                assert!(max(&row).is_nan(), "n {n}, NaN at {at}");
            }
        }
        assert_eq!(max(&[f32::NEG_INFINITY, 2.0, f32::INFINITY]), f32::INFINITY);
        assert_eq!(max::<f32>(&[]), f32::NEG_INFINITY);
    }
}
