//! The book's count-based language model (§2.4–2.5 and its `count_language_model`
//! notebook): n-gram counts of every order up to `n`, the notebook's backoff rule, greedy
//! prediction and generation, and perplexity on held-out text.
//!
//! **Backoff.** `Pr(w | context)` is the maximum-likelihood estimate
//! `count(c, w) / count(c, ·)` at the highest order `k ≤ n` whose context `c` (the last
//! `k − 1` tokens) was seen followed by some token *and* followed by `w`; otherwise the
//! Laplace-smoothed unigram `(count(w) + 1) / (W + V)`, where `W` is the number of training
//! tokens and `V` the number of distinct ones. Every probability is therefore positive, so
//! perplexity is always finite; an unknown word gets `1 / (W + V)`. (As in the notebook,
//! the numbers do not form one normalised distribution: they are the book's rule, not a
//! smoothed model.)
//!
//! **Prediction** picks the most frequent follower of the highest-order context that was
//! seen, ties going to the follower seen first in the corpus (Python's `max` over an
//! insertion-ordered dict), and falls back to the most frequent token.
//!
//! **Memory.** Counts live in a trie over token ids: one node per distinct n-gram of each
//! order (20 bytes: token, parent, count, follower total, most frequent follower), found
//! through one open-addressing hash table keyed by `(parent, token)` (12 bytes a slot), so
//! a million-token corpus with `n = 5` takes on the order of 100 MB where the notebook's
//! dictionaries of tuples take several times more.
//!
//! ```
//! use ferrograd_lm::CountLanguageModel;
//! use ferrograd_lm::text::count_lm_tokens;
//!
//! let tokens = count_lm_tokens("language models are powerful language models are useful");
//! let model = CountLanguageModel::train(3, &tokens)?;
//! assert_eq!(model.predict(&["language", "models"]), "are");
//! assert_eq!(model.probability("are", &["language", "models"]), 1.0);
//! // Never seen after any context: Laplace-smoothed unigram, (0 + 1) / (8 + 5).
//! assert_eq!(model.probability("sing", &["language", "models"]), 1.0 / 13.0);
//! assert_eq!(model.generate(&["models"], 4).join(" "), "models are powerful language models");
//! # Ok::<(), ferrograd_lm::LmError>(())
//! ```

use crate::error::{LmError, Result, invalid};
use crate::text::Vocabulary;

/// The trie's root: the empty context.
const ROOT: u32 = 0;
/// "No node".
const NONE: u32 = u32::MAX;

/// Open-addressing hash table from `(parent, token)` to a node id, linear probing.
#[derive(Debug, Clone)]
struct ChildTable {
    /// `[key low, key high, node]`; `node == NONE` marks an empty slot.
    slots: Vec<[u32; 3]>,
    len: usize,
    shift: u32,
}

#[inline]
fn pack(parent: u32, token: u32) -> u64 {
    (u64::from(parent) << 32) | u64::from(token)
}

impl ChildTable {
    fn with_capacity(entries: usize) -> Self {
        // Keep the load at or below one half.
        let slots = (entries.max(8) * 2).next_power_of_two();
        Self {
            slots: vec![[0, 0, NONE]; slots],
            len: 0,
            shift: 64 - slots.trailing_zeros(),
        }
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline]
    fn prefetch(&self, parent: u32, token: u32) {
        #[cfg(target_arch = "x86_64")]
        {
            let slot = self.home(pack(parent, token));
            let p = self.slots.as_ptr().wrapping_add(slot).cast::<i8>();
            // SAFETY: SSE is part of the x86-64 baseline, and a prefetch is only a hint: it
            // reads nothing and cannot fault, even for an address past the table.
            unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (parent, token);
    }

    #[inline]
    fn get(&self, parent: u32, token: u32) -> u32 {
        let key = pack(parent, token);
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let [lo, hi, node] = self.slots[i];
            if node == NONE {
                return NONE;
            }
            if (u64::from(hi) << 32 | u64::from(lo)) == key {
                return node;
            }
            i = (i + 1) & mask;
        }
    }

