//! Vectors and the book's §1.4 vector operations.
//!
//! # Storage
//!
//! A [`Vector`] owns a plain `Vec<T>`: one contiguous slice, which is what indexing,
//! serialisation and the tensor crate want. faer is reached through free views over that
//! slice ([`Vector::as_faer`], and [`crate::kernel::gemm`] for the dot product), which cost
//! nothing; faer's own `Col` would add padding and a second allocation layout for no gain.

use crate::kernel::{MatView, MatViewMut, gemm};
use crate::{LinalgError, Scalar, Shape};

/// A dense vector of `f32` (the default, as in PyTorch) or `f64` elements.
///
/// Vectors are columns in the book's notation; as a matrix they are `n × 1` (see
/// [`crate::Matrix::from_column`]).
///
/// ```
/// use ferrograd_linalg::Vector;
/// let x = Vector::from([2.0f32, 3.0]);
/// let y = Vector::from([1.0f32, -1.0]);
/// assert_eq!(x.dot(&y)?, -1.0);
/// assert_eq!((&x + &y).as_slice(), &[3.0, 2.0]);
/// assert_eq!((&x * 2.0).as_slice(), &[4.0, 6.0]);
/// assert_eq!(x.hadamard(&y)?.as_slice(), &[2.0, -3.0]);
/// assert_eq!(x[1], 3.0);
/// # Ok::<(), ferrograd_linalg::LinalgError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Vector<T: Scalar = f32> {
    data: Vec<T>,
}

/// The smallest positive normal value of `T`.
fn min_positive<T: Scalar>() -> T {
    if T::DTYPE == "float32" {
        T::from_f64(f64::from(f32::MIN_POSITIVE))
    } else {
        T::from_f64(f64::MIN_POSITIVE)
    }
}

/// Dot product of two slices of equal length, on faer's kernel (a `1×n · n×1` product).
pub(crate) fn dot_slices<T: Scalar>(a: &[T], b: &[T]) -> Result<T, LinalgError> {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len();
    let mut out = [T::ZERO];
    gemm(
        MatViewMut::row_major(&mut out, 1, 1)?,
        MatView::row_major(a, 1, n)?,
        MatView::row_major(b, n, 1)?,
        T::ONE,
        false,
    )?;
    Ok(out[0])
}

/// Euclidean norm of a slice that neither overflows nor underflows when the true norm is
/// representable.
///
/// Fast path: the square root of the dot product with itself. When that sum of squares is
/// not finite, or so small that squares of the elements may have underflowed, the slice is
/// scaled by its largest magnitude first (a second pass).
pub(crate) fn norm_slice<T: Scalar>(x: &[T]) -> T {
    // `dot_slices` only fails on unequal lengths, impossible here; NaN keeps it total.
    let squares = dot_slices(x, x).unwrap_or(T::from_f64(f64::NAN));
    if squares.is_nan() {
        return squares;
    }
    if squares.is_finite() && squares >= min_positive::<T>() / T::EPSILON {
        return squares.sqrt();
    }
    let scale = x.iter().fold(T::ZERO, |m, v| m.max(v.abs()));
    if scale == T::ZERO || !scale.is_finite() {
        return scale;
    }
    let scaled: T = x.iter().map(|&v| (v / scale) * (v / scale)).sum();
    scale * scaled.sqrt()
}

fn check_same_len<T: Scalar>(
    op: &'static str,
    a: &Vector<T>,
    b: &Vector<T>,
) -> Result<(), LinalgError> {
    if a.len() != b.len() {
        return Err(LinalgError::ShapeMismatch {
            op,
            lhs: a.dims(),
            rhs: b.dims(),
        });
    }
    Ok(())
}

impl<T: Scalar> Vector<T> {
    /// A vector holding `data`.
    ///
    /// ```
    /// use ferrograd_linalg::Vector;
    /// let v = Vector::new(vec![1.0f64, 2.0]);
    /// assert_eq!(v.len(), 2);
    /// ```
    pub fn new(data: Vec<T>) -> Self {
        Self { data }
    }

    /// A copy of `data`.
    pub fn from_slice(data: &[T]) -> Self {
        Self {
            data: data.to_vec(),
        }
    }

    /// The zero vector of length `len` (book §1.4).
    ///
    /// ```
    /// use ferrograd_linalg::Vector;
    /// let z = Vector::<f32>::zeros(3);
    /// assert_eq!(z.as_slice(), &[0.0, 0.0, 0.0]);
    /// assert!(z.is_zero());
    /// ```
    pub fn zeros(len: usize) -> Self {
        Self::filled(len, T::ZERO)
    }

