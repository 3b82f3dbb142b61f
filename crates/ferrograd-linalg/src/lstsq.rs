//! Linear least squares, and §1.2's closed-form linear regression built on it.
//!
//! # Method
//!
//! `min ‖Ax − b‖₂` is solved with faer's Householder QR with column pivoting,
//! `AP = QR`, then `x = P R⁻¹ Qᵀ b` — never through the normal equations `AᵀA x = Aᵀb`,
//! which square the condition number.
//!
//! # Rank deficiency
//!
//! When the columns of `A` are (numerically) linearly dependent the minimiser is not
//! unique and a plain QR solve returns an arbitrary, often huge, answer. Column pivoting
//! moves the largest remaining column to the front at every step, so the magnitudes of
//! `R`'s diagonal fall off with the rank. The numerical rank is the number of diagonal
//! entries with `|rᵢᵢ| > tol · maxⱼ |rⱼⱼ|`; any rank below the number of columns is
//! reported as [`LinalgError::RankDeficient`]. The default relative tolerance is
//! `max(m, n) · ε` with `ε` the machine epsilon of the element type ([`default_rank_tolerance`]),
//! the same rule numpy's `matrix_rank` applies to singular values. This is the classic
//! rank-revealing heuristic of LAPACK's `xGELSY`; it can overestimate the rank of
//! pathological matrices (Kahan's example) that an SVD would catch, and it judges columns
//! on their own scale, so wildly different column scales make it more lenient.
//!
//! # Precision
//!
//! The factorisation always runs in `f64`, whatever `T` is: `f32` data convert exactly,
//! and the `f32` answer is the `f64` answer rounded once. The rank tolerance still uses
//! `T`'s epsilon, since that is the precision the data were given in.
//!
//! faer is called with an explicit sequential or parallel mode chosen by
//! [`crate::kernel::use_parallel`] on the factorisation's work `m·n·n`, never with its
//! global (all-cores) default.

use crate::kernel::{num_threads, use_parallel};
use crate::{LinalgError, Matrix, Scalar, Shape, Vector};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::qr::col_pivoting::{factor, solve};
use faer::{Conj, Mat, Par};

/// The default relative tolerance for the numerical rank: `max(nrows, ncols) · ε(T)`.
///
/// ```
/// use ferrograd_linalg::default_rank_tolerance;
/// assert_eq!(default_rank_tolerance::<f64>(3, 2), 3.0 * f64::EPSILON);
/// ```
pub fn default_rank_tolerance<T: Scalar>(nrows: usize, ncols: usize) -> f64 {
    nrows.max(ncols) as f64 * T::EPSILON.to_f64()
}

/// Solves `min ‖A X − B‖` for `X` (`n × k`) in `f64`; `b` is `m × k` row-major. Returns
/// `X` row-major.
fn lstsq_f64<T: Scalar>(
    op: &'static str,
    a: &Matrix<T>,
    b: &[T],
    b_shape: Shape,
    k: usize,
    rel_tol: f64,
) -> Result<Vec<f64>, LinalgError> {
    let (m, n) = a.shape();
    if !(rel_tol.is_finite() && rel_tol >= 0.0) {
        return Err(LinalgError::InvalidArgument {
            op,
            reason: format!("rank tolerance must be finite and non-negative, got {rel_tol}"),
        });
    }
    if m == 0 || n == 0 {
        return Err(LinalgError::EmptyInput {
            op,
            shape: a.dims(),
        });
    }
    if !a.as_slice().iter().all(|v| v.is_finite()) {
        return Err(LinalgError::NonFinite {
            op,
            shape: a.dims(),
        });
    }
    if !b.iter().all(|v| v.is_finite()) {
        return Err(LinalgError::NonFinite { op, shape: b_shape });
    }

    let par = if use_parallel::<T>(m, n, n) {
        Par::rayon(num_threads())
    } else {
        Par::Seq
    };
    let data = a.as_slice();
    let mut qr = Mat::<f64>::from_fn(m, n, |i, j| data[i * n + j].to_f64());
    let size = m.min(n);
    let block_size = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(m, n);
    let mut q_coeff = Mat::<f64>::zeros(block_size, size);
    let mut perm_fwd = vec![0usize; n];
    let mut perm_bwd = vec![0usize; n];
    let mut factor_mem = MemBuffer::new(factor::qr_in_place_scratch::<usize, f64>(
        m,
        n,
        block_size,
        par,
        Default::default(),
    ));
    let (_, perm) = factor::qr_in_place(
        qr.as_mut(),
        q_coeff.as_mut(),
        &mut perm_fwd,
        &mut perm_bwd,
        par,
        MemStack::new(&mut factor_mem),
        Default::default(),
    );

    // Numerical rank from the diagonal of R (see the module documentation).
    let diag: Vec<f64> = (0..size).map(|i| qr[(i, i)].abs()).collect();
    let largest = diag.iter().copied().fold(0.0f64, f64::max);
    let rank = diag.iter().filter(|&&d| d > rel_tol * largest).count();
    if rank < n {
        return Err(LinalgError::RankDeficient {
            op,
            shape: a.dims(),
            rank,
            tolerance: rel_tol,
        });
    }
    if k == 0 {
        return Ok(Vec::new());
    }

    // Here m >= n (rank n <= min(m, n)). Split the packed factorisation the way faer's
    // `ColPivQr` does: Householder vectors below a unit diagonal, R on and above it.
    let q_basis = Mat::<f64>::from_fn(m, n, |i, j| match i.cmp(&j) {
        std::cmp::Ordering::Greater => qr[(i, j)],
        std::cmp::Ordering::Equal => 1.0,
        std::cmp::Ordering::Less => 0.0,
    });
    let r = Mat::<f64>::from_fn(n, n, |i, j| if i <= j { qr[(i, j)] } else { 0.0 });
    let mut rhs = Mat::<f64>::from_fn(m, k, |i, j| b[i * k + j].to_f64());
    let mut solve_mem = MemBuffer::new(solve::solve_lstsq_in_place_scratch::<usize, f64>(
        m, n, block_size, k, par,
    ));
    solve::solve_lstsq_in_place_with_conj(
        q_basis.as_ref(),
        q_coeff.as_ref(),
        r.as_ref(),
        perm,
        Conj::No,
        rhs.as_mut(),
        par,
        MemStack::new(&mut solve_mem),
    );
    let mut x = Vec::with_capacity(n * k);
    for i in 0..n {
        for j in 0..k {
            x.push(rhs[(i, j)]);
        }
    }
    Ok(x)
}