    /// The node of `(parent, token)`, or `make()`'s new node inserted for it; the flag says
    /// whether it was new.
    #[inline]
    fn get_or_insert(&mut self, parent: u32, token: u32, make: impl FnOnce() -> u32) -> (u32, bool) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let key = pack(parent, token);
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let [lo, hi, node] = self.slots[i];
            if node == NONE {
                let node = make();
                self.slots[i] = [key as u32, (key >> 32) as u32, node];
                self.len += 1;
                return (node, true);
            }
            if (u64::from(hi) << 32 | u64::from(lo)) == key {
                return (node, false);
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        let mut bigger = Self::with_capacity(old.len());
        for slot in old.into_iter().filter(|s| s[2] != NONE) {
            let key = u64::from(slot[1]) << 32 | u64::from(slot[0]);
            let mask = bigger.slots.len() - 1;
            let mut i = bigger.home(key);
            while bigger.slots[i][2] != NONE {
                i = (i + 1) & mask;
            }
            bigger.slots[i] = slot;
            bigger.len += 1;
        }
        *self = bigger;
    }

    fn bytes(&self) -> usize {
        self.slots.len() * size_of::<[u32; 3]>()
    }
}

/// The count-based language model of the book's §2.4–2.5: counts of every n-gram of order
/// 1 to `n` in the training tokens, the notebook's backoff rule (see the [module
/// docs](self)), greedy prediction and generation.
///
/// Tokens are any strings (use [`crate::text::count_lm_tokens`] for the notebook's
/// tokeniser); inside, they are dense `u32` ids in first-seen order.
#[derive(Debug, Clone)]
pub struct CountLanguageModel {
    n: usize,
    vocab: Vocabulary,
    /// Training tokens `W`.
    total: u64,
    // One entry per trie node; node 0 is the root (the empty context), nodes
    // `level_start[k]..level_start[k + 1]` are the distinct k-grams in first-seen order.
    token: Vec<u32>,
    parent: Vec<u32>,
    count: Vec<u32>,
    /// How often the node's n-gram was followed by some token (the notebook's
    /// `sum(counts[context].values())`).
    followers: Vec<u32>,
    /// The most frequent follower (first seen on ties), or `NONE`.
    best: Vec<u32>,
    level_start: Vec<u32>,
    children: ChildTable,
}

/// One row of an n-gram table: a context and the tokens that followed it with their
/// counts, in the order they were first seen (as the notebook's dictionaries hold them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NgramRow {
    /// The context: the `k − 1` tokens before.
    pub context: Vec<String>,
    /// `(next token, count)` in first-seen order.
    pub next: Vec<(String, u64)>,
}

impl CountLanguageModel {
    /// Counts the n-grams of order 1 to `n` in `tokens`.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for `n = 0`, [`LmError::Empty`] for no tokens, and
    /// [`LmError::InvalidConfig`] for a corpus too large for 32-bit counts (4 billion
    /// tokens).
    pub fn train<S: AsRef<str>>(n: usize, tokens: &[S]) -> Result<Self> {
        let mut vocab = Vocabulary::new();
        let ids: Vec<u32> = tokens.iter().map(|t| vocab.insert(t.as_ref())).collect();
        Self::train_ids(n, &ids, vocab)
    }

