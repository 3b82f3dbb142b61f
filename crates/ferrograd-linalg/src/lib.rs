//! # ferrograd-linalg
//!
//! Vectors and matrices over `f32` and `f64`, backed by [faer](https://docs.rs/faer):
//! the linear algebra of *The Hundred-Page Language Models Book* (§1.4 vectors, §1.6
//! matrices) and least squares for §1.2's closed-form linear regression.
//!
//! The [`kernel`] module holds the checked strided matrix product that the tensor crate
//! builds on, and the thread-count setting shared by the whole stack.

pub mod error;
pub mod kernel;
pub mod scalar;

pub use error::{LinalgError, Shape};
pub use kernel::{num_threads, set_num_threads};
pub use scalar::Scalar;

/// faer itself, for users who need its full API (decompositions, sparse, …).
pub use faer;
