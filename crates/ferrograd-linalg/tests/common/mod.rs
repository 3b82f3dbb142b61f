//! Shared helpers for the integration tests: naive references and error bounds.
//!
//! # The tolerance used for every product
//!
//! For a dot product of length `k` computed in floating point with unit roundoff
//! `u = ε/2`, in *any* summation order, with or without fused multiply-add, the classic
//! bound (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1) is
//! `|fl(Σ aₗbₗ) − Σ aₗbₗ| ≤ γₖ Σ |aₗ||bₗ|`, `γₖ = k·u / (1 − k·u)`. faer's blocked,
//! vectorised kernels only reorder the sum, so each element of its product obeys it; so
//! does the naive reference loop. Two computations of the same exact value therefore
//! differ by at most `2γₖ·S ≈ k·ε·S` with `S = Σ |aₗ||bₗ|` (for the small `k·u` here).
//! The references below run in `f64` (for `f32` inputs their error is negligible), and
//! the tests compare with `(k + 2)·ε(T)·S`: `k·ε·S` from the bound above and `2ε·S` for
//! the final scaling by `alpha` and the accumulation into the output.
#![allow(dead_code)]

use ferrograd_linalg::Scalar;
use ferrograd_linalg::kernel::MatView;

/// `C = A·B` in f64 by the textbook triple loop, with `S = |A|·|B|` for the tolerance.
pub fn naive_product<T: Scalar>(a: &MatView<'_, T>, b: &MatView<'_, T>) -> (Vec<f64>, Vec<f64>) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    assert_eq!(k, b.rows());
    let mut c = vec![0.0; m * n];
    let mut s = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let (mut acc, mut abs) = (0.0f64, 0.0f64);
            for l in 0..k {
                let x = a.get(i, l).unwrap().to_f64();
                let y = b.get(l, j).unwrap().to_f64();
                acc += x * y;
                abs += (x * y).abs();
            }
            c[i * n + j] = acc;
            s[i * n + j] = abs;
        }
    }
    (c, s)
}

/// The product tolerance `(k + 2)·ε(T)·s` described in the module documentation.
pub fn product_tol<T: Scalar>(k: usize, s: f64) -> f64 {
    (k as f64 + 2.0) * T::EPSILON.to_f64() * s
}

/// Asserts `|got − want| ≤ tol` element-wise, with a message naming the element.
pub fn assert_close(what: &str, got: &[f64], want: &[f64], tol: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, ((g, w), t)) in got.iter().zip(want).zip(tol).enumerate() {
        assert!(
            (g - w).abs() <= *t,
            "{what}: element {i}: got {g}, want {w}, |diff| = {} > tol {t}",
            (g - w).abs()
        );
    }
}

/// Row-major `f64` copy of any slice.
pub fn to_f64<T: Scalar>(xs: &[T]) -> Vec<f64> {
    xs.iter().map(|v| v.to_f64()).collect()
}
