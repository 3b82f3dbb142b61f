//! [`TensorId`], the identity of a tensor in autograd: its own file, so that the error
//! type can name a tensor without importing the tensor type.

use std::sync::atomic::{AtomicU64, Ordering};

/// Identity of a tensor in autograd: gradients are stored under it.
///
/// Every new tensor gets a fresh id; a [`crate::Parameter`] keeps its id across updates,
/// so optimizer state keyed by it stays attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    pub(crate) fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TensorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The raw number (unique within a process run).
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for TensorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}
