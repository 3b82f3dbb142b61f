//! # ferrograd-book
//!
//! The examples of *The Hundred-Page Language Models Book* (A. Burkov, 2025), runnable on
//! ferrograd: the numbers the book prints and the figures it draws, chapter by chapter.
//!
//! ```text
//! cargo run --release -p ferrograd-book -- all                          # every chapter
//! cargo run --release -p ferrograd-book -- chapter1                     # every section of one
//! cargo run --release -p ferrograd-book -- chapter1 linear-regression   # one section
//! cargo run --release -p ferrograd-book -- chapter2 count-lm --corpus my.txt -n 4
//! cargo run --release -p ferrograd-book -- chapter1 --json --out figs
//! ```
//!
//! The library holds one function per example, returning a struct of its numbers (so
//! tests and other programs can call them), and one function per figure; the binary
//! (`src/main.rs`) parses the command line, prints and writes the PNGs.
//!
//! | section | numbers | figures |
//! |---|---|---|
//! | §1.2 linear regression | [`sections::linear_regression::closed_form`], [`gradient_descent`](sections::linear_regression::gradient_descent) | `linear_regression.png`, `mse_surface.png`, `gradient_descent_loss.png` |
//! | §1.4 vectors | [`sections::vectors::vectors`] | `vectors.png` |
//! | §1.5 activations, non-linear fits | [`sections::activations::activations`] | `activations.png`, `nonlinear_fits.png` |
//! | §1.6 matrices | [`sections::matrices::matrices`] | — |
//! | §1.7 logistic regression | [`sections::logistic::logistic_regression`] | `logistic_loss.png`, `logistic_sigmoid.png` |
//! | §1.8 autograd | [`sections::autograd::autograd`] | `autograd_loss.png` |
//!
//! [`run_section`] runs one section end to end (numbers, text, JSON, figures); the
//! [`guide`] walks through the chapter with the code of each section.
//!
//! Chapter 2 lives in [`chapter2`]:
//!
//! | section | numbers | figures and files |
//! |---|---|---|
//! | §2.1 bag of words | [`chapter2::bag_of_words::bag_of_words`] | `bow_loss.png`, `bow_confusion.png` |
//! | §2.2 word embeddings | [`chapter2::embeddings::word_embeddings`] | `word_embeddings_pca.png`, `word_vectors.txt` |
//! | §2.4–2.5 count-based language model | [`chapter2::count_lm::book_example`], [`count_lm`](chapter2::count_lm::count_lm) | `count_lm_perplexity.png` |
//! | §2.6 evaluation | [`chapter2::evaluation::evaluation`] | `evaluation_rouge.png` |
//!
//! [`chapter2::run`] runs one of its sections; [`guide_chapter2`] is its guide.
//!
//! # Example
//!
//! ```
//! use ferrograd_book::sections::linear_regression::closed_form;
//!
//! let fit = closed_form()?;
//! assert_eq!(format!("{:.2} {:.2}", fit.w, fit.b), "2.58 -91.76");
//! assert_eq!(format!("{:.2}", fit.mse_at_rounded), "15403.19");
//! println!("a 240 m² house: ${:.0}k", fit.predicted_price);
//! # Ok::<(), ferrograd_book::BookError>(())
//! ```

pub mod chapter2;
pub mod chapter3;
pub mod chapter4;
pub mod chapter5;
pub mod data;
pub mod error;
mod files;
pub mod lm_run;
pub mod plot;
pub mod progress;
pub mod report;
pub mod sections;

pub use error::{BookError, Result};
pub use plot::Figures;
pub use progress::Progress;
pub use report::{Output, Section, run_section};

/// The guide to chapter 1 (`docs/chapter1.md`), included here so that every Rust block
/// in it is compiled and run as a doc-test.
#[doc = include_str!("../../../docs/chapter1.md")]
pub mod guide {}

/// The guide to chapter 2 (`docs/chapter2.md`), included here so that every Rust block in
/// it is compiled and run as a doc-test.
#[doc = include_str!("../../../docs/chapter2.md")]
pub mod guide_chapter2 {}

/// The guide to chapter 3 (`docs/chapter3.md`), included here so that every Rust block in
/// it is compiled and run as a doc-test.
#[doc = include_str!("../../../docs/chapter3.md")]
pub mod guide_chapter3 {}

#[doc = include_str!("../../../docs/chapter4.md")]
pub mod guide_chapter4 {}
/// The guide to chapter 5 (`docs/chapter5.md`), included here so that every Rust block in
/// it is compiled and run as a doc-test.
#[doc = include_str!("../../../docs/chapter5.md")]
pub mod guide_chapter5 {}
