//! GPT-2 against transformers 5.25 on the real tiny checkpoint (`tests/data/gpt2/`, made by
//! `scripts/reference/gpt2_reference.py`; see its NOTE.md): logits at every real position,
//! hidden states, the loss with labels, in float32 and float64; the parameter count of
//! GPT-2 small; the checkpoint's key forms and dtypes; bad checkpoints.

use ferrograd_lm::LmError;
use ferrograd_lm::gpt2::{Gpt2Config, Gpt2Input, Gpt2LmHeadModel, position_ids_from_mask};
use ferrograd_nn::Module;
use ferrograd_tensor::io::load_safetensors;
use ferrograd_tensor::{IdTensor, Scalar, Tensor};
use std::path::{Path, PathBuf};

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

fn tiny() -> PathBuf {
    data("tiny-random-gpt2")
}

fn ids(file: &str, name: &str) -> IdTensor {
    let path = data(file);
    let stored = load_safetensors(&path).unwrap();
    let t = stored.iter().find(|t| t.name == name).unwrap();
    t.to_ids(&path.display().to_string()).unwrap()
}

fn floats<T: Scalar>(file: &str, name: &str) -> Tensor<T> {
    let path = data(file);
    let stored = load_safetensors(&path).unwrap();
    let t = stored
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("{name} in {file}"));
    t.to_tensor_converted::<T>(&path.display().to_string())
        .unwrap()
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(data("gpt2/expected.json")).unwrap()).unwrap()
}

/// Largest |a − b| over the positions where `mask` is 1 (`[B, T]`), for `[B, T, V]`.
fn max_diff_masked<T: Scalar>(a: &Tensor<T>, b: &Tensor<T>, mask: &IdTensor) -> f64 {
    assert_eq!(a.shape(), b.shape());
    let v = a.shape()[2];
    let (a, b, m) = (a.to_vec(), b.to_vec(), mask.to_vec());
    let mut worst = 0.0f64;
    for (pos, &keep) in m.iter().enumerate() {
        if keep == 0 {
            continue;
        }
        for i in pos * v..(pos + 1) * v {
            worst = worst.max((a[i].to_f64() - b[i].to_f64()).abs());
        }
    }
    worst
}

fn case_logits<T: Scalar>(model: &Gpt2LmHeadModel<T>, case: &str) -> Tensor<T> {
    let input_ids = ids("gpt2/inputs.safetensors", &format!("{case}.input_ids"));
    let mask = ids("gpt2/inputs.safetensors", &format!("{case}.attention_mask"));
    let mut input = Gpt2Input::masked(&input_ids, &mask);
    let positions;
    if case == "left_padded" {
        positions = ids("gpt2/inputs.safetensors", "left_padded.position_ids");
        assert_eq!(
            position_ids_from_mask(&mask).unwrap().to_vec(),
            positions.to_vec()
        );
        input = input.with_positions(&positions);
    }
    model.logits_of(&input).unwrap()
}

// Tolerance 1e-5: the bound. The logits are ≤ 0.5 in size; float32 vs float64
// reference logits differ by ≤ 1.6e-7 (NOTE.md), so float32 summation-order differences
// between faer and PyTorch stay two orders of magnitude below it.
const LOGIT_TOLERANCE: f64 = 1e-5;

#[test]
fn logits_match_transformers_at_every_real_position_f32() {
    let model = Gpt2LmHeadModel::<f32>::from_pretrained(tiny()).unwrap();
    for case in ["single", "right_padded", "left_padded"] {
        let ours = case_logits(&model, case);
        let theirs = floats::<f32>("gpt2/logits.safetensors", case);
        let mask = ids("gpt2/inputs.safetensors", &format!("{case}.attention_mask"));
        let diff = max_diff_masked(&ours, &theirs, &mask);
        assert!(diff < LOGIT_TOLERANCE, "{case}: max |Δ| = {diff:e}");
    }
}

