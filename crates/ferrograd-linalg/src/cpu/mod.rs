//! The kernel floor: everything about running numeric loops fast on this CPU, in one
//! place, for every crate of the stack.
//!
//! - [`threads`]: how many threads kernels may use ([`num_threads`],
//!   [`set_num_threads`], `FERROGRAD_NUM_THREADS`);
//! - [`pool`]: the spinning worker pool that runs parallel loops, the calling thread
//!   included;
//! - [`partition`]: the one partitioner that cuts a loop's output into ranges, chunks or
//!   blocks of rows for the pool;
//! - [`thresholds`]: the sizes from which matrix products, element-wise kernels, row
//!   kernels and optimizer updates go parallel;
//! - [`simd`]: run-time choice of AVX-512, AVX2 or the baseline for a loop
//!   ([`simd_kernel!`](crate::simd_kernel), `FERROGRAD_SIMD`), const-generic kernels
//!   included;
//! - [`lanes`]: row reductions in independent lanes (sum, dot, maximum, exponentials and
//!   their sum), with the stack's one NaN rule: NaN propagates, as in PyTorch.
//!
//! `ferrograd-tensor` (element-wise ops, softmax, norms, cross-entropy, matrix products),
//! `ferrograd-nn` (through the tensor ops) and `ferrograd-optim` (Adam, AdamW, SGD) all
//! run on it: there is no second partitioner, pool or dispatch in them. (Least squares,
//! [`crate::lstsq`], lets faer split its QR factorisation over rayon's threads, capped at
//! [`threads::num_threads`]: it is one call, not a training step's hundreds of kernels.)
//!
//! Files import each other downwards only: `threads` ← `pool` ← `partition`;
//! `thresholds` reads `threads`; `simd` and `lanes` stand alone; the matrix product
//! ([`crate::kernel`]) sits above all of them.

pub mod lanes;
pub mod partition;
pub mod pool;
pub mod simd;
pub mod threads;
pub mod thresholds;

pub use threads::{THREADS_ENV, num_threads, set_num_threads};
