//! Every product (the strided kernel on all kinds of views, `Matrix::matmul`,
//! `Matrix::matvec`, `Vector::dot`) against a naive triple loop, within the tolerance
//! `(k + 2)·ε·S` derived in `common/mod.rs`.
//!
//! The parallel path is covered by `tests/parallel.rs` (its own process, since it changes
//! the global thread count).

use crate::common;

use common::{assert_close, naive_product, product_tol, to_f64};
use ferrograd_linalg::kernel::{INNER_PIECE, MatView, MatViewMut, gemm};
use ferrograd_linalg::{Matrix, Scalar, Vector};
use proptest::prelude::*;

/// Deterministic pseudo-random values over six decades, with both signs, so that sums
/// cancel and the relative-to-`S` tolerance matters.
fn values<T: Scalar>(len: usize, seed: u64) -> Vec<T> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
            let decade = ((state >> 3) % 6) as i32 - 3;
            T::from_f64((2.0 * unit - 1.0) * 10f64.powi(decade))
        })
        .collect()
}

/// How a view lays its elements out in its buffer.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// Row-major with `pad` unused elements after each row.
    RowMajor(usize),
    /// Column-major with `pad` unused elements after each column.
    ColMajor(usize),
    /// Row-major read backwards (both strides negative).
    Reversed,
    /// Column-major with the rows in reverse order (negative row stride).
    ColMajorFlipped,
    /// Every row is the same buffer row (row stride 0, as broadcasting makes). Inputs only.
    BroadcastRows,
}

fn layout(allow_broadcast: bool) -> impl Strategy<Value = Layout> {
    let all = prop_oneof![
        (0usize..3).prop_map(Layout::RowMajor),
        (0usize..3).prop_map(Layout::ColMajor),
        Just(Layout::Reversed),
        Just(Layout::ColMajorFlipped),
        Just(Layout::BroadcastRows),
    ];
    all.prop_filter("outputs cannot broadcast", move |l| {
        allow_broadcast || !matches!(l, Layout::BroadcastRows)
    })
}

/// Buffer length, offset, row stride and column stride of a `rows × cols` view.
fn geometry(rows: usize, cols: usize, l: Layout) -> (usize, usize, isize, isize) {
    if rows == 0 || cols == 0 {
        return (0, 0, cols as isize, 1);
    }
    let (r, c) = (rows as isize, cols as isize);
    match l {
        Layout::RowMajor(p) => (rows * (cols + p), 0, c + p as isize, 1),
        Layout::ColMajor(p) => (cols * (rows + p), 0, 1, r + p as isize),
        Layout::Reversed => (rows * cols, rows * cols - 1, -c, -1),
        Layout::ColMajorFlipped => (rows * cols, rows - 1, -1, r),
        Layout::BroadcastRows => (cols, 0, 0, 1),
    }
}

#[allow(clippy::too_many_arguments)]
fn check_gemm<T: Scalar>(
    (m, k, n): (usize, usize, usize),
    (la, lb, lc): (Layout, Layout, Layout),
    alpha: f64,
    accumulate: bool,
    transpose_a: bool,
    seed: u64,
) {
    // With `transpose_a`, A is stored as its k × m transpose and viewed through
    // `.transpose()`, the free transposed view the tensor crate uses for Aᵀ·B.
    let (ar, ac) = if transpose_a { (k, m) } else { (m, k) };
    let (alen, aoff, ars, acs) = geometry(ar, ac, la);
    let (blen, boff, brs, bcs) = geometry(k, n, lb);
    let (clen, coff, crs, ccs) = geometry(m, n, lc);
    let abuf = values::<T>(alen, seed);
    let bbuf = values::<T>(blen, seed.wrapping_mul(31).wrapping_add(7));
    let mut cbuf = values::<T>(clen, seed.wrapping_mul(17).wrapping_add(3));
    let a = MatView::new(&abuf, aoff, ar, ac, ars, acs).unwrap();
    let a = if transpose_a { a.transpose() } else { a };
    let b = MatView::new(&bbuf, boff, k, n, brs, bcs).unwrap();
    let (want, s) = naive_product(&a, &b);

    // Initial output, read back in logical (i, j) order.
    let read = |buf: &[T]| -> Vec<f64> {
        let v = MatView::new(buf, coff, m, n, crs, ccs).unwrap();
        (0..m * n)
            .map(|e| v.get(e / n, e % n).unwrap().to_f64())
            .collect()
    };
    let c0 = read(&cbuf);
    let alpha_t = T::from_f64(alpha);
    let alpha = alpha_t.to_f64();
    gemm(
        MatViewMut::new(&mut cbuf, coff, m, n, crs, ccs).unwrap(),
        a,
        b,
        alpha_t,
        accumulate,
    )
    .unwrap();
    let got = read(&cbuf);
    let mut expect = Vec::with_capacity(m * n);
    let mut tol = Vec::with_capacity(m * n);
    for e in 0..m * n {
        let base = if accumulate { c0[e] } else { 0.0 };
        expect.push(base + alpha * want[e]);
        // Higham's bound for the product plus one rounding each for alpha and the sum.
        tol.push(product_tol::<T>(k, alpha.abs() * s[e] + base.abs()));
    }
    assert_close(
        &format!(
            "{} gemm {m}x{k}x{n} {la:?}/{lb:?}/{lc:?} alpha={alpha} acc={accumulate}",
            T::DTYPE
        ),
        &got,
        &expect,
        &tol,
    );
}

