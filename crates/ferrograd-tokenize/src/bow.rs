//! Bag of words (§2.1).

use crate::error::{Result, TokenizeError, read_file, write_atomic};
use crate::hash::FxHashMap;
use crate::pretokenize::is_letter_or_number;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The book's tokenisation for bag of words: the text lower-cased, then every maximal run
/// of word characters (Python's `re.findall(r"\w+", text.lower())`: letters, numbers and
/// `_`).
///
/// ```
/// use ferrograd_tokenize::words;
/// assert_eq!(words("Watching movies is great fun."), ["watching", "movies", "is", "great", "fun"]);
/// assert_eq!(words("C'est l'été, snake_case 42!"), ["c", "est", "l", "été", "snake_case", "42"]);
/// ```
pub fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !(c == '_' || is_letter_or_number(c)))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// A bag-of-words vectoriser: a sorted vocabulary of the words of a corpus, and document
/// vectors over it, binary (the book's) or with counts. Words not in the vocabulary are
/// ignored.
///
/// ```
/// use ferrograd_tokenize::BagOfWords;
///
/// let docs = ["Movies are fun for everyone.", "Watching movies is great fun."];
/// let bow = BagOfWords::fit(&docs);
/// assert_eq!(bow.vocabulary(), ["are", "everyone", "for", "fun", "great", "is", "movies", "watching"]);
/// assert_eq!(bow.binary("Fun, fun, fun movies!"), [0, 0, 0, 1, 0, 0, 1, 0]);
/// assert_eq!(bow.counts("Fun, fun, fun movies!"), [0, 0, 0, 3, 0, 0, 1, 0]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BagOfWords {
    vocabulary: Vec<String>,
    index: FxHashMap<String, usize>,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    #[serde(rename = "type")]
    kind: String,
    vocabulary: Vec<String>,
}

impl BagOfWords {
    /// Builds the vocabulary of a corpus: every word of every document, sorted.
    pub fn fit<S: AsRef<str>>(docs: &[S]) -> Self {
        let mut all: Vec<String> = docs.iter().flat_map(|d| words(d.as_ref())).collect();
        all.sort_unstable();
        all.dedup();
        Self::from_vocabulary(all)
    }

    fn from_vocabulary(vocabulary: Vec<String>) -> Self {
        let index = vocabulary
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i))
            .collect();
        BagOfWords { vocabulary, index }
    }

    /// The sorted vocabulary; a word's position is its index in the vectors.
    pub fn vocabulary(&self) -> &[String] {
        &self.vocabulary
    }

    /// The index of a (lower-case) word.
    pub fn index_of(&self, word: &str) -> Option<usize> {
        self.index.get(word).copied()
    }

    /// 1 where the document has the word, else 0 (the book's `doc_to_bow`).
    pub fn binary(&self, doc: &str) -> Vec<u32> {
        let mut v = self.counts(doc);
        for x in &mut v {
            *x = u32::from(*x > 0);
        }
        v
    }

    /// How many times the document has each word (saturating at `u32::MAX`).
    pub fn counts(&self, doc: &str) -> Vec<u32> {
        let mut v = vec![0u32; self.vocabulary.len()];
        for w in words(doc) {
            if let Some(&i) = self.index.get(&w) {
                v[i] = v[i].saturating_add(1);
            }
        }
        v
    }

    /// The vocabulary as JSON.
    pub fn to_json(&self) -> String {
        let saved = Saved {
            kind: "BagOfWords".into(),
            vocabulary: self.vocabulary.clone(),
        };
        serde_json::to_string(&saved).unwrap_or_default()
    }

    /// Reads [`to_json`](Self::to_json)'s output; the vocabulary must be sorted and
    /// without duplicates.
    pub fn from_json(json: &str) -> Result<Self> {
        Self::parse(json, "<json>")
    }

    fn parse(json: &str, file: &str) -> Result<Self> {
        let saved: Saved = serde_json::from_str(json).map_err(|e| TokenizeError::json(file, &e))?;
        if saved.kind != "BagOfWords" {
            return Err(TokenizeError::parse(
                file,
                1,
                format!("type is {:?}, not \"BagOfWords\"", saved.kind),
            ));
        }
        if let Some(i) = saved.vocabulary.windows(2).position(|w| w[0] >= w[1]) {
            return Err(TokenizeError::parse(
                file,
                1,
                format!(
                    "vocabulary[{}] = {:?} is not after {:?} (must be sorted, no duplicates)",
                    i + 1,
                    saved.vocabulary[i + 1],
                    saved.vocabulary[i]
                ),
            ));
        }
        Ok(Self::from_vocabulary(saved.vocabulary))
    }

    /// Saves [`to_json`](Self::to_json) to a file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), self.to_json().as_bytes())
    }

    /// Loads a file written by [`save`](Self::save).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let bytes = read_file(path)?;
        let text =
            std::str::from_utf8(&bytes).map_err(|_| TokenizeError::parse(&file, 0, "not UTF-8"))?;
        Self::parse(text, &file)
    }
}
