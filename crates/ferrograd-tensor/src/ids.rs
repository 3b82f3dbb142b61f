//! [`IdTensor`]: n-dimensional arrays of `i64` — token ids, class labels, positions,
//! argmax results, masks from comparisons — with the same [`Layout`] as float tensors.
//!
//! Ids are their own type, not floats: they cannot be rounded, differentiated or mixed
//! into arithmetic by accident. They are `i64` so PyTorch's ignored target `-100` fits.
//! Views work as for [`Tensor`]: `[batch, time]` ids are narrowed,
//! sliced, transposed and reshaped without copying, so the book's shift
//! `input = ids[:, :-1]`, `target = ids[:, 1:]` costs nothing:
//!
//! ```
//! use ferrograd_tensor::IdTensor;
//! let ids = IdTensor::from([[5, 8, 2, 9], [7, 1, 3, 0]]);
//! let input = ids.slice(1, ..-1)?;   // ids[:, :-1]
//! let target = ids.slice(1, 1..)?;   // ids[:, 1:]
//! assert_eq!(input.to_vec(), [5, 8, 2, 7, 1, 3]);
//! assert_eq!(target.to_vec(), [8, 2, 9, 1, 3, 0]);
//! assert!(target.shares_storage_with(&ids)); // views, not copies
//! # Ok::<(), ferrograd_tensor::TensorError>(())
//! ```

use crate::error::{Result, TensorError, shape_of};
use crate::layout::{
    Layout, broadcast_shapes, checked_numel, contiguous_strides, for_each_run, normalize_axis,
};
use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;
use std::borrow::Cow;
use std::fmt;
use std::ops::RangeBounds;
use std::sync::Arc;

/// An n-dimensional array of `i64` ids with views, cheap to clone (a reference count).
///
/// Produced by [`IdTensor::arange`], [`Tensor::argmax`], [`Tensor::topk`],
/// [`Tensor::sort`], [`Tensor::multinomial`] and the comparisons of this type; taken by
/// [`Tensor::index_select`], [`Tensor::gather`], embedding lookups and the losses.
///
/// ```
/// use ferrograd_tensor::{IdTensor, Tensor};
/// let table = Tensor::<f32>::from([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]);
/// let ids = IdTensor::new(vec![2, 0, 2, 1], &[2, 2])?;
/// let looked_up = table.index_select(0, &ids)?; // shape [2, 2, 2]
/// assert_eq!(looked_up.select(0, 0)?.to_vec(), vec![2.0, 2.0, 0.0, 0.0]);
/// # Ok::<(), ferrograd_tensor::TensorError>(())
/// ```
#[derive(Clone)]
pub struct IdTensor {
    data: Arc<Vec<i64>>,
    layout: Layout,
}

/// Elements of `layout` over `data`, row-major, for any copyable element type.
pub(crate) fn gather_strided<E: Copy>(data: &[E], layout: &Layout, out: &mut Vec<E>) {
    for_each_run(
        layout.shape(),
        [layout.strides()],
        [layout.offset()],
        |len, [start], [stride]| match stride {
            1 => out.extend_from_slice(&data[start..start + len]),
            0 => out.extend(std::iter::repeat_n(data[start], len)),
            _ => out.extend((0..len).map(|i| data[start + i * stride])),
        },
    );
}

impl IdTensor {
    // ----- construction ---------------------------------------------------------------

    pub(crate) fn from_parts(data: Vec<i64>, shape: &[usize]) -> Self {
        debug_assert_eq!(checked_numel(shape), Some(data.len()));
        Self {
            data: Arc::new(data),
            layout: Layout::contiguous(shape),
        }
    }

    /// Ids of `shape`, row-major.
    ///
    /// # Errors
    /// [`TensorError::ElementCount`] when `data` does not fill `shape`.
    pub fn new(data: Vec<i64>, shape: &[usize]) -> Result<Self> {
        if checked_numel(shape) != Some(data.len()) {
            return Err(TensorError::ElementCount {
                op: "IdTensor::new",
                shape: shape_of(shape),
                len: data.len(),
            });
        }
        Ok(Self::from_parts(data, shape))
    }

    /// Ids of `shape` from `usize` indices (positions, vocabulary indices).
    ///
    /// # Errors
    /// [`TensorError::ElementCount`] when `indices` does not fill `shape`,
    /// [`TensorError::InvalidArgument`] for an index above `i64::MAX`.
    pub fn from_indices(indices: &[usize], shape: &[usize]) -> Result<Self> {
        let data = indices
            .iter()
            .map(|&i| {
                i64::try_from(i).map_err(|_| TensorError::InvalidArgument {
                    op: "IdTensor::from_indices",
                    reason: format!("index {i} does not fit in an i64 id"),
                })
            })
            .collect::<Result<Vec<i64>>>()?;
        Self::new(data, shape)
    }

