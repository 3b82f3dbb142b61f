//! Integer indices and the ops that use them: `index_select` (embedding lookup),
//! `gather` (picking target logits) and their scatter-add backward.

use crate::autograd::BackwardOp;
use crate::error::{Result, TensorError, shape_of};
use crate::layout::{checked_numel, contiguous_strides, normalize_axis};
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;
use std::fmt;
use std::sync::Arc;

/// An n-dimensional array of indices (token ids, class labels, positions), cheap to
/// clone. Tensors hold floating-point values; indices live here.
///
/// ```
/// use ferrograd_tensor::{Indices, Tensor};
/// let table = Tensor::<f32>::from([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]);
/// let ids = Indices::new(vec![2, 0, 2, 1], &[2, 2])?;
/// let looked_up = table.index_select(0, &ids)?; // shape [2, 2, 2]
/// assert_eq!(looked_up.select(0, 0)?.to_vec(), vec![2.0, 2.0, 0.0, 0.0]);
/// # Ok::<(), ferrograd_tensor::TensorError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Indices {
    data: Arc<[usize]>,
    shape: Vec<usize>,
}

impl Indices {
    /// Indices of the given shape, row-major.
    ///
    /// # Errors
    /// [`TensorError::ElementCount`] when `data` does not fill `shape`.
    pub fn new(data: Vec<usize>, shape: &[usize]) -> Result<Self> {
        if checked_numel(shape) != Some(data.len()) {
            return Err(TensorError::ElementCount {
                op: "Indices::new",
                shape: shape_of(shape),
                len: data.len(),
            });
        }
        Ok(Self {
            data: data.into(),
            shape: shape.to_vec(),
        })
    }

    /// Indices read from a tensor of whole, non-negative numbers (e.g. labels stored as
    /// floats in a dataset).
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming the first value that is negative, not a
    /// whole number, or not finite.
    pub fn from_tensor<T: Scalar>(t: &Tensor<T>) -> Result<Self> {
        let values = t.contiguous_data();
        let mut data = Vec::with_capacity(values.len());
        for (i, &v) in values.iter().enumerate() {
            let f = v.to_f64();
            if !(f >= 0.0 && f.fract() == 0.0 && f < usize::MAX as f64) {
                return Err(TensorError::InvalidArgument {
                    op: "Indices::from_tensor",
                    reason: format!("element {i} is {v}, not a non-negative whole number"),
                });
            }
            data.push(f as usize);
        }
        Self::new(data, t.shape())
    }

    /// The indices as a float tensor of the same shape.
    pub fn to_tensor<T: Scalar>(&self) -> Tensor<T> {
        Tensor::from_vec_unchecked(
            self.data.iter().map(|&i| T::from_usize(i)).collect(),
            &self.shape,
        )
    }

    /// Shape of the index array.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The indices, row-major.
    pub fn as_slice(&self) -> &[usize] {
        &self.data
    }

    /// Number of indices.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when there are no indices.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The same indices with a new shape.
    ///
    /// # Errors
    /// [`TensorError::ElementCount`] when the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        if checked_numel(shape) != Some(self.len()) {
            return Err(TensorError::ElementCount {
                op: "Indices::reshape",
                shape: shape_of(shape),
                len: self.len(),
            });
        }
        Ok(Self {
            data: Arc::clone(&self.data),
            shape: shape.to_vec(),
        })
    }

    fn check_below(&self, op: &'static str, axis: usize, size: usize) -> Result<()> {
        match self.data.iter().find(|&&i| i >= size) {
            Some(&index) => Err(TensorError::IndexOutOfRange {
                op,
                index,
                axis,
                size,
            }),
            None => Ok(()),
        }
    }
}

impl From<Vec<usize>> for Indices {
    fn from(data: Vec<usize>) -> Self {
        let n = data.len();
        Self {
            data: data.into(),
            shape: vec![n],
        }
    }
}

impl From<&[usize]> for Indices {
    fn from(data: &[usize]) -> Self {
        Self::from(data.to_vec())
    }
}

impl fmt::Debug for Indices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Indices")
            .field("shape", &self.shape)
            .field("data", &&self.data[..self.data.len().min(16)])
            .finish()
    }
}

