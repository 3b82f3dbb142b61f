//! `ferrograd-book chapter3` on a small corpus file: a training run with `--json`, a
//! checkpointed run resumed, and bad input — a corpus without usable lines, a damaged
//! checkpoint, a checkpoint of another model — each a clear error (exit status 1, a
//! message naming the problem), never a panic (status 101).

use crate::common;

use std::path::Path;
use std::process::Output;

use common::{book, scratch, sentences_corpus, stderr};

/// Small settings: a 300-id BPE, batches of 16 (and E = 8 unless told otherwise).
const SMALL: [&str; 6] = ["--vocab", "300", "--batch-size", "16", "--eval-every", "0"];

fn training(corpus: &Path, out: &Path, extra: &[&str]) -> Output {
    book()
        .args(["chapter3", "training", "--quiet", "--json", "--corpus"])
        .arg(corpus)
        .arg("--out")
        .arg(out)
        .args(SMALL)
        .args(extra)
        .args(if extra.contains(&"--emb-dim") {
            &[][..]
        } else {
            &["--emb-dim", "8"][..]
        })
        .output()
        .unwrap()
}

#[test]
fn training_on_a_corpus_file_and_resuming() {
    let dir = scratch("ch3-train");
    let corpus = sentences_corpus(&dir, 300, Some(7));
    let ckpt = dir.join("run.ckpt");
    let ckpt_arg = ckpt.to_str().unwrap();
    let out = training(
        &corpus,
        &dir,
        &[
            "--steps",
            "4",
            "--checkpoint",
            ckpt_arg,
            "--checkpoint-every",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = &json["training"]["results"];
    assert_eq!(results["steps"], 4);
    let perplexity = results["final_eval"]["perplexity"].as_f64().unwrap();
    assert!(perplexity.is_finite() && perplexity > 1.0, "{perplexity}");
    assert!(dir.join("rnn_perplexity.png").exists());
    assert!(ckpt.exists());
    // Resuming continues from step 4 to step 6.
    let out = training(
        &corpus,
        &dir,
        &["--steps", "6", "--checkpoint", ckpt_arg, "--resume"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["training"]["results"]["resumed_from"], 4);
    assert_eq!(json["training"]["results"]["steps"], 6);
}

#[test]
fn bad_corpora_and_checkpoints_are_clear_errors() {
    let dir = scratch("ch3-bad");
    // Only empty and one-token lines: nothing to learn from.
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "\n\n   \nx\n\n").unwrap();
    for section in ["data", "training"] {
        let out = book()
            .args(["chapter3", section, "--quiet", "--vocab", "260", "--corpus"])
            .arg(&empty)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{section}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    // Text that is not UTF-8 names the file.
    let binary = dir.join("binary.txt");
    std::fs::write(&binary, b"fine line here\n\xff\xfe\n").unwrap();
    let out = book()
        .args(["chapter3", "data", "--quiet", "--corpus"])
        .arg(&binary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("binary.txt") && message.contains("UTF-8"),
        "{message}"
    );

    // A checkpoint to damage, and one of another model.
    let corpus = sentences_corpus(&dir, 300, Some(7));
    let ckpt = dir.join("run.ckpt");
    let ckpt_arg = ckpt.to_str().unwrap();
    let out = training(&corpus, &dir, &["--steps", "2", "--checkpoint", ckpt_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    let good = std::fs::read(&ckpt).unwrap();
    // Damaged: cut in half, and with bytes flipped in the middle.
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 64] {
        *b ^= 0x5a;
    }
    for damaged in [good[..good.len() / 2].to_vec(), flipped] {
        std::fs::write(&ckpt, &damaged).unwrap();
        let out = training(
            &corpus,
            &dir,
            &["--steps", "4", "--checkpoint", ckpt_arg, "--resume"],
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
        // The damaged file is left as it was (the run stopped before writing).
        assert_eq!(std::fs::read(&ckpt).unwrap(), damaged);
    }
    // Another model (E = 16 instead of 8): mismatched shapes.
    std::fs::write(&ckpt, &good).unwrap();
    let out = training(
        &corpus,
        &dir,
        &[
            "--steps",
            "4",
            "--checkpoint",
            ckpt_arg,
            "--resume",
            "--emb-dim",
            "16",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&ckpt).unwrap(), good);
}
