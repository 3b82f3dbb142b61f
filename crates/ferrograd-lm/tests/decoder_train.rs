//! The decoder language model on chapter 3's training program: it trains (held-out
//! perplexity falls), a resumed run continues bit for bit as an uninterrupted one, and its
//! greedy generation (through the KV cache) equals re-running the whole sequence with
//! `argmax` over the full forward pass.

use ferrograd_data::text::{LineBatches, Padding, TokenizedLines};
use ferrograd_lm::train::{CausalLm, Control, Event, TrainConfig, Trainer, argmax_first};
use ferrograd_lm::{DecoderConfig, DecoderLanguageModel, GenerateOptions, Greedy, generate};
use ferrograd_nn::Module;
use ferrograd_tensor::{IdTensor, Rng, no_grad};
use std::path::PathBuf;

const V: usize = 40;

fn corpus() -> TokenizedLines {
    let mut rng = Rng::new(3);
    let examples: Vec<Vec<u32>> = (0..90)
        .map(|_| {
            let len = 2 + rng.below(10);
            let start = rng.below(V - 1) as u32 + 1;
            (0..len as u32)
                .map(|t| (start + 3 * t) % (V as u32 - 1) + 1)
                .collect()
        })
        .collect();
    TokenizedLines::from_examples(&examples, "synthetic").unwrap()
}

fn model(seed: u64) -> DecoderLanguageModel {
    let config = DecoderConfig {
        emb_dim: 16,
        num_heads: 4,
        mlp_hidden: 64,
        max_positions: 64,
        ..DecoderConfig::book(V, Some(0))
    };
    DecoderLanguageModel::new(&config, &mut Rng::new(seed)).unwrap()
}

fn batches() -> LineBatches {
    LineBatches::new(corpus(), 8, Padding::same(0))
        .unwrap()
        .shuffle(11)
}

fn config() -> TrainConfig {
    TrainConfig {
        lr: 5e-3,
        epochs: 100,
        eval_max_sentences: None,
        ignore_index: 0,
        ..TrainConfig::default()
    }
}

fn losses(trainer: &Trainer<'_, f32, DecoderLanguageModel>) -> Vec<f64> {
    trainer.history().steps.iter().map(|s| s.loss).collect()
}

fn quiet(_: &Event<'_>) -> Control {
    Control::Continue
}

#[test]
fn the_decoder_trains_and_resumes_exactly() {
    let (train, valid) = corpus().split_by_lines(0.8).unwrap();
    let valid = LineBatches::new(valid, 8, Padding::same(0))
        .unwrap()
        .all()
        .unwrap();
    let n = 13; // crosses the epoch boundary (9 batches per epoch)
    let whole = model(1);
    let mut t = Trainer::new(
        &whole,
        TrainConfig {
            max_steps: Some(2 * n),
            eval_every: Some(n),
            ..config()
        },
    )
    .unwrap();
    let mut data = LineBatches::new(train.clone(), 8, Padding::same(0))
        .unwrap()
        .shuffle(11);
    t.run(&mut data, &valid, None, &mut quiet).unwrap();
    let expected = losses(&t);
    assert_eq!(expected.len(), 2 * n as usize);
    let evals: Vec<f64> = t.history().evals.iter().map(|e| e.perplexity).collect();
    // Held-out perplexity starts near V (uniform) and falls: the model learns the
    // sequences' +3 rule.
    assert!(evals.len() >= 2, "{evals:?}");
    assert!(evals[evals.len() - 1] < 0.8 * evals[0], "{evals:?}");

    // N steps and a checkpoint; a fresh model (other weights) resumes and does N more.
    let path: PathBuf = std::env::temp_dir().join(format!(
        "ferrograd-lm-decoder-train-{}.ckpt",
        std::process::id()
    ));
    let first = model(1);
    let mut data = LineBatches::new(train.clone(), 8, Padding::same(0))
        .unwrap()
        .shuffle(11);
    let mut t1 = Trainer::new(
        &first,
        TrainConfig {
            max_steps: Some(n),
            checkpoint_path: Some(path.clone()),
            ..config()
        },
    )
    .unwrap();
    t1.run(&mut data, &[], None, &mut quiet).unwrap();
    let second = model(99);
    let mut fresh = LineBatches::new(train, 8, Padding::same(0))
        .unwrap()
        .shuffle(11);
    let mut t2 = Trainer::new(
        &second,
        TrainConfig {
            max_steps: Some(2 * n),
            ..config()
        },
    )
    .unwrap();
    t2.resume(&path, &mut fresh).unwrap();
    t2.run(&mut fresh, &[], None, &mut quiet).unwrap();
    assert_eq!(losses(&t2), expected, "bit for bit");
    for ((name, a), (_, b)) in whole
        .named_parameters()
        .iter()
        .zip(second.named_parameters())
    {
        assert_eq!(a.tensor().to_vec(), b.tensor().to_vec(), "{name}");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn greedy_generation_through_the_cache_equals_rerunning_the_sequence() {
    let m = model(5);
    // Train a little so the predictions are not uniform.
    let mut t = Trainer::new(
        &m,
        TrainConfig {
            max_steps: Some(20),
            ..config()
        },
    )
    .unwrap();
    t.run(&mut batches(), &[], None, &mut quiet).unwrap();
    for prompt in [vec![1u32], vec![4, 7, 10], vec![30, 33, 36, 39, 3]] {
        let got = m.generate_greedy(&prompt, 12, None).unwrap();
        // By hand: the full forward pass on the whole sequence, argmax of its last row.
        let mut want = prompt.clone();
        for _ in 0..12 {
            let ids: Vec<i64> = want.iter().map(|&t| i64::from(t)).collect();
            let n = ids.len();
            let logits = no_grad(|| m.forward_ids(&IdTensor::new(ids, &[1, n]).unwrap())).unwrap();
            let data = logits.contiguous_data();
            want.push(argmax_first(&data[(n - 1) * V..n * V]));
        }
        assert_eq!(got, want, "prompt {prompt:?}");
    }
    // The end token stops generation (kept), and a prompt longer than the context keeps
    // its last 64 tokens: a full context gives one more token (it is never fed back, as
    // in `generate`), and that token is the one `generate` picks.
    let eos = m.generate_greedy(&[4, 7, 10], 12, None).unwrap()[3];
    let stopped = m.generate_greedy(&[4, 7, 10], 12, Some(eos)).unwrap();
    assert_eq!(stopped, [4, 7, 10, eos]);
    let long: Vec<u32> = (0..70).map(|i| (i % 39) + 1).collect();
    let out = m.generate_greedy(&long, 5, None).unwrap();
    assert_eq!(out.len(), 71, "one token after a full context");
    let last64: Vec<i64> = long[6..].iter().map(|&t| i64::from(t)).collect();
    // `generate` allows exactly one new token after a full context, and refuses two.
    let direct = generate(&m, &last64, &mut Greedy, &GenerateOptions::new(1)).unwrap();
    assert_eq!(direct.tokens, [i64::from(out[70])]);
    assert!(generate(&m, &last64, &mut Greedy, &GenerateOptions::new(2)).is_err());
    assert!(m.generate_greedy(&[], 3, None).is_err());
    let empty = ferrograd_lm::CachedLm::last_logits(&m, &[], None);
    assert!(
        matches!(empty, Err(ferrograd_lm::LmError::Empty { .. })),
        "{empty:?}"
    );
    assert!(m.generate_greedy(&[V as u32], 3, None).is_err());
}