    /// A rank-0 id.
    pub fn scalar(id: i64) -> Self {
        Self::from_parts(vec![id], &[])
    }

    /// Ids of `shape`, every one `value`.
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] when the element count overflows `usize` or the buffer
    /// cannot be allocated.
    pub fn full(shape: &[usize], value: i64) -> Result<Self> {
        let n = crate::tensor::checked_len("IdTensor::full", shape, size_of::<i64>())?;
        let mut data = allocate("IdTensor::full", shape, n)?;
        data.resize(n, value);
        Ok(Self::from_parts(data, shape))
    }

    /// Ids of `shape`, all zero.
    ///
    /// # Errors
    /// As [`IdTensor::full`].
    pub fn zeros(shape: &[usize]) -> Result<Self> {
        Self::full(shape, 0)
    }

    /// `start, start + 1, …, end - 1` (`torch.arange` on integers); empty when
    /// `end <= start`.
    ///
    /// ```
    /// use ferrograd_tensor::IdTensor;
    /// assert_eq!(IdTensor::arange(2, 6)?.to_vec(), [2, 3, 4, 5]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] when the range is too long to count or allocate.
    pub fn arange(start: i64, end: i64) -> Result<Self> {
        let len = u64::try_from(i128::from(end) - i128::from(start))
            .unwrap_or(0)
            .try_into()
            .unwrap_or(usize::MAX);
        crate::tensor::checked_len("IdTensor::arange", &[len], size_of::<i64>())?;
        let mut data = allocate("IdTensor::arange", &[len], len)?;
        data.extend(start..end.max(start));
        Ok(Self::from_parts(data, &[len]))
    }

    // ----- inspection -----------------------------------------------------------------

    /// Sizes of the dimensions.
    pub fn shape(&self) -> &[usize] {
        self.layout.shape()
    }

    /// Size of one dimension (negative counts from the end).
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range.
    pub fn dim(&self, axis: isize) -> Result<usize> {
        let a = normalize_axis("IdTensor::dim", axis, self.shape())?;
        Ok(self.shape()[a])
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.layout.rank()
    }

    /// Number of ids.
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    /// Number of ids (alias of [`IdTensor::numel`]).
    pub fn len(&self) -> usize {
        self.numel()
    }

    /// True when there are no ids.
    pub fn is_empty(&self) -> bool {
        self.numel() == 0
    }

    /// The layout: shape, strides and offset into the storage.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Strides in elements.
    pub fn strides(&self) -> &[usize] {
        self.layout.strides()
    }

    /// True when the ids are dense and row-major.
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// True when both share the same buffer (one is a view of the other).
    pub fn shares_storage_with(&self, other: &IdTensor) -> bool {
        Arc::ptr_eq(&self.data, &other.data)
    }

    /// The ids as a slice when contiguous, without copying.
    pub fn as_slice(&self) -> Option<&[i64]> {
        if !self.is_contiguous() {
            return None;
        }
        let start = self.layout.offset();
        Some(&self.data[start..start + self.numel()])
    }

    /// The ids in row-major order: borrowed when contiguous, gathered otherwise.
    pub fn contiguous_data(&self) -> Cow<'_, [i64]> {
        if let Some(slice) = self.as_slice() {
            return Cow::Borrowed(slice);
        }
        let mut out = Vec::with_capacity(self.numel());
        gather_strided(&self.data, &self.layout, &mut out);
        Cow::Owned(out)
    }

    /// The ids in row-major order (copied).
    pub fn to_vec(&self) -> Vec<i64> {
        self.contiguous_data().into_owned()
    }

    /// The rows of a 2-D id tensor.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] unless the rank is 2.
    pub fn to_vec2(&self) -> Result<Vec<Vec<i64>>> {
        let &[rows, cols] = self.shape() else {
            return Err(TensorError::InvalidArgument {
                op: "IdTensor::to_vec2",
                reason: format!("expected 2-D ids, got shape {}", shape_of(self.shape())),
            });
        };
        let data = self.contiguous_data();
        Ok((0..rows)
            .map(|r| data[r * cols..(r + 1) * cols].to_vec())
            .collect())
    }

    /// The ids as `usize` indices, row-major.
    ///
    /// # Errors
    /// [`TensorError::IdOutOfRange`] naming the first negative id.
    pub fn to_indices(&self) -> Result<Vec<usize>> {
        let data = self.contiguous_data();
        data.iter()
            .enumerate()
            .map(|(position, &id)| {
                usize::try_from(id).map_err(|_| TensorError::IdOutOfRange {
                    op: "IdTensor::to_indices",
                    id,
                    position,
                    size: usize::MAX,
                })
            })
            .collect()
    }

    /// The value of a one-element id tensor (any rank).
    ///
    /// # Errors
    /// [`TensorError::NotScalar`] unless there is exactly one element.
    pub fn item(&self) -> Result<i64> {
        if self.numel() != 1 {
            return Err(TensorError::NotScalar {
                op: "IdTensor::item",
                shape: shape_of(self.shape()),
            });
        }
        Ok(self.data[self.layout.offset()])
    }

    /// The id at a multi-index.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for a wrong number of indices,
    /// [`TensorError::IndexOutOfRange`] for an index past its axis.
    pub fn get(&self, index: &[usize]) -> Result<i64> {
        if index.len() != self.rank() {
            return Err(TensorError::InvalidArgument {
                op: "IdTensor::get",
                reason: format!(
                    "{} indices given for ids of shape {}",
                    index.len(),
                    shape_of(self.shape())
                ),
            });
        }
        let mut pos = self.layout.offset();
        for (axis, ((&i, &d), &s)) in index
            .iter()
            .zip(self.shape())
            .zip(self.strides())
            .enumerate()
        {
            if i >= d {
                return Err(TensorError::IndexOutOfRange {
                    op: "IdTensor::get",
                    index: i,
                    axis,
                    size: d,
                });
            }
            pos += i * s;
        }
        Ok(self.data[pos])
    }

    /// Checks every id is in `0..size`, except ids equal to `ignore` (a padding target):
    /// the error names the call, the id, its position and the size.
    pub(crate) fn check_ids(
        &self,
        op: &'static str,
        size: usize,
        ignore: Option<i64>,
    ) -> Result<()> {
        let data = self.contiguous_data();
        let bad = data.iter().enumerate().find(|&(_, &id)| {
            Some(id) != ignore && usize::try_from(id).ok().is_none_or(|i| i >= size)
        });
        match bad {
            Some((position, &id)) => Err(TensorError::IdOutOfRange {
                op,
                id,
                position,
                size,
            }),
            None => Ok(()),
        }
    }

    // ----- views ----------------------------------------------------------------------

    fn with_layout(&self, layout: Layout) -> Self {
        Self {
            data: Arc::clone(&self.data),
            layout,
        }
    }

    /// The same ids with a new shape: a view when the layout allows it, a copy otherwise.
    ///
    /// # Errors
    /// [`TensorError::ElementCount`] when the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        if checked_numel(shape) != Some(self.numel()) {
            return Err(TensorError::ElementCount {
                op: "IdTensor::reshape",
                shape: shape_of(shape),
                len: self.numel(),
            });
        }
        Ok(match self.layout.reshaped(shape) {
            Some(layout) => self.with_layout(layout),
            None => Self::from_parts(self.to_vec(), shape),
        })
    }

    /// Flattens every axis into one.
    pub fn flatten_all(&self) -> Self {
        let n = self.numel();
        self.reshape(&[n]).expect("the element count is unchanged")
    }

    /// Reorders axes (output axis `i` is input axis `perm[i]`). A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] when `perm` is not a permutation of the axes.
    pub fn permute(&self, perm: &[usize]) -> Result<Self> {
        Ok(self.with_layout(self.layout.permute("IdTensor::permute", perm)?))
    }

    /// Swaps two axes. A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range.
    pub fn transpose(&self, a: isize, b: isize) -> Result<Self> {
        let a = normalize_axis("IdTensor::transpose", a, self.shape())?;
        let b = normalize_axis("IdTensor::transpose", b, self.shape())?;
        Ok(self.with_layout(self.layout.swap_axes(a, b)))
    }

    /// The ids broadcast to `shape` (zero strides). A view.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        Ok(self.with_layout(self.layout.broadcast_to("IdTensor::broadcast_to", shape)?))
    }

    /// Ids `start..start + len` of `axis`. A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range,
    /// [`TensorError::IndexOutOfRange`] when the window leaves the axis.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Self> {
        let a = normalize_axis("IdTensor::narrow", axis, self.shape())?;
        crate::layout::check_window("IdTensor::narrow", self.shape(), a, start, len)?;
        Ok(self.with_layout(self.layout.narrow(a, start, len)))
    }

    /// A Python-style slice of `axis` (`ids[:, :-1]` is `ids.slice(1, ..-1)`, `ids[:, 1:]`
    /// is `ids.slice(1, 1..)`); negative bounds count from the end and out-of-range
    /// bounds are clamped, as in PyTorch. A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range.
    pub fn slice(&self, axis: isize, range: impl RangeBounds<isize>) -> Result<Self> {
        let a = normalize_axis("IdTensor::slice", axis, self.shape())?;
        let (start, len) = crate::layout::resolve_range(self.shape()[a], &range);
        Ok(self.with_layout(self.layout.narrow(a, start, len)))
    }

    /// Index `index` of `axis`, with the axis removed. A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`], or [`TensorError::IndexOutOfRange`] naming the
    /// index and the axis size.
    pub fn select(&self, axis: isize, index: usize) -> Result<Self> {
        let a = normalize_axis("IdTensor::select", axis, self.shape())?;
        let size = self.shape()[a];
        if index >= size {
            return Err(TensorError::IndexOutOfRange {
                op: "IdTensor::select",
                index,
                axis: a,
                size,
            });
        }
        let narrowed = self.layout.narrow(a, index, 1);
        let mut shape = narrowed.shape().to_vec();
        let mut strides = narrowed.strides().to_vec();
        shape.remove(a);
        strides.remove(a);
        Ok(self.with_layout(Layout::from_parts(&shape, &strides, narrowed.offset())))
    }

    /// Removes a size-1 axis.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`], or [`TensorError::InvalidArgument`] when the axis
    /// is not of size 1.
    pub fn squeeze(&self, axis: isize) -> Result<Self> {
        let a = normalize_axis("IdTensor::squeeze", axis, self.shape())?;
        if self.shape()[a] != 1 {
            return Err(TensorError::InvalidArgument {
                op: "IdTensor::squeeze",
                reason: format!(
                    "axis {axis} of shape {} has size {}, not 1",
                    shape_of(self.shape()),
                    self.shape()[a]
                ),
            });
        }
        self.select(a as isize, 0)
    }

    /// Inserts a size-1 axis at `axis` (`-1` appends). A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for a position outside `-(rank+1)..=rank`.
    pub fn unsqueeze(&self, axis: isize) -> Result<Self> {
        let a = crate::layout::normalize_insert_axis("IdTensor::unsqueeze", axis, self.shape())?;
        let mut shape = self.shape().to_vec();
        let mut strides = self.strides().to_vec();
        shape.insert(a, 1);
        strides.insert(a, strides.get(a).map_or(1, |&s| s * self.shape()[a]));
        Ok(self.with_layout(Layout::from_parts(&shape, &strides, self.layout.offset())))
    }

    /// A dense row-major copy, or the ids themselves when already dense.
    pub fn contiguous(&self) -> Self {
        if self.is_contiguous() {
            return self.clone();
        }
        Self::from_parts(self.to_vec(), self.shape())
    }

    /// Joins id tensors along an existing axis (`torch.cat`).
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for an empty list, [`TensorError::ShapeMismatch`]
    /// when shapes disagree off the axis, [`TensorError::InvalidAxis`],
    /// [`TensorError::TooLarge`] for a result too large to allocate.
    pub fn cat(parts: &[&IdTensor], axis: isize) -> Result<Self> {
        let shapes: Vec<&[usize]> = parts.iter().map(|p| p.shape()).collect();
        let (a, shape) = crate::layout::concat_shape("IdTensor::cat", &shapes, axis)?;
        let outer: usize = shape[..a].iter().product();
        let n = crate::tensor::checked_len("IdTensor::cat", &shape, size_of::<i64>())?;
        let mut data = Vec::new();
        data.try_reserve_exact(n)
            .map_err(|e| TensorError::TooLarge {
                op: "IdTensor::cat",
                shape: shape_of(&shape),
                reason: format!("allocation failed: {e}"),
            })?;
        let dense: Vec<Cow<'_, [i64]>> = parts.iter().map(|p| p.contiguous_data()).collect();
        for o in 0..outer {
            for (part, values) in parts.iter().zip(&dense) {
                let block = part.shape()[a..].iter().product::<usize>();
                data.extend_from_slice(&values[o * block..(o + 1) * block]);
            }
        }
        Ok(Self::from_parts(data, &shape))
    }

    /// Joins equally shaped id tensors along a new axis (`torch.stack`).
    ///
    /// # Errors
    /// As [`IdTensor::cat`]; all shapes must be equal.
    pub fn stack(parts: &[&IdTensor], axis: isize) -> Result<Self> {
        let first = parts.first().ok_or_else(|| TensorError::InvalidArgument {
            op: "IdTensor::stack",
            reason: "no id tensors given".into(),
        })?;
        if let Some(p) = parts.iter().find(|p| p.shape() != first.shape()) {
            return Err(TensorError::ShapeMismatch {
                op: "IdTensor::stack",
                lhs: shape_of(first.shape()),
                rhs: shape_of(p.shape()),
            });
        }
        let a = crate::layout::normalize_insert_axis("IdTensor::stack", axis, first.shape())?;
        let expanded = parts
            .iter()
            .map(|p| p.unsqueeze(a as isize))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&IdTensor> = expanded.iter().collect();
        Self::cat(&refs, a as isize)
    }

    // ----- element-wise ---------------------------------------------------------------

    /// `f` applied to every id (a new dense tensor).
    pub fn map(&self, f: impl Fn(i64) -> i64) -> Self {
        let data = self.contiguous_data().iter().map(|&v| f(v)).collect();
        Self::from_parts(data, self.shape())
    }

    fn zip_with(
        &self,
        op: &'static str,
        other: &IdTensor,
        f: impl Fn(i64, i64) -> i64,
    ) -> Result<Self> {
        let shape = broadcast_shapes(op, self.shape(), other.shape())?;
        let la = self.layout.broadcast_to(op, &shape)?;
        let lb = other.layout.broadcast_to(op, &shape)?;
        let n = crate::tensor::checked_len(op, &shape, size_of::<i64>())?;
        let mut out = Vec::new();
        out.try_reserve_exact(n)
            .map_err(|e| TensorError::TooLarge {
                op,
                shape: shape_of(&shape),
                reason: format!("allocation failed: {e}"),
            })?;
        let out_strides = contiguous_strides(&shape);
        for_each_run(
            &shape,
            [&out_strides, la.strides(), lb.strides()],
            [0, la.offset(), lb.offset()],
            |len, [_, s, t], [_, ss, ts]| {
                out.extend((0..len).map(|i| f(self.data[s + i * ss], other.data[t + i * ts])));
            },
        );
        Ok(Self::from_parts(out, &shape))
    }

    /// 1 where the ids are equal, else 0, broadcasting (`torch.eq`).
    ///
    /// ```
    /// use ferrograd_tensor::IdTensor;
    /// let predicted = IdTensor::from([2, 0, 1, 1]);
    /// let labels = IdTensor::from([2, 1, 1, 0]);
    /// assert_eq!(predicted.eq(&labels)?.sum(), 2); // two correct
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the shapes do not broadcast.
    pub fn eq(&self, other: &IdTensor) -> Result<Self> {
        self.zip_with("IdTensor::eq", other, |a, b| i64::from(a == b))
    }

    /// 1 where the ids differ, else 0, broadcasting.
    ///
    /// # Errors
    /// As [`IdTensor::eq`].
    pub fn ne(&self, other: &IdTensor) -> Result<Self> {
        self.zip_with("IdTensor::ne", other, |a, b| i64::from(a != b))
    }

    /// 1 where `self < other`, else 0, broadcasting.
    ///
    /// # Errors
    /// As [`IdTensor::eq`].
    pub fn lt(&self, other: &IdTensor) -> Result<Self> {
        self.zip_with("IdTensor::lt", other, |a, b| i64::from(a < b))
    }

    /// 1 where `self >= other`, else 0, broadcasting.
    ///
    /// # Errors
    /// As [`IdTensor::eq`].
    pub fn ge(&self, other: &IdTensor) -> Result<Self> {
        self.zip_with("IdTensor::ge", other, |a, b| i64::from(a >= b))
    }

    /// 1 where the id equals `value` (e.g. the padding id), else 0.
    pub fn eq_scalar(&self, value: i64) -> Self {
        self.map(|v| i64::from(v == value))
    }

    /// 1 where the id differs from `value` (e.g. not padding: an attention mask), else 0.
    pub fn ne_scalar(&self, value: i64) -> Self {
        self.map(|v| i64::from(v != value))
    }

    /// 1 where the id is below `value`, else 0.
    pub fn lt_scalar(&self, value: i64) -> Self {
        self.map(|v| i64::from(v < value))
    }

    /// 1 where the id is at least `value`, else 0.
    pub fn ge_scalar(&self, value: i64) -> Self {
        self.map(|v| i64::from(v >= value))
    }

    /// `value` where `mask` is non-zero, else this tensor's id; the mask broadcasts to
    /// this shape. Sets padded label positions to `-100`:
    ///
    /// ```
    /// use ferrograd_tensor::IdTensor;
    /// let ids = IdTensor::from([[7, 3, 0, 0]]);
    /// let labels = ids.masked_fill(&ids.eq_scalar(0), -100)?;
    /// assert_eq!(labels.to_vec(), [7, 3, -100, -100]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the mask does not broadcast to this shape.
    pub fn masked_fill(&self, mask: &IdTensor, value: i64) -> Result<Self> {
        let mask = mask.with_layout(
            mask.layout
                .broadcast_to("IdTensor::masked_fill", self.shape())?,
        );
        self.zip_with("IdTensor::masked_fill", &mask, |v, m| {
            if m != 0 { value } else { v }
        })
    }

    /// `offset` added to every id.
    pub fn add_scalar(&self, offset: i64) -> Self {
        self.map(|v| v.wrapping_add(offset))
    }

    /// Sum of all ids (wrapping on overflow, which needs ~2^63 in total).
    pub fn sum(&self) -> i64 {
        self.contiguous_data()
            .iter()
            .fold(0i64, |acc, &v| acc.wrapping_add(v))
    }

    /// Number of non-zero ids (true entries of a mask).
    pub fn count_nonzero(&self) -> usize {
        self.contiguous_data().iter().filter(|&&v| v != 0).count()
    }

    /// The largest id, or `None` when empty.
    pub fn max(&self) -> Option<i64> {
        self.contiguous_data().iter().copied().max()
    }

    /// The smallest id, or `None` when empty.
    pub fn min(&self) -> Option<i64> {
        self.contiguous_data().iter().copied().min()
    }

    /// The ids as floats of the same shape (a mask for arithmetic, e.g. averaging a loss
    /// over non-padding positions). A constant: not differentiable.
    pub fn to_float<T: Scalar>(&self) -> Tensor<T> {
        let data = self
            .contiguous_data()
            .iter()
            .map(|&v| T::from_f64(v as f64))
            .collect();
        Tensor::from_vec_unchecked(data, self.shape())
    }
}

