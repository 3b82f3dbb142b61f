//! A tokenised corpus of one example per line, as the chapter-3 notebook's
//! `IterableTextDataset` reads its news files: each line is stripped, its digit runs
//! optionally replaced by `###`, tokenised, truncated to a maximum length, and kept when
//! it has at least two tokens (one input and one target).

use crate::error::{DataError, Result, invalid};
use ferrograd_tokenize::ByteLevelBpe;
use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Text to token ids and back: any tokenizer of `ferrograd-tokenize` (GPT-2's BPE, one
/// trained on the corpus) or your own.
pub trait TextEncoder: Send + Sync + std::fmt::Debug {
    /// The token ids of `text` (special-token strings are ordinary text).
    fn encode(&self, text: &str) -> Vec<u32>;

    /// The text of `ids`; bytes that are not valid UTF-8 (a sequence cut inside a
    /// character) become U+FFFD.
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] naming an id the tokenizer does not know.
    fn decode(&self, ids: &[u32]) -> Result<String>;

    /// Number of ids (the largest is one less).
    fn vocab_size(&self) -> usize;
}

impl TextEncoder for ByteLevelBpe {
    fn encode(&self, text: &str) -> Vec<u32> {
        ByteLevelBpe::encode(self, text)
    }

    fn decode(&self, ids: &[u32]) -> Result<String> {
        self.decode_lossy(ids)
            .map_err(|e| invalid("TextEncoder::decode", e.to_string()))
    }

    fn vocab_size(&self) -> usize {
        ByteLevelBpe::vocab_size(self)
    }
}

/// How lines become examples (the notebook's rules; its values are the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineOptions {
    /// Tokens kept per line, the first ones (the notebook's `max_length`, 30; the
    /// tokenizer's `truncation=True`). At least 2.
    pub max_length: usize,
    /// Replace every run of decimal digits by `###` before tokenising (the notebook's
    /// `re.sub(r"\d+", "###", sentence)`; Unicode decimal digits, as Python's `\d`).
    pub replace_digits: bool,
    /// Lines longer than this many bytes are an error rather than a memory hazard (a
    /// file without line breaks); 16 MiB by default.
    pub max_line_bytes: usize,
    /// When set, every token id must be below it (the model's vocabulary): an id at or
    /// above is an error naming the file and line.
    pub vocab_limit: Option<usize>,
}

impl Default for LineOptions {
    fn default() -> Self {
        Self {
            max_length: 30,
            replace_digits: true,
            max_line_bytes: 16 << 20,
            vocab_limit: None,
        }
    }
}

impl LineOptions {
    /// The notebook's rules with `max_length` tokens per line.
    pub fn new(max_length: usize) -> Self {
        Self {
            max_length,
            ..Self::default()
        }
    }

    /// The same with digit replacement on or off.
    #[must_use]
    pub fn replace_digits(mut self, yes: bool) -> Self {
        self.replace_digits = yes;
        self
    }

    /// The same with ids checked against a vocabulary of `vocab_size` ids.
    #[must_use]
    pub fn vocab_limit(mut self, vocab_size: usize) -> Self {
        self.vocab_limit = Some(vocab_size);
        self
    }

    /// The same with another limit on a line's length in bytes.
    #[must_use]
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes;
        self
    }

    pub(crate) fn validate(&self, op: &'static str) -> Result<()> {
        if self.max_length < 2 {
            return Err(invalid(
                op,
                format!(
                    "max_length {} keeps no example: a line needs 2 tokens (an input and a target)",
                    self.max_length
                ),
            ));
        }
        if self.max_line_bytes == 0 {
            return Err(invalid(op, "max_line_bytes must be at least 1"));
        }
        Ok(())
    }
}

