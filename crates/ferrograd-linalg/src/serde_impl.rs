//! `serde` support (feature `serde`): [`Matrix`] and [`Vector`] as
//! `{ "nrows": m, "ncols": n, "data": [row-major elements] }`.
//!
//! faer 0.24 has no serde support, and this form does not depend on faer's layout. A
//! vector is written as the column it is in the book's notation (`ncols = 1`).
//! Deserialisation checks that `data` has exactly `nrows · ncols` elements (and, for a
//! vector, that `ncols = 1`) and reports a mismatch as a serde error carrying the
//! [`LinalgError`] message; it never panics.
//!
//! Exact round trips of `f64` through JSON need serde_json's `float_roundtrip` feature
//! (its default parser can be off by an ulp); JSON has no NaN or infinities.
//!
//! ```
//! use ferrograd_linalg::Matrix;
//! let a = Matrix::from_rows(&[[1.0f32, 2.0], [3.0, 4.0]])?;
//! let json = serde_json::to_string(&a).unwrap();
//! assert_eq!(json, r#"{"nrows":2,"ncols":2,"data":[1.0,2.0,3.0,4.0]}"#);
//! assert_eq!(serde_json::from_str::<Matrix>(&json).unwrap(), a);
//! let bad = serde_json::from_str::<Matrix>(r#"{"nrows":2,"ncols":2,"data":[1.0]}"#);
//! assert!(bad.unwrap_err().to_string().contains("1 elements cannot fill shape [2, 2]"));
//! # Ok::<(), ferrograd_linalg::LinalgError>(())
//! ```

use crate::{LinalgError, Matrix, Scalar, Shape, Vector};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize)]
struct RawRef<'a, T> {
    nrows: usize,
    ncols: usize,
    data: &'a [T],
}

#[derive(Deserialize)]
struct Raw<T> {
    nrows: usize,
    ncols: usize,
    data: Vec<T>,
}

impl<T: Scalar + Serialize> Serialize for Matrix<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RawRef {
            nrows: self.nrows(),
            ncols: self.ncols(),
            data: self.as_slice(),
        }
        .serialize(serializer)
    }
}

impl<'de, T: Scalar + Deserialize<'de>> Deserialize<'de> for Matrix<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Raw::<T>::deserialize(deserializer)?;
        Matrix::from_row_major(raw.nrows, raw.ncols, raw.data).map_err(D::Error::custom)
    }
}

impl<T: Scalar + Serialize> Serialize for Vector<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RawRef {
            nrows: self.len(),
            ncols: 1,
            data: self.as_slice(),
        }
        .serialize(serializer)
    }
}

impl<'de, T: Scalar + Deserialize<'de>> Deserialize<'de> for Vector<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Raw::<T>::deserialize(deserializer)?;
        if raw.ncols != 1 {
            return Err(D::Error::custom(LinalgError::InvalidArgument {
                op: "Vector::deserialize",
                reason: format!(
                    "a vector is one column, got shape {}",
                    Shape(vec![raw.nrows, raw.ncols])
                ),
            }));
        }
        if raw.data.len() != raw.nrows {
            return Err(D::Error::custom(LinalgError::DataLength {
                op: "Vector::deserialize",
                shape: Shape(vec![raw.nrows, raw.ncols]),
                len: raw.data.len(),
            }));
        }
        Ok(Vector::new(raw.data))
    }
}
