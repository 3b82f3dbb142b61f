//! Fused scaled dot-product attention, `softmax(Q Kᵀ · scale + mask) V`, with its own
//! backward: the fast path of every attention layer (the book's §4.2 and §4.5, GPT-2's).
//!
//! Per batch item and head, the queries are taken in blocks of [`BLOCK_Q`] rows: the block's
//! scores against the keys it may see (`[BLOCK_Q, T_k]`, one matrix product), the causal
//! and padding masks, the softmax and the product with the values are done before the
//! next block starts. The full `[T_q, T_k]` matrix of scores or weights is never held,
//! so memory stays linear in the context length; with a causal mask, a block stops at the
//! last key its last query may see, which skips about half the work of the full product.
//! Only the log-sum-exp of each query row (one number) is kept for backward, which
//! recomputes the weights block by block (as FlashAttention does). When the score products
//! run on `ferrograd_linalg::kernel::gemm`'s small-product kernel (`f32` on AVX-512, short
//! contexts), each head's keys (and, in backward, its values) are first transposed to
//! `[D, T_k]` once, so that `Q·Kᵀ` and `dO·Vᵀ` read contiguous rows; the kernel would
//! otherwise copy a transposed view once per query block.
//!
//! Layout: `q [B, H, T_q, D]`, `k [B, H, T_k, D]`, `v [B, H, T_k, D_v]`, any strides (views
//! of a `[B, T, H·D]` projection or of a KV cache need no copy; a last axis that is not
//! contiguous is copied once). The output has shape `[B, H, T_q, D_v]` and is stored as
//! `[B, T_q, H, D_v]`, so `output.transpose(1, 2)?.reshape(&[B, T_q, H * D_v])` is a view:
//! the heads come out concatenated for the output projection without a copy. The
//! gradients of `q`, `k` and `v` come out in that same `[B, T, H, D]` order, so the views
//! that produced them from `[B, T, H·D]` tensors pass them on without copying either.
//!
//! Masks: with [`AttentionOptions::causal`], query `i` sees key `j` when
//! `j <= query_offset + i`; the offset defaults to `T_k - T_q` (the queries are the last
//! `T_q` positions, as when a KV cache holds the earlier ones). A key padding mask
//! `[B, T_k]` (non-zero = a real token) hides padded keys. A query that sees no key at
//! all (a pad at the front of a left-padded row) gets an output of zero and no gradient,
//! where the composed ops would give NaN.

use crate::autograd::BackwardOp;
use crate::error::{Result, TensorError, shape_of};
use crate::ids::IdTensor;
use crate::layout::Layout;
use crate::storage::{self, Storage};
use crate::tensor::checked_len;
use crate::tensor::{GradState, Tensor};
use ferrograd_linalg::cpu::lanes;
use ferrograd_linalg::kernel::{MatView, MatViewMut, gemm, uses_small_kernel};
use ferrograd_linalg::{Scalar, num_threads, pool, simd_kernel};
use std::sync::{Arc, Mutex};

/// Query rows per block: the scores of one block against its keys are one
/// `[BLOCK_Q, T_k]` buffer. 32 rows keep a block's causal trimming fine (a causal
/// attention over 128 positions does 5/8 of the full product's work) while each block's
/// products stay large enough for the matrix kernel.
pub const BLOCK_Q: usize = 32;

/// Work (`B·H·T_q·T_k·(D + D_v)` multiply-adds) from which the heads are spread over the
/// worker pool; below it one thread is faster than waking another.
const PARALLEL_MIN_WORK: usize = 1 << 17;

/// How [`Tensor::scaled_dot_product_attention`] masks and scales.
///
/// ```
/// use ferrograd_tensor::{AttentionOptions, IdTensor};
/// let causal = AttentionOptions::causal();
/// let padded = AttentionOptions::causal().with_key_padding_mask(&IdTensor::from([[1, 1, 0]]));
/// assert!(causal.is_causal() && padded.key_padding_mask().is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct AttentionOptions {
    causal: bool,
    scale: Option<f64>,
    key_padding_mask: Option<IdTensor>,
    query_offset: Option<usize>,
}

impl AttentionOptions {
    /// Every query sees every key; scale `1/√D`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Query `i` sees keys `0..=query_offset + i` (the book's causal mask when `T_q = T_k`).
    pub fn causal() -> Self {
        Self {
            causal: true,
            ..Self::default()
        }
    }

    /// Turns the causal mask on or off.
    pub fn with_causal(mut self, causal: bool) -> Self {
        self.causal = causal;
        self
    }

    /// The factor applied to the scores (default `1/√D`, the book's `1/√d_h`).
    pub fn with_scale(mut self, scale: f64) -> Self {
        self.scale = Some(scale);
        self
    }

    /// Hides padded keys: `mask [B, T_k]`, non-zero for a real token, zero for padding.
    pub fn with_key_padding_mask(mut self, mask: &IdTensor) -> Self {
        self.key_padding_mask = Some(mask.clone());
        self
    }

    /// The position of the first query among the keys for the causal mask (default
    /// `T_k - T_q`: the queries are the last positions).
    pub fn with_query_offset(mut self, offset: usize) -> Self {
        self.query_offset = Some(offset);
        self
    }

