//! # ferrograd
//!
//! The machine-learning system of *The Hundred-Page Language Models Book*, in Rust:
//! vectors and matrices, scalar and tensor automatic differentiation, layers, losses,
//! optimizers and data loading — one dependency for all of it.
//!
//! Each part is its own crate, re-exported here under a short name; [`prelude`] brings
//! the names a training loop needs into scope.
//!
//! | module | crate | what |
//! |---|---|---|
//! | [`linalg`] | `ferrograd-linalg` | `Vector`, `Matrix`, least squares (book §1.2, §1.4, §1.6) |
//! | [`scalar`] | `ferrograd-scalar` | scalar autodiff on an index tape (§1.5–1.8's computational graphs) |
//! | [`tensor`] | `ferrograd-tensor` | n-d tensors with reverse-mode autodiff |
//! | [`nn`] | `ferrograd-nn` | modules, layers, losses, checkpoints |
//! | [`optim`] | `ferrograd-optim` | SGD, Adam, AdamW, schedules, clipping |
//! | [`data`] | `ferrograd-data` | datasets, data loaders, CSV, the book's data |
//!
//! ```
//! use ferrograd::prelude::*;
//!
//! // σ(w·x + b) for one of the book's buy/no-buy examples, and its gradient.
//! let x = Tensor::<f32>::from([[22.0, 25.0]]);
//! let w = Parameter::new(Tensor::from([[0.1, -0.2]]));
//! let p = x.matmul(&w.tensor().t()?)?.sigmoid();
//! let grads = p.sum_all().backward()?;
//! assert_eq!(grads.get(&w).unwrap().shape(), &[1, 2]);
//! # Ok::<(), TensorError>(())
//! ```

pub use ferrograd_data as data;
pub use ferrograd_linalg as linalg;
pub use ferrograd_nn as nn;
pub use ferrograd_optim as optim;
pub use ferrograd_scalar as scalar;
pub use ferrograd_tensor as tensor;

/// The names most programs need: tensors, parameters, gradients and errors.
pub mod prelude {
    pub use ferrograd_tensor::{
        Gradients, Indices, Parameter, Rng, Scalar, Tensor, TensorError, no_grad,
    };
}

/// The README's examples, compiled and run as doc-tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