/// Splits a shape around `axis` into (outer count, axis size, inner count).
fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

struct IndexSelectBackward {
    axis: usize,
    indices: Indices,
}

impl<T: Scalar> BackwardOp<T> for IndexSelectBackward {
    fn name(&self) -> &'static str {
        "index_select"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        // Scatter-add: rows picked several times (a repeated token) sum their gradients.
        let shape = inputs[0].shape();
        let (outer, size, inner) = split_at_axis(shape, self.axis);
        let g = grad.contiguous_data();
        let mut gx = storage::zeroed_buffer::<T>(outer * size * inner);
        let picks = self.indices.as_slice();
        for o in 0..outer {
            for (j, &idx) in picks.iter().enumerate() {
                let src = &g[(o * picks.len() + j) * inner..][..inner];
                let dst = &mut gx[(o * size + idx) * inner..][..inner];
                dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
            }
        }
        Ok(vec![Some(Tensor::from_vec_unchecked(gx, shape))])
    }
}

/// Visits every position of `index_shape` with the offset it maps to in a contiguous
/// tensor of `input_shape` when the coordinate along `axis` is replaced by the index
/// value; used by gather (read) and scatter-add (write).
fn for_each_gather_offset(
    input_shape: &[usize],
    index: &Indices,
    axis: usize,
    mut f: impl FnMut(usize, usize),
) {
    let strides = contiguous_strides(input_shape);
    let shape = index.shape();
    let mut pos = vec![0usize; shape.len()];
    for (flat, &idx) in index.as_slice().iter().enumerate() {
        let offset: usize = pos
            .iter()
            .zip(&strides)
            .enumerate()
            .map(|(d, (&p, &s))| if d == axis { idx * s } else { p * s })
            .sum();
        f(flat, offset);
        for d in (0..shape.len()).rev() {
            pos[d] += 1;
            if pos[d] < shape[d] {
                break;
            }
            pos[d] = 0;
        }
    }
}

fn check_gather_shapes(
    op: &'static str,
    input_shape: &[usize],
    index: &Indices,
    axis: usize,
) -> Result<()> {
    let fits = index.shape().len() == input_shape.len()
        && index
            .shape()
            .iter()
            .zip(input_shape)
            .enumerate()
            .all(|(d, (&i, &s))| d == axis || i <= s);
    if !fits {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: shape_of(input_shape),
            rhs: shape_of(index.shape()),
        });
    }
    index.check_below(op, axis, input_shape[axis])
}

struct GatherBackward {
    axis: usize,
    indices: Indices,
}

impl<T: Scalar> BackwardOp<T> for GatherBackward {
    fn name(&self) -> &'static str {
        "gather"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let shape = inputs[0].shape();
        let g = grad.contiguous_data();
        let mut gx = storage::zeroed_buffer::<T>(shape.iter().product());
        for_each_gather_offset(shape, &self.indices, self.axis, |flat, offset| {
            gx[offset] += g[flat]
        });
        Ok(vec![Some(Tensor::from_vec_unchecked(gx, shape))])
    }
}

struct ScatterAddBackward {
    axis: usize,
    indices: Indices,
}

impl<T: Scalar> BackwardOp<T> for ScatterAddBackward {
    fn name(&self) -> &'static str {
        "scatter_add"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let g_src = if inputs[1].requires_grad() {
            Some(grad.gather(self.axis as isize, &self.indices)?)
        } else {
            None
        };
        Ok(vec![Some(grad.clone()), g_src])
    }
}