    /// Counts the n-grams of order 1 to `n` in `ids`, whose words are `vocab`'s (ids must
    /// be dense, `0..vocab.len()`, and first seen in id order for the notebook's tie rule
    /// to hold — as [`Vocabulary::insert`] assigns them).
    ///
    /// # Errors
    /// As [`CountLanguageModel::train`], and [`LmError::InvalidConfig`] for an id past
    /// the vocabulary.
    pub fn train_ids(n: usize, ids: &[u32], vocab: Vocabulary) -> Result<Self> {
        const OP: &str = "CountLanguageModel::train";
        if n == 0 {
            return Err(invalid(OP, "n", 0, "the order must be at least 1 (unigrams)"));
        }
        if ids.is_empty() {
            return Err(LmError::Empty {
                op: OP,
                what: "the training corpus",
            });
        }
        if ids.len() >= (u32::MAX / 2) as usize {
            return Err(invalid(
                OP,
                "corpus length",
                ids.len(),
                "counts are 32-bit: at most 2^31 tokens",
            ));
        }
        if let Some((at, &bad)) = ids
            .iter()
            .enumerate()
            .find(|&(_, &id)| id as usize >= vocab.len())
        {
            return Err(invalid(
                OP,
                "token id",
                bad,
                format!("id at position {at} is past the vocabulary of {}", vocab.len()),
            ));
        }
        let v = vocab.len();
        let mut model = Self {
            n,
            vocab,
            total: ids.len() as u64,
            token: vec![NONE],
            parent: vec![NONE],
            count: vec![0],
            followers: vec![0],
            best: vec![NONE],
            level_start: vec![0, 1],
            children: ChildTable::with_capacity(v + ids.len() * (n - 1).min(3) * 3 / 4),
        };
        // Order 1: the unigram of id t is node 1 + t (ids are first-seen, so node order is
        // first-seen order too).
        model.token.extend(0..v as u32);
        model.parent.extend(std::iter::repeat_n(ROOT, v));
        model.count.extend(std::iter::repeat_n(0, v));
        model.followers.extend(std::iter::repeat_n(0, v));
        model.best.extend(std::iter::repeat_n(NONE, v));
        for t in 0..v as u32 {
            model.children.get_or_insert(ROOT, t, || 1 + t);
        }
        for &t in ids {
            model.count[1 + t as usize] += 1;
        }
        model.followers[ROOT as usize] = ids.len() as u32;
        model.level_start.push(model.token.len() as u32);
        // `prefix[i]` is the node of the (k−1)-gram starting at i.
        let mut prefix: Vec<u32> = ids.iter().map(|&t| 1 + t).collect();
        for k in 2..=n.min(ids.len()) {
            let positions = ids.len() - k + 1;
            prefix.truncate(positions);
            const AHEAD: usize = 16;
            for i in 0..positions {
                if i + AHEAD < positions {
                    model
                        .children
                        .prefetch(prefix[i + AHEAD], ids[i + AHEAD + k - 1]);
                }
                let parent = prefix[i];
                let token = ids[i + k - 1];
                let next_id = model.token.len() as u32;
                let (node, new) = model.children.get_or_insert(parent, token, || next_id);
                if new {
                    model.token.push(token);
                    model.parent.push(parent);
                    model.count.push(0);
                    model.followers.push(0);
                    model.best.push(NONE);
                }
                model.count[node as usize] += 1;
                model.followers[parent as usize] += 1;
                prefix[i] = node;
            }
            model.level_start.push(model.token.len() as u32);
        }
        while model.level_start.len() < n + 2 {
            // Orders above the corpus length have no n-grams.
            let last = *model.level_start.last().unwrap_or(&0);
            model.level_start.push(last);
        }
        // The most frequent follower of each node, first seen on ties: children are
        // numbered in first-seen order, so a strictly greater count is needed to replace.
        for node in 1..model.token.len() {
            let p = model.parent[node] as usize;
            let best = model.best[p];
            if best == NONE || model.count[node] > model.count[best as usize] {
                model.best[p] = node as u32;
            }
        }
        Ok(model)
    }

    /// The maximum order `n`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The training tokens' vocabulary (ids in first-seen order).
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    /// `V`: the number of distinct training tokens.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// `W`: the number of training tokens.
    pub fn num_tokens(&self) -> u64 {
        self.total
    }

    /// The number of distinct n-grams of order `k` (0 for `k = 0` or `k > n`).
    pub fn num_ngrams(&self, k: usize) -> usize {
        if k == 0 || k > self.n {
            return 0;
        }
        (self.level_start[k + 1] - self.level_start[k]) as usize
    }

    /// Bytes held by the counts (trie nodes and hash table), for memory reports.
    pub fn memory_bytes(&self) -> usize {
        self.token.capacity() * 4 * 5 + self.children.bytes()
    }

    /// The node of a context given as ids (`None` = an unknown word), or `NONE`.
    fn node_of(&self, context: &[Option<u32>]) -> u32 {
        let mut node = ROOT;
        for &t in context {
            match t {
                Some(t) => node = self.children.get(node, t),
                None => return NONE,
            }
            if node == NONE {
                return NONE;
            }
        }
        node
    }

