//! Word embeddings (the book's §2.2): skip-gram with negative sampling, as word2vec
//! trains it.
//!
//! Each word has two vectors: an *input* vector (the embedding kept at the end) and an
//! *output* vector. For every word of a sentence (the center) and every word within a
//! window around it (a context word), training takes one SGD step on
//! `−ln σ(u_context · v_center) − Σₖ ln σ(−u_k · v_center)`, where the `u_k` are the output
//! vectors of `negative` words drawn from the unigram distribution raised to the power
//! 3/4. As in word2vec and gensim:
//! - words seen fewer than `min_count` times are dropped before training;
//! - frequent words are sub-sampled: a word of corpus frequency `f` is kept with
//!   probability `(√(f/s) + 1)·s/f` (`s` = `sample`, capped at 1), before windows are taken;
//! - the window shrinks to a uniform random size in `1..=window` for each center word;
//! - the learning rate falls linearly from `alpha` to `min_alpha` over the whole run;
//! - input vectors start uniform in `[−0.5/dim, 0.5/dim)`, output vectors at zero.
//!
//! Training is seeded: the same corpus, configuration and thread count give the same
//! vectors, bit for bit. With several threads, each thread trains on its own share of the
//! sentences against its own copy of the vectors, and every `sync_words` words the threads'
//! changes are added into the shared vectors and copied back (deterministic, unlike
//! word2vec's lock-free "Hogwild" updates, and without data races).
//!
//! The update is a dedicated kernel ([`kernel`]) compiled for the CPU's widest vectors; the
//! same step through the tensor stack (embedding look-ups, autograd, SGD) is
//! [`tensor_step`], and tests show both give the same update (both skip a negative word
//! equal to the context word; they differ only for a negative word drawn twice in one pair).
//!
//! ```
//! use ferrograd_lm::word2vec::{Word2Vec, Word2VecConfig};
//! use ferrograd_lm::text::word_sentences;
//!
//! let text = "the king rules the land\nthe queen rules the land\n".repeat(50);
//! // A tiny corpus: keep every word (no sub-sampling) and make more passes.
//! let config = Word2VecConfig {
//!     dim: 16, min_count: 1, sample: 0.0, epochs: 20, ..Word2VecConfig::default()
//! };
//! let (model, stats) = Word2Vec::train(&word_sentences(&text), &config)?;
//! assert_eq!(stats.words, 20 * 500);
//! let vectors = model.vectors();
//! // "king" and "queen" share every context, so they end up close.
//! assert!(vectors.similarity("king", "queen")? > 0.5);
//! # Ok::<(), ferrograd_lm::LmError>(())
//! ```

pub mod kernel;
pub mod tensor_step;
mod vectors;

pub use vectors::WordVectors;

use std::time::Instant;

use crate::error::{LmError, Result, invalid};
use crate::text::{FxHashMap, Vocabulary};
use kernel::{NegativeSampler, Rng, Setup, train_sentence};

/// Word2vec's settings; the defaults are gensim's `Word2Vec(sg=1, negative=5)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Word2VecConfig {
    /// Vector size (gensim `vector_size`, default 100).
    pub dim: usize,
    /// Maximum distance between the center and a context word (default 5).
    pub window: usize,
    /// Negative words per (center, context) pair (default 5; at least 1).
    pub negative: usize,
    /// Words seen fewer times are dropped (default 5).
    pub min_count: u64,
    /// Sub-sampling threshold `s` (default 1e-3; 0 turns sub-sampling off).
    pub sample: f64,
    /// Starting learning rate (default 0.025).
    pub alpha: f32,
    /// Final learning rate (default 0.0001).
    pub min_alpha: f32,
    /// Passes over the corpus (default 5).
    pub epochs: usize,
    /// Exponent of the negative-sampling distribution (default 0.75).
    pub ns_exponent: f64,
    /// Whether each center word's window shrinks to a random size (default true).
    pub shrink_windows: bool,
    /// Seed of every random choice (default 1).
    pub seed: u64,
    /// Training threads (default 1).
    pub threads: usize,
    /// With several threads: words each thread trains on between merges (default 20,000).
    pub sync_words: usize,
}

impl Default for Word2VecConfig {
    fn default() -> Self {
        Self {
            dim: 100,
            window: 5,
            negative: 5,
            min_count: 5,
            sample: 1e-3,
            alpha: 0.025,
            min_alpha: 0.0001,
            epochs: 5,
            ns_exponent: 0.75,
            shrink_windows: true,
            seed: 1,
            threads: 1,
            sync_words: 20_000,
        }
    }
}

