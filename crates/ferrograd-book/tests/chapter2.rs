//! Chapter 2's numbers and figures through the library functions. Expected values come
//! from the book (or its numbers worked out by hand), never from the code under test.

use crate::common;

use common::scratch;
use ferrograd_book::chapter2::{self, Corpus, count_lm, embeddings, evaluation};
use ferrograd_book::{Figures, Progress};

fn small_corpus() -> Corpus {
    // The first 60,000 characters of the built-in Shakespeare: enough for every section,
    // quick in a debug build.
    let end = chapter2::SHAKESPEARE
        .char_indices()
        .nth(60_000)
        .map_or(chapter2::SHAKESPEARE.len(), |(i, _)| i);
    Corpus {
        name: "shakespeare head".into(),
        text: chapter2::SHAKESPEARE[..end].to_string(),
    }
}

#[test]
fn the_books_count_model_example() {
    let b = count_lm::book_example().unwrap();
    assert_eq!((b.num_tokens, b.vocab_size), (8, 5));
    assert_eq!(b.tables.len(), 3);
    // Order 2, the context "are": powerful and useful once each, in that order.
    let are = b.tables[1].iter().find(|r| r.context == ["are"]).unwrap();
    assert_eq!(
        are.next,
        [("powerful".to_string(), 1), ("useful".to_string(), 1)]
    );
    let sing = b.probabilities.iter().find(|p| p.token == "sing").unwrap();
    assert_eq!(sing.p, 1.0 / 13.0);
}

#[test]
fn evaluation_prints_the_books_rouge_numbers() {
    let e = evaluation::evaluation(&small_corpus(), &count_lm::Settings::default()).unwrap();
    assert_eq!(e.example_rouge.rouge1.recall, 6.0 / 9.0);
    assert_eq!(e.example_lcs, 5);
    assert_eq!(format!("{:.4}", e.example_rouge_l_beta8), "0.5565");
    assert!(e.perplexity.is_finite() && e.perplexity > 1.0);
    assert!(e.samples > 0);
    let m = e.mean_rouge.unwrap().rouge_l;
    assert!((0.0..=1.0).contains(&m.f1) && (0.0..=1.0).contains(&m.precision));
}

#[test]
fn every_chapter2_section_writes_its_files() {
    let dir = scratch("chapter2-files");
    let figures = Figures::without_text(&dir).unwrap();
    let corpus_file = dir.join("corpus.txt");
    std::fs::write(&corpus_file, small_corpus().text).unwrap();
    let options = chapter2::Options {
        corpus: Some(corpus_file),
        embeddings: embeddings::Settings {
            dim: 16,
            epochs: 2,
            ..embeddings::Settings::default()
        },
        ..chapter2::Options::default()
    };
    for section in chapter2::Section::ALL {
        let out = chapter2::run(section, &options, &figures, &Progress::hidden()).unwrap();
        assert!(!out.text.is_empty());
        for f in &out.files {
            let bytes = std::fs::read(f).unwrap();
            if f.extension().is_some_and(|e| e == "png") {
                assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", f.display());
            } else {
                // word2vec's text format: "<words> <dim>" first.
                let text = String::from_utf8(bytes).unwrap();
                let header: Vec<usize> = text
                    .lines()
                    .next()
                    .unwrap()
                    .split(' ')
                    .map(|x| x.parse().unwrap())
                    .collect();
                assert_eq!(header[1], 16);
                assert_eq!(text.lines().count(), header[0] + 1);
            }
        }
    }
}

#[test]
fn word_embeddings_are_reproducible() {
    let settings = embeddings::Settings {
        dim: 8,
        epochs: 1,
        ..embeddings::Settings::default()
    };
    let a = embeddings::word_embeddings(&small_corpus(), &settings, &Progress::hidden()).unwrap();
    let b = embeddings::word_embeddings(&small_corpus(), &settings, &Progress::hidden()).unwrap();
    assert_eq!(a.vocab_size, b.vocab_size);
    assert_eq!(a.pca, b.pca);
    assert_eq!(a.vectors.get("king"), b.vectors.get("king"));
}
