//! The sizes from which each kind of kernel splits its work over threads, in one place.
//!
//! Below a threshold, handing part of the work to another thread costs more than it saves
//! (the handshake with a spinning worker of [`crate::cpu::pool`] is ~1 µs, waking a
//! sleeping one tens of µs on the VMs measured here). Each value names the measurement
//! behind it. [`set_num_threads`](crate::cpu::set_num_threads)`(1)` turns every parallel
//! path off.

use crate::Scalar;
use crate::cpu::threads::num_threads;

/// Element-wise kernels (unary, binary, ternary maps, reductions of whole tensors) split
/// from this many elements: `add_1m` at two threads is ~2.3× faster than at one, and a
/// 64k-element add (~10 µs) gains nothing measurable.
pub const ELEMENTWISE: usize = 1 << 17;

/// Row kernels (softmax, log-softmax, logsumexp, layer/RMS norm, cross-entropy, their
/// backward) split from this many elements in total, in blocks of whole rows.
/// `softmax_64x32000` (2M elements) runs 2.0× faster at two threads; the threshold is
/// the element-wise one, as a row kernel costs about as much per element.
pub const ROWS: usize = 1 << 17;

/// Optimizer updates (Adam, AdamW, SGD) split a parameter from this many elements: the
/// update does ~15 operations per element over four buffers, so a 64k-element parameter
/// (~40 µs) is worth splitting and a bias is not.
pub const OPTIMIZER: usize = 1 << 16;

/// Smallest product size `m * n * k` for which a matrix product is split over threads.
///
/// Below it, starting the worker threads costs more than it saves. The value is `2^22`
/// (about `161³`) for `f32` and `2^21` (`128³`) for `f64`; in addition the output must
/// have at least [`GEMM_MIN_OUTPUT`] elements: the product is split over the output
/// (the measurement below), or, for an inner dimension at least
/// [`SPLIT_INNER_RATIO`](crate::kernel::SPLIT_INNER_RATIO) times the output's longer
/// side and an output of at most
/// [`SPLIT_INNER_MAX_OUTPUT`](crate::kernel::SPLIT_INNER_MAX_OUTPUT) elements, over the
/// inner dimension, where each thread then forms and adds a whole output.
///
/// # Measurement
///
/// `cargo bench -p ferrograd-linalg --bench gemm_threshold` times faer's product on
/// row-major views (what [`crate::kernel::gemm`] runs) with `Par::Seq` and `Par::rayon(2)`,
/// criterion, 10 samples per point, on the project's quiet 2-core AMD EPYC VM (load
/// average below 0.1 before the run), 2026-11-29. GFLOP/s (criterion's estimates,
/// rounded), 1 thread / 2 threads:
///
/// | `m×k×n` | f32 | f64 |
/// |---|---:|---:|
/// | 64×64×64 | 109 / 25 | 53 / 18 |
/// | 128×128×128 | 108 / 93 | 56 / 69 |
/// | 192×192×192 | 114 / 139 | 57 / 88 |
/// | 256×256×256 | 114 / 175 | 56 / 94 |
/// | 384×384×384 | 113 / 210 | 57 / 87 |
/// | 512×512×512 | 114 / 216 | 54 / 107 |
/// | 1024×1024×1024 | 101 / 203 | 52 / 107 |
/// | 4096×64×64 | 109 / 151 | 54 / 95 |
/// | 64×4096×64 | 111 / 49 | 56 / 55 |
/// | 2048×256×32 | 105 / 192 | 55 / 101 |
/// | 32×256×2048 | 106 / 165 | 51 / 91 |
/// | 1024×1024×16 | 110 / 179 | 56 / 97 |
///
/// (`gemm` does not use faer's rayon mode: a parallel product is split into one
/// sequential block per thread on [`crate::cpu::pool`], whose workers are usually
/// awake, so these thresholds, set from faer's mode, err on the side of one thread.)
///
/// Two threads lose at `128³` and win from `192³` (f32), lose at `64³` and win from
/// `128³` (f64), and lose on 64×4096×64 (work in the inner dimension, a 64×64 output)
/// at both precisions. The thresholds sit at the break-even points. On a machine shared
/// with other jobs the second core is often busy and two threads win less; the first
/// measurements, under a load average of 1.5–6.5, found no size where they reliably won.
pub fn gemm_threshold<T: Scalar>() -> usize {
    if T::DTYPE == "float32" {
        F32_GEMM_MIN_WORK
    } else {
        F64_GEMM_MIN_WORK
    }
}

/// f32: see [`gemm_threshold`] for the measurement behind this value.
const F32_GEMM_MIN_WORK: usize = 1 << 22;
/// f64: see [`gemm_threshold`] for the measurement behind this value.
const F64_GEMM_MIN_WORK: usize = 1 << 21;

/// Smallest output (`m * n` elements) for which a product is split; see
/// [`gemm_threshold`].
pub const GEMM_MIN_OUTPUT: usize = 1 << 14;

/// Smallest block (rows or columns of the output) a parallel product is split into.
pub const GEMM_MIN_BLOCK: usize = 32;

/// Whether an `m×k · k×n` product should run on several threads.
pub fn gemm_parallel<T: Scalar>(m: usize, n: usize, k: usize) -> bool {
    let output = m.saturating_mul(n);
    num_threads() > 1
        && output >= GEMM_MIN_OUTPUT
        && output.saturating_mul(k) >= gemm_threshold::<T>()
}
