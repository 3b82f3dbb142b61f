//! Padded next-token batches of line examples, from memory ([`LineBatches`]) or streamed
//! from a file ([`StreamingBatches`]), with a position that a checkpoint can store and a
//! resumed run restore ([`BatchSource`], [`DataPosition`]).

use super::corpus::{
    Fnv, LineOptions, LineReader, TextEncoder, TokenizedLines, check_vocab, file_fingerprint,
    line_tokens,
};
use crate::dataset::{Dataset, Example};
use crate::error::{DataError, Result, invalid};
use crate::loader::DataLoader;
use ferrograd_tensor::IdTensor;
use std::collections::VecDeque;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What padding holds in a batch: a token id in the inputs (any id the model's
/// embedding accepts; its outputs are never scored) and a value the loss ignores in the
/// targets (the loss's `ignore_index`, PyTorch's −100 by default).
///
/// The notebook pads both with the tokenizer's pad id and passes that id as the loss's
/// `ignore_index`: `Padding { input: pad, target: pad }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Padding {
    /// Id written after the end of each input.
    pub input: i64,
    /// Value written after the end of each target; the loss must ignore it.
    pub target: i64,
}

impl Padding {
    /// Inputs padded with `pad_id`, targets with −100 (the losses' default
    /// `ignore_index`).
    pub fn new(pad_id: u32) -> Self {
        Self {
            input: i64::from(pad_id),
            target: -100,
        }
    }

    /// The notebook's convention: both padded with `pad_id`, which the loss ignores.
    pub fn same(pad_id: u32) -> Self {
        Self {
            input: i64::from(pad_id),
            target: i64::from(pad_id),
        }
    }
}

/// A batch of next-token examples, right-padded to the longest in the batch.
#[derive(Debug, Clone)]
pub struct LmBatch {
    /// `[batch, time]`: each example's ids but the last, then [`Padding::input`].
    pub inputs: IdTensor,
    /// `[batch, time]`: each example's ids but the first, then [`Padding::target`].
    pub targets: IdTensor,
    /// The unpadded length of each row (its number of targets).
    pub lengths: Vec<usize>,
}

impl LmBatch {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    /// True for a batch of no examples.
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// Number of targets that are scored (not padding).
    pub fn num_targets(&self) -> usize {
        self.lengths.iter().sum()
    }
}

/// Turns examples (token ids of lines, each at least 2) into a padded batch: input =
/// ids[..n−1], target = ids[1..], both right-padded to the longest input of the batch
/// (PyTorch's `pad_sequence(batch_first=True)`, as the notebook's `collate_fn`).
///
/// ```
/// use ferrograd_data::text::{Padding, collate_lines};
/// let batch = collate_lines(&[&[5, 6, 7][..], &[8, 9][..]], Padding::new(0))?;
/// assert_eq!(batch.inputs.to_vec2()?, [[5, 6], [8, 0]]);
/// assert_eq!(batch.targets.to_vec2()?, [[6, 7], [9, -100]]);
/// assert_eq!(batch.num_targets(), 3);
/// # Ok::<(), ferrograd_data::DataError>(())
/// ```
///
/// # Errors
/// [`DataError::InvalidArgument`] naming an example with fewer than 2 ids.
pub fn collate_lines<S: AsRef<[u32]>>(examples: &[S], padding: Padding) -> Result<LmBatch> {
    let mut time = 0;
    for (i, e) in examples.iter().enumerate() {
        let n = e.as_ref().len();
        if n < 2 {
            return Err(invalid(
                "collate_lines",
                format!("example {i} has {n} ids; an example needs at least 2"),
            ));
        }
        time = time.max(n - 1);
    }
    let b = examples.len();
    let mut inputs = Vec::with_capacity(b * time);
    let mut targets = Vec::with_capacity(b * time);
    let mut lengths = Vec::with_capacity(b);
    for e in examples {
        let e = e.as_ref();
        let n = e.len() - 1;
        inputs.extend(e[..n].iter().map(|&t| i64::from(t)));
        inputs.extend(std::iter::repeat_n(padding.input, time - n));
        targets.extend(e[1..].iter().map(|&t| i64::from(t)));
        targets.extend(std::iter::repeat_n(padding.target, time - n));
        lengths.push(n);
    }
    Ok(LmBatch {
        inputs: IdTensor::new(inputs, &[b, time])?,
        targets: IdTensor::new(targets, &[b, time])?,
        lengths,
    })
}