    /// Whether the causal mask is on.
    pub fn is_causal(&self) -> bool {
        self.causal
    }

    /// The scale, if one was set.
    pub fn scale(&self) -> Option<f64> {
        self.scale
    }

    /// The key padding mask, if one was set.
    pub fn key_padding_mask(&self) -> Option<&IdTensor> {
        self.key_padding_mask.as_ref()
    }

    /// The query offset, if one was set.
    pub fn query_offset(&self) -> Option<usize> {
        self.query_offset
    }
}

/// Sizes of one attention call.
#[derive(Debug, Clone, Copy)]
struct Geom {
    batch: usize,
    heads: usize,
    tq: usize,
    tk: usize,
    dk: usize,
    dv: usize,
    causal: bool,
    offset: usize,
}

impl Geom {
    /// Number of keys query `i` may see (before padding): keys `0..visible(i)`.
    fn visible(&self, i: usize) -> usize {
        if self.causal {
            self.offset.saturating_add(i + 1).min(self.tk)
        } else {
            self.tk
        }
    }
}

/// Where the rows of one `[B, H, T, D]` operand live: element `(b, h, t, d)` is at
/// `offset + b·batch + h·head + t·time + d`.
#[derive(Debug, Clone, Copy)]
struct Rows {
    offset: usize,
    batch: usize,
    head: usize,
    time: usize,
}

impl Rows {
    /// The row geometry of a rank-4 tensor whose last axis is contiguous.
    fn of<T: Scalar>(t: &Tensor<T>) -> Self {
        let s = t.strides();
        Rows {
            offset: t.layout().offset(),
            batch: s[0],
            head: s[1],
            time: s[2],
        }
    }

    /// The `[B, T, H, D]` storage order of a `[B, H, T, D]` result.
    fn heads_inner(heads: usize, time: usize, dim: usize) -> Self {
        Rows {
            offset: 0,
            batch: time * heads * dim,
            head: dim,
            time: heads * dim,
        }
    }

    fn base(&self, b: usize, h: usize) -> usize {
        self.offset + b * self.batch + h * self.head
    }
}

/// A tensor of shape `[B, H, T, D]` stored as `[B, T, H, D]`.
fn heads_inner_tensor<T: Scalar>(
    data: Vec<T>,
    b: usize,
    h: usize,
    t: usize,
    d: usize,
) -> Tensor<T> {
    let layout = Layout::from_parts(&[b, h, t, d], &[t * h * d, d, h * d, 1], 0);
    Tensor::from_storage(Arc::new(Storage::new(data)), layout, GradState::None)
}

/// A mutable buffer shared by the tasks of one job, each writing elements no other task
/// touches.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);

// SAFETY: tasks write disjoint elements (documented at each use); the buffer outlives the
// job because `pool::run` returns only when every task is done.
unsafe impl<T: Send> Send for Shared<T> {}
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn new(data: &mut [T]) -> Self {
        Shared(data.as_mut_ptr())
    }

    /// # Safety
    /// `start..start + len` must lie in the buffer and no other live slice may overlap it.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice(&self, start: usize, len: usize) -> &mut [T] {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}

/// The padding flags of batch row `b` (true = a real key), or `None` without a mask.
fn pad_row(pad: &[bool], b: usize, tk: usize) -> Option<&[bool]> {
    (!pad.is_empty()).then(|| &pad[b * tk..(b + 1) * tk])
}

