//! Times the book notebook's count-model pipeline on a text file: tokenise, split 90/10,
//! count the n-grams of the first 90 %, perplexity of the rest — the same work that
//! `scripts/count_lm_reference.py --time` times in Python. Prints one JSON line.
//! THREADS (default 1) is used by all three phases: tokenising, counting and perplexity
//! (each gives the one-thread result exactly).
//!
//! ```text
//! cargo run --release -p ferrograd-lm --example count_lm_timing -- FILE [N [THREADS]]
//! ```

use std::time::Instant;

use ferrograd_lm::text::{Vocabulary, count_lm_token_ids_with_threads};
use ferrograd_lm::{CountLanguageModel, split_train_test};

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if known.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU time of this process (all threads) in seconds, if known: less disturbed than wall
/// time by other processes on a shared machine.
fn cpu_seconds() -> f64 {
    #[cfg(target_os = "linux")]
    {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid, writable timespec.
        if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) } == 0 {
            return t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9;
        }
    }
    f64::NAN
}

/// Minor page faults of this process so far (first touches of fresh memory), if known.
fn page_faults() -> f64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `usage` is a valid, writable rusage.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above; RUSAGE_SELF is always a valid target.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
            return usage.ru_minflt as f64;
        }
    }
    f64::NAN
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: count_lm_timing FILE [N [THREADS]]")?;
    let n: usize = args.next().map_or(Ok(5), |s| s.parse())?;
    let threads: usize = args.next().map_or(Ok(1), |s| s.parse())?;
    // The worker pool (tokenising, perplexity) takes part with the same number of threads
    // as the counting split.
    ferrograd_linalg::cpu::set_num_threads(threads.max(1));
    let text = std::fs::read_to_string(&path)?;
    let faults_start = page_faults();
    let start = Instant::now();
    let cpu_start = cpu_seconds();
    // Ids straight from the tokeniser: no string per token.
    let mut vocab = Vocabulary::new();
    let mut ids = count_lm_token_ids_with_threads(&text, &mut vocab, threads);
    let tokenized = start.elapsed().as_secs_f64();
    let cpu_tokenized = cpu_seconds();
    let faults_tokenized = page_faults();
    let tokens = ids.len();
    let split = split_train_test(&ids, 0.9)?.0.len();
    let test = ids.split_off(split);
    // The model's vocabulary is the training part's (ids are first-seen, so the training
    // words come first): ids past it are unknown words.
    let train_vocab_len = ids.iter().map(|&i| i + 1).max().unwrap_or(0) as usize;
    vocab.truncate(train_vocab_len);
    // The model keeps the training ids (no copy).
    let model = CountLanguageModel::train_owned_ids(n, ids, vocab, threads)?;
    let trained = start.elapsed().as_secs_f64();
    let cpu_trained = cpu_seconds();
    let faults_trained = page_faults();
    let test: Vec<Option<u32>> = test
        .iter()
        .map(|&i| ((i as usize) < train_vocab_len).then_some(i))
        .collect();
    let perplexity = model.perplexity_ids_with_threads(&test, n, threads)?;
    let seconds = start.elapsed().as_secs_f64();
    let cpu_end = cpu_seconds();
    let cpu = cpu_end - cpu_start;
    let faults_end = page_faults();
    println!(
        "{{\"seconds\": {seconds:.6}, \"cpu_seconds\": {cpu:.6}, \"tokenize_seconds\": {tokenized:.6}, \"train_seconds\": {:.6}, \"perplexity_seconds\": {:.6}, \"tokenize_cpu_seconds\": {:.6}, \"train_cpu_seconds\": {:.6}, \"perplexity_cpu_seconds\": {:.6}, \"page_faults\": [{}, {}, {}], \"tokens\": {}, \"threads\": {threads}, \"perplexity\": {perplexity}, \"model_mib\": {:.1}, \"peak_rss_mib\": {:.1}}}",
        trained - tokenized,
        seconds - trained,
        cpu_tokenized - cpu_start,
        cpu_trained - cpu_tokenized,
        cpu_end - cpu_trained,
        faults_tokenized - faults_start,
        faults_trained - faults_tokenized,
        faults_end - faults_trained,
        tokens,
        model.memory_bytes() as f64 / (1024.0 * 1024.0),
        peak_rss_mib().unwrap_or(f64::NAN)
    );
    Ok(())
}
