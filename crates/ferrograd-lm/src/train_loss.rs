//! The output head and the loss of a language model fused into one operation:
//! [`linear_cross_entropy`] computes `mean cross_entropy(hidden·Wᵀ + b, targets)` without
//! ever holding the `[rows, V]` logits — the largest tensor of a training step (with the
//! notebook's batch of 128×29 tokens and V = 8,192 they take 122 MB, and their gradient as
//! much again). [`matmul_cross_entropy`] is the same for an output matrix stored `[E, V]`
//! (the book's decoder).
//!
//! # How
//!
//! Rows whose target is `ignore_index` (padding) are dropped first: their logits are never
//! computed (they contribute nothing to the loss or to any gradient). The remaining rows
//! are processed in blocks of [`BLOCK_ROWS`], split over ferrograd's worker threads; for
//! each block, in a per-thread buffer kept between calls:
//!
//! 1. one slice of [`CHUNK_COLS`] classes at a time: `logits = h_blk·W_sliceᵀ + b_slice`
//!    (one matrix product), then per row the slice's maximum and `Σ exp(x − max)`, the
//!    exponentials stored in place (an online softmax: a slice that raises a row's
//!    running maximum rescales the sum so far); after the last slice, each row's loss
//!    `ln Σ exp(x − max) + max − x_target`;
//! 2. when gradients are needed, slice by slice again: `g = (softmax − one_hot(target)) /
//!    kept` in place (the gradient of the mean loss with respect to the logits), then
//!    `∂b += Σ_rows g`, `∂W_slice += gᵀ·h_blk` and `∂h_blk += g·W_slice` (two matrix
//!    products that read the slice while it is in cache).
//!
//! Each thread's task sums `∂W` and `∂b` over its blocks in its own buffer; the tasks add
//! these partials into the totals one at a time **in task order** (a task that finishes
//! early waits for the earlier ones), so the floating-point sums, and a training run, repeat
//! bit for bit whatever the scheduling. (The split of the rows over tasks follows the
//! thread count: results with another number of threads may differ in the last bits.)
//!
//! So the gradients are computed during the forward pass (the loss is the end of the
//! graph: its backward only multiplies them by the incoming scalar gradient), in one
//! sweep over the rows instead of three passes over a `[rows, V]` tensor in memory. The
//! arithmetic is the same as `Linear` followed by `CrossEntropyLoss`; the tests compare
//! the two (f64, to 1e-12) and check the gradients against finite differences.

use crate::error::{LmError, Result, invalid};
use ferrograd_linalg::cpu::lanes;
use ferrograd_linalg::kernel::{MatView, MatViewMut, gemm};
use ferrograd_tensor::{
    BackwardOp, IdTensor, Scalar, Tensor, is_grad_enabled, no_grad, pool, simd_kernel,
};
use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

/// Rows per block: a block's logits (`BLOCK_ROWS × V` values, 8 MB for V = 8,192 in f32)
/// are held until the block's gradient is formed, and its products are large enough to
/// run at full speed (measured: 128 and 512 rows were slower on the notebook's shapes,
/// with and without the slices of [`CHUNK_COLS`]).
pub const BLOCK_ROWS: usize = 256;

/// Classes per slice of a block: the forward product and the softmax pass, later the
/// gradient pass and both backward products, run on one slice of `BLOCK_ROWS ×
/// CHUNK_COLS` logits (1 MB in f32) at a time, while it is still in cache, instead of
/// sweeping the whole block (8 MB for V = 8,192) five times. Measured on the book's
/// decoder step (V = 8,192, AMD Zen 3): 1,024 was faster than 128, 256, 512, 2,048 and
/// an unsliced block.
pub const CHUNK_COLS: usize = 1024;