/// Python's `str.strip()`: removes leading and trailing characters for which
/// `str.isspace()` is true — Unicode white space and the separators U+001C–U+001F.
///
/// ```
/// use ferrograd_data::text::python_strip;
/// assert_eq!(python_strip("\u{1c} hello\u{3000}\n"), "hello");
/// ```
pub fn python_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Unicode decimal digits (general category Nd), as Python 3.11's `re` matches `\d` in
/// a `str` pattern (Unicode 14.0). Generated with
/// `[c for c in range(0x110000) if re.match(r'\d', chr(c))]` grouped into ranges.
const DECIMAL_DIGITS: &[(u32, u32)] = &[
    (0x30, 0x39),
    (0x660, 0x669),
    (0x6F0, 0x6F9),
    (0x7C0, 0x7C9),
    (0x966, 0x96F),
    (0x9E6, 0x9EF),
    (0xA66, 0xA6F),
    (0xAE6, 0xAEF),
    (0xB66, 0xB6F),
    (0xBE6, 0xBEF),
    (0xC66, 0xC6F),
    (0xCE6, 0xCEF),
    (0xD66, 0xD6F),
    (0xDE6, 0xDEF),
    (0xE50, 0xE59),
    (0xED0, 0xED9),
    (0xF20, 0xF29),
    (0x1040, 0x1049),
    (0x1090, 0x1099),
    (0x17E0, 0x17E9),
    (0x1810, 0x1819),
    (0x1946, 0x194F),
    (0x19D0, 0x19D9),
    (0x1A80, 0x1A89),
    (0x1A90, 0x1A99),
    (0x1B50, 0x1B59),
    (0x1BB0, 0x1BB9),
    (0x1C40, 0x1C49),
    (0x1C50, 0x1C59),
    (0xA620, 0xA629),
    (0xA8D0, 0xA8D9),
    (0xA900, 0xA909),
    (0xA9D0, 0xA9D9),
    (0xA9F0, 0xA9F9),
    (0xAA50, 0xAA59),
    (0xABF0, 0xABF9),
    (0xFF10, 0xFF19),
    (0x104A0, 0x104A9),
    (0x10D30, 0x10D39),
    (0x11066, 0x1106F),
    (0x110F0, 0x110F9),
    (0x11136, 0x1113F),
    (0x111D0, 0x111D9),
    (0x112F0, 0x112F9),
    (0x11450, 0x11459),
    (0x114D0, 0x114D9),
    (0x11650, 0x11659),
    (0x116C0, 0x116C9),
    (0x11730, 0x11739),
    (0x118E0, 0x118E9),
    (0x11950, 0x11959),
    (0x11C50, 0x11C59),
    (0x11D50, 0x11D59),
    (0x11DA0, 0x11DA9),
    (0x16A60, 0x16A69),
    (0x16AC0, 0x16AC9),
    (0x16B50, 0x16B59),
    (0x1D7CE, 0x1D7FF),
    (0x1E140, 0x1E149),
    (0x1E2F0, 0x1E2F9),
    (0x1E950, 0x1E959),
    (0x1FBF0, 0x1FBF9),
];

/// Whether `c` is a Unicode decimal digit (what Python's `\d` matches).
pub fn is_decimal_digit(c: char) -> bool {
    let c = c as u32;
    if c < 0x80 {
        return (0x30..=0x39).contains(&c);
    }
    DECIMAL_DIGITS
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Every maximal run of decimal digits replaced by `###`: Python's
/// `re.sub(r"\d+", "###", s)`. Borrows `s` when it has no digit.
///
/// ```
/// use ferrograd_data::text::replace_digits;
/// assert_eq!(replace_digits("In 2024, the 3rd of ١٢٣; ½ and x² stay"),
///            "In ###, the ###rd of ###; ½ and x² stay");
/// ```
pub fn replace_digits(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_decimal_digit) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut in_run = false;
    for c in s.chars() {
        if is_decimal_digit(c) {
            if !in_run {
                out.push_str("###");
                in_run = true;
            }
        } else {
            out.push(c);
            in_run = false;
        }
    }
    Cow::Owned(out)
}

/// The tokens one line gives: stripped, digits replaced (by option), tokenised,
/// truncated to `options.max_length`; `None` when fewer than 2 tokens remain (the
/// notebook drops such lines: no input and target).
pub fn line_tokens(
    line: &str,
    encoder: &dyn TextEncoder,
    options: &LineOptions,
) -> Option<Vec<u32>> {
    let stripped = python_strip(line);
    let text = if options.replace_digits {
        replace_digits(stripped)
    } else {
        Cow::Borrowed(stripped)
    };
    let mut ids = encoder.encode(&text);
    ids.truncate(options.max_length);
    (ids.len() >= 2).then_some(ids)
}

/// Reads a UTF-8 file line by line as Python's text files do (universal newlines: `\n`,
/// `\r\n` and a lone `\r` end a line), with the byte offset and the 1-based number of
/// each line, never holding more than one line in memory.
#[derive(Debug)]
pub struct LineReader<R> {
    reader: R,
    file: String,
    /// Byte offset of the next unread line.
    offset: u64,
    /// Number of the next unread line (1-based).
    line: u64,
    max_line_bytes: usize,
    buffer: Vec<u8>,
}

