//! GPT-2's pre-tokenisation, written by hand.
//!
//! GPT-2 splits text with the regular expression
//!
//! ```text
//! 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//! ```
//!
//! (tiktoken writes the same language as `'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++|
//! ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s`). [`Gpt2Splits`] finds exactly the pieces a
//! backtracking regex engine finds, in one forward pass with no backtracking: at each
//! position the first alternative that matches is decided by the first one or two
//! characters, and the only look-ahead (`\s+(?!\S)`: a run of white space gives up its last
//! character when a non-space follows) is resolved when the run ends. Letters and numbers
//! are the Unicode general categories L and N, white space is the White_Space property
//! (`char::is_whitespace`), as in the regex engines of tiktoken and HF tokenizers.

use crate::unicode_tables::{LETTER, NUMBER};

/// The four classes the pattern distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Letter,
    Number,
    Space,
    Other,
}

const fn ascii_classes() -> [Class; 128] {
    let mut table = [Class::Other; 128];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        table[i] = if b.is_ascii_alphabetic() {
            Class::Letter
        } else if b.is_ascii_digit() {
            Class::Number
        } else if matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r') {
            Class::Space
        } else {
            Class::Other
        };
        i += 1;
    }
    table
}

static ASCII: [Class; 128] = ascii_classes();

fn in_table(table: &[(u32, u32)], c: u32) -> bool {
    table
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

/// The class of one character.
#[inline]
pub(crate) fn class_of(c: char) -> Class {
    let u = c as u32;
    if u < 128 {
        ASCII[u as usize]
    } else if c.is_whitespace() {
        Class::Space
    } else if in_table(LETTER, u) {
        Class::Letter
    } else if in_table(NUMBER, u) {
        Class::Number
    } else {
        Class::Other
    }
}

/// Is `c` a letter (category L) or a number (category N)?
pub(crate) fn is_letter_or_number(c: char) -> bool {
    matches!(class_of(c), Class::Letter | Class::Number)
}

/// Decodes the character starting at byte `i` of valid UTF-8; returns it and its length.
#[inline]
fn char_at(s: &[u8], i: usize) -> (char, usize) {
    let b0 = s[i];
    if b0 < 0x80 {
        return (b0 as char, 1);
    }
    let (len, init) = if b0 < 0xE0 {
        (2, u32::from(b0 & 0x1F))
    } else if b0 < 0xF0 {
        (3, u32::from(b0 & 0x0F))
    } else {
        (4, u32::from(b0 & 0x07))
    };
    let mut cp = init;
    for k in 1..len {
        cp = (cp << 6) | u32::from(s.get(i + k).copied().unwrap_or(0x80) & 0x3F);
    }
    (char::from_u32(cp).unwrap_or('\u{FFFD}'), len)
}

#[inline]
fn class_at(s: &[u8], i: usize) -> (Class, usize) {
    let b = s[i];
    if b < 0x80 {
        (ASCII[b as usize], 1)
    } else {
        let (c, len) = char_at(s, i);
        (class_of(c), len)
    }
}

/// End (exclusive byte offset) of the piece that starts at `p` (< `s.len()`).
#[inline(always)]
pub(crate) fn piece_end(s: &[u8], p: usize) -> usize {
    let n = s.len();
    let b0 = s[p];
    if b0 == b'\'' && p + 1 < n {
        match s[p + 1] {
            b's' | b't' | b'm' | b'd' => return p + 2,
            b'r' | b'v' if p + 2 < n && s[p + 2] == b'e' => return p + 3,
            b'l' if p + 2 < n && s[p + 2] == b'l' => return p + 3,
            _ => {}
        }
    }
    let (start, class) = if b0 == b' ' {
        if p + 1 == n {
            return n;
        }
        match class_at(s, p + 1).0 {
            Class::Space => return space_end(s, p),
            class => (p + 1, class),
        }
    } else {
        match class_at(s, p) {
            (Class::Space, _) => return space_end(s, p),
            (class, _) => (p, class),
        }
    };
    let mut i = start;
    while i < n {
        let b = s[i];
        if b < 0x80 {
            if ASCII[b as usize] != class {
                break;
            }
            i += 1;
        } else {
            let (c, len) = char_at(s, i);
            if class_of(c) != class {
                break;
            }
            i += len;
        }
    }
    i
}

/// A run of white space from `p`: all of it at the end of the text or when it is one
/// character; otherwise all but its last character (`\s+(?!\S)`).
#[inline]
fn space_end(s: &[u8], p: usize) -> usize {
    let n = s.len();
    let (mut i, mut last, mut count) = (p, p, 0usize);
    while i < n {
        let (c, len) = class_at(s, i);
        if c != Class::Space {
            break;
        }
        last = i;
        i += len;
        count += 1;
    }
    if i == n || count == 1 { i } else { last }
}

/// Iterator over GPT-2's pre-tokens of a string, as byte ranges `(start, end)`.
///
/// ```
/// use ferrograd_tokenize::Gpt2Splits;
///
/// let text = "Hello world, it's  2024!\n";
/// let pieces: Vec<&str> = Gpt2Splits::new(text).map(|(a, b)| &text[a..b]).collect();
/// assert_eq!(pieces, ["Hello", " world", ",", " it", "'s", " ", " 2024", "!", "\n"]);
/// ```
#[derive(Debug, Clone)]
pub struct Gpt2Splits<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Gpt2Splits<'a> {
    /// Splits `text`.
    pub fn new(text: &'a str) -> Self {
        Gpt2Splits {
            text: text.as_bytes(),
            pos: 0,
        }
    }
}

