//! Matrices and the book's §1.6 matrix operations.
//!
//! # Storage
//!
//! A [`Matrix`] owns a dense row-major `Vec<T>` plus its shape, rather than a faer `Mat`:
//! faer's `Mat` is column-major with every column padded to 64 bytes, so it is not one
//! slice and cannot be built from, indexed as, or serialised as the book's row-major
//! data without copies. A row-major slice is wrapped by faer for free
//! (`MatRef::from_row_major_slice`, measured as fast as a `Mat` in products), and it is the
//! same layout the tensor crate hands to [`crate::kernel::gemm`]. Products go through that
//! kernel, which checks shapes and picks faer's sequential or parallel mode.

use crate::kernel::{MatView, MatViewMut, gemm};
use crate::{LinalgError, Scalar, Shape, Vector};

/// A dense row-major matrix of `f32` (the default, as in PyTorch) or `f64` elements.
///
/// ```
/// use ferrograd_linalg::{Matrix, Vector};
/// let a = Matrix::from_rows(&[[1.0f32, 2.0], [3.0, 4.0]])?;
/// let b = Matrix::identity(2);
/// assert_eq!(&a * &b, a);                         // matrix product
/// assert_eq!(a.transpose()[(0, 1)], 3.0);         // transpose
/// assert_eq!((&a + &a)[(1, 1)], 8.0);             // matrix sum
/// let v = Vector::from([1.0f32, 1.0]);
/// assert_eq!((&a * &v).as_slice(), &[3.0, 7.0]);  // matrix-vector product
/// assert_eq!(a.matmul(&Matrix::zeros(3, 1)).unwrap_err().to_string(),
///            "matmul: shape mismatch between [2, 2] and [3, 1]");
/// # Ok::<(), ferrograd_linalg::LinalgError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Matrix<T: Scalar = f32> {
    nrows: usize,
    ncols: usize,
    data: Vec<T>,
}

/// `m * n`, or [`LinalgError::SizeOverflow`].
fn element_count(op: &'static str, m: usize, n: usize) -> Result<usize, LinalgError> {
    m.checked_mul(n).ok_or_else(|| LinalgError::SizeOverflow {
        op,
        shape: Shape(vec![m, n]),
    })
}

impl<T: Scalar> Matrix<T> {
    /// A `nrows × ncols` matrix from its elements in row-major order (row 0 first).
    ///
    /// # Errors
    /// [`LinalgError::DataLength`] when `data.len() != nrows * ncols`.
    ///
    /// ```
    /// use ferrograd_linalg::Matrix;
    /// let a = Matrix::from_row_major(2, 3, vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?;
    /// assert_eq!(a[(1, 0)], 4.0);
    /// assert_eq!(
    ///     Matrix::from_row_major(2, 2, vec![1.0f32]).unwrap_err().to_string(),
    ///     "Matrix::from_row_major: 1 elements cannot fill shape [2, 2]"
    /// );
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn from_row_major(nrows: usize, ncols: usize, data: Vec<T>) -> Result<Self, LinalgError> {
        if nrows.checked_mul(ncols) != Some(data.len()) {
            return Err(LinalgError::DataLength {
                op: "Matrix::from_row_major",
                shape: Shape(vec![nrows, ncols]),
                len: data.len(),
            });
        }
        Ok(Self { nrows, ncols, data })
    }

