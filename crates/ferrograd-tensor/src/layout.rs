//! Shapes, strides and the strided iteration every kernel is built on.
//!
//! A tensor's elements live in a flat buffer; its [`Layout`] says where: element
//! `(i0, i1, …)` sits at `offset + Σ ik * strides[k]`. Views (transpose, broadcast with zero
//! strides, narrow, reshape of contiguous data) only change the layout.

use crate::error::{Result, TensorError, shape_of};

/// Shape, strides (in elements) and offset of a tensor into its storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    shape: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
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

/// Number of elements of a shape (1 for rank 0), or `None` on overflow.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
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

impl Layout {
    /// A dense row-major layout of `shape` at offset 0.
    pub fn contiguous(shape: &[usize]) -> Self {
        Self {
            strides: contiguous_strides(shape),
            shape: shape.to_vec(),
            offset: 0,
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

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when elements are stored densely in row-major order (size-1 dims ignored).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1usize;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d;
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
        let mut strides = vec![0; target.len()];
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
            shape: target.to_vec(),
            strides,
            offset: self.offset,
        })
    }

    /// Dimensions reordered: `perm[i]` is the source dimension of output dimension `i`.
    pub fn permute(&self, op: &'static str, perm: &[usize]) -> Result<Self> {
        let mut seen = vec![false; self.rank()];
        if perm.len() != self.rank()
            || perm
                .iter()
                .any(|&p| p >= self.rank() || std::mem::replace(&mut seen[p], true))
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
        Ok(Self {
            shape: perm.iter().map(|&p| self.shape[p]).collect(),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
        })
    }

    /// The sub-range `start..start + len` of `axis` (already normalised and checked).
    pub(crate) fn narrow(&self, axis: usize, start: usize, len: usize) -> Self {
        let mut shape = self.shape.clone();
        shape[axis] = len;
        Self {
            shape,
            strides: self.strides.clone(),
            offset: if len == 0 {
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
                strides: contiguous_strides(new_shape),
                shape: new_shape.to_vec(),
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
            shape: new_shape.to_vec(),
            strides: new_strides,
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
    // (size, strides per operand), outermost first, size-1 dims dropped.
    let mut dims: Vec<(usize, [usize; N])> = Vec::with_capacity(shape.len());
    for (i, &d) in shape.iter().enumerate() {
        if d == 1 {
            continue;
        }
        let s: [usize; N] = std::array::from_fn(|k| strides[k][i]);
        if let Some(last) = dims.last_mut()
            && (0..N).all(|k| last.1[k] == s[k] * d)
        {
            last.0 *= d;
            last.1 = s;
            continue;
        }
        dims.push((d, s));
    }
    let Some(&(inner_len, inner_strides)) = dims.last() else {
        f(1, offsets, [0; N]);
        return;
    };
    let outer = &dims[..dims.len() - 1];
    let mut index = vec![0usize; outer.len()];
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
