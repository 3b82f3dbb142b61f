//! Shapes, strides and the strided iteration every kernel is built on.
//!
//! A tensor's elements live in a flat buffer; its [`Layout`] says where: element
//! `(i0, i1, …)` sits at `offset + Σ ik * strides[k]`. Views (transpose, broadcast with zero
//! strides, narrow, reshape of contiguous data) only change the layout.

use crate::error::{Result, TensorError, shape_of};
use std::ops::{Bound, RangeBounds};

/// Shape, strides (in elements) and offset of a tensor into its storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    shape: Dims,
    strides: Dims,
    offset: usize,
}

/// Up to this many dimensions are stored inline in a [`Layout`], without allocating.
const INLINE_DIMS: usize = 6;

/// A short list of sizes or strides: inline up to [`INLINE_DIMS`] entries (every tensor
/// of the book's models), on the heap beyond. Keeps small tensor ops allocation-light.
#[derive(Clone)]
enum Dims {
    Inline(u8, [usize; INLINE_DIMS]),
    Heap(Vec<usize>),
}

impl Dims {
    fn from_slice(values: &[usize]) -> Self {
        if values.len() <= INLINE_DIMS {
            let mut inline = [0; INLINE_DIMS];
            inline[..values.len()].copy_from_slice(values);
            Dims::Inline(values.len() as u8, inline)
        } else {
            Dims::Heap(values.to_vec())
        }
    }
}

impl Dims {
    /// Row-major strides of `shape`, built in place (no temporary vector).
    fn contiguous_strides(shape: &[usize]) -> Self {
        let mut strides = Self::from_slice(shape);
        let mut acc = 1usize;
        for (s, &d) in strides.iter_mut().zip(shape).rev() {
            *s = acc;
            acc = acc.saturating_mul(d.max(1));
        }
        strides
    }
}

impl From<Vec<usize>> for Dims {
    fn from(values: Vec<usize>) -> Self {
        if values.len() <= INLINE_DIMS {
            Self::from_slice(&values)
        } else {
            Dims::Heap(values)
        }
    }
}

impl std::ops::Deref for Dims {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        match self {
            Dims::Inline(len, values) => &values[..*len as usize],
            Dims::Heap(values) => values,
        }
    }
}

impl std::ops::DerefMut for Dims {
    fn deref_mut(&mut self) -> &mut [usize] {
        match self {
            Dims::Inline(len, values) => &mut values[..*len as usize],
            Dims::Heap(values) => values,
        }
    }
}

impl PartialEq for Dims {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Dims {}

impl std::fmt::Debug for Dims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// Row-major (C-order) strides of a shape.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut acc = 1usize;
    for (s, &d) in strides.iter_mut().zip(shape).rev() {
        *s = acc;
        acc = acc.saturating_mul(d.max(1));
    }
    strides
}

/// Number of elements of a shape (1 for rank 0; 0 when any size is 0, whatever the
/// others), or `None` on overflow.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// NumPy/PyTorch broadcasting: align from the right; sizes must match or be 1.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(TensorError::ShapeMismatch {
                    op,
                    lhs: shape_of(a),
                    rhs: shape_of(b),
                });
            }
        };
    }
    // Two views broadcast from single elements ([2^40, 1] and [1, 2^40]) can describe a
    // result whose element count overflows: an error, never a wrapped count.
    if checked_numel(&out).is_none() {
        return Err(TensorError::TooLarge {
            op,
            shape: shape_of(&out),
            reason: format!(
                "broadcasting {} with {} gives more elements than usize holds",
                shape_of(a),
                shape_of(b)
            ),
        });
    }
    Ok(out)
}

/// Resolves a possibly negative axis (`-1` is the last) against a rank.
pub fn normalize_axis(op: &'static str, axis: isize, shape: &[usize]) -> Result<usize> {
    let rank = shape.len() as isize;
    let resolved = if axis < 0 { axis + rank } else { axis };
    if resolved < 0 || resolved >= rank {
        return Err(TensorError::InvalidAxis {
            op,
            axis,
            rank: shape.len(),
            shape: shape_of(shape),
        });
    }
    Ok(resolved as usize)
}

