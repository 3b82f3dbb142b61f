//! # ferrograd-lm
//!
//! Language models on the ferrograd stack, following *The Hundred-Page Language Models
//! Book* (A. Burkov, 2025). Chapter 2's models live here:
//!
//! | book | what | here |
//! |---|---|---|
//! | §2.1 | bag-of-words document classifier (vocabulary from `ferrograd-tokenize`) | [`bow`] |
//! | §2.2 | word embeddings: skip-gram with negative sampling (word2vec) | [`word2vec`] |
//! | §2.4–2.5 | count-based n-gram language model, backoff, greedy generation | [`ngram`] ([`CountLanguageModel`]) |
//! | §2.6 | perplexity, ROUGE-1/2/L | [`eval`] |
//! | — | the book's tokenisers for these sections, a vocabulary | [`text`] |
//! | §4.1–4.7, §4.9 | the decoder-only Transformer language model | [`decoder`] ([`DecoderLanguageModel`]) |
//! | §4.8 | generation with a KV cache, greedy decoding | [`generate`](mod@generate) |
//!
//! ```
//! use ferrograd_lm::{CountLanguageModel, text::count_lm_tokens};
//!
//! let text = "The cat sat on the mat. The dog sat on the log.";
//! let tokens = count_lm_tokens(text);
//! let model = CountLanguageModel::train(3, &tokens)?;
//! assert_eq!(model.predict(&["sat", "on"]), "the");
//! let ppl = model.perplexity(&count_lm_tokens("the cat sat on the log."), 3)?;
//! assert!(ppl > 1.0 && ppl.is_finite());
//! # Ok::<(), ferrograd_lm::LmError>(())
//! ```

pub mod bow;
pub mod classifier;
pub mod classifier_bow;
pub mod classifier_data;
pub mod decoder;
pub mod error;
pub mod eval;
pub mod finetune;
pub mod generate;
pub mod gpt2;
pub mod gpt2_generate;
pub mod gpt2_load;
pub mod ngram;
pub mod peft;
pub mod rnn;
pub mod sampling;
pub mod text;
pub mod train;
mod train_checkpoint;
pub mod train_loss;
pub mod word2vec;

pub use decoder::{DecoderConfig, DecoderLanguageModel};
pub use error::{LmError, Result};
pub use generate::{
    CachedLm, GenerateOptions, Generation, Greedy, NextToken, StopReason, generate,
};
pub use ngram::{CountLanguageModel, NgramRow, split_train_test};
