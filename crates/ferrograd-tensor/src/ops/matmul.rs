//! Matrix products with `torch.matmul` semantics, on faer's kernels over strided views
//! of tensor storage: transposed operands are never copied.

use crate::autograd::BackwardOp;
use crate::error::{Result, TensorError, shape_of};
use crate::layout::{Layout, broadcast_shapes};
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::cpu::lanes;
use ferrograd_linalg::cpu::{num_threads, partition, thresholds};
use ferrograd_linalg::kernel::{MatView, MatViewMut, gemm, parallel_threshold, use_parallel};
use ferrograd_linalg::{Scalar, simd_kernel};

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
        // broadcast are summed away by the engine. Each gradient is computed in the memory
        // order of its input: for an input that is a transposed view (a Linear layer's
        // `weightᵀ`), the product is formed transposed, so the gradient that reaches the
        // stored tensor is contiguous and the optimizer does not copy it element by element.
        let (a, b) = (&inputs[0], &inputs[1]);
        let ga = if !a.requires_grad() {
            None
        } else if is_transposed_contiguous(a) {
            // dAᵀ = B dCᵀ
            Some(b.matmul_batched(&grad.t()?)?.t()?)
        } else {
            Some(grad.matmul_batched(&b.t()?)?)
        };
        let gb = if !b.requires_grad() {
            None
        } else if b.rank() == 2 && a.rank() > 2 {
            // A weight shared across a batch: one [k, M]·[M, n] product over all rows,
            // rather than a product per batch item summed afterwards.
            let k = a.shape()[a.rank() - 1];
            let n = grad.shape()[grad.rank() - 1];
            // From the shape, not numel / k: with k = 0 that division says 0 rows.
            let rows: usize = a.shape()[..a.rank() - 1].iter().product();
            let (a2, g2) = (a.reshape(&[rows, k])?, grad.reshape(&[rows, n])?);
            Some(if is_transposed_contiguous(b) {
                g2.t()?.matmul_batched(&a2)?.t()?
            } else {
                a2.t()?.matmul_batched(&g2)?
            })
        } else if is_transposed_contiguous(b) && b.rank() == a.rank() {
            // dBᵀ = dCᵀ A
            Some(grad.t()?.matmul_batched(a)?.t()?)
        } else {
            Some(a.t()?.matmul_batched(grad)?)
        };
        Ok(vec![ga, gb])
    }
}

/// Backward of [`Tensor::matmul_add`]: the product's two gradients as for `matmul`, and the
/// output gradient for the bias, which the engine sums over the rows it was broadcast to.
struct MatmulAddBackward;

impl<T: Scalar> BackwardOp<T> for MatmulAddBackward {
    fn name(&self) -> &'static str {
        "matmul_add"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        output: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let mut grads = MatmulBackward.backward(&inputs[..2], output, grad)?;
        grads.push(inputs[2].requires_grad().then(|| grad.clone()));
        Ok(grads)
    }
}

