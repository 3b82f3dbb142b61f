//! The [`Dataset`] trait, the in-memory [`TensorDataset`], [`Subset`] views and the
//! collate step that stacks examples into a [`Batch`].

use crate::error::{DataError, Result, invalid};
use ferrograd_tensor::{IdTensor, Scalar, Shape, Tensor};

/// One example: an input and its target.
///
/// For a [`TensorDataset`] both are one row of the stored arrays (the leading axis
/// removed): a feature vector `[d]` and a target `[k]`, a scalar target `[]`, or a class
/// index as [`IdTensor`] of shape `[]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Example<X, Y> {
    /// The input (features, or token ids).
    pub input: X,
    /// The target (a value to regress, a class index, or the next token ids).
    pub target: Y,
}

/// A mini-batch: inputs and targets with a leading batch axis.
///
/// Regression targets come out as a [`Tensor`] (e.g. `[batch, 1]` for an MSE loss);
/// classification targets as [`IdTensor`] of shape `[batch]`, ready for a cross-entropy
/// loss that picks each row's target logit with [`Tensor::gather`].
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<X, Y> {
    /// Inputs, `[batch, …]`.
    pub inputs: X,
    /// Targets, `[batch, …]`.
    pub targets: Y,
}

impl<X: Rows, Y: Rows> Batch<X, Y> {
    /// Number of examples in the batch.
    pub fn len(&self) -> usize {
        self.inputs.num_rows()
    }

    /// True for a batch of no examples (a [`crate::DataLoader`] never yields one).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A collection of examples that can be read one at a time or a batch at a time, as
/// PyTorch's `Dataset` (`__len__`, `__getitem__`).
///
/// [`Dataset::get_batch`] is what a [`crate::DataLoader`] calls: an in-memory dataset
/// gathers the rows directly (one copy of the batch, nothing more); a dataset that can
/// only produce single examples implements it with [`collate_each`].
pub trait Dataset {
    /// What [`Dataset::get`] returns.
    type Example;
    /// What [`Dataset::get_batch`] returns.
    type Batch;

    /// Number of examples.
    fn len(&self) -> usize;

    /// True when there are no examples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The example at `index`.
    ///
    /// # Errors
    /// [`DataError::IndexOutOfRange`] when `index >= len()`.
    fn get(&self, index: usize) -> Result<Self::Example>;

    /// The examples at `indices`, in that order, stacked into one batch.
    ///
    /// # Errors
    /// [`DataError::IndexOutOfRange`] for an index past the end.
    fn get_batch(&self, indices: &[usize]) -> Result<Self::Batch>;
}

impl<D: Dataset + ?Sized> Dataset for &D {
    type Example = D::Example;
    type Batch = D::Batch;

    fn len(&self) -> usize {
        (**self).len()
    }

    fn get(&self, index: usize) -> Result<Self::Example> {
        (**self).get(index)
    }

    fn get_batch(&self, indices: &[usize]) -> Result<Self::Batch> {
        (**self).get_batch(indices)
    }
}

/// Storage with one example per row along axis 0: a [`Tensor`] (features, regression
/// targets) or [`IdTensor`] (class labels, token ids).
pub trait Rows: Sized {
    /// Number of rows (the size of axis 0; 0 for a rank-0 value).
    fn num_rows(&self) -> usize;

    /// Shape of the whole array.
    fn dims(&self) -> &[usize];

    /// The rows at `indices` (shape `[indices.len(), …]`), copied into a new array.
    ///
    /// # Errors
    /// [`DataError::IndexOutOfRange`] for an index past the last row.
    fn take_rows(&self, indices: &[usize]) -> Result<Self>;

    /// One row, with axis 0 removed.
    ///
    /// # Errors
    /// [`DataError::IndexOutOfRange`] for an index past the last row.
    fn row(&self, index: usize) -> Result<Self>;

