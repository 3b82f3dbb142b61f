//! Training a byte-level BPE on any corpus.

use crate::byte_level::{ByteLevelBpe, MergeSource, byte_to_char, bytes_to_token_string};
use crate::error::{Result, TokenizeError};
use crate::hash::FxHashMap;
use crate::pretokenize::piece_end;
use crate::trainer::{Words, learn};

/// Trains a byte-level BPE: GPT-2's pre-tokenisation, then the book's BPE learner on the
/// bytes of the pre-tokens (most frequent pair first, ties to the pair seen first, tokens
/// identified by their bytes), until the vocabulary has `vocab_size` tokens.
///
/// The vocabulary is: the special tokens (ids 0, 1, …), the 256 single bytes (in the
/// order of their [`byte_to_char`] characters, as HF tokenizers orders its alphabet), then
/// one token per learned merge that makes a new byte string. A `vocab_size` below that
/// floor gives the floor. Special tokens are not looked for in the training text.
///
/// ```
/// use ferrograd_tokenize::{ByteLevelBpe, ByteLevelTrainer};
///
/// let corpus = "low lower lowest newer newest wider widest ".repeat(20);
/// let tok: ByteLevelBpe = ByteLevelTrainer::new(270).train(&corpus)?;
/// assert_eq!(tok.vocab_size(), 270); // <|endoftext|>, 256 bytes, 13 merges
/// // The most frequent pair: "we" in " lower", " lowest", " newer", " newest" (4 × 20).
/// assert_eq!(tok.merges().next(), Some(("w", "e")));
/// let ids = tok.encode(" lowest");
/// assert_eq!(tok.decode(&ids)?, " lowest");
/// assert_eq!(tok.decode(&ids)?, " lowest");
/// // Save as a Hugging Face tokenizer.json and load it back.
/// let again = ByteLevelBpe::from_tokenizer_json(tok.to_tokenizer_json().as_bytes())?;
/// assert_eq!(again.encode(&corpus), tok.encode(&corpus));
/// # Ok::<(), ferrograd_tokenize::TokenizeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ByteLevelTrainer {
    /// Target number of tokens, special tokens and the 256 bytes included.
    pub vocab_size: usize,
    /// Special tokens, given the first ids (default: `<|endoftext|>`).
    pub special_tokens: Vec<String>,
    /// Threads for pre-tokenising and counting (default 1; 0 means all cores). The result
    /// does not depend on it.
    pub threads: usize,
}

impl ByteLevelTrainer {
    /// A trainer for `vocab_size` tokens with `<|endoftext|>` as the special token.
    pub fn new(vocab_size: usize) -> Self {
        ByteLevelTrainer {
            vocab_size,
            special_tokens: vec!["<|endoftext|>".to_string()],
            threads: 1,
        }
    }

    /// Replaces the special tokens.
    pub fn special_tokens<S: Into<String>>(mut self, tokens: impl IntoIterator<Item = S>) -> Self {
        self.special_tokens = tokens.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the number of counting threads (0: all cores).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Trains on one text.
    pub fn train(&self, text: &str) -> Result<ByteLevelBpe> {
        self.train_texts(&[text])
    }

    /// Trains on several texts (pre-tokens never span two texts).
    pub fn train_texts<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<ByteLevelBpe> {
        let mut seen = std::collections::HashSet::new();
        for s in &self.special_tokens {
            if s.is_empty() || !seen.insert(s.as_str()) {
                return Err(TokenizeError::Train(format!(
                    "special token {s:?} is empty or listed twice"
                )));
            }
        }
        let threads = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let (pieces, counts) = count_all(texts, threads);
        let mut words = Words::default();
        for (piece, count) in pieces.iter().zip(counts) {
            words.push(piece.iter().map(|&b| u32::from(b)), count)?;
        }
        drop(pieces);
        let contents: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        let k = self.special_tokens.len();
        let learned = learn(words, contents, k, self.vocab_size)?;

        // Final ids: specials, bytes in character order, then new tokens in order.
        let mut byte_order: Vec<u8> = (0..=255u8).collect();
        byte_order.sort_by_key(|&b| byte_to_char(b) as u32);
        let mut final_id = vec![0u32; learned.contents.len()];
        for (rank, &b) in byte_order.iter().enumerate() {
            final_id[b as usize] = (k + rank) as u32;
        }
        for (i, slot) in final_id.iter_mut().enumerate().skip(256) {
            *slot = (k + i) as u32;
        }
        let mut vocab: Vec<(String, u32)> = Vec::with_capacity(k + learned.contents.len());
        for (i, s) in self.special_tokens.iter().enumerate() {
            vocab.push((s.clone(), i as u32));
        }
        let mut names = vec![String::new(); learned.contents.len()];
        for (i, content) in learned.contents.iter().enumerate() {
            names[i] = bytes_to_token_string(content);
            if self.special_tokens.contains(&names[i]) {
                return Err(TokenizeError::Train(format!(
                    "the learned token {:?} equals a special token; choose another special token",
                    names[i]
                )));
            }
            vocab.push((names[i].clone(), final_id[i]));
        }
        let merges = learned
            .merges
            .iter()
            .enumerate()
            .map(|(rank, &(a, b, _))| {
                (
                    rank + 1,
                    names[a as usize].clone(),
                    names[b as usize].clone(),
                )
            })
            .collect();
        let mut bpe =
            ByteLevelBpe::build(vocab, "<trained>", merges, "<trained>", MergeSource::Lines)?;
        for s in &self.special_tokens {
            bpe.add_special_token(s);
        }
        Ok(bpe)
    }
}

type Counted<'a> = (Vec<&'a [u8]>, Vec<u64>);

