//! `serde` round trips and validation (feature `serde`).
#![cfg(feature = "serde")]

use ferrograd_linalg::{Matrix, Vector};
use proptest::prelude::*;

#[test]
fn matrix_round_trip_and_format() {
    let a = Matrix::from_rows(&[[1.5f64, -2.0, 3.25], [0.0, 1e-300, 7.0]]).unwrap();
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(
        json,
        r#"{"nrows":2,"ncols":3,"data":[1.5,-2.0,3.25,0.0,1e-300,7.0]}"#
    );
    assert_eq!(serde_json::from_str::<Matrix<f64>>(&json).unwrap(), a);
    let empty = Matrix::<f32>::zeros(0, 3);
    let back: Matrix<f32> = serde_json::from_str(&serde_json::to_string(&empty).unwrap()).unwrap();
    assert_eq!(back.shape(), (0, 3));
}

#[test]
fn vector_round_trip_and_format() {
    let v = Vector::from([1.0f32, 2.5]);
    let json = serde_json::to_string(&v).unwrap();
    assert_eq!(json, r#"{"nrows":2,"ncols":1,"data":[1.0,2.5]}"#);
    assert_eq!(serde_json::from_str::<Vector>(&json).unwrap(), v);
}

#[test]
fn bad_lengths_are_rejected_with_the_linalg_message() {
    let err = serde_json::from_str::<Matrix>(r#"{"nrows":2,"ncols":3,"data":[1,2,3,4,5]}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Matrix::from_row_major: 5 elements cannot fill shape [2, 3]"),
        "{err}"
    );
    // nrows·ncols overflows usize: an error, not a panic.
    let huge = format!(r#"{{"nrows":{},"ncols":2,"data":[]}}"#, usize::MAX);
    assert!(serde_json::from_str::<Matrix>(&huge).is_err());
    let err = serde_json::from_str::<Vector<f64>>(r#"{"nrows":3,"ncols":1,"data":[1.0]}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("1 elements cannot fill shape [3, 1]"), "{err}");
    let err = serde_json::from_str::<Vector<f64>>(r#"{"nrows":1,"ncols":2,"data":[1.0,2.0]}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("a vector is one column, got shape [1, 2]"),
        "{err}"
    );
    assert!(serde_json::from_str::<Matrix>(r#"{"nrows":1,"data":[1.0]}"#).is_err());
    assert!(serde_json::from_str::<Matrix>(r#"{"nrows":1,"ncols":1,"data":["x"]}"#).is_err());
}

proptest! {
    #[test]
    fn any_matrix_round_trips_exactly(
        a in (0usize..6, 0usize..6).prop_flat_map(|(m, n)| {
            prop::collection::vec(any::<f64>().prop_filter("JSON has no NaN/inf", |v| v.is_finite()), m * n)
                .prop_map(move |d| Matrix::from_row_major(m, n, d).unwrap())
        })
    ) {
        let back: Matrix<f64> = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        prop_assert_eq!(back, a);
    }
}
