//! Register-blocked products of small `f32` matrices on AVX-512, with no packing of the
//! left operand and no set-up: the path [`crate::kernel::gemm`] takes for products of at
//! most [`SMALL_MAX_WORK`] multiply-adds.
//!
//! Attention multiplies tiny blocks, tens of thousands of times per training step (per
//! head and query block: `[32, 16] · [16, 128]` scores, `[32, 128] · [128, 16]` values).
//! faer's set-up costs about 0.8 µs per call whatever the size (in the chapter-4 decoder's
//! step a `[32, 32, 16]` product took 1.24 µs and a `[32, 128, 16]` one 2.5 µs), more than
//! the arithmetic of such a product. Here each tile of the output (up to 6 rows × 64
//! columns, 24 of AVX-512's 32 registers) is summed in registers over the whole inner
//! dimension, reading the left operand element by element (any strides) and the right
//! one row by row (masked loads at the right edge, so any width).
//!
//! A right operand whose rows are not contiguous (a transposed view, as `Kᵀ` in `Q·Kᵀ`)
//! is first copied into a thread-local scratch: `k·n` copies against `m·n·k`
//! multiply-adds.
//!
//! Each output element is `alpha · Σₚ a_ip·b_pj`, the sum taken in order of `p` with one
//! fused multiply-add per term, then scaled (and added to the output when accumulating).
//! The path is written with AVX-512 intrinsics, so it runs for `f32` on CPUs with
//! AVX-512 only; faer runs every other product (AVX2 machines, `f64`).

use crate::Scalar;
use crate::cpu::simd::{self, Level};
use crate::scalar::{RawMat, RawMatMut};
use std::any::TypeId;
use std::cell::Cell;

/// The largest product (`m·n·k` multiply-adds) that [`crate::kernel::gemm`] runs on this
/// kernel. Up to it the kernel was as fast as faer or faster at every shape of
/// `examples/small_products.rs` (AMD Zen 4: 3–25% faster alone, the gap widest for the
/// smallest products); past it faer's blocking for the caches matters more than its
/// set-up.
pub const SMALL_MAX_WORK: usize = 1 << 18;

/// The kernel's other limits: at least one whole vector of output columns (a narrower
/// output, a matrix-vector or dot product, would leave most lanes idle and sum in too
/// few independent chains) and at most this inner dimension (each output tile sums the
/// whole of it in one chain per register).
pub const SMALL_MAX_INNER: usize = 512;

/// The fewest output columns the kernel takes: one AVX-512 vector of `f32`.
const SMALL_MIN_COLS: usize = 16;

/// Whether [`crate::kernel::gemm`] runs an `m×k · k×n` product here, writing an output
/// whose columns are `col_stride` apart: `f32`, a small product ([`SMALL_MAX_WORK`]) at
/// least 16 columns wide with an inner dimension in `1..=`[`SMALL_MAX_INNER`], an output
/// with contiguous rows, and a CPU with AVX-512. (With `k = 0`, faer writes zeros, where
/// `alpha · 0` would be NaN for a non-finite `alpha`.)
pub(crate) fn applies<T: Scalar>(m: usize, n: usize, k: usize, col_stride: isize) -> bool {
    TypeId::of::<T>() == TypeId::of::<f32>()
        && col_stride == 1
        && n >= SMALL_MIN_COLS
        && (1..=SMALL_MAX_INNER).contains(&k)
        && m.saturating_mul(n).saturating_mul(k) <= SMALL_MAX_WORK
        && simd::level() == Level::Avx512
}

