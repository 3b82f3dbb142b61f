//! The algebra the book states and implies (§1.4, §1.6), as property tests over random
//! shapes and values, in f32 and f64.
//!
//! Tolerances follow from the dot-product error bound `γₖ Σ|aₗ||bₗ|` explained in
//! `common/mod.rs`; each test states which terms it adds up.

use crate::common;

use common::{naive_product, product_tol};
use ferrograd_linalg::{Matrix, Scalar, Vector};
use proptest::prelude::*;

fn elems<T: Scalar>(len: usize) -> impl Strategy<Value = Vec<T>> {
    prop::collection::vec((-1.0e3f64..1.0e3).prop_map(T::from_f64), len)
}

fn mat<T: Scalar>(m: usize, n: usize) -> impl Strategy<Value = Matrix<T>> {
    elems::<T>(m * n).prop_map(move |d| Matrix::from_row_major(m, n, d).unwrap())
}

fn vec_pair<T: Scalar>(max: usize) -> impl Strategy<Value = (Vector<T>, Vector<T>)> {
    (1..=max)
        .prop_flat_map(|n| (elems::<T>(n), elems::<T>(n)))
        .prop_map(|(a, b)| (Vector::new(a), Vector::new(b)))
}

fn nonzero_pair<T: Scalar>(max: usize) -> impl Strategy<Value = (Vector<T>, Vector<T>)> {
    vec_pair::<T>(max).prop_filter("non-zero vectors", |(a, b)| !a.is_zero() && !b.is_zero())
}

/// `Σₗ |aᵢₗ| |bₗⱼ|` for every `(i, j)` of `A·B`.
fn abs_product<T: Scalar>(a: &Matrix<T>, b: &Matrix<T>) -> Vec<f64> {
    naive_product(&a.view(), &b.view()).1
}

fn eps<T: Scalar>() -> f64 {
    T::EPSILON.to_f64()
}

/// Exact f64 Euclidean norm of the (exactly converted) elements, for references.
fn norm64<T: Scalar>(v: &Vector<T>) -> f64 {
    v.iter().map(|x| x.to_f64().powi(2)).sum::<f64>().sqrt()
}

