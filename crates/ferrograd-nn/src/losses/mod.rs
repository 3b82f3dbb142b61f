//! Losses as modules with PyTorch's names, fields, defaults and numerics, one file per
//! concept. Each is a thin configuration over a fused op of the tensor crate, where the
//! kernels and their backward live ([`Tensor::mse_loss`](ferrograd_tensor::Tensor::mse_loss),
//! [`binary_cross_entropy`](ferrograd_tensor::Tensor::binary_cross_entropy),
//! [`binary_cross_entropy_with_logits`](ferrograd_tensor::Tensor::binary_cross_entropy_with_logits),
//! [`cross_entropy`](ferrograd_tensor::Tensor::cross_entropy),
//! [`nll_loss`](ferrograd_tensor::Tensor::nll_loss)); errors name the loss.

pub mod bce;
pub mod cross_entropy;
pub mod mse;

/// How per-element losses are combined, as PyTorch's `reduction=` argument (defined in
/// the tensor crate with the loss kernels).
pub use ferrograd_tensor::Reduction;
