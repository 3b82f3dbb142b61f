//! Project automation for ferrograd, run as `cargo xtask <command>`.
//!
//! * `cargo xtask ci` — everything CI checks, in order, stopping at the first failure.
//! * `cargo xtask layering` — only the crate-layering check.
//! * `cargo xtask circles` — only the import-circle check (files of a crate importing
//!   each other in a loop).
//! * `cargo xtask bench-compare` — workloads timed in ferrograd and PyTorch, side by side.
//! * `cargo xtask fuzz [TARGET...] [--seconds N] [--seed S] [--dev]` — the fuzz targets
//!   (`fuzz/`), each for N seconds (default 30), in a release build (`--dev`: the
//!   test build, with overflow checks).
//! * `cargo xtask bench-tokenize` — ferrograd-tokenize beside HF tokenizers and tiktoken.

mod bench_compare;
mod bench_tokenize;
mod circles;
mod layers;

use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("layering") => layering(),
        Some("circles") => circles(),
        Some("bench-compare") => bench_compare::bench_compare(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("bench-tokenize") => bench_tokenize::bench_tokenize(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | layering | circles | bench-compare | bench-tokenize | fuzz>"
            );
            eprintln!(
                "  ci        fmt, layering, circles, clippy, tests, docs, fuzzing, benches compiled"
            );
            eprintln!("  layering  check that every crate depends only on lower layers");
            eprintln!("  circles   check that no crate's files import each other in a loop");
            eprintln!(
                "  bench-compare [--repeats N] [--samples N] [--threads 1,2] [--workloads a,b]"
            );
            eprintln!("            time each workload in ferrograd and PyTorch, alternating");
            eprintln!(
                "  bench-tokenize [--repeats N] [--samples N] [--threads 1,2] [--workloads a,b]"
            );
            eprintln!(
                "            ferrograd-tokenize beside HF tokenizers and tiktoken, alternating"
            );
            eprintln!("  fuzz [TARGET...] [--seconds N] [--seed S] [--dev] [fuzzer options]");
            eprintln!("            fuzz each target for N seconds (default 30) in a release build");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nxtask: FAILED: {message}");
            ExitCode::FAILURE
        }
    }
}

