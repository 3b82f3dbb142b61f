//! `cargo xtask bench-compare`: each workload in ferrograd and in PyTorch, in the same
//! run, alternating, at 1 and 2 threads; prints a table of medians and ratios.
//!
//! Both sides run as separate processes (`bench-runner` from `benches/`, and
//! `benches/pytorch/workloads.py`), each timing its own samples after a warm-up and
//! reporting the median; the table shows the median over the repeats. Threads are set
//! the same way on both sides: `set_num_threads` and `torch.set_num_threads`; so are
//! vector instructions with `--simd` (`FERROGRAD_SIMD` and `ATEN_CPU_CAPABILITY`).

use serde_json::Value;
use std::process::Command;

const DEFAULT_WORKLOADS: &[&str] = &[
    "logreg_loop",
    "mlp_step",
    "lm_step",
    "lm_step_sdpa",
    "matmul_64",
    "matmul_256",
    "matmul_512",
    "matmul_1024",
    "add_1m",
    "softmax_64x32000",
    "rnn_lm_step",
    "rnn_lm_step_torch_rnn",
    "linear_backward_trainable",
    "linear_backward_frozen",
    "mlp_step_graph_kept",
];

/// Workloads measured only when named with `--workloads` (each takes minutes on a
/// loaded machine): chapter 4's decoder.
const EXTRA_WORKLOADS: &[&str] = &[
    "decoder_step_30",
    "decoder_step_30_sdpa",
    "decoder_step_128",
    "decoder_step_128_sdpa",
    "decoder_generate",
    "sum_124m",
];

/// Heavy workloads (GPT-2, issue 17) measured only when `--workloads` names them.
const GPT2_WORKLOADS: &[&str] = &[
    "gpt2_124m_step",
    "gpt2_124m_lora_step",
    "gpt2_tiny_generate",
    "gpt2_124m_generate",
];

/// Vector-instruction levels `--simd` accepts: `best` leaves both libraries free;
/// the others cap ferrograd with `FERROGRAD_SIMD` and PyTorch with `ATEN_CPU_CAPABILITY`.
const SIMD_LEVELS: &[(&str, Option<&str>, Option<&str>)] = &[
    ("best", None, None),
    ("avx512", Some("avx512"), Some("avx512")),
    ("avx2", Some("avx2"), Some("avx2")),
    ("baseline", Some("baseline"), Some("default")),
];

/// What `cargo xtask bench-compare --help` prints.
pub const USAGE: &str = "\
usage: cargo xtask bench-compare [--repeats N] [--samples N] [--threads 1,2] [--workloads a,b]
                                 [--simd best,avx2]

  --repeats N        rounds of alternating ferrograd / PyTorch runs (default 3)
  --samples N        timed samples per process; each process reports their median (default 10)
  --threads LIST     thread counts to measure at (default 1,2)
  --workloads LIST   comma-separated subset of: logreg_loop, mlp_step, lm_step (PyTorch's
                     attention written with matmul/masked_fill/softmax), lm_step_sdpa (the
                     same ferrograd step; PyTorch: F.scaled_dot_product_attention), matmul_64,
                     matmul_256, matmul_512, matmul_1024, add_1m, softmax_64x32000,
                     linear_backward_trainable, linear_backward_frozen, mlp_step_graph_kept,
                     rnn_lm_step (PyTorch: the notebook's loop over time steps),
                     rnn_lm_step_torch_rnn (the same ferrograd step; PyTorch: nn.RNN);
                     not by default (seconds per call): gpt2_124m_step, gpt2_124m_lora_step,
                     gpt2_tiny_generate, gpt2_124m_generate (`gpt2` names all four)
                     only when named: decoder_step_30, decoder_step_128 (chapter 4's model,
                     PyTorch's attention as the book writes it), decoder_step_30_sdpa,
                     decoder_step_128_sdpa (the same ferrograd step; PyTorch:
                     F.scaled_dot_product_attention), decoder_generate (256 tokens after
                     a 64-token prompt with the KV cache), sum_124m (the sum of 124,439,808
                     floats: reading GPT-2 124M's weights once, the memory floor under a
                     generated token)
  --simd LIST        vector-instruction levels to measure at, in the same run (default best):
                     best, avx512, avx2, baseline. A level caps ferrograd with
                     FERROGRAD_SIMD and PyTorch with ATEN_CPU_CAPABILITY (baseline: default)

Threads are set with ferrograd::tensor::set_num_threads (FERROGRAD_NUM_THREADS) and
torch.set_num_threads. Without PyTorch (python3 -m pip install torch numpy) only the
ferrograd column is measured. The page-fault column is minor faults per call over the
timed samples (after the warm-up).";

struct Options {
    repeats: usize,
    samples: usize,
    threads: Vec<usize>,
    workloads: Vec<String>,
    simd: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        repeats: 3,
        samples: 10,
        threads: vec![1, 2],
        workloads: DEFAULT_WORKLOADS.iter().map(|s| s.to_string()).collect(),
        simd: vec!["best".to_string()],
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_string());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--repeats" => options.repeats = value.parse().map_err(|_| "bad --repeats")?,
            "--samples" => options.samples = value.parse().map_err(|_| "bad --samples")?,
            "--threads" => {
                options.threads = value
                    .split(',')
                    .map(|t| t.parse().map_err(|_| format!("bad thread count {t}")))
                    .collect::<Result<_, _>>()?
            }
            "--workloads" => {
                options.workloads = value
                    .split(',')
                    .flat_map(|w| match w {
                        "gpt2" => GPT2_WORKLOADS.to_vec(),
                        _ => vec![w],
                    })
                    .map(str::to_string)
                    .collect();
                if let Some(bad) = options.workloads.iter().find(|w| {
                    !DEFAULT_WORKLOADS.contains(&w.as_str())
                        && !GPT2_WORKLOADS.contains(&w.as_str())
                        && !EXTRA_WORKLOADS.contains(&w.as_str())
                }) {
                    return Err(format!("unknown workload {bad}\n\n{USAGE}"));
                }
            }
            "--simd" => {
                options.simd = value.split(',').map(str::to_string).collect();
                if let Some(bad) = options
                    .simd
                    .iter()
                    .find(|s| !SIMD_LEVELS.iter().any(|(name, _, _)| name == s))
                {
                    return Err(format!("unknown SIMD level {bad}\n\n{USAGE}"));
                }
            }
            other => return Err(format!("unknown flag {other}\n\n{USAGE}")),
        }
    }
    Ok(options)
}

