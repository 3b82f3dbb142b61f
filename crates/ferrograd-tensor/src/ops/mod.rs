//! The tensor operations, one file per op or family, each holding the op's forward, its
//! backward and its kernels side by side: element-wise math ([`unary`], [`binary`]),
//! reductions, products, shapes and indexing, and the fused ops — [`softmax`]
//! (softmax, log-softmax, logsumexp), [`layer_norm`], [`rms_norm`],
//! [`cross_entropy`] (and NLL), [`loss`] (MSE, binary cross-entropy), [`embedding`],
//! [`dropout`]. This module holds the element-wise map kernels they share. Every loop
//! runs on the kernel floor of `ferrograd_linalg::cpu` (SIMD dispatch, partitioner,
//! lane reductions, thresholds).

pub mod attention;
pub mod binary;
pub mod compare;
pub mod cross_entropy;
pub mod dropout;
pub mod embedding;
pub mod index;
pub mod layer_norm;
pub mod loss;
pub mod matmul;
pub mod reduce;
pub mod rms_norm;
pub mod sample;
pub mod shape;
pub mod softmax;
pub mod sort;
pub mod unary;

use crate::layout::{Layout, for_each_run};
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::cpu::{partition, thresholds};
use ferrograd_linalg::{Scalar, simd_kernel};

simd_kernel! {
    /// `out[i] = f(x[i])`, compiled for the CPU's widest vectors.
    fn kernel1<T: Scalar, F: Fn(T) -> T>(out: &mut [T], x: &[T], f: &F) {
        for (o, &x) in out.iter_mut().zip(x) {
            *o = f(x);
        }
    }
}

simd_kernel! {
    /// `out[i] = f(a[i], b[i])`, compiled for the CPU's widest vectors.
    fn kernel2<T: Scalar, F: Fn(T, T) -> T>(out: &mut [T], a: &[T], b: &[T], f: &F) {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = f(x, y);
        }
    }
}

simd_kernel! {
    /// `out[i] = f(a[i], b[i], c[i])`, compiled for the CPU's widest vectors.
    fn kernel3<T: Scalar, F: Fn(T, T, T) -> T>(
        out: &mut [T],
        a: &[T],
        b: &[T],
        c: &[T],
        f: &F,
    ) {
        for (((o, &x), &y), &z) in out.iter_mut().zip(a).zip(b).zip(c) {
            *o = f(x, y, z);
        }
    }
}

/// Runs `body(block, shape, axis, first)` over the row-major output `out` of shape
/// `out_shape` in blocks of whole rows along `axis`, its first axis longer than 1: the
/// block holds rows `first..first + shape[axis]` of that axis and `shape` is `out_shape`
/// with that length. Above [`thresholds::ELEMENTWISE`] elements the blocks run on
/// several threads, so broadcast and strided element-wise ops (a bias added to every row,
/// a transposed copy) scale like contiguous ones; below it `body` sees the whole output.
fn outer_row_blocks<T: Send>(
    out: &mut [T],
    out_shape: &[usize],
    body: impl Fn(&mut [T], &[usize], usize, usize) + Sync,
) {
    let total = out.len();
    let Some(axis) = out_shape.iter().position(|&d| d > 1) else {
        return body(out, out_shape, 0, 0);
    };
    let row_len = total / out_shape[axis];
    partition::rows_mut(out, row_len, thresholds::ELEMENTWISE, |start, block| {
        if block.len() == total {
            return body(block, out_shape, axis, 0);
        }
        let mut shape = out_shape.to_vec();
        shape[axis] = block.len() / row_len;
        body(block, &shape, axis, start / row_len);
    });
}

/// The offset of row `first` along `axis` of a (broadcast) layout starting at `offset`.
fn row_offset(offset: usize, strides: &[usize], axis: usize, first: usize) -> usize {
    offset + first * strides.get(axis).copied().unwrap_or(0)
}

/// `f` applied to every element, in row-major order.
pub(crate) fn map1<T: Scalar>(x: &Tensor<T>, f: impl Fn(T) -> T + Sync) -> Vec<T> {
    let n = x.numel();
    let mut out = storage::take_buffer::<T>(n);
    if let Some(src) = x.as_slice() {
        partition::chunks_mut(&mut out, thresholds::ELEMENTWISE, |start, o| {
            kernel1(o, &src[start..start + o.len()], &f)
        });
        return out;
    }
    let layout = x.layout();
    let data = x.storage_data();
    let out_strides = crate::layout::contiguous_strides(layout.shape());
    outer_row_blocks(&mut out, layout.shape(), |out, shape, axis, first| {
        let start = row_offset(layout.offset(), layout.strides(), axis, first);
        for_each_run(
            shape,
            [&out_strides, layout.strides()],
            [0, start],
            |len, [o, s], [os, ss]| {
                for i in 0..len {
                    out[o + i * os] = f(data[s + i * ss]);
                }
            },
        );
    });
    out
}