macro_rules! algebra_tests {
    ($mod:ident, $t:ty) => {
        mod $mod {
            use super::*;
            type T = $t;

            proptest! {
                #[test]
                fn vector_addition_commutes((a, b) in vec_pair::<T>(32)) {
                    // IEEE addition is commutative, element by element: exact.
                    prop_assert_eq!(&a + &b, &b + &a);
                    prop_assert_eq!(a.try_sub(&b).unwrap(), -(&b - &a));
                }

                #[test]
                fn matrix_addition_commutes(
                    (a, b) in (1usize..10, 1usize..10)
                        .prop_flat_map(|(m, n)| (mat::<T>(m, n), mat::<T>(m, n)))
                ) {
                    prop_assert_eq!(&a + &b, &b + &a);
                }

                #[test]
                fn transpose_of_product_is_product_of_transposes(
                    (a, b) in (0usize..12, 0usize..12, 0usize..12)
                        .prop_flat_map(|(m, k, n)| (mat::<T>(m, k), mat::<T>(k, n)))
                ) {
                    // (AB)ᵀ and BᵀAᵀ are two computations of the same exact sums: each is
                    // within (k+2)·ε·S of it, so they differ by at most twice that.
                    let k = a.ncols();
                    let lhs = a.matmul(&b).unwrap().transpose();
                    let rhs = b.transpose().matmul(&a.transpose()).unwrap();
                    let s = Matrix::from_row_major(a.nrows(), b.ncols(), abs_product(&a, &b))
                        .unwrap()
                        .transpose();
                    prop_assert_eq!(lhs.shape(), rhs.shape());
                    for ((l, r), s) in lhs.iter_all().zip(rhs.iter_all()).zip(s.iter_all()) {
                        let tol = 2.0 * product_tol::<T>(k, s);
                        prop_assert!((l.to_f64() - r.to_f64()).abs() <= tol, "{l} vs {r}, tol {tol}");
                    }
                }

                #[test]
                fn product_distributes_over_sum(
                    (a, b, c) in (1usize..10, 1usize..10, 1usize..10)
                        .prop_flat_map(|(m, k, n)| (mat::<T>(m, k), mat::<T>(k, n), mat::<T>(k, n)))
                ) {
                    // A(B+C) vs AB + AC. With S = |A|(|B|+|C|): rounding B+C costs ε·S,
                    // each product (k+2)·ε·S at most, the final sum ε·S; both sides within
                    // (k+4)·ε·S of the exact value, so the gap is at most 2(k+4)·ε·S.
                    let k = a.ncols();
                    let lhs = a.matmul(&(&b + &c)).unwrap();
                    let rhs = a.matmul(&b).unwrap() + a.matmul(&c).unwrap();
                    let sb = abs_product(&a, &b);
                    let sc = abs_product(&a, &c);
                    for (i, (l, r)) in lhs.iter_all().zip(rhs.iter_all()).enumerate() {
                        let tol = 2.0 * (k as f64 + 4.0) * eps::<T>() * (sb[i] + sc[i]);
                        prop_assert!((l.to_f64() - r.to_f64()).abs() <= tol, "{l} vs {r}, tol {tol}");
                    }
                }

                #[test]
                fn matvec_equals_product_with_a_one_column_matrix(
                    (a, x) in (0usize..12, 0usize..12)
                        .prop_flat_map(|(m, n)| (mat::<T>(m, n), elems::<T>(n)))
                ) {
                    let x = Vector::new(x);
                    let k = x.len();
                    let via_matvec = a.matvec(&x).unwrap();
                    let via_matmul = a.matmul(&Matrix::from_column(&x)).unwrap();
                    prop_assert_eq!(via_matmul.shape(), (a.nrows(), 1));
                    let s = abs_product(&a, &Matrix::from_column(&x));
                    for (i, (v, w)) in via_matvec.iter().zip(via_matmul.iter_all()).enumerate() {
                        let tol = 2.0 * product_tol::<T>(k, s[i]);
                        prop_assert!((v.to_f64() - w.to_f64()).abs() <= tol);
                    }
                }

                #[test]
                fn cosine_is_bounded_and_correct((a, b) in nonzero_pair::<T>(32)) {
                    let cos = a.cosine_similarity(&b).unwrap();
                    prop_assert!(cos.abs() <= 1.0, "|cos| = {} > 1", cos.abs());
                    // Reference in f64 (exact inputs). The dot product errs by at most
                    // γₙ‖a‖‖b‖ (Cauchy–Schwarz bounds Σ|aᵢbᵢ|), each norm by (n/2+1)·ε
                    // relative, the division by ε: |cos − ref| ≤ (2n + 4)·ε.
                    let n = a.len() as f64;
                    let dot: f64 = a.iter().zip(&b).map(|(x, y)| x.to_f64() * y.to_f64()).sum();
                    let want = dot / (norm64(&a) * norm64(&b));
                    prop_assert!((cos.to_f64() - want).abs() <= (2.0 * n + 4.0) * eps::<T>(),
                        "cos {cos} vs {want}");
                }

                #[test]
                fn unit_vector_has_norm_one_and_the_same_direction(
                    a in (1usize..32).prop_flat_map(elems::<T>)
                        .prop_map(Vector::new)
                        .prop_filter("non-zero", |v| !v.is_zero())
                ) {
                    let u = a.unit_vector().unwrap();
                    let n = a.len() as f64;
                    // ‖a‖ is computed to (n/2+1)·ε relative, each uᵢ adds one rounding,
                    // and ‖u‖ in f64 is exact enough: |‖u‖ − 1| ≤ (n/2 + 2)·ε.
                    let tol = (n / 2.0 + 2.0) * eps::<T>();
                    prop_assert!((norm64(&u) - 1.0).abs() <= tol, "‖u‖ = {}", norm64(&u));
                    // Same direction: uᵢ = aᵢ/‖a‖ element by element (same sign, same
                    // ratios), to the same relative tolerance.
                    let norm = norm64(&a);
                    for (x, y) in a.iter().zip(&u) {
                        let want = x.to_f64() / norm;
                        prop_assert!((y.to_f64() - want).abs() <= tol * want.abs().max(f64::MIN_POSITIVE),
                            "{y} vs {want}");
                    }
                    prop_assert!((u.cosine_similarity(&a).unwrap().to_f64() - 1.0).abs()
                        <= (2.0 * n + 4.0) * eps::<T>());
                }

                #[test]
                fn cauchy_schwarz((a, b) in vec_pair::<T>(32)) {
                    // |a·b| ≤ ‖a‖‖b‖ exactly; computed, the dot gains at most γₙ‖a‖‖b‖
                    // and each norm loses at most (n/2+1)·ε, so allow (2n + 4)·ε relative.
                    let n = a.len() as f64;
                    let lhs = a.dot(&b).unwrap().to_f64().abs();
                    let rhs = a.norm().to_f64() * b.norm().to_f64();
                    prop_assert!(lhs <= rhs * (1.0 + (2.0 * n + 4.0) * eps::<T>()), "{lhs} > {rhs}");
                }

                #[test]
                fn norm_matches_reference(a in (0usize..64).prop_flat_map(elems::<T>).prop_map(Vector::new)) {
                    let tol = (a.len() as f64 / 2.0 + 1.0) * eps::<T>() * norm64(&a);
                    prop_assert!((a.norm().to_f64() - norm64(&a)).abs() <= tol);
                }

                #[test]
                fn scalar_multiple_and_division_are_elementwise(
                    (a, c) in ((0usize..16).prop_flat_map(elems::<T>), 1.0e-3f64..1.0e3)
                ) {
                    let (a, c) = (Vector::new(a), T::from_f64(c));
                    let scaled = &a * c;
                    let divided = &a / c;
                    for ((x, s), d) in a.iter().zip(&scaled).zip(&divided) {
                        prop_assert_eq!(*s, *x * c); // one IEEE operation each: exact match
                        prop_assert_eq!(*d, *x / c);
                    }
                    prop_assert_eq!(a.hadamard(&Vector::filled(a.len(), c)).unwrap(), scaled);
                }

                #[test]
                fn identity_is_neutral(a in (0usize..10, 0usize..10).prop_flat_map(|(m, n)| mat::<T>(m, n))) {
                    // 1·x and 0·x are exact, so the products are exact.
                    prop_assert_eq!(Matrix::identity(a.nrows()).matmul(&a).unwrap(), a.clone());
                    prop_assert_eq!(a.matmul(&Matrix::identity(a.ncols())).unwrap(), a.clone());
                    prop_assert_eq!(a.transpose().transpose(), a);
                }
            }
        }
    };
}

