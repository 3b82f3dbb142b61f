//! # ferrograd-data
//!
//! What turns files and generated examples into batches of tensors: the book's §1.2 and
//! §1.7 datasets, its §3 `Dataset` / `DataLoader` for language models, and the
//! plumbing in between.
//!
//! - [`Dataset`]: length and one example (or a batch of examples) by index.
//!   [`TensorDataset`] holds inputs and targets in memory: regression targets are a
//!   [`Tensor`](ferrograd_tensor::Tensor), classification targets
//!   [`IdTensor`](ferrograd_tensor::IdTensor) ready for a cross-entropy loss.
//!   [`Subset`] views part of a dataset; [`collate`] stacks single examples.
//! - [`DataLoader`]: mini-batches, shuffled from a seed (the same batches on every
//!   machine, a new order each epoch), with or without the short last batch. Batches
//!   are gathered from the stored tensors; the dataset is never copied.
//! - [`split`]: seeded train/validation/test splits and k-fold indices.
//! - [`scale`]: [`StandardScaler`](scale::StandardScaler) and
//!   [`MinMaxScaler`](scale::MinMaxScaler), fitted on training data only.
//! - [`csv`]: a small CSV parser and loaders whose errors name file, line and column.
//! - [`book`]: §1.2's house prices and §1.7's buy/no-buy customers;
//!   [`generate`]: seeded noisy-sine, moons, spirals and blobs.
//! - [`text`]: lines of a file, a sliding-window next-token dataset, padding with an
//!   attention mask.
//!
//! ```
//! use ferrograd_data::{DataLoader, Dataset, book, scale::StandardScaler};
//!
//! // §1.7: age in years and income in thousands; standardize with the training data's
//! // statistics, then iterate shuffled mini-batches of 5.
//! let data = book::buy_no_buy_classes::<f32>();
//! let scaler = StandardScaler::fit(data.inputs())?;
//! let scaled = scaler.transform(data.inputs())?;
//! let data = data.with_inputs(scaled)?;
//!
//! let loader = DataLoader::new(&data, 5)?.shuffle(42);
//! for epoch in 0..3 {
//!     let mut labels = Vec::new();
//!     for batch in loader.epoch(epoch) {
//!         let batch = batch?;
//!         assert_eq!(batch.inputs.shape(), &[batch.len(), 2]);
//!         labels.extend(batch.targets.to_vec()); // class ids
//!     }
//!     // Every customer once per epoch: 8 bought, 4 did not.
//!     assert_eq!(labels.len(), 12);
//!     assert_eq!(labels.iter().sum::<i64>(), 8);
//! }
//! # Ok::<(), ferrograd_data::DataError>(())
//! ```

pub mod book;
pub mod csv;
pub mod dataset;
pub mod error;
pub mod generate;
pub mod loader;
pub mod scale;
pub mod split;
pub mod text;

pub use dataset::{Batch, Dataset, Example, Rows, Subset, TensorDataset, collate, collate_each};
pub use error::{DataError, Result};
pub use loader::{DataLoader, Epoch};
