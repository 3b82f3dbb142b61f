//! The Adam update kernel: one pass over a parameter's weights, gradient and state,
//! compiled once per combination of options (const `FLAGS`) and once per vector width
//! (`simd_kernel!`, so `FERROGRAD_SIMD` caps it like every kernel of the stack), split
//! over threads for large parameters by the kernel floor's partitioner.

use ferrograd_linalg::cpu::{partition, thresholds};
use ferrograd_linalg::simd_kernel;
use ferrograd_tensor::Scalar;

pub(super) const MAXIMIZE: u8 = 1;
pub(super) const L2: u8 = 2;
pub(super) const DECOUPLED: u8 = 4;
pub(super) const AMSGRAD: u8 = 8;
/// The lerp weight `1 − β₁` is below ½: PyTorch's lerp then computes `m + w·(g − m)`,
/// otherwise `g − (1 − w)·(g − m)`.
pub(super) const SMALL_WEIGHT: u8 = 16;

/// The per-step constants, computed in `f64` and rounded to `T` where PyTorch rounds them.
#[derive(Clone, Copy)]
pub(super) struct Consts<T> {
    /// λ for the L2 variant.
    pub(super) weight_decay: T,
    /// `1 − γ·λ` for the decoupled variant.
    pub(super) decay_factor: T,
    /// Lerp weight `1 − β₁` …
    pub(super) lerp_weight: T,
    /// … and `1 − (1 − β₁)` as PyTorch's lerp computes it in `T`.
    pub(super) lerp_complement: T,
    pub(super) beta2: T,
    pub(super) one_minus_beta2: T,
    /// `sqrt(1 − β₂ᵗ)`.
    pub(super) bias_correction2_sqrt: T,
    pub(super) eps: T,
    /// `−γ / (1 − β₁ᵗ)`.
    pub(super) neg_step_size: T,
}

simd_kernel! {
    /// One Adam step over one parameter: every state buffer and the weights in one pass.
    ///
    /// The arithmetic is PyTorch's `_single_tensor_adam`, operation by operation, in `T`:
    /// `m ← lerp(m, g, 1 − β₁)`, `v ← v·β₂ + ((1 − β₂)·g)·g`,
    /// `denom ← sqrt(v̂)/sqrt(1 − β₂ᵗ) + ε`, `θ ← θ + (−γ/(1 − β₁ᵗ))·(m/denom)`.
    fn update_slice<T: Scalar, const FLAGS: u8>(
        w: &mut [T],
        g: &[T],
        m: &mut [T],
        v: &mut [T],
        vmax: &mut [T],
        c: Consts<T>,
    ) {
        let n = w.len();
        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
        let vmax = if FLAGS & AMSGRAD != 0 {
            &mut vmax[..n]
        } else {
            &mut vmax[..0]
        };
        for i in 0..n {
            let mut grad = if FLAGS & MAXIMIZE != 0 { -g[i] } else { g[i] };
            let mut theta = w[i];
            if FLAGS & DECOUPLED != 0 {
                theta *= c.decay_factor;
            }
            if FLAGS & L2 != 0 {
                grad += c.weight_decay * theta;
            }
            let diff = grad - m[i];
            let mi = if FLAGS & SMALL_WEIGHT != 0 {
                m[i] + c.lerp_weight * diff
            } else {
                grad - diff * c.lerp_complement
            };
            m[i] = mi;
            let vi = v[i] * c.beta2 + c.one_minus_beta2 * grad * grad;
            v[i] = vi;
            let second = if FLAGS & AMSGRAD != 0 {
                // NaN-propagating maximum, as torch.maximum. Written so that no branch of the
                // select is the old value itself: LLVM would turn `store(select(c, new, old))`
                // into a masked store, which is microcoded (slow) on AMD CPUs.
                let old = vmax[i];
                let max = if vi.is_nan() || old.is_nan() {
                    vi + old
                } else {
                    old.max(vi)
                };
                vmax[i] = max;
                max
            } else {
                vi
            };
            let denom = second.sqrt() / c.bias_correction2_sqrt + c.eps;
            w[i] = theta + c.neg_step_size * (mi / denom);
        }
    }
}

/// The update of one parameter, on several threads when it has at least
/// [`thresholds::OPTIMIZER`] elements; each element's arithmetic is independent of the
/// others, so results are identical to the single-thread update. `vmax` is empty unless
/// `FLAGS` has [`AMSGRAD`].
pub(super) fn update<T: Scalar, const FLAGS: u8>(
    w: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: &mut [T],
    c: Consts<T>,
) {
    let n = w.len();
    let vmax = if FLAGS & AMSGRAD != 0 { vmax } else { &mut [] };
    partition::ranges_mut(
        n,
        [w, m, v, vmax],
        thresholds::OPTIMIZER,
        |range, [w, m, v, vmax]| {
            update_slice::<T, FLAGS>(w, &g[range], m, v, vmax, c);
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimizer::dispatch_flags;
    use ferrograd_linalg::cpu::simd::{self, Level};

    /// Every vector width must give the bits of the baseline build: the same IEEE
    /// operations (no FMA), each correctly rounded, only more lanes at a time; and the
    /// split over threads must not change them either.
    #[test]
    fn every_vector_width_and_thread_split_gives_the_baseline_bits() {
        let _settings = crate::optimizer::KERNEL_SETTINGS
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut rng = ferrograd_tensor::Rng::new(3);
        // Not a multiple of any vector width (tails), and large enough to be split.
        let n = (1 << 17) + 37;
        let mut fill =
            |scale: f64| -> Vec<f32> { (0..n).map(|_| (rng.normal() * scale) as f32).collect() };
        let (w0, g, m0) = (fill(1.0), fill(0.1), fill(0.01));
        let v0: Vec<f32> = fill(1e-3).iter().map(|x| x * x).collect();
        let c = Consts {
            weight_decay: 0.01f32,
            decay_factor: 0.999,
            lerp_weight: 0.1,
            lerp_complement: 0.9,
            beta2: 0.999,
            one_minus_beta2: 0.001,
            bias_correction2_sqrt: 0.0447,
            eps: 1e-8,
            neg_step_size: -0.0123,
        };
        let run = |flags: u8, level: Level, threads: usize| {
            simd::set_max_level(level);
            ferrograd_linalg::set_num_threads(threads);
            let (mut w, mut m, mut v, mut vmax) = (w0.clone(), m0.clone(), v0.clone(), v0.clone());
            let (w_, m_, v_, x_) = (&mut w[..], &mut m[..], &mut v[..], &mut vmax[..]);
            dispatch_flags!(flags, update::<f32>(w_, &g, m_, v_, x_, c),
                [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
                 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31]);
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            (bits(&w), bits(&m), bits(&v), bits(&vmax))
        };
        for flags in 0..32 {
            if flags & L2 != 0 && flags & DECOUPLED != 0 {
                continue; // never both
            }
            let baseline = run(flags, Level::Baseline, 1);
            assert_eq!(run(flags, Level::Avx2, 1), baseline, "AVX2, flags {flags}");
            assert_eq!(
                run(flags, Level::Avx512, 2),
                baseline,
                "best, 2 threads, flags {flags}"
            );
        }
        simd::set_max_level(Level::Avx512);
    }
}
