//! Batch encoding: many texts on several threads, with truncation, padding and masks.

use crate::byte_level::{ByteLevelBpe, EncodeState, Encoding};

/// Which end to cut or pad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Side {
    /// The start of the sequence.
    Left,
    /// The end of the sequence.
    #[default]
    Right,
}

/// How to pad a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Padding {
    /// No padding: sequences keep their lengths.
    #[default]
    None,
    /// Pad every sequence to the longest in the batch.
    Longest,
    /// Pad every sequence to this length (longer ones are left as they are unless
    /// truncated).
    Fixed(usize),
}

/// Options of [`ByteLevelBpe::encode_batch`].
///
/// ```
/// use ferrograd_tokenize::{BatchOptions, ByteLevelBpe, Padding, Side};
///
/// # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/gpt2");
/// # let gpt2 = ByteLevelBpe::from_openai_files(format!("{dir}/encoder.json"), format!("{dir}/vocab.bpe"))?;
/// let options = BatchOptions::new()
///     .truncate(3)
///     .pad(Padding::Longest, 50256)
///     .padding_side(Side::Left);
/// let batch = gpt2.encode_batch(&["Hello world", "one two three four five"], &options);
/// assert_eq!(batch[0].ids, [50256, 15496, 995]);
/// assert_eq!(batch[0].attention_mask, [0, 1, 1]);
/// assert_eq!(batch[1].ids, [505, 734, 1115]);
/// assert_eq!(batch[1].offsets, [(0, 3), (3, 7), (7, 13)]);
/// # Ok::<(), ferrograd_tokenize::TokenizeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOptions {
    /// Recognise added tokens such as `<|endoftext|>` (default false).
    pub special: bool,
    /// Keep at most this many tokens (default: no limit).
    pub max_length: Option<usize>,
    /// Which end truncation removes (default: the end).
    pub truncation_side: Side,
    /// Padding (default none).
    pub padding: Padding,
    /// Which end padding goes to (default: the end).
    pub padding_side: Side,
    /// The id used for padding (default 0).
    pub pad_id: u32,
    /// Compute offsets (default true).
    pub offsets: bool,
    /// Threads (default 0: all cores). The result does not depend on it.
    pub threads: usize,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            special: false,
            max_length: None,
            truncation_side: Side::Right,
            padding: Padding::None,
            padding_side: Side::Right,
            pad_id: 0,
            offsets: true,
            threads: 0,
        }
    }
}

impl BatchOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Recognise added tokens.
    pub fn special(mut self, yes: bool) -> Self {
        self.special = yes;
        self
    }
    /// Keep at most `max_length` tokens.
    pub fn truncate(mut self, max_length: usize) -> Self {
        self.max_length = Some(max_length);
        self
    }
    /// Truncate at this end.
    pub fn truncation_side(mut self, side: Side) -> Self {
        self.truncation_side = side;
        self
    }
    /// Pad with `pad_id`.
    pub fn pad(mut self, padding: Padding, pad_id: u32) -> Self {
        self.padding = padding;
        self.pad_id = pad_id;
        self
    }
    /// Pad at this end.
    pub fn padding_side(mut self, side: Side) -> Self {
        self.padding_side = side;
        self
    }
    /// Compute offsets or not.
    pub fn offsets(mut self, yes: bool) -> Self {
        self.offsets = yes;
        self
    }
    /// Use this many threads (0: all cores).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }
}

impl ByteLevelBpe {
    fn encode_one(&self, text: &str, o: &BatchOptions, st: &mut EncodeState) -> Encoding {
        let mut enc = if o.offsets {
            self.encode_with_offsets(text, o.special)
        } else {
            let mut ids = Vec::with_capacity(text.len() / 3 + 8);
            self.encode_with_state(text, o.special, &mut ids, st);
            Encoding {
                attention_mask: vec![1; ids.len()],
                ids,
                offsets: Vec::new(),
            }
        };
        if let Some(max) = o.max_length
            && enc.ids.len() > max
        {
            let cut = enc.ids.len() - max;
            match o.truncation_side {
                Side::Right => {
                    enc.ids.truncate(max);
                    enc.attention_mask.truncate(max);
                    enc.offsets.truncate(max);
                }
                Side::Left => {
                    enc.ids.drain(..cut);
                    enc.attention_mask.drain(..cut);
                    if !enc.offsets.is_empty() {
                        enc.offsets.drain(..cut);
                    }
                }
            }
        }
        enc
    }

    /// Encodes many texts on `options.threads` threads (contiguous groups of texts of
    /// about equal bytes), then truncates and pads each [`Encoding`] as asked.
    pub fn encode_batch<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        options: &BatchOptions,
    ) -> Vec<Encoding> {
        let threads = match options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
        .min(texts.len().max(1));
        let mut out: Vec<Encoding> = if threads <= 1 {
            let mut st = EncodeState::default();
            texts
                .iter()
                .map(|t| self.encode_one(t.as_ref(), options, &mut st))
                .collect()
        } else {
            let total: usize = texts.iter().map(|t| t.as_ref().len()).sum();
            let share = total.div_ceil(threads).max(1);
            let mut groups: Vec<&[S]> = Vec::with_capacity(threads);
            let (mut start, mut acc) = (0, 0);
            for (i, t) in texts.iter().enumerate() {
                acc += t.as_ref().len();
                if acc >= share {
                    groups.push(&texts[start..=i]);
                    start = i + 1;
                    acc = 0;
                }
            }
            if start < texts.len() {
                groups.push(&texts[start..]);
            }
            std::thread::scope(|scope| {
                let handles: Vec<_> = groups
                    .iter()
                    .map(|g| {
                        scope.spawn(move || {
                            let mut st = EncodeState::default();
                            g.iter()
                                .map(|t| self.encode_one(t.as_ref(), options, &mut st))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| {
                        // A worker's panic (e.g. in a caller's `AsRef`) goes on here,
                        // rather than leaving its texts out of the result.
                        h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
                    })
                    .collect()
            })
        };
        let target = match options.padding {
            Padding::None => return out,
            Padding::Longest => out.iter().map(|e| e.ids.len()).max().unwrap_or(0),
            Padding::Fixed(n) => n,
        };
        for enc in &mut out {
            let missing = target.saturating_sub(enc.ids.len());
            if missing == 0 {
                continue;
            }
            let pad_ids = std::iter::repeat_n(options.pad_id, missing);
            let zeros = std::iter::repeat_n(0u8, missing);
            let none =
                std::iter::repeat_n((0usize, 0usize), if options.offsets { missing } else { 0 });
            match options.padding_side {
                Side::Right => {
                    enc.ids.extend(pad_ids);
                    enc.attention_mask.extend(zeros);
                    enc.offsets.extend(none);
                }
                Side::Left => {
                    enc.ids.splice(0..0, pad_ids);
                    enc.attention_mask.splice(0..0, zeros);
                    enc.offsets.splice(0..0, none);
                }
            }
        }
        out
    }
}
