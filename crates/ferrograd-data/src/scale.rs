//! Feature scaling fitted on training data and applied to any data: standardization
//! ([`StandardScaler`]) and min–max scaling ([`MinMaxScaler`]).
//!
//! Fit on the training inputs only, then transform training, validation and test inputs
//! with the same statistics; anything else leaks held-out data into training.
//!
//! **Constant columns.** A column whose training values are all equal has no spread to
//! divide by. Both scalers then use a scale of 1 instead (as scikit-learn does), so the
//! column maps to 0 under standardization and to the range's lower end under min–max
//! scaling — never to NaN or infinity — and the inverse transform gives the constant
//! back.

use crate::error::{DataError, Result, invalid};
use ferrograd_tensor::{Scalar, Shape, Tensor};

/// Per-column statistics of a `[n, d]` matrix, computed in `f64`.
struct ColumnStats {
    mean: Vec<f64>,
    std: Vec<f64>,
    min: Vec<f64>,
    max: Vec<f64>,
}

fn column_stats<T: Scalar>(op: &'static str, x: &Tensor<T>) -> Result<ColumnStats> {
    let &[n, d] = x.shape() else {
        return Err(DataError::WrongRank {
            op,
            rank: 2,
            layout: "[examples, features]",
            found: Shape(x.shape().to_vec()),
        });
    };
    if n == 0 {
        return Err(DataError::Empty { op });
    }
    let data = x.contiguous_data();
    let mut mean = vec![0.0; d];
    let mut min = vec![f64::INFINITY; d];
    let mut max = vec![f64::NEG_INFINITY; d];
    for (r, row) in data.chunks(d.max(1)).enumerate().take(n) {
        for (c, &v) in row.iter().enumerate() {
            let v = v.to_f64();
            if !v.is_finite() {
                return Err(DataError::NonFinite {
                    op,
                    row: r,
                    column: c,
                    value: v,
                });
            }
            mean[c] += v;
            min[c] = min[c].min(v);
            max[c] = max[c].max(v);
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let mut var = vec![0.0; d];
    for row in data.chunks(d.max(1)).take(n) {
        for (c, &v) in row.iter().enumerate() {
            var[c] += (v.to_f64() - mean[c]).powi(2);
        }
    }
    let std = var.iter().map(|v| (v / n as f64).sqrt()).collect();
    Ok(ColumnStats {
        mean,
        std,
        min,
        max,
    })
}

fn check_features<T: Scalar>(op: &'static str, x: &Tensor<T>, d: usize) -> Result<()> {
    if x.shape().last() != Some(&d) {
        let mut expected = x.shape().to_vec();
        match expected.last_mut() {
            Some(last) => *last = d,
            None => expected.push(d),
        }
        return Err(DataError::ShapeMismatch {
            op,
            expected: Shape(expected),
            found: Shape(x.shape().to_vec()),
        });
    }
    Ok(())
}

fn to_tensor<T: Scalar>(values: &[T]) -> Tensor<T> {
    Tensor::from(values.to_vec())
}

/// Standardization: `(x − mean) / std` per column, with the mean and the population
/// standard deviation (divisor `n`, as scikit-learn's `StandardScaler`) of the training
/// data. Constant columns get a scale of 1 (see the [module docs](self)).
///
/// ```
/// use ferrograd_data::scale::StandardScaler;
/// use ferrograd_tensor::Tensor;
/// let train = Tensor::<f64>::from([[22.0, 25.0], [47.0, 80.0], [25.0, 35.0], [52.0, 95.0]]);
/// let scaler = StandardScaler::fit(&train)?;
/// assert_eq!(scaler.mean(), &[36.5, 58.75]);
/// let z = scaler.transform(&Tensor::from([[36.5, 58.75]]))?;
/// assert_eq!(z.to_vec(), vec![0.0, 0.0]);
/// # Ok::<(), ferrograd_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StandardScaler<T: Scalar = f32> {
    mean: Vec<T>,
    scale: Vec<T>,
}

impl<T: Scalar> StandardScaler<T> {
    /// Fits on training inputs `[n, d]` (`n ≥ 1`).
    ///
    /// # Errors
    /// [`DataError::WrongRank`] unless `x` has rank 2 (reshape a single feature to
    /// `[n, 1]`), [`DataError::Empty`] for `n = 0`, [`DataError::NonFinite`] naming the
    /// first NaN or infinity.
    ///
    /// ```
    /// use ferrograd_data::scale::StandardScaler;
    /// use ferrograd_tensor::Tensor;
    /// let err = StandardScaler::fit(&Tensor::<f32>::from([1.0, 2.0, 3.0])).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "StandardScaler::fit: expected a tensor of rank 2 ([examples, features]), got shape [3]"
    /// );
    /// ```
    pub fn fit(x: &Tensor<T>) -> Result<Self> {
        let s = column_stats("StandardScaler::fit", x)?;
        let scale = (0..s.mean.len())
            .map(|c| {
                if s.min[c] == s.max[c] {
                    T::ONE
                } else {
                    T::from_f64(s.std[c])
                }
            })
            .collect();
        Ok(Self {
            mean: s.mean.into_iter().map(T::from_f64).collect(),
            scale,
        })
    }

    /// Fits on `x` and transforms it.
    ///
    /// # Errors
    /// As [`StandardScaler::fit`].
    pub fn fit_transform(x: &Tensor<T>) -> Result<(Self, Tensor<T>)> {
        let scaler = Self::fit(x)?;
        let z = scaler.transform(x)?;
        Ok((scaler, z))
    }

    /// `(x − mean) / scale` for inputs `[…, d]` (a matrix of examples or one example).
    ///
    /// # Errors
    /// [`DataError::ShapeMismatch`] when the last axis is not the fitted `d`.
    pub fn transform(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        check_features("StandardScaler::transform", x, self.mean.len())?;
        Ok(x.sub(&to_tensor(&self.mean))?
            .div(&to_tensor(&self.scale))?)
    }

    /// `z · scale + mean`: undoes [`StandardScaler::transform`].
    ///
    /// # Errors
    /// [`DataError::ShapeMismatch`] when the last axis is not the fitted `d`.
    pub fn inverse_transform(&self, z: &Tensor<T>) -> Result<Tensor<T>> {
        check_features("StandardScaler::inverse_transform", z, self.mean.len())?;
        Ok(z.mul(&to_tensor(&self.scale))?
            .add(&to_tensor(&self.mean))?)
    }

    /// The training mean of each column.
    pub fn mean(&self) -> &[T] {
        &self.mean
    }

    /// The divisor of each column: its training standard deviation, or 1 for a constant
    /// column.
    pub fn scale(&self) -> &[T] {
        &self.scale
    }

    /// Number of feature columns fitted.
    pub fn num_features(&self) -> usize {
        self.mean.len()
    }
}

/// Min–max scaling: maps each column's training range `[min, max]` linearly onto
/// `[low, high]` (default `[0, 1]`): `(x − min) · (high − low) / (max − min) + low`.
/// Values outside the training range map outside `[low, high]`; nothing is clipped.
/// Constant columns get a scale of 1 and map to `low` (see the [module docs](self)).
///
/// ```
/// use ferrograd_data::scale::MinMaxScaler;
/// use ferrograd_tensor::Tensor;
/// let train = Tensor::<f64>::from([[1.0], [3.0], [5.0]]);
/// let scaler = MinMaxScaler::fit(&train)?;
/// let z = scaler.transform(&Tensor::from([[1.0], [2.0], [5.0], [9.0]]))?;
/// assert_eq!(z.to_vec(), vec![0.0, 0.25, 1.0, 2.0]);
/// # Ok::<(), ferrograd_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MinMaxScaler<T: Scalar = f32> {
    min: Vec<T>,
    max: Vec<T>,
    scale: Vec<T>,
    low: T,
    high: T,
}