    /// A vector of `len` copies of `value`.
    pub fn filled(len: usize, value: T) -> Self {
        Self {
            data: vec![value; len],
        }
    }

    /// A vector whose element `i` is `f(i)`.
    ///
    /// ```
    /// use ferrograd_linalg::Vector;
    /// let v = Vector::from_fn(3, |i| i as f32 * 10.0);
    /// assert_eq!(v.as_slice(), &[0.0, 10.0, 20.0]);
    /// ```
    pub fn from_fn(len: usize, f: impl FnMut(usize) -> T) -> Self {
        Self {
            data: (0..len).map(f).collect(),
        }
    }

    /// Number of elements (the dimensionality of the vector).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the vector has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The shape `[len]`, as printed in error messages.
    pub fn dims(&self) -> Shape {
        Shape(vec![self.len()])
    }

    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The elements, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// The underlying buffer.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// Iterator over the elements.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.data.iter()
    }

    /// A faer column view of the elements (free), for faer's own API.
    pub fn as_faer(&self) -> faer::ColRef<'_, T> {
        faer::ColRef::from_slice(&self.data)
    }

    /// Element `i`.
    ///
    /// # Errors
    /// [`LinalgError::IndexOutOfBounds`] when `i >= len`.
    ///
    /// ```
    /// use ferrograd_linalg::Vector;
    /// let v = Vector::from([1.0f32, 2.0]);
    /// assert_eq!(v.get(1)?, 2.0);
    /// assert_eq!(
    ///     v.get(2).unwrap_err().to_string(),
    ///     "Vector::get: index [2] is out of bounds for shape [2]"
    /// );
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn get(&self, i: usize) -> Result<T, LinalgError> {
        self.data
            .get(i)
            .copied()
            .ok_or_else(|| self.out_of_bounds("Vector::get", i))
    }

    /// Mutable reference to element `i`.
    ///
    /// # Errors
    /// [`LinalgError::IndexOutOfBounds`] when `i >= len`.
    pub fn get_mut(&mut self, i: usize) -> Result<&mut T, LinalgError> {
        if i >= self.len() {
            return Err(self.out_of_bounds("Vector::get_mut", i));
        }
        Ok(&mut self.data[i])
    }

    pub(crate) fn out_of_bounds(&self, op: &'static str, i: usize) -> LinalgError {
        LinalgError::IndexOutOfBounds {
            op,
            index: Shape(vec![i]),
            shape: self.dims(),
        }
    }

    /// Dot product `x · y = Σ xᵢ yᵢ` (book §1.4), on faer's kernel.
    ///
    /// # Errors
    /// [`LinalgError::ShapeMismatch`] when the lengths differ.
    ///
    /// ```
    /// use ferrograd_linalg::Vector;
    /// let x = Vector::from([1.0f64, 2.0, 3.0]);
    /// assert_eq!(x.dot(&x)?, 14.0);
    /// let err = x.dot(&Vector::from([1.0, 2.0])).unwrap_err();
    /// assert_eq!(err.to_string(), "dot: shape mismatch between [3] and [2]");
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn dot(&self, other: &Self) -> Result<T, LinalgError> {
        check_same_len("dot", self, other)?;
        dot_slices(&self.data, &other.data)
    }

    fn zip_with(
        &self,
        op: &'static str,
        other: &Self,
        f: impl Fn(T, T) -> T,
    ) -> Result<Self, LinalgError> {
        check_same_len(op, self, other)?;
        Ok(Self {
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
        check_same_len(op, self, other)?;
        self.data
            .iter_mut()
            .zip(&other.data)
            .for_each(|(a, &b)| f(a, b));
        Ok(())
    }

    /// Vector sum `x + y` (book §1.4); the fallible twin of `&x + &y`.
    ///
    /// # Errors
    /// [`LinalgError::ShapeMismatch`] when the lengths differ.
    pub fn try_add(&self, other: &Self) -> Result<Self, LinalgError> {
        self.zip_with("add", other, |a, b| a + b)
    }

    /// Vector difference `x − y`; the fallible twin of `&x - &y`.
    ///
    /// # Errors
    /// [`LinalgError::ShapeMismatch`] when the lengths differ.
    pub fn try_sub(&self, other: &Self) -> Result<Self, LinalgError> {
        self.zip_with("sub", other, |a, b| a - b)
    }

    /// Element-wise (Hadamard) product `x ⊙ y` (book §1.4).
    ///
    /// # Errors
    /// [`LinalgError::ShapeMismatch`] when the lengths differ.
    pub fn hadamard(&self, other: &Self) -> Result<Self, LinalgError> {
        self.zip_with("hadamard", other, |a, b| a * b)
    }

    /// Scalar multiple `c·x`; the same as `&x * c`.
    pub fn scale(&self, c: T) -> Self {
        self.map(|v| v * c)
    }

    /// Division by a scalar, `x / c`, following IEEE arithmetic like `f32` itself and
    /// PyTorch (dividing by zero gives infinities or NaN); the same as `&x / c`.
    pub fn div_scalar(&self, c: T) -> Self {
        self.map(|v| v / c)
    }

    /// Division by a scalar that refuses a zero divisor.
    ///
    /// # Errors
    /// [`LinalgError::DivisionByZero`] when `c == 0`.
    ///
    /// ```
    /// use ferrograd_linalg::Vector;
    /// let x = Vector::from([2.0f32, 4.0]);
    /// assert_eq!(x.checked_div_scalar(2.0)?.as_slice(), &[1.0, 2.0]);
    /// assert!(x.checked_div_scalar(0.0).is_err());
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn checked_div_scalar(&self, c: T) -> Result<Self, LinalgError> {
        if c == T::ZERO {
            return Err(LinalgError::DivisionByZero {
                op: "div_scalar",
                shape: self.dims(),
            });
        }
        Ok(self.div_scalar(c))
    }

    /// A new vector with `f` applied to every element.
    pub fn map(&self, f: impl Fn(T) -> T) -> Self {
        Self {
            data: self.data.iter().map(|&v| f(v)).collect(),
        }
    }

    /// Euclidean norm `‖x‖ = √(x · x)` (book §1.4).
    ///
    /// Computed as the square root of the dot product when that is safe, and with the
    /// elements scaled by the largest magnitude otherwise, so it does not overflow for
    /// elements near `T::MAX` nor lose everything for tiny ones. NaN elements give NaN.
    ///
    /// ```
    /// use ferrograd_linalg::Vector;
    /// assert_eq!(Vector::from([3.0f32, 4.0]).norm(), 5.0);
    /// assert_eq!(Vector::from([3e30f32, 4e30]).norm(), 5e30); // x·x overflows f32
    /// ```
    pub fn norm(&self) -> T {
        norm_slice(&self.data)
    }

    /// True when every element is zero (the zero vector of book §1.4).
    pub fn is_zero(&self) -> bool {
        self.data.iter().all(|&v| v == T::ZERO)
    }

    /// Cosine of the angle between two vectors, `cos θ = x·y / (‖x‖ ‖y‖)` (book eq. 1.5).
    ///
    /// The exact value lies in `[−1, 1]`; rounding can push the floating-point quotient a
    /// few ulps past ±1, so the result is clamped to that interval. When `x·y` or
    /// `‖x‖ ‖y‖` overflows or underflows, the vectors are normalised first.
    ///
    /// NaN elements give NaN.
    ///
    /// # Errors
    /// [`LinalgError::ShapeMismatch`] when the lengths differ; [`LinalgError::ZeroVector`]
    /// when either vector is zero (the angle is undefined).
    ///
    /// ```
    /// use ferrograd_linalg::Vector;
    /// let x = Vector::from([1.0f64, 0.0]);
    /// let y = Vector::from([1.0f64, 1.0]);
    /// assert!((x.cosine_similarity(&y)? - 0.5f64.sqrt()).abs() < 1e-15);
    /// assert!(x.cosine_similarity(&Vector::zeros(2)).is_err());
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn cosine_similarity(&self, other: &Self) -> Result<T, LinalgError> {
        const OP: &str = "cosine_similarity";
        check_same_len(OP, self, other)?;
        let na = self.norm();
        let nb = other.norm();
        for (v, n) in [(self, na), (other, nb)] {
            if n == T::ZERO {
                return Err(LinalgError::ZeroVector {
                    op: OP,
                    shape: v.dims(),
                });
            }
        }
        let dot = dot_slices(&self.data, &other.data)?;
        let denom = na * nb;
        let cos = if dot.is_finite() && denom.is_finite() && denom >= min_positive::<T>() {
            dot / denom
        } else {
            let ua = self.div_scalar(na);
            let ub = other.div_scalar(nb);
            dot_slices(&ua.data, &ub.data)?
        };
        Ok(if cos.is_nan() {
            cos
        } else {
            cos.max(-T::ONE).min(T::ONE)
        })
    }

    /// The unit vector `x / ‖x‖`: same direction, norm 1 (book §1.4).
    ///
    /// The vector is first divided by its largest magnitude, so this neither overflows nor
    /// underflows. NaN elements give NaN elements.
    ///
    /// # Errors
    /// [`LinalgError::ZeroVector`] for the zero vector (or an empty one), which has no
    /// direction.
    ///
    /// ```
    /// use ferrograd_linalg::Vector;
    /// let u = Vector::from([3.0f32, 4.0]).unit_vector()?;
    /// assert_eq!(u.as_slice(), &[0.6, 0.8]);
    /// let err = Vector::<f32>::zeros(2).unit_vector().unwrap_err();
    /// assert_eq!(err.to_string(), "unit_vector: the zero vector of shape [2] has no direction");
    /// # Ok::<(), ferrograd_linalg::LinalgError>(())
    /// ```
    pub fn unit_vector(&self) -> Result<Self, LinalgError> {
        if self.data.iter().any(|v| v.is_nan()) {
            // `max` skips NaN: without this a NaN vector could look like the zero vector.
            return Ok(self.map(|_| T::from_f64(f64::NAN)));
        }
        let scale = self.data.iter().fold(T::ZERO, |m, v| m.max(v.abs()));
        if scale == T::ZERO {
            return Err(LinalgError::ZeroVector {
                op: "unit_vector",
                shape: self.dims(),
            });
        }
        let scaled = if scale.is_finite() {
            self.div_scalar(scale)
        } else {
            // Infinite elements point along their axes; finite ones vanish beside them.
            self.map(|v| {
                if v.is_finite() {
                    T::ZERO
                } else if v > T::ZERO {
                    T::ONE
                } else if v < T::ZERO {
                    -T::ONE
                } else {
                    v
                }
            })
        };
        let n = norm_slice(&scaled.data);
        Ok(scaled.div_scalar(n))
    }
}

impl<T: Scalar> From<Vec<T>> for Vector<T> {
    fn from(data: Vec<T>) -> Self {
        Self::new(data)
    }
}

impl<T: Scalar> From<&[T]> for Vector<T> {
    fn from(data: &[T]) -> Self {
        Self::from_slice(data)
    }
}

impl<T: Scalar, const N: usize> From<[T; N]> for Vector<T> {
    fn from(data: [T; N]) -> Self {
        Self::new(data.to_vec())
    }
}

impl<T: Scalar> From<Vector<T>> for Vec<T> {
    fn from(v: Vector<T>) -> Self {
        v.data
    }
}

impl<T: Scalar> FromIterator<T> for Vector<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Self::new(iter.into_iter().collect())
    }
}