/// One step of CI: a name for the failure line and a cargo command line.
struct Step {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const STEPS: &[Step] = &[
    Step {
        name: "rustfmt",
        args: &["fmt", "--all", "--", "--check"],
        env: &[],
    },
    Step {
        name: "clippy",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
    },
    Step {
        name: "tests (unit, integration and doc-tests)",
        args: &["test", "--workspace", "--all-features"],
        env: &[],
    },
    Step {
        name: "docs",
        args: &["doc", "--workspace", "--no-deps", "--all-features"],
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
    // In the test profile, with the tests' features: the step then reuses everything the
    // test step built and compiles only the bench targets (45 s in CI on a 2-core Zen 3,
    // against 650 s for `cargo bench --no-run`, which builds the whole stack again with
    // release LTO).
    Step {
        name: "benches compiled",
        args: &[
            "test",
            "--workspace",
            "--all-features",
            "--benches",
            "--no-run",
        ],
        env: &[],
    },
];

/// Seconds each fuzz target runs in CI: enough to replay its corpus and try some
/// hundred thousand mutants, small against CI's budget.
const CI_FUZZ_SECONDS: &str = "3";

fn ci() -> Result<(), String> {
    let start = Instant::now();
    run_step(&STEPS[0])?;
    announce("crate layering");
    layering()?;
    announce("import circles");
    circles()?;
    for step in &STEPS[1..] {
        run_step(step)?;
        if step.name.starts_with("tests") {
            // After the tests: their build made the fuzzer (the fuzz crate's tests run
            // it), so this step compiles nothing.
            announce("fuzzing (every target, short)");
            let started = Instant::now();
            let binary = fuzzer_path(true)?;
            if !binary.exists() {
                build_fuzzer(true)?;
            }
            run_fuzzer(&binary, &["--seconds", CI_FUZZ_SECONDS])?;
            eprintln!("    fuzzing ok ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    eprintln!(
        "\nxtask ci: all steps passed in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn announce(name: &str) {
    eprintln!("\n==> xtask ci: {name}");
}

fn run_step(step: &Step) -> Result<(), String> {
    announce(step.name);
    let started = Instant::now();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(step.args);
    for (key, value) in step.env {
        command.env(key, value);
    }
    let status = command
        .status()
        .map_err(|e| format!("step `{}` could not start cargo: {e}", step.name))?;
    if !status.success() {
        return Err(format!(
            "step `{}` failed ({status}): cargo {}",
            step.name,
            step.args.join(" ")
        ));
    }
    eprintln!(
        "    {} ok ({:.0} s)",
        step.name,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `cargo xtask fuzz`: builds the fuzzer and runs it. `--dev` uses the test build
/// (with overflow checks on, and the dependencies `cargo test --workspace --all-features`
/// built); otherwise a release build. Other arguments go to the fuzzer.
fn fuzz(args: &[String]) -> Result<(), String> {
    let dev = args.iter().any(|a| a == "--dev");
    let mut passed: Vec<&str> = args
        .iter()
        .filter(|a| *a != "--dev")
        .map(String::as_str)
        .collect();
    if !passed.contains(&"--seconds") {
        passed.extend(["--seconds", "30"]);
    }
    build_fuzzer(dev)?;
    run_fuzzer(&fuzzer_path(dev)?, &passed)
}

fn build_fuzzer(dev: bool) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(&cargo);
    // The package selection and features of the CI steps, so that the dependencies
    // they built are reused.
    build.args([
        "build",
        "--workspace",
        "--all-features",
        "--bin",
        "ferrograd-fuzz",
    ]);
    if !dev {
        build.arg("--release");
    }
    let status = build
        .status()
        .map_err(|e| format!("fuzz: could not start cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("fuzz: building the fuzzer failed ({status})"))
    }
}

fn fuzzer_path(dev: bool) -> Result<std::path::PathBuf, String> {
    Ok(target_directory()?
        .join(if dev { "debug" } else { "release" })
        .join(format!("ferrograd-fuzz{}", std::env::consts::EXE_SUFFIX)))
}

fn run_fuzzer(binary: &std::path::Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new(binary)
        .args(args)
        .status()
        .map_err(|e| format!("fuzz: could not start {}: {e}", binary.display()))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(format!(
            "fuzz: the fuzzer reported findings; their inputs are saved under \
             fuzz/regressions/<target>/, replay one with `{} --replay TARGET FILE`",
            binary.display()
        )),
        _ => Err(format!("fuzz: the fuzzer failed ({status})")),
    }
}

/// Cargo's target directory (honours `CARGO_TARGET_DIR` and `.cargo/config.toml`).
fn target_directory() -> Result<std::path::PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("unreadable cargo metadata: {e}"))?;
    metadata["target_directory"]
        .as_str()
        .map(Into::into)
        .ok_or_else(|| "cargo metadata names no target directory".to_string())
}

/// `cargo xtask circles`: the import picture of every library crate has no circle.
fn circles() -> Result<(), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match circles::check(&root) {
        Ok(()) => {
            eprintln!("    import circles: none");
            Ok(())
        }
        Err(found) => {
            for circle in &found {
                eprintln!("    {circle}");
            }
            Err(format!(
                "step `import circles` found {} circle(s) of files importing each other",
                found.len()
            ))
        }
    }
}

fn layering() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("step `crate layering` could not run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "step `crate layering`: cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("step `crate layering`: unreadable cargo metadata: {e}"))?;
    match layers::check(&metadata) {
        Ok(()) => {
            eprintln!("    crate layering ok");
            Ok(())
        }
        Err(violations) => {
            for v in &violations {
                eprintln!("    layering violation: {v}");
            }
            Err(format!(
                "step `crate layering` found {} wrong dependency edge(s)",
                violations.len()
            ))
        }
    }
}