impl<T: Scalar> MinMaxScaler<T> {
    /// Fits on training inputs `[n, d]`, mapping onto `[0, 1]`.
    ///
    /// # Errors
    /// As [`MinMaxScaler::fit_range`].
    pub fn fit(x: &Tensor<T>) -> Result<Self> {
        Self::fit_range(x, T::ZERO, T::ONE)
    }

    /// Fits on training inputs `[n, d]`, mapping onto `[low, high]`.
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] unless `low < high` (both finite),
    /// [`DataError::WrongRank`] unless `x` has rank 2, [`DataError::Empty`] for
    /// `n = 0`, [`DataError::NonFinite`] naming the first NaN or infinity.
    pub fn fit_range(x: &Tensor<T>, low: T, high: T) -> Result<Self> {
        const OP: &str = "MinMaxScaler::fit";
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(invalid(OP, format!("need low < high, got [{low}, {high}]")));
        }
        let s = column_stats(OP, x)?;
        let width = high.to_f64() - low.to_f64();
        let scale = (0..s.min.len())
            .map(|c| {
                let range = s.max[c] - s.min[c];
                if range == 0.0 {
                    T::ONE
                } else {
                    T::from_f64(width / range)
                }
            })
            .collect();
        Ok(Self {
            min: s.min.into_iter().map(T::from_f64).collect(),
            max: s.max.into_iter().map(T::from_f64).collect(),
            scale,
            low,
            high,
        })
    }

    /// Fits on `x` (onto `[0, 1]`) and transforms it.
    ///
    /// # Errors
    /// As [`MinMaxScaler::fit`].
    pub fn fit_transform(x: &Tensor<T>) -> Result<(Self, Tensor<T>)> {
        let scaler = Self::fit(x)?;
        let z = scaler.transform(x)?;
        Ok((scaler, z))
    }

    /// `(x − min) · scale + low` for inputs `[…, d]`.
    ///
    /// # Errors
    /// [`DataError::ShapeMismatch`] when the last axis is not the fitted `d`.
    pub fn transform(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        check_features("MinMaxScaler::transform", x, self.min.len())?;
        Ok(x.sub(&to_tensor(&self.min))?
            .mul(&to_tensor(&self.scale))?
            .add_scalar(self.low))
    }

    /// `(z − low) / scale + min`: undoes [`MinMaxScaler::transform`].
    ///
    /// # Errors
    /// [`DataError::ShapeMismatch`] when the last axis is not the fitted `d`.
    pub fn inverse_transform(&self, z: &Tensor<T>) -> Result<Tensor<T>> {
        check_features("MinMaxScaler::inverse_transform", z, self.min.len())?;
        Ok(z.sub_scalar(self.low)
            .div(&to_tensor(&self.scale))?
            .add(&to_tensor(&self.min))?)
    }

    /// The training minimum of each column.
    pub fn data_min(&self) -> &[T] {
        &self.min
    }

    /// The training maximum of each column.
    pub fn data_max(&self) -> &[T] {
        &self.max
    }

    /// The multiplier of each column: `(high − low) / (max − min)`, or 1 for a constant
    /// column.
    pub fn scale(&self) -> &[T] {
        &self.scale
    }

    /// The target range `(low, high)`.
    pub fn range(&self) -> (T, T) {
        (self.low, self.high)
    }

    /// Number of feature columns fitted.
    pub fn num_features(&self) -> usize {
        self.min.len()
    }
}
