//! The small-product kernel that `kernel::gemm` runs for small `f32` products on AVX-512
//! CPUs, against a naive `f64` product: every shape class the kernel tiles differently
//! (6×64 tiles, 8×16 tiles with masked edges, leftover rows 1–7), every operand layout
//! (strided rows, transposed views, a right operand that has to be copied), overwrite and
//! accumulate, and the output's padding left untouched. On other CPUs the same products
//! run on faer and the test checks those.

use ferrograd_linalg::kernel::{
    MatView, MatViewMut, SMALL_MAX_INNER, SMALL_MAX_WORK, gemm, uses_small_kernel,
};
use ferrograd_linalg::simd::{self, Level};

/// Deterministic values in [−1, 1).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0) as f32
        })
        .collect()
}

/// One product's layouts: operands stored transposed or not, extra row stride.
#[derive(Debug, Clone, Copy)]
struct Layout {
    lhs_t: bool,
    rhs_t: bool,
    pad: usize,
    accumulate: bool,
}

/// Runs `dst (+)= alpha·lhs·rhs` through `gemm` with these layouts and checks every
/// element against the `f64` product, and every padding element of `dst` unchanged.
fn check(m: usize, n: usize, k: usize, layout: Layout, seed: u64) {
    let Layout {
        lhs_t,
        rhs_t,
        pad,
        accumulate,
    } = layout;
    let alpha = 0.75f32;
    // Stored shapes: lhs [m, k] or [k, m]; rhs [k, n] or [n, k]; each row `pad` longer.
    let (lr, lc) = if lhs_t { (k, m) } else { (m, k) };
    let (rr, rc) = if rhs_t { (n, k) } else { (k, n) };
    let a = values(lr * (lc + pad), seed);
    let b = values(rr * (rc + pad), seed + 1);
    let ld = n + pad;
    let start = values(m * ld, seed + 2);
    let mut out = start.clone();
    let lhs = MatView::new(&a, 0, lr, lc, (lc + pad) as isize, 1).unwrap();
    let rhs = MatView::new(&b, 0, rr, rc, (rc + pad) as isize, 1).unwrap();
    let lhs = if lhs_t { lhs.transpose() } else { lhs };
    let rhs = if rhs_t { rhs.transpose() } else { rhs };
    let dst = MatViewMut::new(&mut out, 0, m, n, ld as isize, 1).unwrap();
    gemm(dst, lhs, rhs, alpha, accumulate).unwrap();
    let at = |data: &[f32], rows_t: bool, cols: usize, i: usize, p: usize| -> f64 {
        let stride = cols + pad;
        f64::from(if rows_t {
            data[p * stride + i]
        } else {
            data[i * stride + p]
        })
    };
    for i in 0..m {
        for j in 0..ld {
            let got = f64::from(out[i * ld + j]);
            let before = f64::from(start[i * ld + j]);
            if j >= n {
                assert_eq!(
                    got, before,
                    "padding ({i}, {j}) written, {m}×{n}×{k} {layout:?}"
                );
                continue;
            }
            let (mut exact, mut size) = (0.0f64, 0.0f64);
            for p in 0..k {
                let term = at(&a, lhs_t, lc, i, p) * at(&b, !rhs_t, rc, j, p);
                exact += term;
                size += term.abs();
            }
            let base = if accumulate { before } else { 0.0 };
            let want = base + f64::from(alpha) * exact;
            // k fused multiply-adds, the scaling and the final add each round once in
            // f32 (unit roundoff 2⁻²⁴): the standard bound for a recursive sum.
            let tol = (k as f64 + 2.0) * 2f64.powi(-24) * (f64::from(alpha) * size + base.abs())
                + f64::from(f32::MIN_POSITIVE);
            assert!(
                (got - want).abs() <= tol,
                "({i}, {j}) of {m}×{n}×{k} {layout:?}: {got} vs {want} (tolerance {tol:e})"
            );
        }
    }
}

#[test]
fn small_products_match_the_f64_product() {
    // Widths: under one vector, one, masked edges, the 64-wide tile and past it;
    // heights: every leftover row count of both tile kinds.
    let widths = [1, 5, 16, 17, 30, 48, 64, 65, 100, 128];
    let heights = [1, 2, 3, 5, 6, 7, 8, 9, 13, 32];
    let depths = [1, 3, 16, 32, 64];
    let mut seed = 1;
    let mut checked = 0;
    for &n in &widths {
        for &m in &heights {
            for &k in &depths {
                if m * n * k > SMALL_MAX_WORK {
                    continue;
                }
                let layout = Layout {
                    lhs_t: seed % 2 == 0,
                    rhs_t: seed % 3 == 0,
                    pad: [0, 3, 16][(seed % 3) as usize],
                    accumulate: seed % 5 < 2,
                };
                check(m, n, k, layout, seed);
                seed += 1;
                checked += 1;
            }
        }
    }
    assert_eq!(checked, widths.len() * heights.len() * depths.len());
    // Attention's shapes, every layout.
    for (m, n, k) in [(32, 128, 16), (30, 30, 16), (128, 16, 32), (32, 64, 64)] {
        for lhs_t in [false, true] {
            for rhs_t in [false, true] {
                for accumulate in [false, true] {
                    let layout = Layout {
                        lhs_t,
                        rhs_t,
                        pad: 7,
                        accumulate,
                    };
                    check(m, n, k, layout, seed);
                    seed += 1;
                }
            }
        }
    }
}

