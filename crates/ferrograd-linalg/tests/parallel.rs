//! The parallel matrix product against the sequential one and a naive reference.
//!
//! This file holds a single test because it changes the process-wide thread count
//! ([`set_num_threads`]); it is a test binary of its own (the crate's other integration
//! tests are one binary, `tests/integration.rs`), so other tests are not affected.
//!
//! faer-rs#273 reports silently wrong *multi-threaded* f64 products on row-major views
//! (deterministic, single-threaded correct), triggered by inputs with large blocks of
//! exact zeros. We compare both modes on such inputs, on row-major, column-major and
//! transposed views, for sizes chosen just past the parallel threshold (so the test
//! follows the threshold when it is re-measured).

mod common;

use common::{assert_close, naive_product, product_tol, to_f64};
use ferrograd_linalg::kernel::{
    MatView, MatViewMut, SPLIT_INNER_MAX_OUTPUT, SPLIT_INNER_RATIO, gemm, parallel_threshold,
    splits_inner, use_parallel,
};
use ferrograd_linalg::{Matrix, Scalar, Vector, set_num_threads};

/// Smallest square size whose product runs in parallel with 2 threads.
fn parallel_size<T: Scalar>() -> usize {
    let mut n = (parallel_threshold::<T>() as f64).cbrt().floor() as usize;
    while n * n * n < parallel_threshold::<T>() {
        n += 1;
    }
    n + 3 // not a multiple of the SIMD width
}

/// Values with exact-zero blocks (a quarter of the matrix) and mixed signs.
fn block_zero_values<T: Scalar>(rows: usize, cols: usize, seed: u64) -> Vec<T> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(rows * cols);
    for i in 0..rows {
        for j in 0..cols {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let v = (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            let zero_block = i >= rows / 2 && j < cols / 2;
            out.push(T::from_f64(if zero_block { 0.0 } else { v * 46.0 }));
        }
    }
    out
}

/// `A·B` with `A` given row-major (`col_major = false`) or column-major, and `B` used
/// transposed when `b_transposed`, with `threads` threads.
fn product<T: Scalar>(
    a_buf: &[T],
    b_buf: &[T],
    n: usize,
    col_major: bool,
    b_transposed: bool,
    threads: usize,
) -> Vec<T> {
    set_num_threads(threads);
    let a = if col_major {
        MatView::new(a_buf, 0, n, n, 1, n as isize).unwrap()
    } else {
        MatView::row_major(a_buf, n, n).unwrap()
    };
    let b = MatView::row_major(b_buf, n, n).unwrap();
    let b = if b_transposed { b.transpose() } else { b };
    let mut c = vec![T::ZERO; n * n];
    gemm(
        MatViewMut::row_major(&mut c, n, n).unwrap(),
        a,
        b,
        T::ONE,
        false,
    )
    .unwrap();
    c
}

/// Element `(i, j)` of `A·B` in f64 by the textbook loop, with `Σ|aᵢₗ||bₗⱼ|`.
fn naive_entry<T: Scalar>(
    a: &MatView<'_, T>,
    b: &MatView<'_, T>,
    i: usize,
    j: usize,
) -> (f64, f64) {
    (0..a.cols()).fold((0.0, 0.0), |(acc, abs), l| {
        let p = a.get(i, l).unwrap().to_f64() * b.get(l, j).unwrap().to_f64();
        (acc + p, abs + p.abs())
    })
}

fn views<'a, T: Scalar>(
    a: &'a [T],
    b: &'a [T],
    n: usize,
    col_major: bool,
    b_transposed: bool,
) -> (MatView<'a, T>, MatView<'a, T>) {
    let av = if col_major {
        MatView::new(a, 0, n, n, 1, n as isize).unwrap()
    } else {
        MatView::row_major(a, n, n).unwrap()
    };
    let bv = MatView::row_major(b, n, n).unwrap();
    (av, if b_transposed { bv.transpose() } else { bv })
}