impl Word2VecConfig {
    fn check(&self) -> Result<()> {
        const OP: &str = "Word2Vec::train";
        let positive = |name, v: usize| {
            if v == 0 {
                Err(invalid(OP, name, v, "must be at least 1"))
            } else {
                Ok(())
            }
        };
        positive("dim", self.dim)?;
        positive("window", self.window)?;
        positive("epochs", self.epochs)?;
        positive("threads", self.threads)?;
        positive("sync_words", self.sync_words)?;
        if self.negative == 0 {
            // Only positive pairs: nothing pushes vectors apart, so they all collapse
            // together (gensim refuses it too: it needs hs or negative > 0).
            return Err(invalid(
                OP,
                "negative",
                0,
                "must be at least 1 (skip-gram with negative sampling needs negative words)",
            ));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(invalid(
                OP,
                "alpha",
                self.alpha,
                "must be a positive number",
            ));
        }
        if !(self.min_alpha.is_finite() && self.min_alpha >= 0.0 && self.min_alpha <= self.alpha) {
            return Err(invalid(
                OP,
                "min_alpha",
                self.min_alpha,
                "must be within [0, alpha]",
            ));
        }
        if !(self.sample.is_finite() && self.sample >= 0.0) {
            return Err(invalid(
                OP,
                "sample",
                self.sample,
                "must be 0 (off) or positive",
            ));
        }
        if !self.ns_exponent.is_finite() {
            return Err(invalid(
                OP,
                "ns_exponent",
                self.ns_exponent,
                "must be finite",
            ));
        }
        Ok(())
    }
}

/// What a training run did.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainStats {
    /// Words of the corpus read over all epochs (before `min_count` and sub-sampling):
    /// the basis of words per second.
    pub words: u64,
    /// Words trained on after `min_count` and sub-sampling.
    pub effective_words: u64,
    /// (center, context) pairs trained.
    pub pairs: u64,
    /// Wall-clock seconds of the training loop (vocabulary building excluded).
    pub seconds: f64,
}

impl TrainStats {
    /// Corpus words per second.
    pub fn words_per_second(&self) -> f64 {
        self.words as f64 / self.seconds.max(1e-12)
    }
}

/// A trained skip-gram model: the vocabulary (most frequent first), the counts, and the
/// input and output vectors.
#[derive(Debug, Clone)]
pub struct Word2Vec {
    vocab: Vocabulary,
    counts: Vec<u64>,
    dim: usize,
    input: Vec<f32>,
    output: Vec<f32>,
}

/// A corpus as ids: words under `min_count` removed, sentences kept apart.
#[derive(Debug, Clone)]
struct Corpus {
    ids: Vec<u32>,
    /// Sentence `s` is `ids[ends[s - 1]..ends[s]]`.
    ends: Vec<usize>,
    /// Words per sentence before `min_count` (for progress in corpus words).
    raw_lengths: Vec<u64>,
}

impl Word2Vec {
    /// The vocabulary: every word seen at least `min_count` times, most frequent first
    /// (first seen first among equals), with its count.
    fn vocabulary<S: AsRef<str>>(sentences: &[Vec<S>], min_count: u64) -> (Vocabulary, Vec<u64>) {
        let mut seen = Vocabulary::new();
        let mut counts: Vec<u64> = Vec::new();
        for sentence in sentences {
            for w in sentence {
                let id = seen.insert(w.as_ref()) as usize;
                if id == counts.len() {
                    counts.push(0);
                }
                counts[id] += 1;
            }
        }
        let mut order: Vec<usize> = (0..counts.len())
            .filter(|&i| counts[i] >= min_count)
            .collect();
        order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
        let mut vocab = Vocabulary::new();
        let mut kept = Vec::with_capacity(order.len());
        for i in order {
            vocab.insert(&seen.words()[i]);
            kept.push(counts[i]);
        }
        (vocab, kept)
    }

    fn corpus<S: AsRef<str>>(sentences: &[Vec<S>], vocab: &Vocabulary) -> Corpus {
        let mut ids = Vec::new();
        let mut ends = Vec::with_capacity(sentences.len());
        let mut raw_lengths = Vec::with_capacity(sentences.len());
        for sentence in sentences {
            ids.extend(sentence.iter().filter_map(|w| vocab.id(w.as_ref())));
            ends.push(ids.len());
            raw_lengths.push(sentence.len() as u64);
        }
        Corpus {
            ids,
            ends,
            raw_lengths,
        }
    }

