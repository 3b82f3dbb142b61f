//! Input the program must refuse or report honestly, never panic on: options out of range
//! (refused before the output folder is made), corpora too small to learn from (the error
//! names the file), figures that cannot be written (the error names the figure), scores
//! over nothing (reported as none, not 0), and seeds and epochs at the ends of their
//! range.

use crate::common;

use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{book, missing_folder, scratch, sentences_corpus, stderr};

fn run(args: &[&str], out: &Path) -> Output {
    book()
        .args(args)
        .arg("--quiet")
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// Exit status 1, the message on stderr, no panic.
fn assert_refused(out: &Output, message: &str, what: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(err.contains(message), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
}

#[test]
fn a_vocabulary_smaller_than_the_bytes_and_the_end_token_is_refused() {
    let dir = scratch("bad-vocab");
    for section in [
        ["chapter3", "model"],
        ["chapter4", "model"],
        ["chapter4", "generation"],
    ] {
        for vocab in ["1", "256"] {
            let out = run(&[section[0], section[1], "--vocab", vocab], &dir);
            assert_refused(&out, "--vocab", &format!("{section:?} --vocab {vocab}"));
            // The minimum: the 256 bytes and <|endoftext|>.
            assert!(stderr(&out).contains("257"), "{}", stderr(&out));
        }
    }
    // The smallest vocabulary is a vocabulary: the model section reports V = 257.
    let out = run(&["chapter3", "model", "--vocab", "257"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("V = 257,"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_max_length_past_the_decoders_context_is_refused() {
    let dir = scratch("bad-max-length");
    // 1024 positions hold the inputs of a line of 1025 tokens (its last token is only a
    // target): 1025 is the longest line, 1026 is refused before any training.
    let out = run(&["chapter4", "model", "--max-length", "1026"], &dir);
    assert_refused(&out, "--max-length", "--max-length 1026");
    assert!(stderr(&out).contains("1025"), "{}", stderr(&out));
    let out = run(&["chapter4", "model", "--max-length", "1025"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_usage_error_leaves_no_output_folder() {
    for (args, message) in [
        (
            &["chapter3", "model", "--resume"][..],
            "--resume needs --checkpoint FILE",
        ),
        (&["chapter4", "model", "--heads", "3"][..], "--heads 3"),
        (&["chapter4", "rope", "--vocab", "2"][..], "--vocab"),
    ] {
        assert_refused_before_out(args, message);
    }
}

#[test]
fn evaluation_takes_no_prompt() {
    // `--prompt` belongs to count-lm; evaluation continues held-out sentences, so the
    // option is not offered (a usage error), not silently ignored.
    let dir = scratch("bad-evaluation-prompt");
    let out = run(&["chapter2", "evaluation", "--prompt", "x"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--prompt"), "{}", stderr(&out));
    let help = book()
        .args(["chapter2", "evaluation", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(!String::from_utf8_lossy(&help.stdout).contains("--prompt"));
}

#[test]
fn corpora_too_small_to_learn_from_are_named() {
    let dir = scratch("bad-small-corpora");
    let empty = dir.join("empty-corpus.txt");
    std::fs::write(&empty, "").unwrap();
    let one_line = dir.join("one-line-corpus.txt");
    std::fs::write(&one_line, "the king is in the castle\n").unwrap();
    let cases: [(&[&str], &Path); 5] = [
        (&["chapter2", "count-lm"], &empty),
        (&["chapter2", "evaluation"], &empty),
        // No word reaches word2vec's min_count of 5.
        (&["chapter2", "word-embeddings"], &one_line),
        // One line: the first 90 % of the lines hold none to train on.
        (
            &["chapter3", "training", "--vocab", "300", "--steps", "1"],
            &one_line,
        ),
        (
            &["chapter4", "training", "--vocab", "300", "--steps", "1"],
            &one_line,
        ),
    ];
    for (args, corpus) in cases {
        let out = book()
            .args(args)
            .arg("--corpus")
            .arg(corpus)
            .arg("--quiet")
            .arg("--out")
            .arg(&dir)
            .output()
            .unwrap();
        let name = corpus.file_name().unwrap().to_str().unwrap();
        assert_refused(&out, name, &format!("{args:?} on {name}"));
    }
}

#[test]
fn a_figure_that_cannot_be_written_is_named_and_no_temporary_is_left() {
    let dir = scratch("bad-figure");
    // A folder where the figure should go: the PNG cannot replace it.
    std::fs::create_dir(dir.join("linear_regression.png")).unwrap();
    let out = run(&["chapter1", "linear-regression"], &dir);
    assert_refused(
        &out,
        "linear_regression.png",
        "a folder in the figure's place",
    );
    assert!(dir.join("linear_regression.png").is_dir());
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn scores_over_nothing_are_none_not_zero() {
    let dir = scratch("bad-empty-scores");
    // Three labelled documents with 20 % held out: ⌊0.6⌋ = 0 test documents.
    let labelled = dir.join("three.tsv");
    std::fs::write(
        &labelled,
        "good movie\tpos\nbad film\tneg\ngreat fun\tpos\n",
    )
    .unwrap();
    let out = run(
        &[
            "chapter2",
            "bag-of-words",
            "--data",
            labelled.to_str().unwrap(),
            "--steps",
            "5",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no test documents"), "{text}");
    assert!(!text.contains("test 0.0000"), "{text}");
    let out = run(
        &[
            "chapter2",
            "bag-of-words",
            "--json",
            "--data",
            labelled.to_str().unwrap(),
            "--steps",
            "5",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = &v["bag-of-words"]["results"]["file"];
    assert_eq!(file["test"], 0);
    assert_eq!(file["test_confusion"], serde_json::Value::Null);

    // Sentences of three words: none has the 4 + 8 tokens the ROUGE report continues.
    let short = dir.join("short.txt");
    std::fs::write(
        &short,
        "the cat sat. the dog ran. a bird flew.\n".repeat(20),
    )
    .unwrap();
    let out = run(
        &[
            "chapter2",
            "evaluation",
            "--corpus",
            short.to_str().unwrap(),
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ROUGE: no sentences"), "{text}");
    assert!(!text.contains("0.0000"), "{text}");
    let out = run(
        &[
            "chapter2",
            "evaluation",
            "--json",
            "--corpus",
            short.to_str().unwrap(),
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &v["evaluation"]["results"];
    assert_eq!(r["samples"], 0);
    assert_eq!(r["mean_rouge"], serde_json::Value::Null);
}

#[test]
fn the_largest_seed_and_epochs_do_not_overflow() {
    let dir = scratch("bad-extremes");
    let out = run(
        &[
            "chapter5",
            "classifier",
            "--seed",
            "18446744073709551615",
            "--max-train",
            "20",
            "--max-test",
            "5",
            "--epochs",
            "1",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Epochs without end, cut by --steps: the step count saturates instead of
    // overflowing, in training and in the export.
    let corpus = sentences_corpus(&dir, 40, None);
    let export = dir.join("export");
    let out = book()
        .args(["chapter3", "training", "--quiet", "--corpus"])
        .arg(&corpus)
        .args([
            "--vocab",
            "300",
            "--emb-dim",
            "8",
            "--batch-size",
            "8",
            "--eval-every",
            "0",
            "--epochs",
            "18446744073709551615",
            "--steps",
            "2",
            "--export",
        ])
        .arg(&export)
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["steps"], 2);
}

/// Runs `args` with `--out` a folder that is not there: refused (exit 1, `message` on
/// stderr, which names the option and its value), and the folder was not made.
fn assert_refused_before_out(args: &[&str], message: &str) {
    // A folder of its own for each run: the tests run in parallel.
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let out_dir = missing_folder(&format!("bad-usage-late-newdir-{n}"));
    let out = run(args, &out_dir);
    assert_refused(&out, message, &format!("{args:?}"));
    assert!(
        !out_dir.exists(),
        "{args:?} made {} before refusing",
        out_dir.display()
    );
}

#[test]
fn chapter2_option_errors_leave_no_output_folder() {
    let dir = scratch("bad-chapter2-options");
    let data = dir.join("labelled.tsv");
    std::fs::write(&data, "good movie\tpos\nbad film\tneg\ngreat fun\tpos\n").unwrap();
    let data = data.to_str().unwrap();
    let missing = dir.join("no-such-file.txt");
    let missing = missing.to_str().unwrap();
    let folder = dir.to_str().unwrap();
    let bow = ["chapter2", "bag-of-words", "--data", data];
    let cases: Vec<(Vec<&str>, String)> = vec![
        // The labelled-file run's settings: refused before the book example's 3000
        // steps, and before the output folder.
        (
            [&bow[..], &["--test-fraction", "1.5"]].concat(),
            "--test-fraction 1.5".into(),
        ),
        (
            [&bow[..], &["--test-fraction", "NaN"]].concat(),
            "--test-fraction NaN".into(),
        ),
        ([&bow[..], &["--lr=-1"]].concat(), "--lr -1".into()),
        ([&bow[..], &["--lr", "inf"]].concat(), "--lr inf".into()),
        ([&bow[..], &["--steps", "0"]].concat(), "--steps 0".into()),
        (
            [&bow[..], &["--batch-size", "0"]].concat(),
            "--batch-size 0".into(),
        ),
        (
            vec!["chapter2", "bag-of-words", "--data", missing],
            format!("--data {missing}"),
        ),
        (
            vec!["chapter2", "bag-of-words", "--data", folder],
            format!("--data {folder}: a folder, not a file"),
        ),
        (
            vec!["chapter2", "word-embeddings", "--dim", "0"],
            "--dim 0".into(),
        ),
        (
            vec!["chapter2", "word-embeddings", "--epochs", "0"],
            "--epochs 0".into(),
        ),
        (
            vec!["chapter2", "word-embeddings", "--threads", "0"],
            "--threads 0".into(),
        ),
        (
            vec!["chapter2", "count-lm", "-n", "0"],
            "count-lm: invalid n = 0 (option --n)".into(),
        ),
        (
            vec!["chapter2", "evaluation", "--n", "0"],
            "evaluation: invalid n = 0 (option --n)".into(),
        ),
        (
            vec!["chapter2", "count-lm", "-n", "100000000000"],
            "count-lm: invalid n = 100000000000 (option --n): at most 64".into(),
        ),
        (
            vec!["chapter2", "--corpus", missing, "count-lm"],
            format!("--corpus {missing}"),
        ),
        // The whole chapter: the corpus is checked before bag-of-words runs, and the
        // error names the first section that reads it.
        (
            vec!["chapter2", "--corpus", folder],
            format!("word-embeddings: --corpus {folder}: a folder, not a file"),
        ),
    ];
    for (args, message) in cases {
        assert_refused_before_out(&args, &message);
    }
}

#[test]
fn chapter5_option_errors_leave_no_output_folder() {
    let dir = scratch("bad-chapter5-options");
    let missing = dir.join("no-such-folder");
    let missing = missing.to_str().unwrap();
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let empty = empty.to_str().unwrap();
    // At least 2000 tokens (each " a" is one or more), past the tiny model's 512.
    let long = "a ".repeat(2000);
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["chapter5", "gpt2", "--prompt", ""],
            "--prompt \"\"".into(),
        ),
        // The whole chapter runs gpt2 first, which wrote the built-in model before.
        (
            vec!["chapter5", "--prompt", ""],
            "gpt2: --prompt \"\"".into(),
        ),
        (
            vec!["chapter5", "gpt2", "--prompt", &long],
            "longer than the model's context of 512 positions".into(),
        ),
        (
            vec!["chapter5", "gpt2", "--prompt", &long],
            "--prompt \"a a a".into(),
        ),
        (
            vec!["chapter5", "finetune", "--epochs", "0"],
            "--epochs 0".into(),
        ),
        (
            vec!["chapter5", "classifier", "--epochs", "0"],
            "classifier: --epochs 0".into(),
        ),
        (
            vec!["chapter5", "gpt2", "--model", missing],
            format!("--model {missing}"),
        ),
        (
            vec!["chapter5", "lora", "--model", empty],
            format!("--model {empty}: not a Hugging Face GPT-2 checkpoint folder: no config.json"),
        ),
        (
            vec!["chapter5", "classifier", "--data", missing],
            format!("--data {missing}"),
        ),
        // An option no section of the command reads is refused, not ignored.
        (
            vec!["chapter5", "gpt2", "--epochs", "3"],
            "gpt2: --epochs has no effect here (only finetune, lora, classifier read it)".into(),
        ),
        (
            vec!["chapter5", "sampling", "--model", missing],
            "sampling: --model has no effect here (only gpt2, finetune, lora read it)".into(),
        ),
        (
            vec!["chapter5", "classifier", "--prompt", "Hi"],
            "classifier: --prompt has no effect here (only gpt2 reads it)".into(),
        ),
        (
            vec!["chapter5", "gpt2", "--seed", "7"],
            "gpt2: --seed has no effect here".into(),
        ),
        (
            vec!["chapter5", "finetune", "--data", empty],
            format!(
                "--data {empty}: not the emotion data folder: no train.txt, no val.txt, no test.txt"
            ),
        ),
    ];
    for (args, message) in cases {
        assert_refused_before_out(&args, &message);
    }
}

#[test]
fn a_prompt_that_fills_the_context_is_accepted_and_one_token_more_is_refused() {
    // Each space is one token of the tiny GPT-2 (`Ġ`): 512 fill its 512 positions (one
    // new token then fits, as in transformers); 513 are refused before the output folder,
    // as generation would refuse them after it.
    let out_dir = missing_folder("bad-prompt-fits");
    let out = run(
        &["chapter5", "gpt2", "--prompt", &" ".repeat(512)],
        &out_dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_refused_before_out(
        &["chapter5", "gpt2", "--prompt", &" ".repeat(513)],
        "(513 tokens): longer than the model's context of 512 positions",
    );
}
