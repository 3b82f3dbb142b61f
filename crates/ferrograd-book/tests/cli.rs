//! The command line: help, errors, one section, and `chapter1 --json`.

use std::path::Path;
use std::process::Command;

fn book() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferrograd-book"))
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn help_lists_every_section() {
    let out = book().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for s in ferrograd_book::Section::ALL {
        assert!(text.contains(s.name()), "{}", s.name());
    }
    assert!(text.contains("chapter1") && text.contains("--out") && text.contains("--json"));
}

#[test]
fn unknown_commands_and_options_are_usage_errors() {
    for args in [
        &["nope"][..],
        &["chapter1", "--bogus"],
        &[],
        &["vectors", "--out"],
    ] {
        let out = book().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("USAGE"));
    }
}

#[test]
fn one_section_prints_its_numbers_and_writes_its_figures() {
    let dir = scratch("cli-linear");
    let out = book()
        .args(["linear-regression", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("w* = 2.582418"), "{text}");
    assert!(text.contains("15403.19"), "{text}");
    assert!(dir.join("mse_surface.png").is_file());
    assert!(!dir.join("activations.png").exists());
}

#[test]
fn quiet_still_prints_the_numbers() {
    let dir = scratch("cli-quiet");
    let out = book()
        .args(["vectors", "--quiet", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("a · b = 11"), "{text}");
}

#[test]
fn chapter1_json_holds_every_section() {
    let dir = scratch("cli-json");
    let out = book()
        .args(["chapter1", "--json", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Standard output is one JSON document; standard error is not a terminal here, so no
    // progress bar is drawn (a missing font would be the only line there).
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains('\r') && !stderr.contains("ReLU units"),
        "{stderr}"
    );
    for s in ferrograd_book::Section::ALL {
        assert!(v[s.name()]["results"].is_object(), "{}", s.name());
    }
    let w = v["linear-regression"]["results"]["w"].as_f64().unwrap();
    assert!((w - 235.0 / 91.0).abs() < 1e-12);
    let loss = v["autograd"]["results"]["logistic"]["final_loss"]
        .as_f64()
        .unwrap();
    // PyTorch's final loss 0.2712114; 1e-5 relative as in the replay tests.
    assert!((loss - 0.2712114155292511).abs() / 0.2712114155292511 < 1e-5);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 9);
}

#[test]
fn without_a_font_the_figures_are_still_drawn_with_a_warning() {
    let dir = scratch("cli-no-font");
    let out = book()
        .args(["logistic-regression", "--out"])
        .arg(&dir)
        .env("FERROGRAD_BOOK_FONT", "/nonexistent/font.ttf")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("warning:") && stderr.contains("without text"),
        "{stderr}"
    );
    for name in ["logistic_loss.png", "logistic_sigmoid.png"] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name}");
    }
}
