//! The flat buffer behind tensors, and the reuse of large buffers between steps.
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
pub const POOL_MIN_BYTES: usize = 64 * 1024;
/// At most this many idle buffers of one length are kept per thread.
const POOL_MAX_PER_LEN: usize = 8;
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

/// A buffer of `len` elements whose contents are unspecified (but initialised).
pub(crate) fn take_buffer<T: Scalar>(len: usize) -> Vec<T> {
    if pooled::<T>(len) {
        let reused = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            let key = (std::any::TypeId::of::<T>(), len);
            let buffer = pool.buffers.get_mut(&key).and_then(Vec::pop)?;
            pool.bytes -= len * size_of::<T>();
            buffer.downcast::<Vec<T>>().ok().map(|b| *b)
        });
        if let Ok(Some(buffer)) = reused {
            return buffer;
        }
    }
    vec![T::ZERO; len]
}

/// A zero-filled buffer of `len` elements.
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
