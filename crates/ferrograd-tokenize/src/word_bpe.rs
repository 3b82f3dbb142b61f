//! The book's word-level BPE (§2.3 and its notebook `byte_pair_encoding`).

use crate::error::{Result, TokenizeError, read_file, write_atomic};
use crate::hash::{FxHashMap, pair_key};
use crate::merge::MergeTable;
use crate::pretokenize::python_split;
use crate::trainer::{Words, learn};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::path::Path;

/// The word marker the book puts before every word.
pub const WORD_MARKER: char = '_';

/// The book's byte-pair encoding of words.
///
/// Training (§2.3): every word (from Python's `str.split()`) gets a `_` in front and is
/// split into characters; the most frequent adjacent pair, counted over all words weighted
/// by their frequency, is merged everywhere, ties going to the pair seen first in the
/// corpus; this repeats until the set of distinct tokens (the characters and the merged
/// texts) has `vocab_size` members or no pair is left. The learner updates pair counts
/// incrementally with a priority queue instead of re-counting the corpus after each
/// merge, and gives the same merges.
///
/// Tokenising a word, two ways that agree, as in the book:
/// - [`tokenize_word_in_order`](Self::tokenize_word_in_order) applies the merges in the
///   order they were learned (the book's `tokenize_word`);
/// - [`tokenize_word`](Self::tokenize_word) returns a word seen whole in training as one
///   token, and otherwise merges the adjacent pair of lowest merge rank, leftmost first
///   (the book's `tokenize_word_fast`).
///
/// Characters not seen in training become the one unknown token (`<UNK>` by default; the
/// book's two functions default to `<UNK>` and `[UNK]`), id 0.
///
/// ```
/// use ferrograd_tokenize::WordBpe;
///
/// // Expected tokens: the notebook's algorithm (scripts/book_bpe_reference.py) on this corpus.
/// let corpus = "the model is modeling the models ; a modeling part .";
/// let bpe = WordBpe::train(corpus.split(' '), 30)?;
/// assert_eq!(bpe.merges().next(), Some(("_", "m")));
/// assert_eq!(bpe.tokenize_word("modeling"), ["_modeling"]); // seen whole in training
/// assert_eq!(bpe.tokenize_word("modeled"), ["_model", "e", "d"]);
/// assert_eq!(bpe.tokenize_word_in_order("modeled"), ["_model", "e", "d"]);
/// assert_eq!(bpe.tokenize_word("models!"), ["_model", "s", "<UNK>"]);
/// let ids = bpe.encode("the modeling part");
/// assert_eq!(bpe.decode(&ids)?, "the modeling part");
/// # Ok::<(), ferrograd_tokenize::TokenizeError>(())
/// ```
#[derive(Clone)]
pub struct WordBpe {
    unk_token: String,
    /// id → token text; id 0 is the unknown token.
    tokens: Vec<String>,
    char_ids: FxHashMap<char, u32>,
    /// Merges in the order learned: (left, right, merged).
    merges: Vec<(u32, u32, u32)>,
    /// Pair → (rank of its last occurrence in `merges`, merged id).
    table: MergeTable,
    /// Pair → the ranks at which it is merged (for the in-order tokenizer).
    ranks_of: FxHashMap<u64, Vec<u32>>,
    /// `_word` → its id, for words that ended as one token in training.
    whole: FxHashMap<String, u32>,
}

impl fmt::Debug for WordBpe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WordBpe")
            .field("tokens", &self.tokens.len())
            .field("merges", &self.merges.len())
            .field("whole_words", &self.whole.len())
            .field("unk_token", &self.unk_token)
            .finish_non_exhaustive()
    }
}

/// Options for [`WordBpe`] training.
///
/// ```
/// use ferrograd_tokenize::WordBpeTrainer;
///
/// let text = "low lower lowest new newer newest";
/// let bpe = WordBpeTrainer::new(20).unk_token("[UNK]").max_words(4).train_text(text)?;
/// assert_eq!(bpe.tokenize_word("lowes"), ["_lowes"]);
/// assert_eq!(bpe.tokenize_word("z"), ["_", "[UNK]"]);
/// # Ok::<(), ferrograd_tokenize::TokenizeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct WordBpeTrainer {
    /// The book's `vocab_size`: stop when this many distinct tokens exist (the unknown
    /// token is not counted, as in the book).
    pub vocab_size: usize,
    /// The unknown token's text.
    pub unk_token: String,
    /// Use at most this many words (the book's `max_corpus_size`).
    pub max_words: Option<usize>,
}