/// Runs `body(item, scratch)` for every `(batch, head)` item, on the worker pool when the
/// work is large enough; returns the first error.
fn for_items<S: Send>(
    g: &Geom,
    make_scratch: impl Fn() -> S + Sync,
    body: impl Fn(usize, &mut S) -> Result<()> + Sync,
) -> Result<()> {
    let items = g.batch * g.heads;
    let work = items
        .saturating_mul(g.tq)
        .saturating_mul(g.tk)
        .saturating_mul(g.dk + g.dv);
    let threads = num_threads();
    if threads <= 1 || items <= 1 || work < PARALLEL_MIN_WORK {
        let mut scratch = make_scratch();
        return (0..items).try_for_each(|item| body(item, &mut scratch));
    }
    let tasks = items.min(threads * 4);
    let per = items.div_ceil(tasks);
    let first_error = Mutex::new(None);
    pool::run(items.div_ceil(per), &|task| {
        let mut scratch = make_scratch();
        for item in task * per..((task + 1) * per).min(items) {
            if let Err(e) = body(item, &mut scratch) {
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
}

/// `dst = alpha · lhs · rhs` (or `+=`). With an empty inner dimension nothing is written:
/// callers that overwrite fill `dst` with zeros themselves.
fn product<T: Scalar>(
    dst: MatViewMut<'_, T>,
    lhs: MatView<'_, T>,
    rhs: MatView<'_, T>,
    alpha: T,
    accumulate: bool,
) -> Result<()> {
    if lhs.cols() == 0 {
        return Ok(());
    }
    gemm(dst, lhs, rhs, alpha, accumulate)?;
    Ok(())
}

/// Lanes of the row reductions of [`softmax_block`]: attention rows are short (one per
/// visible key, 30 to a few hundred), so one AVX-512 register of `f32` rather than the
/// kernel floor's 64 lanes, which would leave most rows to the scalar tail.
const ROW_LANES: usize = 16;

/// The row stride of a block's scores for `width` visible keys: `width` rounded up to a
/// multiple of [`ROW_LANES`], so the softmax passes run in whole vectors.
fn score_stride(width: usize) -> usize {
    width.next_multiple_of(ROW_LANES)
}

/// The largest score of a row, NaN if any is NaN (`ROW_LANES` independent lanes, so the
/// loop vectorises; a plain fold is one dependent comparison per element).
#[inline(always)]
fn short_row_max<T: Scalar>(row: &[T]) -> T {
    // The maximum ignoring NaN and a NaN flag per lane, each a compare and a blend: one
    // `nan_max` per element (compare, unordered compare, or, blend) compiled to scalar
    // code here.
    let mut lanes = [T::NEG_INFINITY; ROW_LANES];
    let mut nan = [T::ZERO; ROW_LANES];
    let chunks = row.chunks_exact(ROW_LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for ((lane, flag), &v) in lanes.iter_mut().zip(nan.iter_mut()).zip(chunk) {
            *lane = if v > *lane { v } else { *lane };
            *flag = if v.is_nan() { T::ONE } else { *flag };
        }
    }
    let mut max = lanes::fold_halves(lanes, |a, b| if b > a { b } else { a });
    if lanes::fold_halves(nan, |a, b| a + b) != T::ZERO {
        return T::from_f64(f64::NAN);
    }
    for &v in tail {
        max = lanes::nan_max(max, v);
    }
    max
}

/// `row = exp(row − max)` in place, returning the sum; `max` is the row's finite maximum
/// (so every argument is ≤ 0 or −inf, what [`Scalar::exp_fast_nonpositive`] takes). Each
/// block of `ROW_LANES` exponentials is added to the lanes and written.
#[inline(always)]
fn short_row_exp_sum<T: Scalar>(row: &mut [T], max: T) -> T {
    let mut lanes = [T::ZERO; ROW_LANES];
    let mut chunks = row.chunks_exact_mut(ROW_LANES);
    for chunk in &mut chunks {
        // Into a local block, added, then stored: adding from the stored row made every
        // 64-byte store feed narrower loads, which store forwarding cannot serve.
        let mut e = [T::ZERO; ROW_LANES];
        for (e, &v) in e.iter_mut().zip(chunk.iter()) {
            *e = (v - max).exp_fast_nonpositive();
        }
        for (lane, &e) in lanes.iter_mut().zip(&e) {
            *lane += e;
        }
        chunk.copy_from_slice(&e);
    }
    let mut sum = lanes::fold_halves(lanes, |a, b| a + b);
    for v in chunks.into_remainder() {
        *v = (*v - max).exp_fast_nonpositive();
        sum += *v;
    }
    sum
}

simd_kernel! {
    /// Turns each score row of a block (`width` scores, rows `stride` apart) into attention
    /// weights in place: keys at or past `visible(i)` and padded keys get weight 0, the
    /// rest `exp(s - max) / Σ`. Writes each row's log-sum-exp (`-inf` for a row that sees
    /// no key, whose weights are all 0).
    ///
    /// `stride` is a multiple of [`ROW_LANES`] (see [`score_stride`]): the hidden keys of a
    /// row up to the next multiple are set to `-inf`, so every pass runs in whole vectors
    /// (`exp(-inf) = 0` adds nothing) instead of a scalar tail of up to 15 keys per row.
    fn softmax_block<T: Scalar>(
        scores: &mut [T],
        width: usize,
        stride: usize,
        first: usize,
        causal: bool,
        offset: usize,
        pad: Option<&[bool]>,
        lse: &mut [T],
    ) {
        for (r, row) in scores.chunks_mut(stride).enumerate() {
            let lim = if causal { offset.saturating_add(first + r + 1).min(width) } else { width };
            let whole = lim.next_multiple_of(ROW_LANES).min(stride);
            if let Some(pad) = pad {
                for (s, &real) in row[..lim].iter_mut().zip(pad) {
                    if !real {
                        *s = T::NEG_INFINITY;
                    }
                }
            }
            row[lim..whole].fill(T::NEG_INFINITY);
            let max = short_row_max(&row[..whole]);
            if max == T::NEG_INFINITY || lim == 0 {
                row[..width].fill(T::ZERO);
                lse[r] = T::NEG_INFINITY;
                continue;
            }
            if !max.is_finite() {
                // A NaN or +inf score: the row's weights are NaN, as the composed ops'.
                row[..lim].fill(T::from_f64(f64::NAN));
                row[lim..width].fill(T::ZERO);
                lse[r] = T::from_f64(f64::NAN);
                continue;
            }
            let sum = short_row_exp_sum(&mut row[..whole], max);
            let inv = T::ONE / sum;
            for s in row[..whole].iter_mut() {
                *s *= inv;
            }
            if whole < width {
                row[whole..width].fill(T::ZERO);
            }
            lse[r] = max + sum.ln();
        }
    }
}

simd_kernel! {
    /// Backward's weights from recomputed scores: `p = exp(s - lse)` for visible, real keys,
    /// 0 elsewhere (and for rows that see no key).
    fn weights_from_lse<T: Scalar>(
        scores: &mut [T],
        width: usize,
        stride: usize,
        first: usize,
        causal: bool,
        offset: usize,
        pad: Option<&[bool]>,
        lse: &[T],
    ) {
        for (r, row) in scores.chunks_mut(stride).enumerate() {
            let lim = if causal { offset.saturating_add(first + r + 1).min(width) } else { width };
            let l = lse[r];
            if l == T::NEG_INFINITY {
                row[..width].fill(T::ZERO);
                continue;
            }
            // As in `softmax_block`, whole vectors: hidden keys up to the next multiple of
            // `ROW_LANES` become `exp(-inf) = 0` (not for a NaN log-sum-exp, where they
            // would become NaN instead of 0).
            let whole = if l.is_nan() {
                lim
            } else {
                lim.next_multiple_of(ROW_LANES).min(stride)
            };
            row[lim..whole].fill(T::NEG_INFINITY);
            for s in row[..whole].iter_mut() {
                *s = (*s - l).exp_fast();
            }
            if whole < width {
                row[whole..width].fill(T::ZERO);
            }
            if let Some(pad) = pad {
                for (s, &real) in row[..lim].iter_mut().zip(pad) {
                    if !real {
                        *s = T::ZERO;
                    }
                }
            }
        }
    }
}

simd_kernel! {
    /// `ds = p ∘ (dp - D_r)` in place in `dp`, with `D_r = dO_r · O_r` per row (`width`
    /// values, rows `stride` apart).
    fn score_grads<T: Scalar>(p: &[T], dp: &mut [T], width: usize, stride: usize, delta: &[T]) {
        for ((dp, p), &d) in dp.chunks_mut(stride).zip(p.chunks(stride)).zip(delta) {
            for (g, &p) in dp[..width].iter_mut().zip(&p[..width]) {
                *g = p * (*g - d);
            }
        }
    }
}

simd_kernel! {
    /// `delta_r = O_r · dO_r` for the rows of a block: row `r` of `o` starts at
    /// `o_start + r·o_time`, of `go` at `g_start + r·g_time`, each `dim` long. In
    /// [`ROW_LANES`] independent lanes, folded by `lanes::fold_halves`.
    fn row_dots<T: Scalar>(
        o: &[T],
        o_start: usize,
        o_time: usize,
        go: &[T],
        g_start: usize,
        g_time: usize,
        dim: usize,
        delta: &mut [T],
    ) {
        if dim == 0 {
            // Empty rows (whose storage may be empty too, so not even sliced).
            delta.fill(T::ZERO);
            return;
        }
        for (r, d) in delta.iter_mut().enumerate() {
            let orow = &o[o_start + r * o_time..][..dim];
            let grow = &go[g_start + r * g_time..][..dim];
            let (oc, gc) = (orow.chunks_exact(ROW_LANES), grow.chunks_exact(ROW_LANES));
            let tail = oc
                .remainder()
                .iter()
                .zip(gc.remainder())
                .fold(T::ZERO, |s, (&x, &y)| s + x * y);
            let mut lanes = [T::ZERO; ROW_LANES];
            for (a, b) in oc.zip(gc) {
                for ((l, &x), &y) in lanes.iter_mut().zip(a).zip(b) {
                    *l += x * y;
                }
            }
            *d = lanes::fold_halves(lanes, |a, b| a + b) + tail;
        }
    }
}

/// One head's keys (or values) as the right operand `[D, width]` of `Q·Kᵀ` (or `dO·Vᵀ`):
/// copied to contiguous rows, or read where they are through a transposed view.
#[derive(Clone, Copy)]
enum HeadT<'a, T> {
    /// `[D, rows]` row-major.
    Copied {
        data: &'a [T],
        rows: usize,
        dim: usize,
    },
    /// Row `j` (`dim` long) at `base + j·time`.
    InPlace {
        data: &'a [T],
        base: usize,
        time: usize,
        dim: usize,
    },
}

impl<'a, T: Scalar> HeadT<'a, T> {
    /// The first `width` keys, transposed: `[D, width]`.
    fn view(self, width: usize) -> Result<MatView<'a, T>> {
        Ok(match self {
            HeadT::Copied { data, rows, dim } => {
                MatView::new(data, 0, dim, width, rows as isize, 1)?
            }
            HeadT::InPlace {
                data,
                base,
                time,
                dim,
            } => MatView::new(data, base, width, dim, time as isize, 1)?.transpose(),
        })
    }
}

/// The first `rows` rows (`dim` long, `time` apart from `base`) of one head's keys or
/// values as [`HeadT`]. When `copy` (the score products run on the small-product kernel,
/// see `ferrograd_linalg::kernel::uses_small_kernel`), they are transposed once into
/// `scratch`, whose rows the kernel reads directly; it would copy a transposed view once
/// per query block instead. Otherwise (`f64`, no AVX-512, long contexts) faer reads the
/// transposed view at no cost.
fn head_transposed<'a, T: Scalar>(
    data: &'a [T],
    base: usize,
    time: usize,
    rows: usize,
    dim: usize,
    copy: bool,
    scratch: &'a mut Vec<T>,
) -> HeadT<'a, T> {
    if !copy || rows == 0 || dim == 0 {
        return HeadT::InPlace {
            data,
            base,
            time,
            dim,
        };
    }
    scratch.clear();
    scratch.resize(rows * dim, T::ZERO);
    for j in 0..rows {
        let row = &data[base + j * time..base + j * time + dim];
        for (d, &x) in row.iter().enumerate() {
            scratch[d * rows + j] = x;
        }
    }
    HeadT::Copied {
        data: scratch,
        rows,
        dim,
    }
}