impl<T: Scalar> Tensor<T> {
    /// `self · other + bias`, the bias broadcast over the product's rows: the output of
    /// `self.matmul(other)?.add(bias)` in one op, as `torch.addmm` (or a Linear layer's
    /// `x·Wᵀ + b`) forms it.
    ///
    /// When `other` is a matrix `[k, n]`, `bias` a vector `[n]` and `self` (`[..., k]`, at
    /// least two rows) folds its batch into rows, the output is first filled with the bias
    /// and the product is then added into it: one pass over the output and one buffer
    /// fewer than the two ops. Any other case runs those two ops. Each element is then
    /// `bias + dot` rather than `dot + bias`: the kernel may fold that addition into its
    /// last fused multiply-add (one rounding fewer), and where it sums a long inner
    /// dimension in pieces the bias joins the first, so the last bit can differ from the
    /// two ops'. Gradients are the two ops' exactly and flow to all three inputs.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
    /// let w_t = Tensor::<f32>::from_vec(vec![1.0, 0.0, 0.0, 2.0], &[2, 2])?;
    /// let b = Tensor::<f32>::from_vec(vec![0.5, -0.5], &[2])?;
    /// assert_eq!(x.matmul_add(&w_t, &b)?.to_vec(), vec![1.5, 3.5, 3.5, 7.5]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::matmul`] and [`Tensor::add`]: [`TensorError::ShapeMismatch`] when the
    /// inner dimensions differ or the bias does not broadcast to the product.
    pub fn matmul_add(&self, other: &Tensor<T>, bias: &Tensor<T>) -> Result<Tensor<T>> {
        let composed = || self.matmul(other)?.add(bias);
        if other.rank() != 2 || self.rank() < 2 || bias.rank() != 1 {
            return composed();
        }
        let (k, n) = (other.shape()[0], other.shape()[1]);
        let rows: usize = self.shape()[..self.rank() - 1].iter().product();
        // One row goes to `matmul`'s vector path; empty products have nothing to fuse.
        if self.shape()[self.rank() - 1] != k || bias.shape() != [n] || rows < 2 || k == 0 || n == 0
        {
            return composed();
        }
        let Some(flat) = self.layout().reshaped(&[rows, k]) else {
            return composed();
        };
        let mut out_shape = self.shape()[..self.rank() - 1].to_vec();
        out_shape.push(n);
        let len = crate::tensor::checked_len("matmul_add", &out_shape, size_of::<T>())?;
        let bias_data = bias.contiguous_data();
        let mut out = storage::take_buffer::<T>(len);
        partition::rows_mut(&mut out, n, thresholds::ELEMENTWISE, |_, block| {
            for row in block.chunks_exact_mut(n) {
                row.copy_from_slice(&bias_data);
            }
        });
        self.folded_product(&flat, other, (rows, k, n), &mut out, true)?;
        Ok(Tensor::op_result(
            out,
            &out_shape,
            &[self, other, bias],
            MatmulAddBackward,
        ))
    }

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
        let mut out_shape = batch.clone();
        out_shape.extend([m, n]);
        // Checked: broadcast views can describe products of any size.
        let len = crate::tensor::checked_len("matmul", &out_shape, size_of::<T>())?;
        let batch_count: usize = batch.iter().product();
        let mut out = storage::take_buffer::<T>(len);
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

    /// `out (+)= self · other` as one product: `self` viewed through `flat`, its batch
    /// folded into `rows` (no copy), `other` a `[k, n]` matrix, `out` a row-major
    /// `[rows, n]`. `accumulate` adds into `out` instead of overwriting it. The fast path
    /// of [`Tensor::matmul`] and the whole of [`Tensor::matmul_add`].
    fn folded_product(
        &self,
        flat: &Layout,
        other: &Tensor<T>,
        (rows, k, n): (usize, usize, usize),
        out: &mut [T],
        accumulate: bool,
    ) -> Result<()> {
        let (rs, cs) = (flat.strides()[0] as isize, flat.strides()[1] as isize);
        let lhs = MatView::new(self.storage_data(), flat.offset(), rows, k, rs, cs)?;
        let rhs = view_of_matrix(other, other.storage_data(), other.layout().offset(), k, n)?;
        gemm(
            MatViewMut::row_major(out, rows, n)?,
            lhs,
            rhs,
            T::ONE,
            accumulate,
        )?;
        Ok(())
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
            let cs = flat.strides()[1];
            if rows == 1
                && vector_matrix(other, b_data, (k, n), out, |i| {
                    a_data[flat.offset() + i * cs]
                })
            {
                return Ok(());
            }
            return self.folded_product(&flat, other, (rows, k, n), out, false);
        }
        let mut a_full = batch.to_vec();
        a_full.extend([m, k]);
        let mut b_full = batch.to_vec();
        b_full.extend([k, n]);
        let la = self.layout().broadcast_to("matmul", &a_full)?;
        let lb = other.layout().broadcast_to("matmul", &b_full)?;
        let nb = batch.len();
        let (a_rs, a_cs) = (la.strides()[nb] as isize, la.strides()[nb + 1] as isize);
        let (b_rs, b_cs) = (lb.strides()[nb] as isize, lb.strides()[nb + 1] as isize);
        // The offsets of batch item `item` in each operand (row-major batch index).
        let offsets = |mut item: usize| {
            let (mut a_off, mut b_off) = (la.offset(), lb.offset());
            for axis in (0..nb).rev() {
                let i = item % batch[axis];
                item /= batch[axis];
                a_off += i * la.strides()[axis];
                b_off += i * lb.strides()[axis];
            }
            (a_off, b_off)
        };
        let product = |(item, chunk): (usize, &mut [T])| -> Result<()> {
            let (a_off, b_off) = offsets(item);
            let lhs = MatView::new(a_data, a_off, m, k, a_rs, a_cs)?;
            let rhs = MatView::new(b_data, b_off, k, n, b_rs, b_cs)?;
            gemm(MatViewMut::row_major(chunk, m, n)?, lhs, rhs, T::ONE, false)?;
            Ok(())
        };
        let count = out.len() / (m * n);
        // Many small products (attention heads): one thread per group of products, when
        // each product alone is too small for faer's own parallel mode.
        let work = count.saturating_mul(m * n).saturating_mul(k);
        if num_threads() > 1
            && count > 1
            && !use_parallel::<T>(m, n, k)
            && work >= parallel_threshold::<T>()
        {
            let first_error = std::sync::Mutex::new(None);
            let per = partition::row_blocks(count, m * n, 0);
            partition::chunks_of_mut(out, per * m * n, |start, block| {
                let first = start / (m * n);
                for (i, chunk) in block.chunks_mut(m * n).enumerate() {
                    if let Err(e) = product((first + i, chunk)) {
                        first_error
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                        return;
                    }
                }
            });
            match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
                Some(e) => Err(e),
                None => Ok(()),
            }
        } else {
            out.chunks_mut(m * n).enumerate().try_for_each(product)
        }
    }
}

