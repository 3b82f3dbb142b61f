//! # ferrograd-nn
//!
//! Neural-network building blocks with PyTorch's semantics and numerics, on
//! [`ferrograd_tensor`]:
//!
//! - the module model: [`Module`] (structure: parameters named from the fields, tied
//!   weights, freezing, train/eval mode) and [`Forward`] (computation from any input:
//!   a tensor, token ids, ids with a cache); [`Layer`] is a tensor-to-tensor module;
//! - layers: [`Linear`], [`Sequential`], [`Embedding`], [`Dropout`], [`LayerNorm`],
//!   [`RmsNorm`], and activations [`Relu`], [`Sigmoid`], [`Tanh`], [`Gelu`],
//!   [`GeluTanh`], [`Silu`], [`Softmax`], [`LogSoftmax`] — with function forms in
//!   [`functional`];
//! - recurrent layers: [`ElmanRnn`] (stacked [`ElmanCell`]s over batch-first sequences,
//!   a fused forward and backward over time) and the chapter-3 notebook's
//!   [`initialize_weights`];
//! - losses with PyTorch's reductions ([`Reduction`]): [`MseLoss`], [`BceLoss`],
//!   [`BceWithLogitsLoss`], [`CrossEntropyLoss`] (with `ignore_index` and label
//!   smoothing), [`NllLoss`];
//! - initialisation with PyTorch's conventions ([`init`]);
//! - safetensors checkpoints that PyTorch reads and writes ([`save_checkpoint`],
//!   [`load_checkpoint`]);
//! - [`gradcheck_module`], the gradient checker for a module's parameters.
//!
//! nn holds layers and losses only: the computation is the tensor crate's ops.
//! Cross-entropy, layer norm, RMS norm, the embedding lookup and every loss are fused
//! ops there (one pass each way, with their own backward and kernels), and GELU, SiLU
//! and the other activations are its element-wise ops; [`functional`] is a set of thin
//! PyTorch-named wrappers over them. All gradients are checked against finite
//! differences and against PyTorch in the tests.
//!
//! The book's §1.8 model, `Sequential(Linear(2, 1), Sigmoid)` with `BCELoss`, one
//! forward and backward pass:
//!
//! ```
//! use ferrograd_nn::{BceLoss, Forward, Linear, Module, Sequential, Sigmoid};
//! use ferrograd_tensor::{Rng, Tensor};
//!
//! let mut rng = Rng::new(42);
//! let model = Sequential::new().push(Linear::new(2, 1, &mut rng)).push(Sigmoid);
//! let x = Tensor::<f32>::from([[22.0, 25.0], [47.0, 80.0]]);
//! let y = Tensor::<f32>::from([[0.0], [1.0]]);
//! let loss = BceLoss::default().forward(&model.forward(&x)?, &y)?;
//! let grads = loss.backward()?; // PyTorch's loss.backward(); no zero_grad needed
//! for (name, p) in model.named_parameters() {
//!     // "0.weight" [1, 2] and "0.bias" [1], as PyTorch names them
//!     assert_eq!(grads.get(&p).unwrap().shape(), p.shape().as_slice(), "{name}");
//! }
//! # Ok::<(), ferrograd_nn::NnError>(())
//! ```

pub mod checkpoint;
pub mod error;
pub mod functional;
pub mod gradcheck;
pub mod init;
pub mod layers;
pub mod losses;
pub mod module;
pub mod state_dict;

pub use checkpoint::{load_checkpoint, save_checkpoint};
pub use error::{NnError, Result};
pub use functional::{layer_norm, rms_norm};
pub use gradcheck::gradcheck_module;
pub use layers::activation::{Gelu, GeluTanh, LogSoftmax, Relu, Sigmoid, Silu, Softmax, Tanh};
pub use layers::attention::{AttentionHead, MultiHeadAttention};
pub use layers::conv1d::{Conv1d, conv1d};
pub use layers::decoder::{BookRmsNorm, DecoderBlock, PositionwiseMlp};
pub use layers::dropout::Dropout;
pub use layers::embedding::Embedding;
pub use layers::kv_cache::{KvCache, LayerKvCache};
pub use layers::linear::Linear;
pub use layers::lora::{Lora, LoraAdapter, LoraBase, LoraConfig, LoraHost, LoraSlot, apply_lora};
pub use layers::norm::{LayerNorm, RmsNorm};
pub use layers::rnn::{ElmanCell, ElmanRnn, RnnOutput, initialize_weights};
pub use layers::rope::{Rope, RopeStyle};
pub use layers::sequential::Sequential;
pub use losses::Reduction;
pub use losses::bce::{BceLoss, BceWithLogitsLoss};
pub use losses::cross_entropy::{CrossEntropyLoss, NllLoss};
pub use losses::mse::MseLoss;
pub use module::{Forward, Layer, Module, Visitor, named_parameters_with_aliases, visit_modules};
pub use state_dict::{LoadOptions, LoadReport, ShapeMismatch, StateDict, load_state_dict};
