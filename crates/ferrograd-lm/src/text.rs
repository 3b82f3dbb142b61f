//! Text to tokens and tokens to ids: the tokenisers of the book's §2.2 and §2.4–2.6 notebooks,
//! and a vocabulary that gives each distinct token a dense id in first-seen order.
//!
//! ```
//! use ferrograd_lm::text::{Vocabulary, count_lm_tokens};
//!
//! let tokens = count_lm_tokens("Language models are powerful. Language models are useful!");
//! assert_eq!(tokens, ["language", "models", "are", "powerful", ".",
//!                     "language", "models", "are", "useful"]);
//! let mut vocab = Vocabulary::new();
//! let ids: Vec<u32> = tokens.iter().map(|t| vocab.insert(t)).collect();
//! assert_eq!(ids, [0, 1, 2, 3, 4, 0, 1, 2, 5]);
//! assert_eq!(vocab.word(5), Some("useful"));
//! ```

use ferrograd_linalg::cpu::partition;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Calls `f` with each token of the book's count-based language model tokeniser, without
/// allocating a string per token: the text is lower-cased, then every maximal run of ASCII
/// letters and digits that stands between word boundaries is a token, and so is every
/// period — Python's `re.findall(r"\b[a-zA-Z0-9]+\b|[.]", text.lower())`.
///
/// A run of ASCII letters and digits that touches another word character (an underscore
/// or a non-ASCII letter or digit, as in `snake_case` or `café`) is not a token, exactly as
/// the regular expression's `\b` decides. (One difference from Python's `\w`: the Unicode
/// "other alphabetic" combining vowel signs of a few scripts count as word characters
/// here, as Rust's [`char::is_alphanumeric`] says; for text written in Latin letters the
/// tokens are identical.)
pub fn for_each_count_lm_token(text: &str, mut f: impl FnMut(&str)) {
    let mut lower = String::new();
    scan_count_lm_tokens(text, |piece| match piece {
        Piece::Ascii(start, end) => {
            let token = &text[start..end];
            if token.bytes().any(|b| b.is_ascii_uppercase()) {
                lower.clear();
                lower.push_str(token);
                lower.make_ascii_lowercase();
                f(&lower);
            } else {
                f(token);
            }
        }
        Piece::Period => f("."),
        Piece::Word(word) => f(word),
    });
}

/// The ids of the tokens of [`for_each_count_lm_token`] in `text`, new words added to
/// `vocab`: the count model's tokeniser and vocabulary in one pass, with no string made per
/// token.
///
/// ```
/// use ferrograd_lm::text::{Vocabulary, count_lm_token_ids};
///
/// let mut vocab = Vocabulary::new();
/// let ids = count_lm_token_ids("The cat. THE CAT!", &mut vocab);
/// assert_eq!(ids, [0, 1, 2, 0, 1]);
/// assert_eq!(vocab.words(), ["the", "cat", "."]);
/// ```
pub fn count_lm_token_ids(text: &str, vocab: &mut Vocabulary) -> Vec<u32> {
    let mut ids = Vec::new();
    token_ids_into(text, vocab, &mut ids);
    ids
}

/// Fewest bytes of text a tokenising thread takes: below this, starting a thread and
/// merging its vocabulary costs more than it saves.
const TOKENIZE_MIN_PART: usize = 1 << 16;

/// [`count_lm_token_ids`] on up to `threads` threads of the worker pool
/// ([`ferrograd_linalg::cpu`], itself limited by its thread setting), with exactly the
/// same ids and vocabulary as one thread.
///
/// The text is cut into parts at ASCII whitespace (a word boundary, so no token spans a
/// cut); the first part is tokenised into `vocab`, every other part into a vocabulary of
/// its own, and these are then merged in order: each part's words not seen before get the
/// next ids in the part's first-seen order — the order one pass over the whole text gives —
/// and the part's ids are remapped in one pass. Texts under 64 KiB a part stay on one
/// thread.
///
/// ```
/// use ferrograd_lm::text::{Vocabulary, count_lm_token_ids, count_lm_token_ids_with_threads};
///
/// let text = "The cat sat. A dog ran!\n".repeat(10_000);
/// let (mut one, mut two) = (Vocabulary::new(), Vocabulary::new());
/// assert_eq!(
///     count_lm_token_ids(&text, &mut one),
///     count_lm_token_ids_with_threads(&text, &mut two, 2),
/// );
/// assert_eq!(one.words(), two.words());
/// ```
pub fn count_lm_token_ids_with_threads(
    text: &str,
    vocab: &mut Vocabulary,
    threads: usize,
) -> Vec<u32> {
    token_ids_in_parts(text, vocab, threads, TOKENIZE_MIN_PART)
}

