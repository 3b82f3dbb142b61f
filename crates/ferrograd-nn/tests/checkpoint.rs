//! Checkpoints: round trips, PyTorch interoperability, and every kind of mismatch.

use ferrograd_nn::{
    Forward, Linear, Module, NnError, Relu, Sequential, load_checkpoint, save_checkpoint,
};
use ferrograd_tensor::{Rng, Tensor};
use std::path::PathBuf;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "ferrograd-nn-{name}-{}.safetensors",
        std::process::id()
    ))
}

fn mlp(seed: u64) -> Sequential {
    let mut rng = Rng::new(seed);
    Sequential::new()
        .push(Linear::new(3, 4, &mut rng))
        .push(Relu)
        .push(Linear::new(4, 2, &mut rng))
}

fn values(model: &dyn Module) -> Vec<Vec<f32>> {
    model
        .parameters()
        .iter()
        .map(|p| p.tensor().to_vec())
        .collect()
}

#[test]
fn round_trip_gives_identical_outputs() {
    let path = temp("roundtrip");
    let trained = mlp(1);
    save_checkpoint(&trained, &path).unwrap();
    let fresh = mlp(2);
    let x = Tensor::<f32>::from([[0.5, -1.0, 2.0], [1.0, 1.0, 1.0]]);
    assert_ne!(
        fresh.forward(&x).unwrap().to_vec(),
        trained.forward(&x).unwrap().to_vec()
    );
    load_checkpoint(&fresh, &path).unwrap();
    assert_eq!(
        fresh.forward(&x).unwrap().to_vec(),
        trained.forward(&x).unwrap().to_vec()
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn reads_a_checkpoint_written_by_pytorch() {
    // tests/data/make_torch_checkpoint.py wrote this file with safetensors.torch.save_file.
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/torch_sequential.safetensors");
    let mut rng = Rng::new(0);
    let model = Sequential::new()
        .push(Linear::new(3, 2, &mut rng))
        .push(Relu)
        .push(Linear::new(2, 1, &mut rng));
    load_checkpoint(&model, &path).unwrap();
    assert_eq!(
        values(&model),
        vec![
            vec![0.5, -1.0, 0.25, 2.0, 0.0, -0.5],
            vec![0.1, -0.2],
            vec![1.5, -0.75],
            vec![0.3]
        ]
    );
    // The script prints PyTorch's output for this input, 0.075: relu([-0.65, 0.3]) · [1.5, -0.75] + 0.3.
    let y = model
        .forward(&Tensor::from([[1.0, 2.0, 3.0]]))
        .unwrap()
        .item()
        .unwrap();
    assert!((y - 0.075).abs() < 1e-6, "{y}");
}

#[test]
fn mismatches_are_reported_and_nothing_is_loaded() {
    let path = temp("mismatch");
    let mut rng = Rng::new(3);
    let small = Sequential::new().push(Linear::<f32>::new(3, 4, &mut rng));
    save_checkpoint(&small, &path).unwrap();

    // Missing tensors (the second layer) — and the first layer must stay untouched.
    let model = mlp(4);
    let before = values(&model);
    let err = load_checkpoint(&model, &path).unwrap_err();
    let NnError::CheckpointMismatch { problems, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        problems,
        &["missing tensor `2.weight`", "missing tensor `2.bias`"]
    );
    assert_eq!(
        values(&model),
        before,
        "nothing may be loaded from a mismatching file"
    );

    // Wrong shape and unexpected tensors.
    let other = Sequential::new().push(Linear::<f32>::new(3, 5, &mut rng));
    let err = load_checkpoint(&other, &path).unwrap_err().to_string();
    assert!(
        err.contains("`0.weight` has shape [4, 3] in the file but [5, 3] in the model"),
        "{err}"
    );
    let err = load_checkpoint(&Sequential::<f32>::new(), &path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unexpected tensor `0.bias`") && err.contains("unexpected tensor `0.weight`"),
        "{err}"
    );

    // Wrong dtype: an f64 model reading an f32 file.
    let wide = Sequential::new().push(Linear::<f64>::new(3, 4, &mut rng));
    let err = load_checkpoint(&wide, &path).unwrap_err().to_string();
    assert!(
        err.contains("`0.weight` is F32 in the file but F64 in the model"),
        "{err}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn truncated_or_missing_files_are_errors() {
    let path = temp("truncated");
    let model = mlp(5);
    save_checkpoint(&model, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let before = values(&model);
    let err = load_checkpoint(&model, &path).unwrap_err();
    assert!(
        err.to_string().contains("not a valid safetensors file"),
        "{err}"
    );
    assert_eq!(values(&model), before);
    std::fs::remove_file(&path).unwrap();
    assert!(
        load_checkpoint(&model, &path)
            .unwrap_err()
            .to_string()
            .contains("ferrograd-nn-truncated")
    );
}

#[test]
fn every_difference_of_one_tensor_is_reported() {
    let path = temp("both");
    let wide = Sequential::new().push(Linear::<f64>::new(3, 5, &mut Rng::new(6)));
    save_checkpoint(&wide, &path).unwrap();
    let model = mlp(7);
    let before = values(&model);
    let NnError::CheckpointMismatch { problems, .. } = load_checkpoint(&model, &path).unwrap_err()
    else {
        panic!("expected a mismatch")
    };
    assert_eq!(
        problems,
        [
            "`0.weight` has shape [5, 3] in the file but [4, 3] in the model",
            "`0.weight` is F64 in the file but F32 in the model",
            "`0.bias` has shape [5] in the file but [4] in the model",
            "`0.bias` is F64 in the file but F32 in the model",
            "missing tensor `2.weight`",
            "missing tensor `2.bias`",
        ]
    );
    assert_eq!(values(&model), before);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn f64_round_trip_and_corrupt_headers() {
    let path = temp("f64");
    let mut rng = Rng::new(8);
    let model = Sequential::new().push(Linear::<f64>::new(3, 2, &mut rng));
    save_checkpoint(&model, &path).unwrap();
    let fresh = Sequential::new().push(Linear::<f64>::new(3, 2, &mut rng));
    load_checkpoint(&fresh, &path).unwrap();
    let x = Tensor::<f64>::from([[0.1, 0.2, 0.3]]);
    assert_eq!(
        fresh.forward(&x).unwrap().to_vec(),
        model.forward(&x).unwrap().to_vec()
    );
    // A header length pointing past the end, a header that is not JSON, an empty file,
    // and data shorter than the header says: errors naming the file, never panics.
    let good = std::fs::read(&path).unwrap();
    let mut huge_header = good.clone();
    huge_header[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut not_json = good.clone();
    not_json[8] = b'!';
    let short_data = good[..good.len() - 8].to_vec();
    for (what, bytes) in [
        ("huge header length", huge_header),
        ("header not JSON", not_json),
        ("empty", Vec::new()),
        ("short data", short_data),
    ] {
        std::fs::write(&path, &bytes).unwrap();
        let err = load_checkpoint(&fresh, &path).unwrap_err().to_string();
        assert!(err.contains("ferrograd-nn-f64"), "{what}: {err}");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn saving_replaces_the_file_and_leaves_no_temporary_files() {
    let dir = std::env::temp_dir().join(format!("ferrograd-nn-atomic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    save_checkpoint(&mlp(9), &path).unwrap();
    save_checkpoint(&mlp(10), &path).unwrap();
    let fresh = mlp(11);
    load_checkpoint(&fresh, &path).unwrap();
    assert_eq!(values(&fresh), values(&mlp(10)), "the second save wins");
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["model.safetensors"]);
    // Saving into a directory that does not exist is an I/O error naming the path.
    let missing = dir.join("no-such-dir").join("model.safetensors");
    let err = save_checkpoint(&mlp(9), &missing).unwrap_err().to_string();
    assert!(err.contains("no-such-dir"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The module docs' tied model: the embedding's weight is also the head's.
#[derive(Debug)]
struct Tied {
    wte: ferrograd_nn::Embedding,
    lm_head: Linear,
}

impl Module for Tied {
    fn visit(&self, v: &mut dyn ferrograd_nn::Visitor) {
        v.module("wte", &self.wte);
        v.module("lm_head", &self.lm_head);
    }
}

fn tied(seed: u64) -> Tied {
    let mut rng = Rng::new(seed);
    let wte = ferrograd_nn::Embedding::new(5, 2, None, &mut rng);
    let mut lm_head = Linear::with_bias(2, 5, false, &mut rng);
    lm_head.weight = wte.weight.clone();
    Tied { wte, lm_head }
}

#[test]
fn a_tied_weight_loads_from_whichever_name_the_file_holds() {
    // `safetensors.torch.save_model` keeps one alias of a tied weight, and for a Hugging
    // Face GPT-2 it is the head's name, not the first one our model visits.
    let value: Vec<f32> = (0..10).map(|i| i as f32 * 0.5 - 2.0).collect();
    let weight = Tensor::from_vec(value.clone(), &[5, 2]).unwrap();
    for name in ["lm_head.weight", "wte.weight"] {
        let path = temp(&format!("tied-{name}"));
        ferrograd_tensor::io::save_safetensors(&path, &[(name, &weight)]).unwrap();
        let model = tied(3);
        load_checkpoint(&model, &path).unwrap();
        assert_eq!(model.wte.weight.tensor().to_vec(), value, "{name}");
        assert_eq!(model.lm_head.weight.tensor().to_vec(), value, "{name}");
        std::fs::remove_file(&path).ok();
    }
}

#[test]
fn both_names_of_a_tied_weight_must_agree() {
    let a = Tensor::from_vec(vec![f32::NAN; 10], &[5, 2]).unwrap();
    // Both names holding the same bits (NaN included) load.
    let path = temp("tied-both");
    ferrograd_tensor::io::save_safetensors(&path, &[("wte.weight", &a), ("lm_head.weight", &a)])
        .unwrap();
    let model = tied(4);
    load_checkpoint(&model, &path).unwrap();
    assert!(
        model
            .lm_head
            .weight
            .tensor()
            .to_vec()
            .iter()
            .all(|v| v.is_nan())
    );
    // Different values cannot go into one parameter: an error, and nothing loaded.
    let b = Tensor::<f32>::zeros(&[5, 2]);
    ferrograd_tensor::io::save_safetensors(&path, &[("wte.weight", &b), ("lm_head.weight", &a)])
        .unwrap();
    let model = tied(5);
    let before = model.wte.weight.tensor().to_vec();
    let Err(NnError::CheckpointMismatch { problems, .. }) = load_checkpoint(&model, &path) else {
        panic!("two values for one tied weight must not load");
    };
    assert_eq!(
        problems,
        ["`lm_head.weight` and `wte.weight` name one tied parameter but hold different values"]
    );
    assert_eq!(model.wte.weight.tensor().to_vec(), before);
    std::fs::remove_file(&path).ok();
}
