//! The embedding lookup, `torch.nn.functional.embedding`: rows of a table picked by ids,
//! with a scatter-add backward that skips the padding row.

use crate::autograd::BackwardOp;
use crate::error::{Result, TensorError, shape_of};
use crate::ids::IdTensor;
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;

struct EmbeddingBackward {
    /// Row of the table for each looked-up position, checked when the lookup ran.
    rows: Vec<usize>,
    padding_idx: Option<usize>,
}

impl<T: Scalar> BackwardOp<T> for EmbeddingBackward {
    fn name(&self) -> &'static str {
        "embedding"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let table = &inputs[0];
        let dim = table.shape()[1];
        let g = grad.contiguous_data();
        let mut gw = storage::zeroed_buffer::<T>(table.numel());
        if dim > 0 {
            for (&id, row) in self.rows.iter().zip(g.chunks_exact(dim)) {
                if self.padding_idx == Some(id) {
                    continue; // the padding row never receives a gradient
                }
                for (acc, &v) in gw[id * dim..(id + 1) * dim].iter_mut().zip(row) {
                    *acc += v;
                }
            }
        }
        Ok(vec![Some(Tensor::from_vec_unchecked(gw, table.shape()))])
    }
}

impl<T: Scalar> Tensor<T> {
    /// Looks up rows of this table (`[num_embeddings, dim]`) for `ids` of any shape,
    /// giving `ids.shape() ++ [dim]`: `torch.nn.functional.embedding(ids, table,
    /// padding_idx)`. Rows picked several times sum their gradients; the row
    /// `padding_idx` receives no gradient (its value is used as it is).
    ///
    /// ```
    /// use ferrograd_tensor::{IdTensor, Tensor};
    /// let table = Tensor::<f32>::from([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]]);
    /// let out = table.embedding(&IdTensor::new(vec![2, 1, 2], &[1, 3])?, None)?;
    /// assert_eq!(out.shape(), &[1, 3, 2]);
    /// assert_eq!(out.to_vec(), vec![3.0, 4.0, 1.0, 2.0, 3.0, 4.0]);
    /// let err = table.embedding(&IdTensor::from(vec![0, 3]), None).unwrap_err();
    /// assert_eq!(err.to_string(), "embedding: id 3 at position 1 is out of range 0..3");
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for a table that is not 2-D or a `padding_idx`
    /// past it, [`TensorError::IdOutOfRange`] naming the first id past the table and its
    /// position.
    pub fn embedding(&self, ids: &IdTensor, padding_idx: Option<usize>) -> Result<Tensor<T>> {
        const OP: &str = "embedding";
        if self.rank() != 2 {
            return Err(TensorError::InvalidArgument {
                op: OP,
                reason: format!(
                    "the table must have shape [num_embeddings, dim], got {}",
                    shape_of(self.shape())
                ),
            });
        }
        let (rows, dim) = (self.shape()[0], self.shape()[1]);
        if let Some(p) = padding_idx.filter(|&p| p >= rows) {
            return Err(TensorError::InvalidArgument {
                op: OP,
                reason: format!("padding_idx {p} must be below num_embeddings {rows}"),
            });
        }
        ids.check_ids(OP, rows, None)?;
        let positions: Vec<usize> = ids.contiguous_data().iter().map(|&i| i as usize).collect();
        let mut shape = ids.shape().to_vec();
        shape.push(dim);
        let len = crate::tensor::checked_len(OP, &shape, size_of::<T>())?;
        let table = self.contiguous_data();
        let mut out = storage::take_buffer::<T>(len);
        if dim > 0 {
            for (&id, row) in positions.iter().zip(out.chunks_exact_mut(dim)) {
                row.copy_from_slice(&table[id * dim..(id + 1) * dim]);
            }
        }
        drop(table);
        let op = EmbeddingBackward {
            rows: positions,
            padding_idx,
        };
        Ok(Tensor::op_result(out, &shape, &[self], op))
    }
}
