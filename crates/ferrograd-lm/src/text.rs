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
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    words: Vec<String>,
    ids: FxHashMap<String, u32>,
}

impl Vocabulary {
    /// An empty vocabulary.
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of `word`, inserting it with the next id if it is new.
    ///
    /// # Panics
    /// When the vocabulary already holds `u32::MAX` words (4 billion distinct tokens).
    pub fn insert(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = u32::try_from(self.words.len())
            .ok()
            .filter(|&id| id < u32::MAX)
            .expect("Vocabulary: more than u32::MAX - 1 distinct words");
        self.words.push(word.to_string());
        self.ids.insert(word.to_string(), id);
        id
    }

    /// The id of `word`, if it is known.
    pub fn id(&self, word: &str) -> Option<u32> {
        self.ids.get(word).copied()
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