#[test]
fn logits_match_transformers_f64() {
    let model = Gpt2LmHeadModel::<f64>::from_pretrained(tiny()).unwrap();
    let ours = case_logits(&model, "single");
    let theirs = floats::<f64>("gpt2/logits_f64.safetensors", "single");
    let mask = ids("gpt2/inputs.safetensors", "single.attention_mask");
    // Both sides in float64 from the same float32 weights: far tighter than float32.
    let diff = max_diff_masked(&ours, &theirs, &mask);
    assert!(diff < 1e-12, "max |Δ| = {diff:e}");
    // The padded cases against the float32 reference, at the float32 tolerance.
    for case in ["right_padded", "left_padded"] {
        let ours = case_logits(&model, case);
        let theirs = floats::<f64>("gpt2/logits.safetensors", case);
        let mask = ids("gpt2/inputs.safetensors", &format!("{case}.attention_mask"));
        let diff = max_diff_masked(&ours, &theirs, &mask);
        assert!(diff < LOGIT_TOLERANCE, "{case}: max |Δ| = {diff:e}");
    }
}

#[test]
fn hidden_states_match_transformers_hooks() {
    let model = Gpt2LmHeadModel::<f64>::from_pretrained(tiny()).unwrap();
    let input_ids = ids("gpt2/inputs.safetensors", "single.input_ids");
    let (last, kept) = model
        .transformer
        .forward_with_block_outputs(&Gpt2Input::ids(&input_ids))
        .unwrap();
    let mut names = vec!["embeddings".to_string()];
    names.extend((0..5).map(|i| format!("block.{i}")));
    assert_eq!(kept.len(), names.len());
    for (name, ours) in names.iter().zip(&kept) {
        let theirs = floats::<f64>("gpt2/hidden_f64.safetensors", name);
        let diff = max_abs(ours, &theirs);
        assert!(diff < 1e-10, "{name}: {diff:e}");
    }
    let theirs = floats::<f64>("gpt2/hidden_f64.safetensors", "last_hidden_state");
    assert!(max_abs(&last, &theirs) < 1e-10);
}

fn max_abs<T: Scalar>(a: &Tensor<T>, b: &Tensor<T>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.to_vec()
        .iter()
        .zip(b.to_vec())
        .map(|(x, y)| (x.to_f64() - y.to_f64()).abs())
        .fold(0.0, f64::max)
}

#[test]
fn loss_with_labels_matches_transformers() {
    let e = expected();
    let m32 = Gpt2LmHeadModel::<f32>::from_pretrained(tiny()).unwrap();
    let m64 = Gpt2LmHeadModel::<f64>::from_pretrained(tiny()).unwrap();
    for case in ["single", "right_padded", "left_padded"] {
        let labels = ids("gpt2/inputs.safetensors", &format!("{case}.labels"));
        let ours = m32.loss(&case_logits(&m32, case), &labels).unwrap();
        let theirs = e["float32"]["loss"][case]["transformers"].as_f64().unwrap();
        // float32 cross-entropy of ~7 over ≤ 33 tokens: 1e-5 is ~20 float32 ulps.
        let diff = (f64::from(ours.item().unwrap()) - theirs).abs();
        assert!(diff < 1e-5, "{case}: {} vs {theirs}", ours.item().unwrap());
        let ours = m64.loss(&case_logits(&m64, case), &labels).unwrap();
        let theirs = e["float64"]["loss"][case]["in_model_dtype"]
            .as_f64()
            .unwrap();
        // float64 on both sides, but the padded cases' reference weights were float32
        // rounding of the same run: 1e-6 covers the float32 input ids' path (tight anyway).
        let diff = (ours.item().unwrap() - theirs).abs();
        let tolerance = if case == "single" { 1e-12 } else { 1e-6 };
        assert!(diff < tolerance, "{case} f64: {diff:e}");
    }
}

