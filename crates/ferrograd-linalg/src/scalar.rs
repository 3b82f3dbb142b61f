//! The element types of the whole stack: `f32` and `f64`.
//!
//! [`Scalar`] is a small, sealed numeric trait: the arithmetic and the transcendental
//! functions the book's models need, conversions, and the dispatch into faer's matrix
//! kernels. It is sealed so that faer's own trait bounds never leak into our API.

use std::fmt::{Debug, Display, LowerExp};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Rem, Sub, SubAssign};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type: implemented for `f32` and `f64` only.
///
/// ```
/// use ferrograd_linalg::Scalar;
/// fn mean<T: Scalar>(xs: &[T]) -> T {
///     xs.iter().copied().sum::<T>() / T::from_usize(xs.len())
/// }
/// assert_eq!(mean(&[1.0f32, 2.0, 3.0]), 2.0);
/// ```
pub trait Scalar:
    sealed::Sealed
    + Copy
    + Send
    + Sync
    + 'static
    + Debug
    + Display
    + LowerExp
    + Default
    + PartialEq
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Rem<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
{
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// Machine epsilon.
    const EPSILON: Self;
    /// Largest finite value.
    const MAX: Self;
    /// Smallest (most negative) finite value.
    const MIN: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// Negative infinity.
    const NEG_INFINITY: Self;
    /// Name of the type as PyTorch and safetensors spell it (`"float32"` / `"float64"`).
    const DTYPE: &'static str;

    /// Converts from `f64`, rounding to nearest for `f32`.
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Converts a count to this type.
    fn from_usize(n: usize) -> Self;
    /// e^x.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// ln(1 + x), accurate for small x.
    fn ln_1p(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// x raised to a floating-point power.
    fn powf(self, p: Self) -> Self;
    /// x raised to an integer power.
    fn powi(self, p: i32) -> Self;
    /// Larger of two values (NaN-ignoring, as `f64::max`).
    fn max(self, other: Self) -> Self;
    /// Smaller of two values (NaN-ignoring, as `f64::min`).
    fn min(self, other: Self) -> Self;
    /// Largest integer not greater than x.
    fn floor(self) -> Self;
    /// True unless the value is infinite or NaN.
    fn is_finite(self) -> bool;
    /// True for NaN.
    fn is_nan(self) -> bool;
    /// Logistic sigmoid 1 / (1 + e^(-x)), computed without overflow for any x.
    fn sigmoid(self) -> Self {
        if self >= Self::ZERO {
            Self::ONE / (Self::ONE + (-self).exp())
        } else {
            let e = self.exp();
            e / (Self::ONE + e)
        }
    }
    /// e^x by a branch-free polynomial that vectorises inside element-wise loops (used by
    /// softmax). Within 2 ulps of `exp` for `f32`; `f64` uses the library `exp`.
    fn exp_fast(self) -> Self {
        self.exp()
    }
    /// [`Scalar::exp_fast`] for an argument known to be ≤ 0 (or −inf) and not NaN, such as
    /// `x − max` of a row whose maximum is finite: fewer operations, the same value.
    fn exp_fast_nonpositive(self) -> Self {
        self.exp()
    }
    /// The error function, accurate to a few ulps of `f64` (used by exact GELU).
    fn erf(self) -> Self {
        Self::from_f64(erf_f64(self.to_f64()))
    }

    /// `dst = alpha * lhs * rhs` (or `dst += …` when `accumulate`), dispatched to faer.
    ///
    /// # Safety
    /// Every element addressed by the three views (pointer, shape, strides) must lie in
    /// its allocation, and `dst` must not overlap `lhs` or `rhs`. The safe entry point is
    /// [`crate::kernel::gemm`], which checks this.
    #[doc(hidden)]
    unsafe fn gemm_unchecked(
        dst: RawMatMut<Self>,
        lhs: RawMat<Self>,
        rhs: RawMat<Self>,
        alpha: Self,
        accumulate: bool,
        parallel: bool,
    );
}

/// Raw matrix view handed to faer (no lifetime: only built from checked views).
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct RawMat<T> {
    pub(crate) ptr: *const T,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) row_stride: isize,
    pub(crate) col_stride: isize,
}