/// Resolves a list of axes; duplicates are an error. An empty list means "all axes".
pub fn normalize_axes(op: &'static str, axes: &[isize], shape: &[usize]) -> Result<Vec<bool>> {
    let mut reduced = vec![axes.is_empty(); shape.len()];
    for &axis in axes {
        let a = normalize_axis(op, axis, shape)?;
        if reduced[a] && !axes.is_empty() {
            return Err(TensorError::InvalidArgument {
                op,
                reason: format!("axis {axis} is given twice"),
            });
        }
        reduced[a] = true;
    }
    Ok(reduced)
}

/// Resolves a Python-style range on an axis of `size` (negative bounds count from the
/// end, out-of-range bounds are clamped, as slicing a PyTorch tensor does) into
/// `(start, len)`.
pub(crate) fn resolve_range(size: usize, range: &impl RangeBounds<isize>) -> (usize, usize) {
    let size_i = size as isize;
    // A negative index counts from the end; it is resolved before an inclusive end (or an
    // excluded start) steps past it, so `..=-1` reaches the last element.
    let index = |v: isize| -> isize { if v < 0 { v.saturating_add(size_i) } else { v } };
    let clamp = |v: isize| -> usize { v.clamp(0, size_i) as usize };
    let start = match range.start_bound() {
        Bound::Included(&s) => clamp(index(s)),
        Bound::Excluded(&s) => clamp(index(s).saturating_add(1)),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => clamp(index(e).saturating_add(1)),
        Bound::Excluded(&e) => clamp(index(e)),
        Bound::Unbounded => size,
    };
    (start, end.saturating_sub(start))
}

/// Checks that the window `start..start + len` lies inside axis `axis` (normalised) of
/// `shape`; the error names the call, the last index the window would touch and the axis
/// size.
pub(crate) fn check_window(
    op: &'static str,
    shape: &[usize],
    axis: usize,
    start: usize,
    len: usize,
) -> Result<()> {
    let size = shape[axis];
    if start.checked_add(len).is_none_or(|end| end > size) {
        return Err(TensorError::IndexOutOfRange {
            op,
            index: start.saturating_add(len.saturating_sub(1)),
            axis,
            size,
        });
    }
    Ok(())
}

/// Resolves the position of a new axis inserted into `shape` (`-1` appends): valid
/// positions are `-(rank + 1)..=rank`. The error names the call, the position and the
/// shape the caller passed.
pub(crate) fn normalize_insert_axis(
    op: &'static str,
    axis: isize,
    shape: &[usize],
) -> Result<usize> {
    let rank = shape.len() as isize;
    let resolved = if axis < 0 { axis + rank + 1 } else { axis };
    if !(0..=rank).contains(&resolved) {
        return Err(TensorError::InvalidArgument {
            op,
            reason: format!(
                "cannot insert an axis at position {axis} into shape {} (valid: {}..={rank})",
                shape_of(shape),
                -rank - 1
            ),
        });
    }
    Ok(resolved as usize)
}

/// The axis (normalised) and the shape of joining `shapes` along `axis`: every shape of
/// the same rank, equal off the axis.
pub(crate) fn concat_shape(
    op: &'static str,
    shapes: &[&[usize]],
    axis: isize,
) -> Result<(usize, Vec<usize>)> {
    let first = shapes.first().ok_or_else(|| TensorError::InvalidArgument {
        op,
        reason: "no tensors given".into(),
    })?;
    let a = normalize_axis(op, axis, first)?;
    let mut shape = first.to_vec();
    shape[a] = 0;
    for s in shapes {
        let fits =
            s.len() == first.len() && s.iter().enumerate().all(|(i, &d)| i == a || d == first[i]);
        if !fits {
            return Err(TensorError::ShapeMismatch {
                op,
                lhs: shape_of(first),
                rhs: shape_of(s),
            });
        }
        shape[a] = shape[a]
            .checked_add(s[a])
            .ok_or_else(|| TensorError::TooLarge {
                op,
                shape: shape_of(s),
                reason: "the joined axis overflows usize".into(),
            })?;
    }
    Ok((a, shape))
}

