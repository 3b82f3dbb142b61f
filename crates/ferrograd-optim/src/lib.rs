//! # ferrograd-optim
//!
//! Optimizers, learning-rate schedules and gradient clipping for ferrograd, with
//! PyTorch's update formulas, defaults and numerics: the same run from the same weights
//! gives the same numbers (to a few units in the last place of `f32`).
//!
//! - [`Sgd`] (momentum, dampening, Nesterov, weight decay, maximize), [`Adam`] and
//!   [`AdamW`] (AMSGrad, maximize): `torch.optim.SGD`, `Adam`, `AdamW`.
//! - The [`Optimizer`] trait: `step`, learning rate get/set, and state save/restore
//!   ([`Optimizer::state_dict`] / [`Optimizer::load_state_dict`], and to a safetensors
//!   file with [`save_state`] / [`load_state`], or to bytes in memory with
//!   [`save_state_bytes`] / [`load_state_bytes`]) so that a resumed run is bit-identical
//!   to an uninterrupted one.
//! - Schedules: [`StepLr`], [`ExponentialLr`], [`WarmupCosineLr`], driven by an
//!   [`LrScheduler`].
//! - Clipping: [`clip_grad_norm`] / [`ClipGradNorm`] and [`clip_grad_value`], on a
//!   [`Gradients`](ferrograd_tensor::Gradients) store.
//!
//! ## The book's PyTorch loop, in ferrograd
//!
//! The book trains with `zero_grad()` / forward / loss / `backward()` / `step()`. In
//! ferrograd `backward()` *returns* the gradients (a [`Gradients`](ferrograd_tensor::Gradients)
//! store keyed by parameter id) instead of accumulating them into `.grad`, so there is
//! nothing to zero, and `step` takes the store:
//!
//! | PyTorch | ferrograd |
//! |---|---|
//! | `optimizer = optim.SGD(model.parameters(), lr=0.001)` | `let mut optimizer = Sgd::new(params, SgdConfig::new(0.001))?;` |
//! | `optimizer.zero_grad()` | nothing: each backward returns a fresh store |
//! | `loss = criterion(model(X), y)` | `let loss = …tensor ops on w.tensor(), b.tensor()…;` |
//! | `loss.backward()` | `let grads = loss.backward_free()?;` (frees the graph: in-place updates) |
//! | `clip_grad_norm_(model.parameters(), 1.0)` | `clip_grad_norm(&mut grads, 1.0)?;` |
//! | `optimizer.step()` | `optimizer.step(&grads)?;` |
//! | `scheduler.step()` | `scheduler.step(&mut optimizer)?;` |
//! | `torch.save(optimizer.state_dict(), f)` | `optimizer.save(f)?;` (or [`save_state`]) |
//! | `optimizer.load_state_dict(torch.load(f))` | `optimizer.load(f)?;` (or [`load_state`]) |
//!
//! The book's logistic regression (`Linear(2, 1)`, `Sigmoid`, `BCELoss`, SGD), written
//! with tensor operations:
//!
//! ```
//! use ferrograd_optim::{Optimizer, Sgd, SgdConfig};
//! use ferrograd_tensor::{Parameter, Tensor};
//!
//! let x = Tensor::<f32>::from([[22.0, 25.0], [25.0, 35.0], [47.0, 80.0], [52.0, 95.0]]);
//! let y = Tensor::<f32>::from([[0.0], [0.0], [1.0], [1.0]]);
//! let w = Parameter::new(Tensor::from([[0.01, -0.02]]));        // Linear(2, 1).weight
//! let b = Parameter::new(Tensor::from([0.0]));                  // Linear(2, 1).bias
//! let mut optimizer = Sgd::new([w.clone(), b.clone()], SgdConfig::new(0.001))?;
//!
//! let bce = |p: &Tensor<f32>| -> Result<Tensor<f32>, ferrograd_tensor::TensorError> {
//!     let one = Tensor::scalar(1.0);
//!     Ok((y.mul(&p.log())? + (&one - &y).mul(&(&one - p).log())?).mean_all().neg())
//! };
//! let mut losses = vec![];
//! for _epoch in 0..500 {
//!     // optimizer.zero_grad(): nothing to do
//!     let outputs = x.matmul(&w.tensor().t()?)?.add(&b.tensor())?.sigmoid(); // model(X)
//!     let loss = bce(&outputs)?;                                              // criterion
//!     let grads = loss.backward_free()?;                                      // loss.backward()
//!     optimizer.step(&grads)?;                                                // optimizer.step()
//!     losses.push(loss.item()?);
//! }
//! assert!(losses[499] < losses[0]);
//! # Ok::<(), ferrograd_optim::OptimError>(())
//! ```
//!
//! ## Parameters, state and optimising in parts
//!
//! An optimizer is built over a list of [`Parameter`](ferrograd_tensor::Parameter)s
//! (shared handles: the model keeps its own clones) and keeps one state entry per
//! parameter, found by the parameter's id when it looks up gradients. A parameter that
//! has no gradient in the store is skipped, its state untouched (PyTorch skips
//! `p.grad is None`). There are no parameter groups: for different hyper-parameters on
//! different parameters (say, no weight decay on biases), build one optimizer per subset
//! and step each with the same store; each steps only its own parameters, so this gives
//! exactly the numbers of PyTorch's parameter groups. A parameter may appear once per
//! optimizer; putting it in two optimizers updates it twice, as in PyTorch.
//!
//! ## Numerics
//!
//! Hyper-parameters are `f64` (Python floats); each update follows PyTorch's CPU
//! implementation (`foreach=False`, the CPU default) operation by operation, rounding the
//! same constants to the element type at the same places. PyTorch's vectorised CPU
//! kernels fuse some multiply-adds (FMA); ferrograd's loops do not (a fused multiply-add
//! is a library call per element on baseline x86-64), which makes results differ by at
//! most a few units in the last place per step. The tests replay PyTorch runs to 1e-5
//! relative over 15-20 steps (measured: below 1e-6).
//!
//! ## Performance
//!
//! Each step is one pass over each parameter: gradient, weights and every state buffer
//! are read and written once, in a slice loop specialised (by const generics) for the
//! options in use, so that it vectorises. The loops go through the kernel floor of
//! `ferrograd_linalg::cpu`: compiled for AVX-512, AVX2 and the baseline and chosen at run
//! time (`simd_kernel!`, capped by `FERROGRAD_SIMD`), and split over threads for large
//! parameters by its partitioner. Every width does the same IEEE operations, so the bits
//! are the same either way. An Adam step over 1M `f32` parameters takes 0.5-0.8 ms on one
//! core here (`benches/optim.rs`).
//!
//! [`Parameter::update`](ferrograd_tensor::Parameter::update) writes in place only when
//! no graph still holds the old value; otherwise it copies into a fresh (pooled) buffer
//! first. Get the gradients with `loss.backward_free()`, which releases the graph, to
//! avoid that copy.

mod adam;
mod clip;
mod error;
mod io;
mod optimizer;
mod schedule;
mod sgd;
mod state;

pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use clip::{ClipGradNorm, clip_grad_norm, clip_grad_value, grad_norm};
pub use error::{OptimError, Result};
pub use io::{load_state, load_state_bytes, save_state, save_state_bytes};
pub use optimizer::Optimizer;
pub use schedule::{ExponentialLr, LrSchedule, LrScheduler, StepLr, WarmupCosineLr};
pub use sgd::{Sgd, SgdConfig};
pub use state::StateDict;
