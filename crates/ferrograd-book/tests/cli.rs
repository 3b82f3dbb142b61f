//! The command line: help, errors, one section, `chapter1 --json`, chapter 2 and `all`.

use crate::common;

use common::{book, missing_folder};

fn help(args: &[&str]) -> String {
    let out = book().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_lists_every_chapter_and_section() {
    let text = help(&["--help"]);
    for command in ["all", "chapter1", "chapter2", "chapter5"] {
        assert!(text.contains(command), "{command}: {text}");
    }
    assert!(text.contains("--out") && text.contains("--json"));
    let text = help(&["chapter1", "--help"]);
    for s in ferrograd_book::Section::ALL {
        assert!(text.contains(s.name()), "{}", s.name());
    }
    let text = help(&["chapter2", "--help"]);
    for s in ferrograd_book::chapter2::Section::ALL {
        assert!(text.contains(s.name()), "{}", s.name());
    }
    assert!(text.contains("--corpus"));
    let text = help(&["chapter2", "count-lm", "--help"]);
    assert!(text.contains("--prompt") && text.contains("-n"));
}

#[test]
fn unknown_commands_and_options_are_usage_errors() {
    for args in [
        &["nope"][..],
        &["chapter1", "--bogus"],
        &[],
        &["vectors", "--out"],
        &["chapter1", "nope"],
    ] {
        let out = book().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        // clap's usage line.
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Usage:"),
            "{args:?}"
        );
    }
    let out = book()
        .args(["chapter2", "count-lm", "-n", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'x'"));
}

#[test]
fn the_old_top_level_section_names_still_work() {
    let dir = missing_folder("cli-legacy");
    let out = book()
        .args(["vectors", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("a · b = 11")
    );
}

#[test]
fn chapter2_count_lm_prints_the_books_numbers() {
    let dir = missing_folder("cli-count-lm");
    let out = book()
        .args([
            "chapter2", "count-lm", "-n", "3", "--prompt", "my lord", "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // 1/13 and 3/13, and the tie going to the first-seen "powerful".
    assert!(
        text.contains("Pr(sing | language models) = 0.076923"),
        "{text}"
    );
    assert!(
        text.contains("Pr(language | are useful) = 0.230769"),
        "{text}"
    );
    assert!(
        text.contains("predict after models are         → powerful"),
        "{text}"
    );
    assert!(text.contains("\"my lord\" → next"), "{text}");
    assert!(dir.join("count_lm_perplexity.png").is_file());
}

#[test]
fn chapter2_on_a_corpus_file_and_bad_corpora() {
    let dir = missing_folder("cli-corpus");
    std::fs::create_dir_all(&dir).unwrap();
    let corpus = dir.join("corpus.txt");
    std::fs::write(
        &corpus,
        "the cat sat on the mat. the dog sat on the log.\n".repeat(40),
    )
    .unwrap();
    let out = book()
        .args(["chapter2", "evaluation", "--json", "-n", "2", "--corpus"])
        .arg(&corpus)
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &v["evaluation"]["results"];
    assert!(r["perplexity"].as_f64().unwrap().is_finite());
    // exp(−(1/8) Σ ln p) of the example's probabilities, by hand: the product is
    // 0.4·0.2·0.5·0.1·0.3·0.25·0.6·0.05 = 9e-6, and 9e-6^(−1/8) = 4.27287…
    let expected = 9e-6f64.powf(-1.0 / 8.0);
    assert!((r["example_perplexity"].as_f64().unwrap() - expected).abs() < 1e-12);
    for bad in [dir.join("missing.txt"), {
        let empty = dir.join("empty.txt");
        std::fs::write(&empty, "").unwrap();
        empty
    }] {
        let out = book()
            .args(["chapter2", "count-lm", "--corpus"])
            .arg(&bad)
            .arg("--out")
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", bad.display());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("error in count-lm"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = book()
        .args(["chapter2", "count-lm", "-n", "0", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid n = 0"));
}

#[test]
fn one_section_prints_its_numbers_and_writes_its_figures() {
    let dir = missing_folder("cli-linear");
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
    let dir = missing_folder("cli-quiet");
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
    let dir = missing_folder("cli-json");
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
    let dir = missing_folder("cli-no-font");
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

#[test]
fn all_runs_every_chapter_on_built_in_data() {
    let dir = missing_folder("cli-all");
    let out = book()
        .args(["all", "--json", "--quiet", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for s in ferrograd_book::Section::ALL {
        assert!(
            v["chapter1"][s.name()]["results"].is_object(),
            "{}",
            s.name()
        );
    }
    for s in ferrograd_book::chapter2::Section::ALL {
        assert!(
            v["chapter2"][s.name()]["results"].is_object(),
            "{}",
            s.name()
        );
    }
    for s in ferrograd_book::chapter5::Section::ALL {
        assert!(
            v["chapter5"][s.name()]["results"].is_object(),
            "{}",
            s.name()
        );
    }
    // tinyshakespeare, 90/10, n = 5: the Python port of the notebook's perplexity
    // (crates/ferrograd-lm/tests/data/count_lm_tinyshakespeare.json), 291.5062280786614.
    let ppl = v["chapter2"]["evaluation"]["results"]["perplexity"]
        .as_f64()
        .unwrap();
    assert!((ppl - 291.5062280786614).abs() < 1e-9 * 291.5);
}