/// `mean over rows with target ≠ ignore_index of cross_entropy(hidden·Wᵀ + bias, target)`:
/// a `Linear(E, V)` head (weight `[V, E]`, bias `[V]`) followed by
/// `CrossEntropyLoss(ignore_index)`, fused (see the module docs). `hidden` is `[rows, E]`,
/// `targets` has `rows` elements (any shape). The result is a scalar with gradients for
/// `hidden`, `weight` and `bias`; NaN when every target is ignored, as PyTorch's mean.
///
/// ```
/// use ferrograd_lm::train_loss::linear_cross_entropy;
/// use ferrograd_nn::{CrossEntropyLoss, Forward, Linear};
/// use ferrograd_tensor::{IdTensor, Rng, Tensor};
/// let mut rng = Rng::new(0);
/// let head = Linear::<f64>::new(4, 10, &mut rng);
/// let h = Tensor::<f64>::randn(&[6, 4], 0.0, 1.0, &mut rng);
/// let targets = IdTensor::from(vec![1, 9, -100, 3, 3, 0]);
/// let fused = linear_cross_entropy(&h, &head.weight.tensor(), head.bias.as_ref().map(|b| b.tensor()).as_ref(), &targets, -100)?;
/// let composed = CrossEntropyLoss::new().forward(&head.forward(&h)?, &targets)?;
/// assert!((fused.item()? - composed.item()?).abs() < 1e-12);
/// # Ok::<(), ferrograd_lm::LmError>(())
/// ```
///
/// # Errors
/// [`LmError::InvalidConfig`] for shapes that do not fit or a target outside `0..V` that
/// is not `ignore_index`.
pub fn linear_cross_entropy<T: Scalar>(
    hidden: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    targets: &IdTensor,
    ignore_index: i64,
) -> Result<Tensor<T>> {
    fused_head_loss(
        "linear_cross_entropy",
        hidden,
        weight,
        WeightLayout::OutIn,
        bias,
        targets,
        ignore_index,
    )
}

/// `mean over rows with target ≠ ignore_index of cross_entropy(hidden·weight + bias,
/// target)` for an output matrix stored `[E, V]` (logits are `hidden · weight`, as the
/// book's decoder writes its `output` parameter): [`linear_cross_entropy`] with the weight
/// transposed, without copying it — the same fused kernel, the same value and gradients
/// as `hidden.matmul(weight)` followed by `CrossEntropyLoss(ignore_index)`; the `[rows, V]`
/// logits are never stored. The gradient of `weight` has its shape `[E, V]`.
///
/// ```
/// use ferrograd_lm::train_loss::matmul_cross_entropy;
/// use ferrograd_nn::{CrossEntropyLoss, Forward};
/// use ferrograd_tensor::{IdTensor, Rng, Tensor};
/// let mut rng = Rng::new(0);
/// let w = Tensor::<f64>::randn(&[4, 10], 0.0, 1.0, &mut rng);
/// let h = Tensor::<f64>::randn(&[6, 4], 0.0, 1.0, &mut rng);
/// let targets = IdTensor::from(vec![1, 9, -100, 3, 3, 0]);
/// let fused = matmul_cross_entropy(&h, &w, None, &targets, -100)?;
/// let composed = CrossEntropyLoss::new().forward(&h.matmul(&w)?, &targets)?;
/// assert!((fused.item()? - composed.item()?).abs() < 1e-12);
/// # Ok::<(), ferrograd_lm::LmError>(())
/// ```
///
/// # Errors
/// [`LmError::InvalidConfig`] for shapes that do not fit or a target outside `0..V` that
/// is not `ignore_index`.
pub fn matmul_cross_entropy<T: Scalar>(
    hidden: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    targets: &IdTensor,
    ignore_index: i64,
) -> Result<Tensor<T>> {
    fused_head_loss(
        "matmul_cross_entropy",
        hidden,
        weight,
        WeightLayout::InOut,
        bias,
        targets,
        ignore_index,
    )
}

/// How the head's weight is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WeightLayout {
    /// `[V, E]` (`nn.Linear`'s weight): logits are `h·Wᵀ`.
    OutIn,
    /// `[E, V]`: logits are `h·W`.
    InOut,
}

