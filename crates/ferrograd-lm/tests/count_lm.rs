//! The count-based language model against the book's example and against a straight
//! Python port of the book's notebook (`scripts/count_lm_reference.py`) on
//! tinyshakespeare.

use ferrograd_lm::text::count_lm_tokens;
use ferrograd_lm::{CountLanguageModel, split_train_test};

const BOOK: &str = "language models are powerful language models are useful";

fn row(context: &[&str], next: &[(&str, u64)]) -> ferrograd_lm::NgramRow {
    ferrograd_lm::NgramRow {
        context: context.iter().map(|s| s.to_string()).collect(),
        next: next.iter().map(|&(w, c)| (w.to_string(), c)).collect(),
    }
}

#[test]
fn the_books_ngram_tables_for_n_3() {
    let m = CountLanguageModel::train(3, &count_lm_tokens(BOOK)).unwrap();
    assert_eq!((m.num_tokens(), m.vocab_size()), (8, 5));
    // Tables worked out by hand from the eight tokens, in first-seen order.
    assert_eq!(
        m.table(1),
        [row(
            &[],
            &[
                ("language", 2),
                ("models", 2),
                ("are", 2),
                ("powerful", 1),
                ("useful", 1)
            ]
        )]
    );
    assert_eq!(
        m.table(2),
        [
            row(&["language"], &[("models", 2)]),
            row(&["models"], &[("are", 2)]),
            row(&["are"], &[("powerful", 1), ("useful", 1)]),
            row(&["powerful"], &[("language", 1)]),
        ]
    );
    assert_eq!(
        m.table(3),
        [
            row(&["language", "models"], &[("are", 2)]),
            row(&["models", "are"], &[("powerful", 1), ("useful", 1)]),
            row(&["are", "powerful"], &[("language", 1)]),
            row(&["powerful", "language"], &[("models", 1)]),
        ]
    );
    assert!(m.table(4).is_empty());
}

#[test]
fn the_books_predictions_with_backoff() {
    let m = CountLanguageModel::train(3, &count_lm_tokens(BOOK)).unwrap();
    // Trigram context seen.
    assert_eq!(m.predict(&["language", "models"]), "are");
    // A tie (powerful 1, useful 1): the first seen wins.
    assert_eq!(m.predict(&["models", "are"]), "powerful");
    // Trigram context unseen, bigram context "are" seen.
    assert_eq!(m.predict(&["useful", "are"]), "powerful");
    // Neither "are useful" nor "useful" was ever followed: the most frequent unigram,
    // the first of the three with count 2.
    assert_eq!(m.predict(&["are", "useful"]), "language");
    assert_eq!(m.predict::<&str>(&[]), "language");

    assert_eq!(m.probability("are", &["language", "models"]), 1.0);
    assert_eq!(m.probability("useful", &["models", "are"]), 0.5);
    // The trigram context "powerful are" was never seen; the bigram "are" was: 1/2.
    assert_eq!(m.probability("useful", &["powerful", "are"]), 0.5);
    // The book's P(sing | language models): seen nowhere, so Laplace on unigrams,
    // (0 + 1) / (W + V) = 1 / (8 + 5).
    assert_eq!(m.probability("sing", &["language", "models"]), 1.0 / 13.0);
    // A known word that never followed the context: (2 + 1) / 13.
    assert_eq!(m.probability("language", &["are", "useful"]), 3.0 / 13.0);
    assert_eq!(
        m.generate(&["language"], 6).join(" "),
        "language models are powerful language models are"
    );
}

/// The reference file written by `scripts/count_lm_reference.py` (see tests/data/README.md).
fn reference() -> serde_json::Value {
    let text = include_str!("data/count_lm_tinyshakespeare.json");
    serde_json::from_str(text).unwrap()
}