impl<T: Scalar> Tensor<T> {
    /// Picks entries along `axis` by index (NumPy's `take`; PyTorch's `index_select` for
    /// 1-D indices). The result's shape is `shape[..axis] ++ indices.shape() ++
    /// shape[axis+1..]`, so an embedding table `[vocab, d]` indexed by ids `[batch, time]`
    /// along axis 0 gives `[batch, time, d]`. Backward scatter-adds.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`], or [`TensorError::IndexOutOfRange`] naming the first
    /// index past the axis.
    pub fn index_select(&self, axis: isize, indices: &Indices) -> Result<Tensor<T>> {
        let a = normalize_axis("index_select", axis, self.shape())?;
        let (outer, size, inner) = split_at_axis(self.shape(), a);
        indices.check_below("index_select", a, size)?;
        let src = self.contiguous_data();
        let picks = indices.as_slice();
        let mut out = storage::take_buffer::<T>(outer * picks.len() * inner);
        for o in 0..outer {
            for (j, &idx) in picks.iter().enumerate() {
                out[(o * picks.len() + j) * inner..][..inner]
                    .copy_from_slice(&src[(o * size + idx) * inner..][..inner]);
            }
        }
        let mut shape = self.shape()[..a].to_vec();
        shape.extend_from_slice(indices.shape());
        shape.extend_from_slice(&self.shape()[a + 1..]);
        let op = IndexSelectBackward {
            axis: a,
            indices: indices.clone(),
        };
        Ok(Tensor::op_result(out, &shape, &[self], op))
    }

    /// `torch.gather`: `out[i][j] = self[i][indices[i][j]]` for `axis = 1` (and likewise
    /// for any axis). `indices` has this tensor's rank and no larger size on other axes.
    /// Backward scatter-adds.
    ///
    /// ```
    /// use ferrograd_tensor::{Indices, Tensor};
    /// let logits = Tensor::<f32>::from([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]]);
    /// let targets = Indices::new(vec![1, 0], &[2, 1])?;
    /// assert_eq!(logits.gather(1, &targets)?.to_vec(), vec![0.7, 0.5]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] for an index array of the wrong shape,
    /// [`TensorError::IndexOutOfRange`] for an index past the axis.
    pub fn gather(&self, axis: isize, indices: &Indices) -> Result<Tensor<T>> {
        let a = normalize_axis("gather", axis, self.shape())?;
        check_gather_shapes("gather", self.shape(), indices, a)?;
        let src = self.contiguous_data();
        let mut out = storage::take_buffer::<T>(indices.len());
        for_each_gather_offset(self.shape(), indices, a, |flat, offset| {
            out[flat] = src[offset]
        });
        let op = GatherBackward {
            axis: a,
            indices: indices.clone(),
        };
        Ok(Tensor::op_result(out, indices.shape(), &[self], op))
    }

    /// `torch.scatter_add`: a copy of this tensor with each element of `src` added at the
    /// position `indices` names along `axis` (the inverse pattern of [`Tensor::gather`]).
    ///
    /// # Errors
    /// As [`Tensor::gather`]; `src` must have the indices' shape.
    pub fn scatter_add(
        &self,
        axis: isize,
        indices: &Indices,
        src: &Tensor<T>,
    ) -> Result<Tensor<T>> {
        let a = normalize_axis("scatter_add", axis, self.shape())?;
        check_gather_shapes("scatter_add", self.shape(), indices, a)?;
        if src.shape() != indices.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "scatter_add",
                lhs: shape_of(indices.shape()),
                rhs: shape_of(src.shape()),
            });
        }
        let mut out = self.contiguous_data().into_owned();
        let values = src.contiguous_data();
        for_each_gather_offset(self.shape(), indices, a, |flat, offset| {
            out[offset] += values[flat]
        });
        let op = ScatterAddBackward {
            axis: a,
            indices: indices.clone(),
        };
        Ok(Tensor::op_result(out, self.shape(), &[self, src], op))
    }

    /// One-hot rows: `[.., classes]` with 1 at each index (a constant).
    ///
    /// # Errors
    /// [`TensorError::IndexOutOfRange`] for an index ≥ `classes`.
    pub fn one_hot(indices: &Indices, classes: usize) -> Result<Tensor<T>> {
        indices.check_below("one_hot", indices.shape().len(), classes)?;
        let mut data = storage::zeroed_buffer::<T>(indices.len() * classes);
        for (row, &i) in indices.as_slice().iter().enumerate() {
            data[row * classes + i] = T::ONE;
        }
        let mut shape = indices.shape().to_vec();
        shape.push(classes);
        Ok(Tensor::from_vec_unchecked(data, &shape))
    }
}
