//! `cargo xtask bench-tokenize`: ferrograd-tokenize side by side with HF tokenizers and
//! tiktoken (Python packages with Rust cores), in one run, alternating.
//!
//! Each side runs as its own process — `tokenize-runner` (an example of
//! ferrograd-tokenize) and `benches/tokenizers/workloads.py` — timing its samples after a
//! warm-up call and reporting the median; the table shows the median over the repeats.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const WORKLOADS: &[&str] = &[
    "train_shakespeare",
    "train_corpus",
    "encode_shakespeare",
    "encode_batch",
];

/// What `cargo xtask bench-tokenize --help` prints.
pub const USAGE: &str = "\
usage: cargo xtask bench-tokenize [--repeats N] [--samples N] [--threads 1,2] [--workloads a,b]

  --repeats N        rounds of alternating ferrograd / HF tokenizers / tiktoken runs (default 3)
  --samples N        timed calls per process; each process reports their median (default 5)
  --threads LIST     thread counts for the training and batch workloads (default 1,2);
                     encode_shakespeare always runs on one thread
  --workloads LIST   subset of: train_shakespeare, train_corpus, encode_shakespeare, encode_batch

train_*: a 5,000-token byte-level BPE (GPT-2 pre-tokenisation) on tinyshakespeare or on a
generated 1,000,000-word corpus (written once to $CARGO_TARGET_DIR/tokenize-bench/);
encode_*: GPT-2's vocabulary on tinyshakespeare, as one text or its lines as a batch. The
other side needs `python3 -m pip install tokenizers tiktoken`; without it only ferrograd
is measured.";

struct Options {
    repeats: usize,
    samples: usize,
    threads: Vec<usize>,
    workloads: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        repeats: 3,
        samples: 5,
        threads: vec![1, 2],
        workloads: WORKLOADS.iter().map(|s| s.to_string()).collect(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_string());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--repeats" => o.repeats = value.parse().map_err(|_| "bad --repeats")?,
            "--samples" => o.samples = value.parse().map_err(|_| "bad --samples")?,
            "--threads" => {
                o.threads = value
                    .split(',')
                    .map(|t| t.parse().map_err(|_| format!("bad thread count {t}")))
                    .collect::<Result<_, _>>()?
            }
            "--workloads" => {
                o.workloads = value.split(',').map(str::to_string).collect();
                if let Some(bad) = o
                    .workloads
                    .iter()
                    .find(|w| !WORKLOADS.contains(&w.as_str()))
                {
                    return Err(format!("unknown workload {bad}\n\n{USAGE}"));
                }
            }
            other => return Err(format!("unknown flag {other}\n\n{USAGE}")),
        }
    }
    Ok(o)
}