/// [`count_lm_token_ids_with_threads`] with parts of at least `min_part` bytes.
fn token_ids_in_parts(
    text: &str,
    vocab: &mut Vocabulary,
    threads: usize,
    min_part: usize,
) -> Vec<u32> {
    let bytes = text.as_bytes();
    let parts = threads.min(text.len() / min_part.max(1)).max(1);
    // Cuts at the first ASCII whitespace byte at or after each `k · len / parts` (a char
    // boundary: UTF-8 continuation bytes are never ASCII).
    let mut cuts = vec![0];
    for k in 1..parts {
        let from = (k * text.len() / parts).max(*cuts.last().unwrap_or(&0));
        let cut = bytes[from..]
            .iter()
            .position(u8::is_ascii_whitespace)
            .map_or(text.len(), |p| from + p);
        cuts.push(cut);
    }
    cuts.push(text.len());
    cuts.dedup();
    if cuts.len() <= 2 {
        return count_lm_token_ids(text, vocab);
    }
    // Part 0 into `vocab` and one output sized for the whole text; the others into their
    // own vocabularies and outputs.
    // (Reserved, not touched: the first part's thread fills it.)
    let mut first_ids = Vec::with_capacity(text.len() / 4 + 1);
    let mut others: Vec<(Vocabulary, Vec<u32>)> = (2..cuts.len())
        .map(|_| (Vocabulary::new(), Vec::new()))
        .collect();
    {
        let mut items: Vec<(&str, &mut Vocabulary, &mut Vec<u32>)> =
            vec![(&text[..cuts[1]], &mut *vocab, &mut first_ids)];
        for (w, (v, ids)) in cuts[1..].windows(2).zip(others.iter_mut()) {
            items.push((&text[w[0]..w[1]], v, ids));
        }
        partition::items(items, |(part, v, ids)| {
            // Every table sized for the whole text's words, each by its own thread (the
            // tables are written through when made): part 0's takes the others' in the
            // merge, and a part holds well over its share of the distinct words — a table
            // rebuilt mid-part costs more than room left empty.
            v.reserve(text.len() / 128);
            token_ids_into(part, v, ids);
        });
    }
    let mut ids = first_ids;
    for (part_vocab, part_ids) in others {
        let map = vocab.merge_words(part_vocab.words);
        ids.extend(part_ids.iter().map(|&i| map[i as usize]));
    }
    ids
}

/// [`count_lm_token_ids`] appending to `ids` (reserving about a token per four bytes of
/// `text` if it has less room).
fn token_ids_into(text: &str, vocab: &mut Vocabulary, ids: &mut Vec<u32>) {
    /// Tokens hashed and their table slots prefetched before they are looked up in order:
    /// a look-up is mostly a cache miss into the table, and this lets several overlap.
    const AHEAD: usize = 8;
    /// A token waiting for its look-up: `text[start..end]` (lower-cased) with its hash
    /// and first chunk, or a period if `start == end`.
    #[derive(Clone, Copy, Default)]
    struct Pending {
        start: usize,
        end: usize,
        hash: u64,
        first: u64,
    }
    let bytes = text.as_bytes();
    // About one token per six bytes of English text; reserved, not touched.
    ids.reserve(text.len() / 4 + 1);
    // Room for the words of a typical text of this size without growing the table.
    vocab.reserve(text.len() / 128);
    let mut period = vocab.id(".");
    // A circular buffer: `pending` tokens from `ring[head]` on.
    let mut ring = [Pending::default(); AHEAD];
    let (mut head, mut pending) = (0usize, 0usize);
    let mut resolve = |vocab: &mut Vocabulary, p: Pending, ids: &mut Vec<u32>| {
        let id = if p.start == p.end {
            *period.get_or_insert_with(|| vocab.insert("."))
        } else {
            vocab.find_or_insert_hashed(bytes, p.start, p.end, LOWER, p.hash, p.first, || {
                lower_ascii(&bytes[p.start..p.end])
            })
        };
        ids.push(id);
    };
    scan_count_lm_tokens(text, |piece| {
        let p = match piece {
            Piece::Ascii(start, end) => {
                let (hash, first) = word_hash(bytes, start, end, LOWER);
                vocab.prefetch(hash);
                Pending {
                    start,
                    end,
                    hash,
                    first,
                }
            }
            Piece::Period => Pending::default(),
            Piece::Word(word) => {
                // Rare (a token made by the general path): everything before it first.
                for j in 0..pending {
                    resolve(vocab, ring[(head + j) % AHEAD], ids);
                }
                (head, pending) = (0, 0);
                ids.push(vocab.insert(word));
                return;
            }
        };
        if pending == AHEAD {
            resolve(vocab, ring[head], ids);
            ring[head] = p;
            head = (head + 1) % AHEAD;
        } else {
            ring[(head + pending) % AHEAD] = p;
            pending += 1;
        }
    });
    for j in 0..pending {
        resolve(vocab, ring[(head + j) % AHEAD], ids);
    }
}

/// `bytes` (ASCII letters and digits) lower-cased, as a string.
fn lower_ascii(bytes: &[u8]) -> String {
    // ASCII is UTF-8; one copy, lower-cased a machine word at a time.
    std::str::from_utf8(bytes)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

/// One token found by [`scan_count_lm_tokens`].
enum Piece<'a> {
    /// `text[start..end]`: ASCII letters and digits, to be lower-cased.
    Ascii(usize, usize),
    /// A period.
    Period,
    /// A lower-cased token made by the general path.
    Word(&'a str),
}

/// Byte classes of the tokeniser's fast path.
const SEPARATOR: u8 = 0;
const ALNUM: u8 = 1;
const PERIOD: u8 = 2;
/// The underscore and every byte of a non-ASCII character: a word character that is not a
/// token character (or may lower-case into one): the general path decides.
const OTHER: u8 = 3;

static CLASS: [u8; 256] = {
    let mut class = [SEPARATOR; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        class[b] = if c.is_ascii_alphanumeric() {
            ALNUM
        } else if c == b'.' {
            PERIOD
        } else if c == b'_' || c >= 0x80 {
            OTHER
        } else {
            SEPARATOR
        };
        b += 1;
    }
    class
};

/// Bit masks of a 64-byte block (bit `j` for byte `j`): ASCII letters and digits,
/// periods, and [`OTHER`] bytes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_masks(block: &[u8; 64]) -> (u64, u64, u64) {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_sub_epi8,
    };
    let (mut alnum, mut period, mut other) = (0u64, 0u64, 0u64);
    for q in 0..4 {
        #[allow(unused_unsafe)]
        // SAFETY: SSE2 is part of the x86-64 baseline; the load reads bytes
        // `16q..16q + 16` of the 64-byte block.
        let (a, p, o) = unsafe {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * q).cast());
            // Unsigned `x - lo <= hi - lo` as `min(x - lo, hi - lo) == x - lo`.
            let digit = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
            let is_digit = _mm_cmpeq_epi8(_mm_min_epu8(digit, _mm_set1_epi8(9)), digit);
            let letter = _mm_sub_epi8(
                _mm_or_si128(v, _mm_set1_epi8(0x20)),
                _mm_set1_epi8(b'a' as i8),
            );
            let is_letter = _mm_cmpeq_epi8(_mm_min_epu8(letter, _mm_set1_epi8(25)), letter);
            let is_period = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8));
            // The top bit of a byte is set for every byte of a non-ASCII character.
            let is_other = _mm_or_si128(v, _mm_cmpeq_epi8(v, _mm_set1_epi8(b'_' as i8)));
            (
                _mm_movemask_epi8(_mm_or_si128(is_digit, is_letter)) as u16,
                _mm_movemask_epi8(is_period) as u16,
                _mm_movemask_epi8(is_other) as u16,
            )
        };
        alnum |= u64::from(a) << (16 * q);
        period |= u64::from(p) << (16 * q);
        other |= u64::from(o) << (16 * q);
    }
    (alnum, period, other)
}