impl WordBpeTrainer {
    /// Trainer for `vocab_size` tokens, unknown token `<UNK>`, all words.
    pub fn new(vocab_size: usize) -> Self {
        WordBpeTrainer {
            vocab_size,
            unk_token: "<UNK>".into(),
            max_words: None,
        }
    }

    /// Sets the unknown token.
    pub fn unk_token(mut self, unk: impl Into<String>) -> Self {
        self.unk_token = unk.into();
        self
    }

    /// Uses only the first `n` words.
    pub fn max_words(mut self, n: usize) -> Self {
        self.max_words = Some(n);
        self
    }

    /// Trains on the words of `text` as Python's `str.split()` gives them.
    pub fn train_text(&self, text: &str) -> Result<WordBpe> {
        self.train(python_split(text))
    }

    /// Trains on a sequence of words (each should hold no white space).
    pub fn train<'a>(&self, words: impl IntoIterator<Item = &'a str>) -> Result<WordBpe> {
        let limit = self.max_words.unwrap_or(usize::MAX);
        let mut index: FxHashMap<&str, u32> = FxHashMap::default();
        let mut distinct: Vec<&str> = Vec::new();
        let mut counts: Vec<u64> = Vec::new();
        for w in words.into_iter().take(limit) {
            match index.get(w) {
                Some(&i) => counts[i as usize] += 1,
                None => {
                    index.insert(w, distinct.len() as u32);
                    distinct.push(w);
                    counts.push(1);
                }
            }
        }
        // Characters get provisional ids in order of appearance.
        let mut char_ids: FxHashMap<char, u32> = FxHashMap::default();
        let mut chars: Vec<char> = Vec::new();
        let mut intern = |c: char| {
            *char_ids.entry(c).or_insert_with(|| {
                chars.push(c);
                chars.len() as u32 - 1
            })
        };
        let mut input = Words::default();
        for (w, &count) in distinct.iter().zip(&counts) {
            let syms: Vec<u32> = std::iter::once(WORD_MARKER)
                .chain(w.chars())
                .map(&mut intern)
                .collect();
            input.push(syms, count)?;
        }
        let contents: Vec<Vec<u8>> = chars.iter().map(|c| c.to_string().into_bytes()).collect();
        let learned = learn(input, contents, 0, self.vocab_size)?;

        let text = |id: u32| String::from_utf8_lossy(&learned.contents[id as usize]).into_owned();
        let mut sorted_chars = chars.clone();
        sorted_chars.sort_unstable();
        let merges: Vec<(String, String)> = learned
            .merges
            .iter()
            .map(|&(a, b, _)| (text(a), text(b)))
            .collect();
        let whole: Vec<String> = learned
            .single
            .iter()
            .flatten()
            .map(|&id| text(id))
            .collect();
        WordBpe::from_parts(&self.unk_token, &sorted_chars, &merges, whole, "<trained>")
    }
}

/// The saved form of a [`WordBpe`].
#[derive(Serialize, Deserialize)]
struct Saved {
    #[serde(rename = "type")]
    kind: String,
    unk_token: String,
    charset: Vec<char>,
    merges: Vec<(String, String)>,
    whole_words: Vec<String>,
}

