//! Loading checkpoints written by other tools: name mapping and tensor transforms, strict
//! and lenient loads with every problem reported, f16/bf16/f64 files converted to the
//! model's dtype, subsets (adapter weights), corrupt input.
//!
//! `tests/data/half.safetensors` was written by PyTorch (see
//! `scripts/reference/make_half_checkpoint.py`); `half.json` holds the exact values of its
//! half-precision numbers as PyTorch widens them.

use ferrograd_nn::{
    Forward, LayerNorm, Linear, LoadOptions, Module, NnError, StateDict, Visitor, load_state_dict,
};
use ferrograd_tensor::{Rng, Tensor};

/// A GPT-2-like block with separate Q/K/V projections, to map HF's fused Conv1D onto.
#[derive(Debug)]
struct Block {
    ln_1: LayerNorm,
    q: Linear,
    k: Linear,
    v: Linear,
}

impl Module for Block {
    fn visit(&self, v: &mut dyn Visitor) {
        v.module("ln_1", &self.ln_1);
        v.module("q", &self.q);
        v.module("k", &self.k);
        v.module("v", &self.v);
    }
}

fn block(seed: u64) -> Block {
    let mut rng = Rng::new(seed);
    Block {
        ln_1: LayerNorm::new(&[3]),
        q: Linear::new(3, 3, &mut rng),
        k: Linear::new(3, 3, &mut rng),
        v: Linear::new(3, 3, &mut rng),
    }
}

/// What `transformers` writes for such a block: a prefix, fused `c_attn` with a Conv1D
/// weight `[in, out]`, and a non-parameter buffer.
fn hf_dict() -> StateDict {
    let mut d = StateDict::new("<hf checkpoint>");
    let w = Tensor::from_vec((0..27).map(|i| i as f32 / 10.0).collect(), &[3, 9]).unwrap();
    let b = Tensor::from_vec((0..9).map(|i| -(i as f32)).collect(), &[9]).unwrap();
    d.insert("transformer.h.0.attn.c_attn.weight", w);
    d.insert("transformer.h.0.attn.c_attn.bias", b);
    d.insert("transformer.h.0.ln_1.weight", Tensor::from([1.0, 2.0, 3.0]));
    d.insert("transformer.h.0.ln_1.bias", Tensor::from([0.5, 0.5, 0.5]));
    d.insert("transformer.h.0.attn.masked_bias", Tensor::from([-1e4]));
    d
}

fn map_hf(d: &mut StateDict) {
    d.strip_prefix("transformer.h.0.").unwrap();
    d.retain(|n| !n.ends_with("masked_bias"));
    d.transpose("attn.c_attn.weight").unwrap();
    d.split(
        "attn.c_attn.weight",
        0,
        &["q.weight", "k.weight", "v.weight"],
    )
    .unwrap();
    d.split("attn.c_attn.bias", 0, &["q.bias", "k.bias", "v.bias"])
        .unwrap();
}

#[test]
fn a_fused_transposed_prefixed_checkpoint_maps_onto_separate_projections() {
    let model = block(0);
    let mut d = hf_dict();
    map_hf(&mut d);
    let report = load_state_dict(&model, &d, &LoadOptions::strict()).unwrap();
    assert!(report.is_complete());
    assert_eq!(report.loaded.len(), 8);
    // Conv1D column j of the fused weight is output j: K is columns 3..6, transposed.
    assert_eq!(
        model.k.weight.tensor().to_vec2().unwrap(),
        [[0.3, 1.2, 2.1], [0.4, 1.3, 2.2], [0.5, 1.4, 2.3]]
    );
    assert_eq!(
        model.v.bias.as_ref().unwrap().tensor().to_vec(),
        [-6.0, -7.0, -8.0]
    );
    // The model computes x·W_conv[:, 3..6] + b for k, as HF's Conv1D does.
    let x = Tensor::<f32>::from([[1.0, 0.0, -1.0]]);
    let k = model.k.forward(&x).unwrap().to_vec();
    let expected = [0.3 - 2.1 - 3.0, 0.4 - 2.2 - 4.0, 0.5 - 2.3 - 5.0];
    for (a, b) in k.iter().zip(expected) {
        assert!((a - b).abs() < 1e-6, "{k:?}");
    }
}