impl LineReader<BufReader<std::fs::File>> {
    /// Opens `path`, positioned at byte `offset` which must be the start of line `line`
    /// (a position [`LineReader::position`] returned; `(0, 1)` for the start).
    ///
    /// # Errors
    /// [`DataError::Io`] when the file cannot be opened or seeked.
    pub fn open_at(path: &Path, offset: u64, line: u64, max_line_bytes: usize) -> Result<Self> {
        let file = path.display().to_string();
        let io = |source| DataError::Io {
            op: "LineReader::open",
            file: file.clone(),
            source,
        };
        let mut handle = std::fs::File::open(path).map_err(io)?;
        handle.seek(SeekFrom::Start(offset)).map_err(io)?;
        Ok(Self::new(
            BufReader::with_capacity(1 << 16, handle),
            file.clone(),
            max_line_bytes,
        )
        .at(offset, line))
    }
}

impl<R: BufRead> LineReader<R> {
    /// A reader over `reader`, whose text is named `file` in errors.
    pub fn new(reader: R, file: impl Into<String>, max_line_bytes: usize) -> Self {
        Self {
            reader,
            file: file.into(),
            offset: 0,
            line: 1,
            max_line_bytes,
            buffer: Vec::new(),
        }
    }

    fn at(mut self, offset: u64, line: u64) -> Self {
        self.offset = offset;
        self.line = line;
        self
    }

    /// `(byte offset, line number)` of the next line to be read.
    pub fn position(&self) -> (u64, u64) {
        (self.offset, self.line)
    }

    /// The next line without its line ending, with its 1-based number; `None` at the end.
    ///
    /// # Errors
    /// [`DataError::Io`] on a read error, [`DataError::Utf8`] naming a line that is not
    /// UTF-8, [`DataError::InvalidArgument`] for a line longer than the limit.
    pub fn next_line(&mut self) -> Result<Option<(String, u64)>> {
        self.buffer.clear();
        let mut consumed = 0u64;
        let mut ended = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(DataError::Io {
                        op: "LineReader::next_line",
                        file: self.file.clone(),
                        source,
                    });
                }
            };
            if available.is_empty() {
                break;
            }
            if ended {
                // The previous chunk ended with '\r': a following '\n' belongs to it.
                if available[0] == b'\n' {
                    self.reader.consume(1);
                    consumed += 1;
                }
                break;
            }
            match available.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => {
                    self.buffer.extend_from_slice(&available[..i]);
                    let crlf = available[i] == b'\r';
                    let take = if crlf && available.get(i + 1) == Some(&b'\n') {
                        i + 2
                    } else {
                        i + 1
                    };
                    // A '\r' at the very end of the chunk: look at the next chunk.
                    ended = crlf && take == i + 1 && i + 1 == available.len();
                    self.reader.consume(take);
                    consumed += take as u64;
                    if !ended {
                        break;
                    }
                }
                None => {
                    let n = available.len();
                    self.buffer.extend_from_slice(available);
                    self.reader.consume(n);
                    consumed += n as u64;
                }
            }
            if self.buffer.len() > self.max_line_bytes {
                return Err(invalid(
                    "LineReader::next_line",
                    format!(
                        "{}:{}: the line is longer than {} bytes (the limit; raise max_line_bytes \
                         for files with very long lines)",
                        self.file, self.line, self.max_line_bytes
                    ),
                ));
            }
        }
        if consumed == 0 {
            return Ok(None);
        }
        let number = self.line;
        self.offset += consumed;
        self.line += 1;
        let text =
            String::from_utf8(std::mem::take(&mut self.buffer)).map_err(|_| DataError::Utf8 {
                file: self.file.clone(),
                line: number as usize,
            })?;
        Ok(Some((text, number)))
    }
}

