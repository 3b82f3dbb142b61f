//! Run-time choice of the CPU's vector instructions for element-wise and row loops.
//!
//! The library is compiled for the portable x86-64 baseline (SSE2, four `f32` lanes), so a
//! plain loop never uses the wider AVX2 or AVX-512 units of the machine it runs on.
//! [`simd_kernel!`](crate::simd_kernel) compiles a function three times — for AVX-512,
//! for AVX2 with FMA, and for the baseline — and calls the best one the CPU reports
//! (detected once, see [`level`]; `FERROGRAD_SIMD` caps it), as PyTorch's CPU kernels do
//! (`ATEN_CPU_CAPABILITY`). Every hand-written vector loop of the stack goes through it:
//! element-wise ops, row kernels, optimizer updates.
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
//! every width. One exception: small `f32` matrix products run on an AVX-512 kernel at
//! the AVX-512 level and on faer below it
//! ([`uses_small_kernel`](crate::kernel::uses_small_kernel)), and the two agree to
//! rounding, not to the bit.

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

/// Caps the level used from now on at `max` (never above what the CPU supports) and
/// returns the level in effect: a program's way to do what `FERROGRAD_SIMD` does, e.g.
/// to compare the results or the speed of two levels in one process. Kernels running
/// on other threads at that moment finish with the level they started with; every level
/// gives the same bits (see the module docs, and its one exception, small `f32` matrix
/// products), so otherwise only speed can differ.
///
/// ```
/// use ferrograd_linalg::cpu::simd::{self, Level};
/// assert_eq!(simd::set_max_level(Level::Baseline), Level::Baseline);
/// let best = simd::set_max_level(Level::Avx512); // back to the best this CPU has
/// assert_eq!(simd::level(), best);
/// ```
pub fn set_max_level(max: Level) -> Level {
    let level = detect().min(max);
    LEVEL.store(level as u8 + 1, Ordering::Relaxed);
    level
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
/// docs](crate::cpu::simd)).
///
/// Form: doc comments and attributes, a visibility, `fn name`, optional generic
/// parameters, plain `name: Type` arguments, an optional return type, and the body.
/// Generic parameters are types with one bound each (`T: Scalar`, `F: Fn(T) -> T`) and
/// const parameters (`const AMSGRAD: bool`, `const FLAGS: u8`), in any order, so an
/// optimizer can compile one loop per combination of its options:
///
/// ```
/// use ferrograd_linalg::{Scalar, simd_kernel};
///
/// simd_kernel! {
///     /// `w -= lr·g`, or `w += lr·g` when maximising: the branch folds away per variant.
///     fn sgd<T: Scalar, const MAXIMIZE: bool>(w: &mut [T], g: &[T], lr: T) {
///         for (w, &g) in w.iter_mut().zip(g) {
///             *w = if MAXIMIZE { *w + lr * g } else { *w - lr * g };
///         }
///     }
/// }
///
/// let mut w = vec![1.0f32; 3];
/// sgd::<f32, true>(&mut w, &[1.0, 2.0, 3.0], 0.5);
/// assert_eq!(w, [1.5, 2.0, 2.5]);
/// ```
#[macro_export]
macro_rules! simd_kernel {
    // Without generic parameters.
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident ($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $crate::simd_kernel!(@emit [$(#[$meta])*] [$vis] $name [] []
            ($($arg : $ty),*) [$($ret)?] $body);
    };
    // With generic parameters: collected one by one (`@generics`), then emitted.
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident < $($rest:tt)*
    ) => {
        $crate::simd_kernel!(@generics [$(#[$meta])*] [$vis] $name [] [] $($rest)*);
    };
    (@generics $attrs:tt $vis:tt $name:ident [$($decl:tt)*] [$($use:tt)*]
        const $c:ident : $ct:ty , $($rest:tt)*
    ) => {
        $crate::simd_kernel!(@generics $attrs $vis $name [$($decl)* const $c: $ct,] [$($use)* $c,]
            $($rest)*);
    };
    (@generics $attrs:tt $vis:tt $name:ident [$($decl:tt)*] [$($use:tt)*]
        const $c:ident : $ct:ty > $($rest:tt)*
    ) => {
        $crate::simd_kernel!(@signature $attrs $vis $name [$($decl)* const $c: $ct,] [$($use)* $c,]
            $($rest)*);
    };
    (@generics $attrs:tt $vis:tt $name:ident [$($decl:tt)*] [$($use:tt)*]
        $g:ident : $b:path , $($rest:tt)*
    ) => {
        $crate::simd_kernel!(@generics $attrs $vis $name [$($decl)* $g: $b,] [$($use)* $g,]
            $($rest)*);
    };
    (@generics $attrs:tt $vis:tt $name:ident [$($decl:tt)*] [$($use:tt)*]
        $g:ident : $b:path > $($rest:tt)*
    ) => {
        $crate::simd_kernel!(@signature $attrs $vis $name [$($decl)* $g: $b,] [$($use)* $g,]
            $($rest)*);
    };
    (@generics $attrs:tt $vis:tt $name:ident $decl:tt $use:tt > $($rest:tt)*) => {
        $crate::simd_kernel!(@signature $attrs $vis $name $decl $use $($rest)*);
    };
    (@signature $attrs:tt $vis:tt $name:ident $decl:tt $use:tt
        ($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $crate::simd_kernel!(@emit $attrs $vis $name $decl $use ($($arg : $ty),*) [$($ret)?] $body);
    };
    (@emit [$($attrs:tt)*] [$vis:vis] $name:ident [$($decl:tt)*] [$($use:tt)*]
        ($($arg:ident : $ty:ty),*) [$($ret:ty)?] $body:block
    ) => {
        $($attrs)*
        #[allow(clippy::too_many_arguments)] // as many as the kernel itself takes
        $vis fn $name <$($decl)*> ($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)] // as many as the kernel itself takes
            fn body <$($decl)*> ($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512 <$($decl)*> ($($arg: $ty),*) $(-> $ret)? {
                    body::<$($use)*>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2 <$($decl)*> ($($arg: $ty),*) $(-> $ret)? {
                    body::<$($use)*>($($arg),*)
                }
                match $crate::cpu::simd::level() {
                    // SAFETY: `level` returns these only after the CPU reported every
                    // feature that the called variant enables.
                    $crate::cpu::simd::Level::Avx512 => {
                        return unsafe { avx512::<$($use)*>($($arg),*) };
                    }
                    $crate::cpu::simd::Level::Avx2 => {
                        return unsafe { avx2::<$($use)*>($($arg),*) };
                    }
                    $crate::cpu::simd::Level::Baseline => {}
                }
            }
            body::<$($use)*>($($arg),*)
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

    crate::simd_kernel! {
        /// Const parameters before, between and after type parameters.
        fn flagged<const NEG: bool, T: crate::Scalar, const SCALE: u8>(x: &[T]) -> T {
            let s = x.iter().fold(T::ZERO, |a, &b| a + b) * T::from_f64(f64::from(SCALE));
            if NEG { -s } else { s }
        }
    }

    crate::simd_kernel! {
        fn only_const<const N: usize>(x: &[f32]) -> f32 {
            x.iter().take(N).sum()
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
        assert_eq!(flagged::<true, f64, 2>(&xs), -10100.0);
        assert_eq!(flagged::<false, f32, 1>(&[1.5, 2.0]), 3.5);
        assert_eq!(only_const::<2>(&[1.0, 2.0, 4.0]), 3.0);
    }
}
