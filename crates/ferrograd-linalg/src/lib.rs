//! # ferrograd-linalg
//!
//! Vectors and matrices over `f32` and `f64`, backed by [faer](https://docs.rs/faer):
//! the linear algebra of *The Hundred-Page Language Models Book* (§1.4 vectors, §1.6
//! matrices) and least squares for §1.2's closed-form linear regression.
//!
//! - [`Vector`]: dot product, sum, difference, scalar multiple and division, Hadamard
//!   product, norm, cosine similarity (eq. 1.5), unit vector, zero vector.
//! - [`Matrix`]: sum, product, transpose, matrix-vector product, identity, construction
//!   from row-major data or from rows, indexing, `Display` like a matrix.
//! - [`Matrix::lstsq`], [`fit_line`]: least squares by column-pivoted QR, with
//!   rank-deficient problems reported as errors.
//! - [`kernel`]: the checked strided matrix product that the tensor crate builds on.
//! - [`cpu`]: the kernel floor of the whole stack — threads, the worker pool, the one
//!   partitioner, run-time SIMD dispatch ([`simd_kernel!`]), lane reductions with the
//!   NaN rule, and the parallel thresholds.
//!
//! Every operation that can fail on its input returns `Result<_, LinalgError>`, with the
//! operation and the shapes in the message; operators (`&a + &b`, `&a * &b`, `&a * &x`)
//! panic with that same message, and each has a fallible twin (`try_add`, `matmul`,
//! `matvec`). No faer panic is reachable from the public API: shapes are checked first.
//! With the `serde` feature, both types serialise as `{ "nrows", "ncols", "data" }`.
//!
//! # Example: the book's §1.4 and §1.2
//!
//! ```
//! use ferrograd_linalg::{fit_line, LinalgError, Vector};
//!
//! // §1.4: cosine similarity (eq. 1.5) of two word vectors.
//! let x = Vector::from([2.0f32, 3.0, 1.0]);
//! let y = Vector::from([4.0f32, 6.0, 2.0]);
//! let cos = x.cosine_similarity(&y)?;            // parallel vectors: cos θ = 1
//! assert!((cos - 1.0).abs() < 1e-6);
//! assert!((x.unit_vector()?.norm() - 1.0).abs() < 1e-6);
//! assert!(matches!(Vector::<f32>::zeros(3).unit_vector(), Err(LinalgError::ZeroVector { .. })));
//!
//! // §1.2: the closed-form fit of price = w·area + b to three houses.
//! let area = [150.0f64, 200.0, 260.0];
//! let price = [200.0f64, 600.0, 500.0];
//! let line = fit_line(&area, &price)?;
//! assert!((line.w - 2.5824175824175835).abs() < 1e-12);
//! assert!((line.b + 91.75824175824197).abs() < 1e-10);
//! println!("w* = {:.2}, b* = {:.2}", line.w, line.b); // w* = 2.58, b* = -91.76
//! println!("MSE = {:.2}", line.mse(&area, &price)?);  // MSE = 15402.93
//! # Ok::<(), LinalgError>(())
//! ```

pub mod cpu;
mod display;
pub mod error;
pub mod kernel;
pub mod lstsq;
mod matrix;
mod ops;
pub mod scalar;
#[cfg(feature = "serde")]
mod serde_impl;
mod small_gemm;
mod vector;

/// The worker pool, at its former path (see [`cpu::pool`]).
pub use cpu::pool;
/// Run-time SIMD dispatch, at its former path (see [`cpu::simd`]).
pub use cpu::simd;
pub use cpu::threads::{num_threads, set_num_threads};
pub use error::{LinalgError, Shape};
pub use lstsq::{
    LineFit, default_rank_tolerance, fit_line, mean_squared_error, solve_least_squares,
};
pub use matrix::Matrix;
pub use scalar::Scalar;
pub use vector::Vector;

/// faer itself, for users who need its full API (decompositions, sparse, …).
pub use faer;
