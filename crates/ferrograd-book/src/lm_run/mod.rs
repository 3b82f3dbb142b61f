//! The training run that chapters 3 and 4 share (§3.7–3.8 and §4.9): everything but the
//! model.
//!
//! - [`RunSettings`]: the settings that do not depend on the model, with their
//!   command-line options ([`RunArgs`]).
//! - [`RunData`]: the text pipeline. A tokenizer is trained on the training lines. Each
//!   line is one example, the lines are split 90/10, and the batches are padded.
//! - [`train`]: the notebook's loop (AdamW, a loss that ignores padding) with a progress
//!   bar, checkpoints and exact resume, held-out perplexity and greedy continuations,
//!   returning [`RunResults`].
//! - [`report_run`], [`draw_curve`] and [`export_run_data`]: the report's lines, the loss
//!   and perplexity curves, and the export of what the run trained on for the PyTorch
//!   comparison scripts (`scripts/reference/`).
//!
//! Each chapter builds its model from its own settings and hands it to these; so can any
//! program with a model that implements [`ferrograd::lm::train::CausalLm`]:
//!
//! ```
//! use ferrograd::lm::rnn::{RnnConfig, RnnLanguageModel};
//! use ferrograd::tensor::Rng;
//! use ferrograd_book::chapter2::Corpus;
//! use ferrograd_book::lm_run::{RunData, RunSettings, TokenizerChoice, train};
//! use ferrograd_book::Progress;
//!
//! let corpus = Corpus {
//!     name: "two sentences".into(),
//!     text: "the king is in the castle\nthe queen walks in the garden\n".repeat(20),
//! };
//! let run = RunSettings {
//!     tokenizer: TokenizerChoice::Trained(280),
//!     batch_size: 8,
//!     max_steps: Some(3),
//!     eval_every: None,
//!     ..RunSettings::default()
//! };
//! let mut data = RunData::new(&corpus, &run)?;
//! assert_eq!(data.examples, (36, 4)); // 40 lines split 90/10
//! let config = RnnConfig {
//!     vocab_size: data.tokenizer.vocab_size(),
//!     emb_dim: 16,
//!     num_layers: 1,
//!     pad_index: Some(data.tokenizer.eos as usize),
//! };
//! let model = RnnLanguageModel::<f32>::new(&config, &mut Rng::new(run.seed))?;
//! let results = train(&model, &mut data, &run, &Progress::hidden())?;
//! assert_eq!((results.steps, results.losses.len()), (3, 3));
//! assert_eq!(results.final_eval.sentences, 4);
//! assert!(results.final_eval.perplexity.is_finite());
//! # Ok::<(), ferrograd_book::BookError>(())
//! ```

mod data;
mod export;
mod figure;
mod settings;
mod tokenizer;
mod train;

pub use data::{RunData, require_examples, train_text};
pub use export::export_run_data;
pub use figure::{CurveStyle, draw_curve};
pub use settings::{RunArgs, RunSettings};
pub use tokenizer::{GPT2_EOS, MIN_TRAINED_VOCAB, Tokenizer, TokenizerChoice};
pub use train::{EvalPoint, RunResults, report_run, train};

pub(crate) use settings::positive;