/// Raw mutable matrix view handed to faer.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct RawMatMut<T> {
    pub(crate) ptr: *mut T,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) row_stride: isize,
    pub(crate) col_stride: isize,
}

macro_rules! exp_fast_impl {
    (f32, $x:expr) => {
        exp_f32_polynomial($x)
    };
    (f64, $x:expr) => {
        $x.exp()
    };
}

macro_rules! exp_nonpositive_impl {
    (f32, $x:expr) => {
        exp_f32_nonpositive($x)
    };
    (f64, $x:expr) => {
        $x.exp()
    };
}

/// The reduced argument of e^x for f32: x = n·ln2 + r with |r| ≤ ln2/2 (n rounded by the
/// 1.5·2^23 trick, ln2 split in a high part exact in f32 and a low correction), and e^r by
/// its degree-7 Taylor polynomial (remainder < 2e-9 on that interval). Returns e^r and n.
///
/// Every step is a fused multiply-add (`mul_add`): one rounding each, so the result is
/// the same bits on every CPU — a vector `vfmadd` in the AVX2 and AVX-512 builds, the C
/// library's correctly rounded `fmaf` in the baseline build (slower, same value) — and
/// about half the operations of separate multiplies and adds.
#[inline(always)]
fn exp_f32_reduced(clamped: f32) -> (f32, i32) {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75; // ln 2 rounded to 17 bits: n·LN2_HI is exact
    const LN2_LO: f32 = 1.428_606_8e-6; // ln 2 - LN2_HI
    const ROUNDER: f32 = 12_582_912.0; // 1.5 · 2^23
    let shifted = clamped.mul_add(LOG2_E, ROUNDER);
    let n = shifted - ROUNDER;
    let r = n.mul_add(-LN2_HI, clamped);
    let r = n.mul_add(-LN2_LO, r);
    let mut p: f32 = 1.0 / 5040.0;
    for c in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p.mul_add(r, c);
    }
    // round(n) sits in the low mantissa bits of `shifted` (no float-to-int conversion, so
    // the loop vectorises).
    (p, shifted.to_bits() as i32 - ROUNDER.to_bits() as i32)
}

/// The inputs [`exp_f32_polynomial`] computes: e^x is a normal f32 on this range, and the
/// scale 2^n stays within n ∈ [-126, 128].
const EXP_F32_LOW: f32 = -87.33;
/// See [`EXP_F32_LOW`].
const EXP_F32_HIGH: f32 = 88.72;

/// e^x for f32 without branches or library calls, so loops over it vectorise (see
/// [`exp_f32_reduced`]; within 2 ulps of the correctly rounded value) on [-87.33, 88.72],
/// where e^x is a normal f32 (the exact bounds are -87.3365 and 88.7228). Below that
/// range the result is 0 (a subnormal e^x is flushed), above it inf, and NaN stays NaN.
#[inline(always)]
fn exp_f32_polynomial(x: f32) -> f32 {
    // Not `clamp`: f32::clamp's NaN handling keeps this loop from vectorising; NaN is
    // restored at the end.
    #[allow(clippy::manual_clamp)]
    // The clamp and the selects below use the same bounds, so every input inside them
    // gets its own e^x.
    let clamped = x.max(EXP_F32_LOW).min(EXP_F32_HIGH);
    let (p, n) = exp_f32_reduced(clamped);
    // 2^n as two factors so n = 128 does not overflow.
    let half = n >> 1;
    let scale_a = f32::from_bits(((half + 127) as u32) << 23);
    let scale_b = f32::from_bits(((n - half + 127) as u32) << 23);
    let result = p * scale_a * scale_b;
    // Below the clamp e^x underflows to 0 (so -inf gives exactly 0, as masked attention
    // needs), above it overflows to inf; both selects are branch-free blends.
    let result = if x < EXP_F32_LOW { 0.0 } else { result };
    let result = if x > EXP_F32_HIGH {
        f32::INFINITY
    } else {
        result
    };
    if x.is_nan() { x } else { result }
}

