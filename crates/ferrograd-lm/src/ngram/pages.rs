//! [`PageVec`]: the count model's arrays, in memory the kernel can back with 2 MiB pages.
//!
//! A count model of a million tokens is about 40 MB of arrays written once, in order.
//! Backed by ordinary 4 KiB pages, every page costs a page fault on its first write. An
//! array of 512 KiB or more is therefore allocated as whole 2 MiB pages on a 2 MiB
//! boundary, so that where transparent huge pages are always on the kernel can back it
//! 2 MiB at a time; the price is up to one partly used 2 MiB page of address space per
//! array. It is deliberately *not* advised with `MADV_HUGEPAGE`: under the kernel's
//! default defrag policy ("madvise") that makes the first touch compact memory
//! synchronously, which stalled counting by 0.04–0.12 s (on 0.05 s of work) whenever
//! another process had just fragmented memory — every time, when the runs alternated
//! with the notebook's Python. (A `Vec` cannot be given that alignment: it frees its
//! memory with the element type's alignment.) Everything else is
//! an ordinary vector of `u32` with a capacity fixed when it is made.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::ptr::NonNull;

/// Huge-page size.
const HUGE: usize = 2 << 20;

/// Arrays of at least this many bytes are made of whole huge pages: at most 3/4 of a huge
/// page is more than they would otherwise touch.
const LARGE: usize = HUGE / 4;

/// A vector of `u32` with a fixed capacity whose memory, when it is at least 512 KiB, is
/// whole 2 MiB pages on a 2 MiB boundary (see the module docs). Dereferences to its `len` elements.
pub(super) struct PageVec {
    ptr: NonNull<u32>,
    len: usize,
    cap: usize,
}

// SAFETY: a `PageVec` owns its memory exclusively, like a `Vec<u32>`.
unsafe impl Send for PageVec {}
// SAFETY: shared references only read, like `&Vec<u32>`.
unsafe impl Sync for PageVec {}

impl PageVec {
    /// The layout of `cap` elements (`cap > 0`): from [`LARGE`] bytes on, whole 2 MiB
    /// pages on a 2 MiB boundary (the kernel only uses a huge page for an aligned 2 MiB
    /// that lies wholly inside the allocation; untouched pages cost nothing).
    fn layout(cap: usize) -> Layout {
        let bytes = cap
            .checked_mul(size_of::<u32>())
            .expect("PageVec: capacity overflow");
        let layout = if bytes >= LARGE {
            Layout::from_size_align(bytes.next_multiple_of(HUGE), HUGE)
        } else {
            Layout::from_size_align(bytes, align_of::<u32>())
        };
        layout.expect("PageVec: capacity overflow")
    }

    /// An empty vector with room for `cap` elements (not touched: pages are faulted in
    /// as they are written).
    pub(super) fn with_capacity(cap: usize) -> Self {
        if cap == 0 {
            return Self::default();
        }
        let layout = Self::layout(cap);
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<u32>()) else {
            handle_alloc_error(layout)
        };
        Self { ptr, len: 0, cap }
    }

    /// A copy of `values`, with no spare capacity.
    pub(super) fn from_slice(values: &[u32]) -> Self {
        let mut v = Self::with_capacity(values.len());
        v.extend_from_slice(values);
        v
    }

    /// `len` zeros.
    pub(super) fn zeros(len: usize) -> Self {
        let mut v = Self::with_capacity(len);
        // SAFETY: `len <= cap`; the elements are initialised just below.
        unsafe { std::ptr::write_bytes(v.ptr.as_ptr(), 0, len) };
        v.len = len;
        v
    }

    /// Appends `value`.
    ///
    /// # Panics
    /// When the vector is full (its capacity is fixed).
    #[inline(always)]
    pub(super) fn push(&mut self, value: u32) {
        assert!(self.len < self.cap, "PageVec: push past the capacity");
        // SAFETY: `len < cap`, so the slot lies inside the allocation.
        unsafe { self.ptr.as_ptr().add(self.len).write(value) };
        self.len += 1;
    }

    /// Appends `values`.
    ///
    /// # Panics
    /// When they do not fit.
    pub(super) fn extend_from_slice(&mut self, values: &[u32]) {
        assert!(
            values.len() <= self.cap - self.len,
            "PageVec: extend past the capacity"
        );
        // SAFETY: the destination `len..len + values.len()` lies inside the allocation,
        // and a slice borrowed from elsewhere cannot overlap this vector's spare room.
        unsafe {
            std::ptr::copy_nonoverlapping(
                values.as_ptr(),
                self.ptr.as_ptr().add(self.len),
                values.len(),
            );
        }
        self.len += values.len();
    }

    /// Bytes of the elements held.
    pub(super) fn bytes(&self) -> usize {
        self.len * size_of::<u32>()
    }
}

impl Default for PageVec {
    fn default() -> Self {
        Self {
            ptr: NonNull::dangling(),
            len: 0,
            cap: 0,
        }
    }
}

impl Drop for PageVec {
    fn drop(&mut self) {
        if self.cap > 0 {
            // SAFETY: allocated by `with_capacity` with this very layout.
            unsafe { dealloc(self.ptr.as_ptr().cast(), Self::layout(self.cap)) };
        }
    }
}

impl std::ops::Deref for PageVec {
    type Target = [u32];
    #[inline(always)]
    fn deref(&self) -> &[u32] {
        // SAFETY: the first `len` elements are initialised; a dangling, aligned pointer is
        // valid for an empty slice.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for PageVec {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [u32] {
        // SAFETY: as in `deref`, and `&mut self` is exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Clone for PageVec {
    fn clone(&self) -> Self {
        Self::from_slice(self)
    }
}

impl std::fmt::Debug for PageVec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl From<&[u32]> for PageVec {
    fn from(values: &[u32]) -> Self {
        Self::from_slice(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_is_pushed_at_any_size() {
        for cap in [
            0usize,
            1,
            7,
            LARGE / 4 - 1,
            LARGE / 4,
            HUGE / 4 + 3,
            3 * HUGE / 4,
        ] {
            let mut v = PageVec::with_capacity(cap);
            for i in 0..cap {
                v.push(i as u32 ^ 0x5555);
            }
            assert_eq!(v.len(), cap);
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32 ^ 0x5555));
            if cap * 4 >= LARGE {
                assert_eq!(v.as_ptr() as usize % HUGE, 0, "cap {cap}");
            }
            let w = v.clone();
            assert_eq!(&w[..], &v[..]);
            assert_eq!(w.bytes(), 4 * cap);
        }
        let z = PageVec::zeros(1000);
        assert!(z.len() == 1000 && z.iter().all(|&x| x == 0));
        let mut e = PageVec::with_capacity(5);
        e.extend_from_slice(&[1, 2]);
        e.extend_from_slice(&[3, 4, 5]);
        assert_eq!(&e[..], &[1, 2, 3, 4, 5]);
        assert_eq!(format!("{:?}", PageVec::from(&[9u32, 8][..])), "[9, 8]");
    }

    #[test]
    #[should_panic(expected = "past the capacity")]
    fn a_full_vector_refuses_more() {
        let mut v = PageVec::with_capacity(1);
        v.push(1);
        v.push(2);
    }
}
