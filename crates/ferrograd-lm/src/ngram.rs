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
//! **Memory.** Counts live in a trie over token ids: one record per distinct n-gram of
//! each order (16 bytes: how often it was followed, and its most frequent follower), and
//! per order one open-addressing hash table from `(context node, token)` to the n-gram's
//! node and count (16 bytes a slot, sized once for the worst case). A million-token corpus
//! with `n = 5` takes about 150 MB; the notebook's dictionaries of tuples take several
//! times more (see `docs/PERFORMANCE.md`). Counting visits each position once per order,
//! in order, prefetching the table slots a few positions ahead.
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

/// One slot of a level's child table: `[key, count << 32 | (node + 1)]` with the packed
/// `(parent, token)` key; all zeros is an empty slot, so a new table comes from zeroed
/// memory. 16 bytes: four slots share a cache line, and a look-up finds the count where it
/// finds the node.
type Slot = [u64; 2];

#[inline(always)]
fn slot_node(slot: &Slot) -> u32 {
    (slot[1] as u32).wrapping_sub(1)
}

#[inline(always)]
fn slot_count(slot: &Slot) -> u32 {
    (slot[1] >> 32) as u32
}

#[inline(always)]
fn slot_is_empty(slot: &Slot) -> bool {
    slot[1] as u32 == 0
}

#[inline(always)]
fn pack(parent: u32, token: u32) -> u64 {
    (u64::from(parent) << 32) | u64::from(token)
}

/// The children of one level: an open-addressing hash table (linear probing) from
/// `(parent, token)` to the child's node id and count. Sized once for the largest number
/// of distinct n-grams the level can have (one per position), at most two thirds full, so
/// it never grows.
#[derive(Debug, Clone, Default)]
struct Level {
    slots: Vec<Slot>,
}

impl Level {
    fn with_capacity(entries: usize) -> Self {
        // Zeroed memory from the system, not yet touched: advise before the first write.
        let slots = vec![[0u64; 2]; entries + entries / 2 + 8];
        advise_huge_pages(&slots);
        Self { slots }
    }

    #[inline(always)]
    fn home(&self, key: u64) -> usize {
        // Multiply-shift hash, then a multiply-high to map it onto the table's length.
        let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((u128::from(h) * self.slots.len() as u128) >> 64) as usize
    }

    #[inline(always)]
    fn prefetch(&self, parent: u32, token: u32) {
        prefetch(
            self.slots
                .as_ptr()
                .wrapping_add(self.home(pack(parent, token))),
        );
    }

    /// `(node, count)` of `(parent, token)`, if present.
    #[inline(always)]
    fn find(&self, parent: u32, token: u32) -> Option<(u32, u32)> {
        if self.slots.is_empty() {
            return None;
        }
        let key = pack(parent, token);
        let mut i = self.home(key);
        loop {
            let slot = &self.slots[i];
            if slot_is_empty(slot) {
                return None;
            }
            if slot[0] == key {
                return Some((slot_node(slot), slot_count(slot)));
            }
            i += 1;
            if i == self.slots.len() {
                i = 0;
            }
        }
    }

    /// Counts one more occurrence of `(parent, token)`, giving it node `next` if it is
    /// new; returns its node, its count now, and whether it was new. The caller
    /// guarantees room (see [`Level::with_capacity`]).
    #[inline(always)]
    fn count(&mut self, parent: u32, token: u32, next: u32) -> (u32, u32, bool) {
        let key = pack(parent, token);
        let mut i = self.home(key);
        loop {
            let slot = &mut self.slots[i];
            if slot_is_empty(slot) {
                *slot = [key, (1 << 32) | u64::from(next + 1)];
                return (next, 1, true);
            }
            if slot[0] == key {
                slot[1] += 1 << 32;
                return (slot_node(slot), slot_count(slot), false);
            }
            i += 1;
            if i == self.slots.len() {
                i = 0;
            }
        }
    }

    fn bytes(&self) -> usize {
        self.slots.len() * size_of::<Slot>()
    }
}