#[test]
fn gpt2_small_has_124_439_808_parameters() {
    let e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("gpt2/param_count.json")).unwrap())
            .unwrap();
    let expected = e["gpt2_124m"]["parameters"].as_u64().unwrap() as usize;
    assert_eq!(expected, 124_439_808);
    // Construct the real thing (f32, ~0.5 GB) and count.
    let model =
        Gpt2LmHeadModel::<f32>::new(&Gpt2Config::gpt2_124m(), &mut ferrograd_tensor::Rng::new(0))
            .unwrap();
    assert_eq!(model.num_parameters(), expected);
    // 148 parameter tensors; the tied head is one of them.
    assert_eq!(model.named_parameters().len(), 148);
    assert!(model.lm_head.same_as(&model.transformer.wte.weight));
}

#[test]
fn parameter_names_are_transformers_state_dict_names() {
    let model = Gpt2LmHeadModel::<f32>::from_pretrained(tiny()).unwrap();
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names.len(), 64);
    assert_eq!(names[0], "transformer.wte.weight");
    assert_eq!(names[1], "transformer.wpe.weight");
    assert_eq!(names[2], "transformer.h.0.ln_1.weight");
    assert!(names.contains(&"transformer.h.4.mlp.c_proj.bias".to_string()));
    assert_eq!(names[63], "transformer.ln_f.bias");
    let aliases = ferrograd_nn::named_parameters_with_aliases(&model);
    assert_eq!(aliases.last().unwrap().0, "lm_head.weight");
}

/// A copy of the tiny checkpoint in a fresh directory with its tensors transformed.
fn variant(
    name: &str,
    edit: impl FnOnce(&mut Vec<(String, Tensor<f32>)>),
    config: impl FnOnce(&mut serde_json::Value),
) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrograd-gpt2-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = tiny().join("model.safetensors");
    let mut tensors: Vec<(String, Tensor<f32>)> = load_safetensors(&path)
        .unwrap()
        .iter()
        .map(|t| (t.name.clone(), t.to_tensor::<f32>(&path).unwrap()))
        .collect();
    edit(&mut tensors);
    let refs: Vec<(&str, &Tensor<f32>)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    ferrograd_tensor::io::save_safetensors(dir.join("model.safetensors"), &refs).unwrap();
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tiny().join("config.json")).unwrap())
            .unwrap();
    config(&mut json);
    std::fs::write(dir.join("config.json"), json.to_string()).unwrap();
    dir
}

