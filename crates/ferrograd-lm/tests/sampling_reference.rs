//! Sampling against Hugging Face's logits processors (`tests/data/sampling/`, made by
//! `scripts/reference/sampling_reference.py` with transformers 5.25; see its NOTE.md), the
//! book's temperature example, OpenAI's penalties, and sampled frequencies against the
//! filtered distribution (χ² test).

use ferrograd_lm::sampling::{NextToken, Sampler, SamplingConfig, sample_token, softmax};
use serde_json::Value;

fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sampling/processors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NEG_INFINITY)) // null = removed
        .collect()
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_i64().unwrap()).collect())
        .unwrap_or_default()
}

/// The config of a chain of HF processors (which must come in HF's order).
fn config_of(steps: &[Value]) -> SamplingConfig {
    let order = ["repetition_penalty", "temperature", "top_k", "top_p"];
    let mut last = 0;
    let mut c = SamplingConfig::default();
    for step in steps {
        let name = step["processor"].as_str().unwrap();
        let at = order.iter().position(|o| *o == name).unwrap();
        assert!(at >= last, "chain not in HF's order: {steps:?}");
        last = at;
        match name {
            "repetition_penalty" => c.repetition_penalty = step["penalty"].as_f64().unwrap(),
            "temperature" => c.temperature = step["temperature"].as_f64().unwrap(),
            "top_k" => {
                c.top_k = Some(step["top_k"].as_u64().unwrap() as usize);
                c.min_tokens_to_keep = step["min_tokens_to_keep"].as_u64().unwrap() as usize;
            }
            "top_p" => {
                c.top_p = step["top_p"].as_f64().unwrap();
                c.min_tokens_to_keep = step["min_tokens_to_keep"].as_u64().unwrap() as usize;
            }
            other => panic!("unknown processor {other}"),
        }
    }
    c
}

