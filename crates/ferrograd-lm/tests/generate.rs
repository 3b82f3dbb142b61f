//! Generation with the KV cache against generation without it (the notebook's way: the
//! whole sequence again at every step), greedy decoding, and the errors of bad input.

use ferrograd_lm::{
    CachedLm, DecoderConfig, DecoderLanguageModel, GenerateOptions, Greedy, LmError, NextToken,
    StopReason, generate,
};
use ferrograd_nn::{KvCache, Module};
use ferrograd_tensor::{IdTensor, NoGradGuard, Rng};

fn model<T: ferrograd_tensor::Scalar>(vocab: usize, seed: u64) -> DecoderLanguageModel<T> {
    let mut config = DecoderConfig::book(vocab, Some(0));
    config.max_positions = 96;
    let model = DecoderLanguageModel::<T>::new(&config, &mut Rng::new(seed)).unwrap();
    // Sharpen the random model so its greedy choices are far from ties: scale the output
    // matrix up (logit gaps of O(1) instead of O(0.01)).
    model
        .output
        .update(|w| w.iter_mut().for_each(|v| *v *= T::from_f64(30.0)))
        .unwrap();
    model
}

#[test]
fn cached_generation_equals_uncached_token_for_token() {
    for seed in 0..4 {
        let m = model::<f32>(300, seed);
        let prompt: Vec<i64> = (0..(5 + 7 * seed as i64))
            .map(|i| 1 + (i * 37 + seed as i64) % 299)
            .collect();
        let opts = GenerateOptions::new(40);
        let cached = generate(&m, &prompt, &mut Greedy, &opts).unwrap();
        let uncached = generate(&m, &prompt, &mut Greedy, &opts.clone().with_cache(false)).unwrap();
        assert_eq!(cached.tokens.len(), 40);
        assert_eq!(cached, uncached, "seed {seed}");
    }
}

#[test]
fn cached_logits_equal_full_forward_logits_at_every_position() {
    // Prefill 7 tokens, then 20 single tokens: each step's logits equal the last row of a
    // full forward pass over the sequence so far (float64: equal to rounding, 1e-12).
    let m = model::<f64>(200, 9);
    let seq: Vec<i64> = (0..27).map(|i| 1 + (i * 53) % 199).collect();
    let mut cache = m.new_kv_cache(1, 27).unwrap();
    for end in std::iter::once(7).chain(8..=27) {
        let start = if end == 7 { 0 } else { end - 1 };
        let step = m.last_logits(&seq[start..end], Some(&mut cache)).unwrap();
        let full = m
            .forward_ids(&IdTensor::new(seq[..end].to_vec(), &[1, end]).unwrap())
            .unwrap();
        let last = full.select(1, end - 1).unwrap().to_vec();
        let worst = step
            .iter()
            .zip(&last)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-12, "position {end}: {worst:e}");
        assert_eq!(cache.len(), end);
    }
    assert_eq!(cache.reallocations(), 0, "the cache was written in place");
}

#[test]
fn cached_forward_matches_full_forward_in_float64() {
    let m = model::<f64>(120, 4);
    let seq: Vec<i64> = (0..20).map(|i| 1 + (i * 17) % 119).collect();
    let full = m
        .forward_ids(&IdTensor::new(seq.clone(), &[1, 20]).unwrap())
        .unwrap();
    let mut cache: KvCache<f64> = m.new_kv_cache(1, 20).unwrap();
    // With gradients recorded the cache refuses (it would drop them); generation runs
    // without.
    let one = IdTensor::new(vec![seq[0]], &[1, 1]).unwrap();
    assert!(m.hidden_states(&one, None, Some(&mut cache)).is_err());
    let _guard = NoGradGuard::new();
    let prefill = m
        .hidden_states(
            &IdTensor::new(seq[..12].to_vec(), &[1, 12]).unwrap(),
            None,
            Some(&mut cache),
        )
        .unwrap();
    let mut rows = prefill.matmul(&m.output.tensor()).unwrap().to_vec();
    for &id in &seq[12..20] {
        let x = m
            .hidden_states(
                &IdTensor::new(vec![id], &[1, 1]).unwrap(),
                None,
                Some(&mut cache),
            )
            .unwrap();
        rows.extend(x.matmul(&m.output.tensor()).unwrap().to_vec());
    }
    let worst = rows
        .iter()
        .zip(full.to_vec())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-12, "{worst:e}");
}