/// [`exp_f32_polynomial`] for arguments known to be ≤ 0 and not NaN (softmax's `x − max`):
/// no overflow or NaN handling and one scale factor (n ∈ [-126, 0] after the clamp), so
/// fewer operations, with the same bits as the general form.
#[inline(always)]
fn exp_f32_nonpositive(x: f32) -> f32 {
    let clamped = x.max(EXP_F32_LOW);
    let (p, n) = exp_f32_reduced(clamped);
    let result = p * f32::from_bits(((n + 127) as u32) << 23);
    if x < EXP_F32_LOW { 0.0 } else { result }
}

macro_rules! impl_scalar {
    ($t:ident, $name:literal) => {
        impl Scalar for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const EPSILON: Self = $t::EPSILON;
            const MAX: Self = $t::MAX;
            const MIN: Self = $t::MIN;
            const INFINITY: Self = $t::INFINITY;
            const NEG_INFINITY: Self = $t::NEG_INFINITY;
            const DTYPE: &'static str = $name;

            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn from_usize(n: usize) -> Self {
                n as $t
            }
            #[inline]
            fn exp(self) -> Self {
                $t::exp(self)
            }
            #[inline]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline]
            fn ln_1p(self) -> Self {
                $t::ln_1p(self)
            }
            #[inline]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline]
            fn tanh(self) -> Self {
                $t::tanh(self)
            }
            #[inline]
            fn sin(self) -> Self {
                $t::sin(self)
            }
            #[inline]
            fn cos(self) -> Self {
                $t::cos(self)
            }
            #[inline]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline]
            fn powf(self, p: Self) -> Self {
                $t::powf(self, p)
            }
            #[inline]
            fn powi(self, p: i32) -> Self {
                $t::powi(self, p)
            }
            #[inline]
            fn max(self, other: Self) -> Self {
                $t::max(self, other)
            }
            #[inline]
            fn min(self, other: Self) -> Self {
                $t::min(self, other)
            }
            #[inline]
            fn floor(self) -> Self {
                $t::floor(self)
            }
            #[inline]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
            #[inline]
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
            #[inline]
            fn exp_fast(self) -> Self {
                exp_fast_impl!($t, self)
            }
            #[inline]
            fn exp_fast_nonpositive(self) -> Self {
                exp_nonpositive_impl!($t, self)
            }

            unsafe fn gemm_unchecked(
                dst: RawMatMut<Self>,
                lhs: RawMat<Self>,
                rhs: RawMat<Self>,
                alpha: Self,
                accumulate: bool,
                parallel: bool,
            ) {
                use faer::{Accum, MatMut, MatRef, Par};
                // SAFETY: the caller guarantees that the views address valid, non-overlapping
                // memory (checked by `kernel::gemm`).
                let (d, l, r) = unsafe {
                    (
                        MatMut::from_raw_parts_mut(
                            dst.ptr,
                            dst.rows,
                            dst.cols,
                            dst.row_stride,
                            dst.col_stride,
                        ),
                        MatRef::from_raw_parts(
                            lhs.ptr,
                            lhs.rows,
                            lhs.cols,
                            lhs.row_stride,
                            lhs.col_stride,
                        ),
                        MatRef::from_raw_parts(
                            rhs.ptr,
                            rhs.rows,
                            rhs.cols,
                            rhs.row_stride,
                            rhs.col_stride,
                        ),
                    )
                };
                let accum = if accumulate {
                    Accum::Add
                } else {
                    Accum::Replace
                };
                let par = if parallel {
                    Par::rayon(crate::cpu::threads::num_threads())
                } else {
                    Par::Seq
                };
                faer::linalg::matmul::matmul(d, accum, l, r, alpha, par);
            }
        }
    };
}

impl_scalar!(f32, "float32");
impl_scalar!(f64, "float64");