fn fused_head_loss<T: Scalar>(
    op: &'static str,
    hidden: &Tensor<T>,
    weight: &Tensor<T>,
    layout: WeightLayout,
    bias: Option<&Tensor<T>>,
    targets: &IdTensor,
    ignore_index: i64,
) -> Result<Tensor<T>> {
    if weight.rank() != 2 {
        return Err(invalid(
            op,
            "weight",
            format!("shape {:?}", weight.shape()),
            match layout {
                WeightLayout::OutIn => "must be [V, E]",
                WeightLayout::InOut => "must be [E, V]",
            },
        ));
    }
    let (v, e) = match layout {
        WeightLayout::OutIn => (weight.shape()[0], weight.shape()[1]),
        WeightLayout::InOut => (weight.shape()[1], weight.shape()[0]),
    };
    if hidden.rank() != 2 || hidden.shape()[1] != e {
        return Err(invalid(
            op,
            "hidden",
            format!("shape {:?}", hidden.shape()),
            format!(
                "must be [rows, {e}] to fit a weight of shape {:?}",
                weight.shape()
            ),
        ));
    }
    if let Some(b) = bias
        && b.shape() != [v]
    {
        return Err(invalid(
            op,
            "bias",
            format!("shape {:?}", b.shape()),
            format!("must be [{v}]"),
        ));
    }
    let rows = hidden.shape()[0];
    if targets.len() != rows {
        return Err(invalid(
            op,
            "targets",
            format!("{} elements", targets.len()),
            format!("need one per row of hidden ({rows})"),
        ));
    }
    let ids = targets.contiguous_data();
    let mut kept: Vec<(usize, usize)> = Vec::with_capacity(rows);
    for (row, &t) in ids.iter().enumerate() {
        if t == ignore_index {
            continue;
        }
        match usize::try_from(t) {
            Ok(class) if class < v => kept.push((row, class)),
            _ => {
                return Err(invalid(
                    op,
                    "target",
                    t,
                    format!(
                        "at position {row}: out of range for {v} classes (and not the \
                         ignore_index {ignore_index})"
                    ),
                ));
            }
        }
    }
    let inputs: Vec<&Tensor<T>> = std::iter::once(hidden)
        .chain(std::iter::once(weight))
        .chain(bias)
        .collect();
    let grad = is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
    let h = hidden.contiguous_data();
    let w = weight.contiguous_data();
    let b = bias.map(Tensor::contiguous_data);
    let out = head_kernel(&h, &w, layout, b.as_deref(), &kept, rows, v, e, grad)?;
    let mean = if kept.is_empty() {
        f64::NAN
    } else {
        out.loss_sum / kept.len() as f64
    };
    let backward = out.grads.map(|g| LinearCeBackward {
        dh: g.dh,
        dw: g.dw,
        db: bias.is_some().then_some(g.db),
    });
    Ok(match backward {
        Some(op) => Tensor::from_op(vec![T::from_f64(mean)], &[], &inputs, op)?,
        None => Tensor::scalar(T::from_f64(mean)),
    })
}

/// The gradients, as tensors (their buffers come from ferrograd's per-thread pool of
/// large buffers, so a training step reuses the previous step's memory).
struct Grads<T: Scalar> {
    dh: Tensor<T>,
    dw: Tensor<T>,
    db: Tensor<T>,
}

struct HeadOutput<T: Scalar> {
    loss_sum: f64,
    grads: Option<Grads<T>>,
}

/// What one thread's share of the blocks produced; its `∂W` and `∂b` are added to the
/// totals in task order.
struct Partial {
    loss_sum: f64,
}

fn linalg(e: ferrograd_linalg::LinalgError) -> LmError {
    invalid("linear_cross_entropy", "shapes", "", e.to_string())
}

thread_local! {
    /// Per-thread scratch of the kernel (the block's logits, rows and their gradient, the
    /// partial ∂W and ∂b), kept between calls: the logits block alone is 8 MB for
    /// V = 8,192, and allocating it afresh every step faults its pages in every step.
    static SCRATCH: RefCell<HashMap<TypeId, Box<dyn Any>>> = RefCell::new(HashMap::new());
}