#[test]
fn stop_and_banned_tokens() {
    let m = model::<f32>(50, 2);
    let free = generate(&m, &[3, 4], &mut Greedy, &GenerateOptions::new(12)).unwrap();
    assert_eq!(free.stop, StopReason::MaxTokens);
    // Stop at the third generated token's value: generation ends right after it.
    let stop = free.tokens[2];
    let first = free.tokens.iter().position(|&t| t == stop).unwrap();
    let stopped = generate(
        &m,
        &[3, 4],
        &mut Greedy,
        &GenerateOptions::new(12).with_stop_tokens(&[stop]),
    )
    .unwrap();
    assert_eq!(stopped.stop, StopReason::StopToken);
    assert_eq!(stopped.tokens, free.tokens[..=first]);
    // Banning the first choice changes it, and it never appears.
    let banned = free.tokens[0];
    let other = generate(
        &m,
        &[3, 4],
        &mut Greedy,
        &GenerateOptions::new(12).with_banned_tokens(&[banned]),
    )
    .unwrap();
    assert!(!other.tokens.contains(&banned));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let m = model::<f32>(50, 1);
    // A prompt longer than the context (96).
    let long = vec![1i64; 97];
    let e = generate(&m, &long, &mut Greedy, &GenerateOptions::new(1)).unwrap_err();
    assert!(
        matches!(
            e,
            LmError::ContextExceeded {
                positions: 97,
                max_positions: 96,
                ..
            }
        ),
        "{e}"
    );
    // A prompt that fits, but not with the tokens asked for.
    let e = generate(&m, &[1; 90], &mut Greedy, &GenerateOptions::new(10)).unwrap_err();
    assert!(
        matches!(e, LmError::ContextExceeded { positions: 100, .. }),
        "{e}"
    );
    // "Until the end", as usize::MAX: past the context, not an overflow.
    let e = generate(&m, &[1, 2], &mut Greedy, &GenerateOptions::new(usize::MAX)).unwrap_err();
    assert!(
        matches!(
            e,
            LmError::ContextExceeded {
                positions: usize::MAX,
                max_positions: 96,
                ..
            }
        ),
        "{e}"
    );
    assert!(generate(&m, &[], &mut Greedy, &GenerateOptions::new(3)).is_err());
    // An id outside the vocabulary.
    let e = generate(&m, &[1, 50], &mut Greedy, &GenerateOptions::new(3)).unwrap_err();
    assert!(e.to_string().contains("50"), "{e}");
    let e = generate(
        &m,
        &[1],
        &mut Greedy,
        &GenerateOptions::new(3).with_banned_tokens(&[-1]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("banned_tokens"), "{e}");
    // A cache used past its capacity.
    let mut cache = m.new_kv_cache(1, 4).unwrap();
    m.last_logits(&[1, 2, 3], Some(&mut cache)).unwrap();
    let e = m.last_logits(&[4, 5], Some(&mut cache)).unwrap_err();
    assert!(
        e.to_string()
            .contains("3 of 4 positions; 2 more do not fit"),
        "{e}"
    );
    assert_eq!(cache.len(), 3, "a failed step leaves the cache as it was");
    m.last_logits(&[4], Some(&mut cache)).unwrap();
    assert!(m.new_kv_cache(1, 97).is_err());
    // Zero heads, or a width the heads do not divide.
    for (heads, what) in [(0, "at least one head"), (3, "must divide emb_dim")] {
        let mut c = DecoderConfig::book(10, None);
        c.num_heads = heads;
        let e = DecoderLanguageModel::<f32>::new(&c, &mut Rng::new(0)).unwrap_err();
        assert!(e.to_string().contains(what), "{e}");
    }
    let mut c = DecoderConfig::book(10, Some(10));
    assert!(DecoderLanguageModel::<f32>::new(&c, &mut Rng::new(0)).is_err());
    c.pad_idx = None;
    c.emb_dim = 24; // 8 heads of 3: odd, RoPE needs pairs
    let e = DecoderLanguageModel::<f32>::new(&c, &mut Rng::new(0)).unwrap_err();
    assert!(e.to_string().contains("even"), "{e}");
    // A RoPE base that gives no falling frequencies is a config error, found by validate.
    for base in [1.0, 0.5, f64::NAN, f64::INFINITY] {
        let mut c = DecoderConfig::book(10, None);
        c.rope_base = base;
        let e = c.validate().unwrap_err();
        assert!(
            matches!(
                e,
                LmError::InvalidConfig {
                    name: "rope_base",
                    ..
                }
            ),
            "{e}"
        );
        assert!(DecoderLanguageModel::<f32>::new(&c, &mut Rng::new(0)).is_err());
    }
}

/// A chooser that records what it saw: chapter 5's samplers plug in the same way.
#[derive(Debug)]
struct Recorder {
    seen: Vec<(usize, Vec<i64>)>,
}

impl NextToken for Recorder {
    fn next_token(&mut self, logits: &[f64], history: &[i64]) -> ferrograd_lm::Result<i64> {
        self.seen.push((logits.len(), history.to_vec()));
        Ok(7)
    }
}

#[test]
fn a_custom_chooser_sees_full_logit_rows_and_the_history() {
    let m = model::<f32>(40, 3);
    let mut rec = Recorder { seen: Vec::new() };
    let out = generate(&m, &[1, 2], &mut rec, &GenerateOptions::new(3)).unwrap();
    assert_eq!(out.tokens, [7, 7, 7]);
    assert_eq!(
        rec.seen,
        [
            (40, vec![1, 2]),
            (40, vec![1, 2, 7]),
            (40, vec![1, 2, 7, 7])
        ]
    );
    assert!(m.num_parameters() > 0);
}

#[test]
fn a_prompt_that_fills_the_context_still_gets_one_token() {
    // The last new token is never fed back, so a prompt of the full context (96) leaves
    // room for one new token, as transformers' generate gives one new token for a
    // 1024-token GPT-2 prompt with max_new_tokens=1 (scripts/reference/gpt2_context_bound.py
    // checks the same with n_positions=8).
    let m = model::<f32>(50, 3);
    let prompt: Vec<i64> = (0..96).map(|i| 1 + (i * 7) % 49).collect();
    let full = m.last_logits(&prompt, None).unwrap();
    let expected = Greedy.next_token(&full, &prompt).unwrap();
    for cache in [true, false] {
        let g = generate(
            &m,
            &prompt,
            &mut Greedy,
            &GenerateOptions::new(1).with_cache(cache),
        )
        .unwrap();
        assert_eq!(g.tokens, [expected], "cache {cache}");
        assert_eq!(g.stop, StopReason::MaxTokens);
    }
    // 90 tokens and 7 new ones: the model sees 96 positions, which fit.
    let runs: Vec<_> = [true, false]
        .into_iter()
        .map(|cache| {
            generate(
                &m,
                &prompt[..90],
                &mut Greedy,
                &GenerateOptions::new(7).with_cache(cache),
            )
            .unwrap()
        })
        .collect();
    assert_eq!(runs[0].tokens.len(), 7);
    assert_eq!(runs[0], runs[1]);
    // 90 and 8: 97 positions would be fed, one too many.
    let e = generate(&m, &prompt[..90], &mut Greedy, &GenerateOptions::new(8)).unwrap_err();
    assert!(
        matches!(
            e,
            LmError::ContextExceeded {
                positions: 98,
                max_positions: 96,
                ..
            }
        ),
        "{e}"
    );
}