impl<'a, T: Scalar> IntoIterator for &'a Vector<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.data.iter()
    }
}

impl<T: Scalar> IntoIterator for Vector<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.data.into_iter()
    }
}

impl<T: Scalar> AsRef<[T]> for Vector<T> {
    fn as_ref(&self) -> &[T] {
        &self.data
    }
}

/// `v[i]`; panics with the message of [`Vector::get`]'s error when `i` is out of range.
impl<T: Scalar> std::ops::Index<usize> for Vector<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        match self.data.get(i) {
            Some(v) => v,
            None => panic!("{}", self.out_of_bounds("Vector::get", i)),
        }
    }
}

/// `v[i] = x`; panics with the message of [`Vector::get_mut`]'s error when out of range.
impl<T: Scalar> std::ops::IndexMut<usize> for Vector<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        if i >= self.len() {
            panic!("{}", self.out_of_bounds("Vector::get_mut", i));
        }
        &mut self.data[i]
    }
}

#[cfg(test)]
mod unit_vector_tests {
    use super::*;

    #[test]
    fn a_nan_vector_gives_nan_not_a_zero_vector_error() {
        let u = Vector::from([f32::NAN, 0.0]).unit_vector().unwrap();
        assert!(u.as_slice().iter().all(|v| v.is_nan()));
        assert!(Vector::<f32>::zeros(2).unit_vector().is_err());
    }
}
