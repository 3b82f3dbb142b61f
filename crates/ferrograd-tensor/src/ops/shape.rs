//! Shape operations. Most are views (no copy): reshape of viewable data, permute and
//! transpose, broadcast, narrow, squeeze/unsqueeze. Concat and stack copy.

use crate::autograd::BackwardOp;
use crate::error::{Result, TensorError, shape_of};
use crate::layout::{
    Layout, check_window, checked_numel, concat_shape, for_each_run, normalize_axis,
    normalize_insert_axis,
};
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;

struct ReshapeBackward {
    input_shape: Vec<usize>,
}

impl<T: Scalar> BackwardOp<T> for ReshapeBackward {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn backward(
        &self,
        _: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![Some(grad.reshape(&self.input_shape)?)])
    }
}

struct PermuteBackward {
    inverse: Vec<usize>,
}

impl<T: Scalar> BackwardOp<T> for PermuteBackward {
    fn name(&self) -> &'static str {
        "permute"
    }
    fn backward(
        &self,
        _: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![Some(grad.permute(&self.inverse)?)])
    }
}

/// Broadcast, `contiguous`: the gradient passes through unchanged (the engine sums a
/// broadcast gradient back to the input's shape).
struct IdentityBackward(&'static str);

impl<T: Scalar> BackwardOp<T> for IdentityBackward {
    fn name(&self) -> &'static str {
        self.0
    }
    fn backward(
        &self,
        _: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![Some(grad.clone())])
    }
}

struct TransposeBackward {
    a: usize,
    b: usize,
}

impl<T: Scalar> BackwardOp<T> for TransposeBackward {
    fn name(&self) -> &'static str {
        "transpose"
    }
    fn backward(
        &self,
        _: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![Some(
            grad.transpose(self.a as isize, self.b as isize)?,
        )])
    }
}

struct NarrowBackward {
    axis: usize,
    start: usize,
}

impl<T: Scalar> BackwardOp<T> for NarrowBackward {
    fn name(&self) -> &'static str {
        "narrow"
    }
    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        // Zeros everywhere but the narrowed window, which receives the gradient.
        let shape = inputs[0].shape();
        let mut data = storage::zeroed_buffer::<T>(checked_numel(shape).unwrap_or(0));
        let window =
            Layout::contiguous(shape).narrow(self.axis, self.start, grad.shape()[self.axis]);
        write_window(&mut data, &window, grad, Write::Copy);
        Ok(vec![Some(Tensor::from_vec_unchecked(data, shape))])
    }

    fn accumulate_input_grad(
        &self,
        input: &Tensor<T>,
        grad: &Tensor<T>,
        pending: &mut Tensor<T>,
    ) -> Result<bool> {
        let shape = input.shape();
        if pending.shape() != shape {
            return Ok(false);
        }
        let Some(data) = pending.unique_data_mut() else {
            return Ok(false);
        };
        // The same sums as adding the zero-padded gradient (`pending + g` in the window,
        // `x + 0 = x` outside it), except that a −0.0 outside the window stays −0.0 where
        // the padded add (and PyTorch) would make it +0.0: the sign of a zero gradient.
        let window =
            Layout::contiguous(shape).narrow(self.axis, self.start, grad.shape()[self.axis]);
        write_window(data, &window, grad, Write::Add);
        Ok(true)
    }
}

struct ConcatBackward {
    axis: usize,
    sizes: Vec<usize>,
}

impl<T: Scalar> BackwardOp<T> for ConcatBackward {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let mut start = 0;
        let mut grads = Vec::with_capacity(self.sizes.len());
        for (input, &size) in inputs.iter().zip(&self.sizes) {
            grads.push(
                input
                    .requires_grad()
                    .then(|| grad.narrow_unchecked(self.axis, start, size)),
            );
            start += size;
        }
        Ok(grads)
    }
}

/// How [`write_window`] puts each element in place.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// `dst = src`.
    Copy,
    /// `dst += src` (a gradient accumulated in place).
    Add,
}