/// Counts the pre-tokens of one text, in order of first appearance.
fn count_text<'a>(text: &'a [u8], map: &mut FxHashMap<&'a [u8], u32>, out: &mut Counted<'a>) {
    let mut p = 0;
    while p < text.len() {
        let e = piece_end(text, p);
        let piece = &text[p..e];
        match map.get(piece) {
            Some(&i) => out.1[i as usize] += 1,
            None => {
                map.insert(piece, out.0.len() as u32);
                out.0.push(piece);
                out.1.push(1);
            }
        }
        p = e;
    }
}

/// Places where a text can be cut without changing its pre-tokens: after a newline that
/// follows an ASCII non-space byte and precedes one.
fn cut_near(s: &[u8], from: usize) -> usize {
    let mut i = from.max(2);
    while i < s.len() {
        if s[i - 1] == b'\n'
            && s[i - 2] < 0x80
            && !s[i - 2].is_ascii_whitespace()
            && s[i] < 0x80
            && !s[i].is_ascii_whitespace()
            && s[i - 2] != 0x0B
            && s[i] != 0x0B
        {
            return i;
        }
        i += 1;
    }
    s.len()
}

fn count_all<'a, S: AsRef<str> + Sync>(texts: &'a [S], threads: usize) -> Counted<'a> {
    // Chunks: whole texts, and long texts cut at safe places.
    let total: usize = texts.iter().map(|t| t.as_ref().len()).sum();
    let target = (total / (threads * 4).max(1)).max(1 << 16);
    let mut chunks: Vec<&'a [u8]> = Vec::new();
    for t in texts {
        let s = t.as_ref().as_bytes();
        let mut start = 0;
        while start < s.len() {
            let end = if threads > 1 {
                cut_near(s, start + target)
            } else {
                s.len()
            };
            chunks.push(&s[start..end]);
            start = end;
        }
    }
    let count_chunks = |chunks: &[&'a [u8]]| {
        let mut map = FxHashMap::default();
        let mut out: Counted<'a> = (Vec::new(), Vec::new());
        for c in chunks {
            count_text(c, &mut map, &mut out);
        }
        out
    };
    if threads <= 1 || chunks.len() <= 1 {
        return count_chunks(&chunks);
    }
    let per = chunks.len().div_ceil(threads);
    let parts: Vec<Counted<'a>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .chunks(per)
            .map(|group| scope.spawn(move || count_chunks(group)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut parts = parts.into_iter();
    let mut merged = parts.next().unwrap_or_default();
    let mut map: FxHashMap<&'a [u8], u32> = merged
        .0
        .iter()
        .enumerate()
        .map(|(i, &p)| (p, i as u32))
        .collect();
    for (pieces, counts) in parts {
        for (piece, count) in pieces.into_iter().zip(counts) {
            match map.get(piece) {
                Some(&i) => merged.1[i as usize] += count,
                None => {
                    map.insert(piece, merged.0.len() as u32);
                    merged.0.push(piece);
                    merged.1.push(count);
                }
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_do_not_change_the_counts() {
        let text = "Hello there,\nGeneral Kenobi!\n  spaced\t\nline\nx\n".repeat(5000);
        let texts = [text.as_str()];
        let one = count_all(&texts, 1);
        let four = count_all(&texts, 4);
        assert_eq!(one, four);
        let mut p = 0;
        let mut pieces = vec![];
        while p < text.len() {
            let e = piece_end(text.as_bytes(), p);
            pieces.push(&text.as_bytes()[p..e]);
            p = e;
        }
        assert_eq!(one.1.iter().sum::<u64>(), pieces.len() as u64);
    }
}