    fn ids_of<S: AsRef<str>>(&self, tokens: &[S]) -> Vec<Option<u32>> {
        tokens.iter().map(|t| self.vocab.id(t.as_ref())).collect()
    }

    /// The unigram fallback `(count(w) + 1) / (W + V)`.
    fn laplace_unigram(&self, token: Option<u32>) -> f64 {
        let c = token.map_or(0, |t| self.count[1 + t as usize]);
        (f64::from(c) + 1.0) / (self.total as f64 + self.vocab.len() as f64)
    }

    /// `Pr(token | context)` by the notebook's backoff rule, for ids (`None` = a word the
    /// model never saw).
    pub fn probability_ids(&self, token: Option<u32>, context: &[Option<u32>]) -> f64 {
        if let Some(t) = token {
            for k in (2..=self.n).rev() {
                if context.len() < k - 1 {
                    continue;
                }
                let c = self.node_of(&context[context.len() - (k - 1)..]);
                if c == NONE || self.followers[c as usize] == 0 {
                    continue;
                }
                let node = self.children.get(c, t);
                if node != NONE {
                    return f64::from(self.count[node as usize])
                        / f64::from(self.followers[c as usize]);
                }
            }
        }
        self.laplace_unigram(token)
    }

    /// `Pr(token | context)` by the notebook's backoff rule (see the [module docs](self)).
    /// Only the last `n − 1` tokens of `context` matter; unknown words are allowed.
    pub fn probability<S: AsRef<str>>(&self, token: &str, context: &[S]) -> f64 {
        self.probability_ids(self.vocab.id(token), &self.ids_of(context))
    }

    /// The id of the most likely next token after `context` (ids; `None` = unknown).
    pub fn predict_id(&self, context: &[Option<u32>]) -> u32 {
        for k in (2..=self.n).rev() {
            if context.len() < k - 1 {
                continue;
            }
            let c = self.node_of(&context[context.len() - (k - 1)..]);
            if c != NONE && self.followers[c as usize] > 0 {
                return self.token[self.best[c as usize] as usize];
            }
        }
        // The corpus is never empty, so the root has a most frequent child.
        self.token[self.best[ROOT as usize] as usize]
    }

    /// The most likely next token after `context`: the most frequent follower at the
    /// highest order whose context was seen, the first seen on ties, else the most frequent
    /// token.
    pub fn predict<S: AsRef<str>>(&self, context: &[S]) -> &str {
        let id = self.predict_id(&self.ids_of(context));
        self.vocab.word(id).unwrap_or_default()
    }

    /// Greedy generation: `num_tokens` tokens, each predicted from the last `n − 1`
    /// tokens so far, appended to `context` (which is returned in front, as the notebook's
    /// `generate_text` does).
    pub fn generate<S: AsRef<str>>(&self, context: &[S], num_tokens: usize) -> Vec<String> {
        let mut out: Vec<String> = context.iter().map(|s| s.as_ref().to_string()).collect();
        let mut ids = self.ids_of(context);
        for _ in 0..num_tokens {
            let keep = self.n.saturating_sub(1);
            let window = &ids[ids.len().saturating_sub(keep)..];
            let next = self.predict_id(window);
            ids.push(Some(next));
            out.push(self.vocab.word(next).unwrap_or_default().to_string());
        }
        out
    }

    /// The log-likelihood terms of `tokens` as the notebook's `compute_perplexity` walks
    /// them: token `i`'s probability given the up to `context_size` tokens before it.
    /// Calls `f(i, probability)` for each token; runs in one pass with `n` table look-ups
    /// per token.
    pub fn for_each_probability<S: AsRef<str>>(
        &self,
        tokens: &[S],
        context_size: usize,
        f: impl FnMut(usize, f64),
    ) {
        let ids = self.ids_of(tokens);
        self.for_each_probability_ids(&ids, context_size, f);
    }

