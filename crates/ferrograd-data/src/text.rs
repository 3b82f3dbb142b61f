//! Text plumbing for the language-model chapters: lines of a text file, a sliding
//! window of fixed context over a token-id sequence, and padding with attention masks;
//! and the chapter-3 pipeline — a tokenised corpus of one example per line
//! ([`TokenizedLines`], the notebook's rules: strip, digits to `###`, truncate, keep lines
//! of at least 2 tokens), padded next-token batches ([`collate_lines`], [`LmBatch`]) from
//! memory ([`LineBatches`], shuffled from a seed) or streamed from a file larger than
//! memory ([`StreamingBatches`]), with a position a checkpoint can save and restore
//! ([`BatchSource`], [`DataPosition`]). Tokenizers plug in through [`TextEncoder`]
//! (implemented for `ferrograd-tokenize`'s byte-level BPE).
//!
//! ```
//! use ferrograd_data::text::{BatchSource, LineBatches, LineOptions, Padding, TokenizedLines};
//! use ferrograd_tokenize::ByteLevelTrainer;
//!
//! let text = "The cat sat on the mat.\nThe dog sat on the log.\n\nIn 1999 the cat ran.\n";
//! let bpe = ByteLevelTrainer::new(300).train(&text.repeat(20))?;
//! let corpus = TokenizedLines::from_text(text, &bpe, &LineOptions::new(30), "toy")?;
//! assert_eq!(corpus.len(), 3); // the empty line is dropped
//! let pad = bpe.vocab_size() as u32 - 1;
//! let mut batches = LineBatches::new(corpus, 2, Padding::new(pad))?.shuffle(42);
//! let batch = batches.next_batch()?.unwrap();
//! assert_eq!(batch.inputs.shape()[0], 2);
//! assert_eq!(batch.inputs.shape(), batch.targets.shape());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::csv::read_utf8;
use crate::dataset::{Batch, Dataset, Example};
use crate::error::{DataError, Result, invalid};
use ferrograd_tensor::{IdTensor, Scalar, Tensor};
use std::path::Path;
use std::sync::Arc;

mod batches;
mod corpus;

pub use batches::{
    BatchSource, DataPosition, LineBatches, LmBatch, Padding, StreamingBatches, collate_lines,
};
pub use corpus::{
    LineOptions, LineReader, TextEncoder, TokenizedLines, is_decimal_digit, line_tokens,
    python_strip, replace_digits,
};

/// The lines of a UTF-8 text file, without their line endings (`\n` or `\r\n`).
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read, [`DataError::Utf8`] naming the line
/// of the first invalid byte.
pub fn read_lines(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let text = read_utf8("read_lines", path.as_ref())?;
    Ok(text.lines().map(str::to_string).collect())
}

/// Next-token prediction examples over one long token-id sequence: window `i` starts at
/// `s = i·stride`, its input is `ids[s..s+context]` and its target `ids[s+1..s+context+1]`
/// (the input shifted by one), both [`IdTensor`] `[context]`; a batch is `[batch,
/// context]` each. Windows are cut on demand from the shared sequence, never stored.
///
/// With `n` ids there are `(n − context − 1) / stride + 1` windows (none when
/// `n ≤ context`): every window has its full target.
///
/// ```
/// use ferrograd_data::{Dataset, text::SlidingWindowDataset};
/// let ds = SlidingWindowDataset::new(vec![10, 11, 12, 13, 14], 3)?;
/// assert_eq!(ds.len(), 2);
/// let ex = ds.get(1)?;
/// assert_eq!(ex.input.to_vec(), [11, 12, 13]);
/// assert_eq!(ex.target.to_vec(), [12, 13, 14]);
/// # Ok::<(), ferrograd_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SlidingWindowDataset {
    ids: Arc<[i64]>,
    context: usize,
    stride: usize,
}

impl SlidingWindowDataset {
    /// Windows of `context` tokens starting at every position (stride 1).
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] when `context` is 0.
    pub fn new(ids: impl Into<Arc<[i64]>>, context: usize) -> Result<Self> {
        if context == 0 {
            return Err(invalid(
                "SlidingWindowDataset::new",
                "context must be at least 1",
            ));
        }
        Ok(Self {
            ids: ids.into(),
            context,
            stride: 1,
        })
    }

    /// Starts windows every `stride` tokens (`stride = context` gives non-overlapping
    /// inputs).
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] when `stride` is 0.
    pub fn with_stride(mut self, stride: usize) -> Result<Self> {
        if stride == 0 {
            return Err(invalid(
                "SlidingWindowDataset::with_stride",
                "stride must be at least 1",
            ));
        }
        self.stride = stride;
        Ok(self)
    }

    /// The context length (tokens per input).
    pub fn context(&self) -> usize {
        self.context
    }

    /// Tokens between the starts of consecutive windows.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The whole token-id sequence.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    fn start(&self, op: &'static str, index: usize) -> Result<usize> {
        let len = self.len();
        if index >= len {
            return Err(DataError::IndexOutOfRange { op, index, len });
        }
        Ok(index * self.stride)
    }
}

impl Dataset for SlidingWindowDataset {
    type Example = Example<IdTensor, IdTensor>;
    type Batch = Batch<IdTensor, IdTensor>;

