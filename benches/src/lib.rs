//! Workloads measured side by side with PyTorch (`cargo xtask bench-compare`) and by the
//! criterion benches of this crate. Each one mirrors a function of
//! `benches/pytorch/workloads.py`: same shapes, initialisation scheme, optimizer and
//! thread count.

pub mod workloads;