/// Where a [`BatchSource`] is: enough to continue exactly where it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataPosition {
    /// The epoch (pass over the data) in progress, from 0.
    pub epoch: u64,
    /// In memory: batches of this epoch already given; streamed: the byte offset of the
    /// next unread line.
    pub cursor: u64,
    /// Streamed: the number of the next unread line (1-based); 0 in memory.
    pub line: u64,
    /// Streamed with a shuffle buffer: the random generator's state; 0 otherwise.
    pub rng: u64,
    /// Streamed with a shuffle buffer: the examples waiting in it.
    pub pending: Vec<Vec<u32>>,
    /// Identifies the data the position belongs to ([`BatchSource::fingerprint`]).
    pub fingerprint: u64,
}

/// Batches for a training loop, one epoch after another, with a position to save and
/// restore (so a resumed run sees exactly the batches an uninterrupted one would).
pub trait BatchSource: Send + std::fmt::Debug {
    /// The next batch of the current epoch, or `None` once at the end of each epoch (the
    /// next call starts the next epoch).
    ///
    /// # Errors
    /// Reading, decoding or tokenising errors (streamed data), naming file and line.
    fn next_batch(&mut self) -> Result<Option<LmBatch>>;

    /// Where the source is now.
    fn position(&self) -> DataPosition;

    /// Continues from `position` (what [`BatchSource::position`] returned, possibly in
    /// another process).
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] when the position belongs to other data (another
    /// fingerprint) or lies outside it.
    fn restore(&mut self, position: &DataPosition) -> Result<()>;

    /// A number identifying the data (and batching) this source gives.
    fn fingerprint(&self) -> u64;

    /// The epoch in progress ([`DataPosition::epoch`] of [`BatchSource::position`]),
    /// without building the whole position (a training loop asks for it every step).
    fn epoch(&self) -> u64 {
        self.position().epoch
    }
}

/// The padded batches of an in-memory [`TokenizedLines`]: mini-batches of `batch_size`
/// examples (the last one short), in file order or shuffled per epoch from a seed with
/// [`DataLoader`]'s permutation rule (the same seed and epoch give the same batches on
/// every machine).
///
/// ```
/// use ferrograd_data::text::{BatchSource, LineBatches, Padding, TokenizedLines};
/// let corpus = TokenizedLines::from_examples(&[vec![1, 2, 3], vec![4, 5], vec![6, 7, 8, 9]], "toy")?;
/// let mut batches = LineBatches::new(corpus, 2, Padding::new(0))?;
/// let first = batches.next_batch()?.unwrap();
/// assert_eq!(first.inputs.to_vec2()?, [[1, 2], [4, 0]]);
/// let saved = batches.position();
/// let second = batches.next_batch()?.unwrap();
/// assert!(batches.next_batch()?.is_none()); // the end of epoch 0
/// batches.restore(&saved)?;
/// assert_eq!(batches.next_batch()?.unwrap().inputs.to_vec(), second.inputs.to_vec());
/// # Ok::<(), ferrograd_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LineBatches {
    loader: DataLoader<Lines>,
    padding: Padding,
    epoch: u64,
    order: Vec<Vec<usize>>,
    next: usize,
    /// [`TokenizedLines::fingerprint`] of the corpus, computed once (it reads every id).
    corpus_fingerprint: u64,
}

/// The corpus as a [`Dataset`] of single examples, for [`DataLoader`]'s ordering.
#[derive(Debug, Clone)]
struct Lines(Arc<TokenizedLines>);

impl Dataset for Lines {
    type Example = Example<IdTensor, IdTensor>;
    type Batch = LmBatch;

    fn len(&self) -> usize {
        self.0.len()
    }

    fn get(&self, index: usize) -> Result<Self::Example> {
        if index >= self.0.len() {
            return Err(DataError::IndexOutOfRange {
                op: "LineBatches::get",
                index,
                len: self.0.len(),
            });
        }
        let e = self.0.example(index);
        let ids = |s: &[u32]| IdTensor::new(s.iter().map(|&t| i64::from(t)).collect(), &[s.len()]);
        Ok(Example {
            input: ids(&e[..e.len() - 1])?,
            target: ids(&e[1..])?,
        })
    }

    fn get_batch(&self, indices: &[usize]) -> Result<LmBatch> {
        let examples: Vec<&[u32]> = indices.iter().map(|&i| self.0.example(i)).collect();
        collate_lines(&examples, Padding::new(0))
    }
}

