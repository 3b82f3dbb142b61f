//! §5.2–5.3 supervised finetuning on the tiny GPT-2 checkpoint (`tests/data/tiny-random-gpt2`,
//! its own byte-level tokenizer): labels, padding, masks; the emotion prompt and ChatML
//! trained until memorised, then evaluated by greedy generation and exact match, with
//! ChatML's `<|im_end|>` stopping generation.

use ferrograd_lm::finetune::{
    CHATML_END, IGNORE, Padding, SftExample, chatml_completion, chatml_prompt, collate,
    emotion_prompt, encode_example, exact_match, train_step,
};
use ferrograd_lm::gpt2::Gpt2LmHeadModel;
use ferrograd_lm::gpt2_generate::{FinishReason, GenerationConfig, generate_text};
use ferrograd_lm::gpt2_load::load_tokenizer;
use ferrograd_lm::sampling::Sampler;
use ferrograd_nn::Module;
use ferrograd_optim::{AdamW, AdamWConfig};
use std::path::PathBuf;

fn tiny() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny-random-gpt2")
}

/// GPT-2's `<|endoftext|>` in the tiny checkpoint's vocabulary (its `eos_token_id`).
fn eos() -> i64 {
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tiny().join("config.json")).unwrap())
            .unwrap();
    config["eos_token_id"].as_i64().unwrap()
}

#[test]
fn labels_ignore_the_prompt_and_padding_and_end_with_eos() {
    let e = SftExample::new(&[5, 6, 7], &[8, 9], 2);
    assert_eq!(e.input_ids, [5, 6, 7, 8, 9, 2]);
    assert_eq!(e.labels, [IGNORE, IGNORE, IGNORE, 8, 9, 2]);
    let f = SftExample::new(&[3], &[4], 2);

    let right = collate(&[&e, &f], 0, Padding::Right).unwrap();
    assert_eq!(
        right.input_ids.to_vec(),
        [5, 6, 7, 8, 9, 2, 3, 4, 2, 0, 0, 0]
    );
    assert_eq!(
        right.attention_mask.to_vec(),
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    );
    assert_eq!(
        right.labels.to_vec(),
        [
            IGNORE, IGNORE, IGNORE, 8, 9, 2, IGNORE, 4, 2, IGNORE, IGNORE, IGNORE
        ]
    );
    assert_eq!(right.position_ids.to_vec()[6..9], [0, 1, 2]);
    assert_eq!(right.target_tokens(), 5);

    let left = collate(&[&e, &f], 0, Padding::Left).unwrap();
    assert_eq!(left.input_ids.to_vec()[6..], [0, 0, 0, 3, 4, 2]);
    assert_eq!(left.attention_mask.to_vec()[6..], [0, 0, 0, 1, 1, 1]);
    assert_eq!(
        left.labels.to_vec()[6..],
        [IGNORE, IGNORE, IGNORE, IGNORE, 4, 2]
    );
    // Positions count real tokens only, so the left-padded row starts at 0.
    assert_eq!(left.position_ids.to_vec()[9..], [0, 1, 2]);

    assert!(collate(&[], 0, Padding::Right).is_err());
    let empty = SftExample {
        input_ids: vec![],
        labels: vec![],
    };
    assert!(collate(&[&empty], 0, Padding::Right).is_err());
}

#[test]
fn the_loss_counts_only_completion_tokens() {
    // Changing prompt or padding labels' ids would change nothing: the loss of a batch
    // equals the loss computed by hand over the completion positions only.
    let model = Gpt2LmHeadModel::<f64>::from_pretrained(tiny()).unwrap();
    let e = SftExample::new(&[10, 11, 12], &[13, 14], 15);
    let f = SftExample::new(&[16], &[17], 15);
    let b = collate(&[&e, &f], 0, Padding::Right).unwrap();
    let logits = model
        .logits_of(
            &ferrograd_lm::gpt2::Gpt2Input::masked(&b.input_ids, &b.attention_mask)
                .with_positions(&b.position_ids),
        )
        .unwrap();
    let loss = model.loss(&logits, &b.labels).unwrap().item().unwrap();
    // By hand: position t predicts label t + 1.
    let (t, v) = (b.input_ids.shape()[1], logits.shape()[2]);
    let data = logits.to_vec();
    let labels = b.labels.to_vec();
    let (mut sum, mut n) = (0.0, 0);
    for row in 0..2 {
        for pos in 0..t - 1 {
            let target = labels[row * t + pos + 1];
            if target == IGNORE {
                continue;
            }
            let z = &data[(row * t + pos) * v..(row * t + pos + 1) * v];
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + z.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
            sum += lse - z[target as usize];
            n += 1;
        }
    }
    assert_eq!(n, 5); // 13, 14, 15 and 17, 15
    assert!(
        (loss - sum / n as f64).abs() < 1e-12,
        "{loss} vs {}",
        sum / n as f64
    );
}