#[test]
fn a_strict_load_lists_every_problem_and_changes_nothing() {
    let model = block(1);
    let before: Vec<Vec<f32>> = model
        .parameters()
        .iter()
        .map(|p| p.tensor().to_vec())
        .collect();
    let mut d = hf_dict();
    map_hf(&mut d);
    d.remove("k.bias");
    d.insert("q.weight", Tensor::zeros(&[3, 4]));
    d.insert("lm_head.weight", Tensor::zeros(&[2, 2]));
    let err = load_state_dict(&model, &d, &LoadOptions::strict()).unwrap_err();
    let NnError::CheckpointMismatch { path, problems, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(path, "<hf checkpoint>");
    assert_eq!(
        problems,
        &[
            "missing tensor `k.bias`",
            "`q.weight` has shape [3, 4] in the file but [3, 3] in the model",
            "unexpected tensor `lm_head.weight`",
        ]
    );
    let after: Vec<Vec<f32>> = model
        .parameters()
        .iter()
        .map(|p| p.tensor().to_vec())
        .collect();
    assert_eq!(before, after, "nothing is loaded from a mismatching dict");
    // Lenient: what fits is loaded, the rest reported.
    let report = load_state_dict(&model, &d, &LoadOptions::lenient()).unwrap();
    assert_eq!(report.missing, ["k.bias"]);
    assert_eq!(report.unexpected, ["lm_head.weight"]);
    assert_eq!(report.mismatched.len(), 1);
    assert_eq!(report.loaded.len(), 6);
    assert_eq!(
        model.ln_1.weight.as_ref().unwrap().tensor().to_vec(),
        [1.0, 2.0, 3.0]
    );
    assert_eq!(
        model.q.weight.tensor().to_vec(),
        before[2],
        "the mismatched one is untouched"
    );
}

#[test]
fn half_precision_files_from_pytorch_convert_exactly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("half.json")).unwrap()).unwrap();
    for dtype in ["bf16", "f16"] {
        for elem in ["f32", "f64"] {
            let values: Vec<f64> = if elem == "f32" {
                let mut d = StateDict::<f32>::load(dir.join("half.safetensors")).unwrap();
                d.rename(|n| n.strip_prefix(&format!("{dtype}.")).map(String::from))
                    .unwrap();
                let layer = Linear::<f32>::new(3, 2, &mut Rng::new(0));
                load_state_dict(&layer, &d, &LoadOptions::strict()).unwrap();
                layer
                    .weight
                    .tensor()
                    .to_vec()
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect()
            } else {
                let mut d = StateDict::<f64>::load(dir.join("half.safetensors")).unwrap();
                d.rename(|n| n.strip_prefix(&format!("{dtype}.")).map(String::from))
                    .unwrap();
                let layer = Linear::<f64>::new(3, 2, &mut Rng::new(0));
                load_state_dict(&layer, &d, &LoadOptions::strict()).unwrap();
                layer.weight.tensor().to_vec()
            };
            let want: Vec<f64> = expected[format!("{dtype}.weight")]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            // Exact: every half value is representable in f32 and f64.
            assert_eq!(values, want, "{dtype} into {elem}");
            assert!(values[4].is_sign_negative() && values[4] == 0.0, "-0 kept");
        }
    }
}