/// A JSON array of strings, as `&str`s.
fn strings(v: &serde_json::Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

fn corpus() -> Vec<String> {
    count_lm_tokens(include_str!("data/tinyshakespeare.txt"))
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[test]
fn tinyshakespeare_matches_the_python_port() {
    let r = reference();
    let tokens = corpus();
    assert_eq!(tokens.len() as u64, r["tokens"].as_u64().unwrap());
    let first = strings(&r["first_tokens"]);
    assert_eq!(&tokens[..first.len()], &first[..]);
    let (train, test) = split_train_test(&tokens, 0.9).unwrap();
    assert_eq!(train.len() as u64, r["train_tokens"].as_u64().unwrap());
    assert_eq!(test.len() as u64, r["test_tokens"].as_u64().unwrap());
    let n = r["n"].as_u64().unwrap() as usize;
    for order in 1..=n {
        let m = CountLanguageModel::train(order, train).unwrap();
        assert_eq!(m.vocab_size() as u64, r["vocabulary"].as_u64().unwrap());
        let ppl = m.perplexity(test, order).unwrap();
        let expected = r["perplexity_by_n"][order.to_string()].as_f64().unwrap();
        // The same sums of the same logarithms in the same order: only the last bits of
        // `ln`/`exp` may differ between Python's libm and Rust's.
        assert!(close(ppl, expected, 1e-9), "n={order}: {ppl} vs {expected}");
    }
    let m = CountLanguageModel::train(n, train).unwrap();
    for p in r["probabilities"].as_array().unwrap() {
        let ctx = strings(&p["context"]);
        let token = p["token"].as_str().unwrap();
        let expected = p["p"].as_f64().unwrap();
        assert!(
            close(m.probability(token, &ctx), expected, 1e-15),
            "{ctx:?} {token}"
        );
    }
    for (prompt, next) in r["predictions"].as_object().unwrap() {
        assert_eq!(
            m.predict(&count_lm_tokens(prompt)),
            next.as_str().unwrap(),
            "{prompt}"
        );
    }
    for (prompt, text) in r["generations"].as_object().unwrap() {
        let out = m.generate(&count_lm_tokens(prompt), 10).join(" ");
        assert_eq!(out, text.as_str().unwrap(), "{prompt}");
    }
}

#[test]
fn unknown_words_at_evaluation_have_finite_perplexity() {
    let m = CountLanguageModel::train(3, &count_lm_tokens(BOOK)).unwrap();
    let unseen = count_lm_tokens("quantum chromodynamics is not here");
    let ppl = m.perplexity(&unseen, 3).unwrap();
    // Every token unknown: each gets 1/13, so the perplexity is exactly 13.
    assert!((ppl - 13.0).abs() < 1e-12, "{ppl}");
}

#[test]
fn threads_build_the_same_model_on_real_text() {
    // Two and three threads split the first tokens into parts, sort each part's groups by
    // the second token themselves and append the parts' arrays on the pool; on a real
    // text (groups of every size, so every sorting path runs) the model must be the one
    // thread's: the same n-gram counts, the same perplexity to the bit, and the Python
    // port's probabilities and predictions.
    let r = reference();
    let tokens = corpus();
    let (train, test) = split_train_test(&tokens, 0.9).unwrap();
    let n = r["n"].as_u64().unwrap() as usize;
    let one = CountLanguageModel::train(n, train).unwrap();
    let ppl = one.perplexity(test, n).unwrap();
    for threads in [2, 3] {
        let m = CountLanguageModel::train_with_threads(n, train, threads).unwrap();
        for k in 1..=n {
            assert_eq!(
                m.num_ngrams(k),
                one.num_ngrams(k),
                "{threads} threads, order {k}"
            );
        }
        assert_eq!(m.perplexity(test, n).unwrap().to_bits(), ppl.to_bits());
        for p in r["probabilities"].as_array().unwrap() {
            let ctx = strings(&p["context"]);
            let token = p["token"].as_str().unwrap();
            assert_eq!(m.probability(token, &ctx), one.probability(token, &ctx));
        }
        for (prompt, next) in r["predictions"].as_object().unwrap() {
            assert_eq!(m.predict(&count_lm_tokens(prompt)), next.as_str().unwrap());
        }
    }
}
