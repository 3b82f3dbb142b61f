//! `ferrograd-book chapter4 training` on a small corpus file, through the training run it
//! shares with chapter 3: a run with `--json` and `--export`, the same run resumed from
//! its checkpoint, and options that contradict each other, each a clear usage error
//! (exit status 1 naming the option), never a panic.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::{book, scratch, sentences_corpus, stderr};

/// A decoder of d = 8 with 2 heads and 1 block, a 300-id BPE, batches of 16.
const SMALL: [&str; 12] = [
    "--vocab",
    "300",
    "--batch-size",
    "16",
    "--eval-every",
    "0",
    "--emb-dim",
    "8",
    "--heads",
    "2",
    "--blocks",
    "1",
];

fn training(corpus: &Path, out: &Path, extra: &[&str]) -> Output {
    book()
        .args(["chapter4", "training", "--quiet", "--json", "--corpus"])
        .arg(corpus)
        .arg("--out")
        .arg(out)
        .args(SMALL)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn training_exporting_and_resuming() {
    let dir = scratch("ch4-train");
    let corpus = sentences_corpus(&dir, 200, None);
    let ckpt = dir.join("run.ckpt");
    let export = dir.join("export");
    let out = training(
        &corpus,
        &dir,
        &[
            "--steps",
            "3",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--export",
            export.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = &json["training"]["results"];
    assert_eq!(results["steps"], 3);
    assert_eq!(results["resumed_from"], serde_json::Value::Null);
    assert_eq!(results["losses"].as_array().unwrap().len(), 3);
    // The run's settings are one flat object: the model's sizes beside the run's.
    assert_eq!(results["settings"]["num_heads"], 2);
    assert_eq!(results["settings"]["batch_size"], 16);
    // 180 training lines in batches of 16.
    assert_eq!(results["examples"], serde_json::json!([180, 20]));
    let perplexity = results["final_eval"]["perplexity"].as_f64().unwrap();
    assert!(perplexity.is_finite() && perplexity > 1.0, "{perplexity}");
    assert_eq!(results["final_eval"]["sentences"], 20);
    for figure in [
        "decoder_loss.png",
        "decoder_perplexity.png",
        "decoder_attention.png",
    ] {
        assert!(dir.join(figure).exists(), "{figure}");
    }
    // The export: the data, the initial weights and the configuration with the steps.
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["steps"], 3);
    assert_eq!(config["num_heads"], 2);
    assert_eq!(config["batch_size"], 16);
    assert!(export.join("data.safetensors").exists());
    assert!(export.join("init.safetensors").exists());
    assert_eq!(
        std::fs::read_dir(&export).unwrap().count(),
        3,
        "no temporary file left"
    );

    // Resuming continues from step 3 to step 5.
    let out = training(
        &corpus,
        &dir,
        &[
            "--steps",
            "5",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--resume",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["training"]["results"]["resumed_from"], 3);
    assert_eq!(json["training"]["results"]["steps"], 5);
}

#[test]
fn contradictory_options_are_usage_errors() {
    let cases: [(&[&str], &str); 6] = [
        (&["--heads", "3"], "--heads 3 must divide --emb-dim"),
        (
            &["--max-new-tokens", "0"],
            "--max-new-tokens must be at least 1",
        ),
        (&["--resume"], "--resume needs --checkpoint FILE"),
        (
            &["--checkpoint-every", "2"],
            "--checkpoint-every needs --checkpoint FILE",
        ),
        (
            &["--tokenizer", "gpt2", "--vocab", "300"],
            "--vocab applies to --tokenizer bpe",
        ),
        (&["--max-length", "1"], "--max-length must be at least 2"),
    ];
    // The base command is valid: each error comes from the options added to it.
    let out = book()
        .args(["chapter4", "model", "--quiet", "--emb-dim", "16"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for (args, message) in cases {
        let out = book()
            .args(["chapter4", "model", "--quiet", "--emb-dim", "16"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_run_that_could_not_checkpoint_writes_no_export() {
    let dir = scratch("ch4-no-export");
    let corpus = sentences_corpus(&dir, 200, None);
    let export = dir.join("export");
    let out = training(
        &corpus,
        &dir,
        &[
            "--steps",
            "1",
            "--checkpoint",
            dir.join("no-such-folder")
                .join("run.ckpt")
                .to_str()
                .unwrap(),
            "--export",
            export.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(
        !export.exists(),
        "the export was written before the run was refused"
    );
}
