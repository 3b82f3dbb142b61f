//! `ferrograd_nn::StateDict` and `load_state_dict`: safetensors bytes of any float dtype
//! (F16, BF16, F32, F64) read into a dict, mapped as a Hugging Face checkpoint is (strip
//! a prefix, transpose, split), and loaded strictly and leniently into a small model.
//!
//! Checked beyond "no panic": errors name the source; a strict load either fills every
//! parameter or changes none; a lenient load's report accounts for every parameter.

use crate::{Rng, Target, formats};
use ferrograd_nn::{
    LayerNorm, Linear, LoadOptions, Module, StateDict, Visitor, load_state_dict,
};
use ferrograd_tensor::{Tensor, io::save_safetensors_bytes};

/// The target.
pub const TARGET: Target = Target {
    name: "checkpoint",
    about: "ferrograd_nn StateDict reading (f16/bf16/f32/f64), mapping and strict/lenient loads",
    run,
    seeds,
    dictionary: DICTIONARY,
    mutate: Some(mutate),
    max_len: 4096,
};

const NAME: &str = "fuzz-checkpoint.safetensors";

const DICTIONARY: &[&[u8]] = &[
    b"\"dtype\"",
    b"\"shape\"",
    b"\"data_offsets\"",
    b"\"F16\"",
    b"\"BF16\"",
    b"\"F32\"",
    b"\"F64\"",
    b"\"I64\"",
    b"transformer.",
    b"c_attn.weight",
    b"ln.weight",
    b"ln.bias",
    b"[2,6]",
    b"[6,2]",
];

fn mutate(data: &mut Vec<u8>, rng: &mut Rng) {
    formats::mutate_safetensors(data, rng, &["transformer.c_attn.weight", "transformer.ln.bias"]);
}

/// A layer norm and three projections: what a fused, transposed `c_attn` maps onto.
#[derive(Debug)]
struct Model {
    ln: LayerNorm,
    q: Linear,
    k: Linear,
    v: Linear,
}

impl Module for Model {
    fn visit(&self, v: &mut dyn Visitor) {
        v.module("ln", &self.ln);
        v.module("q", &self.q);
        v.module("k", &self.k);
        v.module("v", &self.v);
    }
}

fn model() -> Model {
    let mut rng = ferrograd_tensor::Rng::new(0);
    Model {
        ln: LayerNorm::new(&[2]),
        q: Linear::with_bias(2, 2, false, &mut rng),
        k: Linear::with_bias(2, 2, false, &mut rng),
        v: Linear::with_bias(2, 2, false, &mut rng),
    }
}

/// A checkpoint shaped as `transformers` writes one (prefix, Conv1D `[in, out]`), and a
/// plain one.
pub fn seeds() -> Vec<Vec<u8>> {
    let fused = Tensor::<f32>::from_vec((0..12).map(|i| i as f32 * 0.25).collect(), &[2, 6])
        .expect("12 values fill [2, 6]");
    let w = Tensor::<f32>::from([1.0, 2.0]);
    let b = Tensor::<f32>::from([0.5, -0.5]);
    let plain = Tensor::<f64>::from([[1.0, 0.0], [0.0, 1.0]]);
    [
        save_safetensors_bytes(&[
            ("transformer.c_attn.weight", &fused),
            ("transformer.ln.weight", &w),
            ("transformer.ln.bias", &b),
        ]),
        save_safetensors_bytes(&[("q.weight", &plain), ("k.weight", &plain)]),
    ]
    .into_iter()
    .map(|r| r.expect("seeds encode"))
    .collect()
}

fn values(m: &Model) -> Vec<Vec<u64>> {
    m.parameters()
        .iter()
        .map(|p| p.tensor().to_vec().iter().map(|v| u64::from(v.to_bits())).collect())
        .collect()
}

/// Reads, maps and loads `data`, checking the all-or-nothing and report invariants.
pub fn run(data: &[u8]) {
    let mut dict = match StateDict::<f32>::from_bytes(data, NAME) {
        Ok(d) => d,
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains(NAME), "error does not name the source: {text}");
            return;
        }
    };
    crate::accepted();
    // The mapping a GPT-2 loader applies; each step may fail on odd input, never panic.
    let _ = dict.strip_prefix("transformer.");
    if dict.transpose("c_attn.weight").is_ok() {
        let _ = dict.split("c_attn.weight", 0, &["q.weight", "k.weight", "v.weight"]);
    }
    let m = model();
    let before = values(&m);
    match load_state_dict(&m, &dict, &LoadOptions::strict()) {
        Ok(report) => {
            assert!(report.is_complete(), "a strict load succeeded with problems");
            assert_eq!(report.loaded.len(), m.parameters().len());
        }
        Err(_) => assert_eq!(values(&m), before, "a failed strict load changed the model"),
    }
    let fresh = model();
    let report = load_state_dict(&fresh, &dict, &LoadOptions::lenient())
        .expect("a lenient load reports instead of failing");
    let accounted = report.loaded.len() + report.missing.len() + report.mismatched.len();
    assert_eq!(accounted, fresh.parameters().len(), "the report lost a parameter");
}
