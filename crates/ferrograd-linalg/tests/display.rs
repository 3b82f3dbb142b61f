//! `Display` prints like a matrix; `Debug` shows the fields.

use ferrograd_linalg::{Matrix, Vector};

#[test]
fn matrices_print_one_aligned_row_per_line() {
    let a = Matrix::from_rows(&[[150.0f32, 1.0], [200.0, 1.0], [260.0, 1.0]]).unwrap();
    assert_eq!(
        a.to_string(),
        "[[150.0,   1.0],\n [200.0,   1.0],\n [260.0,   1.0]]"
    );
    assert_eq!(
        format!("{a:.0}"),
        "[[150,   1],\n [200,   1],\n [260,   1]]"
    );
    let tiny = Matrix::from_rows(&[[1e-7f64, -1.0]]).unwrap();
    assert_eq!(tiny.to_string(), "[[1e-7, -1.0]]");
    assert_eq!(Matrix::<f32>::zeros(0, 0).to_string(), "[]");
    assert_eq!(Matrix::<f32>::zeros(2, 0).to_string(), "[[],\n []]");
}

#[test]
fn vectors_print_as_one_row() {
    assert_eq!(
        Vector::from([2.58f64, -91.76]).to_string(),
        "[2.58, -91.76]"
    );
    assert_eq!(format!("{:.1}", Vector::from([1.25f32, 2.0])), "[1.2, 2.0]");
    assert_eq!(Vector::<f32>::zeros(0).to_string(), "[]");
}

#[test]
fn debug_shows_the_fields() {
    let a = Matrix::from_rows(&[[1.0f32]]).unwrap();
    assert_eq!(
        format!("{a:?}"),
        "Matrix { nrows: 1, ncols: 1, data: [1.0] }"
    );
    assert_eq!(
        format!("{:?}", Vector::from([1.0f64])),
        "Vector { data: [1.0] }"
    );
}
