//! The ops that take ids ([`IdTensor`]): `index_select` (embedding lookup), `gather`
//! (picking target logits), `scatter_add` and `one_hot`, with their scatter-add
//! backward.

use crate::autograd::BackwardOp;
use crate::error::{Result, TensorError, shape_of};
use crate::ids::IdTensor;
use crate::layout::{contiguous_strides, normalize_axis};
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;
use std::sync::Arc;

/// Ids checked to lie in `0..size`, as `usize` positions in row-major order, with the
/// shape they came in. Checked once, when the op runs; backward reuses them.
#[derive(Clone)]
struct Positions {
    values: Arc<Vec<usize>>,
    shape: Vec<usize>,
}

impl Positions {
    fn new(op: &'static str, ids: &IdTensor, size: usize) -> Result<Self> {
        ids.check_ids(op, size, None)?;
        Ok(Self {
            values: Arc::new(ids.contiguous_data().iter().map(|&i| i as usize).collect()),
            shape: ids.shape().to_vec(),
        })
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
    picks: Positions,
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
        if inputs[0].numel() == 0 || grad.numel() == 0 {
            // Nothing picked or nothing to pick from: a zero gradient, without forming
            // the products of a shape that may hold a huge size beside a zero.
            return Ok(vec![Some(Tensor::zeros(shape))]);
        }
        let (outer, size, inner) = split_at_axis(shape, self.axis);
        let g = grad.contiguous_data();
        let mut gx = storage::zeroed_buffer::<T>(outer * size * inner);
        let picks = &self.picks.values;
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

/// Visits every position of the index array with the offset it maps to in a contiguous
/// tensor of `input_shape` when the coordinate along `axis` is replaced by the index
/// value; used by gather (read) and scatter-add (write).
fn for_each_gather_offset(
    input_shape: &[usize],
    index: &Positions,
    axis: usize,
    mut f: impl FnMut(usize, usize),
) {
    let strides = contiguous_strides(input_shape);
    let shape = &index.shape;
    let mut pos = vec![0usize; shape.len()];
    for (flat, &idx) in index.values.iter().enumerate() {
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

fn gather_positions(
    op: &'static str,
    input_shape: &[usize],
    index: &IdTensor,
    axis: usize,
) -> Result<Positions> {
    let fits = index.rank() == input_shape.len()
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
    Positions::new(op, index, input_shape[axis])
}

struct GatherBackward {
    axis: usize,
    picks: Positions,
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
        for_each_gather_offset(shape, &self.picks, self.axis, |flat, offset| {
            gx[offset] += g[flat]
        });
        Ok(vec![Some(Tensor::from_vec_unchecked(gx, shape))])
    }
}

struct ScatterAddBackward {
    axis: usize,
    picks: Positions,
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
            let g = grad.contiguous_data();
            let mut out = storage::take_buffer::<T>(self.picks.values.len());
            for_each_gather_offset(grad.shape(), &self.picks, self.axis, |flat, offset| {
                out[flat] = g[offset]
            });
            Some(Tensor::from_vec_unchecked(out, &self.picks.shape))
        } else {
            None
        };
        Ok(vec![Some(grad.clone()), g_src])
    }
}

impl<T: Scalar> Tensor<T> {
    /// Picks entries along `axis` by id (NumPy's `take`; PyTorch's `index_select` for
    /// 1-D ids). The result's shape is `shape[..axis] ++ ids.shape() ++ shape[axis+1..]`,
    /// so an embedding table `[vocab, d]` indexed by ids `[batch, time]` along axis 0
    /// gives `[batch, time, d]`. Backward scatter-adds.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`], or [`TensorError::IdOutOfRange`] naming the first
    /// id outside `0..shape[axis]` and its position.
    pub fn index_select(&self, axis: isize, ids: &IdTensor) -> Result<Tensor<T>> {
        let a = normalize_axis("index_select", axis, self.shape())?;
        let size = self.shape()[a];
        let picks = Positions::new("index_select", ids, size)?;
        let mut shape = self.shape()[..a].to_vec();
        shape.extend_from_slice(ids.shape());
        shape.extend_from_slice(&self.shape()[a + 1..]);
        let len = crate::tensor::checked_len("index_select", &shape, size_of::<T>())?;
        let mut out = storage::try_take_buffer::<T>("index_select", &shape, len)?;
        if len > 0 {
            // Every size around the axis is non-zero and the output's count fits, so the
            // input's products fit too (an empty input with huge sizes never gets here).
            let (outer, _, inner) = split_at_axis(self.shape(), a);
            let n = picks.values.len();
            let src = self.contiguous_data();
            for o in 0..outer {
                for (j, &idx) in picks.values.iter().enumerate() {
                    out[(o * n + j) * inner..][..inner]
                        .copy_from_slice(&src[(o * size + idx) * inner..][..inner]);
                }
            }
        }
        let op = IndexSelectBackward { axis: a, picks };
        Ok(Tensor::op_result(out, &shape, &[self], op))
    }