simd_kernel! {
    /// `out = Σᵢ x[i]·B[i, col0..col0 + out.len()]` for a row-major `B` (row stride
    /// `stride`): rows of `B` streamed once, in order, eight at a time added across the
    /// whole output block (which stays in L1). Every output element sums over `i` in
    /// order, four terms at a time, so the bits do not depend on the vector width or the
    /// thread count.
    fn vecmat_rows<T: Scalar>(out: &mut [T], x: &[T], b: &[T], stride: usize, col0: usize) {
        out.fill(T::ZERO);
        let len = out.len();
        let row = |i: usize| &b[i * stride + col0..i * stride + col0 + len];
        // Eight rows per pass over the output (an eighth of its loads and stores): eight
        // streams of weights in flight read memory ~18% faster than four (GPT-2 124M's
        // block weights: 22 against 19 GB/s on one Zen 4 core). The sum is the same as
        // two passes of four: `o + (4 terms) + (4 terms)`.
        let octets = x.len() / 8;
        for e in 0..octets {
            let i = 8 * e;
            let xs: [T; 8] = std::array::from_fn(|k| x[i + k]);
            let rs: [&[T]; 8] = std::array::from_fn(|k| row(i + k));
            for (j, o) in out.iter_mut().enumerate() {
                let mut acc = *o;
                acc += xs[0] * rs[0][j] + xs[1] * rs[1][j] + xs[2] * rs[2][j] + xs[3] * rs[3][j];
                acc += xs[4] * rs[4][j] + xs[5] * rs[5][j] + xs[6] * rs[6][j] + xs[7] * rs[7][j];
                *o = acc;
            }
        }
        // Then four rows per pass, then single rows.
        let quads = x.len() / 4;
        for q in 2 * octets..quads {
            let i = 4 * q;
            let (x0, x1, x2, x3) = (x[i], x[i + 1], x[i + 2], x[i + 3]);
            let (r0, r1, r2, r3) = (row(i), row(i + 1), row(i + 2), row(i + 3));
            for ((((o, &w0), &w1), &w2), &w3) in out.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
                *o += x0 * w0 + x1 * w1 + x2 * w2 + x3 * w3;
            }
        }
        for (i, &xi) in x.iter().enumerate().skip(4 * quads) {
            for (o, &w) in out.iter_mut().zip(row(i)) {
                *o += xi * w;
            }
        }
    }
}

simd_kernel! {
    /// `out[j] = x · W[col0 + j, ..]` for a row-major `W` (row stride `stride`), i.e. the
    /// product with `Wᵀ` (a Linear layer's or a tied head's transposed weight): one dot
    /// product per output in fixed lanes ([`lanes::dot`]).
    fn vecmat_cols<T: Scalar>(out: &mut [T], x: &[T], w: &[T], stride: usize, col0: usize) {
        let k = x.len();
        for (j, o) in out.iter_mut().enumerate() {
            let start = (col0 + j) * stride;
            *o = lanes::dot(x, &w[start..start + k]);
        }
    }
}

/// A product below this many multiply-adds stays on one thread.
const VECMAT_PARALLEL: usize = 1 << 16;

