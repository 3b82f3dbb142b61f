//! # ferrograd-tensor
//!
//! N-dimensional tensors of `f32` (the default) or `f64` with reverse-mode automatic
//! differentiation: the engine under every layer, loss and optimizer of ferrograd, as
//! §1.8 of *The Hundred-Page Language Models Book* describes PyTorch's.
//!
//! - [`Tensor`]: a cheap handle (`Arc`) to shared storage plus a [`Layout`] (shape,
//!   strides, offset); transpose, reshape, broadcast and narrow are views.
//! - Operations in [`ops`], each with its backward beside its forward: element-wise
//!   math with broadcasting, reductions, `matmul` on faer's kernels (and `matmul_add`,
//!   the product plus a bias in one pass, as a Linear layer uses it), softmax and
//!   log-softmax, `index_select`/`gather`, concat/stack/split, masks and `where`.
//! - [`autograd`]: only trainable leaves start a graph; [`Tensor::backward`] returns
//!   [`Gradients`] keyed by tensor id. [`Parameter`] is a trainable tensor that optimizers
//!   update in place. [`no_grad`] runs without recording.
//! - [`gradcheck()`]: autodiff against finite differences, for your own ops and modules.
//!
//! ```
//! use ferrograd_tensor::{Parameter, Tensor};
//!
//! // The book's logistic regression on two examples: ŷ = σ(x·wᵀ + b), loss = BCE.
//! let x = Tensor::<f32>::from([[22.0, 25.0], [47.0, 80.0]]);
//! let y = Tensor::<f32>::from([[0.0], [1.0]]);
//! let w = Parameter::new(Tensor::from([[0.1, -0.2]]));
//! let b = Parameter::new(Tensor::from([0.05]));
//!
//! let p = x.matmul(&w.tensor().t()?)?.add(&b.tensor())?.sigmoid();
//! let one = Tensor::scalar(1.0);
//! let loss = (y.mul(&p.log())? + (&one - &y).mul(&(&one - &p).log())?).mean_all().neg();
//! let grads = loss.backward()?;
//! assert_eq!(grads.get(&w).unwrap().shape(), &[1, 2]);
//! # Ok::<(), ferrograd_tensor::TensorError>(())
//! ```

pub mod autograd;
pub mod display;
pub mod error;
pub mod grad_mode;
pub mod gradcheck;
pub mod ids;
#[cfg(feature = "safetensors")]
pub mod io;
pub mod layout;
pub mod operators;
pub mod ops;
pub mod param;
pub mod rng;
pub(crate) mod storage;
pub mod tensor;
pub mod tensor_id;

pub use autograd::{BackwardOp, Gradients, HasTensorId, NoGradGuard, is_grad_enabled, no_grad};
pub use error::{Result, Shape, TensorError};
pub use ferrograd_linalg::{Scalar, num_threads, pool, set_num_threads, simd, simd_kernel};
pub use gradcheck::{GradcheckMismatch, GradcheckOptions, GradcheckReport, gradcheck};
pub use ids::IdTensor;
pub use layout::Layout;
pub use ops::attention::AttentionOptions;
pub use ops::cross_entropy::DEFAULT_IGNORE_INDEX;
pub use ops::loss::Reduction;
pub use param::{Parameter, deep_clone};
pub use rng::Rng;
pub use storage::clear_buffer_pool;
pub use tensor::{Tensor, TensorId};