    /// `torch.gather`: `out[i][j] = self[i][ids[i][j]]` for `axis = 1` (and likewise for
    /// any axis). `ids` has this tensor's rank and no larger size on other axes.
    /// Backward scatter-adds.
    ///
    /// ```
    /// use ferrograd_tensor::{IdTensor, Tensor};
    /// let logits = Tensor::<f32>::from([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]]);
    /// let targets = IdTensor::new(vec![1, 0], &[2, 1])?;
    /// assert_eq!(logits.gather(1, &targets)?.to_vec(), vec![0.7, 0.5]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] for ids of the wrong shape,
    /// [`TensorError::IdOutOfRange`] for an id outside the axis.
    pub fn gather(&self, axis: isize, ids: &IdTensor) -> Result<Tensor<T>> {
        let a = normalize_axis("gather", axis, self.shape())?;
        let picks = gather_positions("gather", self.shape(), ids, a)?;
        let src = self.contiguous_data();
        let mut out = storage::take_buffer::<T>(picks.values.len());
        for_each_gather_offset(self.shape(), &picks, a, |flat, offset| {
            out[flat] = src[offset]
        });
        let op = GatherBackward { axis: a, picks };
        Ok(Tensor::op_result(out, ids.shape(), &[self], op))
    }

    /// `torch.scatter_add`: a copy of this tensor with each element of `src` added at the
    /// position `ids` names along `axis` (the inverse pattern of [`Tensor::gather`]).
    ///
    /// # Errors
    /// As [`Tensor::gather`]; `src` must have the ids' shape.
    pub fn scatter_add(&self, axis: isize, ids: &IdTensor, src: &Tensor<T>) -> Result<Tensor<T>> {
        let a = normalize_axis("scatter_add", axis, self.shape())?;
        let picks = gather_positions("scatter_add", self.shape(), ids, a)?;
        if src.shape() != ids.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "scatter_add",
                lhs: shape_of(ids.shape()),
                rhs: shape_of(src.shape()),
            });
        }
        let mut out = self.contiguous_data().into_owned();
        let values = src.contiguous_data();
        for_each_gather_offset(self.shape(), &picks, a, |flat, offset| {
            out[offset] += values[flat]
        });
        let op = ScatterAddBackward { axis: a, picks };
        Ok(Tensor::op_result(out, self.shape(), &[self, src], op))
    }

    /// One-hot rows: `[.., classes]` with 1 at each id (a constant).
    ///
    /// # Errors
    /// [`TensorError::IdOutOfRange`] for an id outside `0..classes`;
    /// [`TensorError::TooLarge`] for a result too large to count or allocate.
    pub fn one_hot(ids: &IdTensor, classes: usize) -> Result<Tensor<T>> {
        let picks = Positions::new("one_hot", ids, classes)?;
        let mut shape = ids.shape().to_vec();
        shape.push(classes);
        let n = crate::tensor::checked_len("one_hot", &shape, size_of::<T>())?;
        let mut data = storage::try_take_buffer::<T>("one_hot", &shape, n)?;
        data.fill(T::ZERO);
        for (row, &i) in picks.values.iter().enumerate() {
            data[row * classes + i] = T::ONE;
        }
        Ok(Tensor::from_vec_unchecked(data, &shape))
    }
}