/// The JSON line a bench side prints last; an error naming the command, its exit status
/// and the end of its stderr when it fails or prints no JSON.
fn run_json(command: &mut Command) -> Result<Value, String> {
    let shown = format!("{command:?}");
    let output = command
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    if !output.status.success() {
        return Err(format!(
            "{shown} failed ({}):\n{}",
            output.status,
            tail.join("\n")
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| format!("{shown} printed no JSON result:\n{}", tail.join("\n")))
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

fn format_time(seconds: Option<f64>) -> String {
    match seconds {
        None => "n/a".into(),
        Some(s) if s < 1e-3 => format!("{:.1} µs", s * 1e6),
        Some(s) if s < 1.0 => format!("{:.2} ms", s * 1e3),
        Some(s) => format!("{s:.2} s"),
    }
}

/// Runs the comparison; see the module docs.
pub fn bench_compare(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    let options = parse(args)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    eprintln!("==> building bench-runner (release)");
    let status = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "ferrograd-benches",
            "--bin",
            "bench-runner",
        ])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building bench-runner failed".into());
    }
    // Where cargo put it: CARGO_TARGET_DIR (relative to the workspace), build.target-dir
    // of a cargo config, or the default.
    let runner = crate::target_directory()?.join("release/bench-runner");
    let script = format!("{root}/benches/pytorch/workloads.py");
    let torch = Command::new("python3")
        .args(["-c", "import torch; print(torch.__version__)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match &torch {
        Some(version) => eprintln!("==> PyTorch {version} found: measuring both sides"),
        None => eprintln!(
            "==> PyTorch not found: measuring ferrograd alone. Install it with\n    \
             python3 -m pip install torch numpy"
        ),
    }
    println!(
        "| workload | simd | threads | unit | ferrograd | PyTorch | ratio (ferrograd / PyTorch) | peak RSS ferrograd / PyTorch | page faults / call ferrograd / PyTorch |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut python_failures = Vec::new();
    for level in &options.simd {
        let (_, ours_cap, torch_cap) = SIMD_LEVELS
            .iter()
            .find(|(name, _, _)| name == level)
            .copied()
            .unwrap_or(("best", None, None));
        for &threads in &options.threads {
            for workload in &options.workloads {
                let (mut ours, mut theirs) = (Vec::new(), Vec::new());
                let (mut our_rss, mut their_rss) = (0u64, 0u64);
                let (mut our_faults, mut their_faults) = (Vec::new(), Vec::new());
                let (mut unit, mut our_level, mut their_level) =
                    (String::new(), String::new(), String::new());
                for _ in 0..options.repeats {
                    let samples = options.samples.to_string();
                    let threads_arg = threads.to_string();
                    let mut runner_cmd = Command::new(&runner);
                    runner_cmd.args([
                        workload.as_str(),
                        "--threads",
                        &threads_arg,
                        "--samples",
                        &samples,
                    ]);
                    match ours_cap {
                        Some(cap) => runner_cmd.env("FERROGRAD_SIMD", cap),
                        None => runner_cmd.env_remove("FERROGRAD_SIMD"),
                    };
                    // ferrograd's side failing is a bug: stop with its error.
                    {
                        let v = run_json(&mut runner_cmd)?;
                        ours.extend(v["median_s"].as_f64());
                        our_faults.extend(v["minor_faults_per_call"].as_f64());
                        our_rss = our_rss.max(v["max_rss_kib"].as_u64().unwrap_or(0));
                        unit = v["unit"].as_str().unwrap_or_default().to_string();
                        our_level = v["simd"].as_str().unwrap_or_default().to_string();
                    }
                    if torch.is_some() {
                        let mut python = Command::new("python3");
                        python.args([
                            script.as_str(),
                            workload.as_str(),
                            "--threads",
                            &threads_arg,
                            "--samples",
                            &samples,
                        ]);
                        match torch_cap {
                            Some(cap) => python.env("ATEN_CPU_CAPABILITY", cap),
                            None => python.env_remove("ATEN_CPU_CAPABILITY"),
                        };
                        // PyTorch's side failing leaves its cells n/a; the command still
                        // fails at the end, naming it.
                        match run_json(&mut python) {
                            Ok(v) => {
                                theirs.extend(v["median_s"].as_f64());
                                their_faults.extend(v["minor_faults_per_call"].as_f64());
                                their_rss = their_rss.max(v["max_rss_kib"].as_u64().unwrap_or(0));
                                their_level =
                                    v["cpu_capability"].as_str().unwrap_or_default().to_string();
                            }
                            Err(e) => {
                                eprintln!("==> {e}");
                                python_failures.push(format!("{workload} ({threads} threads)"));
                            }
                        }
                    }
                }
                let (a, b) = (median(&mut ours), median(&mut theirs));
                let ratio = match (a, b) {
                    (Some(a), Some(b)) => format!("{:.3}", a / b),
                    _ => "n/a".into(),
                };
                let faults = |v: &mut Vec<f64>| {
                    median(v).map_or_else(|| "n/a".to_string(), |f| format!("{f:.1}"))
                };
                println!(
                    "| {workload} | {our_level} / {their_level} | {threads} | {unit} | {} | {} | {ratio} | {} / {} MiB | {} / {} |",
                    format_time(a),
                    format_time(b),
                    our_rss / 1024,
                    their_rss / 1024,
                    faults(&mut our_faults),
                    faults(&mut their_faults),
                );
            }
        }
    }
    if !python_failures.is_empty() {
        return Err(format!(
            "the PyTorch side failed for {}",
            python_failures.join(", ")
        ));
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
    fn a_failing_or_silent_side_is_an_error_naming_it_with_its_stderr() {
        let mut fails = Command::new("sh");
        fails.args([
            "-c",
            "echo first; echo 'thread main panicked: boom' >&2; exit 3",
        ]);
        let e = run_json(&mut fails).unwrap_err();
        assert!(
            e.contains("boom") && e.contains('3') && e.contains("sh"),
            "{e}"
        );
        let mut silent = Command::new("sh");
        silent.args(["-c", "echo not json"]);
        let e = run_json(&mut silent).unwrap_err();
        assert!(e.contains("no JSON"), "{e}");
        let mut fine = Command::new("sh");
        fine.args(["-c", "echo warming up; echo '{\"median_s\": 0.5}'"]);
        assert_eq!(run_json(&mut fine).unwrap()["median_s"].as_f64(), Some(0.5));
    }

    #[test]
    fn flags_parse_and_bad_ones_show_the_usage() {
        let o = parse(&args(&[
            "--threads",
            "1,4",
            "--workloads",
            "mlp_step,add_1m",
        ]))
        .unwrap();
        assert_eq!(o.threads, vec![1, 4]);
        assert_eq!(o.workloads, vec!["mlp_step", "add_1m"]);
        assert_eq!((o.repeats, o.samples), (3, 10));
        assert_eq!(o.simd, vec!["best"]);
        let o = parse(&args(&["--workloads", "gpt2,add_1m"])).unwrap();
        assert_eq!(o.workloads.len(), 5);
        assert_eq!(o.workloads[0], "gpt2_124m_step");
        let o = parse(&args(&["--simd", "best,avx2"])).unwrap();
        assert_eq!(o.simd, vec!["best", "avx2"]);
        assert!(parse(&args(&["--simd", "sse9"])).is_err());
        let help = parse(&args(&["--help"])).err().unwrap();
        assert!(help.starts_with("usage: cargo xtask bench-compare"));
        let bad = parse(&args(&["--workloads", "mlp_stpe"])).err().unwrap();
        assert!(bad.starts_with("unknown workload mlp_stpe"), "{bad}");
        assert!(parse(&args(&["--repeats"])).is_err());
        assert!(parse(&args(&["--frobnicate", "1"])).is_err());
    }
}