impl<T: Scalar> Matrix<T> {
    /// The least-squares solution `x` minimising `‖Ax − b‖₂`, by column-pivoted QR (see
    /// the [module documentation](crate::lstsq) for the method and the rank test).
    ///
    /// # Errors
    /// [`LinalgError::ShapeMismatch`] when `b.len() != nrows`; [`LinalgError::EmptyInput`]
    /// for a matrix without rows or columns; [`LinalgError::NonFinite`] for NaN or
    /// infinite inputs; [`LinalgError::RankDeficient`] when the columns are numerically
    /// dependent (including every problem with fewer rows than columns).
    ///
    /// ```
    /// use ferrograd_linalg::{Matrix, Vector};
    /// // Fit y = w·x + b through (0, 1), (1, 3), (2, 5): w = 2, b = 1.
    /// let a = Matrix::from_rows(&[[0.0f64, 1.0], [1.0, 1.0], [2.0, 1.0]])?;
    /// let x = a.lstsq(&Vector::from([1.0, 3.0, 5.0]))?;
    /// assert!((x[0] - 2.0).abs() < 1e-14 && (x[1] - 1.0).abs() < 1e-14);
    ///
    /// let dependent = Matrix::from_rows(&[[1.0f64, 2.0], [2.0, 4.0], [3.0, 6.0]])?;
    /// assert!(dependent.lstsq(&Vector::from([1.0, 2.0, 3.0])).is_err());
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn lstsq(&self, b: &Vector<T>) -> Result<Vector<T>, LinalgError> {
        self.lstsq_with_tolerance(b, default_rank_tolerance::<T>(self.nrows(), self.ncols()))
    }

    /// [`Matrix::lstsq`] with an explicit relative rank tolerance (`|rᵢᵢ| ≤ rel_tol ·
    /// max |rⱼⱼ|` counts as zero).
    ///
    /// # Errors
    /// As [`Matrix::lstsq`], plus [`LinalgError::InvalidArgument`] when `rel_tol` is
    /// negative or not finite.
    pub fn lstsq_with_tolerance(
        &self,
        b: &Vector<T>,
        rel_tol: f64,
    ) -> Result<Vector<T>, LinalgError> {
        const OP: &str = "lstsq";
        if b.len() != self.nrows() {
            return Err(LinalgError::ShapeMismatch {
                op: OP,
                lhs: self.dims(),
                rhs: b.dims(),
            });
        }
        let x = lstsq_f64(OP, self, b.as_slice(), b.dims(), 1, rel_tol)?;
        Ok(x.into_iter().map(T::from_f64).collect())
    }

    /// Least squares for several right-hand sides at once: the `n × k` matrix `X`
    /// minimising `‖AX − B‖` column by column.
    ///
    /// # Errors
    /// As [`Matrix::lstsq`]; the shape mismatch is between `A` and `B`.
    ///
    /// ```
    /// use ferrograd_linalg::Matrix;
    /// let a = Matrix::<f64>::identity(2);
    /// let b = Matrix::from_rows(&[[1.0, 2.0], [3.0, 4.0]])?;
    /// assert_eq!(a.lstsq_matrix(&b)?, b);
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn lstsq_matrix(&self, b: &Matrix<T>) -> Result<Matrix<T>, LinalgError> {
        const OP: &str = "lstsq";
        if b.nrows() != self.nrows() {
            return Err(LinalgError::ShapeMismatch {
                op: OP,
                lhs: self.dims(),
                rhs: b.dims(),
            });
        }
        let tol = default_rank_tolerance::<T>(self.nrows(), self.ncols());
        let x = lstsq_f64(OP, self, b.as_slice(), b.dims(), b.ncols(), tol)?;
        Matrix::from_row_major(
            self.ncols(),
            b.ncols(),
            x.into_iter().map(T::from_f64).collect(),
        )
    }
}