    fn len(&self) -> usize {
        if self.ids.len() <= self.context {
            0
        } else {
            (self.ids.len() - self.context - 1) / self.stride + 1
        }
    }

    fn get(&self, index: usize) -> Result<Self::Example> {
        let s = self.start("SlidingWindowDataset::get", index)?;
        let c = self.context;
        Ok(Example {
            input: IdTensor::new(self.ids[s..s + c].to_vec(), &[c])?,
            target: IdTensor::new(self.ids[s + 1..s + c + 1].to_vec(), &[c])?,
        })
    }

    fn get_batch(&self, indices: &[usize]) -> Result<Self::Batch> {
        let c = self.context;
        let mut inputs = Vec::with_capacity(indices.len() * c);
        let mut targets = Vec::with_capacity(indices.len() * c);
        for &i in indices {
            let s = self.start("SlidingWindowDataset::get_batch", i)?;
            inputs.extend_from_slice(&self.ids[s..s + c]);
            targets.extend_from_slice(&self.ids[s + 1..s + c + 1]);
        }
        let shape = [indices.len(), c];
        Ok(Batch {
            inputs: IdTensor::new(inputs, &shape)?,
            targets: IdTensor::new(targets, &shape)?,
        })
    }
}

/// Which end of a sequence the padding goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PadSide {
    /// After the tokens (the usual choice for training).
    #[default]
    Right,
    /// Before the tokens (so that the last real token of every row lines up, as when
    /// generating continuations of a batch of prompts).
    Left,
}

/// Sequences padded to one length, with their attention mask.
#[derive(Debug, Clone)]
pub struct Padded<T: Scalar = f32> {
    /// Token ids `[batch, len]`, padded with the pad id.
    pub ids: IdTensor,
    /// `[batch, len]`: 1 where `ids` holds a real token, 0 where it holds padding.
    pub mask: Tensor<T>,
    /// The unpadded length of each sequence.
    pub lengths: Vec<usize>,
}

/// Pads variable-length sequences with `pad_id` to the longest one's length.
///
/// ```
/// use ferrograd_data::text::{PadSide, pad_sequences};
/// let p = pad_sequences::<f32, _>(&[vec![5, 6, 7], vec![8]], 0, PadSide::Right)?;
/// assert_eq!(p.ids.shape(), &[2, 3]);
/// assert_eq!(p.ids.to_vec(), [5, 6, 7, 8, 0, 0]);
/// assert_eq!(p.mask.to_vec(), vec![1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
/// # Ok::<(), ferrograd_data::DataError>(())
/// ```
///
/// # Errors
/// None in practice; the `Result` carries the tensor layer's shape checks.
pub fn pad_sequences<T: Scalar, S: AsRef<[i64]>>(
    sequences: &[S],
    pad_id: i64,
    side: PadSide,
) -> Result<Padded<T>> {
    let len = sequences
        .iter()
        .map(|s| s.as_ref().len())
        .max()
        .unwrap_or(0);
    pad_sequences_to(sequences, len, pad_id, side)
}

/// Pads variable-length sequences with `pad_id` to exactly `len` tokens (a fixed batch
/// shape).
///
/// # Errors
/// [`DataError::InvalidArgument`] naming the first sequence longer than `len` (nothing
/// is truncated silently).
pub fn pad_sequences_to<T: Scalar, S: AsRef<[i64]>>(
    sequences: &[S],
    len: usize,
    pad_id: i64,
    side: PadSide,
) -> Result<Padded<T>> {
    let b = sequences.len();
    // The lengths first, so that a bad input allocates nothing.
    if let Some((i, s)) = sequences
        .iter()
        .map(AsRef::as_ref)
        .enumerate()
        .find(|(_, s)| s.len() > len)
    {
        return Err(invalid(
            "pad_sequences_to",
            format!(
                "sequence {i} has {} tokens, more than the length {len}",
                s.len()
            ),
        ));
    }
    let too_big = || {
        invalid(
            "pad_sequences_to",
            format!("{b} sequences of length {len} do not fit in memory"),
        )
    };
    let total = b.checked_mul(len).ok_or_else(too_big)?;
    // `try_reserve_exact` checks the size in bytes and reports a failed allocation
    // instead of aborting.
    let mut ids: Vec<i64> = Vec::new();
    ids.try_reserve_exact(total).map_err(|_| too_big())?;
    let mut mask: Vec<T> = Vec::new();
    mask.try_reserve_exact(total).map_err(|_| too_big())?;
    let mut lengths = Vec::with_capacity(b);
    for s in sequences {
        let s = s.as_ref();
        let pad = len - s.len();
        let pads = std::iter::repeat_n(pad_id, pad);
        let zeros = std::iter::repeat_n(T::ZERO, pad);
        let ones = std::iter::repeat_n(T::ONE, s.len());
        match side {
            PadSide::Right => {
                ids.extend(s.iter().copied().chain(pads));
                mask.extend(ones.chain(zeros));
            }
            PadSide::Left => {
                ids.extend(pads.chain(s.iter().copied()));
                mask.extend(zeros.chain(ones));
            }
        }
        lengths.push(s.len());
    }
    Ok(Padded {
        ids: IdTensor::new(ids, &[b, len])?,
        mask: Tensor::from_vec(mask, &[b, len])?,
        lengths,
    })
}