#[test]
fn the_small_kernel_is_chosen_by_size_type_and_cpu() {
    let avx512 = simd::level() == Level::Avx512;
    assert_eq!(uses_small_kernel::<f32>(32, 128, 16), avx512);
    assert_eq!(uses_small_kernel::<f32>(64, 64, 64), avx512);
    assert!(!uses_small_kernel::<f32>(64, 64, 65));
    assert!(!uses_small_kernel::<f64>(32, 128, 16));
    assert_eq!(SMALL_MAX_WORK, 64 * 64 * 64);
    // Narrower than a vector (matrix-vector and dot products), no inner dimension, or a
    // long one: faer.
    assert!(!uses_small_kernel::<f32>(64, 15, 16));
    assert!(!uses_small_kernel::<f32>(1, 1, 4096));
    assert!(!uses_small_kernel::<f32>(32, 32, 0));
    assert_eq!(uses_small_kernel::<f32>(1, 16, SMALL_MAX_INNER), avx512);
    assert!(!uses_small_kernel::<f32>(1, 16, SMALL_MAX_INNER + 1));
}

#[test]
fn negative_strides_and_an_empty_inner_dimension() {
    // lhs rows read bottom-up, rhs rows bottom-up, output rows bottom-up.
    let (m, n, k) = (7, 40, 12);
    let a = values(m * k, 21);
    let b = values(k * n, 22);
    let mut out = vec![0.0f32; m * n];
    let lhs = MatView::new(&a, (m - 1) * k, m, k, -(k as isize), 1).unwrap();
    let rhs = MatView::new(&b, (k - 1) * n, k, n, -(n as isize), 1).unwrap();
    let dst = MatViewMut::new(&mut out, (m - 1) * n, m, n, -(n as isize), 1).unwrap();
    gemm(dst, lhs, rhs, 1.0, false).unwrap();
    for i in 0..m {
        for j in 0..n {
            let (mut exact, mut size) = (0.0f64, 0.0f64);
            for p in 0..k {
                let term = f64::from(a[(m - 1 - i) * k + p]) * f64::from(b[(k - 1 - p) * n + j]);
                exact += term;
                size += term.abs();
            }
            let got = f64::from(out[(m - 1 - i) * n + j]);
            // As above: k + 2 roundings of 2⁻²⁴.
            let tol = (k as f64 + 2.0) * 2f64.powi(-24) * size;
            assert!((got - exact).abs() <= tol, "({i}, {j}): {got} vs {exact}");
        }
    }
    // No inner dimension: the product is zero, even scaled by a non-finite alpha.
    let empty: [f32; 0] = [];
    let mut out = vec![1.0f32; 4 * 32];
    gemm(
        MatViewMut::row_major(&mut out, 4, 32).unwrap(),
        MatView::row_major(&empty, 4, 0).unwrap(),
        MatView::row_major(&empty, 0, 32).unwrap(),
        f32::INFINITY,
        false,
    )
    .unwrap();
    assert!(out.iter().all(|&v| v == 0.0));
}

#[test]
fn nan_and_infinity_propagate() {
    let mut a = values(4 * 8, 7);
    let b = values(8 * 20, 8);
    a[8 + 3] = f32::NAN; // row 1
    a[2 * 8] = f32::INFINITY; // row 2
    let mut out = vec![0.0f32; 4 * 20];
    gemm(
        MatViewMut::row_major(&mut out, 4, 20).unwrap(),
        MatView::row_major(&a, 4, 8).unwrap(),
        MatView::row_major(&b, 8, 20).unwrap(),
        1.0,
        false,
    )
    .unwrap();
    assert!(out[..20].iter().all(|v| v.is_finite()));
    assert!(out[20..40].iter().all(|v| v.is_nan()));
    // ∞·b is ±∞ (b has no zeros here), never a silent finite value.
    assert!(out[40..60].iter().all(|v| v.is_infinite()));
    assert!(out[60..].iter().all(|v| v.is_finite()));
}