#[test]
fn a_batch_with_nothing_to_score_is_an_error_not_a_nan_loss() {
    let model = Gpt2LmHeadModel::<f32>::from_pretrained(tiny()).unwrap();
    let eos = eos();
    // Hand-built examples: every label ignored, or only the first (which the shift never
    // scores) set.
    let mut opt = AdamW::new(model.parameters(), AdamWConfig::new(1e-3)).unwrap();
    let before = model.parameters()[0].tensor().to_vec();
    for labels in [vec![-100, -100], vec![5, -100]] {
        let example = SftExample {
            input_ids: vec![5, 6],
            labels,
        };
        let batch = collate(&[&example], eos, Padding::Right).unwrap();
        let err = train_step(&model, &batch, &mut opt).unwrap_err();
        assert!(
            err.to_string().contains("completion token to score"),
            "{err}"
        );
    }
    assert_eq!(
        model.parameters()[0].tensor().to_vec(),
        before,
        "nothing updated"
    );
}

/// Trains every parameter on `examples` (one batch) until the loss is low; returns the
/// first and last losses. Dropout (0.1 in the tiny checkpoint's config) is switched off so
/// that a model this small (d = 32) can memorise.
fn memorise(model: &Gpt2LmHeadModel<f32>, examples: &[SftExample], eos: i64) -> (f64, f64) {
    model.eval();
    let refs: Vec<&SftExample> = examples.iter().collect();
    let batch = collate(&refs, eos, Padding::Right).unwrap();
    let mut opt = AdamW::new(model.parameters(), AdamWConfig::new(3e-3)).unwrap();
    let first = train_step(model, &batch, &mut opt).unwrap();
    let mut last = first;
    for step in 0..400 {
        last = train_step(model, &batch, &mut opt).unwrap();
        if step % 50 == 0 {
            println!("step {step}: loss {last:.4}");
        }
        if last < 0.01 {
            break;
        }
    }
    (first, last)
}

#[test]
fn emotion_prompts_are_learned_and_scored_by_exact_match() {
    let tokenizer = load_tokenizer(tiny()).unwrap();
    let eos = eos();
    let pairs: Vec<(String, String)> = [
        ("i feel so happy today", "joy"),
        ("i am scared of the dark", "fear"),
        ("this makes me furious", "anger"),
        ("i miss her so much", "sadness"),
    ]
    .iter()
    .map(|(t, l)| (emotion_prompt(t), format!(" {l}")))
    .collect();
    let model = Gpt2LmHeadModel::<f32>::from_pretrained(tiny()).unwrap();
    let (before, _) = exact_match(&model, &tokenizer, &pairs, 4, eos, 3).unwrap();
    assert_eq!(before, 0.0, "a random model does not answer");

    let examples: Vec<SftExample> = pairs
        .iter()
        .map(|(p, c)| encode_example(&tokenizer, p, c, eos))
        .collect();
    let (first, last) = memorise(&model, &examples, eos);
    assert!(last < 0.05 && last < first / 20.0, "loss {first} -> {last}");
    // Left-padded batches of 3 and 1: the same answers as one at a time.
    let (after, completions) = exact_match(&model, &tokenizer, &pairs, 4, eos, 3).unwrap();
    assert_eq!(after, 1.0, "{completions:?}");
    let (one_by_one, same) = exact_match(&model, &tokenizer, &pairs, 4, eos, 1).unwrap();
    assert_eq!((one_by_one, same), (after, completions));
}

