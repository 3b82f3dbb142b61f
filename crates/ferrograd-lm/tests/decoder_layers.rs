//! The chapter-4 layers against the book and PyTorch (`tests/data/decoder_replay/rope.json`
//! and `attention.json`, made by `scripts/reference/decoder_replay.py`): RoPE's book
//! example and random cases of both pairings with gradients and offset positions (as
//! after a KV-cache prefill); the book's causal-softmax example; multi-head causal
//! attention with and without RoPE and padding masks, with every gradient.
//!
//! Tolerances: float64 throughout; the references are float64 PyTorch, so results agree
//! to rounding (~1e-15 relative); 1e-12 absolute on values of order 1 leaves a margin of
//! ~1000 while a wrong angle, pairing, mask or scale gives O(0.1).

use ferrograd_nn::{Forward, Module, MultiHeadAttention, Rope, RopeStyle};
use ferrograd_tensor::{AttentionOptions, IdTensor, Parameter, Rng, Tensor};
use serde_json::Value;
use std::path::Path;

fn json(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/decoder_replay")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A nested JSON array of numbers, flattened, with its shape.
fn array(v: &Value) -> (Vec<f64>, Vec<usize>) {
    fn walk(v: &Value, depth: usize, data: &mut Vec<f64>, shape: &mut Vec<usize>) {
        match v {
            Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len());
                }
                for item in items {
                    walk(item, depth + 1, data, shape);
                }
            }
            other => data.push(other.as_f64().unwrap()),
        }
    }
    let (mut data, mut shape) = (Vec::new(), Vec::new());
    walk(v, 0, &mut data, &mut shape);
    (data, shape)
}