impl WordBpe {
    /// Trains with the default options ([`WordBpeTrainer::new`]).
    pub fn train<'a>(words: impl IntoIterator<Item = &'a str>, vocab_size: usize) -> Result<Self> {
        WordBpeTrainer::new(vocab_size).train(words)
    }

    fn from_parts(
        unk_token: &str,
        charset: &[char],
        merges: &[(String, String)],
        whole_words: Vec<String>,
        file: &str,
    ) -> Result<Self> {
        let mut tokens = vec![unk_token.to_string()];
        let mut ids: FxHashMap<String, u32> = FxHashMap::default();
        let mut char_ids = FxHashMap::default();
        for &c in charset {
            let id = tokens.len() as u32;
            if ids.insert(c.to_string(), id).is_some() {
                return Err(TokenizeError::parse(
                    file,
                    0,
                    format!("charset lists {c:?} twice"),
                ));
            }
            char_ids.insert(c, id);
            tokens.push(c.to_string());
        }
        let mut list = Vec::with_capacity(merges.len());
        let mut table = MergeTable::with_capacity(merges.len());
        let mut ranks_of: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
        for (rank, (a, b)) in merges.iter().enumerate() {
            let bad = |what: &str| {
                TokenizeError::parse(file, 0, format!("merges[{rank}] ({a:?}, {b:?}): {what}"))
            };
            let ia = *ids
                .get(a)
                .ok_or_else(|| bad(&format!("{a:?} is not a token before it")))?;
            let ib = *ids
                .get(b)
                .ok_or_else(|| bad(&format!("{b:?} is not a token before it")))?;
            let joined = format!("{a}{b}");
            let im = match ids.get(&joined) {
                Some(&id) => id,
                None => {
                    let id = tokens.len() as u32;
                    ids.insert(joined.clone(), id);
                    tokens.push(joined);
                    id
                }
            };
            table.insert(ia, ib, rank as u32, im);
            ranks_of
                .entry(pair_key(ia, ib))
                .or_default()
                .push(rank as u32);
            list.push((ia, ib, im));
        }
        let mut whole = FxHashMap::default();
        for w in whole_words {
            let id = *ids.get(&w).ok_or_else(|| {
                TokenizeError::parse(file, 0, format!("whole word {w:?} is not a token"))
            })?;
            whole.insert(w, id);
        }
        Ok(WordBpe {
            unk_token: unk_token.to_string(),
            tokens,
            char_ids,
            merges: list,
            table,
            ranks_of,
            whole,
        })
    }

    /// Number of ids (the distinct tokens plus the unknown token).
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The learned merges, in order, as texts.
    pub fn merges(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.merges.iter().map(|&(a, b, _)| {
            (
                self.tokens[a as usize].as_str(),
                self.tokens[b as usize].as_str(),
            )
        })
    }

    /// The text of a token id.
    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The unknown token's text.
    pub fn unk_token(&self) -> &str {
        &self.unk_token
    }

    fn initial(&self, word: &str) -> Vec<u32> {
        std::iter::once(WORD_MARKER)
            .chain(word.chars())
            .map(|c| self.char_ids.get(&c).copied().unwrap_or(0))
            .collect()
    }

    /// Token ids of one word, fast (the book's `tokenize_word_fast`).
    pub fn encode_word(&self, word: &str) -> Vec<u32> {
        let marked = format!("{WORD_MARKER}{word}");
        if let Some(&id) = self.whole.get(&marked) {
            return vec![id];
        }
        let mut ids = self.initial(word);
        self.table.apply(&mut ids, None);
        ids
    }

    /// Tokens of one word: a word seen whole in training is one token, otherwise the pair
    /// of lowest merge rank is merged first, leftmost among equals.
    pub fn tokenize_word(&self, word: &str) -> Vec<&str> {
        self.texts(&self.encode_word(word))
    }

    /// Tokens of one word, applying every merge in the order learned (the book's
    /// `tokenize_word`). Only merges whose pair is present are visited, so the cost does
    /// not grow with the number of merges.
    pub fn tokenize_word_in_order(&self, word: &str) -> Vec<&str> {
        let mut ids = self.initial(word);
        // Ranks of merges whose pair is present, smallest first.
        let mut queue: BinaryHeap<Reverse<u32>> = BinaryHeap::new();
        let push_pairs = |ids: &[u32], from: u32, queue: &mut BinaryHeap<Reverse<u32>>| {
            for w in ids.windows(2) {
                if let Some(ranks) = self.ranks_of.get(&pair_key(w[0], w[1]))
                    && let Some(&r) = ranks.iter().find(|&&r| r >= from)
                {
                    queue.push(Reverse(r));
                }
            }
        };
        push_pairs(&ids, 0, &mut queue);
        let mut last: Option<u32> = None;
        while let Some(Reverse(rank)) = queue.pop() {
            if last.is_some_and(|l| rank <= l) {
                continue;
            }
            last = Some(rank);
            let (a, b, m) = self.merges[rank as usize];
            let mut out = Vec::with_capacity(ids.len());
            let mut i = 0;
            let mut merged_any = false;
            while i < ids.len() {
                if i + 1 < ids.len() && ids[i] == a && ids[i + 1] == b {
                    out.push(m);
                    i += 2;
                    merged_any = true;
                } else {
                    out.push(ids[i]);
                    i += 1;
                }
            }
            if merged_any {
                ids = out;
                push_pairs(&ids, rank + 1, &mut queue);
            }
        }
        self.texts(&ids)
    }

    fn texts(&self, ids: &[u32]) -> Vec<&str> {
        ids.iter()
            .map(|&id| self.tokens[id as usize].as_str())
            .collect()
    }

    /// Token ids of a text: its words (Python's `str.split()`), each encoded by
    /// [`encode_word`](Self::encode_word).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        for w in python_split(text) {
            out.extend(self.encode_word(w));
        }
        out
    }

    /// Tokens of a text (see [`encode`](Self::encode)).
    pub fn tokenize(&self, text: &str) -> Vec<&str> {
        self.texts(&self.encode(text))
    }

    /// Joins the tokens of `ids` into words separated by single spaces: a token starting
    /// with `_` starts a new word. Exact for text whose words hold no `_` and no unknown
    /// characters (the book's scheme cannot tell a word marker from a `_` in a word).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let mut out = String::new();
        for &id in ids {
            let Some(t) = self.tokens.get(id as usize) else {
                return Err(TokenizeError::UnknownId {
                    id,
                    vocab_size: self.tokens.len(),
                });
            };
            match t.strip_prefix(WORD_MARKER).filter(|_| id != 0) {
                Some(rest) => {
                    if !out.is_empty() {
                        out.push(' ');
                    }
                    out.push_str(rest);
                }
                None => out.push_str(t),
            }
        }
        Ok(out)
    }

    /// The tokenizer as JSON: the unknown token, the characters, the merges in order and
    /// the words seen whole (ids are rebuilt from these on loading).
    pub fn to_json(&self) -> String {
        let mut charset: Vec<char> = self.char_ids.keys().copied().collect();
        charset.sort_unstable();
        let mut whole: Vec<String> = self.whole.keys().cloned().collect();
        whole.sort_unstable();
        let saved = Saved {
            kind: "WordBpe".into(),
            unk_token: self.unk_token.clone(),
            charset,
            merges: self
                .merges()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            whole_words: whole,
        };
        serde_json::to_string(&saved).unwrap_or_default()
    }

    /// Reads [`to_json`](Self::to_json)'s output.
    pub fn from_json(json: &str) -> Result<Self> {
        Self::parse_json(json, "<json>")
    }

    fn parse_json(json: &str, file: &str) -> Result<Self> {
        let saved: Saved = serde_json::from_str(json).map_err(|e| TokenizeError::json(file, &e))?;
        if saved.kind != "WordBpe" {
            return Err(TokenizeError::parse(
                file,
                1,
                format!("type is {:?}, not \"WordBpe\"", saved.kind),
            ));
        }
        let mut sorted = saved.charset.clone();
        sorted.sort_unstable();
        Self::from_parts(
            &saved.unk_token,
            &sorted,
            &saved.merges,
            saved.whole_words,
            file,
        )
    }

    /// Saves [`to_json`](Self::to_json) to a file (through a temporary file and a rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), self.to_json().as_bytes())
    }

    /// Loads a file written by [`save`](Self::save).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        let file = path.display().to_string();
        let text =
            std::str::from_utf8(&bytes).map_err(|_| TokenizeError::parse(&file, 0, "not UTF-8"))?;
        Self::parse_json(text, &file)
    }
}