/// A corpus tokenised in memory, one example per line ([`line_tokens`]): the token ids
/// of every kept line, its source line number, and counts of what was read.
///
/// The text itself is never held whole: [`TokenizedLines::from_file`] streams the file
/// line by line. Memory is 4 bytes per kept token plus 16 per example (a 1 GB news corpus
/// truncated to 30 tokens a line needs a few hundred MB); for a corpus whose *tokens* do
/// not fit either, use [`StreamingBatches`](crate::text::StreamingBatches).
///
/// ```
/// use ferrograd_data::text::{LineOptions, TextEncoder, TokenizedLines};
///
/// #[derive(Debug)]
/// struct Chars; // a toy tokenizer: one id per byte
/// impl TextEncoder for Chars {
///     fn encode(&self, text: &str) -> Vec<u32> { text.bytes().map(u32::from).collect() }
///     fn decode(&self, ids: &[u32]) -> ferrograd_data::Result<String> {
///         Ok(ids.iter().map(|&i| i as u8 as char).collect())
///     }
///     fn vocab_size(&self) -> usize { 256 }
/// }
///
/// let text = "Hello 2024\n\n  x \nA longer line than four tokens\n";
/// let corpus = TokenizedLines::from_text(text, &Chars, &LineOptions::new(4), "toy")?;
/// assert_eq!(corpus.len(), 2);                            // "" and "x" are dropped
/// assert_eq!(corpus.example(0), b"Hell".map(u32::from));   // truncated to 4 tokens
/// assert_eq!(corpus.source_line(1), 4);
/// assert_eq!((corpus.lines_read(), corpus.lines_dropped()), (4, 2));
/// # Ok::<(), ferrograd_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TokenizedLines {
    ids: Vec<u32>,
    offsets: Vec<usize>,
    lines: Vec<u64>,
    lines_read: u64,
    /// Lines of the source before this part (0 but for the held-out part of a split).
    lines_before: u64,
    source: String,
}

/// A corpus of no examples, no lines read and no source name (a valid corpus: it
/// splits, hashes and batches like any other).
impl Default for TokenizedLines {
    fn default() -> Self {
        Self::empty(String::new())
    }
}

impl TokenizedLines {
    fn empty(source: String) -> Self {
        Self {
            ids: Vec::new(),
            offsets: vec![0],
            lines: Vec::new(),
            lines_read: 0,
            lines_before: 0,
            source,
        }
    }

    fn push_line<R: BufRead>(
        &mut self,
        reader: &mut LineReader<R>,
        encoder: &dyn TextEncoder,
        options: &LineOptions,
    ) -> Result<bool> {
        let Some((line, number)) = reader.next_line()? else {
            return Ok(false);
        };
        self.lines_read = number;
        if let Some(tokens) = line_tokens(&line, encoder, options) {
            check_vocab(&tokens, options, &reader.file, number)?;
            self.ids.extend_from_slice(&tokens);
            self.offsets.push(self.ids.len());
            self.lines.push(number);
        }
        Ok(true)
    }

    /// Tokenises the lines of `path` (streamed, never read whole).
    ///
    /// # Errors
    /// [`DataError::Io`], [`DataError::Utf8`] naming the line, a line over the byte
    /// limit, an id outside `options.vocab_limit`, or invalid options.
    pub fn from_file(
        path: impl AsRef<Path>,
        encoder: &dyn TextEncoder,
        options: &LineOptions,
    ) -> Result<Self> {
        options.validate("TokenizedLines::from_file")?;
        let path = path.as_ref();
        let mut reader = LineReader::open_at(path, 0, 1, options.max_line_bytes)?;
        let mut corpus = Self::empty(path.display().to_string());
        while corpus.push_line(&mut reader, encoder, options)? {}
        Ok(corpus)
    }

    /// Tokenises the lines of `text`, named `source` in errors.
    ///
    /// # Errors
    /// As [`TokenizedLines::from_file`] (no I/O).
    pub fn from_text(
        text: &str,
        encoder: &dyn TextEncoder,
        options: &LineOptions,
        source: &str,
    ) -> Result<Self> {
        options.validate("TokenizedLines::from_text")?;
        let mut reader = LineReader::new(text.as_bytes(), source, options.max_line_bytes);
        let mut corpus = Self::empty(source.to_string());
        while corpus.push_line(&mut reader, encoder, options)? {}
        Ok(corpus)
    }

