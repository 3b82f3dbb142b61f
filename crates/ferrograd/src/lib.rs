//! # ferrograd
//!
//! The machine-learning system of *The Hundred-Page Language Models Book*, in Rust:
//! vectors and matrices, scalar and tensor automatic differentiation, layers, losses,
//! optimizers and data loading — one dependency for all of it.
//!
//! Each part is its own crate, re-exported here under a short name; [`prelude`] brings
//! the names a training loop needs into scope. The book's chapter 1 runs as a program on
//! this crate (`cargo run --release -p ferrograd-book -- chapter1`), and `docs/chapter1.md`
//! walks through it section by section; `examples/train_mlp.rs` trains a small network on
//! a non-linear dataset.
//!
//! | module | crate | what |
//! |---|---|---|
//! | [`linalg`] | `ferrograd-linalg` | `Vector`, `Matrix`, least squares (book §1.2, §1.4, §1.6) |
//! | [`scalar`] | `ferrograd-scalar` | scalar autodiff on an index tape (§1.5–1.8's computational graphs) |
//! | [`tensor`] | `ferrograd-tensor` | n-d tensors with reverse-mode autodiff |
//! | [`nn`] | `ferrograd-nn` | modules, layers, losses, checkpoints |
//! | [`optim`] | `ferrograd-optim` | SGD, Adam, AdamW, schedules, clipping |
//! | [`data`] | `ferrograd-data` | datasets, data loaders, CSV, the book's data |
//! | [`tokenize`] | `ferrograd-tokenize` | bag of words, the book's BPE, GPT-2's byte-level BPE (chapter 2) |
//! | [`lm`] | `ferrograd-lm` | language models: n-gram counts, word embeddings, perplexity, ROUGE (chapter 2) |
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
pub use ferrograd_lm as lm;
pub use ferrograd_nn as nn;
pub use ferrograd_optim as optim;
pub use ferrograd_scalar as scalar;
pub use ferrograd_tensor as tensor;
pub use ferrograd_tokenize as tokenize;

/// The names a training loop needs: tensors, parameters and gradients; modules, layers and
/// losses; optimizers; datasets and data loaders; and their errors.
///
/// ```
/// use ferrograd::prelude::*;
///
/// // The book's §1.8 loop on its buy/no-buy customers, through a DataLoader.
/// let data = ferrograd::data::book::buy_no_buy::<f32>();
/// let loader = DataLoader::new(&data, 12)?;
/// let model = Sequential::new().push(Linear::new(2, 1, &mut Rng::new(0))).push(Sigmoid);
/// let criterion = BceLoss::default();
/// let mut optimizer = Sgd::new(model.parameters(), SgdConfig::new(0.001))?;
/// for epoch in 0..3 {
///     for batch in loader.epoch(epoch) {
///         let batch = batch?;
///         let loss = criterion.forward(&model.forward(&batch.inputs)?, &batch.targets)?;
///         optimizer.step(&loss.backward_free()?)?; // frees the graph: in-place update
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod prelude {
    pub use ferrograd_data::{Batch, DataError, DataLoader, Dataset, TensorDataset};
    pub use ferrograd_nn::{
        BceLoss, BceWithLogitsLoss, CrossEntropyLoss, Dropout, Embedding, Forward, Layer, Linear,
        Module, MseLoss, NllLoss, NnError, Relu, Sequential, Sigmoid, Tanh, Visitor,
    };
    pub use ferrograd_optim::{
        Adam, AdamConfig, AdamW, AdamWConfig, OptimError, Optimizer, Sgd, SgdConfig,
    };
    pub use ferrograd_tensor::{
        Gradients, IdTensor, Parameter, Rng, Scalar, Tensor, TensorError, no_grad,
    };
}

/// The README's examples, compiled and run as doc-tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
