//! Runs one workload and prints its timing as one JSON line, the same format as
//! `benches/pytorch/workloads.py` (with the minor page faults per call over the timed
//! samples, and the SIMD level in use, which `FERROGRAD_SIMD` caps):
//!
//! ```text
//! bench-runner WORKLOAD --threads N [--samples S]
//! ```
//!
//! Used by `cargo xtask bench-compare`; the thread count is set with
//! `ferrograd::tensor::set_num_threads`, as the PyTorch side calls `torch.set_num_threads`.

use ferrograd_benches::workloads;
use std::time::Instant;

fn max_rss_kib() -> u64 {
    // Linux: peak resident set size of this process.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Minor page faults of this process so far (Linux `/proc/self/stat`, field 10).
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = &s[s.rfind(')')? + 2..];
            rest.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!("usage: bench-runner WORKLOAD --threads N [--samples S]");
        eprintln!("workloads: {}", workloads::NAMES.join(", "));
        std::process::exit(2);
    };
    let Some(name) = args.first() else { usage() };
    let mut threads = 1usize;
    let mut samples = 15usize;
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| usage());
        match flag.as_str() {
            "--threads" => threads = value,
            "--samples" => samples = value,
            _ => usage(),
        }
    }
    ferrograd::tensor::set_num_threads(threads);
    let Some(mut run) = workloads::build(name) else {
        usage()
    };
    // Warm up for 0.3 s (at least 3 calls), as the PyTorch side does: caches, allocators
    // and idle cores settle (on a VM an idle vCPU can take ~100 ms to run at full speed).
    let warm_up = Instant::now();
    let mut warm_calls = 0;
    while warm_calls < 3 || warm_up.elapsed().as_secs_f64() < 0.3 {
        run();
        warm_calls += 1;
    }
    // Each sample times enough calls to last ~20 ms, as the PyTorch side does.
    let start = Instant::now();
    run();
    let once = start.elapsed().as_secs_f64().max(1e-7);
    let calls = ((0.02 / once) as usize).max(1);
    let faults_before = minor_faults();
    let mut times: Vec<f64> = (0..samples.max(1))
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                run();
            }
            start.elapsed().as_secs_f64() / calls as f64
        })
        .collect();
    let faults = (minor_faults() - faults_before) as f64 / (samples.max(1) * calls) as f64;
    let list = times
        .iter()
        .map(|t| format!("{t:e}"))
        .collect::<Vec<_>>()
        .join(", ");
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{{\"workload\": \"{name}\", \"threads\": {threads}, \"unit\": \"{}\", \"median_s\": {median:e}, \"samples_s\": [{list}], \"max_rss_kib\": {}, \"minor_faults_per_call\": {faults}, \"simd\": \"{:?}\"}}",
        workloads::unit(name),
        max_rss_kib(),
        ferrograd::linalg::cpu::simd::level()
    );
}