/// Writes `src` (any layout) into `dst` at the positions `dst_layout` describes, by
/// copying or adding; contiguous runs at the CPU's widest vectors.
pub(crate) fn write_window<T: Scalar>(
    dst: &mut [T],
    dst_layout: &Layout,
    src: &Tensor<T>,
    how: Write,
) {
    let src_layout = src.layout();
    let data = src.storage_data();
    for_each_run(
        dst_layout.shape(),
        [dst_layout.strides(), src_layout.strides()],
        [dst_layout.offset(), src_layout.offset()],
        |len, [d, s], [ds, ss]| match (how, ds == 1 && ss == 1) {
            (Write::Copy, true) => dst[d..d + len].copy_from_slice(&data[s..s + len]),
            (Write::Add, true) => {
                super::binary::add_assign(&mut dst[d..d + len], &data[s..s + len])
            }
            (Write::Copy, false) => {
                for i in 0..len {
                    dst[d + i * ds] = data[s + i * ss];
                }
            }
            (Write::Add, false) => {
                for i in 0..len {
                    dst[d + i * ds] += data[s + i * ss];
                }
            }
        },
    );
}

impl<T: Scalar> Tensor<T> {
    /// The same elements with a new shape (element counts must agree). A view when the
    /// layout allows it (always for contiguous data), a copy otherwise.
    ///
    /// # Errors
    /// [`TensorError::ElementCount`] when the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor<T>> {
        if checked_numel(shape) != Some(self.numel()) {
            return Err(TensorError::ElementCount {
                op: "reshape",
                shape: shape_of(shape),
                len: self.numel(),
            });
        }
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let op = ReshapeBackward {
            input_shape: self.shape().to_vec(),
        };
        match self.layout().reshaped(shape) {
            Some(layout) => Ok(self.view_of(layout, op)),
            None => {
                let dense = self.contiguous();
                let layout = Layout::contiguous(shape);
                Ok(dense.view_of(layout, op))
            }
        }
    }

    /// Flattens axes `start..=end` into one.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for axes out of range or `start > end`.
    pub fn flatten(&self, start: isize, end: isize) -> Result<Tensor<T>> {
        if self.rank() == 0 {
            return self.reshape(&[1]);
        }
        let s = normalize_axis("flatten", start, self.shape())?;
        let e = normalize_axis("flatten", end, self.shape())?;
        if s > e {
            return Err(TensorError::InvalidArgument {
                op: "flatten",
                reason: format!("start axis {start} comes after end axis {end}"),
            });
        }
        let mut shape: Vec<usize> = self.shape()[..s].to_vec();
        // Zero-aware and checked: [4, 2^64 − 1, 0] flattens to [0], but its first two
        // axes cannot be merged into one size.
        let merged = checked_numel(&self.shape()[s..=e]).ok_or_else(|| TensorError::TooLarge {
            op: "flatten",
            shape: shape_of(self.shape()),
            reason: format!("axes {s}..={e} hold more elements than usize holds"),
        })?;
        shape.push(merged);
        shape.extend_from_slice(&self.shape()[e + 1..]);
        self.reshape(&shape)
    }

    /// Reorders axes: output axis `i` is input axis `perm[i]`. A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] when `perm` is not a permutation of the axes.
    pub fn permute(&self, perm: &[usize]) -> Result<Tensor<T>> {
        let layout = self.layout().permute("permute", perm)?;
        let mut inverse = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        Ok(self.view_of(layout, PermuteBackward { inverse }))
    }

    /// Swaps two axes. A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range.
    pub fn transpose(&self, a: isize, b: isize) -> Result<Tensor<T>> {
        let a = normalize_axis("transpose", a, self.shape())?;
        let b = normalize_axis("transpose", b, self.shape())?;
        Ok(self.view_of(self.layout().swap_axes(a, b), TransposeBackward { a, b }))
    }

    /// The transpose of a matrix (swaps the last two axes of a batch of matrices). A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for a tensor of rank below 2.
    pub fn t(&self) -> Result<Tensor<T>> {
        if self.rank() < 2 {
            return Err(TensorError::InvalidArgument {
                op: "t",
                reason: format!(
                    "needs at least 2 axes, got shape {}",
                    shape_of(self.shape())
                ),
            });
        }
        self.transpose(-2, -1)
    }

    /// The tensor broadcast to `shape` (PyTorch's `expand`): a view with zero strides.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when this shape does not broadcast to `shape`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor<T>> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let layout = self.layout().broadcast_to("broadcast_to", shape)?;
        Ok(self.view_of(layout, IdentityBackward("broadcast_to")))
    }

    /// Elements `start..start + len` of `axis`. A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range,
    /// [`TensorError::IndexOutOfRange`] when the window leaves the axis (naming the last
    /// index it would touch).
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Tensor<T>> {
        let a = normalize_axis("narrow", axis, self.shape())?;
        check_window("narrow", self.shape(), a, start, len)?;
        Ok(self.narrow_unchecked(a, start, len))
    }

    /// A Python-style slice of `axis`: `x[:, :-1]` is `x.slice(1, ..-1)`, `x[:, 1:]` is
    /// `x.slice(1, 1..)`; negative bounds count from the end and out-of-range bounds are
    /// clamped, as in PyTorch. A view.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let x = Tensor::<f32>::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    /// assert_eq!(x.slice(1, ..-1)?.to_vec(), [1.0, 2.0, 4.0, 5.0]);
    /// assert_eq!(x.slice(1, 1..)?.to_vec(), [2.0, 3.0, 5.0, 6.0]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range.
    pub fn slice(
        &self,
        axis: isize,
        range: impl std::ops::RangeBounds<isize>,
    ) -> Result<Tensor<T>> {
        let a = normalize_axis("slice", axis, self.shape())?;
        let (start, len) = crate::layout::resolve_range(self.shape()[a], &range);
        Ok(self.narrow_unchecked(a, start, len))
    }

    pub(crate) fn narrow_unchecked(&self, axis: usize, start: usize, len: usize) -> Tensor<T> {
        let layout = self.layout().narrow(axis, start, len);
        self.view_of(layout, NarrowBackward { axis, start })
    }

    /// Index `index` of `axis`, with that axis removed (PyTorch's `select`). A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range,
    /// [`TensorError::IndexOutOfRange`] naming the index and the axis size.
    pub fn select(&self, axis: isize, index: usize) -> Result<Tensor<T>> {
        let a = normalize_axis("select", axis, self.shape())?;
        let size = self.shape()[a];
        if index >= size {
            return Err(TensorError::IndexOutOfRange {
                op: "select",
                index,
                axis: a,
                size,
            });
        }
        self.narrow_unchecked(a, index, 1).squeeze(a as isize)
    }

    /// Removes a size-1 axis.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range,
    /// [`TensorError::InvalidArgument`] when the axis is not of size 1.
    pub fn squeeze(&self, axis: isize) -> Result<Tensor<T>> {
        let a = normalize_axis("squeeze", axis, self.shape())?;
        if self.shape()[a] != 1 {
            return Err(TensorError::InvalidArgument {
                op: "squeeze",
                reason: format!(
                    "axis {axis} of shape {} has size {}, not 1",
                    shape_of(self.shape()),
                    self.shape()[a]
                ),
            });
        }
        let mut shape = self.shape().to_vec();
        shape.remove(a);
        self.reshape(&shape)
    }

    /// Inserts a size-1 axis at position `axis` (`-1` appends).
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for a position outside `-(rank+1)..=rank`,
    /// naming it and the shape.
    pub fn unsqueeze(&self, axis: isize) -> Result<Tensor<T>> {
        let a = normalize_insert_axis("unsqueeze", axis, self.shape())?;
        let mut shape = self.shape().to_vec();
        shape.insert(a, 1);
        self.reshape(&shape)
    }

    /// A dense row-major copy, or the tensor itself when it already is one.
    pub fn contiguous(&self) -> Tensor<T> {
        if self.is_contiguous() {
            return self.clone();
        }
        let data = self.contiguous_data().into_owned();
        Tensor::op_result(data, self.shape(), &[self], IdentityBackward("contiguous"))
    }

    /// Joins tensors along an existing axis; all other axes must agree.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for an empty list,
    /// [`TensorError::ShapeMismatch`] when shapes disagree off the axis,
    /// [`TensorError::InvalidAxis`] for an axis out of range.
    pub fn concat(tensors: &[&Tensor<T>], axis: isize) -> Result<Tensor<T>> {
        let shapes: Vec<&[usize]> = tensors.iter().map(|t| t.shape()).collect();
        let (a, shape) = concat_shape("concat", &shapes, axis)?;
        let n = crate::tensor::checked_len("concat", &shape, size_of::<T>())?;
        let mut data = storage::try_take_buffer::<T>("concat", &shape, n)?;
        let full = Layout::contiguous(&shape);
        let mut start = 0;
        for t in tensors {
            let size = t.shape()[a];
            write_window(&mut data, &full.narrow(a, start, size), t, Write::Copy);
            start += size;
        }
        let sizes = tensors.iter().map(|t| t.shape()[a]).collect();
        Ok(Tensor::op_result(
            data,
            &shape,
            tensors,
            ConcatBackward { axis: a, sizes },
        ))
    }

    /// Joins equally shaped tensors along a new axis.
    ///
    /// # Errors
    /// As [`Tensor::concat`]; all shapes must be equal.
    pub fn stack(tensors: &[&Tensor<T>], axis: isize) -> Result<Tensor<T>> {
        let first = tensors
            .first()
            .ok_or_else(|| TensorError::InvalidArgument {
                op: "stack",
                reason: "no tensors given".into(),
            })?;
        if let Some(t) = tensors.iter().find(|t| t.shape() != first.shape()) {
            return Err(TensorError::ShapeMismatch {
                op: "stack",
                lhs: shape_of(first.shape()),
                rhs: shape_of(t.shape()),
            });
        }
        // Checked against the caller's shape, so the error names what they passed.
        let a = normalize_insert_axis("stack", axis, first.shape())?;
        let expanded = tensors
            .iter()
            .map(|t| t.unsqueeze(a as isize))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&Tensor<T>> = expanded.iter().collect();
        Self::concat(&refs, a as isize)
    }

    /// Splits `axis` into pieces of `size` (the last may be smaller). Views.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range,
    /// [`TensorError::InvalidArgument`] when `size` is 0.
    pub fn split(&self, size: usize, axis: isize) -> Result<Vec<Tensor<T>>> {
        let a = normalize_axis("split", axis, self.shape())?;
        if size == 0 {
            return Err(TensorError::InvalidArgument {
                op: "split",
                reason: "piece size must be positive".into(),
            });
        }
        let total = self.shape()[a];
        Ok((0..total)
            .step_by(size)
            .map(|start| self.narrow_unchecked(a, start, size.min(total - start)))
            .collect())
    }

    /// Splits `axis` into `chunks` nearly equal pieces, as `torch.chunk`. Views.
    ///
    /// # Errors
    /// As [`Tensor::split`]; `chunks` must be positive.
    pub fn chunk(&self, chunks: usize, axis: isize) -> Result<Vec<Tensor<T>>> {
        let a = normalize_axis("chunk", axis, self.shape())?;
        if chunks == 0 {
            return Err(TensorError::InvalidArgument {
                op: "chunk",
                reason: "number of chunks must be positive".into(),
            });
        }
        let size = self.shape()[a].div_ceil(chunks).max(1);
        self.split(size, a as isize)
    }
}