    /// A corpus of the given examples (each at least 2 ids), e.g. ids made elsewhere.
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] naming an example with fewer than 2 ids.
    pub fn from_examples<S: AsRef<[u32]>>(examples: &[S], source: &str) -> Result<Self> {
        let mut corpus = Self::empty(source.to_string());
        for (i, e) in examples.iter().enumerate() {
            let e = e.as_ref();
            if e.len() < 2 {
                return Err(invalid(
                    "TokenizedLines::from_examples",
                    format!(
                        "example {i} has {} ids; an example needs at least 2",
                        e.len()
                    ),
                ));
            }
            corpus.ids.extend_from_slice(e);
            corpus.offsets.push(corpus.ids.len());
            corpus.lines.push(i as u64 + 1);
        }
        corpus.lines_read = examples.len() as u64;
        Ok(corpus)
    }

    /// Number of examples (kept lines).
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True when no line was kept.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The token ids of example `i` (input = all but the last, target = all but the
    /// first). Panics when `i >= len()`, like slice indexing.
    pub fn example(&self, i: usize) -> &[u32] {
        &self.ids[self.offsets[i]..self.offsets[i + 1]]
    }

    /// The 1-based line of the source that example `i` came from.
    pub fn source_line(&self, i: usize) -> u64 {
        self.lines[i]
    }

    /// Where the text came from (a path or a name).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Lines read from the source, up to the end of this part (for the held-out part of
    /// [`TokenizedLines::split_by_lines`], the source's lines before it included).
    pub fn lines_read(&self) -> u64 {
        self.lines_read
    }

    /// Lines of this part dropped (fewer than 2 tokens: empty or one-token lines).
    pub fn lines_dropped(&self) -> u64 {
        self.lines_read - self.lines_before - self.lines.len() as u64
    }

    /// Total tokens kept, over every example.
    pub fn num_tokens(&self) -> usize {
        self.ids.len()
    }

    /// Number of next-token targets: one less than the tokens of each example.
    pub fn num_targets(&self) -> usize {
        self.ids.len() - self.len()
    }

    /// The largest id, if any (to check against a model's vocabulary).
    pub fn max_id(&self) -> Option<u32> {
        self.ids.iter().copied().max()
    }

    /// The examples from the first `fraction` of the source's lines (train) and from the
    /// rest (held out): line `k` goes to the first part when `k ≤ ⌊fraction · lines_read⌋`.
    /// Each part counts its own dropped lines.
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] for a fraction outside [0, 1].
    pub fn split_by_lines(&self, fraction: f64) -> Result<(Self, Self)> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(invalid(
                "TokenizedLines::split_by_lines",
                format!("fraction {fraction} is not in [0, 1]"),
            ));
        }
        // Of this part's own lines (a held-out part can be split again).
        let own = self.lines_read - self.lines_before;
        let boundary = self.lines_before + (fraction * own as f64).floor() as u64;
        let cut = self.lines.partition_point(|&l| l <= boundary);
        let part =
            |range: std::ops::Range<usize>, lines_before: u64, lines_read: u64, tag: &str| {
                let start = self.offsets[range.start];
                Self {
                    ids: self.ids[start..self.offsets[range.end]].to_vec(),
                    offsets: self.offsets[range.start..=range.end]
                        .iter()
                        .map(|o| o - start)
                        .collect(),
                    lines: self.lines[range].to_vec(),
                    lines_read,
                    lines_before,
                    source: format!("{} ({tag})", self.source),
                }
            };
        Ok((
            part(0..cut, self.lines_before, boundary, "first part"),
            part(cut..self.len(), boundary, self.lines_read, "second part"),
        ))
    }

    /// A 64-bit FNV-1a hash of every example's ids: equal for equal corpora, so a
    /// checkpoint can tell that it is resumed on the data it was written for.
    pub fn fingerprint(&self) -> u64 {
        #[cfg(test)]
        FINGERPRINTS_COMPUTED.with(|c| c.set(c.get() + 1));
        let mut h = Fnv::new();
        for i in 0..self.len() {
            h.write_u64(self.example(i).len() as u64);
            for &id in self.example(i) {
                h.write_u64(u64::from(id));
            }
        }
        h.finish()
    }
}

#[cfg(test)]
thread_local! {
    /// How many times this thread computed [`TokenizedLines::fingerprint`] (tests check
    /// that batching computes it once, not once per step).
    pub(crate) static FINGERPRINTS_COMPUTED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

pub(crate) fn check_vocab(
    tokens: &[u32],
    options: &LineOptions,
    file: &str,
    line: u64,
) -> Result<()> {
    if let Some(limit) = options.vocab_limit
        && let Some(&bad) = tokens.iter().find(|&&t| t as usize >= limit)
    {
        return Err(invalid(
            "TokenizedLines",
            format!(
                "{file}:{line}: token id {bad} is outside the model's vocabulary of {limit} ids \
                 (the tokenizer has more ids than the model)"
            ),
        ));
    }
    Ok(())
}

/// FNV-1a, 64 bits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub(crate) fn write_u64(&mut self, v: u64) {
        self.write(&v.to_le_bytes());
    }

    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

/// A fingerprint of a file for resuming: its length and a hash of its first 64 KiB.
pub(crate) fn file_fingerprint(path: &Path) -> Result<u64> {
    let io = |source| DataError::Io {
        op: "file_fingerprint",
        file: path.display().to_string(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut head = Vec::with_capacity(1 << 16);
    (&mut file)
        .take(1 << 16)
        .read_to_end(&mut head)
        .map_err(io)?;
    let mut h = Fnv::new();
    h.write_u64(len);
    h.write(&head);
    Ok(h.finish())
}