/// Bit masks of a 64-byte block (bit `j` for byte `j`): ASCII letters and digits,
/// periods, and [`OTHER`] bytes.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn block_masks(block: &[u8; 64]) -> (u64, u64, u64) {
    let (mut alnum, mut period, mut other) = (0u64, 0u64, 0u64);
    for (j, &b) in block.iter().enumerate() {
        let class = CLASS[usize::from(b)];
        alnum |= u64::from(class == ALNUM) << j;
        period |= u64::from(class == PERIOD) << j;
        other |= u64::from(class == OTHER) << j;
    }
    (alnum, period, other)
}

/// The tokeniser's scanner: ASCII runs of letters and digits between separators are
/// reported by position (the common case); a run of word characters with anything else in
/// it (an underscore, a non-ASCII character) goes to the general path, which applies
/// Unicode lower-casing and Python's `\w` exactly. Runs are cut at ASCII separators, where
/// the regular expression's word boundaries always fall.
///
/// Where a block of 64 bytes holds only ASCII and no underscore, its tokens are found
/// from bit masks of the block (letters and digits, periods) instead of byte by byte.
#[inline]
fn scan_count_lm_tokens(text: &str, mut f: impl FnMut(Piece<'_>)) {
    let bytes = text.as_bytes();
    let end = bytes.len();
    let class = |i: usize| CLASS[usize::from(bytes[i])];
    // Invariant at the top of the loop: `i` is 0 or follows an ASCII separator or period,
    // so a word character at `i` starts a run.
    let mut i = 0;
    while i < end {
        if let Some(block) = bytes.get(i..i + 64) {
            let block: &[u8; 64] = block.try_into().unwrap_or(&[0; 64]);
            let (alnum, period, other) = block_masks(block);
            if other == 0 {
                // Runs start where a letter or digit follows a non-word byte (bit 0
                // follows one, by the invariant).
                let starts = alnum & !(alnum << 1);
                // A run that reaches the block's end may go on: leave it for the next
                // round, which starts at that run.
                let cut = if alnum >> 63 == 1 {
                    64 - (!alnum).leading_zeros()
                } else {
                    64
                };
                let keep = if cut == 64 {
                    u64::MAX
                } else {
                    (1u64 << cut) - 1
                };
                let mut events = (starts | period) & keep;
                while events != 0 {
                    let s = events.trailing_zeros();
                    events &= events - 1;
                    if period >> s & 1 == 1 {
                        f(Piece::Period);
                    } else {
                        let len = (!(alnum >> s)).trailing_zeros();
                        let at = i + s as usize;
                        f(Piece::Ascii(at, at + len as usize));
                    }
                }
                if cut > 0 {
                    i += cut as usize;
                    continue;
                }
                // One run of 64 letters and digits or more: byte by byte below.
            }
        }
        match class(i) {
            SEPARATOR => {
                i += 1;
                continue;
            }
            PERIOD => {
                f(Piece::Period);
                i += 1;
                continue;
            }
            _ => {}
        }
        let start = i;
        while i < end && class(i) == ALNUM {
            i += 1;
        }
        if i == end || class(i) != OTHER {
            // (A run that starts with OTHER stops at once, on OTHER.)
            f(Piece::Ascii(start, i));
            continue;
        }
        // Something else in the run: take the whole run of word characters (up to the
        // next ASCII separator or period) through the general path.
        while i < end && matches!(class(i), ALNUM | OTHER) {
            i += 1;
        }
        unicode_segment_tokens(&text[start..i], |word| f(Piece::Word(word)));
    }
}

/// The tokeniser on a piece of text that starts and ends at word boundaries, with any
/// characters: the general path, which lower-cases and classifies each non-ASCII character.
fn unicode_segment_tokens(text: &str, mut f: impl FnMut(&str)) {
    /// The current run of word characters.
    enum Run {
        /// Not in a run.
        None,
        /// ASCII letters and digits only, all from `text[start..]`; `upper` if any is
        /// upper-case.
        Slice { start: usize, upper: bool },
        /// A valid token built in `buffer` (a non-ASCII character lower-cased to ASCII).
        Buffered,
        /// A run holding some other word character: not a token.
        Invalid,
    }
    let bytes = text.as_bytes();
    let mut buffer = String::new();
    let mut run = Run::None;
    let end_run = |run: &mut Run, at: usize, buffer: &mut String, f: &mut dyn FnMut(&str)| {
        match *run {
            Run::Slice {
                start,
                upper: false,
            } => f(&text[start..at]),
            Run::Slice { start, upper: true } => {
                buffer.clear();
                buffer.push_str(&text[start..at]);
                buffer.make_ascii_lowercase();
                f(buffer);
            }
            Run::Buffered => f(buffer),
            Run::None | Run::Invalid => {}
        }
        *run = Run::None;
    };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii() {
            if b.is_ascii_alphanumeric() {
                match &mut run {
                    Run::None => {
                        run = Run::Slice {
                            start: i,
                            upper: b.is_ascii_uppercase(),
                        }
                    }
                    Run::Slice { upper, .. } => *upper |= b.is_ascii_uppercase(),
                    Run::Buffered => buffer.push(char::from(b.to_ascii_lowercase())),
                    Run::Invalid => {}
                }
            } else if b == b'_' {
                run = Run::Invalid;
            } else {
                end_run(&mut run, i, &mut buffer, &mut f);
                if b == b'.' {
                    f(".");
                }
            }
            i += 1;
            continue;
        }
        // A non-ASCII character: lower-case it (possibly into several characters, or
        // into an ASCII letter, as KELVIN SIGN does) and classify each.
        let c = text[i..].chars().next().unwrap_or_default();
        for lower in c.to_lowercase() {
            if !is_word_char(lower) {
                end_run(&mut run, i, &mut buffer, &mut f);
            } else if lower.is_ascii_alphanumeric() {
                match run {
                    Run::None => {
                        buffer.clear();
                        run = Run::Buffered;
                    }
                    Run::Slice { start, .. } => {
                        buffer.clear();
                        buffer.push_str(&text[start..i]);
                        buffer.make_ascii_lowercase();
                        run = Run::Buffered;
                    }
                    Run::Buffered | Run::Invalid => {}
                }
                if let Run::Buffered = run {
                    buffer.push(lower);
                }
            } else {
                run = Run::Invalid;
            }
        }
        i += c.len_utf8();
    }
    end_run(&mut run, bytes.len(), &mut buffer, &mut f);
}

