//! Workloads measured side by side with PyTorch (`cargo xtask bench-compare`) and by the
//! criterion benches of this crate. Each one mirrors a function of
//! `benches/pytorch/workloads.py`: same shapes, initialisation scheme, optimizer and
//! thread count.
//!
//! ```
//! use ferrograd_benches::workloads;
//! let mut one_product = workloads::build("matmul_64").expect("a known workload");
//! one_product(); // what `bench-runner matmul_64` times, call after call
//! assert_eq!(workloads::unit("matmul_64"), "product");
//! ```

pub mod workloads;
