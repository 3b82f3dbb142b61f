//! # ferrograd-tokenize
//!
//! Turning text into numbers, as chapter 2 of *The Hundred-Page Language Models Book*
//! does, and as GPT-2 does: exact first, fast second, and never a panic on any input. No
//! tensor dependency — take the tokenizer alone.
//!
//! | type | what | book |
//! |---|---|---|
//! | [`BagOfWords`] | sorted vocabulary of `\w+` words, binary and count vectors | §2.1 |
//! | [`WordBpe`], [`WordBpeTrainer`] | the book's word-level BPE (`_` word marker), both of its tokenisers | §2.3 |
//! | [`ByteLevelBpe`] | GPT-2's byte-level BPE: OpenAI / Hugging Face files, encode, decode, batches, offsets | ch. 5 |
//! | [`ByteLevelTrainer`] | trains a byte-level BPE on any corpus, saved as HF `tokenizer.json` | |
//! | [`Gpt2Splits`] | GPT-2's pre-tokenisation pattern, hand-written | |
//!
//! ## Bag of words (§2.1)
//!
//! ```
//! use ferrograd_tokenize::BagOfWords;
//!
//! let docs = [
//!     "Movies are fun for everyone.", "Watching movies is great fun.",
//!     "Enjoy a great movie today.", "Research is interesting and important.",
//!     "Learning math is very important.", "Science discovery is interesting.",
//!     "Rock is great to listen to.", "Listen to music for fun.",
//!     "Music is fun for everyone.", "Listen to folk music!",
//! ];
//! let bow = BagOfWords::fit(&docs);
//! assert_eq!(bow.vocabulary().len(), 26);
//! assert_eq!(
//!     bow.binary("Watching movies is great fun."),
//!     [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1],
//! );
//! ```
//!
//! ## The book's byte-pair encoding (§2.3)
//!
//! Train on words (the book uses the first 500,000 words of its news corpus and 5,000
//! tokens; this is tinyshakespeare), then tokenise a word with either of the book's two
//! tokenisers, which agree:
//!
//! ```
//! use ferrograd_tokenize::WordBpeTrainer;
//!
//! let text = include_str!("../testdata/tinyshakespeare.txt");
//! let bpe = WordBpeTrainer::new(5000).max_words(500_000).train_text(text)?;
//! assert_eq!(bpe.tokenize_word("part."), ["_part", "."]);
//! assert_eq!(bpe.tokenize_word("modeling"), ["_mod", "el", "ing"]);
//! assert_eq!(bpe.tokenize_word_in_order("modeling"), ["_mod", "el", "ing"]);
//! # Ok::<(), ferrograd_tokenize::TokenizeError>(())
//! ```
//!
//! The learner reproduces the notebook's merges exactly (same tie rule: the pair seen
//! first) — `tests/book.rs` compares them with the notebook's algorithm restated in Python
//! — but counts pairs incrementally with a priority queue: 5,000 tokens on tinyshakespeare
//! take about 0.1 s instead of minutes.
//!
//! ## GPT-2's byte-level BPE
//!
//! ```
//! use ferrograd_tokenize::ByteLevelBpe;
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/gpt2");
//! let gpt2 = ByteLevelBpe::from_openai_files(
//!     format!("{dir}/encoder.json"),
//!     format!("{dir}/vocab.bpe"),
//! )?;
//! let ids = gpt2.encode("Hello world, let's test GPT-2's BPE!");
//! assert_eq!(ids, [15496, 995, 11, 1309, 338, 1332, 402, 11571, 12, 17, 338, 347, 11401, 0]);
//! assert_eq!(gpt2.decode(&ids)?, "Hello world, let's test GPT-2's BPE!");
//! assert_eq!(gpt2.encode_with_special("<|endoftext|>"), [50256]);
//! # Ok::<(), ferrograd_tokenize::TokenizeError>(())
//! ```
//!
//! Ids equal tiktoken's and HF tokenizers' `gpt2` encoding on all of tinyshakespeare
//! (338,025 tokens) and on 425 hostile strings (`tests/gpt2_reference.rs`). Also:
//! [`ByteLevelBpe::from_hf_files`] (`vocab.json` + `merges.txt`),
//! [`ByteLevelBpe::from_tokenizer_json_file`], [`ByteLevelBpe::encode_with_offsets`],
//! [`ByteLevelBpe::encode_batch`] with [`BatchOptions`] (threads, truncation, padding,
//! attention masks), [`ByteLevelBpe::decode_lossy`].
//!
//! ## Training and saving a byte-level BPE
//!
//! ```
//! use ferrograd_tokenize::{ByteLevelBpe, ByteLevelTrainer};
//!
//! let text = include_str!("../testdata/tinyshakespeare.txt");
//! let tok = ByteLevelTrainer::new(1000).train(text)?;
//! let json = tok.to_tokenizer_json(); // loads in HF tokenizers and transformers
//! let again = ByteLevelBpe::from_tokenizer_json(json.as_bytes())?;
//! assert_eq!(again.encode("To be, or not to be"), tok.encode("To be, or not to be"));
//! # Ok::<(), ferrograd_tokenize::TokenizeError>(())
//! ```
//!
//! ## Guarantees
//!
//! - **Lossless**: `decode(encode(s)) == s` for every string (property-tested).
//! - **No panics** on any input string, byte sequence or file: malformed vocabularies,
//!   merges and JSON are a [`TokenizeError`] naming the file, the line and the problem.
//! - **Linear time on hostile input**: merging inside one pre-token uses a heap over a
//!   linked list, O(n log n), so a million repeats of one letter encodes in milliseconds
//!   (the `hostile` benchmark).
//! - **Deterministic training**: the merge order never depends on hash-map order; pair
//!   counts cannot overflow (checked up front); memory grows linearly with the distinct
//!   text, also for a corpus without white space.
//! - Every parser has an in-memory form (`from_openai`, `from_hf`, `from_tokenizer_json`,
//!   `from_json`) beside the file loaders, for fuzzing and embedding.

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
