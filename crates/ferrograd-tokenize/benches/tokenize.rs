//! Criterion benchmarks of ferrograd-tokenize.
//!
//! - `encode`: GPT-2's vocabulary on tinyshakespeare (throughput in bytes), one text and
//!   the lines as a batch on 1 and 2 threads.
//! - `hostile`: inputs that make the textbook merge loop quadratic — 10,000, 100,000 and
//!   1,000,000 repeats of one letter (one pre-token), and 100 KB and 1 MB lines of letters
//!   without white space. Time grows linearly (n log n) with the length: each 10× in
//!   length costs about 10×, not 100×.
//! - `train`: a 5,000-token byte-level BPE and the book's 5,000-token word-level BPE on
//!   tinyshakespeare; the word-level one also on 500,000 words (the book's setting) of a
//!   generated corpus.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrograd_tokenize::{BatchOptions, ByteLevelBpe, ByteLevelTrainer, WordBpeTrainer};
use std::hint::black_box;
use std::time::Duration;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");

fn gpt2() -> ByteLevelBpe {
    ByteLevelBpe::from_openai_files(
        format!("{DATA}/gpt2/encoder.json"),
        format!("{DATA}/gpt2/vocab.bpe"),
    )
    .expect("GPT-2 files")
}

fn shakespeare() -> String {
    std::fs::read_to_string(format!("{DATA}/tinyshakespeare.txt")).expect("tinyshakespeare")
}

/// Letters from a small linear congruential generator: one long pre-token with many
/// different pairs.
fn letters(n: usize) -> String {
    let mut x = 12345u64;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (b'a' + ((x >> 33) % 26) as u8) as char
        })
        .collect()
}

/// Words from a syllable lexicon, for the 500,000-word training set.
fn words(n: usize) -> String {
    let syl = [
        "ka", "to", "ri", "men", "sa", "lo", "pe", "dun", "vi", "an", "te", "gor", "u", "bel",
    ];
    let mut x = 99u64;
    let mut out = String::new();
    for _ in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let k = 1 + (x >> 62) as usize;
        for j in 0..k {
            out.push_str(syl[((x >> (8 * j + 8)) % 14) as usize]);
        }
        out.push(' ');
    }
    out
}

fn encode(c: &mut Criterion) {
    let tok = gpt2();
    let text = shakespeare();
    let lines: Vec<String> = text.lines().map(|l| format!("{l}\n")).collect();
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("gpt2_tinyshakespeare", |b| {
        b.iter(|| tok.encode(black_box(&text)))
    });
    for threads in [1, 2] {
        let options = BatchOptions::new().offsets(false).threads(threads);
        g.bench_with_input(
            BenchmarkId::new("gpt2_batch_lines", threads),
            &options,
            |b, o| b.iter(|| tok.encode_batch(black_box(&lines), o)),
        );
    }
    g.finish();
}

fn hostile(c: &mut Criterion) {
    let tok = gpt2();
    let mut g = c.benchmark_group("hostile");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    for n in [10_000, 100_000, 1_000_000] {
        let text = "a".repeat(n);
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_with_input(BenchmarkId::new("one_letter", n), &text, |b, t| {
            b.iter(|| tok.encode(t))
        });
    }
    for n in [100_000, 1_000_000] {
        let text = letters(n);
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_with_input(BenchmarkId::new("letter_line", n), &text, |b, t| {
            b.iter(|| tok.encode(t))
        });
    }
    g.finish();
}

fn train(c: &mut Criterion) {
    let text = shakespeare();
    let corpus = words(500_000);
    let mut g = c.benchmark_group("train");
    g.sample_size(10);
    g.bench_function("byte_level_5000_tinyshakespeare", |b| {
        b.iter(|| ByteLevelTrainer::new(5000).train(&text).expect("trains"))
    });
    g.bench_function("word_5000_tinyshakespeare", |b| {
        b.iter(|| WordBpeTrainer::new(5000).train_text(&text).expect("trains"))
    });
    g.bench_function("word_5000_500k_words", |b| {
        b.iter(|| {
            WordBpeTrainer::new(5000)
                .train_text(&corpus)
                .expect("trains")
        })
    });
    g.finish();
}

criterion_group!(benches, encode, hostile, train);
criterion_main!(benches);