impl Iterator for Gpt2Splits<'_> {
    type Item = (usize, usize);

    #[inline]
    fn next(&mut self) -> Option<(usize, usize)> {
        if self.pos >= self.text.len() {
            return None;
        }
        let start = self.pos;
        self.pos = piece_end(self.text, start);
        Some((start, self.pos))
    }
}

/// Python's `str.split()` with no argument: runs of characters for which `str.isspace()`
/// is true separate the words (the White_Space property plus U+001C–U+001F).
pub fn python_split(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c))
        .filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        Gpt2Splits::new(text).map(|(a, b)| &text[a..b]).collect()
    }

    #[test]
    fn pieces_follow_the_pattern() {
        assert_eq!(split(""), Vec::<&str>::new());
        assert_eq!(split(" "), [" "]);
        assert_eq!(split("a  b"), ["a", " ", " b"]);
        assert_eq!(split("a \n b"), ["a", " \n", " b"]);
        assert_eq!(split("a\nb"), ["a", "\n", "b"]);
        assert_eq!(split("a   "), ["a", "   "]);
        assert_eq!(split("''s"), ["''", "s"]);
        assert_eq!(split("it's"), ["it", "'s"]);
        assert_eq!(split("I'LL"), ["I", "'", "LL"]);
        assert_eq!(split(" 's"), [" '", "s"]);
        assert_eq!(split("x ?!y"), ["x", " ?!", "y"]);
        assert_eq!(split("abc123"), ["abc", "123"]);
        assert_eq!(split("\u{00A0}x"), ["\u{00A0}", "x"]);
        assert_eq!(
            split("caf\u{e9} \u{4F60}\u{597D}"),
            ["caf\u{e9}", " \u{4F60}\u{597D}"]
        );
        // Combining marks are neither letters nor numbers.
        assert_eq!(split("e\u{301}"), ["e", "\u{301}"]);
    }

    #[test]
    fn classes_use_the_unicode_tables() {
        assert_eq!(class_of('\u{4F60}'), Class::Letter);
        assert_eq!(class_of('\u{0663}'), Class::Number);
        assert_eq!(class_of('\u{2460}'), Class::Number);
        assert_eq!(class_of('\u{3000}'), Class::Space);
        assert_eq!(class_of('\u{1F600}'), Class::Other);
        assert_eq!(class_of('\u{0301}'), Class::Other);
        for b in 0u8..128 {
            let c = b as char;
            let expected = if c.is_whitespace() {
                Class::Space
            } else if in_table(LETTER, u32::from(b)) {
                Class::Letter
            } else if in_table(NUMBER, u32::from(b)) {
                Class::Number
            } else {
                Class::Other
            };
            assert_eq!(ASCII[b as usize], expected, "{b}");
        }
    }

    #[test]
    fn python_split_uses_isspace() {
        let words: Vec<&str> = python_split(" a\u{1F}b\u{00A0}c\n\nd ").collect();
        assert_eq!(words, ["a", "b", "c", "d"]);
    }
}
