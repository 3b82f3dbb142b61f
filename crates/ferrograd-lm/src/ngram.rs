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
//! **Memory.** Counts live in a trie over token ids stored as sorted arrays, one level per
//! order: the distinct k-grams in lexicographic order of their token ids, each with its
//! last token and its count, and for orders below `n` where its children (the (k+1)-grams
//! it starts) begin in the next level and its most frequent follower — 16 bytes per
//! stored n-gram below the top order, 8 at the top, plus the training ids (4 bytes a
//! token). An n-gram of order 2 or more seen only once stores no children: it occurred at
//! one place, so its extensions are read off the training ids (its follower slot keeps
//! where it starts). In real text most long n-grams are seen once (of the 782,173 5-grams
//! of the 885,632-token Wikipedia text in `docs/PERFORMANCE.md`, 744,880), so only about 1
//! million of its 2.5 million n-grams of orders 2–5 are stored, in 21 MiB with the ids
//! (39 MiB when every n-gram was stored). The large arrays are made of whole, aligned 2 MiB
//! pages (huge pages where the kernel always uses them; see `PageVec` for
//! why they are not advised). A look-up is a binary search among the children
//! of the context.
//!
//! **Counting** sorts instead of hashing: the positions of the corpus are put in order of
//! their first token (a counting sort), then, one order at a time, each group of positions
//! that share a (k−1)-gram is sorted by the token that follows it; equal neighbours are one
//! k-gram, and the groups of the next order (only the positions of k-grams seen more than
//! once go on: the others store no children). Every step reads the corpus and writes the
//! levels in order, so the work is a few passes over a few megabytes rather than one cache
//! miss per position and order. Groups under different first tokens are independent, so
//! [`CountLanguageModel::train_with_threads`] splits them between threads.
//!
//! **Perplexity** walks the text once, keeping the nodes of the contexts that end at each
//! position; as a context is at most `n − 1` tokens, a walk started `n − 1` tokens early
//! reaches any position in the same state, so
//! [`CountLanguageModel::perplexity_ids_with_threads`] gives each thread a chunk and sums
//! the log-probabilities afterwards in text order: the same number, bit for bit.
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

mod pages;

use crate::error::{LmError, Result, invalid};
use crate::text::Vocabulary;
use ferrograd_linalg::cpu::partition;
use pages::PageVec;
use std::collections::{HashMap, HashSet};

/// "No node" / "no token".
const NONE: u32 = u32::MAX;

/// Marks a node that is not stored: an n-gram of an n-gram seen once (see
/// [`CountLanguageModel::child`]); the other 31 bits are where it starts in the corpus.
const UNSTORED: u32 = 1 << 31;

/// Fewest positions a perplexity thread takes: below this, the pool's hand-off costs more
/// than the look-ups it shares.
const PERPLEXITY_MIN_CHUNK: usize = 4096;

/// The distinct k-grams of one order k, in lexicographic order of their token ids (so the
/// children of each (k−1)-gram are one contiguous, token-sorted range).
#[derive(Debug, Clone, Default)]
struct Level {
    /// The last token of each k-gram. Empty for orders 0 and 1, where node `t` is token `t`.
    tokens: PageVec,
    /// How often each k-gram occurs (order 0: one node, the empty context, counted `W`
    /// times).
    counts: PageVec,
    /// Node `j`'s children are nodes `children[j]..children[j + 1]` of the next order
    /// (`nodes + 1` entries); empty at the top order.
    children: PageVec,
    /// Node `j`'s most frequent follower (the first seen on ties), `NONE` if it was never
    /// followed; empty at the top order.
    best: PageVec,
    /// The k-gram that ends the corpus (its last occurrence has no follower), or `NONE`.
    last: u32,
}

impl Level {
    fn len(&self) -> usize {
        self.counts.len()
    }

    fn bytes(&self) -> usize {
        self.tokens.bytes() + self.counts.bytes() + self.children.bytes() + self.best.bytes()
    }
}

/// The levels one thread builds: orders 2 to `n` under a range of first tokens.
#[derive(Debug, Default)]
struct Part {
    /// `[k - 2]`: the part's k-grams, `(tokens, counts)`.
    nodes: Vec<(PageVec, PageVec)>,
    /// `[k - 1]`, for k in 1..n: where each of the part's k-grams' children begin (relative
    /// to the part's first (k+1)-gram) and its most frequent follower.
    up: Vec<(PageVec, PageVec)>,
}

impl Part {
    /// For each order k from 2: the k-grams `(tokens, counts)` and their parents'
    /// `(children, best)`.
    #[allow(clippy::type_complexity)]
    fn nodes_and_up(self) -> impl Iterator<Item = ((PageVec, PageVec), (PageVec, PageVec))> {
        self.nodes.into_iter().zip(self.up)
    }
}

