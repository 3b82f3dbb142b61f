//! The flat buffer behind tensors, and the reuse of large buffers between steps.
//!
//! Internal to the crate: every kernel that builds a tensor lives in [`crate::ops`] and
//! takes its buffers here; only [`clear_buffer_pool`] is public (at the crate root).
//!
//! A training step allocates the same large buffers every step. Handing them back to the
//! operating system and faulting them in again costs a framework measured on this machine
//! ~40% of an MLP step, so buffers of at least [`POOL_MIN_BYTES`] return to a small
//! per-thread pool keyed by length when their last tensor is dropped, and the next
//! allocation of that length reuses one.

use ferrograd_linalg::Scalar;
use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;

/// Buffers at least this large (in bytes) are pooled; smaller ones come cheaply from
/// malloc's own free lists.
pub(crate) const POOL_MIN_BYTES: usize = 64 * 1024;
/// At most this many idle buffers of one length are kept per thread: a transformer step
/// holds dozens of activations and gradients of the same `[tokens, d]` size at once, and
/// every one not kept is faulted in from the operating system again the next step. GPT-2
/// 124M (12 blocks) has ~170 of its `[tokens, 768]` buffers alive at the peak of a step;
/// with 64 here its LoRA step faulted 6,000–12,000 pages per call. [`POOL_MAX_BYTES`]
/// bounds the idle memory whatever this is.
const POOL_MAX_PER_LEN: usize = 256;
/// At most this many bytes of idle buffers are kept per thread.
const POOL_MAX_BYTES: usize = 1 << 30;

#[derive(Default)]
struct Pool {
    buffers: HashMap<(std::any::TypeId, usize), Vec<Box<dyn Any>>>,
    bytes: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

fn pooled<T: Scalar>(len: usize) -> bool {
    len * size_of::<T>() >= POOL_MIN_BYTES
}

/// A buffer of `len` elements whose contents are unspecified (but initialised): a pooled
/// buffer of that length when one is idle on this thread, a fresh one otherwise.
///
/// The buffer of a tensor of at least [`POOL_MIN_BYTES`] returns to the pool when the
/// tensor is dropped, so the next step's allocation of the same size reuses it instead of
/// faulting fresh pages in. Every element must be written before the buffer becomes a
/// tensor.
pub(crate) fn take_buffer<T: Scalar>(len: usize) -> Vec<T> {
    reuse_pooled(len).unwrap_or_else(|| vec![T::ZERO; len])
}

/// An idle pooled buffer of exactly `len` elements, if this thread has one.
fn reuse_pooled<T: Scalar>(len: usize) -> Option<Vec<T>> {
    if !pooled::<T>(len) {
        return None;
    }
    POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        let key = (std::any::TypeId::of::<T>(), len);
        let buffer = pool.buffers.get_mut(&key).and_then(Vec::pop)?;
        pool.bytes -= len * size_of::<T>();
        buffer.downcast::<Vec<T>>().ok().map(|b| *b)
    })
    .ok()
    .flatten()
}

/// [`take_buffer`] for a length that may be too large to allocate: an error naming the
/// operation and the shape instead of an abort.
pub(crate) fn try_take_buffer<T: Scalar>(
    op: &'static str,
    shape: &[usize],
    len: usize,
) -> crate::error::Result<Vec<T>> {
    if let Some(buffer) = reuse_pooled(len) {
        return Ok(buffer);
    }
    let mut buffer = Vec::new();
    buffer
        .try_reserve_exact(len)
        .map_err(|e| crate::error::TensorError::TooLarge {
            op,
            shape: crate::error::shape_of(shape),
            reason: format!("allocation failed: {e}"),
        })?;
    buffer.resize(len, T::ZERO);
    Ok(buffer)
}

/// A zero-filled buffer of `len` elements, from the pool like [`take_buffer`].
pub(crate) fn zeroed_buffer<T: Scalar>(len: usize) -> Vec<T> {
    let mut buffer = take_buffer::<T>(len);
    if pooled::<T>(len) {
        buffer.fill(T::ZERO);
    }
    buffer
}

fn give_back<T: Scalar>(buffer: Vec<T>) {
    let len = buffer.len();
    if !pooled::<T>(len) || buffer.capacity() != len {
        return;
    }
    let bytes = len * size_of::<T>();
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.bytes + bytes > POOL_MAX_BYTES {
            return;
        }
        let list = pool
            .buffers
            .entry((std::any::TypeId::of::<T>(), len))
            .or_default();
        if list.len() < POOL_MAX_PER_LEN {
            list.push(Box::new(buffer));
            pool.bytes += bytes;
        }
    });
}

/// Releases every idle pooled buffer of the calling thread back to the allocator.
///
/// Buffers of 64 KiB and more return to a per-thread pool keyed by length when their
/// last tensor drops, so that a training step after warm-up reuses memory instead of
/// asking the operating system for it; call this after training to give that memory
/// back.
pub fn clear_buffer_pool() {
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        pool.buffers.clear();
        pool.bytes = 0;
    });
}

/// The flat element buffer shared by a tensor and its views.
#[derive(Debug)]
pub(crate) struct Storage<T: Scalar> {
    pub(crate) data: Vec<T>,
}

impl<T: Scalar> Storage<T> {
    pub(crate) fn new(data: Vec<T>) -> Self {
        Self { data }
    }
}

impl<T: Scalar> Drop for Storage<T> {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.data));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle<T: Scalar>(len: usize) -> usize {
        POOL.with(|pool| {
            pool.borrow()
                .buffers
                .get(&(std::any::TypeId::of::<T>(), len))
                .map_or(0, Vec::len)
        })
    }

    /// A GPT-2 124M step holds ~170 buffers of one length at its peak: all of them must
    /// go back to the pool for the next step, not only the first 64 (the old limit), and
    /// the next step must take them from there.
    #[test]
    fn the_pool_keeps_every_buffer_of_a_transformer_step() {
        clear_buffer_pool();
        let len = POOL_MIN_BYTES / size_of::<f32>() + 3;
        let count = 200;
        let step: Vec<Storage<f32>> = (0..count)
            .map(|_| Storage::new(take_buffer::<f32>(len)))
            .collect();
        assert_eq!(idle::<f32>(len), 0);
        drop(step);
        assert_eq!(idle::<f32>(len), count, "every buffer is kept");
        let next: Vec<Vec<f32>> = (0..count).map(|_| take_buffer::<f32>(len)).collect();
        assert_eq!(idle::<f32>(len), 0, "and every one is reused");
        assert!(next.iter().all(|b| b.len() == len));
        // Below the pooling size nothing is kept.
        drop(Storage::new(take_buffer::<f32>(len / 2)));
        assert_eq!(idle::<f32>(len / 2), 0);
        clear_buffer_pool();
    }
}