/// A product whose inner dimension is much longer than its output (a weight gradient
/// `gᵀ·x` over many rows) is split over the inner dimension, one partial product per
/// thread added at the end: at 2 and 3 threads, into a row-major and into a column-major
/// (strided) output, replacing and accumulating, every element against the naive product
/// and the sequential one.
fn check_inner_split<T: Scalar>() {
    // Odd sizes: uneven inner blocks (1031 = 516 + 515, or 344 + 344 + 343).
    let (m, k, n) = (131usize, 1031usize, 127usize);
    assert!(k >= SPLIT_INNER_RATIO * m.max(n) && m * n <= SPLIT_INNER_MAX_OUTPUT);
    // The decision `gemm` takes: split over the inner dimension at several threads only.
    set_num_threads(2);
    assert!(splits_inner::<T>(m, n, k));
    assert!(
        !splits_inner::<T>(m, n, m.max(n)),
        "a short inner dimension"
    );
    assert!(
        !splits_inner::<T>(2048, 1024, 8192),
        "an output above SPLIT_INNER_MAX_OUTPUT"
    );
    set_num_threads(1);
    assert!(!splits_inner::<T>(m, n, k), "one thread");
    // `A` is the transposed view of a row-major [k, m] buffer, as `gᵀ` in a weight
    // gradient; `B` is row-major [k, n].
    let g = block_zero_values::<T>(k, m, 31);
    let x = block_zero_values::<T>(k, n, 32);
    let a = MatView::row_major(&g, k, m).unwrap().transpose();
    let b = MatView::row_major(&x, k, n).unwrap();
    let (exact, s) = naive_product(&a, &b);
    let half = T::from_f64(0.5);
    for threads in [2, 3] {
        for col_major in [false, true] {
            for accumulate in [false, true] {
                let what = format!(
                    "{} inner split, {threads} threads, col_major={col_major}, \
                     accumulate={accumulate}",
                    T::DTYPE
                );
                let run = |threads: usize| -> Vec<T> {
                    set_num_threads(threads);
                    assert_eq!(use_parallel::<T>(m, n, k), threads > 1, "{what}");
                    let mut out = vec![T::ONE; m * n];
                    let dst = if col_major {
                        MatViewMut::new(&mut out, 0, m, n, 1, m as isize).unwrap()
                    } else {
                        MatViewMut::row_major(&mut out, m, n).unwrap()
                    };
                    gemm(dst, a, b, half, accumulate).unwrap();
                    // Back to row-major order for the comparison.
                    (0..m * n)
                        .map(|e| {
                            if col_major {
                                out[(e % n) * m + e / n]
                            } else {
                                out[e]
                            }
                        })
                        .collect()
                };
                let (par, seq) = (run(threads), run(1));
                let start = if accumulate { 1.0 } else { 0.0 };
                let want: Vec<f64> = exact.iter().map(|c| start + 0.5 * c).collect();
                // Each result is within (k + 2)·ε·S/2 of the exact product, plus an ulp
                // or two of the accumulated 1.0 and of the partials' final sum.
                let tol: Vec<f64> = s
                    .iter()
                    .map(|&s| 0.5 * product_tol::<T>(k, s) + 2.0 * T::EPSILON.to_f64())
                    .collect();
                assert_close(
                    &format!("{what}: parallel vs naive"),
                    &to_f64(&par),
                    &want,
                    &tol,
                );
                assert_close(
                    &format!("{what}: sequential vs naive"),
                    &to_f64(&seq),
                    &want,
                    &tol,
                );
            }
        }
    }
    set_num_threads(2);
}

/// Parallel vs sequential on every element, and both vs a naive reference on a sample
/// of about 1% of the elements (the full naive product of a `1024³` problem would take
/// minutes at the test profile's optimisation level).
fn check<T: Scalar>(n: usize) {
    set_num_threads(2);
    assert!(
        use_parallel::<T>(n, n, n),
        "{n}^3 must take the parallel path"
    );
    let a = block_zero_values::<T>(n, n, 0x1234_5678 + n as u64);
    let b = block_zero_values::<T>(n, n, 0x8765_4321 + n as u64);
    let abs = |v: &[T]| -> Vec<f64> { v.iter().map(|x| x.to_f64().abs()).collect() };
    let (aa, bb) = (abs(&a), abs(&b));
    for col_major in [false, true] {
        for b_transposed in [false, true] {
            let what = format!(
                "{} n={n} col_major={col_major} b_transposed={b_transposed}",
                T::DTYPE
            );
            let par = product(&a, &b, n, col_major, b_transposed, 2);
            let seq = product(&a, &b, n, col_major, b_transposed, 1);
            // S = |A|·|B| element-wise, for the tolerance (sequential, f64).
            let (av, bv) = views(&aa, &bb, n, col_major, b_transposed);
            let mut s = vec![0.0f64; n * n];
            set_num_threads(1);
            gemm(
                MatViewMut::row_major(&mut s, n, n).unwrap(),
                av,
                bv,
                1.0,
                false,
            )
            .unwrap();
            // Both results are within (n+2)·ε·S of the exact product.
            let tol: Vec<f64> = s.iter().map(|&s| 2.0 * product_tol::<T>(n, s)).collect();
            assert_close(
                &format!("parallel vs sequential, {what}"),
                &to_f64(&par),
                &to_f64(&seq),
                &tol,
            );

            let (av, bv) = views(&a, &b, n, col_major, b_transposed);
            for e in (0..n * n).filter(|e| (e * 7919) % 97 == 0) {
                let (i, j) = (e / n, e % n);
                let (want, s) = naive_entry(&av, &bv, i, j);
                let tol = product_tol::<T>(n, s);
                for (mode, got) in [("parallel", par[e]), ("sequential", seq[e])] {
                    let got = got.to_f64();
                    assert!(
                        (got - want).abs() <= tol,
                        "{mode} vs naive, {what}, ({i}, {j}): {got} vs {want}, tol {tol}"
                    );
                }
            }
        }
    }
}

