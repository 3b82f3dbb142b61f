//! The BPE learner shared by the word-level and the byte-level trainers.
//!
//! It reproduces the book's `byte_pair_encoding` exactly — merge the most frequent
//! adjacent pair (counts weighted by word frequency), ties to the pair seen first when the
//! words are read in order of first appearance and each word left to right, merge every
//! occurrence left to right without overlaps, tokens identified by their text, stop when
//! the number of distinct tokens reaches the target or no pair is left — but without its
//! full re-scan per merge:
//!
//! - every symbol of every distinct word lives in one array with `prev`/`next` links, and
//!   every pair keeps its exact count and a list of the positions where it occurred (an
//!   occurrence that a neighbouring merge destroyed stays in the list until the list is
//!   next compacted; it is recognised because the symbols there no longer form the pair);
//! - a merge visits only the occurrences of the merged pair and updates the counts and
//!   positions of the pairs around them;
//! - a binary max-heap ordered by (count, earliest position reversed) finds the next pair.
//!   Each pair also keeps `first`, a lower bound of its earliest live position (exact when
//!   set; it can only become too small, when that occurrence dies). Entries are pushed
//!   whenever a pair changes; a popped entry whose count or `first` is out of date is
//!   skipped, and one whose `first` occurrence died has its list compacted, its earliest
//!   live position recomputed and is pushed again.
//!
//! The earliest live position of a pair is exactly where the book's scan meets it first,
//! so ties resolve as in the book, and positions are unique, so the order is total: no
//! hash-map order can leak into the merges. Counts are u64; before training the sum of
//! all word counts times pairs per word is checked to fit, and every pair count is at most
//! that sum, so counts cannot overflow.

use crate::error::{Result, TokenizeError};
use crate::hash::{FxHashMap, pair_key};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const NONE: u32 = u32::MAX;
const DEAD: u32 = u32::MAX;

/// Words to learn from: the symbols of every distinct word, concatenated in order of first
/// appearance, with each word's length and count.
#[derive(Debug, Default)]
pub(crate) struct Words {
    pub(crate) symbols: Vec<u32>,
    pub(crate) lengths: Vec<u32>,
    pub(crate) counts: Vec<u64>,
}

impl Words {
    pub(crate) fn push(
        &mut self,
        symbols: impl IntoIterator<Item = u32>,
        count: u64,
    ) -> Result<()> {
        let before = self.symbols.len();
        self.symbols.extend(symbols);
        let len = self.symbols.len() - before;
        let len = u32::try_from(len)
            .map_err(|_| TokenizeError::Train("a word is longer than 2^32 symbols".into()))?;
        self.lengths.push(len);
        self.counts.push(count);
        Ok(())
    }
}

/// What the learner found: the merges `(left, right, merged)` in order, and the text of
/// every token id (the initial ones first, then each new text in order of creation).
#[derive(Debug)]
pub(crate) struct Learned {
    pub(crate) merges: Vec<(u32, u32, u32)>,
    pub(crate) contents: Vec<Vec<u8>>,
    /// For each word, its token id when it ended as a single token.
    pub(crate) single: Vec<Option<u32>>,
}

struct Pair {
    count: u64,
    /// Lower bound of the earliest live position (exact unless that occurrence died).
    first: u32,
    /// Positions where the pair occurred (some may be dead).
    at: Vec<u32>,
}

/// Does the pair `(a, b)` still start at `pos`?
#[inline]
fn live(sym: &[u32], next: &[u32], pos: u32, a: u32, b: u32) -> bool {
    let p = pos as usize;
    sym[p] == a && next[p] != NONE && sym[next[p] as usize] == b
}

