//! The book's §2.1 classifier replayed against PyTorch: from PyTorch's initial weights
//! (`tests/data/bow_pytorch.json`, made by `scripts/bow_reference.py`), the same 3000 SGD
//! steps give the same loss at every step and the book's predictions.

use ferrograd_lm::bow::{BOOK_DOCS, BOOK_LABELS, BOOK_NEW_DOCS, BowClassifier, BowConfig};
use ferrograd_tensor::Tensor;
use serde_json::Value;

fn floats(v: &Value) -> Vec<f32> {
    match v {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap() as f32],
        other => panic!("not a number: {other}"),
    }
}

fn tensor(v: &Value, shape: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(floats(v), shape).unwrap()
}

#[test]
fn three_thousand_sgd_steps_match_pytorch() {
    let r: Value = serde_json::from_str(include_str!("data/bow_pytorch.json")).unwrap();
    let classes: Vec<String> = r["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(classes, ["Cinema", "Science", "Music"]);
    let init = &r["init"];
    let weights = [
        tensor(&init["0.weight"], &[50, 26]),
        tensor(&init["0.bias"], &[50]),
        tensor(&init["2.weight"], &[3, 50]),
        tensor(&init["2.bias"], &[3]),
    ];
    let (model, losses) = BowClassifier::train_from(
        &BOOK_DOCS,
        &BOOK_LABELS,
        &classes,
        &BowConfig::default(),
        Some(&weights),
        &mut |_, _| {},
    )
    .unwrap();
    // The vocabulary is the book's (sorted `\w+` words), as PyTorch's run used it.
    let vocabulary: Vec<&str> = r["vocabulary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(model.vocabulary(), vocabulary);
    let theirs: Vec<f64> = r["loss_per_step"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(losses.len(), theirs.len());
    // float32 on both sides, different summation orders: 1e-5 relative, as the
    // chapter-1 replays.
    for (step, (a, b)) in losses.iter().zip(&theirs).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs(),
            "step {step}: {a} vs PyTorch {b}"
        );
    }
    let logits = model.logits(&BOOK_NEW_DOCS).unwrap();
    let theirs = floats(&r["new_logits"]);
    for (a, b) in logits.iter().flatten().zip(&theirs) {
        assert!((a - b).abs() <= 1e-4, "{a} vs {b}");
    }
    let expected: Vec<&str> = r["new_predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(expected, ["Music", "Science"]);
    assert_eq!(model.predict(&BOOK_NEW_DOCS).unwrap(), expected);
}