    /// Trains skip-gram with negative sampling on `sentences` (each a list of words).
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for a setting out of range; [`LmError::Empty`] when no
    /// word reaches `min_count`.
    pub fn train<S: AsRef<str>>(
        sentences: &[Vec<S>],
        config: &Word2VecConfig,
    ) -> Result<(Self, TrainStats)> {
        Self::train_with_progress(sentences, config, &mut |_, _| {})
    }

    /// [`Word2Vec::train`], calling `progress(words_done, words_total)` (corpus words over
    /// all epochs) every few thousand words.
    ///
    /// # Errors
    /// As [`Word2Vec::train`].
    pub fn train_with_progress<S: AsRef<str>>(
        sentences: &[Vec<S>],
        config: &Word2VecConfig,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(Self, TrainStats)> {
        config.check()?;
        let (vocab, counts) = Self::vocabulary(sentences, config.min_count);
        if vocab.is_empty() {
            return Err(LmError::Empty {
                op: "Word2Vec::train",
                what: "the vocabulary (no word reaches min_count)",
            });
        }
        let corpus = Self::corpus(sentences, &vocab);
        let dim = config.dim;
        let v = vocab.len();
        let mut seeder = ferrograd_tensor::Rng::new(config.seed);
        // Two tables of v × dim: a size that cannot be allocated is an error, not an abort.
        let too_large = |why: String| {
            invalid(
                "Word2Vec::train",
                "dim",
                dim,
                format!("two tables of {v} words × {dim} f32 cannot be allocated: {why}"),
            )
        };
        let len = v
            .checked_mul(dim)
            .filter(|&n| n.checked_mul(2 * size_of::<f32>()).is_some())
            .ok_or_else(|| too_large("the size overflows".into()))?;
        let (mut input, mut output) = (Vec::<f32>::new(), Vec::<f32>::new());
        input
            .try_reserve_exact(len)
            .and_then(|()| output.try_reserve_exact(len))
            .map_err(|e| too_large(e.to_string()))?;
        // gensim's initialisation: uniform in [−0.5/dim, 0.5/dim) for inputs, zeros for
        // outputs.
        input.extend((0..len).map(|_| (seeder.next_f32() - 0.5) / dim as f32));
        output.resize(len, 0.0);
        let mut model = Self {
            vocab,
            counts,
            dim,
            input,
            output,
        };
        let keep = keep_thresholds(&model.counts, config.sample);
        let sampler = NegativeSampler::new(&model.counts, config.ns_exponent);
        let setup = Setup {
            dim,
            window: config.window,
            negative: config.negative,
            shrink_windows: config.shrink_windows,
            sampler: &sampler,
        };
        let raw_total: u64 = corpus.raw_lengths.iter().sum();
        let plan = Plan {
            corpus: &corpus,
            keep: &keep,
            setup,
            config,
            total_work: raw_total * config.epochs as u64,
        };
        let seed = seeder.next_u64();
        let start = Instant::now();
        let (effective_words, pairs) = if config.threads == 1 {
            plan.run_single(&mut model.input, &mut model.output, seed, progress)
        } else {
            plan.run_threads(&mut model.input, &mut model.output, seed, progress)
        };
        let stats = TrainStats {
            words: plan.total_work,
            effective_words,
            pairs,
            seconds: start.elapsed().as_secs_f64(),
        };
        Ok((model, stats))
    }

    /// The vocabulary, most frequent word first.
    pub fn vocabulary_words(&self) -> &Vocabulary {
        &self.vocab
    }

    /// How often each vocabulary word occurs in the corpus, by id.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Vector size.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The input vectors, `[vocabulary, dim]` row-major.
    pub fn input_vectors(&self) -> &[f32] {
        &self.input
    }

    /// The output vectors, `[vocabulary, dim]` row-major.
    pub fn output_vectors(&self) -> &[f32] {
        &self.output
    }

    /// The word embeddings (the input vectors) with their words, for similarity queries,
    /// analogies and saving. A run that diverged (a learning rate far too high) can hold NaN
    /// or infinite values: they are kept as they are (unlike [`WordVectors::new`], which
    /// refuses them), rank last in [`WordVectors::most_similar`], and
    /// [`WordVectors::load_word2vec_text`] refuses the file they save to.
    pub fn vectors(&self) -> WordVectors {
        WordVectors::allowing_non_finite(self.vocab.words().to_vec(), self.input.clone(), self.dim)
            .expect("the model's words and vectors agree")
    }
}

/// Sub-sampling: word `i` is kept when a uniform `u32` is below `keep[i]` (gensim's
/// `sample_int`).
fn keep_thresholds(counts: &[u64], sample: f64) -> Vec<u32> {
    let total: u64 = counts.iter().sum();
    if sample <= 0.0 {
        return vec![u32::MAX; counts.len()];
    }
    let threshold = if sample < 1.0 {
        sample * total as f64
    } else {
        sample
    };
    counts
        .iter()
        .map(|&c| {
            let c = c as f64;
            let p = ((c / threshold).sqrt() + 1.0) * threshold / c;
            if p >= 1.0 {
                u32::MAX
            } else {
                (p * f64::from(u32::MAX)) as u32
            }
        })
        .collect()
}

/// One training run's fixed inputs.
struct Plan<'a> {
    corpus: &'a Corpus,
    keep: &'a [u32],
    setup: Setup<'a>,
    config: &'a Word2VecConfig,
    /// Corpus words over all epochs.
    total_work: u64,
}