impl LineBatches {
    /// Batches of `batch_size` examples of `corpus` in order.
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] for a zero batch size, [`DataError::Empty`] for a
    /// corpus without examples.
    pub fn new(
        corpus: impl Into<Arc<TokenizedLines>>,
        batch_size: usize,
        padding: Padding,
    ) -> Result<Self> {
        let corpus = corpus.into();
        if corpus.is_empty() {
            return Err(DataError::Empty {
                op: "LineBatches::new",
            });
        }
        let corpus_fingerprint = corpus.fingerprint();
        let loader = DataLoader::new(Lines(corpus), batch_size)?;
        let order = loader.batch_indices(0);
        Ok(Self {
            loader,
            padding,
            epoch: 0,
            order,
            next: 0,
            corpus_fingerprint,
        })
    }

    /// Shuffles every epoch from `seed` (and restarts at epoch 0).
    #[must_use]
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.loader = self.loader.shuffle(seed);
        self.epoch = 0;
        self.next = 0;
        self.order = self.loader.batch_indices(0);
        self
    }

    /// The corpus.
    pub fn corpus(&self) -> &TokenizedLines {
        &self.loader.dataset().0
    }

    /// Batches per epoch.
    pub fn num_batches(&self) -> usize {
        self.loader.num_batches()
    }

    /// The example indices of each batch of epoch `epoch` (to export the batch order, or
    /// replay it elsewhere).
    pub fn batch_indices(&self, epoch: u64) -> Vec<Vec<usize>> {
        self.loader.batch_indices(epoch)
    }

    /// Every batch of one pass in order, from the start of epoch 0 (an evaluation set).
    ///
    /// # Errors
    /// None in practice (the examples were checked when the corpus was built).
    pub fn all(&self) -> Result<Vec<LmBatch>> {
        self.loader
            .batch_indices(0)
            .iter()
            .map(|b| self.batch(b))
            .collect()
    }

    fn batch(&self, indices: &[usize]) -> Result<LmBatch> {
        let corpus = &self.loader.dataset().0;
        let examples: Vec<&[u32]> = indices.iter().map(|&i| corpus.example(i)).collect();
        collate_lines(&examples, self.padding)
    }
}

impl BatchSource for LineBatches {
    fn next_batch(&mut self) -> Result<Option<LmBatch>> {
        if self.next >= self.order.len() {
            self.epoch += 1;
            self.next = 0;
            self.order = self.loader.batch_indices(self.epoch);
            return Ok(None);
        }
        let batch = self.batch(&self.order[self.next])?;
        self.next += 1;
        Ok(Some(batch))
    }

    fn position(&self) -> DataPosition {
        DataPosition {
            epoch: self.epoch,
            cursor: self.next as u64,
            fingerprint: self.fingerprint(),
            ..DataPosition::default()
        }
    }

    fn epoch(&self) -> u64 {
        self.epoch
    }

    fn restore(&mut self, position: &DataPosition) -> Result<()> {
        check_fingerprint(position, self.fingerprint())?;
        let order = self.loader.batch_indices(position.epoch);
        if position.cursor > order.len() as u64 {
            return Err(invalid(
                "LineBatches::restore",
                format!(
                    "batch {} of epoch {} is past the {} batches of an epoch",
                    position.cursor,
                    position.epoch,
                    order.len()
                ),
            ));
        }
        self.epoch = position.epoch;
        self.next = position.cursor as usize;
        self.order = order;
        Ok(())
    }

    fn fingerprint(&self) -> u64 {
        let mut h = Fnv::new();
        h.write_u64(self.corpus_fingerprint);
        h.write_u64(self.loader.batch_size() as u64);
        h.write_u64(self.loader.seed().map_or(0, |s| s ^ 0x5555));
        h.write_u64(u64::from(self.loader.seed().is_some()));
        h.write_u64(self.padding.input as u64);
        h.write_u64(self.padding.target as u64);
        h.finish()
    }
}

fn check_fingerprint(position: &DataPosition, ours: u64) -> Result<()> {
    if position.fingerprint != ours {
        return Err(invalid(
            "BatchSource::restore",
            format!(
                "the saved position belongs to other data or batching (fingerprint {:016x}, \
                 this data has {ours:016x}): resume with the corpus, tokenizer, batch size, \
                 seed and padding of the interrupted run",
                position.fingerprint
            ),
        ));
    }
    Ok(())
}