/// Forward of one `(batch, head)` item.
struct ForwardJob<'a, T: Scalar> {
    g: Geom,
    scale: T,
    q: (&'a [T], Rows),
    k: (&'a [T], Rows),
    v: (&'a [T], Rows),
    pad: &'a [bool],
    out: Shared<T>,
    lse: Shared<T>,
}

impl<T: Scalar> ForwardJob<'_, T> {
    fn item(&self, item: usize, scratch: &mut (Vec<T>, Vec<T>, Vec<T>)) -> Result<()> {
        let g = &self.g;
        let (b, h) = (item / g.heads, item % g.heads);
        let (q, qr) = self.q;
        let (k, kr) = self.k;
        let (v, vr) = self.v;
        let (qo, ko, vo) = (qr.base(b, h), kr.base(b, h), vr.base(b, h));
        let out_rows = Rows::heads_inner(g.heads, g.tq, g.dv);
        let pad = pad_row(self.pad, b, g.tk);
        // SAFETY: item `item` owns the log-sum-exps `item·T_q..(item + 1)·T_q`.
        let lse = unsafe { self.lse.slice(item * g.tq, g.tq) };
        let (scores, block_out, keys_t) = scratch;
        let kmax = if g.tq == 0 { 0 } else { g.visible(g.tq - 1) };
        let small = uses_small_kernel::<T>(BLOCK_Q.min(g.tq), kmax, g.dk);
        let keys_t = head_transposed(k, ko, kr.time, kmax, g.dk, small, keys_t);
        let mut i0 = 0;
        while i0 < g.tq {
            let bq = BLOCK_Q.min(g.tq - i0);
            let width = g.visible(i0 + bq - 1);
            let stride = score_stride(width);
            let s = &mut scores[..bq * stride];
            if width > 0 {
                product(
                    MatViewMut::new(s, 0, bq, width, stride as isize, 1)?,
                    MatView::new(q, qo + i0 * qr.time, bq, g.dk, qr.time as isize, 1)?,
                    keys_t.view(width)?,
                    self.scale,
                    false,
                )?;
                if g.dk == 0 {
                    s.fill(T::ZERO);
                }
            }
            let lse_block = &mut lse[i0..i0 + bq];
            if width == 0 {
                lse_block.fill(T::NEG_INFINITY);
            } else {
                softmax_block(s, width, stride, i0, g.causal, g.offset, pad, lse_block);
            }
            let o = &mut block_out[..bq * g.dv];
            if width == 0 {
                o.fill(T::ZERO);
            } else {
                product(
                    MatViewMut::row_major(o, bq, g.dv)?,
                    MatView::new(s, 0, bq, width, stride as isize, 1)?,
                    MatView::new(v, vo, width, g.dv, vr.time as isize, 1)?,
                    T::ONE,
                    false,
                )?;
            }
            for r in 0..bq {
                let start = out_rows.base(b, h) + (i0 + r) * out_rows.time;
                // SAFETY: output row (b, i0 + r, h) belongs to this item alone.
                let dst = unsafe { self.out.slice(start, g.dv) };
                dst.copy_from_slice(&o[r * g.dv..(r + 1) * g.dv]);
            }
            i0 += bq;
        }
        Ok(())
    }
}

/// Scratch buffers of one backward task.
struct BackScratch<T> {
    p: Vec<T>,
    dp: Vec<T>,
    dq: Vec<T>,
    dk: Vec<T>,
    dv: Vec<T>,
    delta: Vec<T>,
    /// The item's keys and values transposed (`[D, T_k]`, see [`head_transposed`]).
    keys_t: Vec<T>,
    values_t: Vec<T>,
}

/// Backward of one `(batch, head)` item.
struct BackwardJob<'a, T: Scalar> {
    g: Geom,
    scale: T,
    q: (&'a [T], Rows),
    k: (&'a [T], Rows),
    v: (&'a [T], Rows),
    o: (&'a [T], Rows),
    go: (&'a [T], Rows),
    lse: &'a [T],
    pad: &'a [bool],
    want: [bool; 3],
    gq: Shared<T>,
    gk: Shared<T>,
    gv: Shared<T>,
}

impl<T: Scalar> BackwardJob<'_, T> {
    fn item(&self, item: usize, sc: &mut BackScratch<T>) -> Result<()> {
        let g = &self.g;
        let (b, h) = (item / g.heads, item % g.heads);
        let (q, qr) = self.q;
        let (k, kr) = self.k;
        let (v, vr) = self.v;
        let (o, or) = self.o;
        let (go, gr) = self.go;
        let (qo, ko, vo, oo, goo) = (
            qr.base(b, h),
            kr.base(b, h),
            vr.base(b, h),
            or.base(b, h),
            gr.base(b, h),
        );
        let pad = pad_row(self.pad, b, g.tk);
        let lse = &self.lse[item * g.tq..(item + 1) * g.tq];
        let kmax = if g.tq == 0 { 0 } else { g.visible(g.tq - 1) };
        sc.dk[..kmax * g.dk].fill(T::ZERO);
        sc.dv[..kmax * g.dv].fill(T::ZERO);
        let bq_max = BLOCK_Q.min(g.tq);
        let small = uses_small_kernel::<T>(bq_max, kmax, g.dk);
        let keys_t = head_transposed(k, ko, kr.time, kmax, g.dk, small, &mut sc.keys_t);
        // dP = dO·Vᵀ is needed for the gradients of q and k only.
        let small = (self.want[0] || self.want[1]) && uses_small_kernel::<T>(bq_max, kmax, g.dv);
        let values_t = head_transposed(v, vo, vr.time, kmax, g.dv, small, &mut sc.values_t);
        let mut i0 = 0;
        while i0 < g.tq {
            let bq = BLOCK_Q.min(g.tq - i0);
            let width = g.visible(i0 + bq - 1);
            let q_blk = MatView::new(q, qo + i0 * qr.time, bq, g.dk, qr.time as isize, 1)?;
            let go_blk = MatView::new(go, goo + i0 * gr.time, bq, g.dv, gr.time as isize, 1)?;
            let dq = &mut sc.dq[..bq * g.dk];
            if width == 0 {
                dq.fill(T::ZERO);
            } else {
                let keys = MatView::new(k, ko, width, g.dk, kr.time as isize, 1)?;
                let stride = score_stride(width);
                let p = &mut sc.p[..bq * stride];
                product(
                    MatViewMut::new(p, 0, bq, width, stride as isize, 1)?,
                    q_blk,
                    keys_t.view(width)?,
                    self.scale,
                    false,
                )?;
                if g.dk == 0 {
                    p.fill(T::ZERO);
                }
                weights_from_lse(
                    p,
                    width,
                    stride,
                    i0,
                    g.causal,
                    g.offset,
                    pad,
                    &lse[i0..i0 + bq],
                );
                if self.want[2] {
                    // dV += Pᵀ dO
                    product(
                        MatViewMut::row_major(&mut sc.dv[..width * g.dv], width, g.dv)?,
                        MatView::new(p, 0, bq, width, stride as isize, 1)?.transpose(),
                        go_blk,
                        T::ONE,
                        true,
                    )?;
                }
                if self.want[0] || self.want[1] {
                    // dP = dO Vᵀ, then dS = P ∘ (dP - D)
                    let dp = &mut sc.dp[..bq * stride];
                    product(
                        MatViewMut::new(dp, 0, bq, width, stride as isize, 1)?,
                        go_blk,
                        values_t.view(width)?,
                        T::ONE,
                        false,
                    )?;
                    if g.dv == 0 {
                        dp.fill(T::ZERO);
                    }
                    let delta = &mut sc.delta[..bq];
                    row_dots(
                        o,
                        oo + i0 * or.time,
                        or.time,
                        go,
                        goo + i0 * gr.time,
                        gr.time,
                        g.dv,
                        delta,
                    );
                    score_grads(p, dp, width, stride, delta);
                    if self.want[0] {
                        // dQ = scale · dS K
                        product(
                            MatViewMut::row_major(dq, bq, g.dk)?,
                            MatView::new(dp, 0, bq, width, stride as isize, 1)?,
                            keys,
                            self.scale,
                            false,
                        )?;
                    }
                    if self.want[1] {
                        // dK += scale · dSᵀ Q
                        product(
                            MatViewMut::row_major(&mut sc.dk[..width * g.dk], width, g.dk)?,
                            MatView::new(dp, 0, bq, width, stride as isize, 1)?.transpose(),
                            q_blk,
                            self.scale,
                            true,
                        )?;
                    }
                }
            }
            if self.want[0] {
                let rows = Rows::heads_inner(g.heads, g.tq, g.dk);
                for r in 0..bq {
                    let start = rows.base(b, h) + (i0 + r) * rows.time;
                    // SAFETY: gradient row (b, i0 + r, h) of q belongs to this item alone.
                    let dst = unsafe { self.gq.slice(start, g.dk) };
                    if width == 0 {
                        dst.fill(T::ZERO);
                    } else {
                        dst.copy_from_slice(&dq[r * g.dk..(r + 1) * g.dk]);
                    }
                }
            }
            i0 += bq;
        }
        for (want, dim, acc, out) in [
            (self.want[1], g.dk, &sc.dk, self.gk),
            (self.want[2], g.dv, &sc.dv, self.gv),
        ] {
            if !want {
                continue;
            }
            let rows = Rows::heads_inner(g.heads, g.tk, dim);
            for j in 0..g.tk {
                let start = rows.base(b, h) + j * rows.time;
                // SAFETY: gradient row (b, j, h) of k / v belongs to this item alone.
                let dst = unsafe { out.slice(start, dim) };
                if j < kmax {
                    dst.copy_from_slice(&acc[j * dim..(j + 1) * dim]);
                } else {
                    dst.fill(T::ZERO);
                }
            }
        }
        Ok(())
    }
}

struct AttentionBackward<T: Scalar> {
    g: Geom,
    scale: T,
    pad: Vec<bool>,
    lse: Vec<T>,
}

impl<T: Scalar> BackwardOp<T> for AttentionBackward<T> {
    fn name(&self) -> &'static str {
        "scaled_dot_product_attention"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        output: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let g = self.g;
        let want = [
            inputs[0].requires_grad(),
            inputs[1].requires_grad(),
            inputs[2].requires_grad(),
        ];
        let grad = last_axis_contiguous(grad);
        // The forward pass checked these sizes; the allocations may still fail.
        let buffer = |want: bool, t: usize, d: usize| {
            if want {
                attention_buffer::<T>(&[g.batch, g.heads, t, d])
            } else {
                Ok(Vec::new())
            }
        };
        let mut gq = buffer(want[0], g.tq, g.dk)?;
        let mut gk = buffer(want[1], g.tk, g.dk)?;
        let mut gv = buffer(want[2], g.tk, g.dv)?;
        let job = BackwardJob {
            g,
            scale: self.scale,
            q: (inputs[0].storage_data(), Rows::of(&inputs[0])),
            k: (inputs[1].storage_data(), Rows::of(&inputs[1])),
            v: (inputs[2].storage_data(), Rows::of(&inputs[2])),
            o: (output.storage_data(), Rows::of(output)),
            go: (grad.storage_data(), Rows::of(&grad)),
            lse: &self.lse,
            pad: &self.pad,
            want,
            gq: Shared::new(&mut gq),
            gk: Shared::new(&mut gk),
            gv: Shared::new(&mut gv),
        };
        let width = score_stride(g.tk.max(1));
        for_items(
            &g,
            || BackScratch {
                p: vec![T::ZERO; BLOCK_Q * width],
                dp: vec![T::ZERO; BLOCK_Q * width],
                dq: vec![T::ZERO; BLOCK_Q * g.dk],
                dk: vec![T::ZERO; g.tk * g.dk],
                dv: vec![T::ZERO; g.tk * g.dv],
                delta: vec![T::ZERO; BLOCK_Q],
                keys_t: Vec::new(),
                values_t: Vec::new(),
            },
            |item, scratch| job.item(item, scratch),
        )?;
        let wrap = |want: bool, data: Vec<T>, t: usize, d: usize| {
            want.then(|| heads_inner_tensor(data, g.batch, g.heads, t, d))
        };
        Ok(vec![
            wrap(want[0], gq, g.tq, g.dk),
            wrap(want[1], gk, g.tk, g.dk),
            wrap(want[2], gv, g.tk, g.dv),
        ])
    }
}

/// The tensor itself when its last axis has unit stride (or size ≤ 1), else a contiguous
/// copy (recorded in the graph like any copy).
fn last_axis_contiguous<T: Scalar>(t: &Tensor<T>) -> Tensor<T> {
    let r = t.rank();
    if r == 0 || t.shape()[r - 1] <= 1 || t.strides()[r - 1] == 1 {
        t.clone()
    } else {
        t.contiguous()
    }
}

const OP: &str = "scaled_dot_product_attention";

/// Checks that every buffer the forward and backward passes of an attention of geometry
/// `g` allocate (result, log-sum-exps, gradients, per-task scratch) has an element count
/// that fits `usize` and a size in bytes that fits `isize`, so the unchecked index
/// arithmetic of the kernels cannot wrap.
///
/// # Errors
/// [`TensorError::TooLarge`] naming the op and the first shape that does not fit.
fn check_attention_sizes(g: &Geom, elem_size: usize) -> Result<()> {
    let (b, h, tq, tk, dk, dv) = (g.batch, g.heads, g.tq, g.tk, g.dk, g.dv);
    let width = tk
        .max(1)
        .checked_next_multiple_of(ROW_LANES)
        .ok_or_else(|| TensorError::TooLarge {
            op: OP,
            shape: shape_of(&[BLOCK_Q, tk]),
            reason: "the padded score rows' length overflows usize".into(),
        })?;
    for shape in [
        &[b, h][..],
        &[b, h, tq, dv],
        &[b, h, tq, dk],
        &[b, h, tk, dk],
        &[b, h, tk, dv],
        &[BLOCK_Q, width],
        &[BLOCK_Q, dk],
        &[BLOCK_Q, dv],
        &[tk, dk],
        &[tk, dv],
    ] {
        checked_len(OP, shape, elem_size)?;
    }
    if dk.checked_add(dv).is_none() {
        return Err(TensorError::TooLarge {
            op: OP,
            shape: shape_of(&[dk, dv]),
            reason: "the feature sizes' sum overflows usize".into(),
        });
    }
    Ok(())
}

/// A buffer of the elements of `shape` (contents unspecified), or
/// [`TensorError::TooLarge`] when it cannot be counted or allocated.
fn attention_buffer<T: Scalar>(shape: &[usize]) -> Result<Vec<T>> {
    let len = checked_len(OP, shape, size_of::<T>())?;
    storage::try_take_buffer::<T>(OP, shape, len)
}

fn bad(reason: String) -> TensorError {
    TensorError::InvalidArgument { op: OP, reason }
}

impl<T: Scalar> Tensor<T> {
    /// Scaled dot-product attention, fused: `softmax(self · kᵀ · scale + mask) · v` with
    /// `self` the queries `[B, H, T_q, D]`, `k` `[B, H, T_k, D]`, `v` `[B, H, T_k, D_v]`;
    /// PyTorch's `F.scaled_dot_product_attention`, with the causal mask aligned to the last
    /// keys (see [`AttentionOptions`]). The result `[B, H, T_q, D_v]` is stored as
    /// `[B, T_q, H, D_v]` (see the [module docs](crate::ops::attention)).
    ///
    /// The book's example (§4.2): scores `[2, 7, 4, 5]` of the second query, the causal
    /// mask hiding the last two keys, give weights `[0.0067, 0.9933, 0, 0]`:
    ///
    /// ```
    /// use ferrograd_tensor::{AttentionOptions, Tensor};
    /// // One-dimensional keys and a query of 1 reproduce the scores; values pick them out.
    /// let k = Tensor::<f64>::from_vec(vec![2.0, 7.0, 4.0, 5.0], &[1, 1, 4, 1])?;
    /// let v = Tensor::<f64>::eye(4).reshape(&[1, 1, 4, 4])?;
    /// let q = Tensor::<f64>::ones(&[1, 1, 2, 1]); // queries at positions 0 and 1
    /// let opts = AttentionOptions::causal().with_scale(1.0).with_query_offset(0);
    /// let w = q.scaled_dot_product_attention(&k, &v, &opts)?;
    /// let second = w.select(2, 1)?.to_vec();
    /// assert!((second[0] - 0.0067).abs() < 1e-4 && (second[1] - 0.9933).abs() < 1e-4);
    /// assert_eq!(&second[2..], &[0.0, 0.0]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for operands that are not rank 4 or whose batch,
    /// head, length or feature axes disagree, a padding mask that is not `[B, T_k]`, and a
    /// causal mask with more queries than keys and no explicit offset.
    pub fn scaled_dot_product_attention(
        &self,
        k: &Tensor<T>,
        v: &Tensor<T>,
        options: &AttentionOptions,
    ) -> Result<Tensor<T>> {
        for (name, t) in [("q", self), ("k", k), ("v", v)] {
            if t.rank() != 4 {
                return Err(bad(format!(
                    "{name} must have rank 4 [batch, heads, time, dim], got shape {}",
                    shape_of(t.shape())
                )));
            }
        }
        let (qs, ks, vs) = (self.shape(), k.shape(), v.shape());
        if qs[..2] != ks[..2] || ks[..3] != vs[..3] || qs[3] != ks[3] {
            return Err(bad(format!(
                "q {}, k {} and v {} must be [B, H, T_q, D], [B, H, T_k, D] and [B, H, T_k, D_v]",
                shape_of(qs),
                shape_of(ks),
                shape_of(vs)
            )));
        }
        let (batch, heads, tq, tk, dk, dv) = (qs[0], qs[1], qs[2], ks[2], qs[3], vs[3]);
        let offset = match options.query_offset {
            Some(o) => o,
            None if !options.causal || tq <= tk => tk.saturating_sub(tq),
            None => {
                return Err(bad(format!(
                    "a causal mask with {tq} queries and {tk} keys needs an explicit query offset"
                )));
            }
        };
        let pad: Vec<bool> = match &options.key_padding_mask {
            None => Vec::new(),
            Some(m) => {
                if m.shape() != [batch, tk] {
                    return Err(bad(format!(
                        "the key padding mask must have shape [{batch}, {tk}] (batch, keys), got {}",
                        shape_of(m.shape())
                    )));
                }
                m.contiguous_data().iter().map(|&x| x != 0).collect()
            }
        };
        let g = Geom {
            batch,
            heads,
            tq,
            tk,
            dk,
            dv,
            causal: options.causal,
            offset,
        };
        // Before any copy or allocation: the sizes of every buffer this op and its
        // backward use must be countable (the kernels index them unchecked).
        check_attention_sizes(&g, size_of::<T>())?;
        let scale = T::from_f64(options.scale.unwrap_or(1.0 / (dk.max(1) as f64).sqrt()));
        let (q, k, v) = (
            last_axis_contiguous(self),
            last_axis_contiguous(k),
            last_axis_contiguous(v),
        );
        let mut out = attention_buffer::<T>(&[batch, heads, tq, dv])?;
        let mut lse = attention_buffer::<T>(&[batch, heads, tq])?;
        lse.fill(T::ZERO);
        {
            let job = ForwardJob {
                g,
                scale,
                q: (q.storage_data(), Rows::of(&q)),
                k: (k.storage_data(), Rows::of(&k)),
                v: (v.storage_data(), Rows::of(&v)),
                pad: &pad,
                out: Shared::new(&mut out),
                lse: Shared::new(&mut lse),
            };
            let width = score_stride(tk.max(1));
            for_items(
                &g,
                || {
                    (
                        vec![T::ZERO; BLOCK_Q * width],
                        vec![T::ZERO; BLOCK_Q * dv],
                        Vec::new(),
                    )
                },
                |item, scratch| job.item(item, scratch),
            )?;
        }
        let layout = Layout::from_parts(
            &[batch, heads, tq, dv],
            &[tq * heads * dv, dv, heads * dv, 1],
            0,
        );
        let op = AttentionBackward { g, scale, pad, lse };
        Ok(Tensor::with_layout(
            Arc::new(Storage::new(out)),
            layout,
            &[&q, &k, &v],
            op,
        ))
    }
}