    /// Stacks equally shaped rows along a new axis 0 (the inverse of [`Rows::row`]).
    ///
    /// # Errors
    /// [`DataError::Empty`] for no rows, [`DataError::ShapeMismatch`] for rows of
    /// different shapes.
    fn stack_rows(rows: &[Self]) -> Result<Self>;

    /// The same values laid out densely, so that gathering rows reads memory in order
    /// (a no-op for data that already is).
    fn densify(self) -> Self {
        self
    }
}

fn check_index(op: &'static str, indices: &[usize], len: usize) -> Result<()> {
    match indices.iter().find(|&&i| i >= len) {
        Some(&index) => Err(DataError::IndexOutOfRange { op, index, len }),
        None => Ok(()),
    }
}

impl<T: Scalar> Rows for Tensor<T> {
    fn num_rows(&self) -> usize {
        self.shape().first().copied().unwrap_or(0)
    }

    fn dims(&self) -> &[usize] {
        self.shape()
    }

    fn take_rows(&self, indices: &[usize]) -> Result<Self> {
        check_index("take_rows", indices, self.num_rows())?;
        Ok(self.index_select(0, &IdTensor::from_indices(indices, &[indices.len()])?)?)
    }

    fn row(&self, index: usize) -> Result<Self> {
        check_index("row", &[index], self.num_rows())?;
        Ok(self.select(0, index)?.contiguous())
    }

    fn stack_rows(rows: &[Self]) -> Result<Self> {
        if rows.is_empty() {
            return Err(DataError::Empty { op: "stack_rows" });
        }
        let refs: Vec<&Tensor<T>> = rows.iter().collect();
        Ok(Tensor::stack(&refs, 0)?)
    }

    fn densify(self) -> Self {
        self.contiguous()
    }
}

/// The shape of one row: the shape without its leading axis (empty for rank 0).
fn row_shape(shape: &[usize]) -> &[usize] {
    shape.get(1..).unwrap_or(&[])
}

impl Rows for IdTensor {
    fn num_rows(&self) -> usize {
        self.shape().first().copied().unwrap_or(0)
    }

    fn dims(&self) -> &[usize] {
        self.shape()
    }

    fn take_rows(&self, indices: &[usize]) -> Result<Self> {
        let rows = self.num_rows();
        check_index("take_rows", indices, rows)?;
        let inner: usize = row_shape(self.shape()).iter().product();
        let src = self.contiguous_data();
        let mut data = Vec::with_capacity(indices.len() * inner);
        for &i in indices {
            data.extend_from_slice(&src[i * inner..(i + 1) * inner]);
        }
        let mut shape = vec![indices.len()];
        shape.extend_from_slice(row_shape(self.shape()));
        Ok(IdTensor::new(data, &shape)?)
    }

    fn row(&self, index: usize) -> Result<Self> {
        check_index("row", &[index], self.num_rows())?;
        let inner: usize = row_shape(self.shape()).iter().product();
        let data = self.contiguous_data()[index * inner..(index + 1) * inner].to_vec();
        Ok(IdTensor::new(data, row_shape(self.shape()))?)
    }

    fn stack_rows(rows: &[Self]) -> Result<Self> {
        let first = rows.first().ok_or(DataError::Empty { op: "stack_rows" })?;
        let mut data = Vec::with_capacity(rows.len() * first.len());
        for r in rows {
            if r.shape() != first.shape() {
                return Err(DataError::ShapeMismatch {
                    op: "stack_rows",
                    expected: Shape(first.shape().to_vec()),
                    found: Shape(r.shape().to_vec()),
                });
            }
            data.extend_from_slice(&r.contiguous_data());
        }
        let mut shape = vec![rows.len()];
        shape.extend_from_slice(first.shape());
        Ok(IdTensor::new(data, &shape)?)
    }