impl Layout {
    /// A dense row-major layout of `shape` at offset 0.
    pub fn contiguous(shape: &[usize]) -> Self {
        Self {
            strides: Dims::contiguous_strides(shape),
            shape: Dims::from_slice(shape),
            offset: 0,
        }
    }

    /// A layout from its parts; the caller guarantees every element it addresses lies
    /// inside the storage it will be used with.
    pub(crate) fn from_parts(shape: &[usize], strides: &[usize], offset: usize) -> Self {
        debug_assert_eq!(shape.len(), strides.len());
        Self {
            shape: Dims::from_slice(shape),
            strides: Dims::from_slice(strides),
            offset,
        }
    }

    /// Sizes of the dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Strides of the dimensions, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Position of the first element in the storage.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements (0 when any size is 0, whatever the others are).
    pub fn numel(&self) -> usize {
        if self.shape.contains(&0) {
            return 0;
        }
        // Every constructor checks the count of a non-empty shape, so this cannot wrap.
        self.shape.iter().product()
    }

    /// True when elements are stored densely in row-major order (size-1 dims ignored).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1usize;
        for (&d, &s) in self.shape.iter().zip(self.strides.iter()).rev() {
            if d != 1 && s != expected {
                return false;
            }
            // Saturating: an empty tensor may have huge sizes beside its zero (a
            // safetensors file can store `[0, 4, 2^64 - 1]`); its strides saturate alike.
            expected = expected.saturating_mul(d);
        }
        true
    }

    /// The layout broadcast to `target` (zero strides on new or expanded dims).
    pub fn broadcast_to(&self, op: &'static str, target: &[usize]) -> Result<Self> {
        if target.len() < self.rank() {
            return Err(TensorError::ShapeMismatch {
                op,
                lhs: shape_of(&self.shape),
                rhs: shape_of(target),
            });
        }
        let lead = target.len() - self.rank();
        let mut strides = Dims::from_slice(target);
        strides.fill(0);
        for (i, &t) in target.iter().enumerate() {
            if i < lead {
                continue;
            }
            let (d, s) = (self.shape[i - lead], self.strides[i - lead]);
            strides[i] = if d == t {
                s
            } else if d == 1 {
                0
            } else {
                return Err(TensorError::ShapeMismatch {
                    op,
                    lhs: shape_of(&self.shape),
                    rhs: shape_of(target),
                });
            };
        }
        Ok(Self {
            shape: Dims::from_slice(target),
            strides,
            offset: self.offset,
        })
    }

    /// Dimensions reordered: `perm[i]` is the source dimension of output dimension `i`.
    pub fn permute(&self, op: &'static str, perm: &[usize]) -> Result<Self> {
        let mut seen = Dims::from_slice(perm);
        seen.fill(0);
        if perm.len() != self.rank()
            || perm
                .iter()
                .any(|&p| p >= self.rank() || std::mem::replace(&mut seen[p], 1) == 1)
        {
            return Err(TensorError::InvalidArgument {
                op,
                reason: format!(
                    "{perm:?} is not a permutation of the {} axes of shape {}",
                    self.rank(),
                    shape_of(&self.shape)
                ),
            });
        }
        let (mut shape, mut strides) = (self.shape.clone(), self.strides.clone());
        for (i, &p) in perm.iter().enumerate() {
            shape[i] = self.shape[p];
            strides[i] = self.strides[p];
        }
        Ok(Self {
            shape,
            strides,
            offset: self.offset,
        })
    }

    /// Axes `a` and `b` swapped (both already normalised).
    pub(crate) fn swap_axes(&self, a: usize, b: usize) -> Self {
        let mut swapped = self.clone();
        swapped.shape.swap(a, b);
        swapped.strides.swap(a, b);
        swapped
    }

    /// The sub-range `start..start + len` of `axis` (already normalised and checked).
    pub(crate) fn narrow(&self, axis: usize, start: usize, len: usize) -> Self {
        let mut shape = self.shape.clone();
        shape[axis] = len;
        Self {
            shape,
            strides: self.strides.clone(),
            // An empty view addresses nothing; its strides may be saturated (a huge size
            // beside a zero), so its offset is not computed from them.
            offset: if len == 0 || self.shape.contains(&0) {
                self.offset
            } else {
                self.offset + start * self.strides[axis]
            },
        }
    }

    /// The same elements seen with a new shape, if possible without copying.
    ///
    /// Works whenever each run of old dimensions that is evenly strided maps onto a run
    /// of new dimensions of the same element count (always for contiguous data).
    /// The caller checks that the element counts agree.
    pub fn reshaped(&self, new_shape: &[usize]) -> Option<Self> {
        if self.is_contiguous() || self.numel() == 0 {
            return Some(Self {
                strides: Dims::contiguous_strides(new_shape),
                shape: Dims::from_slice(new_shape),
                offset: self.offset,
            });
        }
        // Walk old dims from the innermost, cutting them into chunks whose dims are evenly
        // strided; each chunk must be covered exactly by a run of new dims.
        let mut new_strides = vec![0usize; new_shape.len()];
        let mut view_d = new_shape.len();
        let mut chunk_stride = *self.strides.last()?;
        let (mut chunk_numel, mut view_numel) = (1usize, 1usize);
        for d in (0..self.rank()).rev() {
            chunk_numel *= self.shape[d];
            let chunk_ends = d == 0
                || (self.shape[d - 1] != 1 && self.strides[d - 1] != chunk_numel * chunk_stride);
            if !chunk_ends {
                continue;
            }
            while view_d > 0 && (view_numel < chunk_numel || new_shape[view_d - 1] == 1) {
                new_strides[view_d - 1] = view_numel * chunk_stride;
                view_numel *= new_shape[view_d - 1];
                view_d -= 1;
            }
            if view_numel != chunk_numel {
                return None;
            }
            if d > 0 {
                chunk_stride = self.strides[d - 1];
                chunk_numel = 1;
                view_numel = 1;
            }
        }
        if view_d != 0 {
            return None;
        }
        Some(Self {
            shape: Dims::from_slice(new_shape),
            strides: new_strides.into(),
            offset: self.offset,
        })
    }
}