/// Learns merges until `extra_tokens` + the number of distinct token texts reaches
/// `vocab_size`. `contents` gives the text of the initial symbol ids.
pub(crate) fn learn(
    words: Words,
    contents: Vec<Vec<u8>>,
    extra_tokens: usize,
    vocab_size: usize,
) -> Result<Learned> {
    let Words {
        symbols: mut sym,
        lengths,
        counts,
    } = words;
    let n = sym.len();
    if n >= NONE as usize {
        return Err(TokenizeError::Train(format!(
            "{n} symbols in the distinct words; at most {} are supported",
            NONE - 1
        )));
    }
    // Bound every pair count: the sum over words of count × (length − 1) must fit in u64.
    let mut total: u128 = 0;
    for (&len, &count) in lengths.iter().zip(&counts) {
        total += u128::from(len.saturating_sub(1)) * u128::from(count);
    }
    if total > u128::from(u64::MAX) {
        return Err(TokenizeError::Train(format!(
            "word counts too large: their sum weighted by pairs per word is {total}, above 2^64"
        )));
    }

    let mut interner: FxHashMap<Vec<u8>, u32> = FxHashMap::default();
    let mut distinct = 0usize;
    for (id, c) in contents.iter().enumerate() {
        if interner.insert(c.clone(), id as u32).is_none() {
            distinct += 1;
        }
    }
    let mut contents = contents;

    let mut prev = vec![NONE; n];
    let mut next = vec![NONE; n];
    let mut weight = vec![0u64; n];
    let mut pairs: FxHashMap<u64, Pair> = FxHashMap::default();
    let mut start = 0usize;
    for (&len, &count) in lengths.iter().zip(&counts) {
        let end = start + len as usize;
        for i in start..end {
            weight[i] = count;
            if i > start {
                prev[i] = (i - 1) as u32;
            }
            if i + 1 < end {
                next[i] = (i + 1) as u32;
                if count > 0 {
                    add(&mut pairs, pair_key(sym[i], sym[i + 1]), i as u32, count);
                }
            }
        }
        start = end;
    }
    let mut word_starts = Vec::with_capacity(lengths.len());
    let mut at = 0u32;
    for &len in &lengths {
        word_starts.push((at, len));
        at += len;
    }
    drop(lengths);
    drop(counts);

    let mut heap: BinaryHeap<(u64, Reverse<u32>, u64)> = pairs
        .iter()
        .map(|(&k, p)| (p.count, Reverse(p.first), k))
        .collect();

    let mut merges = Vec::new();
    let mut dirty: Vec<u64> = Vec::new();
    while extra_tokens + distinct < vocab_size {
        // The most frequent pair, first seen among equals.
        let key = loop {
            let Some((count, Reverse(first), key)) = heap.pop() else {
                break None;
            };
            let Some(p) = pairs.get_mut(&key) else {
                continue;
            };
            if p.count != count || p.first != first {
                continue; // a newer entry exists
            }
            let (a, b) = ((key >> 32) as u32, key as u32);
            if live(&sym, &next, first, a, b) {
                break Some(key);
            }
            p.at.retain(|&pos| live(&sym, &next, pos, a, b));
            p.at.sort_unstable();
            p.at.dedup();
            match p.at.first() {
                Some(&f) => {
                    p.first = f;
                    heap.push((p.count, Reverse(f), key));
                }
                None => {
                    pairs.remove(&key);
                }
            }
        };
        let Some(key) = key else { break };
        let Some(mut pair) = pairs.remove(&key) else {
            break;
        };
        pair.at.sort_unstable();
        pair.at.dedup();
        let (a, b) = ((key >> 32) as u32, key as u32);
        let mut text = contents[a as usize].clone();
        text.extend_from_slice(&contents[b as usize]);
        let merged = match interner.get(&text) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(contents.len())
                    .ok()
                    .filter(|&id| id < NONE)
                    .ok_or_else(|| TokenizeError::Train("more than 2^32 tokens".into()))?;
                interner.insert(text.clone(), id);
                contents.push(text);
                distinct += 1;
                id
            }
        };
        merges.push((a, b, merged));

        dirty.clear();
        for i in pair.at {
            let iu = i as usize;
            if sym[iu] != a {
                continue;
            }
            let j = next[iu];
            if j == NONE || sym[j as usize] != b {
                continue;
            }
            let ju = j as usize;
            let w = weight[iu];
            let before = prev[iu];
            let after = next[ju];
            if before != NONE {
                let k = pair_key(sym[before as usize], a);
                if k != key {
                    remove(&mut pairs, k, before, w);
                    dirty.push(k);
                }
            }
            if after != NONE {
                let k = pair_key(b, sym[after as usize]);
                if k != key {
                    remove(&mut pairs, k, j, w);
                    dirty.push(k);
                }
            }
            sym[iu] = merged;
            sym[ju] = DEAD;
            next[iu] = after;
            if after != NONE {
                prev[after as usize] = i;
                let k = pair_key(merged, sym[after as usize]);
                add(&mut pairs, k, i, w);
                dirty.push(k);
            }
            if before != NONE {
                let k = pair_key(sym[before as usize], merged);
                add(&mut pairs, k, before, w);
                dirty.push(k);
            }
        }
        dirty.sort_unstable();
        dirty.dedup();
        for &k in &dirty {
            if let Some(p) = pairs.get(&k) {
                heap.push((p.count, Reverse(p.first), k));
            }
        }
    }
    let single = word_starts
        .iter()
        .map(|&(start, len)| (len > 0 && next[start as usize] == NONE).then(|| sym[start as usize]))
        .collect();
    Ok(Learned {
        merges,
        contents,
        single,
    })
}

/// One occurrence (weight `w`) of the pair at `_at` died; the position stays in the list.
fn remove(pairs: &mut FxHashMap<u64, Pair>, key: u64, _at: u32, w: u64) {
    if let Some(p) = pairs.get_mut(&key) {
        p.count = p.count.saturating_sub(w);
        if p.count == 0 {
            pairs.remove(&key);
        }
    }
}