fn tensor(v: &Value) -> Tensor<f64> {
    let (data, shape) = array(v);
    Tensor::from_vec(data, &shape).unwrap()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn rope_reproduces_the_books_example() {
    let r = json("rope.json");
    let ex = &r["book_example"];
    let x = tensor(&ex["x"]).reshape(&[1, 6]).unwrap();
    let position = ex["position"].as_u64().unwrap() as usize;
    let rope = Rope::new(6).unwrap();
    let out = rope.apply(&x, &[position]).unwrap().to_vec();
    assert!(max_abs_diff(&out, &array(&ex["output"]).0) < 1e-12);
    // The book prints four decimals.
    assert!(max_abs_diff(&out, &array(&ex["book_printed"]).0) < 5e-5 + 1e-12);
    // In float32, as the notebook computes it: within float32 rounding of angles ~100.
    let single = rope.apply(&x.to_dtype::<f32>(), &[position]).unwrap();
    let notebook = array(&ex["output_notebook_float32"]).0;
    assert!(max_abs_diff(&single.to_dtype::<f64>().to_vec(), &notebook) < 1e-6);
}

#[test]
fn rope_matches_pytorch_in_both_pairings_with_gradients_and_offsets() {
    let r = json("rope.json");
    for (key, style) in [
        ("interleaved", RopeStyle::Interleaved),
        ("half_split", RopeStyle::HalfSplit),
    ] {
        for case in r[key]["cases"].as_array().unwrap() {
            let dim = case["dim"].as_u64().unwrap() as usize;
            let positions: Vec<usize> = case["positions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_u64().unwrap() as usize)
                .collect();
            let x = tensor(&case["x"]).set_requires_grad(true);
            let rope = Rope::new(dim).unwrap().with_style(style);
            let out = rope.apply(&x, &positions).unwrap();
            let what = format!("{key} dim {dim} positions {positions:?}");
            assert!(
                max_abs_diff(&out.to_vec(), &array(&case["output"]).0) < 1e-12,
                "{what}"
            );
            let up = tensor(&case["upstream"]);
            let grads = out.mul(&up).unwrap().sum_all().backward().unwrap();
            let gx = grads.get(&x).unwrap().to_vec();
            assert!(
                max_abs_diff(&gx, &array(&case["grad_x"]).0) < 1e-12,
                "{what}"
            );
            // A contiguous run of positions from an offset is `apply_from`.
            if positions.windows(2).all(|w| w[1] == w[0] + 1) {
                let from = rope.apply_from(&x, positions[0]).unwrap();
                assert_eq!(from.to_vec(), out.to_vec(), "{what}");
            }
        }
    }
}

#[test]
fn the_books_causal_softmax_example() {
    let a = json("attention.json");
    let ex = &a["book_example"];
    let scores = array(&ex["scores"]).0;
    // Keys of dimension one holding the scores, a query of 1 at position `query_index`,
    // the values the identity: the output row is the weights.
    let n = scores.len();
    let k = Tensor::from_vec(scores, &[1, 1, n, 1]).unwrap();
    let v = Tensor::<f64>::eye(n).reshape(&[1, 1, n, n]).unwrap();
    let q = Tensor::<f64>::ones(&[1, 1, n, 1]);
    let opts = AttentionOptions::causal().with_scale(1.0);
    let weights = q.scaled_dot_product_attention(&k, &v, &opts).unwrap();
    let row = weights
        .select(2, ex["query_index"].as_u64().unwrap() as usize)
        .unwrap()
        .to_vec();
    assert!(max_abs_diff(&row, &array(&ex["weights"]).0) < 1e-12);
    assert!(max_abs_diff(&row, &array(&ex["book_printed"]).0) < 5e-5);
}

#[test]
fn multi_head_attention_matches_pytorch_with_every_gradient() {
    let a = json("attention.json");
    for case in a["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (d, heads) = (
            case["d_model"].as_u64().unwrap() as usize,
            case["num_heads"].as_u64().unwrap() as usize,
        );
        let mut attn = MultiHeadAttention::<f64>::new(d, heads, &mut Rng::new(0)).unwrap();
        if !case["rope"].as_bool().unwrap() {
            attn = attn.with_rope(None).unwrap();
        }
        let per_head = |key: &str| {
            let t = tensor(&case[key]);
            (0..heads)
                .map(|h| t.select(0, h).unwrap())
                .collect::<Vec<_>>()
        };
        let (wq, wk, wv) = (per_head("W_Q"), per_head("W_K"), per_head("W_V"));
        for (h, head) in attn.heads.iter().enumerate() {
            head.w_q.set(&wq[h]).unwrap();
            head.w_k.set(&wk[h]).unwrap();
            head.w_v.set(&wv[h]).unwrap();
        }
        attn.w_o.set(&tensor(&case["W_O"])).unwrap();
        let x = tensor(&case["x"]).set_requires_grad(true);
        let mask = match &case["key_padding_mask"] {
            Value::Null => None,
            m => {
                let (data, shape) = array(m);
                Some(IdTensor::new(data.iter().map(|&v| v as i64).collect(), &shape).unwrap())
            }
        };
        let out = attn.forward_with(&x, mask.as_ref(), None).unwrap();
        // Compare outputs where the query sees at least one key (valid_query).
        let valid = array(&case["valid_query"]).0;
        let expected = array(&case["output"]).0;
        let ours = out.to_vec();
        for (row, &ok) in valid.iter().enumerate() {
            if ok == 1.0 {
                let span = row * d..(row + 1) * d;
                assert!(
                    max_abs_diff(&ours[span.clone()], &expected[span]) < 1e-12,
                    "{name}: row {row}"
                );
            }
        }
        // Gradients of Σ output · upstream (upstream is 0 on invalid rows).
        let up = tensor(&case["upstream"]);
        let loss = out.mul(&up).unwrap().sum_all();
        assert!((loss.item().unwrap() - case["loss"].as_f64().unwrap()).abs() < 1e-12);
        let grads = loss.backward().unwrap();
        let gx = grads.get(&x).unwrap().to_vec();
        assert!(
            max_abs_diff(&gx, &array(&case["grad_x"]).0) < 1e-12,
            "{name}: grad x"
        );
        let stacked = |f: fn(&ferrograd_nn::AttentionHead<f64>) -> &Parameter<f64>| {
            attn.heads
                .iter()
                .flat_map(|h| grads.get(f(h)).unwrap().to_vec())
                .collect::<Vec<_>>()
        };
        for (key, ours) in [
            ("grad_W_Q", stacked(|h| &h.w_q)),
            ("grad_W_K", stacked(|h| &h.w_k)),
            ("grad_W_V", stacked(|h| &h.w_v)),
            ("grad_W_O", grads.get(&attn.w_o).unwrap().to_vec()),
        ] {
            assert!(
                max_abs_diff(&ours, &array(&case[key]).0) < 1e-12,
                "{name}: {key}"
            );
        }
        // The layer's parameter names are the notebook's.
        let names: Vec<String> = attn
            .named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names[0], "W_O");
        assert_eq!(names[1..4], ["heads.0.W_Q", "heads.0.W_K", "heads.0.W_V"]);
        let _ = attn.forward(&x.detach()).unwrap();
    }
}
