//! `ferrograd-book chapter5`: the book's sampling values and LoRA counts, the adapter files,
//! the classifier section on the synthetic data, and a missing data directory.

use crate::common;

use std::path::Path;

use common::{book, missing_folder};

fn json(args: &[&str], dir: &Path) -> serde_json::Value {
    let out = book()
        .args(args)
        .args(["--json", "--quiet", "--out"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn sampling_prints_the_books_temperature_values() {
    let v = json(&["chapter5", "sampling"], &missing_folder("ch5-sampling"));
    let r = &v["sampling"]["results"];
    // The book: T 0.5 ≈ .98/.02/.00, 1 ≈ .87/.12/.02, 2 ≈ .67/.24/.09 (two decimals).
    let book = [[0.98, 0.02, 0.00], [0.87, 0.12, 0.02], [0.67, 0.24, 0.09]];
    for (row, expected) in r["book_temperature"].as_array().unwrap().iter().zip(book) {
        let p: Vec<f64> = row["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        for (x, e) in p.iter().zip(expected) {
            assert!((x - e).abs() <= 0.005, "{row}");
        }
    }
    // 20,000 seeded draws: every frequency within 0.015 of its probability (≥ 4.6 standard
    // deviations for p ≤ 0.5).
    for f in r["filters"].as_array().unwrap() {
        let p = f["probabilities"].as_array().unwrap();
        let q = f["frequencies"].as_array().unwrap();
        for (a, b) in p.iter().zip(q) {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!((a - b).abs() < 0.015, "{f}");
            if a == 0.0 {
                assert_eq!(b, 0.0, "a filtered token was drawn: {f}");
            }
        }
    }
}

#[test]
fn lora_counts_merge_and_writes_peft_files() {
    let dir = missing_folder("ch5-lora");
    let v = json(
        &[
            "chapter5",
            "lora",
            "--max-train",
            "32",
            "--max-test",
            "8",
            "--epochs",
            "1",
        ],
        &dir,
    );
    let r = &v["lora"]["results"];
    assert_eq!(r["linear_1024_r8_trainable"], 16_384);
    assert_eq!(r["gpt2_124m_r16_c_attn_trainable"], 589_824);
    assert_eq!(r["gpt2_124m_r16_c_attn_total"], 125_029_632);
    assert!(r["merged_vs_unmerged_max_abs"].as_f64().unwrap() < 1e-5);
    for name in [
        "adapter_model.safetensors",
        "adapter_config.json",
        "reference_logits.safetensors",
    ] {
        assert!(dir.join("lora-adapter").join(name).is_file(), "{name}");
    }
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("lora-adapter/adapter_config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["fan_in_fan_out"], true);
    assert_eq!(config["target_modules"], serde_json::json!(["c_attn"]));
}

#[test]
fn classifier_runs_on_the_synthetic_data_and_a_missing_directory_is_an_error() {
    let v = json(
        &[
            "chapter5",
            "classifier",
            "--max-train",
            "300",
            "--max-test",
            "100",
            "--epochs",
            "1",
        ],
        &missing_folder("ch5-classifier"),
    );
    let r = &v["classifier"]["results"];
    assert_eq!(r["data"], "synthetic");
    // The cue words make the bag-of-words baseline far better than the majority class.
    let majority = r["majority"].as_f64().unwrap();
    assert!(r["bow_logistic"]["test_accuracy"].as_f64().unwrap() > majority + 0.2);

    let out = book()
        .args([
            "chapter5",
            "classifier",
            "--quiet",
            "--data",
            "/nonexistent/emotion",
            "--out",
        ])
        .arg(missing_folder("ch5-missing"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/emotion"), "{stderr}");
}

#[test]
fn an_adapter_trained_on_a_given_model_names_it_as_its_base() {
    // A copy of the tiny random GPT-2 given with --model: the adapter's config and the
    // printed check command name that directory, not the built-in model's hub name.
    let dir = common::scratch("ch5-lora-model");
    let model = dir.join("my-gpt2");
    std::fs::create_dir(&model).unwrap();
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ferrograd-lm/tests/data/tiny-random-gpt2");
    for name in [
        "config.json",
        "model.safetensors",
        "vocab.json",
        "merges.txt",
    ] {
        std::fs::copy(source.join(name), model.join(name)).unwrap();
    }
    let out_dir = dir.join("out");
    let out = book()
        .args([
            "chapter5",
            "lora",
            "--quiet",
            "--max-train",
            "16",
            "--max-test",
            "4",
            "--epochs",
            "1",
            "--model",
        ])
        .arg(&model)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("lora-adapter/adapter_config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        config["base_model_name_or_path"],
        model.display().to_string()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("--base {}", model.display())),
        "{text}"
    );
}