fn add(pairs: &mut FxHashMap<u64, Pair>, key: u64, at: u32, w: u64) {
    let p = pairs.entry(key).or_insert(Pair {
        count: 0,
        first: at,
        at: Vec::new(),
    });
    p.count += w;
    p.first = p.first.min(at);
    p.at.push(at);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The book's algorithm, literally: recount all pairs each step, first max wins.
    fn book(words: &[(&str, u64)], vocab_size: usize) -> Vec<(String, String)> {
        let mut vocab: Vec<(Vec<String>, u64)> = words
            .iter()
            .map(|(w, c)| (w.chars().map(String::from).collect(), *c))
            .collect();
        let mut tokens: std::collections::BTreeSet<String> =
            vocab.iter().flat_map(|(w, _)| w.iter().cloned()).collect();
        let mut merges = vec![];
        while tokens.len() < vocab_size {
            let mut order: Vec<(String, String)> = vec![];
            let mut counts: std::collections::HashMap<(String, String), u64> = Default::default();
            for (w, c) in &vocab {
                for p in w.windows(2) {
                    let k = (p[0].clone(), p[1].clone());
                    if !counts.contains_key(&k) {
                        order.push(k.clone());
                    }
                    *counts.entry(k).or_default() += c;
                }
            }
            let Some(best) = order
                .iter()
                .fold(None::<&(String, String)>, |best, k| match best {
                    Some(b) if counts[b] >= counts[k] => Some(b),
                    _ => Some(k),
                })
            else {
                break;
            };
            let best = best.clone();
            for (w, _) in &mut vocab {
                let mut out = vec![];
                let mut i = 0;
                while i < w.len() {
                    if i + 1 < w.len() && w[i] == best.0 && w[i + 1] == best.1 {
                        out.push(format!("{}{}", best.0, best.1));
                        i += 2;
                    } else {
                        out.push(w[i].clone());
                        i += 1;
                    }
                }
                *w = out;
            }
            tokens.insert(format!("{}{}", best.0, best.1));
            merges.push(best);
        }
        merges
    }

    fn ours(words: &[(&str, u64)], vocab_size: usize) -> Vec<(String, String)> {
        let mut alphabet: Vec<char> = words.iter().flat_map(|(w, _)| w.chars()).collect();
        alphabet.sort_unstable();
        alphabet.dedup();
        let contents: Vec<Vec<u8>> = alphabet
            .iter()
            .map(|c| c.to_string().into_bytes())
            .collect();
        let mut input = Words::default();
        for (w, c) in words {
            input
                .push(
                    w.chars()
                        .map(|ch| alphabet.binary_search(&ch).unwrap() as u32),
                    *c,
                )
                .unwrap();
        }
        let learned = learn(input, contents, 0, vocab_size).unwrap();
        let text = |id: u32| String::from_utf8(learned.contents[id as usize].clone()).unwrap();
        learned
            .merges
            .iter()
            .map(|&(a, b, _)| (text(a), text(b)))
            .collect()
    }

    #[test]
    fn equals_the_books_loop_on_small_corpora() {
        let cases: Vec<(Vec<(&str, u64)>, usize)> = vec![
            (vec![("_aaaa", 1)], 10),
            (vec![("_abab", 2), ("_ba", 3), ("_abc", 1)], 20),
            (
                vec![("_low", 5), ("_lower", 2), ("_newest", 6), ("_widest", 3)],
                30,
            ),
            (vec![("_xyxyxy", 1), ("_yxyx", 1), ("_abcabcabc", 2)], 40),
            // Merges whose text already exists (a+bc = ab+c) do not grow the vocabulary.
            (vec![("_abc", 1), ("_ab", 1), ("_bc", 3), ("_abcd", 2)], 14),
        ];
        for (words, size) in cases {
            assert_eq!(ours(&words, size), book(&words, size), "{words:?}");
        }
        // Pseudo-random corpora over a 3-letter alphabet.
        let mut seed = 7u64;
        for _ in 0..30 {
            let mut owned = vec![];
            for _ in 0..12 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let len = 1 + (seed >> 60) as usize;
                let word: String = (0..len)
                    .map(|k| [b'a', b'b', b'c'][((seed >> (3 * k + 5)) % 3) as usize] as char)
                    .collect();
                owned.push((format!("_{word}"), 1 + (seed >> 40) % 4));
            }
            owned.sort();
            owned.dedup_by(|x, y| x.0 == y.0);
            let words: Vec<(&str, u64)> = owned.iter().map(|(w, c)| (w.as_str(), *c)).collect();
            assert_eq!(ours(&words, 60), book(&words, 60), "{words:?}");
        }
    }

    #[test]
    fn huge_counts_are_refused_not_overflowed() {
        let mut input = Words::default();
        input.push([0, 1, 0, 1], u64::MAX / 2).unwrap();
        let err = learn(input, vec![b"a".to_vec(), b"b".to_vec()], 0, 10).unwrap_err();
        assert!(err.to_string().contains("above 2^64"), "{err}");
        let mut input = Words::default();
        input.push([0, 1], u64::MAX).unwrap();
        let learned = learn(input, vec![b"a".to_vec(), b"b".to_vec()], 0, 10).unwrap();
        assert_eq!(learned.merges, [(0, 1, 2)]);
    }
}
