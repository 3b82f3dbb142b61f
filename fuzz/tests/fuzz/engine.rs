//! The engine and its supervisor against targets with planted bugs: each kind of finding
//! (panic, allocation over the cap, hang, crash) is reported, its input saved (panics
//! minimized), and fuzzing goes on after it; a clean target reports no finding.

use std::path::PathBuf;
use std::process::Command;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ferrograd-fuzz-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the fuzzer on one target; returns (exit code, stderr, saved regression files).
fn fuzz(target: &str, extra: &[&str]) -> (i32, String, Vec<(String, Vec<u8>)>) {
    let dir = TempDir::new(target);
    let output = Command::new(env!("CARGO_BIN_EXE_ferrograd-fuzz"))
        .args([target, "--seconds", "1", "--regressions"])
        .arg(&dir.0)
        .args(extra)
        .output()
        .expect("the fuzzer runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let files = ferrograd_fuzz::files_in(&dir.0.join(target))
        .unwrap()
        .into_iter()
        .map(|(p, b)| (p.file_name().unwrap().to_string_lossy().into_owned(), b))
        .collect();
    (output.status.code().unwrap_or(-1), stderr, files)
}

/// The summary line's execution count.
fn execs(stderr: &str, target: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("fuzz {target} ")))
        .unwrap_or_else(|| panic!("no summary line in:\n{stderr}"));
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

#[test]
fn a_panic_is_minimized_saved_and_fuzzing_goes_on() {
    let (code, stderr, files) = fuzz("selftest-panic", &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("FINDING selftest-panic panic at execution 1: panicked at")
            && stderr.contains("planted panic")
            && stderr.contains("minimized from 8 to 4 bytes"),
        "{stderr}"
    );
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].0.starts_with("panic-"));
    assert_eq!(files[0].1, b"boom");
    assert!(execs(&stderr, "selftest-panic") > 100, "{stderr}");
}

#[test]
fn an_allocation_over_the_cap_is_saved_and_fuzzing_goes_on() {
    let (code, stderr, files) = fuzz("selftest-alloc", &["--max-alloc-mb", "16"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "FINDING selftest-alloc alloc at execution 1: allocation of 1099511627776 bytes \
             exceeds the per-request cap of 16777216 bytes"
        ),
        "{stderr}"
    );
    // Mutants starting with "alloc" trip too; each distinct input is saved once.
    assert!(
        files
            .iter()
            .any(|(n, b)| n.starts_with("alloc-") && b == b"alloc"),
        "{files:?}"
    );
    assert!(
        files.iter().all(|(_, b)| b.starts_with(b"alloc")),
        "{files:?}"
    );
    // Each trip costs a new worker process, so fewer executions than in-process.
    assert!(execs(&stderr, "selftest-alloc") > 10, "{stderr}");
}

#[test]
fn a_hang_is_saved_after_the_timeout() {
    let (code, stderr, files) = fuzz("selftest-hang", &["--timeout", "0.3"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("FINDING selftest-hang hang at execution 1: one run took more than 0.3 s"),
        "{stderr}"
    );
    assert!(
        files
            .iter()
            .any(|(n, b)| n.starts_with("hang-") && b == b"hang"),
        "{files:?}"
    );
}

#[test]
fn a_crash_without_a_record_is_found_by_tracing() {
    let (code, stderr, files) = fuzz("selftest-crash", &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("FINDING selftest-crash crash at execution 1: the worker died"),
        "{stderr}"
    );
    assert!(
        files
            .iter()
            .any(|(n, b)| n.starts_with("crash-") && b == b"crash"),
        "{files:?}"
    );
}

#[test]
fn a_clean_target_reports_its_rate_and_no_finding() {
    let (code, stderr, files) = fuzz("csv", &["--seed", "5"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(files.is_empty(), "{files:?}");
    assert!(stderr.contains("0 finding(s)"), "{stderr}");
    assert!(execs(&stderr, "csv") > 100, "{stderr}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    for args in [&["no-such-target"][..], &["--seconds", "-1"], &["--bogus"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_ferrograd-fuzz"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}