fn run_json(command: &mut Command) -> Option<Value> {
    let output = command.output().ok()?;
    if !output.status.success() {
        eprintln!(
            "    failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.lines().last()?).ok()
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

fn cell(seconds: Option<f64>, bytes: f64, unit: &str) -> String {
    match seconds {
        None => "n/a".into(),
        Some(s) if unit == "MB/s" => format!("{:.1} ms ({:.1} MB/s)", s * 1e3, bytes / s / 1e6),
        Some(s) => format!("{:.1} ms", s * 1e3),
    }
}

fn ratio(theirs: Option<f64>, ours: Option<f64>) -> String {
    match (theirs, ours) {
        (Some(t), Some(o)) => format!("{:.2}×", t / o),
        _ => "n/a".into(),
    }
}

/// Runs the comparison; see the module docs.
pub fn bench_tokenize(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    let o = parse(args)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    eprintln!("==> building tokenize-runner (release)");
    let status = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "ferrograd-tokenize",
            "--example",
            "tokenize-runner",
        ])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building tokenize-runner failed".into());
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| format!("{root}/target"));
    let runner = format!("{target}/release/examples/tokenize-runner");
    let data = format!("{root}/crates/ferrograd-tokenize/testdata");
    let script = format!("{root}/benches/tokenizers/workloads.py");
    let corpus_dir = format!("{target}/tokenize-bench");
    let corpus = format!("{corpus_dir}/corpus_1m.txt");
    if !Path::new(&corpus).exists() {
        std::fs::create_dir_all(&corpus_dir).map_err(|e| format!("{corpus_dir}: {e}"))?;
        eprintln!("==> writing the 1,000,000-word corpus to {corpus}");
        let ok = Command::new(&runner)
            .args(["make-corpus", &corpus, "1000000"])
            .status()
            .map_err(|e| format!("{runner}: {e}"))?
            .success();
        if !ok {
            return Err("make-corpus failed".into());
        }
    }
    let python = Command::new("python3")
        .args([
            "-c",
            "import tokenizers, tiktoken; print(tokenizers.__version__, tiktoken.__version__)",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match &python {
        Some(v) => eprintln!("==> tokenizers / tiktoken {v} found: measuring all sides"),
        None => eprintln!(
            "==> tokenizers or tiktoken not found: measuring ferrograd alone. Install them with\n    \
             python3 -m pip install tokenizers tiktoken"
        ),
    }
    println!(
        "| workload | threads | ferrograd | HF tokenizers | tiktoken | HF / ferrograd | tiktoken / ferrograd |"
    );
    println!("|---|---|---|---|---|---|---|");
    for workload in &o.workloads {
        let thread_counts: &[usize] = if workload == "encode_shakespeare" {
            &[1]
        } else {
            &o.threads
        };
        let training = workload.starts_with("train");
        for &threads in thread_counts {
            let (mut ours, mut hf, mut tk) = (Vec::new(), Vec::new(), Vec::new());
            let (mut unit, mut bytes) = (String::new(), 0.0);
            let t = threads.to_string();
            let s = o.samples.to_string();
            let common = [
                "--data",
                data.as_str(),
                "--corpus",
                corpus.as_str(),
                "--threads",
                t.as_str(),
                "--samples",
                s.as_str(),
            ];
            for _ in 0..o.repeats {
                if let Some(v) = run_json(Command::new(&runner).arg(workload).args(common)) {
                    ours.extend(v["median_s"].as_f64());
                    unit = v["unit"].as_str().unwrap_or_default().to_string();
                    bytes = v["bytes"].as_f64().unwrap_or(0.0);
                }
                if python.is_none() {
                    continue;
                }
                let libraries: &[&str] = if training {
                    &["hf"]
                } else {
                    &["hf", "tiktoken"]
                };
                for lib in libraries {
                    if let Some(v) = run_json(
                        Command::new("python3")
                            .args([script.as_str(), lib, workload])
                            .args(common),
                    ) {
                        let into = if *lib == "hf" { &mut hf } else { &mut tk };
                        into.extend(v["median_s"].as_f64());
                    }
                }
            }
            let (a, b, c) = (median(&mut ours), median(&mut hf), median(&mut tk));
            println!(
                "| {workload} | {threads} | {} | {} | {} | {} | {} |",
                cell(a, bytes, &unit),
                cell(b, bytes, &unit),
                if training {
                    "—".to_string()
                } else {
                    cell(c, bytes, &unit)
                },
                ratio(b, a),
                if training {
                    "—".to_string()
                } else {
                    ratio(c, a)
                },
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_parse_and_bad_ones_show_the_usage() {
        let o = parse(&args(&["--threads", "1,4", "--workloads", "encode_batch"])).unwrap();
        assert_eq!(o.threads, vec![1, 4]);
        assert_eq!(o.workloads, vec!["encode_batch"]);
        assert_eq!((o.repeats, o.samples), (3, 5));
        assert!(
            parse(&args(&["--help"]))
                .err()
                .unwrap()
                .starts_with("usage: cargo xtask bench-tokenize")
        );
        assert!(
            parse(&args(&["--workloads", "encode"]))
                .err()
                .unwrap()
                .starts_with("unknown workload encode")
        );
        assert!(parse(&args(&["--samples"])).is_err());
    }
}