thread_local! {
    /// Scratch for a right operand that has to be copied (kept between calls: attention
    /// copies one per query block).
    static PACKED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// `dst = alpha · lhs · rhs`, or `dst += …` when `accumulate`.
///
/// # Safety
/// As [`Scalar::gemm_unchecked`]: every element the views address lies in its allocation
/// and `dst` overlaps neither operand. [`applies`] must hold (so `T` is `f32`).
pub(crate) unsafe fn gemm<T: Scalar>(
    dst: RawMatMut<T>,
    lhs: RawMat<T>,
    rhs: RawMat<T>,
    alpha: T,
    accumulate: bool,
) {
    let f32_mat = |m: RawMat<T>| RawMat {
        ptr: m.ptr.cast::<f32>(),
        rows: m.rows,
        cols: m.cols,
        row_stride: m.row_stride,
        col_stride: m.col_stride,
    };
    let args = Tiles {
        dst: RawMatMut {
            ptr: dst.ptr.cast::<f32>(),
            rows: dst.rows,
            cols: dst.cols,
            row_stride: dst.row_stride,
            col_stride: dst.col_stride,
        },
        lhs: f32_mat(lhs),
        b: rhs.ptr.cast::<f32>(),
        b_rs: rhs.row_stride,
        // `T` is `f32` (`applies`), so the conversion is exact.
        alpha: alpha.to_f64() as f32,
        accumulate,
    };
    if rhs.col_stride == 1 {
        // SAFETY: forwarded from the caller; `rhs`'s rows are contiguous and the kernel
        // reads only their `n` columns (masked at the edge).
        unsafe { all_tiles(args) };
        return;
    }
    let (n, k) = (dst.cols, lhs.cols);
    let mut packed = Vec::new();
    // Taken out of the cell (so a nested call, none today, would get its own); a fresh
    // buffer when the thread-local one is gone (a product run while the thread's locals
    // are being destroyed).
    let _ = PACKED.try_with(|cell| packed = cell.take());
    packed.clear();
    packed.resize(k * n, 0.0);
    let b = f32_mat(rhs);
    // Column by column of `rhs`: a transposed view (`Kᵀ`) has its columns contiguous, so
    // the reads run along memory and the writes, `n` apart, land in the scratch, which
    // stays in cache. Row by row, every read would hit another line of `rhs`, and with a
    // row stride that is a multiple of a large power of two (a head's rows are 384 floats
    // apart) those lines fall in a few cache sets and evict each other.
    for j in 0..n {
        let column = b.ptr.wrapping_offset(j as isize * b.col_stride);
        for (p, slot) in packed[j..].iter_mut().step_by(n).enumerate() {
            // SAFETY: element `(p, j)` of the checked `rhs` (`p < k`: `packed` has `k`
            // rows of `n`).
            *slot = unsafe { *column.wrapping_offset(p as isize * b.row_stride) };
        }
    }
    let args = Tiles {
        b: packed.as_ptr(),
        b_rs: n as isize,
        ..args
    };
    // SAFETY: the packed rows hold the `n` columns of `rhs`; the rest is forwarded.
    unsafe { all_tiles(args) };
    let _ = PACKED.try_with(|cell| cell.set(packed));
}

/// The arguments of one product.
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // read by the x86-64 kernel only
struct Tiles {
    dst: RawMatMut<f32>,
    lhs: RawMat<f32>,
    /// The right operand's rows (contiguous, `dst.cols` long), `b_rs` apart.
    b: *const f32,
    b_rs: isize,
    alpha: f32,
    accumulate: bool,
}

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m512, __mmask16, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps,
    _mm512_maskz_loadu_ps, _mm512_mul_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};

