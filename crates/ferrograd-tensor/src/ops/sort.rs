//! Sorting along an axis: `sort`, `argsort` and `topk`, returning values with their ids.
//! Values are differentiable (the gradient flows back to the positions they came
//! from); ids are not.

use crate::autograd::BackwardOp;
use crate::error::{Result, TensorError, shape_of};
use crate::ids::IdTensor;
use crate::layout::normalize_axis;
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;
use std::cmp::Ordering;

/// Total order for sorting: NaN is the largest value, as in PyTorch's `sort`.
fn compare<T: Scalar>(a: T, b: T) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// The backward of picking `picks` (`k` per row) from the rows of a tensor whose last
/// axis is the sorted one: the gradient goes back to where each value came from.
struct PickBackward {
    picks: Vec<usize>,
    k: usize,
}

impl<T: Scalar> BackwardOp<T> for PickBackward {
    fn name(&self) -> &'static str {
        "sort"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let shape = inputs[0].shape();
        let size = shape.last().copied().unwrap_or(1);
        let g = grad.contiguous_data();
        let rows = self.picks.len() / self.k.max(1);
        let mut gx = storage::zeroed_buffer::<T>(inputs[0].numel());
        for r in 0..rows {
            for j in 0..self.k {
                gx[r * size + self.picks[r * self.k + j]] += g[r * self.k + j];
            }
        }
        Ok(vec![Some(Tensor::from_vec_unchecked(gx, shape))])
    }
}

impl<T: Scalar> Tensor<T> {
    /// Sorts `self` along `axis` into rows of (value, position), keeping the first `k`.
    fn sorted_rows(
        &self,
        op: &'static str,
        axis: isize,
        k: usize,
        descending: bool,
    ) -> Result<(Tensor<T>, IdTensor)> {
        let a = normalize_axis(op, axis, self.shape())?;
        let size = self.shape()[a];
        if k > size {
            return Err(TensorError::InvalidArgument {
                op,
                reason: format!(
                    "k = {k} is larger than axis {axis} of shape {}",
                    shape_of(self.shape())
                ),
            });
        }
        // The sorted axis last and dense, so each row is one slice; recorded, so the
        // values' gradient flows back through the move.
        let moved = self.transpose(a as isize, -1)?.contiguous();
        let data = moved.contiguous_data();
        let rows = data.len().checked_div(size).unwrap_or(0);
        let mut values = storage::take_buffer::<T>(rows * k);
        let mut picks = Vec::with_capacity(rows * k);
        let mut order: Vec<usize> = Vec::with_capacity(size);
        for r in 0..rows {
            let row = &data[r * size..(r + 1) * size];
            order.clear();
            order.extend(0..size);
            // Stable: equal values keep their original order, as `torch.sort(stable=True)`.
            if descending {
                order.sort_by(|&i, &j| compare(row[j], row[i]));
            } else {
                order.sort_by(|&i, &j| compare(row[i], row[j]));
            }
            for (j, &i) in order[..k].iter().enumerate() {
                values[r * k + j] = row[i];
                picks.push(i);
            }
        }
        let mut moved_shape = self.shape().to_vec();
        let last = moved_shape.len() - 1;
        moved_shape.swap(a, last);
        moved_shape[last] = k;
        let ids: Vec<i64> = picks.iter().map(|&i| i as i64).collect();
        let ids = IdTensor::new(ids, &moved_shape)?
            .transpose(a as isize, -1)?
            .contiguous();
        let op_record = PickBackward { picks, k };
        let values = Tensor::op_result(values, &moved_shape, &[&moved], op_record);
        let values = values.transpose(a as isize, -1)?.contiguous();
        Ok((values, ids))
    }

    /// Sorts along `axis` (`torch.sort(stable=True)`): the sorted values (differentiable)
    /// and the ids of where each came from. NaN sorts as the largest value.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let x = Tensor::<f32>::from([3.0, 1.0, 2.0]);
    /// let (values, ids) = x.sort(0, true)?;
    /// assert_eq!(values.to_vec(), [3.0, 2.0, 1.0]);
    /// assert_eq!(ids.to_vec(), [0, 2, 1]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range.
    pub fn sort(&self, axis: isize, descending: bool) -> Result<(Tensor<T>, IdTensor)> {
        let a = normalize_axis("sort", axis, self.shape())?;
        self.sorted_rows("sort", axis, self.shape()[a], descending)
    }

    /// The ids that sort `self` along `axis` (`torch.argsort(stable=True)`).
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range.
    pub fn argsort(&self, axis: isize, descending: bool) -> Result<IdTensor> {
        crate::no_grad(|| self.sort(axis, descending)).map(|(_, ids)| ids)
    }

    /// The `k` largest values along `axis`, largest first, and their ids (`torch.topk`
    /// with `sorted=True`); ties keep the lower position first.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let logits = Tensor::<f32>::from([[0.1, 2.0, -1.0, 2.0]]);
    /// let (values, ids) = logits.topk(2, -1)?;
    /// assert_eq!(values.to_vec(), [2.0, 2.0]);
    /// assert_eq!(ids.to_vec(), [1, 3]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`], or [`TensorError::InvalidArgument`] when `k` is
    /// larger than the axis.
    pub fn topk(&self, k: usize, axis: isize) -> Result<(Tensor<T>, IdTensor)> {
        self.sorted_rows("topk", axis, k, true)
    }
}