/// Appends the later parts' arrays to the first part's (which have room for them), in
/// part order: the nodes of every order, their parents' most frequent followers, and
/// where their children start, moved past the nodes before them. One array per task on
/// the worker pool: on the threads that counted the parts, the copying is shared too.
fn append_parts(first: &mut Part, rest: &[Part]) {
    /// Appends `sources` to `dst`, each value plus its offset.
    type Job<'a> = (&'a mut PageVec, Vec<(&'a PageVec, u32)>);
    let mut jobs: Vec<Job<'_>> = Vec::new();
    // Where each later part's k-grams start among all parts' (children of a parent are
    // k-gram indices, so they move by that much).
    let mut bases: Vec<u32> = first.nodes.iter().map(|(t, _)| t.len() as u32).collect();
    let mut shifted: Vec<Vec<u32>> = Vec::with_capacity(rest.len());
    for part in rest {
        shifted.push(bases.clone());
        for (base, (t, _)) in bases.iter_mut().zip(&part.nodes) {
            *base += t.len() as u32;
        }
    }
    let (nodes, up) = (&mut first.nodes, &mut first.up);
    for (k2, ((tokens, counts), (children, best))) in
        nodes.iter_mut().zip(up.iter_mut()).enumerate()
    {
        jobs.push((tokens, rest.iter().map(|p| (&p.nodes[k2].0, 0)).collect()));
        jobs.push((counts, rest.iter().map(|p| (&p.nodes[k2].1, 0)).collect()));
        jobs.push((best, rest.iter().map(|p| (&p.up[k2].1, 0)).collect()));
        jobs.push((
            children,
            rest.iter()
                .zip(&shifted)
                .map(|(p, base)| (&p.up[k2].0, base[k2]))
                .collect(),
        ));
    }
    // The largest arrays first, so that the tasks end together.
    jobs.sort_by_key(|(_, sources)| {
        std::cmp::Reverse(sources.iter().map(|(s, _)| s.len()).sum::<usize>())
    });
    partition::items(jobs, |(dst, sources)| {
        for (src, offset) in sources {
            if offset == 0 {
                dst.extend_from_slice(src);
            } else {
                for &x in src.iter() {
                    dst.push(x + offset);
                }
            }
        }
    });
}

/// Sorts `keys` (each `token << 32 | position`, positions ascending on entry) by token,
/// positions staying ascending among equal tokens; tokens are below `2^token_bits`.
/// Insertion sort for a few keys, a comparison sort for some, and for many a least
/// significant digit radix sort on the token (stable: the positions stay in order).
#[inline]
fn sort_keys(keys: &mut Vec<u64>, scratch: &mut Vec<u64>, token_bits: u32) {
    const DIGIT: u32 = 11;
    let m = keys.len();
    if m <= 16 {
        for i in 1..m {
            let key = keys[i];
            let mut j = i;
            while j > 0 && keys[j - 1] > key {
                keys[j] = keys[j - 1];
                j -= 1;
            }
            keys[j] = key;
        }
    } else if m < 1024 {
        // All keys differ (the positions do), so an unstable sort is exact.
        keys.sort_unstable();
    } else {
        scratch.clear();
        scratch.resize(m, 0);
        let mut shift = 32;
        while shift < 32 + token_bits {
            let mut starts = [0u32; 1 << DIGIT];
            for &key in keys.iter() {
                starts[((key >> shift) as usize) & ((1 << DIGIT) - 1)] += 1;
            }
            let mut at = 0;
            for s in starts.iter_mut() {
                (*s, at) = (at, at + *s);
            }
            for &key in keys.iter() {
                let s = &mut starts[((key >> shift) as usize) & ((1 << DIGIT) - 1)];
                scratch[*s as usize] = key;
                *s += 1;
            }
            std::mem::swap(keys, scratch);
            shift += DIGIT;
        }
    }
}

/// Counts orders 2..=`n` of the corpus `ids` for the first tokens whose unigram counts are
/// `first` (in token order), whose positions are `perm` (sorted by first token, ascending
/// within each — and by the second token before that when `bigrams_sorted`). `perm` is
/// reused as scratch, and `next` (as long as `perm`) is scratch.
///
/// `room` more n-grams and parents fit in every array of the part (the first of several
/// parts gets room for the others', which are then appended instead of copying them all:
/// room that is never written costs address space only).
#[allow(clippy::too_many_arguments)]
fn build_part(
    ids: &[u32],
    n: usize,
    first: &[u32],
    perm: &mut [u32],
    next: &mut [u32],
    token_bits: u32,
    room: usize,
    bigrams_sorted: bool,
) -> Part {
    let mut part = Part::default();
    let mut active = perm.len();
    let (mut keys, mut scratch) = (Vec::new(), Vec::new());
    // The start positions of the previous order's n-grams seen once, in node order: their
    // children are not stored (see `CountLanguageModel::child`), and their `best` slot
    // holds that position instead of a token.
    let mut singles: Vec<u32> = Vec::new();
    // `next[i]`: the token after the (k−1)-gram at `perm[i]`, or NONE at the corpus' end.
    for k in 2..=n {
        let parents: &[u32] = if k == 2 { first } else { &part.nodes[k - 3].1 };
        // Each k-gram is at least one position: `active` bounds their number. Reserved,
        // not touched (pages are faulted in as they are written).
        let mut tokens = PageVec::with_capacity(active + room);
        let mut counts = PageVec::with_capacity(active + room);
        let mut children = PageVec::with_capacity(parents.len() + 1 + room);
        let mut best = PageVec::with_capacity(parents.len() + room);
        // The token that follows a (k−1)-gram starting at `pos` is `ids[pos + k - 1]`.
        // Gathered in one pass: the loads are independent, so they overlap, and each is
        // prefetched a few dozen positions ahead (they land anywhere in the corpus).
        let follow = k - 1;
        const AHEAD: usize = 32;
        for (i, (t, &pos)) in next[..active].iter_mut().zip(&perm[..active]).enumerate() {
            if let Some(&ahead) = perm.get(i + AHEAD) {
                prefetch(ids.as_ptr().wrapping_add(ahead as usize + follow));
            }
            *t = ids.get(pos as usize + follow).copied().unwrap_or(NONE);
        }
        let (mut read, mut write) = (0usize, 0usize);
        // At most one per position; reserved, not touched.
        let mut new_singles = Vec::with_capacity(if k < n { active } else { 0 });
        let mut single = singles.iter();
        for &count in parents {
            children.push(tokens.len() as u32);
            if k >= 3 && count == 1 {
                // A (k−1)-gram seen once: its positions were not passed on, it has no
                // stored children, and `best` keeps where it starts.
                best.push(*single.next().expect("one position per single"));
                continue;
            }
            let run = read..read + count as usize;
            read = run.end;
            if run.len() == 1 {
                // Only a unigram seen once (larger orders were handled above).
                let t = next[run.start];
                if t != NONE {
                    tokens.push(t);
                    counts.push(1);
                    if k < n {
                        new_singles.push(perm[run.start]);
                    }
                }
                best.push(t);
                continue;
            }
            let (mut best_token, mut best_count, mut best_first) = (NONE, 0u32, u32::MAX);
            let mut group = |t: u32, c: u32, first: u32| {
                tokens.push(t);
                counts.push(c);
                if c == 1 && k < n {
                    new_singles.push(first);
                }
                if c > best_count || (c == best_count && first < best_first) {
                    (best_token, best_count, best_first) = (t, c, first);
                }
            };
            if k == 2 && bigrams_sorted {
                // Already in order of the next token: count runs of equal tokens; the
                // first of each is its first occurrence.
                let (mut t0, mut c0, mut first0) = (NONE, 0u32, 0u32);
                for i in run {
                    let t = next[i];
                    if t == NONE {
                        continue;
                    }
                    let pos = perm[i];
                    if t != t0 {
                        if c0 > 0 {
                            group(t0, c0, first0);
                            // A bigram seen once is not passed on to the next order.
                            write -= usize::from(c0 == 1);
                        }
                        (t0, c0, first0) = (t, 0, pos);
                    }
                    c0 += 1;
                    perm[write] = pos;
                    write += 1;
                }
                if c0 > 0 {
                    group(t0, c0, first0);
                    write -= usize::from(c0 == 1);
                }
            } else {
                keys.clear();
                for i in run {
                    if next[i] != NONE {
                        keys.push((u64::from(next[i]) << 32) | u64::from(perm[i]));
                    }
                }
                sort_keys(&mut keys, &mut scratch, token_bits);
                // Equal tokens are one k-gram; the first key of each is its first
                // occurrence.
                let mut i = 0;
                while i < keys.len() {
                    let t = (keys[i] >> 32) as u32;
                    let first_pos = keys[i] as u32;
                    let start = i;
                    while i < keys.len() && (keys[i] >> 32) as u32 == t {
                        i += 1;
                    }
                    // Only k-grams seen more than once are passed on to the next order.
                    if i - start > 1 {
                        for key in &keys[start..i] {
                            perm[write] = *key as u32;
                            write += 1;
                        }
                    }
                    group(t, (i - start) as u32, first_pos);
                }
            }
            best.push(best_token);
        }
        debug_assert_eq!(read, active);
        debug_assert!(single.next().is_none());
        active = write;
        singles = new_singles;
        part.nodes.push((tokens, counts));
        part.up.push((children, best));
    }
    part
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
    /// The training tokens, as ids (read back only by [`CountLanguageModel::table`]).
    corpus: Vec<u32>,
    /// `levels[k]`: the distinct k-grams, k = 0 (the empty context) to `n`.
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
    /// Counts the n-grams of order 1 to `n` in `tokens`, on one thread.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for `n = 0`, [`LmError::Empty`] for no tokens, and
    /// [`LmError::InvalidConfig`] for a corpus too large for 32-bit counts (2 billion
    /// tokens).
    pub fn train<S: AsRef<str>>(n: usize, tokens: &[S]) -> Result<Self> {
        Self::train_with_threads(n, tokens, 1)
    }

    /// [`CountLanguageModel::train`] on up to `threads` threads (the n-grams under
    /// different first tokens are counted independently). The model is the same for any
    /// number of threads.
    ///
    /// # Errors
    /// As [`CountLanguageModel::train`], and [`LmError::InvalidConfig`] for 0 threads.
    pub fn train_with_threads<S: AsRef<str>>(
        n: usize,
        tokens: &[S],
        threads: usize,
    ) -> Result<Self> {
        let mut vocab = Vocabulary::new();
        let ids: Vec<u32> = tokens.iter().map(|t| vocab.insert(t.as_ref())).collect();
        Self::train_ids_with_threads(n, &ids, vocab, threads)
    }

    /// Counts the n-grams of order 1 to `n` in `ids`, whose words are `vocab`'s (ids must
    /// be dense, `0..vocab.len()`, and first seen in id order for the notebook's tie rule
    /// to hold — as [`Vocabulary::insert`] assigns them), on one thread.
    ///
    /// # Errors
    /// As [`CountLanguageModel::train`], and [`LmError::InvalidConfig`] for an id past
    /// the vocabulary.
    pub fn train_ids(n: usize, ids: &[u32], vocab: Vocabulary) -> Result<Self> {
        Self::train_ids_with_threads(n, ids, vocab, 1)
    }

    /// [`CountLanguageModel::train_ids`] on up to `threads` threads.
    ///
    /// # Errors
    /// As [`CountLanguageModel::train_ids`], and [`LmError::InvalidConfig`] for 0 threads.
    pub fn train_ids_with_threads(
        n: usize,
        ids: &[u32],
        vocab: Vocabulary,
        threads: usize,
    ) -> Result<Self> {
        Self::train_owned_ids(n, ids.to_vec(), vocab, threads)
    }

    /// [`CountLanguageModel::train_ids_with_threads`] taking the ids by value: the model
    /// keeps them (for [`CountLanguageModel::table`]) instead of a copy, which saves a copy
    /// of the corpus in time and memory.
    ///
    /// ```
    /// use ferrograd_lm::CountLanguageModel;
    /// use ferrograd_lm::text::{Vocabulary, count_lm_token_ids};
    ///
    /// let mut vocab = Vocabulary::new();
    /// let ids = count_lm_token_ids("the cat sat. the cat ran.", &mut vocab);
    /// let model = CountLanguageModel::train_owned_ids(3, ids, vocab, 1)?;
    /// assert_eq!(model.predict(&["the"]), "cat");
    /// # Ok::<(), ferrograd_lm::LmError>(())
    /// ```
    ///
    /// # Errors
    /// As [`CountLanguageModel::train_ids_with_threads`].
    pub fn train_owned_ids(
        n: usize,
        corpus: Vec<u32>,
        vocab: Vocabulary,
        threads: usize,
    ) -> Result<Self> {
        let ids = &corpus[..];
        const OP: &str = "CountLanguageModel::train";
        if n == 0 {
            return Err(invalid(
                OP,
                "n",
                0,
                "the order must be at least 1 (unigrams)",
            ));
        }
        if threads == 0 {
            return Err(invalid(OP, "threads", 0, "at least one thread is needed"));
        }
        if ids.is_empty() {
            return Err(LmError::Empty {
                op: OP,
                what: "the training corpus",
            });
        }
        // Positions, counts and node ids are 32-bit, with u32::MAX kept for NONE.
        if ids.len() >= (u32::MAX / 2) as usize {
            return Err(invalid(
                OP,
                "corpus length",
                ids.len(),
                "positions and counts are 32-bit: at most about 2 billion tokens",
            ));
        }
        let v = vocab.len();
        // One vectorised pass finds whether any id is too large; only then, where.
        let bad = ids.iter().copied().max().is_some_and(|m| m as usize >= v);
        if let Some((at, &bad)) = bad
            .then(|| ids.iter().enumerate().find(|&(_, &id)| id as usize >= v))
            .flatten()
        {
            return Err(invalid(
                OP,
                "token id",
                bad,
                format!("id at position {at} is past the vocabulary of {v}"),
            ));
        }
        let len = ids.len();
        let mut unigram = vec![0u32; v];
        for &t in ids {
            unigram[t as usize] += 1;
        }
        // The empty context: followed W times; its most frequent follower is the most
        // frequent token, the smallest id (first seen) on ties.
        let mut root_best = 0u32;
        for (t, &c) in unigram.iter().enumerate() {
            if c > unigram[root_best as usize] {
                root_best = t as u32;
            }
        }
        let mut levels = vec![Level {
            tokens: PageVec::default(),
            counts: PageVec::from_slice(&[len as u32]),
            children: PageVec::from_slice(&[0, v as u32]),
            best: PageVec::from_slice(&[root_best]),
            last: NONE,
        }];
        // Split the first tokens into `threads` ranges of about equal numbers of positions.
        let threads = threads.min(v).max(1);
        let mut bounds = vec![0usize];
        let mut seen = 0usize;
        for (t, &c) in unigram.iter().enumerate() {
            seen += c as usize;
            if bounds.len() < threads && seen * threads >= bounds.len() * len {
                bounds.push(t + 1);
            }
        }
        bounds.truncate(threads);
        bounds.push(v);
        // Positions in order of their first token, ascending among equals: a stable
        // counting sort. On one thread, a first stable counting sort by the second token
        // puts each group in order of its second tokens as well (two scatters over the
        // corpus); on several, each thread sorts its own groups by the second token while
        // it counts bigrams (measured: 3 ms less on two threads for the million-token
        // text, 2 ms more on one, where the two global scatters are cheaper).
        let bigrams_sorted = bounds.len() == 2;
        let mut perm = PageVec::zeros(len);
        // Positions by their own token; afterwards the counting's scratch.
        let mut by_next = PageVec::zeros(len);
        {
            let mut starts = Vec::with_capacity(v);
            let mut at = 0u32;
            for &c in &unigram {
                starts.push(at);
                at += c;
            }
            let mut next = starts.clone();
            let by_own = if bigrams_sorted {
                &mut by_next
            } else {
                &mut perm
            };
            for (pos, &t) in ids.iter().enumerate() {
                let slot = &mut next[t as usize];
                by_own[*slot as usize] = pos as u32;
                *slot += 1;
            }
            if bigrams_sorted {
                let mut next = starts;
                let mut place = |pos: u32| {
                    let slot = &mut next[ids[pos as usize] as usize];
                    perm[*slot as usize] = pos;
                    *slot += 1;
                };
                place(len as u32 - 1);
                // Each position's token is a read anywhere in the corpus: prefetched ahead.
                const AHEAD: usize = 16;
                for (i, &pos) in by_next.iter().enumerate() {
                    if let Some(&ahead) = by_next.get(i + AHEAD) {
                        prefetch(ids.as_ptr().wrapping_add((ahead as usize).wrapping_sub(1)));
                    }
                    if pos > 0 {
                        place(pos - 1);
                    }
                }
            }
        }
        let token_bits = u32::BITS - (v as u32).leading_zeros();
        let parts: Vec<Part> = if bounds.len() == 2 {
            vec![build_part(
                ids,
                n,
                &unigram,
                &mut perm,
                &mut by_next,
                token_bits,
                0,
                bigrams_sorted,
            )]
        } else {
            std::thread::scope(|scope| {
                let mut rest: &mut [u32] = &mut perm;
                let mut rest_next: &mut [u32] = &mut by_next;
                let mut handles = Vec::new();
                for w in bounds.windows(2) {
                    // Every n-gram is at least a position and every parent a node or a
                    // token, so `len + v` bounds what the other parts add.
                    let room = if w[0] == 0 { len + v } else { 0 };
                    let first = &unigram[w[0]..w[1]];
                    let size: usize = first.iter().map(|&c| c as usize).sum();
                    let (mine, tail) = rest.split_at_mut(size);
                    rest = tail;
                    let (my_next, tail) = rest_next.split_at_mut(size);
                    rest_next = tail;
                    handles.push(scope.spawn(move || {
                        build_part(
                            ids,
                            n,
                            first,
                            mine,
                            my_next,
                            token_bits,
                            room,
                            bigrams_sorted,
                        )
                    }));
                }
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a counting thread panicked"))
                    .collect()
            })
        };
        drop((perm, by_next));
        levels.push(Level {
            tokens: PageVec::default(),
            counts: PageVec::from_slice(&unigram),
            last: NONE,
            ..Level::default()
        });
        let mut parts = parts;
        if let Some((first, rest)) = parts.split_first_mut().filter(|(_, rest)| !rest.is_empty()) {
            append_parts(first, rest);
        }
        for (k, part) in (2..=n).zip(parts.swap_remove(0).nodes_and_up()) {
            let ((tokens, counts), (mut children, best)) = part;
            children.push(tokens.len() as u32);
            let below = &mut levels[k - 1];
            below.children = children;
            below.best = best;
            levels.push(Level {
                tokens,
                counts,
                last: NONE,
                ..Level::default()
            });
        }
        let mut model = Self {
            n,
            vocab,
            corpus,
            levels,
        };
        for k in 1..=n.min(len) {
            let last = model.node_of_known(&model.corpus[len - k..]);
            model.levels[k].last = last;
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
        self.corpus.len() as u64
    }

    /// The number of distinct n-grams of order `k` (0 for `k = 0` or `k > n`).
    pub fn num_ngrams(&self, k: usize) -> usize {
        match k {
            0 => 0,
            1 => self.levels[1].counts.iter().filter(|&&c| c > 0).count(),
            _ if k > self.n => 0,
            _ => {
                // The stored k-grams, and one unstored k-gram for each n-gram of order
                // 2..k seen once that has k tokens from its start (see `child`).
                let len = self.corpus.len();
                let unstored: usize = (2..k)
                    .map(|m| {
                        let level = &self.levels[m];
                        level
                            .counts
                            .iter()
                            .zip(level.best.iter())
                            .filter(|&(&c, &start)| c == 1 && start as usize + k <= len)
                            .count()
                    })
                    .sum();
                self.levels[k].len() + unstored
            }
        }
    }

    /// Bytes held by the counts (the levels' arrays and the training ids), for memory
    /// reports.
    pub fn memory_bytes(&self) -> usize {
        self.levels.iter().map(Level::bytes).sum::<usize>() + self.corpus.capacity() * 4
    }

    /// The child of `node` (an n-gram of order `k − 1`) by `token`: its node at order `k`.
    ///
    /// An n-gram of order 2 or more seen once has one occurrence, so each of its
    /// extensions is read off the corpus: it stores no children, its `best` slot holds its
    /// start position, and its extensions are the unstored nodes `UNSTORED | start` (the
    /// same id at every order, since an extension starts where the n-gram does). Most
    /// long n-grams of a real text are seen once, so this keeps a fraction of them.
    #[inline(always)]
    fn child(&self, k: usize, node: u32, token: u32) -> Option<u32> {
        if k == 1 {
            // An id past the model's vocabulary (from a larger shared one, say) is a word
            // the model never saw.
            return ((token as usize) < self.levels[1].counts.len()).then_some(token);
        }
        match self.seen_once_start(k - 1, node) {
            Some(start) => (self.corpus.get(start as usize + k - 1) == Some(&token))
                .then_some(UNSTORED | start),
            None => {
                let below = &self.levels[k - 1].children;
                let (start, end) = (below[node as usize], below[node as usize + 1]);
                let tokens = &self.levels[k].tokens[start as usize..end as usize];
                tokens.binary_search(&token).ok().map(|i| start + i as u32)
            }
        }
    }

    /// Where the n-gram `node` of order `k` starts in the corpus if it was seen once (an
    /// unstored node, or a stored one of order 2 or more with count 1, whose `best` slot
    /// keeps the position): its extensions are read off the corpus from there. `None` for
    /// a node whose children are stored.
    #[inline(always)]
    fn seen_once_start(&self, k: usize, node: u32) -> Option<u32> {
        if node & UNSTORED != 0 {
            Some(node & !UNSTORED)
        } else if k >= 2 && self.levels[k].counts[node as usize] == 1 {
            Some(self.levels[k].best[node as usize])
        } else {
            None
        }
    }

    /// How often the n-gram `node` of order `k` occurs.
    #[inline(always)]
    fn count(&self, k: usize, node: u32) -> u32 {
        if node & UNSTORED != 0 {
            1
        } else {
            self.levels[k].counts[node as usize]
        }
    }

    /// How often the context `node` of order `k` was followed by some token (the
    /// notebook's `sum(counts[context].values())`).
    #[inline(always)]
    fn followers(&self, k: usize, node: u32) -> u32 {
        self.count(k, node) - u32::from(node == self.levels[k].last)
    }

    /// The most frequent follower of the context `node` of order `k` (which has one).
    fn best(&self, k: usize, node: u32) -> u32 {
        match self.seen_once_start(k, node) {
            Some(start) => self.corpus.get(start as usize + k).copied().unwrap_or(NONE),
            None => self.levels[k].best[node as usize],
        }
    }

    /// The node of a context of known ids, or `NONE`.
    fn node_of_known(&self, context: &[u32]) -> u32 {
        let mut node = 0;
        for (k, &t) in (1..).zip(context) {
            match self.child(k, node, t) {
                Some(child) => node = child,
                None => return NONE,
            }
        }
        node
    }

    /// The node of a context given as ids (`None` = an unknown word), or `NONE`.
    fn node_of(&self, context: &[Option<u32>]) -> u32 {
        let mut node = 0;
        for (k, &t) in (1..).zip(context) {
            match t.and_then(|t| self.child(k, node, t)) {
                Some(child) => node = child,
                None => return NONE,
            }
        }
        node
    }

    fn ids_of<S: AsRef<str>>(&self, tokens: &[S]) -> Vec<Option<u32>> {
        tokens.iter().map(|t| self.vocab.id(t.as_ref())).collect()
    }

    /// The unigram fallback `(count(w) + 1) / (W + V)`.
    #[inline]
    fn laplace_unigram(&self, token: Option<u32>) -> f64 {
        let c = token.map_or(0, |t| {
            self.levels[1].counts.get(t as usize).copied().unwrap_or(0)
        });
        (f64::from(c) + 1.0) / (self.corpus.len() as f64 + self.vocab.len() as f64)
    }

    /// `Pr(token | context)` by the notebook's backoff rule, for ids (`None`, or an id
    /// past the model's vocabulary, is a word the model never saw).
    pub fn probability_ids(&self, token: Option<u32>, context: &[Option<u32>]) -> f64 {
        if let Some(t) = token {
            for k in (2..=self.n).rev() {
                if context.len() < k - 1 {
                    continue;
                }
                let c = self.node_of(&context[context.len() - (k - 1)..]);
                if c == NONE {
                    continue;
                }
                let followers = self.followers(k - 1, c);
                if followers == 0 {
                    continue;
                }
                if let Some(child) = self.child(k, c, t) {
                    return f64::from(self.count(k, child)) / f64::from(followers);
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
            if c != NONE && self.followers(k - 1, c) > 0 {
                return self.best(k - 1, c);
            }
        }
        // The corpus is never empty, so the empty context has a most frequent follower.
        self.levels[0].best[0]
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
    /// Calls `f(i, probability)` for each token; runs in one pass with at most `n`
    /// look-ups per token.
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
        f: impl FnMut(usize, f64),
    ) {
        self.probabilities_from(ids, 0, context_size, f);
    }

    /// [`CountLanguageModel::for_each_probability_ids`] for the positions `start..` of
    /// `ids` only: the walk begins `n − 1` positions earlier (or at 0), which rebuilds the
    /// exact context state the walk from position 0 has at `start` (a context is at most
    /// `n − 1` tokens), and calls `f` from `start` on.
    fn probabilities_from(
        &self,
        ids: &[Option<u32>],
        start: usize,
        context_size: usize,
        mut f: impl FnMut(usize, f64),
    ) {
        let n = self.n;
        let first = start.saturating_sub(n - 1);
        // ctx[len] = node of the last `len` tokens before position i (NONE if unseen or
        // shorter than `len`); next[len] the same ending at position i.
        let mut ctx = vec![NONE; n];
        ctx[0] = 0;
        let mut next = vec![NONE; n + 1];
        next[0] = 0;
        for (i, &token) in ids.iter().enumerate().skip(first) {
            // Every context's children range and count is read below, but one order after
            // the other, behind the previous order's search: ask for them all now, so the
            // memory reads overlap.
            for (k, &c) in ctx.iter().enumerate().skip(1) {
                if c == NONE {
                } else if c & UNSTORED == 0 {
                    prefetch(self.levels[k].children.as_ptr().wrapping_add(c as usize));
                    prefetch(self.levels[k].counts.as_ptr().wrapping_add(c as usize));
                } else {
                    prefetch(
                        self.corpus
                            .as_ptr()
                            .wrapping_add((c & !UNSTORED) as usize + k),
                    );
                }
            }
            // The k-gram ending at i extends the (k−1)-gram before it; once one is unseen,
            // every longer one is too.
            let mut seen = 0;
            if let Some(t) = token {
                for k in 1..=n {
                    let parent = ctx[k - 1];
                    if parent == NONE {
                        break;
                    }
                    match self.child(k, parent, t) {
                        Some(node) => {
                            next[k] = node;
                            seen = k;
                        }
                        None => break,
                    }
                }
            }
            next[seen + 1..].fill(NONE);
            let available = i.min(context_size);
            let mut p = None;
            for k in (2..=n).rev() {
                if available < k - 1 {
                    continue;
                }
                let c = ctx[k - 1];
                if c == NONE {
                    continue;
                }
                let followers = self.followers(k - 1, c);
                if followers == 0 {
                    continue;
                }
                if next[k] != NONE {
                    let count = self.count(k, next[k]);
                    p = Some(f64::from(count) / f64::from(followers));
                    break;
                }
            }
            if i >= start {
                f(i, p.unwrap_or_else(|| self.laplace_unigram(token)));
            }
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

    /// [`CountLanguageModel::perplexity`] for ids (`None`, or an id past the model's
    /// vocabulary, is an unknown word).
    ///
    /// # Errors
    /// [`LmError::Empty`] for no tokens.
    pub fn perplexity_ids(&self, ids: &[Option<u32>], context_size: usize) -> Result<f64> {
        self.perplexity_ids_with_threads(ids, context_size, 1)
    }

    /// [`CountLanguageModel::perplexity_ids`] on up to `threads` threads of the worker pool
    /// ([`ferrograd_linalg::cpu`], itself limited by its thread setting), with the same
    /// result bit for bit: each thread writes the log-probabilities of one chunk of
    /// positions (starting its walk `n − 1` tokens early to rebuild the context), and they
    /// are summed afterwards in the original order, as one thread sums them.
    ///
    /// ```
    /// use ferrograd_lm::CountLanguageModel;
    /// use ferrograd_lm::text::count_lm_tokens;
    ///
    /// let tokens = count_lm_tokens("the cat sat. the cat ran. a dog sat. the dog ran.");
    /// let model = CountLanguageModel::train(3, &tokens)?;
    /// let ids: Vec<Option<u32>> =
    ///     tokens.iter().map(|t| model.vocabulary().id(t)).collect();
    /// let one = model.perplexity_ids(&ids, 3)?;
    /// let two = model.perplexity_ids_with_threads(&ids, 3, 2)?;
    /// assert_eq!(one.to_bits(), two.to_bits());
    /// # Ok::<(), ferrograd_lm::LmError>(())
    /// ```
    ///
    /// # Errors
    /// [`LmError::Empty`] for no tokens, [`LmError::InvalidConfig`] for 0 threads.
    pub fn perplexity_ids_with_threads(
        &self,
        ids: &[Option<u32>],
        context_size: usize,
        threads: usize,
    ) -> Result<f64> {
        const OP: &str = "CountLanguageModel::perplexity";
        if ids.is_empty() {
            return Err(LmError::Empty {
                op: OP,
                what: "the evaluation text",
            });
        }
        if threads == 0 {
            return Err(invalid(OP, "threads", 0, "at least one thread is needed"));
        }
        let mut log_likelihood = 0.0;
        if threads == 1 || ids.len() < 2 * PERPLEXITY_MIN_CHUNK {
            self.for_each_probability_ids(ids, context_size, |_, p| log_likelihood += p.ln());
        } else {
            let mut terms = vec![0.0f64; ids.len()];
            let piece = ids.len().div_ceil(threads).max(PERPLEXITY_MIN_CHUNK);
            partition::chunks_of_mut(&mut terms, piece, |start, out| {
                let end = start + out.len();
                self.probabilities_from(&ids[..end], start, context_size, |i, p| {
                    out[i - start] = p.ln();
                });
            });
            // The same additions in the same order as the one-thread loop above.
            for &t in &terms {
                log_likelihood += t;
            }
        }
        Ok((-log_likelihood / ids.len() as f64).exp())
    }

    /// The table of order `k` (1 ≤ k ≤ n): every context of `k − 1` tokens that was
    /// followed by something, in first-seen order, with its followers and their counts —
    /// the notebook's `ngram_counts[k − 1]`. (Replays the training corpus to recover the
    /// first-seen order: for printing tables, not for speed.)
    pub fn table(&self, k: usize) -> Vec<NgramRow> {
        if k == 0 || k > self.n {
            return Vec::new();
        }
        let word = |t: u32| self.vocab.word(t).unwrap_or_default().to_string();
        // Keyed by node id: stored and unstored nodes (`UNSTORED | start`) never collide.
        let mut row_of: HashMap<u32, usize> = HashMap::new();
        let mut listed: HashSet<u32> = HashSet::new();
        let mut rows: Vec<NgramRow> = Vec::new();
        for gram in self.corpus.windows(k) {
            let context = self.node_of_known(&gram[..k - 1]);
            let token = gram[k - 1];
            let Some(node) = self.child(k, context, token) else {
                continue;
            };
            let row = *row_of.entry(context).or_insert_with(|| {
                rows.push(NgramRow {
                    context: gram[..k - 1].iter().map(|&t| word(t)).collect(),
                    next: Vec::new(),
                });
                rows.len() - 1
            });
            if listed.insert(node) {
                rows[row]
                    .next
                    .push((word(token), u64::from(self.count(k, node))));
            }
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
    fn ids_past_the_vocabulary_are_unknown_words() {
        let m = CountLanguageModel::train(3, &words("a b a b c")).unwrap();
        let v = m.vocab_size() as u32;
        // (0 + 1) / (W + V) = 1 / (5 + 3), as for `None`.
        for id in [v, v + 7, u32::MAX] {
            assert_eq!(m.probability_ids(Some(id), &[Some(0)]), 1.0 / 8.0);
            assert_eq!(
                m.probability_ids(Some(0), &[Some(id)]),
                m.probability_ids(Some(0), &[None])
            );
            assert_eq!(m.predict_id(&[Some(id)]), m.predict_id(&[None]));
            let with_id = m.perplexity_ids(&[Some(0), Some(id), Some(1)], 3).unwrap();
            let with_none = m.perplexity_ids(&[Some(0), None, Some(1)], 3).unwrap();
            assert_eq!(with_id.to_bits(), with_none.to_bits());
        }
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
    fn a_walk_started_mid_text_gives_the_same_probabilities() {
        let train = words("the cat sat on the mat . the dog sat on the log . a cat ran");
        let test = words("the cat sat on a log . the bird sat on the mat . the cat ran");
        for n in 1..=5 {
            let m = CountLanguageModel::train(n, &train).unwrap();
            let ids = m.ids_of(&test);
            for context_size in [0, 1, n, n + 2] {
                let mut all = Vec::new();
                m.for_each_probability_ids(&ids, context_size, |_, p| all.push(p));
                for start in 0..ids.len() {
                    let mut tail = Vec::new();
                    m.probabilities_from(&ids, start, context_size, |i, p| tail.push((i, p)));
                    let expected: Vec<(usize, f64)> =
                        all.iter().copied().enumerate().skip(start).collect();
                    assert_eq!(tail, expected, "n={n} context={context_size} start={start}");
                }
            }
        }
    }

    #[test]
    fn perplexity_on_threads_is_bit_identical() {
        // 60,000 pseudo-random tokens over 300 words (a skewed choice, so that long
        // n-grams repeat), a held-out part with unknown words: enough positions for
        // several chunks.
        let mut x = 987u64;
        let mut next = |m: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        let tokens: Vec<String> = (0..60_000)
            .map(|_| {
                let range = 1 + next(300);
                format!("w{}", next(range))
            })
            .collect();
        let (train, test) = tokens.split_at(45_000);
        for n in [1, 2, 3, 5] {
            let m = CountLanguageModel::train(n, train).unwrap();
            let mut ids = m.ids_of(test);
            // Some unknown words, for the unigram fallback and broken contexts.
            for i in (0..ids.len()).step_by(997) {
                ids[i] = None;
            }
            for context_size in [0, 2, n] {
                let one = m.perplexity_ids(&ids, context_size).unwrap();
                assert!(one.is_finite() && one > 1.0);
                for threads in [2, 3, 7] {
                    let many = m
                        .perplexity_ids_with_threads(&ids, context_size, threads)
                        .unwrap();
                    assert_eq!(one.to_bits(), many.to_bits(), "n={n} threads={threads}");
                }
            }
        }
        let m = CountLanguageModel::train(2, train).unwrap();
        assert!(m.perplexity_ids_with_threads(&[Some(0)], 2, 0).is_err());
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