/// The padded batches of a text file read as it goes, for corpora larger than memory:
/// lines are read, tokenised ([`line_tokens`]) and batched on the fly, as the notebook's
/// `IterableTextDataset` does; only the current batch (and the optional shuffle buffer)
/// is in memory.
///
/// Without shuffling the examples come in file order. With
/// [`StreamingBatches::shuffle_buffer`] of `k` examples, each batch draws uniformly from a
/// buffer kept filled with the next lines (the usual streaming shuffle; `k` at least the
/// number of lines gives a full shuffle). Either way the position (byte offset, line,
/// generator state and buffered examples) is saved and restored exactly.
#[derive(Debug)]
pub struct StreamingBatches {
    path: PathBuf,
    encoder: Arc<dyn TextEncoder>,
    options: LineOptions,
    batch_size: usize,
    padding: Padding,
    shuffle: Option<(usize, u64)>,
    reader: LineReader<BufReader<std::fs::File>>,
    epoch: u64,
    rng: u64,
    pending: VecDeque<Vec<u32>>,
    at_end: bool,
    fingerprint: u64,
    /// The tokenizer's part of [`BatchSource::fingerprint`]: its size, then its ids for a
    /// probe text, computed once at opening.
    encoder_probe: Vec<u64>,
    /// Lines read but skipped (fewer than 2 tokens) since opening or the last restore.
    lines_dropped: u64,
}

impl StreamingBatches {
    /// Batches of `batch_size` examples from the lines of `path`.
    ///
    /// # Errors
    /// [`DataError::Io`] when the file cannot be opened; invalid options or batch size.
    pub fn open(
        path: impl AsRef<Path>,
        encoder: Arc<dyn TextEncoder>,
        options: LineOptions,
        batch_size: usize,
        padding: Padding,
    ) -> Result<Self> {
        options.validate("StreamingBatches::open")?;
        if batch_size == 0 {
            return Err(invalid(
                "StreamingBatches::open",
                "batch size must be at least 1",
            ));
        }
        let path = path.as_ref().to_path_buf();
        let reader = LineReader::open_at(&path, 0, 1, options.max_line_bytes)?;
        let fingerprint = file_fingerprint(&path)?;
        // The tokenizer: its size and its ids for a probe text (words, digits, accents,
        // spaces), which two different tokenizers almost never share. The restored
        // position's pending ids came from the saved run's tokenizer.
        let encoder_probe = std::iter::once(encoder.vocab_size() as u64)
            .chain(
                encoder
                    .encode(" The quick brown fox, 1234 jumps: naïve café — \u{4e2d}\u{6587}!\n")
                    .into_iter()
                    .map(u64::from),
            )
            .collect();
        Ok(Self {
            path,
            encoder,
            options,
            batch_size,
            padding,
            shuffle: None,
            reader,
            epoch: 0,
            rng: 0,
            pending: VecDeque::new(),
            at_end: false,
            fingerprint,
            encoder_probe,
            lines_dropped: 0,
        })
    }

    /// Shuffles through a buffer of `size` examples, drawing with a generator seeded
    /// from `seed` and the epoch.
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] for a zero size.
    pub fn shuffle_buffer(mut self, size: usize, seed: u64) -> Result<Self> {
        if size == 0 {
            return Err(invalid(
                "StreamingBatches::shuffle_buffer",
                "the buffer must hold at least 1 example",
            ));
        }
        self.shuffle = Some((size, seed));
        self.rng = epoch_seed(seed, 0);
        Ok(self)
    }

    /// Lines read and skipped because they had fewer than 2 tokens (no input and
    /// target; [`TokenizedLines::lines_dropped`] counts the same lines of an in-memory
    /// corpus), over every epoch read since [`StreamingBatches::open`] or the last
    /// [`BatchSource::restore`] (a checkpoint does not store the count).
    pub fn lines_dropped(&self) -> u64 {
        self.lines_dropped
    }

    /// The next kept example of the file, or `None` at its end.
    fn read_example(&mut self) -> Result<Option<Vec<u32>>> {
        while let Some((line, number)) = self.reader.next_line()? {
            if let Some(tokens) = line_tokens(&line, self.encoder.as_ref(), &self.options) {
                check_vocab(
                    &tokens,
                    &self.options,
                    &self.path.display().to_string(),
                    number,
                )?;
                return Ok(Some(tokens));
            }
            self.lines_dropped += 1;
        }
        Ok(None)
    }

    fn start_epoch(&mut self, epoch: u64) -> Result<()> {
        self.reader = LineReader::open_at(&self.path, 0, 1, self.options.max_line_bytes)?;
        self.epoch = epoch;
        self.at_end = false;
        self.pending.clear();
        if let Some((_, seed)) = self.shuffle {
            self.rng = epoch_seed(seed, epoch);
        }
        Ok(())
    }
}

