//! The ferrograd side of `cargo xtask bench-tokenize`: runs one workload and prints its
//! timing as one JSON line, the same format as `benches/tokenizers/workloads.py`.
//!
//! ```text
//! tokenize-runner WORKLOAD --data DIR [--corpus FILE] [--threads N] [--samples S]
//! tokenize-runner make-corpus FILE WORDS
//! ```
//!
//! Workloads: `train_shakespeare` and `train_corpus` (a 5,000-token byte-level BPE, GPT-2
//! pre-tokenisation, `<|endoftext|>` special, on tinyshakespeare or `--corpus`),
//! `encode_shakespeare` (GPT-2's vocabulary, the whole file as one text, one thread),
//! `encode_batch` (GPT-2, the file's lines as a batch, `--threads` threads). `DIR` is the
//! crate's `testdata`. Every sample is one call, after one warm-up call; the file is read
//! once, before timing.

use ferrograd_tokenize::{BatchOptions, ByteLevelBpe, ByteLevelTrainer};
use std::time::Instant;

fn max_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// A deterministic ~natural-looking corpus: words drawn from a 60,000-word synthetic
/// lexicon (syllables) with Zipf frequencies, in sentences with commas and full stops,
/// a few sentences a line.
fn make_corpus(path: &str, words: usize) -> std::io::Result<()> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut rng = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let onsets = [
        "", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
        "th", "st", "tr", "ch", "sh", "pl", "gr", "br",
    ];
    let nuclei = ["a", "e", "i", "o", "u", "ea", "ou", "ai", "y"];
    let codas = ["", "", "n", "r", "s", "t", "l", "nd", "ng", "st", "ck"];
    let mut lexicon: Vec<String> = Vec::with_capacity(60_000);
    let mut seen = std::collections::HashSet::new();
    while lexicon.len() < 60_000 {
        let syllables = 1 + (rng() % 3) as usize;
        let mut w = String::new();
        for _ in 0..syllables {
            w.push_str(onsets[(rng() % onsets.len() as u64) as usize]);
            w.push_str(nuclei[(rng() % nuclei.len() as u64) as usize]);
            w.push_str(codas[(rng() % codas.len() as u64) as usize]);
        }
        if seen.insert(w.clone()) {
            lexicon.push(w);
        }
    }
    let mut cumulative = Vec::with_capacity(lexicon.len());
    let mut total = 0.0f64;
    for rank in 0..lexicon.len() {
        total += 1.0 / (rank as f64 + 2.7);
        cumulative.push(total);
    }
    let mut out = String::with_capacity(words * 7);
    let mut sentence_left = 0;
    let mut sentences_on_line = 0;
    for _ in 0..words {
        if sentence_left == 0 {
            sentence_left = 8 + (rng() % 13) as usize;
        }
        let u = (rng() >> 11) as f64 / (1u64 << 53) as f64 * total;
        let i = cumulative
            .partition_point(|&c| c < u)
            .min(lexicon.len() - 1);
        let word = &lexicon[i];
        let starting = out.is_empty() || out.ends_with(". ") || out.ends_with('\n');
        if starting {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push_str(word);
        }
        sentence_left -= 1;
        if sentence_left == 0 {
            out.push('.');
            sentences_on_line += 1;
            if sentences_on_line > (rng() % 3) as usize {
                out.push('\n');
                sentences_on_line = 0;
            } else {
                out.push(' ');
            }
        } else if rng() % 12 == 0 {
            out.push_str(", ");
        } else {
            out.push(' ');
        }
    }
    std::fs::write(path, out)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!(
            "usage: tokenize-runner WORKLOAD --data DIR [--corpus FILE] [--threads N] [--samples S]\n       tokenize-runner make-corpus FILE WORDS"
        );
        std::process::exit(2);
    };
    let Some(name) = args.first() else { usage() };
    if name == "make-corpus" {
        let (Some(path), Some(words)) = (args.get(1), args.get(2).and_then(|w| w.parse().ok()))
        else {
            usage()
        };
        make_corpus(path, words).unwrap_or_else(|e| {
            eprintln!("make-corpus: {e}");
            std::process::exit(1)
        });
        return;
    }
    let (mut data, mut corpus, mut threads, mut samples) = (None, None, 1usize, 5usize);
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let Some(value) = rest.next() else { usage() };
        match flag.as_str() {
            "--data" => data = Some(value.clone()),
            "--corpus" => corpus = Some(value.clone()),
            "--threads" => threads = value.parse().unwrap_or_else(|_| usage()),
            "--samples" => samples = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let Some(data) = data else { usage() };
    let read = |p: &str| {
        std::fs::read_to_string(p).unwrap_or_else(|e| {
            eprintln!("{p}: {e}");
            std::process::exit(1)
        })
    };
    let shakespeare = read(&format!("{data}/tinyshakespeare.txt"));
    let gpt2 = || {
        ByteLevelBpe::from_openai_files(
            format!("{data}/gpt2/encoder.json"),
            format!("{data}/gpt2/vocab.bpe"),
        )
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        })
    };
    let (text, mut run, unit): (String, Box<dyn FnMut() -> usize>, &str) = match name.as_str() {
        "train_shakespeare" | "train_corpus" => {
            let text = if name == "train_corpus" {
                read(corpus.as_deref().unwrap_or_else(|| usage()))
            } else {
                shakespeare
            };
            let t = text.clone();
            let trainer = ByteLevelTrainer::new(5000).threads(threads);
            (
                text,
                Box::new(move || trainer.train(&t).map_or(0, |b| b.vocab_size())),
                "train",
            )
        }
        "encode_shakespeare" => {
            let tok = gpt2();
            let t = shakespeare.clone();
            (shakespeare, Box::new(move || tok.encode(&t).len()), "MB/s")
        }
        "encode_batch" => {
            let tok = gpt2();
            let lines: Vec<String> = shakespeare.lines().map(|l| format!("{l}\n")).collect();
            let options = BatchOptions::new().offsets(false).threads(threads);
            (
                shakespeare,
                Box::new(move || tok.encode_batch(&lines, &options).len()),
                "MB/s",
            )
        }
        _ => usage(),
    };
    let check = run(); // warm-up
    let mut times: Vec<f64> = (0..samples.max(1))
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(run());
            start.elapsed().as_secs_f64()
        })
        .collect();
    let list = times
        .iter()
        .map(|t| format!("{t:e}"))
        .collect::<Vec<_>>()
        .join(", ");
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{{\"workload\": \"{name}\", \"threads\": {threads}, \"unit\": \"{unit}\", \"bytes\": {}, \"median_s\": {median:e}, \"samples_s\": [{list}], \"result\": {check}, \"max_rss_kib\": {}}}",
        text.len(),
        max_rss_kib()
    );
}
