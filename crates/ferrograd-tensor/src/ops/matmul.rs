//! Matrix products with `torch.matmul` semantics, on faer's kernels over strided views
//! of tensor storage: transposed operands are never copied.

use crate::autograd::BackwardOp;
use crate::error::{Result, TensorError, shape_of};
use crate::layout::broadcast_shapes;
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;
use ferrograd_linalg::kernel::{MatView, MatViewMut, gemm};

struct MatmulBackward;

impl<T: Scalar> BackwardOp<T> for MatmulBackward {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        // C = A B  =>  dA = dC Bᵀ, dB = Aᵀ dC (transposes are views). Batch axes that were
        // broadcast are summed away by the engine.
        let (a, b) = (&inputs[0], &inputs[1]);
        let ga = if a.requires_grad() {
            Some(grad.matmul_batched(&b.t()?)?)
        } else {
            None
        };
        let gb = if !b.requires_grad() {
            None
        } else if b.rank() == 2 && a.rank() > 2 {
            // A weight shared across a batch: one [k, M]·[M, n] product over all rows,
            // rather than a product per batch item summed afterwards.
            let k = a.shape()[a.rank() - 1];
            let n = grad.shape()[grad.rank() - 1];
            let rows = a.numel() / k.max(1);
            Some(
                a.reshape(&[rows, k])?
                    .t()?
                    .matmul_batched(&grad.reshape(&[rows, n])?)?,
            )
        } else {
            Some(a.t()?.matmul_batched(grad)?)
        };
        Ok(vec![ga, gb])
    }
}

impl<T: Scalar> Tensor<T> {
    /// Matrix product with `torch.matmul` semantics: 1-D·1-D is a dot product,
    /// matrix·vector and vector·matrix work, and `[..., m, k] × [..., k, n]` multiplies
    /// batches of matrices, broadcasting the batch axes.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let a = Tensor::<f32>::ones(&[4, 2, 3]);   // a batch of four 2x3 matrices
    /// let b = Tensor::<f32>::ones(&[3, 5]);      // broadcast over the batch
    /// assert_eq!(a.matmul(&b)?.shape(), &[4, 2, 5]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when inner dimensions differ or batch axes do not
    /// broadcast; [`TensorError::InvalidArgument`] for rank-0 operands.
    pub fn matmul(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        match (self.rank(), other.rank()) {
            (0, _) | (_, 0) => Err(TensorError::InvalidArgument {
                op: "matmul",
                reason: format!(
                    "both operands need at least one axis, got {} and {}",
                    shape_of(self.shape()),
                    shape_of(other.shape())
                ),
            }),
            (1, 1) => {
                self.check_inner(other, 0, 0)?;
                self.unsqueeze(0)?
                    .matmul_batched(&other.unsqueeze(1)?)?
                    .reshape(&[])
            }
            (1, _) => {
                self.check_inner(other, 0, other.rank() - 2)?;
                self.unsqueeze(0)?.matmul_batched(other)?.squeeze(-2)
            }
            (_, 1) => {
                self.check_inner(other, self.rank() - 1, 0)?;
                self.matmul_batched(&other.unsqueeze(1)?)?.squeeze(-1)
            }
            _ => self.matmul_batched(other),
        }
    }

    fn check_inner(&self, other: &Tensor<T>, self_axis: usize, other_axis: usize) -> Result<()> {
        if self.shape()[self_axis] != other.shape()[other_axis] {
            return Err(TensorError::ShapeMismatch {
                op: "matmul",
                lhs: shape_of(self.shape()),
                rhs: shape_of(other.shape()),
            });
        }
        Ok(())
    }

