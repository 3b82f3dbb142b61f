//! Least squares on random full-rank problems: the solution satisfies the optimality
//! condition Aᵀ(Ax − b) = 0 (for one or several right-hand sides) and leaves no residual
//! on consistent systems; random rank-deficient problems are reported.

use ferrograd_linalg::{LinalgError, Matrix, Vector};
use proptest::prelude::*;

fn problem() -> impl Strategy<Value = (Matrix<f64>, Vector<f64>)> {
    (1usize..8)
        .prop_flat_map(|n| (Just(n), n..n + 12))
        .prop_flat_map(|(n, m)| {
            (
                prop::collection::vec(-10.0f64..10.0, m * n),
                prop::collection::vec(-10.0f64..10.0, m),
            )
                .prop_map(move |(a, b)| (Matrix::from_row_major(m, n, a).unwrap(), Vector::new(b)))
        })
}

/// Frobenius norm, an upper bound of the 2-norm used to scale the tolerances.
fn frobenius(a: &Matrix<f64>) -> f64 {
    a.as_slice().iter().map(|v| v * v).sum::<f64>().sqrt()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn solution_makes_the_residual_orthogonal_to_the_columns((a, b) in problem()) {
        let x = match a.lstsq(&b) {
            Ok(x) => x,
            // Random draws are full rank with probability 1; a rank error would need the
            // columns dependent to 1e-15 relative, which this strategy does not produce.
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        };
        check_optimal(&a, &b, &x)?;
    }

    #[test]
    fn consistent_systems_have_a_vanishing_residual((a, _b) in problem()) {
        // b := A·x₀ for a known x₀: the residual vanishes, and x agrees with x₀ up to the
        // conditioning of A (checked through the residual, which needs no condition number).
        let x0 = Vector::from_fn(a.ncols(), |i| i as f64 - 2.5);
        let b0 = a.matvec(&x0).unwrap();
        let x = a.lstsq(&b0).unwrap();
        let r = &a.matvec(&x).unwrap() - &b0;
        let (m, n) = a.shape();
        let tol = 100.0 * (m + n) as f64 * f64::EPSILON * frobenius(&a) * x0.norm().max(1.0);
        prop_assert!(r.norm() <= tol, "‖Ax − b‖ = {}", r.norm());
    }

    #[test]
    fn a_duplicated_column_is_always_reported((a, b) in problem(), col in 0usize..8) {
        let (m, n) = a.shape();
        let col = col % n;
        // Append a copy of column `col`: rank ≤ n < n + 1 columns.
        let wider = Matrix::from_fn(m, n + 1, |i, j| a[(i, if j == n { col } else { j })]);
        let err = wider.lstsq(&b).unwrap_err();
        let is_rank_deficient = matches!(err, LinalgError::RankDeficient { .. });
        prop_assert!(is_rank_deficient, "{}", err);
    }

    #[test]
    fn multiple_right_hand_sides_are_each_optimal((a, b) in problem()) {
        let b2 = b.scale(-2.0);
        let bm = Matrix::from_fn(a.nrows(), 2, |i, j| if j == 0 { b[i] } else { b2[i] });
        let x = a.lstsq_matrix(&bm).unwrap();
        // One factorisation serves both columns, but faer's kernels may order the sums
        // differently for one and two columns, so check each column by the optimality
        // condition rather than bit for bit.
        check_optimal(&a, &b, &x.column(0).unwrap())?;
        check_optimal(&a, &b2, &x.column(1).unwrap())?;
        prop_assert_eq!(x.shape(), (a.ncols(), 2));
    }
}

/// Checks Aᵀ(Ax − b) ≈ 0. Backward-stable QR: x is the exact solution for a matrix within
/// c·m·n·ε‖A‖ of A, so ‖Aᵀr‖ ≲ ε·‖A‖·(‖A‖‖x‖ + ‖b‖) times a small dimension factor; allow
/// 100·(m+n)·ε of that scale.
fn check_optimal(a: &Matrix<f64>, b: &Vector<f64>, x: &Vector<f64>) -> Result<(), TestCaseError> {
    let r = &a.matvec(x).unwrap() - b;
    let g = a.transpose().matvec(&r).unwrap();
    let (m, n) = a.shape();
    let scale = frobenius(a) * (frobenius(a) * x.norm() + b.norm());
    let tol = 100.0 * (m + n) as f64 * f64::EPSILON * scale;
    prop_assert!(g.norm() <= tol, "‖Aᵀr‖ = {} > {tol}", g.norm());
    Ok(())
}

/// Deterministic values in [-1, 1).
fn pseudo_random(len: usize, seed: u64) -> Vec<f64> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

#[test]
fn larger_problems_use_the_blocked_factorisation_correctly() {
    // Past faer's unblocked sizes (block size 8, 32, 48 for these shapes), where the
    // packed factorisation is split into Householder basis and R by this crate.
    for (m, n) in [(300, 40), (700, 120), (900, 300)] {
        let a = Matrix::from_row_major(m, n, pseudo_random(m * n, m as u64)).unwrap();
        let b = Vector::new(pseudo_random(m, n as u64));
        let x = a.lstsq(&b).unwrap();
        check_optimal(&a, &b, &x).unwrap();
        // Consistent right-hand side: x₀ is recovered (random matrices of this shape are
        // well conditioned: cond ≲ 10, so 1e-10 is generous).
        let x0 = Vector::new(pseudo_random(n, 7));
        let x = a.lstsq(&a.matvec(&x0).unwrap()).unwrap();
        let err = (&x - &x0).norm() / x0.norm();
        assert!(err < 1e-10, "{m}x{n}: relative error {err}");
        // And one dependent column is still caught.
        let wider = Matrix::from_fn(
            m,
            n + 1,
            |i, j| if j == n { a[(i, 0)] * 3.0 } else { a[(i, j)] },
        );
        assert!(matches!(
            wider.lstsq(&b),
            Err(LinalgError::RankDeficient { .. })
        ));
    }
}
