//! # ferrograd-nn
//!
//! Neural-network building blocks with PyTorch's semantics: the [`Module`] trait, layers
//! ([`Linear`], [`Sequential`], [`Embedding`], [`Dropout`], [`LayerNorm`], [`RmsNorm`],
//! activations), losses ([`MseLoss`], [`BceLoss`], [`BceWithLogitsLoss`],
//! [`CrossEntropyLoss`], [`NllLoss`]), initialisation ([`init`]) and safetensors
//! checkpoints ([`save_checkpoint`], [`load_checkpoint`]).
//!
//! The book's §1.8 model, `Sequential(Linear(2, 1), Sigmoid)` with `BCELoss`:
//!
//! ```
//! use ferrograd_nn::{BceLoss, Linear, Module, Sequential, Sigmoid};
//! use ferrograd_tensor::{Rng, Tensor};
//!
//! let mut rng = Rng::new(42);
//! let model = Sequential::new().push(Linear::new(2, 1, &mut rng)).push(Sigmoid);
//! let x = Tensor::<f32>::from([[22.0, 25.0], [47.0, 80.0]]);
//! let y = Tensor::<f32>::from([[0.0], [1.0]]);
//! let loss = BceLoss::default().forward(&model.forward(&x)?, &y)?;
//! let grads = loss.backward()?;
//! for (name, p) in model.named_parameters() {
//!     assert_eq!(grads.get(&p).unwrap().shape(), p.shape().as_slice(), "{name}");
//! }
//! # Ok::<(), ferrograd_nn::NnError>(())
//! ```

pub mod checkpoint;
pub mod error;
pub mod init;
pub mod layers;
pub mod losses;
pub mod module;

pub use checkpoint::{load_checkpoint, save_checkpoint};
pub use error::{NnError, Result};
pub use layers::activation::{Gelu, Relu, Sigmoid, Softmax, Tanh};
pub use layers::dropout::Dropout;
pub use layers::embedding::Embedding;
pub use layers::linear::Linear;
pub use layers::norm::{LayerNorm, RmsNorm, layer_norm, rms_norm};
pub use layers::sequential::Sequential;
pub use losses::Reduction;
pub use losses::bce::{BceLoss, BceWithLogitsLoss};
pub use losses::cross_entropy::{CrossEntropyLoss, NllLoss};
pub use losses::mse::MseLoss;
pub use module::{Module, prefixed};