/// `out [n] = x [k] · B [k, n]` for one row (a token at a time: generation with a key-value
/// cache) when `B` is a row-major matrix or the transpose of one, without faer: its
/// matrix-vector path ran at AVX2 width and well below memory bandwidth (63% of a
/// 124M-parameter GPT-2's generation time). `x(i)` reads the row. Returns false (nothing
/// written) for other layouts.
fn vector_matrix<T: Scalar>(
    b: &Tensor<T>,
    b_data: &[T],
    (k, n): (usize, usize),
    out: &mut [T],
    x: impl Fn(usize) -> T,
) -> bool {
    let (s, offset) = (b.strides(), b.layout().offset());
    let (rs, cs) = (s[0], s[1]);
    let row_major = cs == 1 && rs >= n;
    let transposed = rs == 1 && cs >= k;
    if !(row_major || transposed) || k == 0 || n == 0 {
        return false;
    }
    let x: Vec<T> = (0..k).map(x).collect();
    let data = &b_data[offset..];
    let run = |start: usize, chunk: &mut [T]| {
        if row_major {
            vecmat_rows(chunk, &x, data, rs, start);
        } else {
            vecmat_cols(chunk, &x, data, cs, start);
        }
    };
    let threads = num_threads();
    if threads > 1 && n.saturating_mul(k) >= VECMAT_PARALLEL && n >= 2 * 64 {
        // Blocks of whole 64-element groups, one per thread.
        let piece = n.div_ceil(threads).div_ceil(64) * 64;
        partition::chunks_of_mut(out, piece, run);
    } else {
        run(0, out);
    }
    true
}

/// Whether the last two axes of `t` are a transposed view of a contiguous matrix (strides
/// `[1, rows]`), with every batch axis laid out contiguously around them.
fn is_transposed_contiguous<T: Scalar>(t: &Tensor<T>) -> bool {
    let r = t.rank();
    if r < 2 {
        return false;
    }
    let (shape, strides) = (t.shape(), t.strides());
    let (rows, cols) = (shape[r - 2], shape[r - 1]);
    if rows < 2 || cols < 2 || strides[r - 2] != 1 || strides[r - 1] != rows {
        return false;
    }
    let mut expected = rows * cols;
    for axis in (0..r - 2).rev() {
        if shape[axis] > 1 && strides[axis] != expected {
            return false;
        }
        expected *= shape[axis];
    }
    true
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

#[cfg(test)]
mod tests {
    use crate::tensor::Tensor;

    /// `x · B` by a plain f64 loop over the values, the reference for the one-row path.
    fn naive(x: &[f32], b: &[f32], (k, n): (usize, usize)) -> Vec<f64> {
        (0..n)
            .map(|j| {
                (0..k)
                    .map(|i| f64::from(x[i]) * f64::from(b[i * n + j]))
                    .sum()
            })
            .collect()
    }

    #[test]
    fn one_row_products_match_a_plain_loop_for_both_layouts_and_thread_counts() {
        let before = ferrograd_linalg::cpu::num_threads();
        for threads in [1, 2] {
            ferrograd_linalg::cpu::set_num_threads(threads);
            // Small, odd and large enough to run on two threads (n·k ≥ 2^16).
            for (k, n) in [(1, 1), (3, 5), (37, 130), (300, 520)] {
                let x: Vec<f32> = (0..k).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.25).collect();
                let b: Vec<f32> = (0..k * n)
                    .map(|i| ((i * 13 % 17) as f32 - 8.0) * 0.125)
                    .collect();
                let expected = naive(&x, &b, (k, n));
                let xt = Tensor::from_vec(x.clone(), &[1, 1, k]).unwrap();
                let row_major = Tensor::from_vec(b.clone(), &[k, n]).unwrap();
                // The same matrix as the transpose of a contiguous [n, k] one.
                let bt: Vec<f32> = (0..n * k).map(|p| b[(p % k) * n + p / k]).collect();
                let transposed = Tensor::from_vec(bt, &[n, k]).unwrap().t().unwrap();
                for (name, m) in [("row-major", &row_major), ("transposed", &transposed)] {
                    let y = xt.matmul(m).unwrap();
                    assert_eq!(y.shape(), &[1, 1, n]);
                    for (j, (&got, want)) in y.to_vec().iter().zip(&expected).enumerate() {
                        // Inputs are multiples of 1/32 and 1/128 with small numerators:
                        // every product and partial sum is exact in f32.
                        assert_eq!(
                            f64::from(got),
                            *want,
                            "{name} k {k} n {n} j {j} threads {threads}"
                        );
                    }
                }
            }
        }
        ferrograd_linalg::cpu::set_num_threads(before);
    }
}
