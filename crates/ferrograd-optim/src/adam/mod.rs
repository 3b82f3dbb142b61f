//! Adam and AdamW: PyTorch's `torch.optim.Adam` and `torch.optim.AdamW`, one
//! implementation with two configurations.
//!
//! They differ only in how weight decay is applied (added to the gradient for [`Adam`],
//! decoupled `θ ← θ − γ·λ·θ` for [`AdamW`]) and in the default weight decay (0 for Adam,
//! 0.01 for AdamW), as in PyTorch. One file per concept:
//!
//! - `config.rs`: [`AdamConfig`] and [`AdamWConfig`], the two configurations;
//! - `update.rs`: the update kernel (one pass per parameter, SIMD-dispatched and
//!   specialised per combination of options, split over threads when large);
//! - `optimizer.rs`: the shared implementation, its state and state dict, and the two
//!   public optimizers.

mod config;
mod optimizer;
mod update;

pub use config::{AdamConfig, AdamWConfig};
pub use optimizer::{Adam, AdamW};
