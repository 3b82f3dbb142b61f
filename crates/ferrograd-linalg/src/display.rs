//! `Display` for [`Vector`] and [`Matrix`]: printed like a matrix, one row per line, with
//! the elements right-aligned to a common width (as numpy and PyTorch do).
//!
//! Elements use their shortest round-trip form (`1.0`, `0.1`, `1e-7`) unless a precision
//! is given (`{:.2}`), which is applied to every element.
//!
//! ```
//! use ferrograd_linalg::{Matrix, Vector};
//! let a = Matrix::from_rows(&[[1.0f32, -2.5], [150.0, 0.0]])?;
//! assert_eq!(a.to_string(), "[[  1.0,  -2.5],\n [150.0,   0.0]]");
//! assert_eq!(format!("{a:.2}"), "[[  1.00,  -2.50],\n [150.00,   0.00]]");
//! assert_eq!(Vector::from([1.0f64, 0.5]).to_string(), "[1.0, 0.5]");
//! # Ok::<(), ferrograd_linalg::LinalgError>(())
//! ```

use crate::{Matrix, Scalar, Vector};
use std::fmt;

fn format_elements<T: Scalar>(data: &[T], precision: Option<usize>) -> (Vec<String>, usize) {
    let cells: Vec<String> = data
        .iter()
        .map(|v| match precision {
            Some(p) => format!("{v:.p$}"),
            None => format!("{v:?}"),
        })
        .collect();
    let width = cells.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    (cells, width)
}

fn write_row(f: &mut fmt::Formatter<'_>, cells: &[String], width: usize) -> fmt::Result {
    f.write_str("[")?;
    for (j, c) in cells.iter().enumerate() {
        if j > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{c:>width$}")?;
    }
    f.write_str("]")
}

impl<T: Scalar> fmt::Display for Vector<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (cells, _) = format_elements(self.as_slice(), f.precision());
        write_row(f, &cells, 0)
    }
}

impl<T: Scalar> fmt::Display for Matrix<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (cells, width) = format_elements(self.as_slice(), f.precision());
        let n = self.ncols();
        f.write_str("[")?;
        for i in 0..self.nrows() {
            if i > 0 {
                f.write_str(",\n ")?;
            }
            write_row(f, &cells[i * n..(i + 1) * n], width)?;
        }
        f.write_str("]")
    }
}
