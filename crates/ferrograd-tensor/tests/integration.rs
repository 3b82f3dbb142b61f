//! The integration tests of `ferrograd-tensor` as one test binary, one module per file. A
//! binary per file compiled the stack's generic code and linked it once per file
//! (for `ferrograd-lm`'s 19 files: 138 s, against 33 s as one binary).
//!
//! `attention.rs`, `behaviour.rs`, `parallel_broadcast.rs`
//! change the process-wide thread count, so they stay binaries of their own: no
//! other test sees a thread count it did not choose.

mod backward_formulas;
mod freeing_and_freezing;
mod gradients;
mod ids;
mod matmul_add;
mod narrow_accumulate;
mod numerics;
mod pytorch_forward;