    /// `[..., m, k] × [..., k, n]` for operands of rank ≥ 2.
    pub(crate) fn matmul_batched(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        let (ra, rb) = (self.rank(), other.rank());
        let (m, k) = (self.shape()[ra - 2], self.shape()[ra - 1]);
        let (k2, n) = (other.shape()[rb - 2], other.shape()[rb - 1]);
        if k != k2 {
            return Err(TensorError::ShapeMismatch {
                op: "matmul",
                lhs: shape_of(self.shape()),
                rhs: shape_of(other.shape()),
            });
        }
        let batch = broadcast_shapes("matmul", &self.shape()[..ra - 2], &other.shape()[..rb - 2])
            .map_err(|_| TensorError::ShapeMismatch {
            op: "matmul",
            lhs: shape_of(self.shape()),
            rhs: shape_of(other.shape()),
        })?;
        let batch_count: usize = batch.iter().product();
        let mut out_shape = batch.clone();
        out_shape.extend([m, n]);
        let mut out = storage::take_buffer::<T>(batch_count * m * n);
        if k == 0 {
            out.fill(T::ZERO);
        } else if batch_count > 0 && m > 0 && n > 0 {
            self.gemm_into(other, &batch, (m, k, n), &mut out)?;
        }
        Ok(Tensor::op_result(
            out,
            &out_shape,
            &[self, other],
            MatmulBackward,
        ))
    }

    fn gemm_into(
        &self,
        other: &Tensor<T>,
        batch: &[usize],
        (m, k, n): (usize, usize, usize),
        out: &mut [T],
    ) -> Result<()> {
        let (a_data, b_data) = (self.storage_data(), other.storage_data());
        // Fast path: `[..., m, k] × [k, n]` whose left batch folds into the rows without a
        // copy (a Linear layer on a batch of sequences) is one large product.
        let rows = out.len() / n;
        if other.rank() == 2
            && let Some(flat) = self.layout().reshaped(&[rows, k])
        {
            let (rs, cs) = (flat.strides()[0], flat.strides()[1]);
            let lhs = MatView::new(a_data, flat.offset(), rows, k, rs as isize, cs as isize)?;
            let rhs = view_of_matrix(other, b_data, other.layout().offset(), k, n)?;
            gemm(
                MatViewMut::row_major(out, rows, n)?,
                lhs,
                rhs,
                T::ONE,
                false,
            )?;
            return Ok(());
        }
        let mut a_full = batch.to_vec();
        a_full.extend([m, k]);
        let mut b_full = batch.to_vec();
        b_full.extend([k, n]);
        let la = self.layout().broadcast_to("matmul", &a_full)?;
        let lb = other.layout().broadcast_to("matmul", &b_full)?;
        let nb = batch.len();
        let mut index = vec![0usize; nb];
        for chunk in out.chunks_mut(m * n) {
            let a_off = la.offset()
                + index
                    .iter()
                    .zip(la.strides())
                    .map(|(i, s)| i * s)
                    .sum::<usize>();
            let b_off = lb.offset()
                + index
                    .iter()
                    .zip(lb.strides())
                    .map(|(i, s)| i * s)
                    .sum::<usize>();
            let lhs = MatView::new(
                a_data,
                a_off,
                m,
                k,
                la.strides()[nb] as isize,
                la.strides()[nb + 1] as isize,
            )?;
            let rhs = MatView::new(
                b_data,
                b_off,
                k,
                n,
                lb.strides()[nb] as isize,
                lb.strides()[nb + 1] as isize,
            )?;
            gemm(MatViewMut::row_major(chunk, m, n)?, lhs, rhs, T::ONE, false)?;
            for axis in (0..nb).rev() {
                index[axis] += 1;
                if index[axis] < batch[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        Ok(())
    }
}

fn view_of_matrix<'a, T: Scalar>(
    t: &Tensor<T>,
    data: &'a [T],
    offset: usize,
    rows: usize,
    cols: usize,
) -> Result<MatView<'a, T>> {
    let s = t.strides();
    Ok(MatView::new(
        data,
        offset,
        rows,
        cols,
        s[0] as isize,
        s[1] as isize,
    )?)
}
