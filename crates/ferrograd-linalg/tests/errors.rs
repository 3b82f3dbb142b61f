//! Every error names its operation and the shapes involved; operators panic with the
//! very message their fallible twin returns.

use ferrograd_linalg::{LinalgError, Matrix, Vector, fit_line, mean_squared_error};
use std::panic::{AssertUnwindSafe, catch_unwind};

fn v(n: usize) -> Vector<f64> {
    Vector::from_fn(n, |i| i as f64 + 1.0)
}

fn m(r: usize, c: usize) -> Matrix<f64> {
    Matrix::from_fn(r, c, |i, j| (i * c + j) as f64 + 1.0)
}

/// Asserts a shape-mismatch error with exactly this message and these fields.
fn assert_mismatch(err: LinalgError, op: &str, lhs: &str, rhs: &str) {
    assert_eq!(
        err.to_string(),
        format!("{op}: shape mismatch between {lhs} and {rhs}")
    );
    match err {
        LinalgError::ShapeMismatch {
            op: o,
            lhs: l,
            rhs: r,
        } => {
            assert_eq!(
                (o, l.to_string(), r.to_string()),
                (op, lhs.into(), rhs.into())
            );
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
}

/// The panic message of `f`.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap()
}

#[test]
fn vector_mismatches_name_the_op_and_both_shapes() {
    assert_mismatch(v(3).dot(&v(2)).unwrap_err(), "dot", "[3]", "[2]");
    assert_mismatch(v(3).try_add(&v(4)).unwrap_err(), "add", "[3]", "[4]");
    assert_mismatch(v(1).try_sub(&v(0)).unwrap_err(), "sub", "[1]", "[0]");
    assert_mismatch(v(2).hadamard(&v(5)).unwrap_err(), "hadamard", "[2]", "[5]");
    assert_mismatch(
        v(2).cosine_similarity(&v(3)).unwrap_err(),
        "cosine_similarity",
        "[2]",
        "[3]",
    );
}

#[test]
fn matrix_mismatches_name_the_op_and_both_shapes() {
    assert_mismatch(
        m(2, 3).try_add(&m(3, 2)).unwrap_err(),
        "add",
        "[2, 3]",
        "[3, 2]",
    );
    assert_mismatch(
        m(2, 3).try_sub(&m(2, 2)).unwrap_err(),
        "sub",
        "[2, 3]",
        "[2, 2]",
    );
    assert_mismatch(
        m(2, 3).hadamard(&m(1, 3)).unwrap_err(),
        "hadamard",
        "[2, 3]",
        "[1, 3]",
    );
    assert_mismatch(
        m(2, 3).matmul(&m(2, 3)).unwrap_err(),
        "matmul",
        "[2, 3]",
        "[2, 3]",
    );
    assert_mismatch(
        m(4, 3).matvec(&v(4)).unwrap_err(),
        "matvec",
        "[4, 3]",
        "[4]",
    );
    assert_mismatch(m(4, 2).lstsq(&v(3)).unwrap_err(), "lstsq", "[4, 2]", "[3]");
    assert_mismatch(
        m(4, 2).lstsq_matrix(&m(3, 1)).unwrap_err(),
        "lstsq",
        "[4, 2]",
        "[3, 1]",
    );
    assert_mismatch(
        fit_line(&[1.0, 2.0], &[1.0]).unwrap_err(),
        "fit_line",
        "[2]",
        "[1]",
    );
    assert_mismatch(
        mean_squared_error(&[1.0f32], &[]).unwrap_err(),
        "mse",
        "[1]",
        "[0]",
    );
}

#[test]
fn operators_panic_with_the_fallible_twins_message() {
    let cases: Vec<(String, Box<dyn FnOnce()>)> = vec![
        (
            v(3).try_add(&v(2)).unwrap_err().to_string(),
            Box::new(|| drop(&v(3) + &v(2))),
        ),
        (
            v(3).try_sub(&v(2)).unwrap_err().to_string(),
            Box::new(|| drop(v(3) - v(2))),
        ),
        (
            m(2, 2).try_add(&m(2, 1)).unwrap_err().to_string(),
            Box::new(|| drop(&m(2, 2) + &m(2, 1))),
        ),
        (
            m(2, 2).matmul(&m(3, 3)).unwrap_err().to_string(),
            Box::new(|| drop(&m(2, 2) * &m(3, 3))),
        ),
        (
            m(2, 2).matvec(&v(3)).unwrap_err().to_string(),
            Box::new(|| drop(&m(2, 2) * &v(3))),
        ),
        (
            v(2).get(2).unwrap_err().to_string(),
            Box::new(|| {
                let _ = v(2)[2];
            }),
        ),
        (
            m(2, 2).get(0, 5).unwrap_err().to_string(),
            Box::new(|| {
                let _ = m(2, 2)[(0, 5)];
            }),
        ),
        (
            v(2).get_mut(7).unwrap_err().to_string(),
            Box::new(|| {
                let mut x = v(2);
                x[7] = 1.0;
            }),
        ),
        (
            m(1, 1).get_mut(1, 0).unwrap_err().to_string(),
            Box::new(|| {
                let mut a = m(1, 1);
                a[(1, 0)] = 1.0;
            }),
        ),
        (
            v(2).try_add(&v(1)).unwrap_err().to_string(),
            Box::new(|| {
                let mut x = v(2);
                x += &v(1);
            }),
        ),
    ];
    for (want, f) in cases {
        assert_eq!(panic_message(f), want);
    }
}

#[test]
fn index_errors_name_the_index_and_the_shape() {
    assert_eq!(
        v(2).get(5).unwrap_err().to_string(),
        "Vector::get: index [5] is out of bounds for shape [2]"
    );
    assert_eq!(
        m(2, 3).get(2, 0).unwrap_err().to_string(),
        "Matrix::get: index [2, 0] is out of bounds for shape [2, 3]"
    );
    assert!(matches!(
        m(2, 3).row(2),
        Err(LinalgError::IndexOutOfBounds { .. })
    ));
    assert!(matches!(
        m(2, 3).column(3),
        Err(LinalgError::IndexOutOfBounds { .. })
    ));
    assert_eq!(m(2, 3).row(1).unwrap(), &[4.0, 5.0, 6.0]);
    assert_eq!(m(2, 3).column(2).unwrap().as_slice(), &[3.0, 6.0]);
}

#[test]
fn zero_vectors_have_no_direction() {
    let err = Vector::<f32>::zeros(3).unit_vector().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unit_vector: the zero vector of shape [3] has no direction"
    );
    assert!(matches!(
        Vector::<f64>::zeros(0).unit_vector(),
        Err(LinalgError::ZeroVector { .. })
    ));
    let err = v(2).cosine_similarity(&Vector::zeros(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cosine_similarity: the zero vector of shape [2] has no direction"
    );
    assert!(Vector::<f64>::zeros(2).cosine_similarity(&v(2)).is_err());
}

#[test]
fn construction_errors() {
    assert_eq!(
        Matrix::from_row_major(2, 3, vec![0.0f32; 5])
            .unwrap_err()
            .to_string(),
        "Matrix::from_row_major: 5 elements cannot fill shape [2, 3]"
    );
    assert!(Matrix::from_row_major(usize::MAX, 2, Vec::<f32>::new()).is_err());
    assert_eq!(
        Matrix::from_rows(&[vec![1.0f64, 2.0], vec![3.0, 4.0], vec![5.0]])
            .unwrap_err()
            .to_string(),
        "Matrix::from_rows: row 2 has 1 elements but row 0 has 2"
    );
    assert_eq!(
        Matrix::<f32>::from_rows::<Vec<f32>>(&[]).unwrap().shape(),
        (0, 0)
    );
    assert_eq!(
        v(2).checked_div_scalar(0.0).unwrap_err().to_string(),
        "div_scalar: division of shape [2] by zero"
    );
    assert!(m(2, 2).checked_div_scalar(0.0).is_err());
    assert_eq!(m(2, 2).checked_div_scalar(2.0).unwrap(), m(2, 2).scale(0.5));
}

#[test]
fn huge_empty_products_are_refused_not_allocated() {
    // Zero-size matrices with huge outer dimensions: the product would need usize::MAX
    // elements.
    let a = Matrix::<f32>::zeros(usize::MAX, 0);
    let b = Matrix::<f32>::zeros(0, 2);
    assert!(matches!(
        a.matmul(&b),
        Err(LinalgError::SizeOverflow { .. })
    ));
    // Small empty products are fine: an m×0 by 0×n product is the m×n zero matrix.
    assert_eq!(
        Matrix::<f64>::zeros(2, 0)
            .matmul(&Matrix::zeros(0, 3))
            .unwrap(),
        Matrix::zeros(2, 3)
    );
    assert_eq!(Vector::<f64>::zeros(0).dot(&Vector::zeros(0)).unwrap(), 0.0);
}

#[test]
fn rank_deficient_least_squares_is_an_error() {
    // Duplicate columns.
    let a = Matrix::from_rows(&[[1.0f64, 1.0], [2.0, 2.0], [3.0, 3.0]]).unwrap();
    let err = a.lstsq(&v(3)).unwrap_err();
    match &err {
        LinalgError::RankDeficient {
            op,
            shape,
            rank,
            tolerance,
        } => {
            assert_eq!(
                (*op, shape.to_string(), *rank),
                ("lstsq", "[3, 2]".into(), 1)
            );
            assert_eq!(*tolerance, 3.0 * f64::EPSILON);
        }
        other => panic!("expected RankDeficient, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("lstsq: matrix of shape [3, 2] is rank deficient (numerical rank 1")
    );

    // A column that is a combination of the others, in f32.
    let a = Matrix::from_rows(&[
        [1.0f32, 0.0, 1.0],
        [0.0, 1.0, 1.0],
        [1.0, 1.0, 2.0],
        [2.0, 0.0, 2.0],
    ])
    .unwrap();
    assert!(matches!(
        a.lstsq(&Vector::zeros(4)),
        Err(LinalgError::RankDeficient { rank: 2, .. })
    ));
    // The zero matrix has rank 0.
    assert!(matches!(
        Matrix::<f64>::zeros(3, 2).lstsq(&v(3)),
        Err(LinalgError::RankDeficient { rank: 0, .. })
    ));
    // Fewer equations than unknowns: never unique.
    assert!(matches!(
        m(2, 3).lstsq(&v(2)),
        Err(LinalgError::RankDeficient { rank: 2, .. })
    ));

    // fit_line: all x equal (a vertical cloud), and a single point.
    let err = fit_line(&[5.0f64, 5.0, 5.0], &[1.0, 2.0, 3.0]).unwrap_err();
    assert!(
        matches!(
            err,
            LinalgError::RankDeficient {
                op: "fit_line",
                rank: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        fit_line(&[5.0f32], &[1.0]),
        Err(LinalgError::RankDeficient { op: "fit_line", .. })
    ));
    // Two distinct points are enough.
    let line = fit_line(&[0.0f64, 2.0], &[1.0, 5.0]).unwrap();
    assert!((line.w - 2.0).abs() < 1e-15 && (line.b - 1.0).abs() < 1e-15);
}

#[test]
fn nearly_dependent_columns_follow_the_documented_tolerance() {
    // Column 2 = column 1 + δ·e₁. With δ far above the tolerance the problem is solved;
    // far below it, it is reported. R's second diagonal entry is about δ/√2 here.
    let make = |delta: f64| Matrix::from_rows(&[[1.0, 1.0 + delta], [1.0, 1.0]]).unwrap();
    assert!(make(1e-8).lstsq(&v(2)).is_ok());
    assert!(matches!(
        make(1e-17).lstsq(&v(2)),
        Err(LinalgError::RankDeficient { rank: 1, .. })
    ));
    // A looser tolerance rejects what the default accepts; a bad one is refused.
    assert!(make(1e-8).lstsq_with_tolerance(&v(2), 1e-6).is_err());
    assert!(matches!(
        make(1e-8).lstsq_with_tolerance(&v(2), f64::NAN),
        Err(LinalgError::InvalidArgument { .. })
    ));
    assert!(make(1e-8).lstsq_with_tolerance(&v(2), -1.0).is_err());
}

#[test]
fn least_squares_rejects_empty_and_non_finite_input() {
    assert_eq!(
        Matrix::<f64>::zeros(0, 2)
            .lstsq(&v(0))
            .unwrap_err()
            .to_string(),
        "lstsq: empty input of shape [0, 2]"
    );
    assert!(matches!(
        fit_line::<f64>(&[], &[]),
        Err(LinalgError::EmptyInput { op: "fit_line", .. })
    ));
    let mut a = m(3, 2);
    a[(1, 1)] = f64::NAN;
    assert_eq!(
        a.lstsq(&v(3)).unwrap_err().to_string(),
        "lstsq: input of shape [3, 2] contains NaN or infinity"
    );
    let b = Vector::from([1.0, f64::INFINITY, 0.0]);
    assert_eq!(
        Matrix::<f64>::identity(3)
            .lstsq(&b)
            .unwrap_err()
            .to_string(),
        "lstsq: input of shape [3] contains NaN or infinity"
    );
    assert!(matches!(
        mean_squared_error::<f64>(&[], &[]),
        Err(LinalgError::EmptyInput { .. })
    ));
}

#[test]
fn into_variants_check_the_output_shape() {
    let mut out = Matrix::zeros(2, 2);
    assert_mismatch(
        m(2, 3).matmul_into(&m(3, 3), &mut out).unwrap_err(),
        "matmul (output)",
        "[2, 2]",
        "[2, 3]",
    );
    assert_mismatch(
        m(2, 3).matmul_into(&m(2, 3), &mut out).unwrap_err(),
        "matmul",
        "[2, 3]",
        "[2, 3]",
    );
    let mut y = Vector::zeros(3);
    assert_mismatch(
        m(2, 3).matvec_into(&v(3), &mut y).unwrap_err(),
        "matvec (output)",
        "[3]",
        "[2]",
    );
    m(3, 3).matvec_into(&v(3), &mut y).unwrap();
    assert_eq!(y.as_slice(), &[14.0, 32.0, 50.0]);
    m(2, 3).matmul_into(&m(3, 2), &mut out).unwrap();
    assert_eq!(out, m(2, 3).matmul(&m(3, 2)).unwrap());
}