/// `f(a, b)` for every element of the broadcast shape `out_shape` (already validated).
///
/// # Errors
/// [`TensorError::TooLarge`](crate::TensorError::TooLarge) naming `op` when the output
/// cannot be allocated (a broadcast of huge shapes).
pub(crate) fn map2<T: Scalar>(
    op: &'static str,
    a: &Tensor<T>,
    b: &Tensor<T>,
    out_shape: &[usize],
    f: impl Fn(T, T) -> T + Sync,
) -> crate::error::Result<Vec<T>> {
    let n = crate::tensor::checked_len(op, out_shape, size_of::<T>())?;
    let mut out = storage::try_take_buffer::<T>(op, out_shape, n)?;
    if a.shape() == out_shape
        && b.shape() == out_shape
        && let (Some(sa), Some(sb)) = (a.as_slice(), b.as_slice())
    {
        partition::chunks_mut(&mut out, thresholds::ELEMENTWISE, |start, o| {
            let range = start..start + o.len();
            kernel2(o, &sa[range.clone()], &sb[range], &f)
        });
        return Ok(out);
    }
    let la = a
        .layout()
        .broadcast_to("map2", out_shape)
        .expect("shape validated by caller");
    let lb = b
        .layout()
        .broadcast_to("map2", out_shape)
        .expect("shape validated by caller");
    let (da, db) = (a.storage_data(), b.storage_data());
    let out_strides = crate::layout::contiguous_strides(out_shape);
    outer_row_blocks(&mut out, out_shape, |out, shape, axis, first| {
        let starts = [
            0,
            row_offset(la.offset(), la.strides(), axis, first),
            row_offset(lb.offset(), lb.strides(), axis, first),
        ];
        for_each_run(
            shape,
            [&out_strides, la.strides(), lb.strides()],
            starts,
            |len, [o, s, t], [_, ss, ts]| {
                let run = &mut out[o..o + len];
                match (ss, ts) {
                    (1, 1) => kernel2(run, &da[s..s + len], &db[t..t + len], &f),
                    (1, 0) => {
                        let y = db[t];
                        kernel1(run, &da[s..s + len], &|x| f(x, y));
                    }
                    (0, 1) => {
                        let x = da[s];
                        kernel1(run, &db[t..t + len], &|y| f(x, y));
                    }
                    _ => {
                        for (i, o) in run.iter_mut().enumerate() {
                            *o = f(da[s + i * ss], db[t + i * ts]);
                        }
                    }
                }
            },
        );
    });
    Ok(out)
}

/// `f(a, b, c)` for every element of the broadcast shape `out_shape` (already validated).
///
/// # Errors
/// [`TensorError::TooLarge`](crate::TensorError::TooLarge) naming `op` when the output
/// cannot be allocated.
pub(crate) fn map3<T: Scalar>(
    op: &'static str,
    a: &Tensor<T>,
    b: &Tensor<T>,
    c: &Tensor<T>,
    out_shape: &[usize],
    f: impl Fn(T, T, T) -> T + Sync,
) -> crate::error::Result<Vec<T>> {
    let n = crate::tensor::checked_len(op, out_shape, size_of::<T>())?;
    let mut out = storage::try_take_buffer::<T>(op, out_shape, n)?;
    if a.shape() == out_shape
        && b.shape() == out_shape
        && c.shape() == out_shape
        && let (Some(sa), Some(sb), Some(sc)) = (a.as_slice(), b.as_slice(), c.as_slice())
    {
        partition::chunks_mut(&mut out, thresholds::ELEMENTWISE, |start, o| {
            let range = start..start + o.len();
            kernel3(o, &sa[range.clone()], &sb[range.clone()], &sc[range], &f)
        });
        return Ok(out);
    }
    let layouts: [Layout; 3] = [a, b, c].map(|t| {
        t.layout()
            .broadcast_to("map3", out_shape)
            .expect("shape validated by caller")
    });
    let (da, db, dc) = (a.storage_data(), b.storage_data(), c.storage_data());
    let out_strides = crate::layout::contiguous_strides(out_shape);
    outer_row_blocks(&mut out, out_shape, |out, shape, axis, first| {
        let start = |l: &Layout| row_offset(l.offset(), l.strides(), axis, first);
        for_each_run(
            shape,
            [
                &out_strides,
                layouts[0].strides(),
                layouts[1].strides(),
                layouts[2].strides(),
            ],
            [
                0,
                start(&layouts[0]),
                start(&layouts[1]),
                start(&layouts[2]),
            ],
            |len, [o, s, t, u], [_, ss, ts, us]| {
                if (ss, ts, us) == (1, 1, 1) {
                    let run = &mut out[o..o + len];
                    kernel3(run, &da[s..s + len], &db[t..t + len], &dc[u..u + len], &f);
                    return;
                }
                for i in 0..len {
                    out[o + i] = f(da[s + i * ss], db[t + i * ts], dc[u + i * us]);
                }
            },
        );
    });
    Ok(out)
}