    fn densify(self) -> Self {
        self.contiguous()
    }
}

/// The collate step: stacks single examples into a batch along a new axis 0 (PyTorch's
/// default `collate_fn`).
///
/// ```
/// use ferrograd_data::{Example, collate};
/// use ferrograd_tensor::{IdTensor, Tensor};
/// let a = Example { input: Tensor::<f32>::from([1.0, 2.0]), target: IdTensor::new(vec![0], &[])? };
/// let b = Example { input: Tensor::<f32>::from([3.0, 4.0]), target: IdTensor::new(vec![1], &[])? };
/// let batch = collate(&[a, b])?;
/// assert_eq!(batch.inputs.shape(), &[2, 2]);
/// assert_eq!(batch.targets.to_vec(), [0, 1]);
/// # Ok::<(), ferrograd_data::DataError>(())
/// ```
///
/// # Errors
/// [`DataError::Empty`] for no examples, [`DataError::ShapeMismatch`] (or the tensor
/// layer's shape error) when examples differ in shape.
pub fn collate<X: Rows + Clone, Y: Rows + Clone>(
    examples: &[Example<X, Y>],
) -> Result<Batch<X, Y>> {
    let inputs: Vec<X> = examples.iter().map(|e| e.input.clone()).collect();
    let targets: Vec<Y> = examples.iter().map(|e| e.target.clone()).collect();
    Ok(Batch {
        inputs: X::stack_rows(&inputs)?,
        targets: Y::stack_rows(&targets)?,
    })
}

/// [`Dataset::get_batch`] for datasets that can only produce single examples: gets each
/// example and [`collate`]s them.
///
/// # Errors
/// As [`Dataset::get`] and [`collate`].
pub fn collate_each<D, X, Y>(dataset: &D, indices: &[usize]) -> Result<Batch<X, Y>>
where
    D: Dataset<Example = Example<X, Y>> + ?Sized,
    X: Rows + Clone,
    Y: Rows + Clone,
{
    let examples = indices
        .iter()
        .map(|&i| dataset.get(i))
        .collect::<Result<Vec<_>>>()?;
    collate(&examples)
}

/// An in-memory dataset: inputs and targets stored as whole arrays with one example per
/// row (PyTorch's `TensorDataset`).
///
/// `X` and `Y` are [`Tensor`]s or [`IdTensor`]: features `Tensor<T>` `[n, d]` with
/// regression targets `Tensor<T>` `[n, 1]`, or with class labels `IdTensor` `[n]`; token
/// ids `IdTensor` `[n, len]` with labels `IdTensor` `[n]`. A batch is gathered straight from
/// the stored arrays (`index_select` on axis 0): the dataset itself is never copied.
///
/// ```
/// use ferrograd_data::{Dataset, TensorDataset};
/// use ferrograd_tensor::{IdTensor, Tensor};
/// let x = Tensor::<f32>::from([[22.0, 25.0], [47.0, 80.0], [25.0, 35.0]]);
/// let y = IdTensor::from(vec![0, 1, 0]);
/// let ds = TensorDataset::new(x, y)?;
/// let batch = ds.get_batch(&[2, 1])?;
/// assert_eq!(batch.inputs.to_vec(), vec![25.0, 35.0, 47.0, 80.0]);
/// assert_eq!(batch.targets.to_vec(), [0, 1]);
/// # Ok::<(), ferrograd_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TensorDataset<X = Tensor<f32>, Y = X> {
    inputs: X,
    targets: Y,
}

