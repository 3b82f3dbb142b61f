//! # ferrograd-tokenize
//! (crate docs below are filled in later)

mod byte_level;
mod error;
mod hash;
mod merge;
mod pretokenize;
mod trainer;
#[allow(dead_code)]
mod unicode_tables;
mod vocab_json;

pub use byte_level::{AddedToken, ByteLevelBpe, Encoding, byte_to_char, char_to_byte};
pub use error::{Result, TokenizeError};
pub use pretokenize::{Gpt2Splits, python_split};