/// The least-squares solution of `Ax ≈ b`; the same as [`Matrix::lstsq`].
///
/// # Errors
/// See [`Matrix::lstsq`].
pub fn solve_least_squares<T: Scalar>(
    a: &Matrix<T>,
    b: &Vector<T>,
) -> Result<Vector<T>, LinalgError> {
    a.lstsq(b)
}

/// A fitted line `y = w·x + b` (book §1.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineFit<T: Scalar = f32> {
    /// Slope `w`.
    pub w: T,
    /// Intercept `b`.
    pub b: T,
}

impl<T: Scalar> LineFit<T> {
    /// The prediction `w·x + b`.
    pub fn predict(&self, x: T) -> T {
        self.w * x + self.b
    }

    /// Mean squared error of the line on the examples `(xs[i], ys[i])`, accumulated in
    /// `f64`.
    ///
    /// # Errors
    /// [`LinalgError::ShapeMismatch`] when the lengths differ; [`LinalgError::EmptyInput`]
    /// without examples.
    pub fn mse(&self, xs: &[T], ys: &[T]) -> Result<T, LinalgError> {
        if xs.len() != ys.len() {
            return Err(LinalgError::ShapeMismatch {
                op: "mse",
                lhs: Shape(vec![xs.len()]),
                rhs: Shape(vec![ys.len()]),
            });
        }
        let predictions: Vec<T> = xs.iter().map(|&x| self.predict(x)).collect();
        mean_squared_error(&predictions, ys)
    }
}

/// Mean squared error `(1/N) Σ (ŷᵢ − yᵢ)²`, accumulated in `f64`.
///
/// # Errors
/// [`LinalgError::ShapeMismatch`] when the lengths differ; [`LinalgError::EmptyInput`]
/// for no elements.
///
/// ```
/// use ferrograd_linalg::mean_squared_error;
/// assert_eq!(mean_squared_error(&[1.0f32, 2.0], &[1.0, 4.0])?, 2.0);
/// # Ok::<(), ferrograd_linalg::LinalgError>(())
/// ```
pub fn mean_squared_error<T: Scalar>(predictions: &[T], targets: &[T]) -> Result<T, LinalgError> {
    const OP: &str = "mse";
    if predictions.len() != targets.len() {
        return Err(LinalgError::ShapeMismatch {
            op: OP,
            lhs: Shape(vec![predictions.len()]),
            rhs: Shape(vec![targets.len()]),
        });
    }
    if predictions.is_empty() {
        return Err(LinalgError::EmptyInput {
            op: OP,
            shape: Shape(vec![0]),
        });
    }
    let sum: f64 = predictions
        .iter()
        .zip(targets)
        .map(|(&p, &t)| (p.to_f64() - t.to_f64()).powi(2))
        .sum();
    Ok(T::from_f64(sum / predictions.len() as f64))
}

/// Fits `y = w·x + b` to the examples `(xs[i], ys[i])` in closed form (book §1.2), as
/// the least-squares solution of `[x 1] (w, b)ᵀ ≈ y` ([`Matrix::lstsq`]).
///
/// # Errors
/// [`LinalgError::ShapeMismatch`] when the lengths differ; [`LinalgError::EmptyInput`]
/// without examples; [`LinalgError::NonFinite`] for NaN or infinite values;
/// [`LinalgError::RankDeficient`] (for the `N × 2` design matrix) when the line is not
/// determined: a single example, or all `x` equal.
///
/// ```
/// use ferrograd_linalg::fit_line;
/// // The book's three houses: area (m²) and price (thousands).
/// let line = fit_line(&[150.0f64, 200.0, 260.0], &[200.0, 600.0, 500.0])?;
/// assert!((line.w - 2.58).abs() < 0.005 && (line.b + 91.76).abs() < 0.005);
/// assert!(fit_line(&[3.0f64, 3.0], &[1.0, 2.0]).is_err()); // vertical: no unique line
/// # Ok::<(), ferrograd_linalg::LinalgError>(())
/// ```
pub fn fit_line<T: Scalar>(xs: &[T], ys: &[T]) -> Result<LineFit<T>, LinalgError> {
    const OP: &str = "fit_line";
    if xs.len() != ys.len() {
        return Err(LinalgError::ShapeMismatch {
            op: OP,
            lhs: Shape(vec![xs.len()]),
            rhs: Shape(vec![ys.len()]),
        });
    }
    let design = Matrix::from_fn(xs.len(), 2, |i, j| if j == 0 { xs[i] } else { T::ONE });
    let tol = default_rank_tolerance::<T>(xs.len(), 2);
    let wb = lstsq_f64(OP, &design, ys, Shape(vec![ys.len()]), 1, tol)?;
    Ok(LineFit {
        w: T::from_f64(wb[0]),
        b: T::from_f64(wb[1]),
    })
}
