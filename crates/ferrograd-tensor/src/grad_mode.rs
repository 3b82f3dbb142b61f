//! Whether operations record a graph: PyTorch's grad mode, per thread.
//!
//! Recording is on by default; [`no_grad`] and [`NoGradGuard`] switch it off for
//! inference and evaluation, so no graph is built and nothing is kept for backward.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True unless recording is switched off on this thread by [`no_grad`] / [`NoGradGuard`].
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Switches graph recording off on this thread until dropped (PyTorch's
/// `torch.no_grad()`). Guards nest.
#[derive(Debug)]
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Turns recording off; the previous state returns when the guard drops.
    pub fn new() -> Self {
        let previous = GRAD_ENABLED.with(|g| g.replace(false));
        Self { previous }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Runs `f` without recording a graph: for inference and evaluation.
///
/// ```
/// use ferrograd_tensor::{no_grad, Tensor};
/// let w = Tensor::from_vec(vec![1.0f32, 2.0], &[2])?.set_requires_grad(true);
/// let y = no_grad(|| w.mul_scalar(3.0));
/// assert!(!y.requires_grad());
/// # Ok::<(), ferrograd_tensor::TensorError>(())
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}