#[test]
fn chatml_answers_stop_at_im_end() {
    let tokenizer = load_tokenizer(tiny()).unwrap();
    let eos = eos();
    let items = [
        ("Name a colour.", "Blue."),
        ("What is two plus two?", "Four."),
    ];
    let examples: Vec<SftExample> = items
        .iter()
        .map(|(q, a)| encode_example(&tokenizer, &chatml_prompt(q), &chatml_completion(a), eos))
        .collect();
    let model = Gpt2LmHeadModel::<f32>::from_pretrained(tiny()).unwrap();
    memorise(&model, &examples, eos);

    // `<|im_end|>` is several ids in GPT-2's vocabulary: stop on the sequence, or on the
    // string in the decoded text; both end the answer right after it.
    let stop: Vec<i64> = tokenizer
        .encode(CHATML_END)
        .into_iter()
        .map(i64::from)
        .collect();
    assert!(stop.len() > 1);
    for (q, a) in items {
        let config = GenerationConfig::new(30).with_stop_sequence(stop.clone());
        let out = generate_text(
            &model,
            &tokenizer,
            &chatml_prompt(q),
            &mut Sampler::greedy(),
            &config,
            &[],
        )
        .unwrap();
        assert_eq!(out.finish, FinishReason::StopSequence, "{:?}", out.text);
        assert_eq!(out.text, chatml_completion(a));
        let by_string = generate_text(
            &model,
            &tokenizer,
            &chatml_prompt(q),
            &mut Sampler::greedy(),
            &GenerationConfig::new(30),
            &[CHATML_END],
        )
        .unwrap();
        assert_eq!(by_string.finish, FinishReason::StopString);
        // The book's cleaning: drop the marker and trim.
        assert_eq!(by_string.text.trim(), a);
    }
}

#[test]
fn collate_checks_each_example_and_names_it() {
    let ok = SftExample::new(&[1, 2], &[3], 4);
    // Labels one short in one example and one long in the next: the totals agree (6 and
    // 6), so only a per-example check catches the shifted labels.
    let short = SftExample {
        input_ids: vec![5, 6, 7],
        labels: vec![6, 7],
    };
    let long = SftExample {
        input_ids: vec![8, 9, 10],
        labels: vec![9, 10, 11, 12],
    };
    let e = collate(&[&ok, &short, &long], 0, Padding::Right).unwrap_err();
    assert!(
        matches!(&e, ferrograd_lm::LmError::InvalidConfig { op: "collate", value, .. }
            if value == "example 1 has 3 input ids and 2 labels"),
        "{e}"
    );
    let e = collate(&[&ok, &long], 0, Padding::Left).unwrap_err();
    assert!(
        e.to_string()
            .contains("example 1 has 3 input ids and 4 labels"),
        "{e}"
    );
    let empty = SftExample {
        input_ids: vec![],
        labels: vec![],
    };
    let e = collate(&[&ok, &ok, &empty], 0, Padding::Right).unwrap_err();
    assert!(e.to_string().contains("example 2 has no tokens"), "{e}");
}

#[test]
fn target_tokens_counts_only_the_labels_the_shifted_loss_scores() {
    // Hand-built: a label in column 0 (which predicts nothing) and two scored ones.
    let a = SftExample {
        input_ids: vec![5, 6, 7],
        labels: vec![5, 6, IGNORE],
    };
    let b = SftExample {
        input_ids: vec![8, 9],
        labels: vec![8, 9],
    };
    let right = collate(&[&a, &b], 0, Padding::Right).unwrap();
    // Scored: 6 in row 0, 9 in row 1; the 5 and 8 of column 0 are not.
    assert_eq!(right.target_tokens(), 2);
    // Left padding moves row 1's labels to columns 1 and 2: both are scored now.
    let left = collate(&[&a, &b], 0, Padding::Left).unwrap();
    assert_eq!(left.labels.to_vec(), [5, 6, IGNORE, IGNORE, 8, 9]);
    assert_eq!(left.target_tokens(), 3);
}