    /// [`CountLanguageModel::for_each_probability`] for ids (`None` = unknown word).
    pub fn for_each_probability_ids(
        &self,
        ids: &[Option<u32>],
        context_size: usize,
        mut f: impl FnMut(usize, f64),
    ) {
        let n = self.n;
        // ctx[len] = node of the last `len` tokens before position i (NONE if unseen or
        // shorter than `len`); next[len] the same ending at position i.
        let mut ctx = vec![NONE; n];
        ctx[0] = ROOT;
        let mut next = vec![NONE; n + 1];
        for (i, &token) in ids.iter().enumerate() {
            next[0] = ROOT;
            for k in 1..=n {
                next[k] = match token {
                    Some(t) if ctx[k - 1] != NONE => self.children.get(ctx[k - 1], t),
                    _ => NONE,
                };
            }
            let available = i.min(context_size);
            let mut p = None;
            for k in (2..=n).rev() {
                if available < k - 1 {
                    continue;
                }
                let c = ctx[k - 1];
                if c == NONE || self.followers[c as usize] == 0 {
                    continue;
                }
                let node = next[k];
                if node != NONE {
                    p = Some(
                        f64::from(self.count[node as usize])
                            / f64::from(self.followers[c as usize]),
                    );
                    break;
                }
            }
            f(i, p.unwrap_or_else(|| self.laplace_unigram(token)));
            ctx[1..n].copy_from_slice(&next[1..n]);
        }
    }

    /// Perplexity of `tokens` as the notebook computes it:
    /// `exp(−(1/N) Σ ln Pr(tᵢ | up to context_size tokens before))`, the first token with
    /// no context (pass `n` as the notebook does).
    ///
    /// # Errors
    /// [`LmError::Empty`] for no tokens (the notebook returns infinity).
    pub fn perplexity<S: AsRef<str>>(&self, tokens: &[S], context_size: usize) -> Result<f64> {
        let ids = self.ids_of(tokens);
        self.perplexity_ids(&ids, context_size)
    }

    /// [`CountLanguageModel::perplexity`] for ids (`None` = unknown word).
    ///
    /// # Errors
    /// [`LmError::Empty`] for no tokens.
    pub fn perplexity_ids(&self, ids: &[Option<u32>], context_size: usize) -> Result<f64> {
        if ids.is_empty() {
            return Err(LmError::Empty {
                op: "CountLanguageModel::perplexity",
                what: "the evaluation text",
            });
        }
        let mut log_likelihood = 0.0;
        self.for_each_probability_ids(ids, context_size, |_, p| log_likelihood += p.ln());
        Ok((-log_likelihood / ids.len() as f64).exp())
    }

    /// The table of order `k` (1 ≤ k ≤ n): every context of `k − 1` tokens that was
    /// followed by something, in first-seen order, with its followers and their counts —
    /// the notebook's `ngram_counts[k − 1]`.
    pub fn table(&self, k: usize) -> Vec<NgramRow> {
        if k == 0 || k > self.n {
            return Vec::new();
        }
        let (start, end) = if k == 1 {
            (0, 1)
        } else {
            (self.level_start[k - 1], self.level_start[k])
        };
        let mut rows = Vec::new();
        let mut index = vec![usize::MAX; (end - start) as usize];
        for c in start..end {
            if self.followers[c as usize] == 0 {
                continue;
            }
            index[(c - start) as usize] = rows.len();
            rows.push(NgramRow {
                context: self.words_of(c),
                next: Vec::new(),
            });
        }
        for node in self.level_start[k]..self.level_start[k + 1] {
            let p = self.parent[node as usize];
            let row = index[(p - start) as usize];
            let word = self.word_of(node);
            rows[row]
                .next
                .push((word, u64::from(self.count[node as usize])));
        }
        rows
    }

    fn word_of(&self, node: u32) -> String {
        self.vocab
            .word(self.token[node as usize])
            .unwrap_or_default()
            .to_string()
    }

    fn words_of(&self, mut node: u32) -> Vec<String> {
        let mut words = Vec::new();
        while node != ROOT && node != NONE {
            words.push(self.word_of(node));
            node = self.parent[node as usize];
        }
        words.reverse();
        words
    }
}