/// Asks the kernel to back `v`'s allocation (capacity included) with 2 MiB pages where it
/// can: the tables here are touched at random, so with 4 KiB pages a large one costs a
/// page fault per 4 KiB (a third of the counting time on a million tokens). Only advice:
/// nothing changes if the kernel declines. Call it before the memory is first touched.
fn advise_huge_pages<T>(v: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_ptr() as usize;
        let end = start + v.capacity() * size_of::<T>();
        let aligned = start.next_multiple_of(HUGE);
        if end >= aligned + HUGE {
            let len = (end - aligned) / HUGE * HUGE;
            // SAFETY: the range lies inside `v`'s own allocation, and MADV_HUGEPAGE only
            // changes how the kernel backs it, never its contents.
            unsafe {
                libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// Asks the CPU to start loading the cache line of `p` (a hint: it reads nothing).
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

/// Per-node numbers, read and written together while counting (16 bytes: four to a
/// cache line).
#[derive(Debug, Clone, Copy)]
struct NodeStats {
    /// How often the node's n-gram was followed by some token (the notebook's
    /// `sum(counts[context].values())`).
    followers: u32,
    /// The most frequent follower's node (the first seen, i.e. smallest id, on ties), or
    /// `NONE`.
    best: u32,
    /// Its count.
    best_count: u32,
    /// Its token.
    best_token: u32,
}

const NO_STATS: NodeStats = NodeStats {
    followers: 0,
    best: NONE,
    best_count: 0,
    best_token: NONE,
};

impl NodeStats {
    /// A follower `node` (token `token`) has just reached `count`: it becomes the most
    /// frequent one if its count is higher, or equal with a smaller (earlier-seen) id.
    /// Offered at each of its increments, every follower is offered at its final count, so
    /// the end result is the maximum with ties to the first seen.
    #[inline(always)]
    fn offer(&mut self, node: u32, token: u32, count: u32) {
        if self.best == NONE
            || count > self.best_count
            || (count == self.best_count && node < self.best)
        {
            self.best = node;
            self.best_count = count;
            self.best_token = token;
        }
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
    /// How often each training token occurs (the unigram counts), by id.
    unigram: Vec<u32>,
    /// One entry per trie node. Node 0 is the root (the empty context), node `1 + t` the
    /// unigram of token `t`, and nodes `level_start[k]..level_start[k + 1]` the distinct
    /// k-grams in first-seen order.
    stats: Vec<NodeStats>,
    level_start: Vec<u32>,
    /// `levels[k]` holds the k-grams (k ≥ 2) as children of the (k−1)-grams;
    /// `levels[0]` and `levels[1]` are empty (unigrams are found by id).
    levels: Vec<Level>,
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
    /// [`LmError::InvalidConfig`] for a corpus too large for 32-bit counts (2 billion
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
            return Err(invalid(
                OP,
                "n",
                0,
                "the order must be at least 1 (unigrams)",
            ));
        }
        if ids.is_empty() {
            return Err(LmError::Empty {
                op: OP,
                what: "the training corpus",
            });
        }
        let orders = n.min(ids.len());
        // Node ids must fit in u32 with room for NONE: at most one node per position and
        // order, plus the unigrams.
        let max_nodes = 1 + vocab.len() as u64 + ids.len() as u64 * (orders as u64 - 1);
        if ids.len() >= (u32::MAX / 2) as usize || max_nodes >= u64::from(u32::MAX) {
            return Err(invalid(
                OP,
                "corpus length × n",
                format!("{} × {n}", ids.len()),
                "node ids and counts are 32-bit: at most about 4 billion n-grams",
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
                format!(
                    "id at position {at} is past the vocabulary of {}",
                    vocab.len()
                ),
            ));
        }
        let v = vocab.len();
        let mut unigram = vec![0u32; v];
        for &t in ids {
            unigram[t as usize] += 1;
        }
        // Reserved, not touched: pages are only used as nodes are added.
        let mut stats = Vec::with_capacity(max_nodes as usize);
        advise_huge_pages(&stats);
        stats.push(NO_STATS);
        stats.extend(std::iter::repeat_n(NO_STATS, v));
        // Order 1: the unigram of id t is node 1 + t (ids are first-seen, so node order is
        // first-seen order too).
        for (t, &count) in unigram.iter().enumerate() {
            stats[ROOT as usize].offer(1 + t as u32, t as u32, count);
        }
        stats[ROOT as usize].followers = ids.len() as u32;
        let mut level_start = vec![0, 1, stats.len() as u32];
        let mut levels = vec![Level::default(), Level::default()];
        // `prefix[i]` is the node of the (k−1)-gram starting at i.
        let mut prefix: Vec<u32> = ids.iter().map(|&t| 1 + t).collect();
        for k in 2..=orders {
            let positions = ids.len() - k + 1;
            prefix.truncate(positions);
            let mut level = Level::with_capacity(positions);
            // Look-ups at different positions are independent: start loading the slots
            // and the parents' numbers a few positions ahead.
            const AHEAD: usize = 12;
            for i in 0..positions {
                if i + AHEAD < positions {
                    let p = prefix[i + AHEAD];
                    level.prefetch(p, ids[i + AHEAD + k - 1]);
                    prefetch(stats.as_ptr().wrapping_add(p as usize));
                }
                let parent = prefix[i];
                let token = ids[i + k - 1];
                let (node, count, new) = level.count(parent, token, stats.len() as u32);
                if new {
                    stats.push(NO_STATS);
                }
                let s = &mut stats[parent as usize];
                s.followers += 1;
                s.offer(node, token, count);
                prefix[i] = node;
            }
            levels.push(level);
            level_start.push(stats.len() as u32);
        }
        while level_start.len() < n + 2 {
            // Orders above the corpus length have no n-grams.
            level_start.push(stats.len() as u32);
            levels.push(Level::default());
        }
        stats.shrink_to_fit();
        Ok(Self {
            n,
            vocab,
            total: ids.len() as u64,
            unigram,
            stats,
            level_start,
            levels,
        })
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

    /// Bytes held by the counts (node records and the levels' hash tables), for memory
    /// reports.
    pub fn memory_bytes(&self) -> usize {
        self.stats.capacity() * size_of::<NodeStats>()
            + self.unigram.capacity() * 4
            + self.levels.iter().map(Level::bytes).sum::<usize>()
    }

    /// The child of `node` (an n-gram of order `k − 1`) by `token`: `(node, count)`.
    #[inline(always)]
    fn child(&self, k: usize, node: u32, token: u32) -> Option<(u32, u32)> {
        if k == 1 {
            Some((1 + token, self.unigram[token as usize]))
        } else {
            self.levels[k].find(node, token)
        }
    }

    /// The node of a context given as ids (`None` = an unknown word), or `NONE`.
    fn node_of(&self, context: &[Option<u32>]) -> u32 {
        let mut node = ROOT;
        for (k, &t) in (1..).zip(context) {
            match t.and_then(|t| self.child(k, node, t)) {
                Some((child, _)) => node = child,
                None => return NONE,
            }
        }
        node
    }

    fn ids_of<S: AsRef<str>>(&self, tokens: &[S]) -> Vec<Option<u32>> {
        tokens.iter().map(|t| self.vocab.id(t.as_ref())).collect()
    }

    /// The unigram fallback `(count(w) + 1) / (W + V)`.
    fn laplace_unigram(&self, token: Option<u32>) -> f64 {
        let c = token.map_or(0, |t| self.unigram[t as usize]);
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
                if c == NONE || self.stats[c as usize].followers == 0 {
                    continue;
                }
                if let Some((_, count)) = self.child(k, c, t) {
                    return f64::from(count) / f64::from(self.stats[c as usize].followers);
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
            if c != NONE && self.stats[c as usize].followers > 0 {
                return self.stats[c as usize].best_token;
            }
        }
        // The corpus is never empty, so the root has a most frequent child.
        self.stats[ROOT as usize].best_token
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
        // shorter than `len`); next[len] and count[len] the same ending at position i.
        let mut ctx = vec![NONE; n];
        ctx[0] = ROOT;
        let mut next = vec![NONE; n + 1];
        let mut count = vec![0u32; n + 1];
        for (i, &token) in ids.iter().enumerate() {
            next[0] = ROOT;
            for k in 1..=n {
                (next[k], count[k]) = match token {
                    Some(t) if ctx[k - 1] != NONE => {
                        self.child(k, ctx[k - 1], t).unwrap_or((NONE, 0))
                    }
                    _ => (NONE, 0),
                };
            }
            let available = i.min(context_size);
            let mut p = None;
            for k in (2..=n).rev() {
                if available < k - 1 {
                    continue;
                }
                let c = ctx[k - 1];
                if c == NONE || self.stats[c as usize].followers == 0 {
                    continue;
                }
                if next[k] != NONE {
                    p = Some(f64::from(count[k]) / f64::from(self.stats[c as usize].followers));
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

    /// `(parent, token, count)` of every node (index = node id), read back from the
    /// levels' tables; for printing tables, not for speed.
    fn node_records(&self) -> Vec<(u32, u32, u32)> {
        let mut records = vec![(NONE, NONE, 0); self.stats.len()];
        for (t, &count) in self.unigram.iter().enumerate() {
            records[1 + t] = (ROOT, t as u32, count);
        }
        for level in &self.levels {
            for slot in level.slots.iter().filter(|s| !slot_is_empty(s)) {
                records[slot_node(slot) as usize] =
                    ((slot[0] >> 32) as u32, slot[0] as u32, slot_count(slot));
            }
        }
        records
    }

    /// The table of order `k` (1 ≤ k ≤ n): every context of `k − 1` tokens that was
    /// followed by something, in first-seen order, with its followers and their counts —
    /// the notebook's `ngram_counts[k − 1]`.
    pub fn table(&self, k: usize) -> Vec<NgramRow> {
        if k == 0 || k > self.n {
            return Vec::new();
        }
        let records = self.node_records();
        let word = |t: u32| self.vocab.word(t).unwrap_or_default().to_string();
        let words_of = |mut node: u32| {
            let mut words = Vec::new();
            while node != ROOT && node != NONE {
                let (parent, token, _) = records[node as usize];
                words.push(word(token));
                node = parent;
            }
            words.reverse();
            words
        };
        let (start, end) = if k == 1 {
            (0, 1)
        } else {
            (self.level_start[k - 1], self.level_start[k])
        };
        let mut rows = Vec::new();
        let mut index = vec![usize::MAX; (end - start) as usize];
        for c in start..end {
            if self.stats[c as usize].followers == 0 {
                continue;
            }
            index[(c - start) as usize] = rows.len();
            rows.push(NgramRow {
                context: words_of(c),
                next: Vec::new(),
            });
        }
        for node in self.level_start[k]..self.level_start[k + 1] {
            let (parent, token, count) = records[node as usize];
            let row = index[(parent - start) as usize];
            rows[row].next.push((word(token), u64::from(count)));
        }
        rows
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
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
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