impl PartialEq for IdTensor {
    /// Same shape and same ids (layouts may differ).
    fn eq(&self, other: &Self) -> bool {
        self.shape() == other.shape() && self.contiguous_data() == other.contiguous_data()
    }
}

impl Eq for IdTensor {}

impl fmt::Debug for IdTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.contiguous_data();
        f.debug_struct("IdTensor")
            .field("shape", &self.shape())
            .field("ids", &&data[..data.len().min(16)])
            .finish()
    }
}

impl fmt::Display for IdTensor {
    /// Nested brackets, as PyTorch prints an integer tensor (long tensors are cut).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.contiguous_data();
        let values: Vec<String> = data.iter().map(i64::to_string).collect();
        crate::display::write_nested(f, self.shape(), &values)
    }
}

impl From<i64> for IdTensor {
    fn from(id: i64) -> Self {
        Self::scalar(id)
    }
}

impl From<Vec<i64>> for IdTensor {
    fn from(ids: Vec<i64>) -> Self {
        let n = ids.len();
        Self::from_parts(ids, &[n])
    }
}

impl From<&[i64]> for IdTensor {
    fn from(ids: &[i64]) -> Self {
        Self::from(ids.to_vec())
    }
}

impl<const N: usize> From<[i64; N]> for IdTensor {
    fn from(ids: [i64; N]) -> Self {
        Self::from_parts(ids.to_vec(), &[N])
    }
}

impl<const M: usize, const N: usize> From<[[i64; N]; M]> for IdTensor {
    fn from(rows: [[i64; N]; M]) -> Self {
        Self::from_parts(rows.iter().flatten().copied().collect(), &[M, N])
    }
}
/// An empty vector with room for `len` ids, or [`TensorError::TooLarge`] naming `op`
/// and `shape` when the memory cannot be had (instead of aborting the process).
fn allocate(op: &'static str, shape: &[usize], len: usize) -> Result<Vec<i64>> {
    let mut data = Vec::new();
    data.try_reserve_exact(len)
        .map_err(|e| TensorError::TooLarge {
            op,
            shape: shape_of(shape),
            reason: format!("allocation failed: {e}"),
        })?;
    Ok(data)
}
