//! The tensor operations, one file per family, each op's forward and backward side by
//! side. This module holds the element-wise kernels they share.

pub mod binary;
pub mod compare;
pub mod index;
pub mod matmul;
pub mod reduce;
pub mod sample;
pub mod shape;
pub mod softmax;
pub mod sort;
pub mod unary;

use crate::layout::{Layout, for_each_run};
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::{Scalar, num_threads, simd_kernel};

/// Element counts from which element-wise kernels split work across threads. Below it,
/// waking a second thread (~15 µs here) costs more than the loop.
pub(crate) const PARALLEL_MIN_ELEMENTS: usize = 1 << 17;

/// Runs `body(start, chunk)` for consecutive chunks of `out` of `grain` elements (the last
/// may be shorter) on ferrograd's worker pool ([`ferrograd_linalg::pool`]), the calling
/// thread included.
pub(crate) fn par_chunks_mut<T: Scalar>(
    out: &mut [T],
    grain: usize,
    body: impl Fn(usize, &mut [T]) + Sync,
) {
    /// The output's base pointer, shared by the tasks (each takes a disjoint chunk).
    struct Base<T>(*mut T);
    // SAFETY: tasks only form disjoint sub-slices from it (see below).
    unsafe impl<T: Send> Sync for Base<T> {}
    impl<T> Base<T> {
        fn get(&self) -> *mut T {
            self.0
        }
    }
    let len = out.len();
    let grain = grain.max(1);
    let base = Base(out.as_mut_ptr());
    ferrograd_linalg::pool::run(len.div_ceil(grain), &|task| {
        let start = task * grain;
        let end = (start + grain).min(len);
        // SAFETY: `start..end` lies inside `out`, chunks of different tasks do not
        // overlap, and `out` stays mutably borrowed until `run` returns.
        let chunk = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), end - start) };
        body(start, chunk);
    });
}

/// [`par_chunks_mut`] in blocks of whole rows of `row_len` elements, about four blocks per
/// thread (so a thread that starts late leaves little for the others to wait on).
pub(crate) fn par_rows<T: Scalar>(
    out: &mut [T],
    row_len: usize,
    body: impl Fn(usize, &mut [T]) + Sync,
) {
    let rows = out.len() / row_len.max(1);
    let rows_per_block = rows.div_ceil(num_threads() * 4).max(1);
    par_chunks_mut(out, row_len.max(1) * rows_per_block, body);
}

fn parallel_grain(n: usize) -> Option<usize> {
    let threads = num_threads();
    (threads > 1 && n >= PARALLEL_MIN_ELEMENTS).then(|| n.div_ceil(threads).max(1 << 14))
}

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

/// `f` applied to every element, in row-major order.
pub(crate) fn map1<T: Scalar>(x: &Tensor<T>, f: impl Fn(T) -> T + Sync) -> Vec<T> {
    let n = x.numel();
    let mut out = storage::take_buffer::<T>(n);
    if let Some(src) = x.as_slice() {
        match parallel_grain(n) {
            Some(grain) => par_chunks_mut(&mut out, grain, |start, o| {
                kernel1(o, &src[start..start + o.len()], &f)
            }),
            None => kernel1(&mut out, src, &f),
        }
        return out;
    }
    let layout = x.layout();
    let data = x.storage_data();
    let out_strides = crate::layout::contiguous_strides(layout.shape());
    for_each_run(
        layout.shape(),
        [&out_strides, layout.strides()],
        [0, layout.offset()],
        |len, [o, s], [os, ss]| {
            for i in 0..len {
                out[o + i * os] = f(data[s + i * ss]);
            }
        },
    );
    out
}

/// `f(a, b)` for every element of the broadcast shape `out_shape` (already validated).
pub(crate) fn map2<T: Scalar>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    out_shape: &[usize],
    f: impl Fn(T, T) -> T + Sync,
) -> Vec<T> {
    let n: usize = out_shape.iter().product();
    let mut out = storage::take_buffer::<T>(n);
    if a.shape() == out_shape
        && b.shape() == out_shape
        && let (Some(sa), Some(sb)) = (a.as_slice(), b.as_slice())
    {
        match parallel_grain(n) {
            Some(grain) => par_chunks_mut(&mut out, grain, |start, o| {
                let range = start..start + o.len();
                kernel2(o, &sa[range.clone()], &sb[range], &f)
            }),
            None => kernel2(&mut out, sa, sb, &f),
        }
        return out;
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
    for_each_run(
        out_shape,
        [&out_strides, la.strides(), lb.strides()],
        [0, la.offset(), lb.offset()],
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
    out
}

/// `f(a, b, c)` for every element of the broadcast shape `out_shape` (already validated).
pub(crate) fn map3<T: Scalar>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    c: &Tensor<T>,
    out_shape: &[usize],
    f: impl Fn(T, T, T) -> T + Sync,
) -> Vec<T> {
    let n: usize = out_shape.iter().product();
    let mut out = storage::take_buffer::<T>(n);
    if a.shape() == out_shape
        && b.shape() == out_shape
        && c.shape() == out_shape
        && let (Some(sa), Some(sb), Some(sc)) = (a.as_slice(), b.as_slice(), c.as_slice())
    {
        match parallel_grain(n) {
            Some(grain) => par_chunks_mut(&mut out, grain, |start, o| {
                let range = start..start + o.len();
                kernel3(o, &sa[range.clone()], &sb[range.clone()], &sc[range], &f)
            }),
            None => kernel3(&mut out, sa, sb, sc, &f),
        }
        return out;
    }
    let layouts: [Layout; 3] = [a, b, c].map(|t| {
        t.layout()
            .broadcast_to("map3", out_shape)
            .expect("shape validated by caller")
    });
    let (da, db, dc) = (a.storage_data(), b.storage_data(), c.storage_data());
    let out_strides = crate::layout::contiguous_strides(out_shape);
    for_each_run(
        out_shape,
        [
            &out_strides,
            layouts[0].strides(),
            layouts[1].strides(),
            layouts[2].strides(),
        ],
        [
            0,
            layouts[0].offset(),
            layouts[1].offset(),
            layouts[2].offset(),
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
    out
}