algebra_tests!(f32_tests, f32);
algebra_tests!(f64_tests, f64);

/// Row-major iteration over all elements, for the tests above.
trait IterAll<T> {
    fn iter_all(&self) -> std::iter::Copied<std::slice::Iter<'_, T>>;
}
impl<T: Scalar> IterAll<T> for Matrix<T> {
    fn iter_all(&self) -> std::iter::Copied<std::slice::Iter<'_, T>> {
        self.as_slice().iter().copied()
    }
}

#[test]
fn norm_and_unit_vector_survive_extreme_magnitudes() {
    // x·x overflows f32 here, and underflows to zero in the second case.
    let big = Vector::from([3.0e30f32, 4.0e30]);
    assert_eq!(big.norm(), 5.0e30);
    let u = big.unit_vector().unwrap();
    assert!((u[0] - 0.6).abs() <= f32::EPSILON && (u[1] - 0.8).abs() <= f32::EPSILON);
    let tiny = Vector::from([3.0e-30f32, 4.0e-30]);
    assert!((tiny.norm() / 5.0e-30 - 1.0).abs() < 2.0 * f32::EPSILON);
    let u = tiny.unit_vector().unwrap();
    assert!((u[0] - 0.6).abs() <= f32::EPSILON && (u[1] - 0.8).abs() <= f32::EPSILON);
    assert!(
        (big.cosine_similarity(&Vector::from([4.0e30f32, 3.0e30]))
            .unwrap()
            - 0.96)
            .abs()
            < 1e-6
    );
    assert!(Vector::from([f64::NAN, 1.0]).norm().is_nan());
}