/// Every tile of the output: 6 rows × 64 columns while four whole vectors of columns
/// remain, then 8 rows × 16 columns (the last one masked).
///
/// # Safety
/// As [`gemm`]; the CPU has AVX-512 ([`applies`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,fma")]
unsafe fn all_tiles(args: Tiles) {
    let n = args.dst.cols;
    let mut j0 = 0;
    while n - j0 >= 64 {
        // SAFETY: columns `j0..j0 + 64` lie in the output and in `b`'s rows.
        unsafe { row_tiles::<6, 4>(&args, j0) };
        j0 += 64;
    }
    while j0 < n {
        // SAFETY: columns `j0..min(j0 + 16, n)` lie in the output and in `b`'s rows; the
        // rest are masked off.
        unsafe { row_tiles::<8, 1>(&args, j0) };
        j0 += 16;
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn all_tiles(_: Tiles) {
    unreachable!("`applies` is false off x86-64")
}

/// The tiles of columns `j0..j0 + 16·V` (masked past the output's width), over every row:
/// `R` rows at a time, then the remaining rows as one smaller tile.
///
/// # Safety
/// As [`all_tiles`]; column `j0` lies in the output.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,fma")]
#[inline]
unsafe fn row_tiles<const R: usize, const V: usize>(args: &Tiles, j0: usize) {
    let m = args.dst.rows;
    let mut i0 = 0;
    while i0 + R <= m {
        // SAFETY: rows `i0..i0 + R` lie in the output.
        unsafe { tile::<R, V>(args, i0, j0) };
        i0 += R;
    }
    // SAFETY (each arm): rows `i0..m` lie in the output. Arms past `R − 1` never run.
    unsafe {
        match m - i0 {
            0 => {}
            1 => tile::<1, V>(args, i0, j0),
            2 => tile::<2, V>(args, i0, j0),
            3 => tile::<3, V>(args, i0, j0),
            4 => tile::<4, V>(args, i0, j0),
            5 => tile::<5, V>(args, i0, j0),
            6 => tile::<6, V>(args, i0, j0),
            _ => tile::<7, V>(args, i0, j0),
        }
    }
}

/// Output rows `i0..i0 + R`, columns `j0..j0 + 16·V` (those that exist), summed in
/// registers.
///
/// # Safety
/// As [`all_tiles`]; rows `i0..i0 + R` and column `j0` lie in the output.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,fma")]
#[inline]
unsafe fn tile<const R: usize, const V: usize>(args: &Tiles, i0: usize, j0: usize) {
    let k = args.lhs.cols;
    let (a_rs, a_cs) = (args.lhs.row_stride, args.lhs.col_stride);
    let a = args.lhs.ptr.wrapping_offset(i0 as isize * a_rs);
    // Lanes of each column vector that lie in the output (all but at the right edge).
    let masks: [__mmask16; V] = std::array::from_fn(|v| {
        let left = args.dst.cols.saturating_sub(j0 + 16 * v).min(16);
        ((1u32 << left) - 1) as __mmask16
    });
    let mut acc: [[__m512; V]; R] = [[_mm512_setzero_ps(); V]; R];
    for p in 0..k {
        let row = args
            .b
            .wrapping_offset(p as isize * args.b_rs)
            .wrapping_add(j0);
        // SAFETY: row `p` of `b`, the lanes of columns that exist (masked loads do not
        // touch the others).
        let b: [__m512; V] = std::array::from_fn(|v| unsafe {
            if V > 1 {
                _mm512_loadu_ps(row.add(16 * v))
            } else {
                _mm512_maskz_loadu_ps(masks[v], row.add(16 * v))
            }
        });
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: element `(i0 + r, p)` of the checked `lhs`.
            let x = _mm512_set1_ps(unsafe {
                *a.wrapping_offset(r as isize * a_rs + p as isize * a_cs)
            });
            for (acc, &b) in acc.iter_mut().zip(&b) {
                *acc = _mm512_fmadd_ps(x, b, *acc);
            }
        }
    }
    let alpha = _mm512_set1_ps(args.alpha);
    let d = &args.dst;
    for (r, acc) in acc.iter().enumerate() {
        let out = d
            .ptr
            .wrapping_offset((i0 + r) as isize * d.row_stride)
            .wrapping_add(j0);
        for (v, &acc) in acc.iter().enumerate() {
            let at = out.wrapping_add(16 * v);
            let mut value = _mm512_mul_ps(alpha, acc);
            // SAFETY: output row `i0 + r`, the lanes of columns that exist (contiguous,
            // `applies`); nothing else aliases the output.
            unsafe {
                if V > 1 {
                    if args.accumulate {
                        value = _mm512_add_ps(_mm512_loadu_ps(at), value);
                    }
                    _mm512_storeu_ps(at, value);
                } else {
                    if args.accumulate {
                        value = _mm512_add_ps(_mm512_maskz_loadu_ps(masks[v], at), value);
                    }
                    _mm512_mask_storeu_ps(at, masks[v], value);
                }
            }
        }
    }
}
