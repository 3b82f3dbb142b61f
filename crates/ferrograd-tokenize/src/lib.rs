//! # ferrograd-tokenize
//! (crate docs below are filled in later)

mod batch;
mod bow;
mod byte_level;
mod error;
mod hash;
mod hf_json;
mod merge;
mod pretokenize;
mod train_byte;
mod trainer;
#[rustfmt::skip]
mod unicode_tables;
mod vocab_json;
mod word_bpe;

pub use batch::{BatchOptions, Padding, Side};
pub use bow::{BagOfWords, words};
pub use byte_level::{AddedToken, ByteLevelBpe, Encoding, byte_to_char, char_to_byte};
pub use error::{Result, TokenizeError};
pub use pretokenize::{Gpt2Splits, python_split};
pub use train_byte::ByteLevelTrainer;
pub use word_bpe::{WORD_MARKER, WordBpe, WordBpeTrainer};