#[test]
fn a_subset_saves_and_loads_on_its_own() {
    let path = std::env::temp_dir().join(format!(
        "ferrograd-subset-{}.safetensors",
        std::process::id()
    ));
    let trained = block(2);
    StateDict::from_module(&trained)
        .filtered(|n| n.starts_with("q."))
        .save(&path)
        .unwrap();
    let stored: Vec<String> = ferrograd_tensor::io::load_safetensors(&path)
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(stored, ["q.bias", "q.weight"]);
    let fresh = block(3);
    let k_before = fresh.k.weight.tensor().to_vec();
    let d = StateDict::load(&path).unwrap();
    // Strict within the subset: the other parameters are neither required nor touched.
    let report = load_state_dict(
        &fresh,
        &d,
        &LoadOptions::strict().only(|n| n.starts_with("q.")),
    )
    .unwrap();
    assert_eq!(report.loaded, ["q.weight", "q.bias"]);
    assert_eq!(
        fresh.q.weight.tensor().to_vec(),
        trained.q.weight.tensor().to_vec()
    );
    assert_eq!(fresh.k.weight.tensor().to_vec(), k_before);
    // Without the filter, a strict load names what the subset lacks.
    let err = load_state_dict(&fresh, &d, &LoadOptions::strict())
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing tensor `k.weight`"), "{err}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn corrupt_bytes_are_errors_never_panics() {
    let mut d = StateDict::<f32>::new("<x>");
    d.insert("w", Tensor::ones(&[4, 4]));
    let path = std::env::temp_dir().join(format!(
        "ferrograd-corrupt-{}.safetensors",
        std::process::id()
    ));
    d.save(&path).unwrap();
    let good = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    for cut in 0..good.len() {
        assert!(
            StateDict::<f32>::from_bytes(&good[..cut], "<cut>").is_err(),
            "cut {cut}"
        );
    }
    // Flip every byte of the header in turn: an error or a valid dict, never a panic.
    for i in 0..good.len().min(200) {
        let mut bad = good.clone();
        bad[i] ^= 0xff;
        let _ = StateDict::<f32>::from_bytes(&bad, "<flipped>");
    }
    // Non-float tensors are kept aside and reported as unexpected unless dropped.
    let ids = ferrograd_tensor::IdTensor::from([1, 2, 3]);
    let mixed = std::env::temp_dir().join(format!(
        "ferrograd-mixed-{}.safetensors",
        std::process::id()
    ));
    ferrograd_tensor::io::save_ids_safetensors(&mixed, &[("attn.bias", &ids)]).unwrap();
    let d = StateDict::<f32>::load(&mixed).unwrap();
    assert!(d.is_empty());
    assert_eq!(d.others().get("attn.bias").map(String::as_str), Some("I64"));
    let layer = Linear::<f32>::new(1, 1, &mut Rng::new(0));
    let report = load_state_dict(&layer, &d, &LoadOptions::lenient()).unwrap();
    assert_eq!(report.unexpected, ["attn.bias"]);
    std::fs::remove_file(&mixed).unwrap();
}

#[test]
fn a_transform_of_the_wrong_rank_names_the_tensor_and_its_source() {
    let mut d = StateDict::<f32>::new("hf.safetensors");
    d.insert("h.0.ln_1.bias", Tensor::zeros(&[6]));
    let err = d.transpose("h.0.ln_1.bias").unwrap_err().to_string();
    assert!(
        err.contains("StateDict::transpose")
            && err.contains("h.0.ln_1.bias")
            && err.contains("hf.safetensors"),
        "{err}"
    );
    let err = d
        .split("h.0.ln_1.bias", 1, &["a", "b"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("StateDict::split") && err.contains("h.0.ln_1.bias"),
        "{err}"
    );
}

#[test]
fn both_names_of_a_tied_weight_holding_one_value_with_nan_load() {
    #[derive(Debug)]
    struct Tied {
        wte: ferrograd_nn::Embedding,
        lm_head: Linear,
    }
    impl Module for Tied {
        fn visit(&self, v: &mut dyn Visitor) {
            v.module("wte", &self.wte);
            v.module("lm_head", &self.lm_head);
        }
    }
    let mut rng = Rng::new(0);
    let wte = ferrograd_nn::Embedding::new(3, 2, None, &mut rng);
    let mut lm_head = Linear::with_bias(2, 3, false, &mut rng);
    lm_head.weight = wte.weight.clone();
    let model = Tied { wte, lm_head };
    // PyTorch's `state_dict()` lists a tied weight under both names, one tensor: a
    // diverged checkpoint may hold NaN, and the tensor still agrees with itself.
    let value = Tensor::from_vec(vec![1.0, f32::NAN, -0.5, 2.0, f32::NAN, 0.0], &[3, 2]).unwrap();
    let mut dict = StateDict::new("<test>");
    dict.insert("wte.weight", value.clone());
    dict.insert("lm_head.weight", value.clone());
    let report = load_state_dict(&model, &dict, &LoadOptions::strict()).unwrap();
    assert!(report.is_complete(), "{:?}", report.problems());
    assert_eq!(report.loaded, ["wte.weight"]);
    let loaded = model.lm_head.weight.tensor().to_vec();
    let expected = value.to_vec();
    assert!(
        loaded
            .iter()
            .zip(&expected)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    // A different value under the other name is a conflict (one element differs).
    let mut other = expected.clone();
    other[3] = 2.5;
    dict.insert("lm_head.weight", Tensor::from_vec(other, &[3, 2]).unwrap());
    let report = load_state_dict(&model, &dict, &LoadOptions::lenient()).unwrap();
    assert_eq!(report.conflicting, ["lm_head.weight"]);
    assert!(load_state_dict(&model, &dict, &LoadOptions::strict()).is_err());
}

#[test]
fn splitting_an_empty_axis_gives_every_name_an_empty_part() {
    let mut dict = StateDict::<f32>::new("<test>");
    dict.insert("qkv", Tensor::zeros(&[0, 2]));
    dict.split("qkv", 0, &["q", "k", "v"]).unwrap();
    assert_eq!(dict.names().collect::<Vec<_>>(), ["k", "q", "v"]);
    for name in ["q", "k", "v"] {
        assert_eq!(dict.get(name).unwrap().shape(), &[0, 2], "{name}");
    }
    // Along the other axis: [0, 6] into three [0, 2].
    dict.insert("fused", Tensor::zeros(&[0, 6]));
    dict.split("fused", -1, &["a", "b", "c"]).unwrap();
    for name in ["a", "b", "c"] {
        assert_eq!(dict.get(name).unwrap().shape(), &[0, 2], "{name}");
    }
    assert!(dict.get("fused").is_none());
    // A non-empty split is unchanged: [6, 1] into three [2, 1] in order.
    dict.insert(
        "w",
        Tensor::from_vec((0..6).map(|i| i as f32).collect(), &[6, 1]).unwrap(),
    );
    dict.split("w", 0, &["w0", "w1", "w2"]).unwrap();
    assert_eq!(dict.get("w1").unwrap().to_vec(), [2.0, 3.0]);
    assert_eq!(dict.get("w2").unwrap().shape(), &[2, 1]);
}
