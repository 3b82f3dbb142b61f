//! Run-time choice of the CPU's vector instructions for element-wise loops.
//!
//! The library is compiled for the portable x86-64 baseline (SSE2, four `f32` lanes), so a
//! plain loop never uses the wider AVX2 or AVX-512 units of the machine it runs on.
//! [`simd_kernel!`](crate::simd_kernel) compiles a function three times — for AVX-512,
//! for AVX2 with FMA, and for the baseline — and calls the best one the CPU reports
//! (detected once, see [`level`]), as PyTorch's CPU kernels do.
//!
//! ```
//! use ferrograd_linalg::{Scalar, simd_kernel};
//!
//! simd_kernel! {
//!     /// `y = 2x + 1`, compiled for the widest vectors of the CPU it runs on.
//!     fn affine<T: Scalar>(x: &[T], y: &mut [T]) {
//!         let two = T::ONE + T::ONE;
//!         for (y, &x) in y.iter_mut().zip(x) {
//!             *y = two * x + T::ONE;
//!         }
//!     }
//! }
//!
//! let x: Vec<f32> = (0..1000).map(|i| i as f32).collect();
//! let mut y = vec![0.0f32; x.len()];
//! affine(&x, &mut y);
//! assert_eq!(y[999], 1999.0);
//! ```
//!
//! Why a macro and not a closure-taking function: only code *inlined* into a function
//! compiled with wider features uses them, and LLVM inlines a large closure by cost, not
//! by promise; the macro marks the body `#[inline(always)]` so it is always compiled into
//! each variant. Helpers the body calls should be `#[inline(always)]` for the same reason;
//! small closures passed in (an element-wise op) are inlined by cost anyway.
//!
//! Results are bit-for-bit those of the baseline build: Rust never contracts `a * b + c`
//! into a fused multiply-add on its own, and lane-wise operations round the same way at
//! every width.

use std::sync::atomic::{AtomicU8, Ordering};

/// A level of vector instructions, from the portable baseline up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The compile-time baseline (SSE2 on x86-64; whatever the target has elsewhere).
    Baseline,
    /// AVX2 with FMA: eight `f32` lanes and fused multiply-add.
    Avx2,
    /// AVX-512 (F, VL, BW, DQ) with FMA: sixteen `f32` lanes.
    Avx512,
}

/// 0 = not yet detected; otherwise `Level as u8 + 1`.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The best level this CPU supports (detected once, then cached).
///
/// `FERROGRAD_SIMD=baseline|avx2|avx512` caps it, to compare levels or to rule a CPU
/// feature out when chasing a numerical difference.
pub fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        0 => {
            let level = detect().min(env_cap());
            LEVEL.store(level as u8 + 1, Ordering::Relaxed);
            level
        }
        1 => Level::Baseline,
        2 => Level::Avx2,
        _ => Level::Avx512,
    }
}

fn env_cap() -> Level {
    match std::env::var("FERROGRAD_SIMD").as_deref() {
        Ok("baseline") => Level::Baseline,
        Ok("avx2") => Level::Avx2,
        _ => Level::Avx512,
    }
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
    // Every feature the AVX-512 variant enables is checked, AVX2 and FMA included (a VM
    // may mask CPUID bits independently).
    let avx2 =
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    if avx2
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512dq")
    {
        Level::Avx512
    } else if avx2 {
        Level::Avx2
    } else {
        Level::Baseline
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Level {
    Level::Baseline
}

/// Defines a function whose body is compiled for AVX-512, for AVX2 + FMA and for the
/// baseline, and which runs the best variant for this CPU (see the [module
/// docs](crate::simd)).
///
/// Form: doc comments and attributes, a visibility, `fn name`, optional generic parameters
/// each with one bound (`<T: Scalar, F: Fn(T) -> T>`), plain `name: Type` arguments, an
/// optional return type, and the body.
#[macro_export]
macro_rules! simd_kernel {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident $(<$($g:ident : $b:path),* $(,)?>)?
            ($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$meta])*
        $vis fn $name $(<$($g: $b),*>)? ($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)] // as many as the kernel itself takes
            fn body $(<$($g: $b),*>)? ($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512 $(<$($g: $b),*>)? ($($arg: $ty),*) $(-> $ret)? {
                    body $(::<$($g),*>)? ($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2 $(<$($g: $b),*>)? ($($arg: $ty),*) $(-> $ret)? {
                    body $(::<$($g),*>)? ($($arg),*)
                }
                match $crate::simd::level() {
                    // SAFETY: `level` returns these only after the CPU reported every
                    // feature that the called variant enables.
                    $crate::simd::Level::Avx512 => {
                        return unsafe { avx512 $(::<$($g),*>)? ($($arg),*) };
                    }
                    $crate::simd::Level::Avx2 => {
                        return unsafe { avx2 $(::<$($g),*>)? ($($arg),*) };
                    }
                    $crate::simd::Level::Baseline => {}
                }
            }
            body $(::<$($g),*>)? ($($arg),*)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::simd_kernel! {
        /// `y = x² - 0.5` through a closure argument, as element-wise ops use it.
        fn square_shift<T: crate::Scalar, F: Fn(T) -> T>(x: &[T], y: &mut [T], shift: F) {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = shift(x * x);
            }
        }
    }

    crate::simd_kernel! {
        fn total(x: &[f64]) -> f64 {
            x.iter().sum()
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_level_matches_what_the_cpu_reports() {
        let capped = std::env::var("FERROGRAD_SIMD").is_ok();
        let avx2 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        if !capped {
            assert_eq!(level() >= Level::Avx2, avx2);
        }
        if !avx2 {
            assert_eq!(level(), Level::Baseline);
        }
    }

    #[test]
    fn the_best_variant_computes_what_the_scalar_loop_does() {
        let x: Vec<f32> = (0..1037).map(|i| (i as f32).sin()).collect();
        let reference: Vec<f32> = x.iter().map(|&v| v * v - 0.5).collect();
        let mut y = vec![0.0f32; x.len()];
        square_shift(&x, &mut y, |v| v - 0.5);
        // No contraction into fused multiply-adds: the wide build rounds exactly as the
        // scalar reference.
        assert_eq!(y, reference);
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(total(&xs), 5050.0);
    }
}