/// A word character in the sense of Python's `\w` on `str` patterns: letters and digits of
/// any script, and the underscore.
fn is_word_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The book's count-based language model tokeniser (see [`for_each_count_lm_token`]), as
/// owned strings.
///
/// ```
/// use ferrograd_lm::text::count_lm_tokens;
/// assert_eq!(count_lm_tokens("I will build a WALL."), ["i", "will", "build", "a", "wall", "."]);
/// assert_eq!(count_lm_tokens("don't snake_case café 42"), ["don", "t", "42"]);
/// ```
pub fn count_lm_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for_each_count_lm_token(text, |t| tokens.push(t.to_string()));
    tokens
}

/// Words for word embeddings: the count-model tokeniser without periods, one sentence per
/// non-empty line of `text` (as word2vec tools read a corpus file).
///
/// ```
/// use ferrograd_lm::text::word_sentences;
/// let s = word_sentences("The king rules.\n\nThe queen rules too.");
/// assert_eq!(s, [vec!["the", "king", "rules"], vec!["the", "queen", "rules", "too"]]);
/// ```
pub fn word_sentences(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|line| {
            let mut words = Vec::new();
            for_each_count_lm_token(line, |t| {
                if t != "." {
                    words.push(t.to_string());
                }
            });
            words
        })
        .filter(|words| !words.is_empty())
        .collect()
}

/// A fast, non-cryptographic hasher for short keys (token strings and packed ids): the
/// "Fx" multiply-rotate hash, with a final mixing step. Hash-flooding resistance is not needed for a model's own
/// vocabulary, and it is several times faster than the standard library's SipHash here.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The multiply-rotate rounds leave the low bits weak (they depend only on the low
        // bits of the input), and hash tables index by the low bits: mix the high half in.
        let h = self.hash;
        (h ^ (h >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (h >> 29)
    }
}

/// A `HashMap` with [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Distinct tokens and their dense ids (`0, 1, 2, …` in the order the tokens were first
/// inserted).
///
/// The words are found through an open-addressing hash table that keeps each word's first
/// sixteen bytes and length beside its id, so that a look-up of a word of up to sixteen
/// bytes (nearly every word) reads one table slot and never the word itself.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    words: Vec<String>,
    /// Power-of-two many slots, at most half full; linear probing. A slot is
    /// `[first 8 bytes, next 8 bytes, tag << 32 | (id + 1), 0]` (bytes past the word's end
    /// zero), all zeros when empty, where the tag is 24 bits of the hash and the length
    /// (capped at 255) in its low 8 bits. 32 bytes: one slot never straddles cache lines.
    slots: Vec<[u64; 4]>,
}

/// Every byte 0x20: OR-ed into ASCII letters and digits, lower-cases them.
const LOWER: u64 = 0x2020_2020_2020_2020;

/// Mask of the first `valid` (1..=8) bytes of a little-endian word.
#[inline(always)]
fn byte_mask(valid: usize) -> u64 {
    u64::MAX >> (8 * (8 - valid))
}

/// Chunk `c` (8 bytes, zero-padded past the end) of `bytes[start..end]`, where `bytes`
/// may go on past `end`.
#[inline(always)]
fn chunk(bytes: &[u8], start: usize, end: usize, c: usize) -> u64 {
    let at = start + 8 * c;
    let valid = (end - at).min(8);
    let word = match bytes.get(at..at + 8) {
        Some(b) => u64::from_le_bytes(b.try_into().unwrap_or_default()),
        None => {
            let mut b = [0u8; 8];
            b[..valid].copy_from_slice(&bytes[at..at + valid]);
            u64::from_le_bytes(b)
        }
    };
    word & byte_mask(valid)
}