/// Scratch buffers of one task.
struct Scratch<T> {
    hb: Vec<T>,
    logits: Vec<T>,
    dhb: Vec<T>,
    dw: Vec<T>,
    db: Vec<T>,
}

/// Runs `body` with this thread's scratch for `T`, each buffer resized to the lengths
/// asked (contents unspecified except `dw` and `db`, zeroed when `zero_partials`).
fn with_scratch<T: Scalar, R>(
    lens: [usize; 5],
    zero_partials: bool,
    body: impl FnOnce(&mut Scratch<T>) -> R,
) -> R {
    let taken: Option<Box<Scratch<T>>> = SCRATCH
        .try_with(|s| {
            s.borrow_mut()
                .remove(&TypeId::of::<T>())
                .and_then(|b| b.downcast::<Scratch<T>>().ok())
        })
        .ok()
        .flatten();
    let mut sc = taken.map_or_else(
        || Scratch {
            hb: Vec::new(),
            logits: Vec::new(),
            dhb: Vec::new(),
            dw: Vec::new(),
            db: Vec::new(),
        },
        |b| *b,
    );
    for (buf, len) in [
        &mut sc.hb,
        &mut sc.logits,
        &mut sc.dhb,
        &mut sc.dw,
        &mut sc.db,
    ]
    .into_iter()
    .zip(lens)
    {
        buf.resize(len, T::ZERO);
    }
    if zero_partials {
        sc.dw.fill(T::ZERO);
        sc.db.fill(T::ZERO);
    }
    let out = body(&mut sc);
    let _ = SCRATCH.try_with(|s| {
        s.borrow_mut().insert(TypeId::of::<T>(), Box::new(sc));
    });
    out
}

/// A buffer shared by the tasks, each writing elements no other task touches (or
/// writing one at a time, in task order).
struct Shared<T>(*mut T);
// SAFETY: tasks write disjoint rows of `dh`, and `∂W`/`∂b` only in their turn (one task
// at a time, see `InOrder`); the buffers outlive `pool::run`.
unsafe impl<T: Send> Sync for Shared<T> {}
impl<T> Shared<T> {
    fn get(&self) -> *mut T {
        self.0
    }
}

/// Lets tasks run a step one at a time in task order (0, 1, 2, …) whatever order they
/// reach it in. Deadlock-free with `pool::run`, which hands tasks out in increasing order:
/// every earlier task has been claimed by a running thread and will take its turn (a
/// [`Turn`] that is dropped without being taken, by an error or a panic, still passes).
#[derive(Default)]
struct InOrder {
    next: Mutex<usize>,
    turn: Condvar,
}

/// One task's turn in an [`InOrder`].
struct Turn<'a> {
    order: &'a InOrder,
    task: usize,
    taken: bool,
}

impl<'a> Turn<'a> {
    fn new(order: &'a InOrder, task: usize) -> Self {
        Self {
            order,
            task,
            taken: false,
        }
    }

    /// Waits for every earlier task's turn, runs `f`, and lets the next task go.
    fn take(mut self, f: impl FnOnce()) {
        self.taken = true;
        self.pass(f);
    }