/// The notebook's held-out split: the first `⌊len · train_fraction⌋` items for training,
/// the rest for evaluation (`int(len(tokens) * 0.9)` in Python).
///
/// # Errors
/// [`LmError::InvalidConfig`] for a fraction outside `[0, 1]`.
pub fn split_train_test<T>(items: &[T], train_fraction: f64) -> Result<(&[T], &[T])> {
    if !(0.0..=1.0).contains(&train_fraction) {
        return Err(invalid(
            "split_train_test",
            "train_fraction",
            train_fraction,
            "must be within [0, 1]",
        ));
    }
    let at = ((items.len() as f64 * train_fraction) as usize).min(items.len());
    Ok(items.split_at(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn bad_input_is_an_error() {
        let none: [&str; 0] = [];
        assert!(matches!(
            CountLanguageModel::train(3, &none),
            Err(LmError::Empty { .. })
        ));
        assert!(matches!(
            CountLanguageModel::train(0, &["a"]),
            Err(LmError::InvalidConfig { name: "n", .. })
        ));
        let m = CountLanguageModel::train(2, &["a"]).unwrap();
        assert!(matches!(m.perplexity(&none, 2), Err(LmError::Empty { .. })));
        let bad = CountLanguageModel::train_ids(2, &[0, 3], Vocabulary::new());
        assert!(matches!(bad, Err(LmError::InvalidConfig { .. })));
    }

    #[test]
    fn one_token_corpus_has_defined_results() {
        let m = CountLanguageModel::train(3, &["hello"]).unwrap();
        assert_eq!(m.num_ngrams(1), 1);
        assert_eq!(m.num_ngrams(2), 0);
        assert_eq!(m.predict(&["hello", "hello"]), "hello");
        // (1 + 1) / (1 + 1) for the known word, 1 / 2 for an unknown one.
        assert_eq!(m.probability("hello", &["hello"]), 1.0);
        assert_eq!(m.probability("bye", &["hello"]), 0.5);
        let ppl = m.perplexity(&["bye", "hello"], 3).unwrap();
        assert!((ppl - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(m.generate(&["x"], 2), ["x", "hello", "hello"]);
    }

    #[test]
    fn ties_go_to_the_first_seen_follower() {
        let m = CountLanguageModel::train(2, &words("a c a b a b a c")).unwrap();
        // After "a": c, b, b, c — b and c both twice, c seen first.
        assert_eq!(m.predict(&["a"]), "c");
        // Unigram: a four times.
        assert_eq!(m.predict(&["zzz"]), "a");
    }

    #[test]
    fn streaming_probabilities_equal_one_by_one_lookups() {
        let train = words("the cat sat on the mat . the dog sat on the log . a cat ran");
        let test = words("the cat sat on a log . the bird sat on the mat");
        for n in 1..=5 {
            let m = CountLanguageModel::train(n, &train).unwrap();
            for context_size in [0, 1, n, n + 2] {
                let mut streamed = Vec::new();
                m.for_each_probability(&test, context_size, |_, p| streamed.push(p));
                for (i, p) in streamed.iter().enumerate() {
                    let ctx = &test[i.saturating_sub(context_size)..i];
                    assert_eq!(*p, m.probability(&test[i], ctx), "n={n} i={i}");
                }
            }
        }
    }

    #[test]
    fn a_large_table_grows_and_keeps_every_count() {
        // 20,000 pseudo-random tokens over 50 words: many distinct trigrams, several
        // rehashes of the child table.
        let mut x = 12345u64;
        let tokens: Vec<String> = (0..20_000)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                format!("w{}", (x >> 33) % 50)
            })
            .collect();
        let m = CountLanguageModel::train(3, &tokens).unwrap();
        let mut total = 0;
        for row in m.table(3) {
            total += row.next.iter().map(|(_, c)| c).sum::<u64>();
        }
        assert_eq!(total, 20_000 - 2);
        assert_eq!(m.num_ngrams(1), 50);
    }

    #[test]
    fn split_is_floor_of_the_fraction() {
        let v: Vec<usize> = (0..10).collect();
        let (a, b) = split_train_test(&v, 0.9).unwrap();
        assert_eq!((a.len(), b.len()), (9, 1));
        let (a, _) = split_train_test(&v[..7], 0.9).unwrap();
        assert_eq!(a.len(), 6);
        assert!(split_train_test(&v, 1.5).is_err());
    }
}