/// Per-thread scratch: the sub-sampled sentence and the gradient sum.
struct Scratch {
    sentence: Vec<u32>,
    work: Vec<f32>,
}

impl Plan<'_> {
    fn alpha(&self, done: u64) -> f32 {
        let c = self.config;
        let progress = done as f64 / self.total_work.max(1) as f64;
        let a = f64::from(c.alpha) - (f64::from(c.alpha) - f64::from(c.min_alpha)) * progress;
        (a as f32).max(c.min_alpha)
    }

    /// Trains sentences `range` of the corpus; `done` counts corpus words before them
    /// (for the learning rate). Returns (effective words, pairs, corpus words).
    #[allow(clippy::too_many_arguments)]
    fn sentences(
        &self,
        range: std::ops::Range<usize>,
        input: &mut [f32],
        output: &mut [f32],
        rng: &mut Rng,
        scratch: &mut Scratch,
        done: u64,
        scale: u64,
        touched: &mut Option<&mut Touched>,
    ) -> (u64, u64, u64) {
        let (mut effective, mut pairs, mut words) = (0, 0, 0);
        let mut alpha = self.alpha(done);
        let mut since = 0u64;
        for s in range {
            let start = if s == 0 { 0 } else { self.corpus.ends[s - 1] };
            let ids = &self.corpus.ids[start..self.corpus.ends[s]];
            scratch.sentence.clear();
            for &w in ids {
                if (rng.next_u64() as u32) < self.keep[w as usize] {
                    scratch.sentence.push(w);
                }
            }
            if let Some(t) = touched.as_deref_mut() {
                for &w in &scratch.sentence {
                    t.mark(w);
                }
            }
            effective += scratch.sentence.len() as u64;
            pairs += train_sentence(
                &scratch.sentence,
                input,
                output,
                &self.setup,
                alpha,
                &mut scratch.work,
                rng,
            );
            let raw = self.corpus.raw_lengths[s];
            words += raw;
            since += raw;
            if since >= 10_000 {
                since = 0;
                alpha = self.alpha(done + words * scale);
            }
        }
        (effective, pairs, words)
    }

    fn run_single(
        &self,
        input: &mut [f32],
        output: &mut [f32],
        seed: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> (u64, u64) {
        let mut rng = Rng::new(seed);
        let mut scratch = Scratch {
            sentence: Vec::new(),
            work: vec![0.0; self.setup.dim],
        };
        let sentences = self.corpus.ends.len();
        let (mut effective, mut pairs, mut done) = (0, 0, 0);
        // Report progress every ~50,000 words: split the corpus into blocks of sentences.
        let blocks = sentence_blocks(&self.corpus.raw_lengths, 50_000);
        for _ in 0..self.config.epochs {
            for block in &blocks {
                let (e, p, w) = self.sentences(
                    block.clone(),
                    input,
                    output,
                    &mut rng,
                    &mut scratch,
                    done,
                    1,
                    &mut None,
                );
                effective += e;
                pairs += p;
                done += w;
                progress(done, self.total_work);
            }
            debug_assert!(blocks.last().is_none_or(|b| b.end == sentences));
        }
        (effective, pairs)
    }

    fn run_threads(
        &self,
        input: &mut [f32],
        output: &mut [f32],
        seed: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> (u64, u64) {
        let threads = self.config.threads;
        let dim = self.setup.dim;
        let rows = input.len() / dim;
        // Each thread: its share of the sentences, cut into rounds of ~sync_words words.
        let shares = split_by_words(&self.corpus.raw_lengths, threads);
        let rounds: Vec<Vec<std::ops::Range<usize>>> = shares
            .iter()
            .map(|share| {
                sentence_blocks(
                    &self.corpus.raw_lengths[share.clone()],
                    self.config.sync_words,
                )
                .into_iter()
                .map(|b| b.start + share.start..b.end + share.start)
                .collect()
            })
            .collect();
        let max_rounds = rounds.iter().map(Vec::len).max().unwrap_or(0);
        let mut locals: Vec<Local> = (0..threads)
            .map(|t| Local {
                input: input.to_vec(),
                output: output.to_vec(),
                rng: Rng::new(seed ^ (0xA076_1D64_78BD_642F_u64.wrapping_mul(t as u64 + 1))),
                scratch: Scratch {
                    sentence: Vec::new(),
                    work: vec![0.0; dim],
                },
                touched: Touched::new(rows),
            })
            .collect();
        let (mut effective, mut pairs, mut done) = (0u64, 0u64, 0u64);
        let mut union = vec![false; rows];
        for _ in 0..self.config.epochs {
            for round in 0..max_rounds {
                let results: Vec<(u64, u64, u64)> = std::thread::scope(|scope| {
                    let handles: Vec<_> = locals
                        .iter_mut()
                        .zip(&rounds)
                        .map(|(local, blocks)| {
                            let range = blocks.get(round).cloned().unwrap_or(0..0);
                            scope.spawn(move || {
                                let Local {
                                    input,
                                    output,
                                    rng,
                                    scratch,
                                    touched,
                                } = local;
                                let mut t = Some(touched);
                                self.sentences(
                                    range,
                                    input,
                                    output,
                                    rng,
                                    scratch,
                                    done,
                                    threads as u64,
                                    &mut t,
                                )
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or((0, 0, 0)))
                        .collect()
                });
                for (e, p, w) in results {
                    effective += e;
                    pairs += p;
                    done += w;
                }
                merge(input, output, &mut locals, &mut union, dim);
                progress(done, self.total_work);
            }
        }
        (effective, pairs)
    }
}

/// A thread's copy of the vectors and its own random numbers.
struct Local {
    input: Vec<f32>,
    output: Vec<f32>,
    rng: Rng,
    scratch: Scratch,
    touched: Touched,
}

/// Which input rows a thread changed since the last merge.
struct Touched {
    flag: Vec<bool>,
    list: Vec<u32>,
}

impl Touched {
    fn new(rows: usize) -> Self {
        Self {
            flag: vec![false; rows],
            list: Vec::new(),
        }
    }

    #[inline]
    fn mark(&mut self, row: u32) {
        let f = &mut self.flag[row as usize];
        if !*f {
            *f = true;
            self.list.push(row);
        }
    }
}

/// Adds every thread's changes into the shared vectors, then copies the result back into
/// each thread's copy. Output rows are merged whole (negative sampling touches most of
/// them every round); input rows only where some thread trained a center word.
fn merge(
    input: &mut [f32],
    output: &mut [f32],
    locals: &mut [Local],
    union: &mut [bool],
    dim: usize,
) {
    let add_deltas = |shared: &mut [f32], copies: &mut [&mut [f32]]| {
        for (k, s) in shared.iter_mut().enumerate() {
            let base = *s;
            let mut sum = base;
            for c in copies.iter() {
                sum += c[k] - base;
            }
            *s = sum;
            for c in copies.iter_mut() {
                c[k] = sum;
            }
        }
    };
    {
        let mut copies: Vec<&mut [f32]> = locals.iter_mut().map(|l| &mut l.output[..]).collect();
        add_deltas(output, &mut copies);
    }
    let mut rows: Vec<u32> = Vec::new();
    for local in locals.iter_mut() {
        for &r in &local.touched.list {
            if !union[r as usize] {
                union[r as usize] = true;
                rows.push(r);
            }
            local.touched.flag[r as usize] = false;
        }
        local.touched.list.clear();
    }
    rows.sort_unstable();
    for r in rows {
        union[r as usize] = false;
        let span = r as usize * dim..(r as usize + 1) * dim;
        let mut copies: Vec<&mut [f32]> = locals
            .iter_mut()
            .map(|l| &mut l.input[span.clone()])
            .collect();
        add_deltas(&mut input[span], &mut copies);
    }
}

/// Consecutive sentences grouped into blocks of at least `words` corpus words (the last
/// may be shorter).
fn sentence_blocks(lengths: &[u64], words: usize) -> Vec<std::ops::Range<usize>> {
    let mut blocks = Vec::new();
    let mut start = 0;
    let mut sum = 0u64;
    for (i, &len) in lengths.iter().enumerate() {
        sum += len;
        if sum >= words as u64 {
            blocks.push(start..i + 1);
            start = i + 1;
            sum = 0;
        }
    }
    if start < lengths.len() {
        blocks.push(start..lengths.len());
    }
    blocks
}

/// `parts` consecutive ranges of sentences with about equal numbers of words.
fn split_by_words(lengths: &[u64], parts: usize) -> Vec<std::ops::Range<usize>> {
    let total: u64 = lengths.iter().sum();
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    let mut sum = 0u64;
    for (i, &len) in lengths.iter().enumerate() {
        sum += len;
        let k = out.len() as u64 + 1;
        if out.len() + 1 < parts && sum * parts as u64 >= total * k {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    out.push(start..lengths.len());
    while out.len() < parts {
        out.push(lengths.len()..lengths.len());
    }
    out
}

/// Counts of words in `sentences`, for callers that want the raw frequencies.
pub fn word_counts<S: AsRef<str>>(sentences: &[Vec<S>]) -> FxHashMap<String, u64> {
    let mut counts = FxHashMap::default();
    for s in sentences {
        for w in s {
            *counts.entry(w.as_ref().to_string()).or_insert(0) += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Vec<Vec<String>> {
        let text = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n";
        crate::text::word_sentences(&text.repeat(30))
    }

    #[test]
    fn vocabulary_is_most_frequent_first_and_drops_rare_words() {
        let sentences = vec![vec!["b", "a", "b", "c", "a", "b", "d"]];
        let (vocab, counts) = Word2Vec::vocabulary(&sentences, 2);
        assert_eq!(vocab.words(), ["b", "a"]);
        assert_eq!(counts, [3, 2]);
    }

    #[test]
    fn keep_probability_is_gensims() {
        // threshold = 1e-3 · 1,000,000 = 1000; a word seen 4000 times is kept with
        // (√4 + 1)·1000/4000 = 0.75; rare words always.
        let keep = keep_thresholds(&[4000, 996_000 - 1000, 1000], 1e-3);
        assert_eq!(keep[2], u32::MAX);
        assert!((f64::from(keep[0]) / f64::from(u32::MAX) - 0.75).abs() < 1e-9);
        assert_eq!(keep_thresholds(&[5, 5], 0.0), [u32::MAX, u32::MAX]);
    }

    #[test]
    fn training_is_reproducible_for_a_seed_and_changes_with_it() {
        for threads in [1, 2] {
            let config = Word2VecConfig {
                dim: 8,
                min_count: 1,
                epochs: 2,
                threads,
                sync_words: 50,
                ..Word2VecConfig::default()
            };
            let (a, sa) = Word2Vec::train(&toy(), &config).unwrap();
            let (b, sb) = Word2Vec::train(&toy(), &config).unwrap();
            assert_eq!(a.input_vectors(), b.input_vectors());
            assert_eq!(a.output_vectors(), b.output_vectors());
            assert_eq!(
                (sa.pairs, sa.effective_words),
                (sb.pairs, sb.effective_words)
            );
            let (c, _) = Word2Vec::train(&toy(), &Word2VecConfig { seed: 2, ..config }).unwrap();
            assert_ne!(a.input_vectors(), c.input_vectors());
            assert!(a.input_vectors().iter().all(|x| x.is_finite()));
        }
    }

    #[test]
    fn tables_too_large_to_allocate_are_errors_naming_dim() {
        // 9 words × 2^61 overflows the element count; 9 × 2^44 f32 (~2^49 bytes a table)
        // is past what the allocator can reserve on a 47/48-bit address space, and past
        // what the kernel's overcommit heuristic grants anywhere.
        for dim in [1usize << 61, 1 << 44] {
            let config = Word2VecConfig {
                dim,
                min_count: 1,
                ..Word2VecConfig::default()
            };
            let e = Word2Vec::train(&toy(), &config).unwrap_err();
            assert!(
                matches!(e, LmError::InvalidConfig { name: "dim", .. }),
                "{e}"
            );
            assert!(e.to_string().contains("cannot be allocated"), "{e}");
        }
    }

    #[test]
    fn bad_settings_and_empty_corpora_are_errors() {
        let empty: Vec<Vec<String>> = Vec::new();
        assert!(matches!(
            Word2Vec::train(&empty, &Word2VecConfig::default()),
            Err(LmError::Empty { .. })
        ));
        for config in [
            Word2VecConfig {
                dim: 0,
                ..Word2VecConfig::default()
            },
            Word2VecConfig {
                window: 0,
                ..Word2VecConfig::default()
            },
            Word2VecConfig {
                alpha: f32::NAN,
                ..Word2VecConfig::default()
            },
            Word2VecConfig {
                min_alpha: 1.0,
                ..Word2VecConfig::default()
            },
            Word2VecConfig {
                sample: -1.0,
                ..Word2VecConfig::default()
            },
            Word2VecConfig {
                threads: 0,
                ..Word2VecConfig::default()
            },
            Word2VecConfig {
                negative: 0,
                ..Word2VecConfig::default()
            },
        ] {
            assert!(matches!(
                Word2Vec::train(&toy(), &config),
                Err(LmError::InvalidConfig { .. })
            ));
        }
        let e = Word2Vec::train(
            &toy(),
            &Word2VecConfig {
                negative: 0,
                ..Word2VecConfig::default()
            },
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                LmError::InvalidConfig {
                    name: "negative",
                    ..
                }
            ),
            "{e}"
        );
        // Vectors of a run that diverged: `vectors()` keeps them (no panic), NaN ranks last.
        let (mut m, _) = Word2Vec::train(
            &toy(),
            &Word2VecConfig {
                min_count: 1,
                dim: 4,
                ..Word2VecConfig::default()
            },
        )
        .unwrap();
        let first = m.vocab.words()[0].clone();
        let second = m.vocab.words()[1].clone();
        m.input[4..8].fill(f32::NAN); // the second word's vector
        let v = m.vectors();
        let near = v.most_similar(&first, v.len()).unwrap();
        assert_eq!(near.last().unwrap().0, second);
        assert!(near.last().unwrap().1.is_nan());
        assert!(near[..near.len() - 1].iter().all(|(_, s)| s.is_finite()));
        // One word, seen once: a vocabulary of one, no context pairs, finite vectors.
        let config = Word2VecConfig {
            min_count: 1,
            ..Word2VecConfig::default()
        };
        let (m, stats) = Word2Vec::train(&[vec!["alone"]], &config).unwrap();
        assert_eq!(stats.pairs, 0);
        assert!(m.input_vectors().iter().all(|x| x.is_finite()));
    }

    #[test]
    fn blocks_and_shares_cover_every_sentence_once() {
        let lengths = [3u64, 10, 1, 7, 7, 2, 9];
        let blocks = sentence_blocks(&lengths, 8);
        assert_eq!(blocks, [0..2, 2..4, 4..6, 6..7]);
        let shares = split_by_words(&lengths, 2);
        assert_eq!(shares, [0..4, 4..7]);
        assert_eq!(split_by_words(&lengths[..1], 3), [0..1, 1..1, 1..1]);
    }
}

#[cfg(test)]
mod same_update {
    use super::kernel::train_pair_with_negatives;
    use super::tensor_step::SkipGram;

    /// Runs one step of both paths from the same tables; returns the kernel's tables and the
    /// tensor stack's (input, output).
    fn both_steps(
        input: &[f32],
        output: &[f32],
        dim: usize,
        center: usize,
        context: usize,
        negatives: &[usize],
        alpha: f32,
    ) -> [(Vec<f32>, Vec<f32>); 2] {
        let model = SkipGram::from_vectors(input, output, dim).unwrap();
        model.sgd_step(center, context, negatives, alpha).unwrap();
        let (mut ki, mut ko) = (input.to_vec(), output.to_vec());
        let negs: Vec<u32> = negatives.iter().map(|&n| n as u32).collect();
        train_pair_with_negatives(
            &mut ki,
            &mut ko,
            dim,
            center as u32,
            context as u32,
            &negs,
            alpha,
        );
        [
            (ki, ko),
            (
                model.input.weight.tensor().to_vec(),
                model.output.weight.tensor().to_vec(),
            ),
        ]
    }

    #[test]
    fn a_negative_equal_to_the_context_is_skipped_by_both_paths() {
        let (rows, dim) = (6, 19);
        let mut rng = ferrograd_tensor::Rng::new(11);
        let input: Vec<f32> = (0..rows * dim).map(|_| rng.next_f32() - 0.5).collect();
        let output: Vec<f32> = (0..rows * dim).map(|_| rng.next_f32() - 0.5).collect();
        let (center, context, alpha) = (1usize, 3usize, 0.4f32);
        let [(ki, ko), (ti, to)] =
            both_steps(&input, &output, dim, center, context, &[0, 3, 5], alpha);
        // The kernel's step with the context among the negatives equals its step without.
        let [(ki2, ko2), _] = both_steps(&input, &output, dim, center, context, &[0, 5], alpha);
        assert_eq!((&ki, &ko), (&ki2, &ko2));
        // Same formula, different order of f32 sums: a few units in the last place.
        for (name, a, b) in [("input", &ki, &ti), ("output", &ko, &to)] {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert!(
                    (x - y).abs() <= 2e-6,
                    "{name}[{i}]: kernel {x}, tensor stack {y}"
                );
            }
        }
    }

    #[test]
    fn scores_far_below_minus_88_give_finite_losses_and_updates() {
        // Center and context rows aligned against each other: u_context·v_center = −200,
        // where σ underflows f32 to 0 and ln σ would be −∞. The exact loss is
        // ln(1 + e^200) + ln(1 + e^−200) ≈ 200 (the negative row is orthogonal: ln 2).
        let dim = 2;
        let input = [10.0f32, 0.0, 0.0, 0.0, 0.0, 0.0];
        let output = [0.0f32, 0.0, -20.0, 0.0, 0.0, 1.0];
        let model = SkipGram::from_vectors(&input, &output, dim).unwrap();
        let loss = model.loss(0, 1, &[2]).unwrap().item().unwrap();
        assert!(
            (loss - (200.0 + std::f32::consts::LN_2)).abs() < 1e-4,
            "{loss}"
        );
        // The gradient of the context term is σ(−200) − 1 = −1 per unit of score: the
        // kernel's g = (1 − σ(s))·α = α, the same update.
        let [(ki, ko), (ti, to)] = both_steps(&input, &output, dim, 0, 1, &[2], 0.01);
        assert!(ti.iter().chain(&to).all(|x| x.is_finite()));
        for (a, b) in ki.iter().zip(&ti).chain(ko.iter().zip(&to)) {
            assert!((a - b).abs() <= 1e-5, "kernel {a}, tensor stack {b}");
        }
        // u_context moves by α·v_center = 0.01·(10, 0).
        assert!((to[2] - (-19.9)).abs() < 1e-5, "{}", to[2]);
    }

    #[test]
    fn kernel_and_tensor_stack_make_the_same_update() {
        let (rows, dim) = (6, 37);
        let mut rng = ferrograd_tensor::Rng::new(7);
        let mut input: Vec<f32> = (0..rows * dim).map(|_| rng.next_f32() - 0.5).collect();
        let mut output: Vec<f32> = (0..rows * dim).map(|_| rng.next_f32() - 0.5).collect();
        let model = SkipGram::from_vectors(&input, &output, dim).unwrap();
        let (center, context, negatives) = (2usize, 4usize, [0usize, 5, 1]);
        let alpha = 0.3;
        let before = input.clone();
        model.sgd_step(center, context, &negatives, alpha).unwrap();
        let negs: Vec<u32> = negatives.iter().map(|&n| n as u32).collect();
        train_pair_with_negatives(
            &mut input,
            &mut output,
            dim,
            center as u32,
            context as u32,
            &negs,
            alpha,
        );
        assert_ne!(input, before);
        // Same formula, different order of f32 sums (autograd vs the kernel's lanes):
        // agreement to a few units in the last place of values of order 1.
        for (name, ours, theirs) in [
            ("input", &input, model.input.weight.tensor().to_vec()),
            ("output", &output, model.output.weight.tensor().to_vec()),
        ] {
            for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                assert!(
                    (a - b).abs() <= 2e-6,
                    "{name}[{i}]: kernel {a}, tensor stack {b}"
                );
            }
        }
    }
}