    /// A matrix from its rows. No rows gives the `0 × 0` matrix.
    ///
    /// # Errors
    /// [`LinalgError::RaggedRows`] when the rows differ in length.
    ///
    /// ```
    /// use ferrograd_linalg::Matrix;
    /// let a = Matrix::from_rows(&[vec![1.0f64, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]])?;
    /// assert_eq!(a.shape(), (3, 2));
    /// assert!(Matrix::from_rows(&[vec![1.0f64, 2.0], vec![3.0]]).is_err());
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn from_rows<R: AsRef<[T]>>(rows: &[R]) -> Result<Self, LinalgError> {
        let ncols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len().saturating_mul(ncols));
        for (i, row) in rows.iter().enumerate() {
            let row = row.as_ref();
            if row.len() != ncols {
                return Err(LinalgError::RaggedRows {
                    op: "Matrix::from_rows",
                    row: i,
                    expected: ncols,
                    found: row.len(),
                });
            }
            data.extend_from_slice(row);
        }
        Ok(Self {
            nrows: rows.len(),
            ncols,
            data,
        })
    }

    /// The `nrows × ncols` zero matrix.
    ///
    /// # Panics
    /// When `nrows * ncols` overflows `usize` (as `vec!` does).
    pub fn zeros(nrows: usize, ncols: usize) -> Self {
        Self::filled(nrows, ncols, T::ZERO)
    }

    /// A matrix with every element equal to `value`.
    ///
    /// # Panics
    /// When `nrows * ncols` overflows `usize`.
    pub fn filled(nrows: usize, ncols: usize, value: T) -> Self {
        let len = nrows
            .checked_mul(ncols)
            .unwrap_or_else(|| panic!("Matrix::filled: {nrows} x {ncols} overflows usize"));
        Self {
            nrows,
            ncols,
            data: vec![value; len],
        }
    }

    /// The `n × n` identity matrix `I` (book §1.6): ones on the diagonal, zeros elsewhere.
    ///
    /// ```
    /// use ferrograd_linalg::Matrix;
    /// let i = Matrix::<f64>::identity(2);
    /// assert_eq!(i.as_slice(), &[1.0, 0.0, 0.0, 1.0]);
    /// ```
    ///
    /// # Panics
    /// When `n * n` overflows `usize`.
    pub fn identity(n: usize) -> Self {
        let mut m = Self::zeros(n, n);
        for i in 0..n {
            m.data[i * n + i] = T::ONE;
        }
        m
    }

    /// A matrix whose element `(i, j)` is `f(i, j)`.
    ///
    /// ```
    /// use ferrograd_linalg::Matrix;
    /// let a = Matrix::from_fn(2, 2, |i, j| (10 * i + j) as f32);
    /// assert_eq!(a.as_slice(), &[0.0, 1.0, 10.0, 11.0]);
    /// ```
    ///
    /// # Panics
    /// When `nrows * ncols` overflows `usize`.
    pub fn from_fn(nrows: usize, ncols: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut data = Vec::with_capacity(nrows.saturating_mul(ncols));
        for i in 0..nrows {
            for j in 0..ncols {
                data.push(f(i, j));
            }
        }
        Self { nrows, ncols, data }
    }

    /// The `n × 1` matrix holding `v` as its only column.
    pub fn from_column(v: &Vector<T>) -> Self {
        Self {
            nrows: v.len(),
            ncols: 1,
            data: v.as_slice().to_vec(),
        }
    }

    /// The `1 × n` matrix holding `v` as its only row.
    pub fn from_row(v: &Vector<T>) -> Self {
        Self {
            nrows: 1,
            ncols: v.len(),
            data: v.as_slice().to_vec(),
        }
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.nrows
    }

    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.ncols
    }

    /// `(nrows, ncols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.nrows, self.ncols)
    }

    /// The shape as printed in error messages: `[nrows, ncols]`.
    pub fn dims(&self) -> Shape {
        Shape(vec![self.nrows, self.ncols])
    }

    /// True when the matrix has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements in row-major order.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The elements in row-major order, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// The row-major buffer.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// A checked strided view for [`crate::kernel::gemm`] (free).
    pub fn view(&self) -> MatView<'_, T> {
        MatView::row_major(&self.data, self.nrows, self.ncols)
            .expect("Matrix invariant: data.len() == nrows * ncols")
    }

    /// A checked mutable view for [`crate::kernel::gemm`] (free).
    pub fn view_mut(&mut self) -> MatViewMut<'_, T> {
        MatViewMut::row_major(&mut self.data, self.nrows, self.ncols)
            .expect("Matrix invariant: data.len() == nrows * ncols")
    }

    /// A faer view of the matrix (free), for faer's own API.
    ///
    /// ```
    /// use ferrograd_linalg::Matrix;
    /// let a = Matrix::from_rows(&[[1.0f64, 2.0], [3.0, 4.0]])?;
    /// assert_eq!(a.as_faer()[(1, 0)], 3.0);
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn as_faer(&self) -> faer::MatRef<'_, T> {
        faer::MatRef::from_row_major_slice(&self.data, self.nrows, self.ncols)
    }

    /// A mutable faer view of the matrix (free).
    pub fn as_faer_mut(&mut self) -> faer::MatMut<'_, T> {
        faer::MatMut::from_row_major_slice_mut(&mut self.data, self.nrows, self.ncols)
    }

    fn out_of_bounds(&self, op: &'static str, i: usize, j: usize) -> LinalgError {
        LinalgError::IndexOutOfBounds {
            op,
            index: Shape(vec![i, j]),
            shape: self.dims(),
        }
    }

    /// Element `(i, j)` (row `i`, column `j`).
    ///
    /// # Errors
    /// [`LinalgError::IndexOutOfBounds`] outside the shape.
    ///
    /// ```
    /// use ferrograd_linalg::Matrix;
    /// let a = Matrix::<f32>::identity(2);
    /// assert_eq!(a.get(1, 1)?, 1.0);
    /// assert_eq!(a.get(0, 2).unwrap_err().to_string(),
    ///            "Matrix::get: index [0, 2] is out of bounds for shape [2, 2]");
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn get(&self, i: usize, j: usize) -> Result<T, LinalgError> {
        if i >= self.nrows || j >= self.ncols {
            return Err(self.out_of_bounds("Matrix::get", i, j));
        }
        Ok(self.data[i * self.ncols + j])
    }

    /// Mutable reference to element `(i, j)`.
    ///
    /// # Errors
    /// [`LinalgError::IndexOutOfBounds`] outside the shape.
    pub fn get_mut(&mut self, i: usize, j: usize) -> Result<&mut T, LinalgError> {
        if i >= self.nrows || j >= self.ncols {
            return Err(self.out_of_bounds("Matrix::get_mut", i, j));
        }
        Ok(&mut self.data[i * self.ncols + j])
    }

    /// Row `i` as a slice.
    ///
    /// # Errors
    /// [`LinalgError::IndexOutOfBounds`] when `i >= nrows` (the index is printed as
    /// `[i, 0]`).
    pub fn row(&self, i: usize) -> Result<&[T], LinalgError> {
        if i >= self.nrows {
            return Err(self.out_of_bounds("Matrix::row", i, 0));
        }
        Ok(&self.data[i * self.ncols..(i + 1) * self.ncols])
    }

    /// Column `j` as a new vector.
    ///
    /// # Errors
    /// [`LinalgError::IndexOutOfBounds`] when `j >= ncols` (printed as `[0, j]`).
    pub fn column(&self, j: usize) -> Result<Vector<T>, LinalgError> {
        if j >= self.ncols {
            return Err(self.out_of_bounds("Matrix::column", 0, j));
        }
        Ok((0..self.nrows)
            .map(|i| self.data[i * self.ncols + j])
            .collect())
    }

    /// Iterator over the rows as slices (also for zero columns).
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[T]> + '_ {
        let n = self.ncols;
        (0..self.nrows).map(move |i| &self.data[i * n..(i + 1) * n])
    }

    /// The transpose `Aᵀ` (book §1.6): element `(i, j)` of `A` becomes `(j, i)`.
    ///
    /// Copies into a new row-major buffer, in 32 × 32 tiles so both sides stay in cache.
    /// (For a free transposed view, use `a.view().transpose()` with the kernel.)
    ///
    /// ```
    /// use ferrograd_linalg::Matrix;
    /// let a = Matrix::from_rows(&[[1.0f32, 2.0, 3.0]])?;
    /// let t = a.transpose();
    /// assert_eq!(t.shape(), (3, 1));
    /// assert_eq!(t.as_slice(), &[1.0, 2.0, 3.0]);
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn transpose(&self) -> Self {
        const TILE: usize = 32;
        let (m, n) = (self.nrows, self.ncols);
        let mut out = vec![T::ZERO; self.data.len()];
        for i0 in (0..m).step_by(TILE) {
            for j0 in (0..n).step_by(TILE) {
                for i in i0..(i0 + TILE).min(m) {
                    for j in j0..(j0 + TILE).min(n) {
                        out[j * m + i] = self.data[i * n + j];
                    }
                }
            }
        }
        Self {
            nrows: n,
            ncols: m,
            data: out,
        }
    }

    fn check_same_shape(&self, op: &'static str, other: &Self) -> Result<(), LinalgError> {
        if self.shape() != other.shape() {
            return Err(LinalgError::ShapeMismatch {
                op,
                lhs: self.dims(),
                rhs: other.dims(),
            });
        }
        Ok(())
    }

    fn zip_with(
        &self,
        op: &'static str,
        other: &Self,
        f: impl Fn(T, T) -> T,
    ) -> Result<Self, LinalgError> {
        self.check_same_shape(op, other)?;
        Ok(Self {
            nrows: self.nrows,
            ncols: self.ncols,
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(&a, &b)| f(a, b))
                .collect(),
        })
    }

    pub(crate) fn zip_assign(
        &mut self,
        op: &'static str,
        other: &Self,
        f: impl Fn(&mut T, T),
    ) -> Result<(), LinalgError> {
        self.check_same_shape(op, other)?;
        self.data
            .iter_mut()
            .zip(&other.data)
            .for_each(|(a, &b)| f(a, b));
        Ok(())
    }

    /// Matrix sum `A + B` (book §1.6); the fallible twin of `&a + &b`.
    ///
    /// # Errors
    /// [`LinalgError::ShapeMismatch`] when the shapes differ.
    pub fn try_add(&self, other: &Self) -> Result<Self, LinalgError> {
        self.zip_with("add", other, |a, b| a + b)
    }

    /// Matrix difference `A − B`; the fallible twin of `&a - &b`.
    ///
    /// # Errors
    /// [`LinalgError::ShapeMismatch`] when the shapes differ.
    pub fn try_sub(&self, other: &Self) -> Result<Self, LinalgError> {
        self.zip_with("sub", other, |a, b| a - b)
    }

    /// Element-wise (Hadamard) product `A ⊙ B`.
    ///
    /// # Errors
    /// [`LinalgError::ShapeMismatch`] when the shapes differ.
    pub fn hadamard(&self, other: &Self) -> Result<Self, LinalgError> {
        self.zip_with("hadamard", other, |a, b| a * b)
    }

    /// A new matrix with `f` applied to every element.
    pub fn map(&self, f: impl Fn(T) -> T) -> Self {
        Self {
            nrows: self.nrows,
            ncols: self.ncols,
            data: self.data.iter().map(|&v| f(v)).collect(),
        }
    }

    /// Scalar multiple `c·A`; the same as `&a * c`.
    pub fn scale(&self, c: T) -> Self {
        self.map(|v| v * c)
    }

    /// Division by a scalar, following IEEE arithmetic (dividing by zero gives infinities
    /// or NaN, as in PyTorch); the same as `&a / c`.
    pub fn div_scalar(&self, c: T) -> Self {
        self.map(|v| v / c)
    }

    /// Division by a scalar that refuses a zero divisor.
    ///
    /// # Errors
    /// [`LinalgError::DivisionByZero`] when `c == 0`.
    pub fn checked_div_scalar(&self, c: T) -> Result<Self, LinalgError> {
        if c == T::ZERO {
            return Err(LinalgError::DivisionByZero {
                op: "div_scalar",
                shape: self.dims(),
            });
        }
        Ok(self.div_scalar(c))
    }

    /// Matrix product `AB` (book §1.6) on faer's kernel; the fallible twin of `&a * &b`.
    ///
    /// Runs sequentially or on [`crate::num_threads`] threads according to
    /// [`crate::kernel::use_parallel`].
    ///
    /// # Errors
    /// [`LinalgError::ShapeMismatch`] when `A` has not as many columns as `B` has rows;
    /// [`LinalgError::SizeOverflow`] when the result cannot be allocated (only possible
    /// with zero inner dimension and huge outer ones).
    ///
    /// ```
    /// use ferrograd_linalg::Matrix;
    /// let a = Matrix::from_rows(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]])?;
    /// let b = Matrix::from_rows(&[[7.0f32, 8.0], [9.0, 10.0], [11.0, 12.0]])?;
    /// assert_eq!(a.matmul(&b)?.as_slice(), &[58.0, 64.0, 139.0, 154.0]);
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn matmul(&self, other: &Self) -> Result<Self, LinalgError> {
        if self.ncols != other.nrows {
            return Err(LinalgError::ShapeMismatch {
                op: "matmul",
                lhs: self.dims(),
                rhs: other.dims(),
            });
        }
        let (m, n) = (self.nrows, other.ncols);
        let mut out = Self {
            nrows: m,
            ncols: n,
            data: vec![T::ZERO; element_count("matmul", m, n)?],
        };
        self.matmul_into(other, &mut out)?;
        Ok(out)
    }

    /// `out = AB` into an existing matrix of the right shape, without allocating (for
    /// loops that reuse their buffers).
    ///
    /// # Errors
    /// [`LinalgError::ShapeMismatch`] with op `"matmul"` when `A` and `B` do not chain, or
    /// op `"matmul (output)"` when `out` is not `nrows(A) × ncols(B)`.
    ///
    /// ```
    /// use ferrograd_linalg::Matrix;
    /// let a = Matrix::from_rows(&[[1.0f32, 2.0], [3.0, 4.0]])?;
    /// let mut out = Matrix::zeros(2, 2);
    /// a.matmul_into(&Matrix::identity(2), &mut out)?;
    /// assert_eq!(out, a);
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn matmul_into(&self, other: &Self, out: &mut Self) -> Result<(), LinalgError> {
        if self.ncols != other.nrows {
            return Err(LinalgError::ShapeMismatch {
                op: "matmul",
                lhs: self.dims(),
                rhs: other.dims(),
            });
        }
        if out.shape() != (self.nrows, other.ncols) {
            return Err(LinalgError::ShapeMismatch {
                op: "matmul (output)",
                lhs: out.dims(),
                rhs: Shape(vec![self.nrows, other.ncols]),
            });
        }
        gemm(out.view_mut(), self.view(), other.view(), T::ONE, false)
    }

    /// `out = Ax` into an existing vector, without allocating.
    ///
    /// # Errors
    /// [`LinalgError::ShapeMismatch`] with op `"matvec"` when `x.len() != ncols`, or
    /// `"matvec (output)"` when `out.len() != nrows`.
    pub fn matvec_into(&self, x: &Vector<T>, out: &mut Vector<T>) -> Result<(), LinalgError> {
        if self.ncols != x.len() {
            return Err(LinalgError::ShapeMismatch {
                op: "matvec",
                lhs: self.dims(),
                rhs: x.dims(),
            });
        }
        if out.len() != self.nrows {
            return Err(LinalgError::ShapeMismatch {
                op: "matvec (output)",
                lhs: out.dims(),
                rhs: Shape(vec![self.nrows]),
            });
        }
        let n = out.len();
        gemm(
            MatViewMut::row_major(out.as_mut_slice(), n, 1)?,
            self.view(),
            MatView::row_major(x.as_slice(), x.len(), 1)?,
            T::ONE,
            false,
        )
    }

    /// Matrix-vector product `Ax` (book §1.6) on faer's kernel; the fallible twin of
    /// `&a * &x`.
    ///
    /// # Errors
    /// [`LinalgError::ShapeMismatch`] when `x.len() != ncols`.
    ///
    /// ```
    /// use ferrograd_linalg::{Matrix, Vector};
    /// let a = Matrix::from_rows(&[[1.0f64, 2.0], [3.0, 4.0], [5.0, 6.0]])?;
    /// let x = Vector::from([1.0f64, -1.0]);
    /// assert_eq!(a.matvec(&x)?.as_slice(), &[-1.0, -1.0, -1.0]);
    /// assert_eq!(a.matvec(&Vector::zeros(3)).unwrap_err().to_string(),
    ///            "matvec: shape mismatch between [3, 2] and [3]");
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn matvec(&self, x: &Vector<T>) -> Result<Vector<T>, LinalgError> {
        if self.ncols != x.len() {
            return Err(LinalgError::ShapeMismatch {
                op: "matvec",
                lhs: self.dims(),
                rhs: x.dims(),
            });
        }
        let mut out = Vector::zeros(self.nrows);
        self.matvec_into(x, &mut out)?;
        Ok(out)
    }
}

/// `a[(i, j)]`; panics with the message of [`Matrix::get`]'s error outside the shape.
impl<T: Scalar> std::ops::Index<(usize, usize)> for Matrix<T> {
    type Output = T;
    fn index(&self, (i, j): (usize, usize)) -> &T {
        if i >= self.nrows || j >= self.ncols {
            panic!("{}", self.out_of_bounds("Matrix::get", i, j));
        }
        &self.data[i * self.ncols + j]
    }
}

/// `a[(i, j)] = x`; panics with the message of [`Matrix::get_mut`]'s error outside the
/// shape.
impl<T: Scalar> std::ops::IndexMut<(usize, usize)> for Matrix<T> {
    fn index_mut(&mut self, (i, j): (usize, usize)) -> &mut T {
        if i >= self.nrows || j >= self.ncols {
            panic!("{}", self.out_of_bounds("Matrix::get_mut", i, j));
        }
        &mut self.data[i * self.ncols + j]
    }
}