impl<X: Rows, Y: Rows> TensorDataset<X, Y> {
    /// A dataset of `inputs` and `targets`, which must both have rank ≥ 1 and the same
    /// number of rows.
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] for a rank-0 array, [`DataError::LengthMismatch`]
    /// when the row counts differ.
    pub fn new(inputs: X, targets: Y) -> Result<Self> {
        if inputs.dims().is_empty() || targets.dims().is_empty() {
            return Err(invalid(
                "TensorDataset::new",
                "inputs and targets need a leading example axis (rank >= 1)",
            ));
        }
        if inputs.num_rows() != targets.num_rows() {
            return Err(DataError::LengthMismatch {
                op: "TensorDataset::new",
                inputs: inputs.num_rows(),
                targets: targets.num_rows(),
            });
        }
        Ok(Self {
            inputs: inputs.densify(),
            targets: targets.densify(),
        })
    }

    /// A dataset from arrays the caller has checked (rank ≥ 1, equal rows, dense).
    pub(crate) fn from_checked(inputs: X, targets: Y) -> Self {
        debug_assert_eq!(inputs.num_rows(), targets.num_rows());
        Self { inputs, targets }
    }

    /// The stored inputs, `[n, …]`.
    pub fn inputs(&self) -> &X {
        &self.inputs
    }

    /// The stored targets, `[n, …]`.
    pub fn targets(&self) -> &Y {
        &self.targets
    }

    /// The inputs and targets, by value.
    pub fn into_parts(self) -> (X, Y) {
        (self.inputs, self.targets)
    }

    /// The same targets with new inputs (e.g. scaled features).
    ///
    /// # Errors
    /// As [`TensorDataset::new`].
    pub fn with_inputs<X2: Rows>(self, inputs: X2) -> Result<TensorDataset<X2, Y>> {
        TensorDataset::new(inputs, self.targets)
    }

    /// The same inputs with new targets.
    ///
    /// # Errors
    /// As [`TensorDataset::new`].
    pub fn with_targets<Y2: Rows>(self, targets: Y2) -> Result<TensorDataset<X, Y2>> {
        TensorDataset::new(self.inputs, targets)
    }

    /// A new dataset holding copies of the examples at `indices`, in that order (e.g. the
    /// training part of a [`crate::split::Split`]).
    ///
    /// # Errors
    /// [`DataError::IndexOutOfRange`] for an index past the end.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        Ok(Self {
            inputs: self.inputs.take_rows(indices)?,
            targets: self.targets.take_rows(indices)?,
        })
    }
}

impl<X: Rows, Y: Rows> Dataset for TensorDataset<X, Y> {
    type Example = Example<X, Y>;
    type Batch = Batch<X, Y>;

    fn len(&self) -> usize {
        self.inputs.num_rows()
    }

    fn get(&self, index: usize) -> Result<Self::Example> {
        Ok(Example {
            input: self.inputs.row(index)?,
            target: self.targets.row(index)?,
        })
    }

    fn get_batch(&self, indices: &[usize]) -> Result<Self::Batch> {
        Ok(Batch {
            inputs: self.inputs.take_rows(indices)?,
            targets: self.targets.take_rows(indices)?,
        })
    }
}

/// A view of some examples of another dataset, by index, without copying (PyTorch's
/// `Subset`): `Subset::new(&dataset, split.train.clone())`.
#[derive(Debug, Clone)]
pub struct Subset<D> {
    dataset: D,
    indices: Vec<usize>,
}

impl<D: Dataset> Subset<D> {
    /// The examples of `dataset` at `indices`, in that order.
    ///
    /// # Errors
    /// [`DataError::IndexOutOfRange`] for an index past the end of `dataset`.
    pub fn new(dataset: D, indices: Vec<usize>) -> Result<Self> {
        check_index("Subset::new", &indices, dataset.len())?;
        Ok(Self { dataset, indices })
    }

    /// The indices into the underlying dataset.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The underlying dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }
}

impl<D: Dataset> Dataset for Subset<D> {
    type Example = D::Example;
    type Batch = D::Batch;

    fn len(&self) -> usize {
        self.indices.len()
    }

    fn get(&self, index: usize) -> Result<Self::Example> {
        let &i = self.indices.get(index).ok_or(DataError::IndexOutOfRange {
            op: "Subset::get",
            index,
            len: self.indices.len(),
        })?;
        self.dataset.get(i)
    }

    fn get_batch(&self, indices: &[usize]) -> Result<Self::Batch> {
        check_index("Subset::get_batch", indices, self.indices.len())?;
        let mapped: Vec<usize> = indices.iter().map(|&i| self.indices[i]).collect();
        self.dataset.get_batch(&mapped)
    }
}