    fn pass(&self, f: impl FnOnce()) {
        let mut next = self.order.next.lock().unwrap_or_else(|p| p.into_inner());
        while *next != self.task {
            next = self
                .order
                .turn
                .wait(next)
                .unwrap_or_else(|p| p.into_inner());
        }
        f();
        *next += 1;
        drop(next);
        self.order.turn.notify_all();
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if !self.taken {
            self.pass(|| {});
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn head_kernel<T: Scalar>(
    h: &[T],
    w: &[T],
    layout: WeightLayout,
    b: Option<&[T]>,
    kept: &[(usize, usize)],
    rows: usize,
    v: usize,
    e: usize,
    grad: bool,
) -> Result<HeadOutput<T>> {
    let n = kept.len();
    let block_rows = BLOCK_ROWS;
    let blocks = n.div_ceil(block_rows);
    // One task per thread that can really run: the tasks add their partials in order, so
    // a worker holding a late task would wait for the caller to run every earlier one.
    let tasks = pool::capacity().min(blocks).max(1);
    let per_task = blocks.div_ceil(tasks).max(1);
    let w_shape = match layout {
        WeightLayout::OutIn => [v, e],
        WeightLayout::InOut => [e, v],
    };
    // The outputs: zeros (rows whose target is ignored keep a zero gradient), from the
    // tensor pool. Each row of ∂h is written by exactly one task (rows are distinct), so
    // tasks share it through a raw pointer to disjoint rows. ∂W and ∂b: the first task
    // accumulates straight into them; each later one into its own partial, added to them
    // in task order (`order`), after every earlier task is done with them.
    // No bias, no ∂b: empty, so nothing sums into it or adds it across tasks.
    let db_len = if b.is_some() { v } else { 0 };
    let (mut dh_t, mut dw_t, mut db_t) = if grad {
        (
            Tensor::<T>::try_zeros(&[rows, e])?,
            Tensor::<T>::try_zeros(&w_shape)?,
            Tensor::<T>::try_zeros(&[db_len])?,
        )
    } else {
        (
            Tensor::scalar(T::ZERO),
            Tensor::scalar(T::ZERO),
            Tensor::scalar(T::ZERO),
        )
    };
    let fresh = "a fresh tensor is not shared";
    let dh_ptr = Shared(dh_t.try_data_mut().expect(fresh).as_mut_ptr());
    let dw_ptr = Shared(dw_t.try_data_mut().expect(fresh).as_mut_ptr());
    let db_ptr = Shared(db_t.try_data_mut().expect(fresh).as_mut_ptr());
    let order = InOrder::default();
    let scale = if n > 0 {
        T::ONE / T::from_usize(n)
    } else {
        T::ZERO
    };
    let slots: Vec<Mutex<Option<Result<Partial>>>> = (0..tasks).map(|_| Mutex::new(None)).collect();
    // Rows `j0..j1` of the weight as `[V, E]` (the classes of one slice), whatever its
    // storage (a transposed view of an `[E, V]` matrix costs nothing: the products read
    // it with its strides).
    let w_rows = |j0: usize, j1: usize| -> Result<MatView<'_, T>> {
        match layout {
            WeightLayout::OutIn => MatView::new(w, j0 * e, j1 - j0, e, e as isize, 1),
            WeightLayout::InOut => MatView::new(w, j0, j1 - j0, e, 1, v as isize),
        }
        .map_err(linalg)
    };
    pool::run(tasks, &|task| {
        let first = task * per_task * block_rows;
        let last = ((task + 1) * per_task * block_rows).min(n);
        // The first task (usually the calling thread's) accumulates ∂W and ∂b straight
        // into the zeroed outputs: the same sums, in the same order, as into a zeroed partial added
        // to zeros, without the partial's 4 MB (V = 8,192) to clear and add.
        let direct = task == 0;
        let partial_lens = if grad && !direct { v * e } else { 0 };
        let lens = [
            block_rows * e,
            block_rows * v,
            if grad { block_rows * e } else { 0 },
            partial_lens,
            if grad && !direct { db_len } else { 0 },
        ];
        // Several tasks add their ∂W/∂b partials into the totals in task order (0, 1, …),
        // whatever order they finish in: floating-point sums then do not depend on the
        // scheduling, and a run repeats bit for bit.
        let turn = (grad && tasks > 1).then(|| Turn::new(&order, task));
        let result = with_scratch::<T, _>(lens, true, |sc| -> Result<Partial> {
            let computed = (|| -> Result<Partial> {
                let mut partial = Partial { loss_sum: 0.0 };
                // SAFETY: only the first task writes the totals here; every other task
                // writes its own scratch and adds it to the totals in its turn below, which
                // comes after the first task's (taken when it has finished).
                let (dw_acc, db_acc): (&mut [T], &mut [T]) = if !grad {
                    (&mut [], &mut [])
                } else if direct {
                    unsafe {
                        (
                            std::slice::from_raw_parts_mut(dw_ptr.get(), v * e),
                            std::slice::from_raw_parts_mut(db_ptr.get(), db_len),
                        )
                    }
                } else {
                    (&mut sc.dw[..], &mut sc.db[..])
                };
                let (hb, logits, dhb) = (&mut sc.hb, &mut sc.logits, &mut sc.dhb);
                // Per row of a block: the running maximum and sum of the online softmax,
                // the target's logit, and the maximum at each slice.
                let chunks = v.div_ceil(CHUNK_COLS);
                let mut run_max = vec![T::NEG_INFINITY; block_rows];
                let mut run_sum = vec![T::ZERO; block_rows];
                let mut target_logit = vec![T::ZERO; block_rows];
                let mut slice_max = vec![T::ZERO; block_rows * chunks];
                let mut start = first;
                while start < last {
                    let end = (start + block_rows).min(last);
                    let r = end - start;
                    let block = &kept[start..end];
                    for (i, &(row, _)) in block.iter().enumerate() {
                        hb[i * e..(i + 1) * e].copy_from_slice(&h[row * e..(row + 1) * e]);
                    }
                    let hv = MatView::row_major(&hb[..r * e], r, e).map_err(linalg)?;
                    // Forward, one slice of `CHUNK_COLS` classes at a time, while the
                    // slice's logits are still in cache: `logits = h_blk·Wᵀ + b`, then per
                    // row the running maximum and `Σ exp(x − max)` (an online softmax: when
                    // a slice raises a row's maximum, the sum so far is rescaled). The
                    // exponentials are stored in place, relative to the maximum reached
                    // at their slice (kept in `slice_max`).
                    for (i, &(_, class)) in block.iter().enumerate() {
                        run_max[i] = T::NEG_INFINITY;
                        run_sum[i] = T::ZERO;
                        target_logit[i] = T::ZERO;
                        debug_assert!(class < v);
                    }
                    for c in 0..chunks {
                        let (j0, j1) = slice_range(c, v);
                        gemm(
                            MatViewMut::new(&mut logits[..r * v], j0, r, j1 - j0, v as isize, 1)
                                .map_err(linalg)?,
                            hv,
                            w_rows(j0, j1)?.transpose(),
                            T::ONE,
                            false,
                        )
                        .map_err(linalg)?;
                        for (i, &(_, class)) in block.iter().enumerate() {
                            let seg = &mut logits[i * v + j0..i * v + j1];
                            let max = match b {
                                Some(b) => add_bias_max(seg, &b[j0..j1]),
                                None => row_max(seg),
                            };
                            if max > run_max[i] || max.is_nan() {
                                // exp(−inf) = 0 when nothing was summed yet.
                                run_sum[i] *= (run_max[i] - max).exp();
                                run_max[i] = max;
                            }
                            if (j0..j1).contains(&class) {
                                target_logit[i] = seg[class - j0];
                            }
                            run_sum[i] += exp_shift_sum(seg, run_max[i]);
                            slice_max[i * chunks + c] = run_max[i];
                        }
                    }
                    for i in 0..r {
                        let lse = run_max[i].to_f64() + run_sum[i].to_f64().ln();
                        partial.loss_sum += lse - target_logit[i].to_f64();
                    }
                    if grad {
                        // Backward, slice by slice again, each slice's gradient used by both
                        // products while it is in cache:
                        // g = softmax·scale − scale·one_hot; ∂b += g; ∂W += gᵀ·h_blk
                        // (for the slice's rows of ∂W); ∂h_blk += g·W (the slice's rows of W).
                        for c in 0..chunks {
                            let (j0, j1) = slice_range(c, v);
                            for (i, &(_, class)) in block.iter().enumerate() {
                                let seg = &mut logits[i * v + j0..i * v + j1];
                                let factor = (slice_max[i * chunks + c] - run_max[i]).exp()
                                    * (scale / run_sum[i]);
                                // Without a bias there is no ∂b to sum: scaling alone
                                // leaves one pass over the slice instead of two streams.
                                if b.is_some() {
                                    scale_accumulate(seg, factor, &mut db_acc[j0..j1]);
                                } else {
                                    scale_in_place(seg, factor);
                                }
                                if (j0..j1).contains(&class) {
                                    seg[class - j0] -= scale;
                                    if b.is_some() {
                                        db_acc[class] -= scale;
                                    }
                                }
                            }
                            let gv = MatView::new(&logits[..r * v], j0, r, j1 - j0, v as isize, 1)
                                .map_err(linalg)?;
                            match layout {
                                // ∂W[j0..j1, :] += gᵀ·h_blk
                                WeightLayout::OutIn => gemm(
                                    MatViewMut::new(dw_acc, j0 * e, j1 - j0, e, e as isize, 1)
                                        .map_err(linalg)?,
                                    gv.transpose(),
                                    hv,
                                    T::ONE,
                                    true,
                                ),
                                // ∂W[:, j0..j1] += h_blkᵀ·g
                                WeightLayout::InOut => gemm(
                                    MatViewMut::new(dw_acc, j0, e, j1 - j0, v as isize, 1)
                                        .map_err(linalg)?,
                                    hv.transpose(),
                                    gv,
                                    T::ONE,
                                    true,
                                ),
                            }
                            .map_err(linalg)?;
                            gemm(
                                MatViewMut::row_major(&mut dhb[..r * e], r, e).map_err(linalg)?,
                                gv,
                                w_rows(j0, j1)?,
                                T::ONE,
                                c > 0,
                            )
                            .map_err(linalg)?;
                        }
                        for (i, &(row, _)) in block.iter().enumerate() {
                            // SAFETY: `row < rows`, each row belongs to one block of one task.
                            let dst = unsafe {
                                std::slice::from_raw_parts_mut(dh_ptr.get().add(row * e), e)
                            };
                            dst.copy_from_slice(&dhb[i * e..(i + 1) * e]);
                        }
                    }
                    start = end;
                }
                Ok(partial)
            })();
            if let Some(turn) = turn {
                turn.take(|| {
                    if !direct && computed.is_ok() {
                        // SAFETY: the totals are written only in a task's turn, one task
                        // at a time.
                        unsafe {
                            add_in_place(
                                std::slice::from_raw_parts_mut(dw_ptr.get(), v * e),
                                &sc.dw,
                            );
                            add_in_place(
                                std::slice::from_raw_parts_mut(db_ptr.get(), db_len),
                                &sc.db,
                            );
                        }
                    }
                });
            }
            computed
        });
        *slots[task].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
    });
    let mut loss_sum = 0.0;
    for slot in slots {
        let partial = slot
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .expect("every task ran")?;
        loss_sum += partial.loss_sum;
    }
    let grads = grad.then_some(Grads {
        dh: dh_t,
        dw: dw_t,
        db: db_t,
    });
    Ok(HeadOutput { loss_sum, grads })
}

/// Classes `j0..j1` of slice `c` of [`CHUNK_COLS`] (the last slice may be shorter).
fn slice_range(c: usize, v: usize) -> (usize, usize) {
    (c * CHUNK_COLS, ((c + 1) * CHUNK_COLS).min(v))
}

simd_kernel! {
    /// `acc += x`.
    fn add_in_place<T: Scalar>(acc: &mut [T], x: &[T]) {
        for (a, &x) in acc.iter_mut().zip(x) {
            *a += x;
        }
    }
}

simd_kernel! {
    /// `x *= c` and `acc += x`.
    fn scale_accumulate<T: Scalar>(x: &mut [T], c: T, acc: &mut [T]) {
        for (v, a) in x.iter_mut().zip(acc.iter_mut()) {
            *v *= c;
            *a += *v;
        }
    }
}

simd_kernel! {
    /// `x *= c`.
    fn scale_in_place<T: Scalar>(x: &mut [T], c: T) {
        for v in x.iter_mut() {
            *v *= c;
        }
    }
}

simd_kernel! {
    /// `x += b` in place, returning the largest value (eight lanes; NaN propagates).
    fn add_bias_max<T: Scalar>(x: &mut [T], b: &[T]) -> T {
        let mut lanes = [T::NEG_INFINITY; 8];
        let mut chunks = x.chunks_exact_mut(8);
        let mut bias = b.chunks_exact(8);
        for (c, bc) in (&mut chunks).zip(&mut bias) {
            for ((l, v), &bv) in lanes.iter_mut().zip(c.iter_mut()).zip(bc) {
                *v += bv;
                *l = if *v > *l || v.is_nan() { *v } else { *l };
            }
        }
        let mut m = T::NEG_INFINITY;
        for (v, &bv) in chunks.into_remainder().iter_mut().zip(bias.remainder()) {
            *v += bv;
            m = if *v > m || v.is_nan() { *v } else { m };
        }
        for &l in &lanes {
            m = if l > m || l.is_nan() { l } else { m };
        }
        m
    }
}

simd_kernel! {
    /// The largest value of a row (the kernel floor's independent lanes, so the loop
    /// vectorises; NaN propagates).
    fn row_max<T: Scalar>(x: &[T]) -> T {
        lanes::max(x)
    }
}

/// Independent accumulators of [`exp_shift_sum`] (a row of logits is `V` long: four
/// AVX-512 registers of `f32`, as the kernel floor's softmax).
const SUM_LANES: usize = lanes::LANES;

simd_kernel! {
    /// `x = exp(x − max)` in place, returning the sum. With a finite maximum every
    /// argument is ≤ 0 (or −inf), so the cheaper `exp_fast_nonpositive` serves; each
    /// block of lanes is written, then added. A NaN or infinite maximum keeps `exp_fast`
    /// (the sum, and so the loss, comes out NaN or infinite, as the composed ops').
    fn exp_shift_sum<T: Scalar>(x: &mut [T], max: T) -> T {
        if !max.is_finite() {
            let mut s = T::ZERO;
            for v in x.iter_mut() {
                *v = (*v - max).exp_fast();
                s += *v;
            }
            return s;
        }
        let mut acc = [T::ZERO; SUM_LANES];
        let mut chunks = x.chunks_exact_mut(SUM_LANES);
        for c in &mut chunks {
            for v in c.iter_mut() {
                *v = (*v - max).exp_fast_nonpositive();
            }
            for (a, &v) in acc.iter_mut().zip(c.iter()) {
                *a += v;
            }
        }
        let mut s = T::ZERO;
        for v in chunks.into_remainder() {
            *v = (*v - max).exp_fast_nonpositive();
            s += *v;
        }
        acc.iter().fold(s, |a, &l| a + l)
    }
}

/// The gradients computed in the forward pass, scaled by the incoming gradient.
struct LinearCeBackward<T: Scalar> {
    dh: Tensor<T>,
    dw: Tensor<T>,
    db: Option<Tensor<T>>,
}

impl<T: Scalar> BackwardOp<T> for LinearCeBackward<T> {
    fn name(&self) -> &'static str {
        "linear_cross_entropy"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> ferrograd_tensor::Result<Vec<Option<Tensor<T>>>> {
        let g = grad.item()?;
        // The usual incoming gradient is 1 (the loss is the end of the graph): the stored
        // tensors are handed out as they are (shared, copied on write), not copied.
        let scaled = |t: &Tensor<T>, wanted: bool| -> Option<Tensor<T>> {
            wanted.then(|| {
                if g == T::ONE {
                    t.clone()
                } else {
                    no_grad(|| t.mul_scalar(g))
                }
            })
        };
        let mut grads = vec![
            scaled(&self.dh, inputs[0].requires_grad()),
            scaled(&self.dw, inputs[1].requires_grad()),
        ];
        if let Some(db) = &self.db {
            grads.push(scaled(db, inputs[2].requires_grad()));
        }
        Ok(grads)
    }
}