fn epoch_seed(seed: u64, epoch: u64) -> u64 {
    splitmix(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// SplitMix64: the next output; the state advances by the golden-ratio increment.
fn splitmix(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl BatchSource for StreamingBatches {
    fn next_batch(&mut self) -> Result<Option<LmBatch>> {
        let mut examples = Vec::with_capacity(self.batch_size);
        match self.shuffle {
            None => {
                while examples.len() < self.batch_size {
                    match self.read_example()? {
                        Some(e) => examples.push(e),
                        None => break,
                    }
                }
            }
            Some((size, _)) => {
                while examples.len() < self.batch_size {
                    while !self.at_end && self.pending.len() < size {
                        match self.read_example()? {
                            Some(e) => self.pending.push_back(e),
                            None => self.at_end = true,
                        }
                    }
                    if self.pending.is_empty() {
                        break;
                    }
                    self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let pick = (splitmix(self.rng) % self.pending.len() as u64) as usize;
                    let e = self.pending.swap_remove_back(pick).expect("index in range");
                    examples.push(e);
                }
            }
        }
        if examples.is_empty() {
            self.start_epoch(self.epoch + 1)?;
            return Ok(None);
        }
        collate_lines(&examples, self.padding).map(Some)
    }

    fn position(&self) -> DataPosition {
        let (cursor, line) = self.reader.position();
        DataPosition {
            epoch: self.epoch,
            cursor,
            line,
            rng: self.rng,
            pending: self.pending.iter().cloned().collect(),
            fingerprint: self.fingerprint(),
        }
    }

    fn epoch(&self) -> u64 {
        self.epoch
    }

    fn restore(&mut self, position: &DataPosition) -> Result<()> {
        check_fingerprint(position, self.fingerprint())?;
        let len = std::fs::metadata(&self.path)
            .map_err(|source| DataError::Io {
                op: "StreamingBatches::restore",
                file: self.path.display().to_string(),
                source,
            })?
            .len();
        if position.cursor > len || position.line == 0 {
            return Err(invalid(
                "StreamingBatches::restore",
                format!(
                    "{}: the saved position (byte {}, line {}) is not in the file",
                    self.path.display(),
                    position.cursor,
                    position.line
                ),
            ));
        }
        self.reader = LineReader::open_at(
            &self.path,
            position.cursor,
            position.line,
            self.options.max_line_bytes,
        )?;
        self.epoch = position.epoch;
        self.rng = position.rng;
        self.pending = position.pending.iter().cloned().collect();
        self.at_end = position.cursor == len;
        self.lines_dropped = 0;
        Ok(())
    }

    fn fingerprint(&self) -> u64 {
        let mut h = Fnv::new();
        h.write_u64(self.fingerprint);
        h.write_u64(self.batch_size as u64);
        h.write_u64(self.options.max_length as u64);
        h.write_u64(u64::from(self.options.replace_digits));
        h.write_u64(self.options.vocab_limit.map_or(u64::MAX, |v| v as u64));
        for &v in &self.encoder_probe {
            h.write_u64(v);
        }
        match self.shuffle {
            Some((size, seed)) => {
                h.write_u64(size as u64);
                h.write_u64(seed);
            }
            None => h.write_u64(u64::MAX),
        }
        h.write_u64(self.padding.input as u64);
        h.write_u64(self.padding.target as u64);
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::corpus::FINGERPRINTS_COMPUTED;

    fn computed() -> u64 {
        FINGERPRINTS_COMPUTED.with(std::cell::Cell::get)
    }

    #[test]
    fn line_batches_hash_the_corpus_once_not_per_position() {
        let corpus =
            TokenizedLines::from_examples(&[vec![1, 2, 3], vec![4, 5], vec![6, 7, 8]], "toy")
                .unwrap();
        let before = computed();
        let mut batches = LineBatches::new(corpus, 2, Padding::new(0))
            .unwrap()
            .shuffle(7);
        assert_eq!(
            computed() - before,
            1,
            "LineBatches::new hashes the corpus once"
        );
        let fingerprint = batches.fingerprint();
        let mut epochs = Vec::new();
        for _ in 0..7 {
            let position = batches.position();
            assert_eq!(position.fingerprint, fingerprint);
            assert_eq!(batches.epoch(), position.epoch);
            epochs.push(batches.epoch());
            batches.next_batch().unwrap();
        }
        // 2 batches, then the end of the epoch: epoch 0 three times, then 1.
        assert_eq!(epochs, [0, 0, 0, 1, 1, 1, 2]);
        let saved = batches.position();
        batches.restore(&saved).unwrap();
        assert_eq!(
            computed() - before,
            1,
            "position, fingerprint and restore reuse the corpus hash"
        );
    }
}