#[test]
fn checkpoints_without_the_transformer_prefix_and_with_mask_buffers_load() {
    // openai-community/gpt2's form: `wte.weight`, `h.0.…`, plus `h.N.attn.bias` buffers.
    let dir = variant(
        "noprefix",
        |tensors| {
            for (n, _) in tensors.iter_mut() {
                *n = n.strip_prefix("transformer.").unwrap().to_string();
            }
            for i in 0..5 {
                tensors.push((
                    format!("h.{i}.attn.bias"),
                    Tensor::<f32>::ones(&[1, 1, 8, 8]),
                ));
                tensors.push((format!("h.{i}.attn.masked_bias"), Tensor::scalar(-1e4)));
            }
        },
        |_| {},
    );
    let model = Gpt2LmHeadModel::<f32>::from_pretrained(&dir).unwrap();
    let reference = Gpt2LmHeadModel::<f32>::from_pretrained(tiny()).unwrap();
    let x = ids("gpt2/inputs.safetensors", "single.input_ids");
    assert_eq!(
        model.logits(&x).unwrap().to_vec(),
        reference.logits(&x).unwrap().to_vec()
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn half_precision_checkpoints_load() {
    // float16 and bfloat16 files of the same weights (made by
    // scripts/reference/make_half_checkpoint.py when present; else written here).
    for dtype in ["F16", "BF16"] {
        let dir =
            std::env::temp_dir().join(format!("ferrograd-gpt2-{dtype}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(tiny().join("config.json"), dir.join("config.json")).unwrap();
        let path = tiny().join("model.safetensors");
        let stored = load_safetensors(&path).unwrap();
        let bytes = half_file(&stored, &path, dtype);
        std::fs::write(dir.join("model.safetensors"), bytes).unwrap();
        let model = Gpt2LmHeadModel::<f32>::from_pretrained(&dir).unwrap();
        let reference = Gpt2LmHeadModel::<f32>::from_pretrained(tiny()).unwrap();
        // Every weight equals the float32 one rounded to the half type.
        let step = if dtype == "F16" { 1e-3 } else { 8e-3 };
        for ((name, p), (_, q)) in model
            .named_parameters()
            .iter()
            .zip(reference.named_parameters())
        {
            let (a, b) = (p.tensor().to_vec(), q.tensor().to_vec());
            for (x, y) in a.iter().zip(&b) {
                assert!(
                    (x - y).abs() <= step * y.abs().max(6.1e-5),
                    "{dtype} {name}: {x} vs {y}"
                );
            }
        }
        std::fs::remove_dir_all(dir).ok();
    }
}

/// A safetensors file holding the tensors converted to F16 or BF16 (round to nearest
/// even), written by hand so the test needs no Python.
fn half_file(stored: &[ferrograd_tensor::io::StoredTensor], path: &Path, dtype: &str) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut body = Vec::new();
    for t in stored {
        let values = t.to_tensor::<f32>(path).unwrap().to_vec();
        let start = body.len();
        for v in values {
            let bits: u16 = if dtype == "F16" {
                f32_to_f16(v)
            } else {
                let b = v.to_bits();
                let round = 0x7fff + ((b >> 16) & 1);
                ((b + round) >> 16) as u16
            };
            body.extend_from_slice(&bits.to_le_bytes());
        }
        header.insert(
            t.name.clone(),
            serde_json::json!({"dtype": dtype, "shape": t.shape, "data_offsets": [start, body.len()]}),
        );
    }
    let mut h = serde_json::Value::Object(header).to_string().into_bytes();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(body);
    out
}

/// IEEE binary16 from binary32, round to nearest even (normal and subnormal results).
fn f32_to_f16(v: f32) -> u16 {
    let b = v.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32 - 127 + 15;
    let mant = b & 0x7f_ffff;
    if exp >= 31 {
        return sign | 0x7c00;
    }
    if exp <= 0 {
        if exp < -10 {
            return sign;
        }
        let m = mant | 0x80_0000;
        let shift = (14 - exp) as u32;
        let half = 1u32 << (shift - 1);
        let rest = m & ((1 << shift) - 1);
        let mut r = m >> shift;
        if rest > half || (rest == half && r & 1 == 1) {
            r += 1;
        }
        return sign | r as u16;
    }
    let mut r = ((exp as u32) << 10) | (mant >> 13);
    let rest = mant & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && r & 1 == 1) {
        r += 1;
    }
    sign | r as u16
}

fn problems(e: LmError) -> Vec<String> {
    match e {
        LmError::Checkpoint { problems, .. } => problems,
        other => panic!("expected a checkpoint error, got {other}"),
    }
}

#[test]
fn bad_checkpoints_are_one_error_listing_every_problem() {
    let dir = variant(
        "bad",
        |tensors| {
            tensors.retain(|(n, _)| n != "transformer.h.1.ln_2.bias");
            for (n, t) in tensors.iter_mut() {
                if n == "transformer.h.0.attn.c_attn.weight" {
                    *t = t.t().unwrap().contiguous(); // [96, 32]: a Linear's layout
                }
            }
            tensors.push((
                "transformer.h.9.mlp.c_fc.weight".into(),
                Tensor::zeros(&[2]),
            ));
        },
        |_| {},
    );
    let e = problems(Gpt2LmHeadModel::<f32>::from_pretrained(&dir).unwrap_err());
    let text = e.join("\n");
    assert_eq!(e.len(), 3, "{text}");
    assert!(
        text.contains("missing tensor `transformer.h.1.ln_2.bias`"),
        "{text}"
    );
    assert!(
        text.contains(
            "`transformer.h.0.attn.c_attn.weight` has shape [96, 32] in the file but [32, 96]"
        ),
        "{text}"
    );
    assert!(
        text.contains("unexpected tensor `transformer.h.9.mlp.c_fc.weight`"),
        "{text}"
    );
    std::fs::remove_dir_all(dir).ok();

    let dir = variant(
        "badconfig",
        |_| {},
        |c| {
            c["architectures"] = serde_json::json!(["LlamaForCausalLM"]);
            c["rope_theta"] = serde_json::json!(10000.0);
            c["n_head"] = serde_json::json!("four");
        },
    );
    let e = problems(Gpt2LmHeadModel::<f32>::from_pretrained(&dir).unwrap_err());
    let text = e.join("\n");
    assert!(
        text.contains("unknown architecture \"LlamaForCausalLM\""),
        "{text}"
    );
    assert!(text.contains("`rope_theta`"), "{text}");
    assert!(text.contains("`n_head` is \"four\""), "{text}");
    std::fs::remove_dir_all(&dir).ok();

    let dir = variant("heads", |_| {}, |c| c["n_head"] = serde_json::json!(5));
    let e = problems(Gpt2LmHeadModel::<f32>::from_pretrained(&dir).unwrap_err());
    assert!(e.join("\n").contains("must divide n_embd = 32"), "{e:?}");
    std::fs::remove_dir_all(&dir).ok();

    let missing = std::env::temp_dir().join("ferrograd-gpt2-no-such-dir");
    assert!(matches!(
        Gpt2LmHeadModel::<f32>::from_pretrained(&missing).unwrap_err(),
        LmError::Io { .. }
    ));
}

#[test]
fn saved_checkpoints_load_back_identically() {
    let model = Gpt2LmHeadModel::<f32>::from_pretrained(tiny()).unwrap();
    let dir = std::env::temp_dir().join(format!("ferrograd-gpt2-save-{}", std::process::id()));
    model.save_pretrained(&dir).unwrap();
    let again = Gpt2LmHeadModel::<f32>::from_pretrained(&dir).unwrap();
    let x = ids("gpt2/inputs.safetensors", "single.input_ids");
    assert_eq!(
        again.logits(&x).unwrap().to_vec(),
        model.logits(&x).unwrap().to_vec()
    );
    let names: Vec<String> = load_safetensors(dir.join("model.safetensors"))
        .unwrap()
        .iter()
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(names.len(), 64);
    assert!(names.iter().all(|n| n.starts_with("transformer.")));
    std::fs::remove_dir_all(dir).ok();
}

fn greedy_case<T: Scalar>(
    model: &Gpt2LmHeadModel<T>,
    case: &str,
    use_cache: bool,
) -> Vec<Vec<i64>> {
    use ferrograd_lm::gpt2_generate::{GenerationConfig, generate};
    use ferrograd_lm::sampling::Sampler;
    let input_ids = ids("gpt2/inputs.safetensors", &format!("{case}.input_ids"));
    let mask = ids("gpt2/inputs.safetensors", &format!("{case}.attention_mask"));
    // transformers: generate(do_sample=False, max_new_tokens=12, pad_token_id=98,
    // eos_token_id=98, use_cache=True/False).
    let config = GenerationConfig::new(12)
        .with_eos(&[98])
        .with_pad(98)
        .with_cache(use_cache);
    generate(
        model,
        &input_ids,
        Some(&mask),
        &mut Sampler::greedy(),
        &config,
    )
    .unwrap()
    .sequences
}

fn expected_sequences(dtype: &str, case: &str, which: &str) -> Vec<Vec<i64>> {
    expected()[dtype]["generate"][case][which]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn twelve_greedy_tokens_equal_transformers_generate_cached_and_uncached() {
    let m32 = Gpt2LmHeadModel::<f32>::from_pretrained(tiny()).unwrap();
    let m64 = Gpt2LmHeadModel::<f64>::from_pretrained(tiny()).unwrap();
    for case in ["single", "left_padded"] {
        for (which, use_cache) in [("cached", true), ("uncached", false)] {
            let theirs = expected_sequences("float32", case, which);
            assert_eq!(theirs[0].len(), 12 + 12);
            assert_eq!(
                greedy_case(&m32, case, use_cache),
                theirs,
                "{case} {which} f32"
            );
            let theirs = expected_sequences("float64", case, which);
            assert_eq!(
                greedy_case(&m64, case, use_cache),
                theirs,
                "{case} {which} f64"
            );
        }
    }
}

#[test]
fn cached_step_logits_equal_the_full_forward() {
    use ferrograd_lm::gpt2_generate::KvCache;
    let model = Gpt2LmHeadModel::<f64>::from_pretrained(tiny()).unwrap();
    let input_ids = ids("gpt2/inputs.safetensors", "left_padded.input_ids");
    let mask = ids("gpt2/inputs.safetensors", "left_padded.attention_mask");
    let positions = position_ids_from_mask(&mask).unwrap();
    let full = model
        .logits_of(&Gpt2Input::masked(&input_ids, &mask).with_positions(&positions))
        .unwrap();
    // Prefill 7 positions, then one at a time: each step's logits equal the full
    // forward's at that position (float64: only summation order differs).
    let mut cache = KvCache::new(&model, 3, 12).unwrap();
    for end in 7..=12 {
        let start = if end == 7 { 0 } else { end - 1 };
        let step_ids = input_ids
            .narrow(1, start, end - start)
            .unwrap()
            .contiguous();
        let step_pos = positions
            .narrow(1, start, end - start)
            .unwrap()
            .contiguous();
        let step_mask = mask.narrow(1, 0, end).unwrap().contiguous();
        let logits = model
            .forward_cached(&step_ids, Some(&step_mask), Some(&step_pos), &mut cache)
            .unwrap();
        let want = full
            .narrow(1, end - 1, 1)
            .unwrap()
            .reshape(&[3, 1000])
            .unwrap();
        // Rows whose position `end - 1` is padding have no meaningful logits there.
        let real = mask.narrow(1, end - 1, 1).unwrap().contiguous();
        let diff = max_diff_masked(
            &logits.unsqueeze(1).unwrap(),
            &want.unsqueeze(1).unwrap(),
            &real,
        );
        assert!(diff < 1e-12, "position {}: {diff:e}", end - 1);
    }
    assert_eq!(cache.len(), 12);
    // A full cache refuses more.
    let one = IdTensor::from([[5], [5], [5]]);
    assert!(model.forward_cached(&one, None, None, &mut cache).is_err());
}

#[test]
fn an_all_padding_row_is_named_as_an_empty_prompt() {
    use ferrograd_lm::gpt2_generate::{GenerationConfig, generate};
    use ferrograd_lm::sampling::Sampler;
    let model = Gpt2LmHeadModel::<f32>::from_pretrained(tiny()).unwrap();
    let input_ids = IdTensor::new(vec![98, 98, 98, 5, 6, 7], &[2, 3]).unwrap();
    let run = |mask: Vec<i64>| {
        let mask = IdTensor::new(mask, &[2, 3]).unwrap();
        generate(
            &model,
            &input_ids,
            Some(&mask),
            &mut Sampler::greedy(),
            &GenerationConfig::new(2),
        )
        .unwrap_err()
        .to_string()
    };
    let empty = run(vec![0, 0, 0, 1, 1, 1]);
    assert!(
        empty.contains("row 0") && empty.contains("empty prompt"),
        "{empty}"
    );
    let right_padded = run(vec![1, 1, 0, 1, 1, 1]);
    assert!(
        right_padded.contains("row 0 ends with padding"),
        "{right_padded}"
    );
}