/// Visits a strided N-operand iteration space as runs along its innermost dimension.
///
/// For each run, `f(len, starts, inner_strides)` is called, where operand `k`'s elements
/// of the run sit at `starts[k] + i * inner_strides[k]` for `i < len`. Dimensions of size
/// 1 are dropped and adjacent dimensions that are evenly strided in every operand are
/// merged first, so a contiguous tensor is a single long run whatever its rank.
pub(crate) fn for_each_run<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
    offsets: [usize; N],
    mut f: impl FnMut(usize, [usize; N], [usize; N]),
) {
    if shape.contains(&0) {
        return;
    }
    // (size, strides per operand), outermost first, size-1 dims dropped. Kept on the
    // stack for ranks up to 8: this runs once per element-wise op, tiny tensors included.
    const STACK_RANK: usize = 8;
    let mut on_stack = [(0usize, [0usize; N]); STACK_RANK];
    let mut on_heap = Vec::new();
    let dims: &mut [(usize, [usize; N])] = if shape.len() <= STACK_RANK {
        &mut on_stack[..]
    } else {
        on_heap.resize(shape.len(), (0usize, [0usize; N]));
        &mut on_heap[..]
    };
    let mut count = 0;
    for (i, &d) in shape.iter().enumerate() {
        if d == 1 {
            continue;
        }
        let s: [usize; N] = std::array::from_fn(|k| strides[k][i]);
        if count > 0 && (0..N).all(|k| dims[count - 1].1[k] == s[k] * d) {
            dims[count - 1].0 *= d;
            dims[count - 1].1 = s;
            continue;
        }
        dims[count] = (d, s);
        count += 1;
    }
    if count == 0 {
        f(1, offsets, [0; N]);
        return;
    }
    let (inner_len, inner_strides) = dims[count - 1];
    let outer = &dims[..count - 1];
    let mut index = [0usize; STACK_RANK];
    let mut index_heap = Vec::new();
    let index: &mut [usize] = if outer.len() <= STACK_RANK {
        &mut index[..]
    } else {
        index_heap.resize(outer.len(), 0);
        &mut index_heap[..]
    };
    let mut starts = offsets;
    loop {
        f(inner_len, starts, inner_strides);
        // Odometer increment over the outer dims.
        let mut level = outer.len();
        loop {
            if level == 0 {
                return;
            }
            level -= 1;
            index[level] += 1;
            for (k, start) in starts.iter_mut().enumerate() {
                *start += outer[level].1[k];
            }
            if index[level] < outer[level].0 {
                break;
            }
            for (k, start) in starts.iter_mut().enumerate() {
                *start -= outer[level].1[k] * outer[level].0;
            }
            index[level] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // Python-style negative ends look like empty Rust ranges: they are the point here.
    #[allow(clippy::reversed_empty_ranges)]
    fn python_ranges_resolve_as_list_slicing_does() {
        // (range, expected (start, len)) on an axis of 5, each checked against Python's
        // `list(range(5))[a:b]` by hand.
        assert_eq!(resolve_range(5, &(1..-1)), (1, 3)); // [1:-1] → 1, 2, 3
        assert_eq!(resolve_range(5, &(..=-1)), (0, 5)); // [:] through the last
        assert_eq!(resolve_range(5, &(1..=-2)), (1, 3)); // [1:-1]
        assert_eq!(resolve_range(5, &(-2..)), (3, 2)); // [-2:]
        assert_eq!(resolve_range(5, &(..=9)), (0, 5)); // clamped
        assert_eq!(resolve_range(5, &(-9..2)), (0, 2)); // clamped
        assert_eq!(resolve_range(5, &(3..1)), (3, 0)); // empty
        let excluded_start = (Bound::Excluded(-1), Bound::Unbounded);
        assert_eq!(resolve_range(5, &excluded_start), (5, 0)); // after the last: empty
        let excluded_start = (Bound::Excluded(-3), Bound::Unbounded);
        assert_eq!(resolve_range(5, &excluded_start), (3, 2));
    }

    #[test]
    fn broadcasting_rules() {
        assert_eq!(broadcast_shapes("t", &[3, 1], &[4]).unwrap(), vec![3, 4]);
        assert_eq!(broadcast_shapes("t", &[], &[2, 2]).unwrap(), vec![2, 2]);
        let err = broadcast_shapes("add", &[3, 2], &[3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "add: shape mismatch between [3, 2] and [3]"
        );
    }

    #[test]
    fn reshape_views() {
        let l = Layout::contiguous(&[2, 3, 4]);
        assert_eq!(l.reshaped(&[6, 4]).unwrap().strides(), &[4, 1]);
        // Transposed [3, 2] view of a [2, 3]: cannot flatten without a copy.
        let t = Layout::contiguous(&[2, 3]).permute("t", &[1, 0]).unwrap();
        assert!(t.reshaped(&[6]).is_none());
        assert_eq!(t.reshaped(&[3, 1, 2]).unwrap().strides(), &[1, 6, 3]);
        // Narrowed rows stay viewable when splitting an axis.
        let n = Layout::contiguous(&[4, 6]).narrow(1, 0, 4);
        let r = n.reshaped(&[4, 2, 2]).unwrap();
        assert_eq!(r.strides(), &[6, 2, 1]);
        assert!(n.reshaped(&[16]).is_none());
    }

    #[test]
    fn runs_merge_contiguous_dims() {
        let l = Layout::contiguous(&[2, 3, 4]);
        let mut runs = Vec::new();
        for_each_run(l.shape(), [l.strides()], [0], |len, s, st| {
            runs.push((len, s[0], st[0]))
        });
        assert_eq!(runs, vec![(24, 0, 1)]);
        let t = l.permute("t", &[0, 2, 1]).unwrap();
        let mut offsets = Vec::new();
        for_each_run(t.shape(), [t.strides()], [0], |len, s, st| {
            for i in 0..len {
                offsets.push(s[0] + i * st[0]);
            }
        });
        let expected: Vec<usize> = (0..2)
            .flat_map(|a| (0..4).flat_map(move |c| (0..3).map(move |b| a * 12 + b * 4 + c)))
            .collect();
        assert_eq!(offsets, expected);
    }
}