#[test]
fn parallel_products_match_sequential_and_naive() {
    check::<f32>(parallel_size::<f32>());
    check::<f64>(parallel_size::<f64>());
    check_inner_split::<f32>();
    check_inner_split::<f64>();

    // The high-level API goes through the same kernel.
    set_num_threads(2);
    let n = parallel_size::<f64>();
    let a = Matrix::from_row_major(n, n, block_zero_values::<f64>(n, n, 99)).unwrap();
    let par = a.matmul(&a.transpose()).unwrap();
    set_num_threads(1);
    let seq = a.matmul(&a.transpose()).unwrap();
    let s = a
        .map(f64::abs)
        .matmul(&a.map(f64::abs).transpose())
        .unwrap();
    let tol: Vec<f64> = s
        .as_slice()
        .iter()
        .map(|&s| 2.0 * product_tol::<f64>(n, s))
        .collect();
    assert_close(
        "Matrix::matmul parallel vs sequential",
        par.as_slice(),
        seq.as_slice(),
        &tol,
    );
    // AAᵀ is symmetric in exact arithmetic; a corrupted block would break that.
    for i in (0..n).step_by(37) {
        for j in (0..n).step_by(41) {
            let t = 2.0 * product_tol::<f64>(n, s[(i, j)]);
            assert!(
                (par[(i, j)] - par[(j, i)]).abs() <= t,
                "asymmetric at ({i}, {j})"
            );
        }
    }

    // A wide output (more columns than rows) is split by columns; operands with negative
    // strides (a row-reversed A, a column-reversed B) and an accumulating product with
    // alpha take the same path.
    let (m, k, n) = (48usize, 200usize, 701usize);
    let a_buf = block_zero_values::<f32>(m, k, 21);
    let b_buf = block_zero_values::<f32>(k, n, 22);
    let a = MatView::new(&a_buf, (m - 1) * k, m, k, -(k as isize), 1).unwrap();
    let b = MatView::new(&b_buf, n - 1, k, n, n as isize, -1).unwrap();
    set_num_threads(2);
    assert!(
        use_parallel::<f32>(m, n, k),
        "{m}x{k}x{n} must run in parallel"
    );
    let start = vec![1.0f32; m * n];
    let mut par = start.clone();
    gemm(
        MatViewMut::row_major(&mut par, m, n).unwrap(),
        a,
        b,
        0.5,
        true,
    )
    .unwrap();
    set_num_threads(1);
    let mut seq = start;
    gemm(
        MatViewMut::row_major(&mut seq, m, n).unwrap(),
        a,
        b,
        0.5,
        true,
    )
    .unwrap();
    // Blocks may be blocked differently by faer than the whole product, so the two agree
    // to rounding, and both agree with the naive product: tolerance (k + 2)·ε·|A||B|/2
    // for the product, plus an ulp or two of the accumulated 1.0.
    let (want, s) = naive_product(&a, &b);
    let want: Vec<f64> = want.iter().map(|c| 1.0 + 0.5 * c).collect();
    let tol: Vec<f64> = s
        .iter()
        .map(|&s| 0.5 * product_tol::<f32>(k, s) + 2.0 * f64::from(f32::EPSILON))
        .collect();
    assert_close("column split vs naive", &to_f64(&par), &want, &tol);
    assert_close("sequential vs naive", &to_f64(&seq), &want, &tol);
    let twice: Vec<f64> = tol.iter().map(|t| 2.0 * t).collect();
    assert_close(
        "column split vs sequential",
        &to_f64(&par),
        &to_f64(&seq),
        &twice,
    );

    // Least squares hands faer an explicit parallel mode above the same threshold (on
    // m·n·n); both modes must give the same solution up to rounding.
    let n = 256;
    // At least 2n rows: an overdetermined, full-rank problem.
    let m = (parallel_threshold::<f64>() / (n * n) + 100).max(2 * n);
    set_num_threads(2);
    assert!(use_parallel::<f64>(m, n, n));
    let a = Matrix::from_row_major(m, n, block_zero_values::<f64>(m, n, 5)).unwrap();
    let b = Vector::new(block_zero_values::<f64>(m, 1, 6));
    let par = a.lstsq(&b).unwrap();
    set_num_threads(1);
    let seq = a.lstsq(&b).unwrap();
    // The matrix is well conditioned (random with a zero block, m ≫ n): the two
    // backward-stable solutions agree to a small multiple of cond·ε.
    let diff = (&par - &seq).norm() / seq.norm();
    assert!(
        diff < 1e-12,
        "parallel vs sequential lstsq: relative difference {diff}"
    );
}