fn assert_close(ours: &[f64], theirs: &[f64], tolerance: f64, what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        if b.is_infinite() {
            assert_eq!(a, b, "{what}: token {i} should be removed ({ours:?})");
        } else {
            // float64 on both sides; a division or an exp apart: a few ulps.
            assert!(
                (a - b).abs() <= tolerance * b.abs().max(1.0),
                "{what}: token {i}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn every_processor_and_chain_matches_transformers() {
    let r = reference();
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 85);
    for (n, case) in results.iter().enumerate() {
        let logits = floats(&r["logits"][case["logits"].as_str().unwrap()]);
        let previous = ids(&case["previous_ids"]);
        let steps = case["steps"].as_array().unwrap();
        let config = config_of(steps);
        let what = format!("case {n}: {} {steps:?}", case["logits"]);
        let scores = config.process(&logits, &previous).unwrap();
        assert_close(&scores, &floats(&case["scores"]), 1e-12, &what);
        let kept: Vec<bool> = case["kept"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_bool().unwrap())
            .collect();
        let ours: Vec<bool> = scores.iter().map(|s| s.is_finite()).collect();
        assert_eq!(ours, kept, "{what}");
        assert_close(&softmax(&scores), &floats(&case["probs"]), 1e-12, &what);
    }
}

#[test]
fn openai_presence_and_frequency_penalties() {
    let r = reference();
    let cases = r["openai_penalties"]["results"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for case in cases {
        let logits = floats(&r["logits"][case["logits"].as_str().unwrap()]);
        let config = SamplingConfig {
            presence_penalty: case["presence_penalty"].as_f64().unwrap(),
            frequency_penalty: case["frequency_penalty"].as_f64().unwrap(),
            ..SamplingConfig::default()
        };
        let scores = config
            .process(&logits, &ids(&case["previous_ids"]))
            .unwrap();
        assert_close(&scores, &floats(&case["scores"]), 1e-12, "penalties");
        assert_close(&softmax(&scores), &floats(&case["probs"]), 1e-12, "probs");
    }
}

#[test]
fn the_book_temperature_example() {
    let r = reference();
    let book = &r["book_temperature_example"];
    for t in ["0.5", "1.0", "2.0"] {
        let config = SamplingConfig {
            temperature: t.parse().unwrap(),
            ..SamplingConfig::default()
        };
        let probs = softmax(&config.process(&[4.0, 2.0, 0.0], &[]).unwrap());
        assert_close(
            &probs,
            &floats(&book["probs_by_temperature"][t]),
            1e-12,
            "exact",
        );
        // The book prints two decimals: .98/.02/.00, .87/.12/.02, .67/.24/.09.
        for (p, printed) in probs.iter().zip(floats(&book["book_printed"][t])) {
            assert!((p - printed).abs() <= 0.005 + 1e-12, "T = {t}: {probs:?}");
        }
    }
}

#[test]
fn invalid_settings_are_errors() {
    let bad = [
        SamplingConfig {
            temperature: 0.0,
            ..SamplingConfig::default()
        },
        SamplingConfig {
            temperature: -1.0,
            ..SamplingConfig::default()
        },
        SamplingConfig {
            temperature: f64::NAN,
            ..SamplingConfig::default()
        },
        SamplingConfig {
            top_p: 0.0,
            ..SamplingConfig::default()
        },
        SamplingConfig {
            top_p: 1.01,
            ..SamplingConfig::default()
        },
        SamplingConfig {
            top_k: Some(0),
            ..SamplingConfig::default()
        },
        SamplingConfig {
            min_tokens_to_keep: 0,
            ..SamplingConfig::default()
        },
        SamplingConfig {
            repetition_penalty: 0.0,
            ..SamplingConfig::default()
        },
    ];
    for config in bad {
        assert!(Sampler::new(config.clone(), 0).is_err(), "{config:?}");
        assert!(config.process(&[1.0, 2.0], &[]).is_err(), "{config:?}");
    }
    // Logits that do not match the vocabulary.
    let mut s = Sampler::greedy().with_vocab_size(4);
    assert!(s.next_token(&[1.0, 2.0, 3.0], &[]).is_err());
    assert_eq!(s.next_token(&[1.0, 2.0, 3.0, 0.0], &[]).unwrap(), 2);
    let config = SamplingConfig::default();
    assert!(
        sample_token(
            &[1.0, 2.0],
            &["a"],
            &config,
            &[],
            &mut ferrograd_tensor::Rng::new(0)
        )
        .is_err()
    );
    // Previous ids outside the vocabulary, empty logits.
    assert!(config.process(&[1.0, 2.0], &[2]).is_err());
    assert!(config.process(&[1.0, 2.0], &[-1]).is_err());
    assert!(config.process(&[], &[]).is_err());
}

#[test]
fn no_hidden_default_top_k() {
    // 100 tokens of equal score: with nothing set every one stays (transformers'
    // `generate` would keep 50 unless told top_k=0).
    let scores = SamplingConfig::default().process(&[0.0; 100], &[]).unwrap();
    assert!(scores.iter().all(|s| s.is_finite()));
}

/// The χ² statistic of observed counts against probabilities (over tokens with p > 0).
fn chi_square(counts: &[usize], probs: &[f64], n: usize) -> f64 {
    counts
        .iter()
        .zip(probs)
        .filter(|(_, p)| **p > 0.0)
        .map(|(&c, &p)| {
            let e = p * n as f64;
            (c as f64 - e).powi(2) / e
        })
        .sum()
}

/// Upper 0.1% points of χ² with 1..=10 degrees of freedom.
const CHI2_999: [f64; 10] = [
    10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588,
];

#[test]
fn sampled_frequencies_match_the_filtered_distribution() {
    // Significance level 0.001: a correct sampler fails this with probability 0.1% per
    // seed; the seeds are fixed, so the test is deterministic. The same counts tested
    // against the unfiltered distribution must fail, which shows the test has power.
    let r = reference();
    let cases = [
        (
            "vocab50",
            SamplingConfig {
                temperature: 0.7,
                top_k: Some(5),
                ..SamplingConfig::default()
            },
        ),
        (
            "notebook8",
            SamplingConfig {
                temperature: 0.7,
                top_p: 0.9,
                ..SamplingConfig::default()
            },
        ),
        (
            "ties10",
            SamplingConfig {
                top_k: Some(2),
                repetition_penalty: 1.3,
                ..SamplingConfig::default()
            },
        ),
    ];
    let n = 40_000;
    for (seed, (name, config)) in cases.into_iter().enumerate() {
        let logits = floats(&r["logits"][name]);
        let previous = ids(&r["previous_ids"][name]);
        let filtered = softmax(&config.process(&logits, &previous).unwrap());
        let mut sampler = Sampler::new(config.clone(), 1000 + seed as u64).unwrap();
        let mut counts = vec![0usize; logits.len()];
        for _ in 0..n {
            counts[sampler.next_token(&logits, &previous).unwrap() as usize] += 1;
        }
        for (c, p) in counts.iter().zip(&filtered) {
            if *p == 0.0 {
                assert_eq!(*c, 0, "{name}: a removed token was drawn");
            }
        }
        let kept = filtered.iter().filter(|p| **p > 0.0).count();
        assert!((2..=11).contains(&kept), "{name}: {kept} kept");
        let critical = CHI2_999[kept - 2];
        let stat = chi_square(&counts, &filtered, n);
        assert!(
            stat < critical,
            "{name}: χ² = {stat:.2} ≥ {critical} ({} dof)",
            kept - 1
        );
        let unfiltered = softmax(&logits);
        let wrong = chi_square(&counts, &unfiltered, n);
        assert!(wrong > critical, "{name}: the test cannot tell ({wrong})");
    }
}

#[test]
fn greedy_takes_the_first_largest() {
    let mut g = Sampler::greedy();
    assert_eq!(g.next_token(&[1.0, 3.0, 3.0, 2.0], &[]).unwrap(), 1);
    let mut penalised = Sampler::greedy_with(SamplingConfig {
        repetition_penalty: 2.0,
        ..SamplingConfig::default()
    })
    .unwrap();
    // 3/2 < 2: the repeated token loses.
    assert_eq!(
        penalised.next_token(&[1.0, 3.0, 0.0, 2.0], &[1]).unwrap(),
        3
    );
}
