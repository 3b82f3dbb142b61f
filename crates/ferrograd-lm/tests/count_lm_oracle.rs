//! The count model against a deliberately naive port of the book notebook's code, written
//! here independently of the crate: dictionaries keyed by context tuples with followers in
//! insertion order, Python's `max` (first of equal counts), the backoff loop and the
//! perplexity loop as the notebook spells them. On random corpora over small vocabularies
//! (many repeated n-grams, many ties) every table, probability, prediction and perplexity
//! must be identical.

use std::collections::HashMap;

use ferrograd_lm::{CountLanguageModel, NgramRow};
use proptest::prelude::*;

/// Followers of one context with their counts, in first-seen order.
type Followers = Vec<(String, u64)>;

/// `counts[k - 1][context]` = followers of `context` with counts, in first-seen order;
/// `order[k - 1]` = contexts in first-seen order (Python dicts keep insertion order).
struct Notebook {
    n: usize,
    counts: Vec<HashMap<Vec<String>, Followers>>,
    order: Vec<Vec<Vec<String>>>,
    total: usize,
}

impl Notebook {
    fn fit(n: usize, tokens: &[String]) -> Self {
        let mut counts = vec![HashMap::new(); n];
        let mut order = vec![Vec::new(); n];
        for k in 1..=n {
            for start in 0..(tokens.len() + 1).saturating_sub(k) {
                let ctx = tokens[start..start + k - 1].to_vec();
                let next = &tokens[start + k - 1];
                let followers: &mut Followers =
                    counts[k - 1].entry(ctx.clone()).or_insert_with(|| {
                        order[k - 1].push(ctx);
                        Vec::new()
                    });
                match followers.iter_mut().find(|(w, _)| w == next) {
                    Some((_, c)) => *c += 1,
                    None => followers.push((next.clone(), 1)),
                }
            }
        }
        Self {
            n,
            counts,
            order,
            total: tokens.len(),
        }
    }

    fn followers(&self, context: &[String], k: usize) -> Option<&Followers> {
        if context.len() < k - 1 {
            return None;
        }
        self.counts[k - 1].get(&context[context.len() - (k - 1)..])
    }

    /// Python's `max(d.items(), key=count)`: the first of the largest.
    fn argmax(followers: &[(String, u64)]) -> &str {
        let mut best = &followers[0];
        for f in followers {
            if f.1 > best.1 {
                best = f;
            }
        }
        &best.0
    }

    fn predict(&self, context: &[String]) -> &str {
        for k in (2..=self.n).rev() {
            if let Some(f) = self.followers(context, k).filter(|f| !f.is_empty()) {
                return Self::argmax(f);
            }
        }
        Self::argmax(&self.counts[0][&Vec::new()])
    }

    fn probability(&self, token: &str, context: &[String]) -> f64 {
        for k in (2..=self.n).rev() {
            if let Some(f) = self.followers(context, k).filter(|f| !f.is_empty()) {
                let count = f.iter().find(|(w, _)| w == token).map_or(0, |(_, c)| *c);
                if count > 0 {
                    return count as f64 / f.iter().map(|(_, c)| c).sum::<u64>() as f64;
                }
            }
        }
        let unigrams = &self.counts[0][&Vec::new()];
        let c = unigrams
            .iter()
            .find(|(w, _)| w == token)
            .map_or(0, |(_, c)| *c);
        (c as f64 + 1.0) / (self.total + unigrams.len()) as f64
    }

    fn perplexity(&self, tokens: &[String], context_size: usize) -> f64 {
        let mut log_likelihood = 0.0;
        for (i, token) in tokens.iter().enumerate() {
            let context = &tokens[i.saturating_sub(context_size)..i];
            log_likelihood += self.probability(token, context).ln();
        }
        (-log_likelihood / tokens.len() as f64).exp()
    }

    fn table(&self, k: usize) -> Vec<NgramRow> {
        self.order[k - 1]
            .iter()
            .map(|ctx| NgramRow {
                context: ctx.clone(),
                next: self.counts[k - 1][ctx].clone(),
            })
            .collect()
    }
}

/// Tokens drawn from `vocab` words, skewed so that a few are frequent (many repeated
/// n-grams and ties).
fn corpus(max_len: usize, vocab: u32) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec((0..vocab, 0..vocab), 1..max_len).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(a, b)| format!("w{}", a.min(b)))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_number_equals_the_notebooks(
        train in corpus(300, 12),
        test in corpus(60, 14),
        n in 1usize..=6,
        threads in 1usize..=3,
    ) {
        let model = CountLanguageModel::train_with_threads(n, &train, threads).unwrap();
        let book = Notebook::fit(n, &train);
        for k in 1..=n {
            prop_assert_eq!(model.table(k), book.table(k), "table {}", k);
            prop_assert_eq!(model.num_ngrams(k), book.counts[k - 1].values().map(Vec::len).sum::<usize>());
        }
        for i in 0..test.len() {
            for len in 0..=n {
                let context = &test[i.saturating_sub(len)..i];
                prop_assert_eq!(model.predict(context), book.predict(context));
                // The same integers divided: exactly equal.
                prop_assert_eq!(
                    model.probability(&test[i], context),
                    book.probability(&test[i], context)
                );
                let context = &train[i.min(train.len()).saturating_sub(len)..i.min(train.len())];
                prop_assert_eq!(model.predict(context), book.predict(context));
                prop_assert_eq!(
                    model.probability(&test[i], context),
                    book.probability(&test[i], context)
                );
            }
        }
        for context_size in [0, 1, n, n + 1] {
            // The same logarithms summed in the same order.
            prop_assert_eq!(
                model.perplexity(&test, context_size).unwrap(),
                book.perplexity(&test, context_size)
            );
        }
    }
}