/// erf(x) in f64: Maclaurin series near zero, a continued fraction for erfc in the tails.
fn erf_f64(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let ax = x.abs();
    if ax < 2.5 {
        // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)); terms fall below
        // 1e-17 of the sum well before 60 terms for |x| < 2.5.
        let x2 = x * x;
        let mut term = x; // (-1)^n x^(2n+1) / n!
        let mut sum = x;
        for n in 1..80 {
            term *= -x2 / n as f64;
            let contribution = term / (2 * n + 1) as f64;
            sum += contribution;
            if contribution.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        sum * std::f64::consts::FRAC_2_SQRT_PI
    } else if ax > 6.0 {
        x.signum() // erfc(6) ~ 2e-17: below f64 resolution around 1
    } else {
        // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
        // evaluated bottom-up; 60 levels converge for x >= 2.5.
        let mut fraction = ax;
        for k in (1..60).rev() {
            fraction = ax + (k as f64 / 2.0) / fraction;
        }
        let erfc = (-ax * ax).exp() / (fraction * std::f64::consts::PI.sqrt());
        x.signum() * (1.0 - erfc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_reference_values() {
        // Reference values of erf from the closed-form tables (Abramowitz & Stegun 7.1),
        // to 15 digits.
        let cases = [
            (0.0, 0.0),
            (0.1, 0.112_462_916_018_284_9),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (2.5, 0.999_593_047_982_555),
            (3.0, 0.999_977_909_503_001_4),
            (4.0, 0.999_999_984_582_742_1),
        ];
        for (x, want) in cases {
            let got = erf_f64(x);
            assert!((got - want).abs() < 1e-14, "erf({x}) = {got}, want {want}");
            assert!((erf_f64(-x) + want).abs() < 1e-14);
        }
    }

    #[test]
    fn exp_fast_is_within_two_ulps() {
        // Compared with the correctly rounded value (f64 exp rounded to f32), over the whole
        // range it computes, and every f32 near both ends of it.
        let ulps = |x: f32| {
            let want = (x as f64).exp() as f32;
            (x.exp_fast().to_bits() as i64 - want.to_bits() as i64).unsigned_abs()
        };
        let mut x = -87.33f32;
        let mut worst = 0u64;
        while x < 88.72 {
            worst = worst.max(ulps(x));
            x += 0.001_37;
        }
        let mut edge = |from: f32, to: f32| {
            let mut x = from;
            while x <= to {
                if (-87.33..=88.72).contains(&x) {
                    worst = worst.max(ulps(x));
                } else if x < 0.0 {
                    assert_eq!(x.exp_fast(), 0.0, "{x}");
                } else {
                    assert_eq!(x.exp_fast(), f32::INFINITY, "{x}");
                }
                x = f32::from_bits(x.to_bits().wrapping_add(if x < 0.0 {
                    -1i32 as u32
                } else {
                    1
                }));
            }
        };
        edge(-87.34, -87.29);
        edge(88.69, 88.73);
        assert!(worst <= 2, "worst error {worst} ulps");
        // The non-positive form gives the same bits where it applies.
        let mut x = -90.0f32;
        while x <= 0.0 {
            assert_eq!(
                x.exp_fast_nonpositive().to_bits(),
                x.exp_fast().to_bits(),
                "{x}"
            );
            x += 0.000_97;
        }
        assert_eq!(f32::NEG_INFINITY.exp_fast_nonpositive(), 0.0);
        assert!(f32::NAN.exp_fast().is_nan());
        assert_eq!((-1000.0f32).exp_fast(), 0.0);
        assert_eq!(f32::NEG_INFINITY.exp_fast(), 0.0);
        assert_eq!(1000.0f32.exp_fast(), f32::INFINITY);
    }

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        assert_eq!(1000.0f32.sigmoid(), 1.0);
        assert_eq!((-1000.0f32).sigmoid(), 0.0);
        assert!(((0.0f64).sigmoid() - 0.5).abs() < 1e-16);
    }
}