fn dims(max: usize) -> impl Strategy<Value = (usize, usize, usize)> {
    (0..=max, 0..=max, 0..=max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn kernel_matches_naive_on_every_layout_f32(
        d in dims(40), la in layout(true), lb in layout(true), lc in layout(false),
        alpha in prop_oneof![Just(1.0), Just(-0.5), Just(3.0)], acc: bool, ta: bool, seed: u64,
    ) {
        check_gemm::<f32>(d, (la, lb, lc), alpha, acc, ta, seed);
    }

    #[test]
    fn kernel_matches_naive_on_every_layout_f64(
        d in dims(40), la in layout(true), lb in layout(true), lc in layout(false),
        alpha in prop_oneof![Just(1.0), Just(-0.5), Just(3.0)], acc: bool, ta: bool, seed: u64,
    ) {
        check_gemm::<f64>(d, (la, lb, lc), alpha, acc, ta, seed);
    }
}

proptest! {
    // Fewer, larger cases: past faer's small-matrix kernels into its blocked ones.
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn kernel_matches_naive_on_larger_shapes(
        m in 60usize..140, k in 60usize..140, n in 60usize..140,
        la in layout(true), lb in layout(true), lc in layout(false), seed: u64,
    ) {
        check_gemm::<f32>((m, k, n), (la, lb, lc), 1.0, false, false, seed);
        check_gemm::<f64>((m, k, n), (la, lb, lc), 1.0, true, true, seed);
    }
}

proptest! {
    // Inner dimensions past `INNER_PIECE`, where a product whose right operand faer would
    // read across rows runs in pieces (several, the last one shorter); every layout, so
    // both the split and the unsplit orientations occur.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn kernel_matches_naive_past_the_inner_piece(
        m in 1usize..48, k in INNER_PIECE + 1..3 * INNER_PIECE + 40, n in 1usize..48,
        la in layout(true), lb in layout(true), lc in layout(false),
        alpha in prop_oneof![Just(1.0), Just(-0.5)], acc: bool, ta: bool, seed: u64,
    ) {
        check_gemm::<f32>((m, k, n), (la, lb, lc), alpha, acc, ta, seed);
        check_gemm::<f64>((m, k, n), (la, lb, lc), alpha, acc, ta, seed);
    }
}

#[test]
fn weight_gradient_products_run_in_pieces_with_the_same_sums() {
    // `dW = gᵀ·x` into a row-major output (a transposed view on the left, faer's form
    // reads it across rows), and the same with a column-major output and a row-major
    // right operand: three whole pieces and a short one, written and accumulated.
    let k = 3 * INNER_PIECE + 17;
    for acc in [false, true] {
        for (lc, ta) in [(Layout::RowMajor(0), true), (Layout::ColMajor(1), false)] {
            let layouts = (Layout::RowMajor(0), Layout::RowMajor(0), lc);
            check_gemm::<f32>((40, k, 24), layouts, -0.5, acc, ta, 11);
            check_gemm::<f64>((40, k, 24), layouts, 3.0, acc, ta, 12);
        }
    }
}

fn matrix<T: Scalar>(m: usize, n: usize, seed: u64) -> Matrix<T> {
    Matrix::from_row_major(m, n, values(m * n, seed)).unwrap()
}

fn check_matrix_products<T: Scalar>(m: usize, k: usize, n: usize, seed: u64) {
    let a = matrix::<T>(m, k, seed);
    let b = matrix::<T>(k, n, seed ^ 0x5555);
    let x = Vector::new(values::<T>(k, seed ^ 0xaaaa));
    let y = Vector::new(values::<T>(k, seed ^ 0x3333));

    let (want, s) = naive_product(&a.view(), &b.view());
    let tol: Vec<f64> = s.iter().map(|&s| product_tol::<T>(k, s)).collect();
    assert_close(
        "matmul",
        &to_f64(a.matmul(&b).unwrap().as_slice()),
        &want,
        &tol,
    );
    assert_close("a * b", &to_f64((&a * &b).as_slice()), &want, &tol);

    let xv = MatView::row_major(x.as_slice(), k, 1).unwrap();
    let (want, s) = naive_product(&a.view(), &xv);
    let tol: Vec<f64> = s.iter().map(|&s| product_tol::<T>(k, s)).collect();
    assert_close(
        "matvec",
        &to_f64(a.matvec(&x).unwrap().as_slice()),
        &want,
        &tol,
    );

    let (want, s) = naive_product(
        &MatView::row_major(x.as_slice(), 1, k).unwrap(),
        &MatView::row_major(y.as_slice(), k, 1).unwrap(),
    );
    assert_close(
        "dot",
        &[x.dot(&y).unwrap().to_f64()],
        &want,
        &[product_tol::<T>(k, s[0])],
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn matrix_products_match_naive(m in 0usize..30, k in 0usize..30, n in 0usize..30, seed: u64) {
        check_matrix_products::<f32>(m, k, n, seed);
        check_matrix_products::<f64>(m, k, n, seed);
    }
}

#[test]
fn the_tolerance_is_tight_enough_to_catch_a_wrong_product() {
    // A sanity check of the test itself: one wrong last bit in a sum of exact integers
    // must fail the comparison, or the tolerance would be meaningless.
    let a = Matrix::from_rows(&[[1.0f32, 2.0], [3.0, 4.0]]).unwrap();
    let (want, s) = naive_product(&a.view(), &a.view());
    let mut got = to_f64(a.matmul(&a).unwrap().as_slice());
    got[3] += 1.0; // 22 -> 23
    let tol: Vec<f64> = s.iter().map(|&s| product_tol::<f32>(2, s)).collect();
    let caught = std::panic::catch_unwind(|| assert_close("wrong", &got, &want, &tol));
    assert!(caught.is_err());
}