/// The second chunk of `bytes[start..end]` (`fold` OR-ed into each valid byte), 0 for a
/// word of at most 8 bytes.
#[inline(always)]
fn second_chunk(bytes: &[u8], start: usize, end: usize, fold: u64) -> u64 {
    let len = end - start;
    if len <= 8 {
        0
    } else {
        chunk(bytes, start, end, 1) | (fold & byte_mask((len - 8).min(8)))
    }
}

/// A word's hash and first chunk, from its chunks (`fold` OR-ed into each valid byte).
#[inline(always)]
fn word_hash(bytes: &[u8], start: usize, end: usize, fold: u64) -> (u64, u64) {
    let len = end - start;
    let chunks = len.div_ceil(8).max(1);
    let first = if len == 0 {
        0
    } else {
        chunk(bytes, start, end, 0) | (fold & byte_mask(len.min(8)))
    };
    let mut h = (len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ first;
    for c in 1..chunks {
        let valid = (len - 8 * c).min(8);
        let word = chunk(bytes, start, end, c) | (fold & byte_mask(valid));
        h = (h.rotate_left(29) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    // Final mixing (MurmurHash3's fmix64): every bit of the input reaches every bit used.
    h = h.wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h, first)
}

/// A hint to the CPU to bring `p`'s cache line in; does nothing elsewhere.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86-64 baseline, and a prefetch cannot fault, even for an
    // address outside any allocation.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A table of `size` empty slots, written (not just allocated) with zeros. A zeroed
/// allocation would be mapped to the kernel's shared zero page, so a look-up's read
/// followed by an insert's write costs two page faults per page, the second a copy on
/// write that flushes the page from every core running this process's other threads.
fn empty_slots(size: usize) -> Vec<[u64; 4]> {
    let mut slots = Vec::with_capacity(size);
    slots.resize(size, [0u64; 4]);
    slots
}

impl Vocabulary {
    /// An empty vocabulary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bits of slot index taken from the part of the hash that the tag keeps.
    const HOME_BITS: u32 = 24;

    /// The slot where the search for a word of hash `h` starts, in a table of `mask + 1`
    /// slots: from the hash's bits 8 and up, which the tag keeps up to
    /// [`Vocabulary::HOME_BITS`] bits of index (see [`Vocabulary::rebuild`]).
    #[inline(always)]
    fn home(h: u64, mask: usize) -> usize {
        (h >> 8) as usize & mask
    }

    /// The tag of a slot for a word of hash `h` and length `len`.
    #[inline(always)]
    fn tag(h: u64, len: usize) -> u64 {
        (h & 0xFFFF_FF00) | len.min(255) as u64
    }

    /// The slot of `bytes[start..end]` (with `fold`), or the empty slot where it would go.
    #[inline(always)]
    fn probe(&self, bytes: &[u8], start: usize, end: usize, fold: u64) -> (usize, u64, u64) {
        let (h, first) = word_hash(bytes, start, end, fold);
        self.probe_hashed(bytes, start, end, fold, h, first)
    }

    /// [`Vocabulary::probe`] with the word's hash and first chunk already known.
    #[inline(always)]
    fn probe_hashed(
        &self,
        bytes: &[u8],
        start: usize,
        end: usize,
        fold: u64,
        h: u64,
        first: u64,
    ) -> (usize, u64, u64) {
        let len = end - start;
        let tag = Self::tag(h, len);
        let second = second_chunk(bytes, start, end, fold);
        let mask = self.slots.len() - 1;
        let mut i = Self::home(h, mask);
        loop {
            let slot = self.slots[i];
            if slot[2] == 0 {
                return (i, tag, first);
            }
            if slot[2] >> 32 == tag && slot[0] == first && slot[1] == second {
                if len <= 16 {
                    return (i, tag, first);
                }
                // A long word: compare the rest.
                let word = self.words[(slot[2] as u32 - 1) as usize].as_bytes();
                if word.len() == len
                    && (2..len.div_ceil(8)).all(|c| {
                        let valid = (len - 8 * c).min(8);
                        chunk(word, 0, len, c)
                            == chunk(bytes, start, end, c) | (fold & byte_mask(valid))
                    })
                {
                    return (i, tag, first);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The id of `bytes[start..end]` (lower-cased by `fold` if it is [`LOWER`]), inserting
    /// `make()` with the next id if it is new.
    #[inline(always)]
    fn find_or_insert(
        &mut self,
        bytes: &[u8],
        start: usize,
        end: usize,
        fold: u64,
        make: impl FnOnce() -> String,
    ) -> u32 {
        let (h, first) = word_hash(bytes, start, end, fold);
        self.find_or_insert_hashed(bytes, start, end, fold, h, first, make)
    }

    /// [`Vocabulary::find_or_insert`] with the word's hash and first chunk already known.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn find_or_insert_hashed(
        &mut self,
        bytes: &[u8],
        start: usize,
        end: usize,
        fold: u64,
        h: u64,
        first: u64,
        make: impl FnOnce() -> String,
    ) -> u32 {
        if self.slots.is_empty() {
            self.slots = empty_slots(64);
        }
        let (i, tag, first) = self.probe_hashed(bytes, start, end, fold, h, first);
        if self.slots[i][2] != 0 {
            return (self.slots[i][2] as u32) - 1;
        }
        let id = u32::try_from(self.words.len())
            .ok()
            .filter(|&id| id < u32::MAX - 1)
            .expect("Vocabulary: more than u32::MAX - 2 distinct words");
        self.words.push(make());
        let second = second_chunk(bytes, start, end, fold);
        self.slots[i] = [first, second, (tag << 32) | u64::from(id + 1), 0];
        if 2 * self.words.len() > self.slots.len() {
            self.rebuild(2 * self.slots.len());
        }
        id
    }

    /// Re-inserts every word into a table of `size` slots (a power of two), dropping the
    /// slots of ids `self.words.len()` and above. Up to [`Vocabulary::HOME_BITS`] bits of
    /// slot index, a word's home slot follows from its tag, so the words themselves are
    /// not read (nor hashed) again.
    fn rebuild(&mut self, size: usize) {
        let mut slots = empty_slots(size);
        let mask = size - 1;
        let mut place = |slot: [u64; 4], h: u64| {
            let mut i = Self::home(h, mask);
            while slots[i][2] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = slot;
        };
        if size <= 1 << Self::HOME_BITS {
            let live = self.words.len() as u64;
            for &slot in &self.slots {
                let id_plus_one = slot[2] & 0xFFFF_FFFF;
                if id_plus_one != 0 && id_plus_one <= live {
                    // The tag keeps the hash's bits 8..32, where `home` reads the index.
                    place(slot, slot[2] >> 32);
                }
            }
        } else {
            for (id, word) in self.words.iter().enumerate() {
                let bytes = word.as_bytes();
                let (h, first) = word_hash(bytes, 0, bytes.len(), 0);
                let second = second_chunk(bytes, 0, bytes.len(), 0);
                let meta = (Self::tag(h, bytes.len()) << 32) | (id as u64 + 1);
                place([first, second, meta, 0], h);
            }
        }
        self.slots = slots;
    }

    /// Makes room for `additional` more words without growing the table.
    ///
    /// ```
    /// use ferrograd_lm::text::Vocabulary;
    /// let mut v = Vocabulary::new();
    /// v.reserve(1000);
    /// assert_eq!((v.insert("a"), v.len()), (0, 1));
    /// ```
    pub fn reserve(&mut self, additional: usize) {
        let want = 2 * (self.words.len() + additional);
        if want > self.slots.len() {
            self.words.reserve(additional);
            self.rebuild(want.next_power_of_two().max(64));
        }
    }

    /// Inserts `words` in order (as [`Vocabulary::insert`] one by one would) and returns
    /// their ids: the look-ups' table slots are fetched a few words ahead, so that their
    /// cache misses overlap, and new words are moved in, not copied.
    fn merge_words(&mut self, words: Vec<String>) -> Vec<u32> {
        /// Words hashed and prefetched ahead of the one looked up.
        const AHEAD: usize = 8;
        let hashes: Vec<(u64, u64)> = words
            .iter()
            .map(|w| word_hash(w.as_bytes(), 0, w.len(), 0))
            .collect();
        if self.slots.is_empty() {
            self.slots = empty_slots(64);
        }
        let mut ids = Vec::with_capacity(words.len());
        for (j, word) in words.into_iter().enumerate() {
            if let Some(&(h, _)) = hashes.get(j + AHEAD) {
                self.prefetch(h);
            }
            let (h, first) = hashes[j];
            let bytes = word.as_bytes();
            let (i, tag, first) = self.probe_hashed(bytes, 0, bytes.len(), 0, h, first);
            let id = if self.slots[i][2] != 0 {
                (self.slots[i][2] as u32) - 1
            } else {
                let second = second_chunk(bytes, 0, bytes.len(), 0);
                let id = u32::try_from(self.words.len())
                    .ok()
                    .filter(|&id| id < u32::MAX - 1)
                    .expect("Vocabulary: more than u32::MAX - 2 distinct words");
                self.slots[i] = [first, second, (tag << 32) | u64::from(id + 1), 0];
                self.words.push(word);
                if 2 * self.words.len() > self.slots.len() {
                    // (Slots prefetched from the old table are wasted, not wrong.)
                    self.rebuild(2 * self.slots.len());
                }
                id
            };
            ids.push(id);
        }
        ids
    }

    /// Asks the CPU to fetch the table slot where a word of hash `h` starts its search.
    #[inline(always)]
    fn prefetch(&self, h: u64) {
        if !self.slots.is_empty() {
            let i = Self::home(h, self.slots.len() - 1);
            prefetch(self.slots.as_ptr().wrapping_add(i));
        }
    }

    /// The id of `word`, inserting it with the next id if it is new.
    ///
    /// # Panics
    /// When the vocabulary already holds `u32::MAX - 2` words (4 billion distinct tokens).
    pub fn insert(&mut self, word: &str) -> u32 {
        self.find_or_insert(word.as_bytes(), 0, word.len(), 0, || word.to_string())
    }

    /// The id of `word`, if it is known.
    pub fn id(&self, word: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let (i, _, _) = self.probe(word.as_bytes(), 0, word.len(), 0);
        let slot = self.slots[i][2];
        (slot != 0).then(|| slot as u32 - 1)
    }

    /// The word with id `id`, if there is one.
    pub fn word(&self, id: u32) -> Option<&str> {
        self.words.get(id as usize).map(String::as_str)
    }

    /// Every word, by id.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether no word was inserted.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Keeps the first `len` words (ids `0..len`) and forgets the others, as for the
    /// vocabulary of a training split whose ids all come before the test split's new ones.
    ///
    /// ```
    /// use ferrograd_lm::text::Vocabulary;
    /// let mut v = Vocabulary::new();
    /// for w in ["a", "b", "c"] {
    ///     v.insert(w);
    /// }
    /// v.truncate(2);
    /// assert_eq!((v.id("b"), v.id("c"), v.len()), (Some(1), None, 2));
    /// ```
    pub fn truncate(&mut self, len: usize) {
        if len >= self.words.len() {
            return;
        }
        self.words.truncate(len);
        if self.slots.len() > 1 << Self::HOME_BITS {
            let size = (2 * len).next_power_of_two().max(64);
            self.rebuild(size);
            return;
        }
        // In place, in the table the words already occupy (a new table would be as large
        // and fault in its pages afresh): each forgotten word's slot is emptied and the
        // run of slots after it shifted back, so that every remaining word stays reachable
        // from its home slot without tombstones.
        let mask = self.slots.len() - 1;
        let live = len as u64;
        let mut i = 0;
        while i < self.slots.len() {
            let id_plus_one = self.slots[i][2] & 0xFFFF_FFFF;
            if id_plus_one == 0 || id_plus_one <= live {
                i += 1;
                continue;
            }
            // Empty slot `hole`, then move back each later slot of the run whose home
            // does not lie cyclically in (hole, j].
            let mut hole = i;
            let mut j = i;
            loop {
                j = (j + 1) & mask;
                let slot = self.slots[j];
                if slot[2] == 0 {
                    break;
                }
                let home = Self::home(slot[2] >> 32, mask);
                let stays = if hole <= j {
                    hole < home && home <= j
                } else {
                    hole < home || home <= j
                };
                if !stays {
                    self.slots[hole] = slot;
                    hole = j;
                }
            }
            self.slots[hole] = [0; 4];
            // Slot `i` may now hold a word moved back into it: look at it again.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notebook_tokeniser_on_tricky_text() {
        // Each case was checked with Python 3.11's
        // re.findall(r"\b[a-zA-Z0-9]+\b|[.]", text.lower()).
        let cases: &[(&str, &[&str])] = &[
            ("Hello, World...", &["hello", "world", ".", ".", "."]),
            (
                "e.g. 3.14 U.S.A",
                &["e", ".", "g", ".", "3", ".", "14", "u", ".", "s", ".", "a"],
            ),
            ("snake_case _x x_ a-b", &["a", "b"]),
            ("café naïve résumé", &[]),
            ("Straße ok", &["ok"]),
            ("ÀB Ab", &["ab"]),
            ("\u{212A}ing", &["king"]), // KELVIN SIGN lower-cases to ASCII k
            ("x²", &[]),                // ² is a Python word character (isalnum)
            ("tab\tnew\nline", &["tab", "new", "line"]),
            ("", &[]),
            ("...", &[".", ".", "."]),
            ("A\u{212A}b. \u{212A}", &["akb", ".", "k"]),
            ("ab\u{130}cd", &["abi", "cd"]), // İ lower-cases to i + U+0307 (not \w)
            ("Ünïcode ok.Done", &["ok", ".", "done"]),
        ];
        for (text, expected) in cases {
            assert_eq!(count_lm_tokens(text), *expected, "{text:?}");
        }
    }

    #[test]
    fn ascii_and_unicode_paths_agree_on_ascii_words() {
        let ascii = "The King's SPEECH, act 2. Scene_1 - 1984.";
        let with_unicode = format!("{ascii} ü");
        let mut a = count_lm_tokens(ascii);
        let b = count_lm_tokens(&with_unicode);
        assert_eq!(a, b);
        a.clear();
        assert!(a.is_empty());
    }

    /// The general path alone, for any text: the reference for the fast paths.
    fn general_path_tokens(text: &str) -> Vec<String> {
        let mut tokens = Vec::new();
        unicode_segment_tokens(text, |t| tokens.push(t.to_string()));
        tokens
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// The 64-byte block scanner, the byte scanner and the vocabulary's lower-casing
        /// give the general path's tokens and first-seen ids on text mixing long and short
        /// words, periods, underscores and non-ASCII letters across block edges.
        #[test]
        fn fast_paths_equal_the_general_path(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    "[a-zA-Z0-9]{1,3}", "[a-zA-Z0-9]{60,70}", "[ .,\n]{1,2}",
                    "[_\u{e9}\u{212a}\u{130}]", "[a-z]{1,4}[_\u{e9}][a-z]{0,3}"
                ],
                0..120,
            )
        ) {
            let text = pieces.concat();
            let expected = general_path_tokens(&text);
            proptest::prop_assert_eq!(count_lm_tokens(&text), expected.clone());
            let mut vocab = Vocabulary::new();
            let ids = count_lm_token_ids(&text, &mut vocab);
            let words: Vec<&str> = ids.iter().map(|&id| vocab.word(id).unwrap()).collect();
            proptest::prop_assert_eq!(words, expected.iter().map(String::as_str).collect::<Vec<_>>());
            let mut reference = Vocabulary::new();
            let expected_ids: Vec<u32> = expected.iter().map(|t| reference.insert(t)).collect();
            proptest::prop_assert_eq!(ids, expected_ids);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Tokenising in 2, 3 or 5 parts (cut at whatever whitespace comes first, however
        /// short the parts) gives the one-pass ids and vocabulary, also into a vocabulary
        /// that already holds words.
        #[test]
        fn parts_on_threads_equal_one_pass(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    "[a-cA-C0-9]{1,3}", "[a-zA-Z]{60,70}", "[ .,\n\t]{1,2}",
                    "[_\u{e9}\u{212a}\u{130}\u{a0}\u{3000}]",
                    "[a-z]{1,4}[_\u{e9}\u{df}][a-z]{0,3}"
                ],
                0..150,
            ),
            preset in proptest::collection::vec("[a-c.]{1,2}", 0..4),
        ) {
            let text = pieces.concat();
            let mut one = Vocabulary::new();
            for w in &preset {
                one.insert(w);
            }
            let mut many = one.clone();
            let expected = count_lm_token_ids(&text, &mut one);
            for threads in [2, 3, 5] {
                let mut vocab = many.clone();
                let ids = token_ids_in_parts(&text, &mut vocab, threads, 1);
                proptest::prop_assert_eq!(&ids, &expected, "threads {}", threads);
                proptest::prop_assert_eq!(vocab.words(), one.words());
                for (i, w) in one.words().iter().enumerate() {
                    proptest::prop_assert_eq!(vocab.id(w), Some(i as u32));
                }
            }
            // The public entry point (one part for short texts).
            let ids = count_lm_token_ids_with_threads(&text, &mut many, 2);
            proptest::prop_assert_eq!(&ids, &expected);
        }
    }

    #[test]
    fn merging_words_equals_inserting_them_one_by_one() {
        // Grows the table several times mid-merge; long and short words, repeats.
        let words: Vec<String> = (0..3000)
            .map(|i| format!("m{}{}", i % 1700, "y".repeat(i % 19)))
            .collect();
        let mut merged = Vocabulary::new();
        for w in ["m5", "m1", "zz"] {
            merged.insert(w);
        }
        let mut reference = merged.clone();
        let expected: Vec<u32> = words.iter().map(|w| reference.insert(w)).collect();
        assert_eq!(merged.merge_words(words), expected);
        assert_eq!(merged.words(), reference.words());
        for (i, w) in reference.words().iter().enumerate() {
            assert_eq!(merged.id(w), Some(i as u32), "{w}");
        }
    }

    #[test]
    fn a_long_text_on_two_threads_equals_one_pass() {
        // 300 KiB (past the 64 KiB a part), words first seen in the second half.
        let mut text = String::new();
        for i in 0..30_000 {
            text.push_str(&format!("W{} caf\u{e9} x{}. ", i % 997, i / 7));
            if i % 13 == 0 {
                text.push('\n');
            }
        }
        let mut one = Vocabulary::new();
        let expected = count_lm_token_ids(&text, &mut one);
        let mut two = Vocabulary::new();
        assert_eq!(
            count_lm_token_ids_with_threads(&text, &mut two, 2),
            expected
        );
        assert_eq!(two.words(), one.words());
    }

    #[test]
    fn vocabulary_grows_reserves_and_truncates_without_losing_words() {
        let mut v = Vocabulary::new();
        let words: Vec<String> = (0..5000)
            .map(|i| format!("w{i}{}", "x".repeat(i % 13)))
            .collect();
        for (i, w) in words.iter().enumerate() {
            assert_eq!(v.insert(w), i as u32);
        }
        v.reserve(100_000);
        for (i, w) in words.iter().enumerate() {
            assert_eq!(v.id(w), Some(i as u32));
        }
        v.truncate(1234);
        for (i, w) in words.iter().enumerate() {
            assert_eq!(v.id(w), (i < 1234).then_some(i as u32), "{w}");
        }
        assert_eq!(v.insert(&words[4000]), 1234);
    }

    #[test]
    fn truncating_a_full_table_in_place_keeps_exactly_the_first_words() {
        // Tables at their fullest (just under half full, long probe runs, some wrapping
        // past the end): every remaining word must still be found by its id, every
        // forgotten one gone, and new words must get the next ids.
        for total in [40, 2047, 4095] {
            let words: Vec<String> = (0..total).map(|i| format!("{i:x}.{}", i % 7)).collect();
            for keep in [0, 1, 17, total / 2, total - 1] {
                let mut v = Vocabulary::new();
                for w in &words {
                    v.insert(w);
                }
                let slots = v.slots.len();
                v.truncate(keep);
                assert_eq!((v.len(), v.slots.len()), (keep, slots));
                for (i, w) in words.iter().enumerate() {
                    assert_eq!(
                        v.id(w),
                        (i < keep).then_some(i as u32),
                        "{total} {keep} {w}"
                    );
                }
                let occupied = v.slots.iter().filter(|s| s[2] != 0).count();
                assert_eq!(occupied, keep, "no stale slots");
                assert_eq!(v.insert(&words[total - 1]), keep as u32);
            }
        }
    }

    #[test]
    fn vocabulary_tells_apart_words_that_share_a_long_prefix() {
        // Equal first 8 or 16 bytes (what a table slot keeps), different after; and equal
        // past the 16th byte but different inside it.
        let words = [
            "abcdefgh",
            "abcdefghi",
            "abcdefghij",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
            "abcdefghijklmnopr",
            "abcdefghijklmnopqrstuvwxyz0",
            "abcdefghijklmnopqrstuvwxyz1",
            "abcdefghxjklmnopqrstuvwxyz1",
        ];
        let mut v = Vocabulary::new();
        for (i, w) in words.iter().enumerate() {
            assert_eq!(v.insert(w), i as u32);
        }
        for (i, w) in words.iter().enumerate() {
            assert_eq!(v.id(w), Some(i as u32), "{w}");
        }
        assert_eq!(v.id("abcdefghijklmnopz"), None);
        assert_eq!(v.id("abcdefghijklmnopqrstuvwxyz2"), None);
        // The tokeniser's path (upper case folded while hashing) finds the same ids.
        let text = words.map(str::to_uppercase).join(" ");
        let ids = count_lm_token_ids(&text, &mut v);
        assert_eq!(ids, (0..words.len() as u32).collect::<Vec<_>>());
        assert_eq!(v.len(), words.len());
    }

    #[test]
    fn vocabulary_ids_are_dense_and_first_seen() {
        let mut v = Vocabulary::new();
        assert!(v.is_empty());
        assert_eq!(v.insert("b"), 0);
        assert_eq!(v.insert("a"), 1);
        assert_eq!(v.insert("b"), 0);
        assert_eq!(v.len(), 2);
        assert_eq!(v.id("a"), Some(1));
        assert_eq!(v.id("c"), None);
        assert_eq!(v.word(2), None);
        assert_eq!(v.words(), ["b", "a"]);
    }
}
