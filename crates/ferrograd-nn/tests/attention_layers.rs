//! Chapter 4's layers: RoPE (gradients against finite differences, the relative-position
//! property), the KV cache (in-place writes, capacity, shapes), multi-head attention with
//! a cache against attention without, the decoder block's gradients, and bad sizes.
//!
//! Tolerances: gradient checks use step 1e-6 and |autodiff − fd| ≤ 1e-6 + 1e-5·|fd|
//! (see `ferrograd-tensor/tests/gradients.rs`); equalities between two orders of the same
//! float64 computation use 1e-12 (rounding ~1e-15 on values of order 1).

use ferrograd_nn::{
    DecoderBlock, Forward, KvCache, LayerKvCache, Module, MultiHeadAttention, NnError, Rope,
    RopeStyle, gradcheck_module,
};
use ferrograd_tensor::{GradcheckOptions, IdTensor, NoGradGuard, Rng, Tensor, gradcheck};
use proptest::prelude::*;

fn options(seed: u64) -> GradcheckOptions {
    GradcheckOptions {
        eps: 1e-6,
        atol: 1e-6,
        rtol: 1e-5,
        seed,
    }
}

fn max_abs_diff(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.to_vec()
        .iter()
        .zip(b.to_vec())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn rope_gradients_match_finite_differences(
        batch in 1usize..3, time in 1usize..6, heads in 1usize..3, half in 1usize..4,
        start in 0usize..50, half_split in any::<bool>(), seed in any::<u64>(),
    ) {
        let dh = 2 * half;
        let style = if half_split { RopeStyle::HalfSplit } else { RopeStyle::Interleaved };
        let rope = Rope::new(dh).unwrap().with_style(style);
        let x = Tensor::<f64>::randn(&[batch, time, heads * dh], 0.0, 1.0, &mut Rng::new(seed));
        let report = gradcheck(|v| Ok(rope.apply_from(&v[0], start)?), &[x], &options(seed)).unwrap();
        prop_assert!(report.passed(), "{report}");
    }
}

#[test]
fn rope_scores_depend_only_on_the_distance() {
    // q at m and k at n give the same dot product as q at m + s and k at n + s.
    let mut rng = Rng::new(1);
    for style in [RopeStyle::Interleaved, RopeStyle::HalfSplit] {
        let rope = Rope::new(16).unwrap().with_style(style);
        let q = Tensor::<f64>::randn(&[1, 16], 0.0, 1.0, &mut rng);
        let k = Tensor::<f64>::randn(&[1, 16], 0.0, 1.0, &mut rng);
        let score = |m: usize, n: usize| {
            let a = rope.apply(&q, &[m]).unwrap().to_vec();
            let b = rope.apply(&k, &[n]).unwrap().to_vec();
            a.iter().zip(&b).map(|(x, y)| x * y).sum::<f64>()
        };
        for (m, n, s) in [(5, 2, 10), (0, 7, 100), (40, 40, 3)] {
            assert!((score(m, n) - score(m + s, n + s)).abs() < 1e-12);
        }
        // Rotation keeps the norm.
        let r = rope.apply(&q, &[1234]).unwrap();
        let norm = |t: &Tensor<f64>| t.square().sum_all().item().unwrap();
        assert!((norm(&r) - norm(&q)).abs() < 1e-12);
    }
}

#[test]
fn rope_rejects_bad_sizes() {
    assert!(Rope::new(0).is_err());
    assert!(Rope::new(7).is_err());
    assert!(Rope::new(8).unwrap().with_base(1.0).is_err());
    let rope = Rope::new(4).unwrap();
    let e = rope
        .apply(&Tensor::<f32>::zeros(&[2, 6]), &[0, 1])
        .unwrap_err();
    assert!(matches!(e, NnError::BadInput { .. }), "{e}");
    assert!(rope.apply(&Tensor::<f32>::zeros(&[3, 8]), &[0, 1]).is_err());
    assert!(rope.apply(&Tensor::<f32>::zeros(&[8]), &[0]).is_err());
}

#[test]
fn the_kv_cache_writes_in_place_and_keeps_its_capacity() {
    let mut cache = LayerKvCache::<f32>::new(2, 3, 40, 4, 5).unwrap();
    let mut rng = Rng::new(3);
    let mut all_k = Vec::new();
    for step in 0..40 {
        let t = if step == 0 { 4 } else { 1 };
        if cache.remaining() < t {
            break;
        }
        let k = Tensor::<f32>::randn(&[2, 3, t, 4], 0.0, 1.0, &mut rng);
        let v = Tensor::<f32>::randn(&[2, 3, t, 5], 0.0, 1.0, &mut rng);
        all_k.push(k.clone());
        let (ks, vs) = cache.append(&k, &v).unwrap();
        assert_eq!(ks.shape(), &[2, 3, cache.len(), 4]);
        assert_eq!(vs.shape(), &[2, 3, cache.len(), 5]);
    }
    assert_eq!(cache.len(), 40);
    assert_eq!(cache.reallocations(), 0);
    let refs: Vec<&Tensor<f32>> = all_k.iter().collect();
    let expected = Tensor::concat(&refs, 2).unwrap();
    assert_eq!(cache.keys_values().unwrap().0.to_vec(), expected.to_vec());
    // Full: an error naming the sizes, and nothing written.
    let one = Tensor::<f32>::zeros(&[2, 3, 1, 4]);
    let e = cache
        .append(&one, &Tensor::zeros(&[2, 3, 1, 5]))
        .unwrap_err();
    assert!(
        matches!(
            e,
            NnError::CacheFull {
                stored: 40,
                adding: 1,
                capacity: 40,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(cache.len(), 40);
    // Wrong geometry.
    cache.clear();
    assert!(
        cache
            .append(&Tensor::zeros(&[2, 3, 1, 5]), &Tensor::zeros(&[2, 3, 1, 5]))
            .is_err()
    );
    assert!(cache.append(&one, &Tensor::zeros(&[2, 3, 2, 5])).is_err());
    assert!(
        cache
            .append(&Tensor::zeros(&[1, 3, 1, 4]), &Tensor::zeros(&[1, 3, 1, 5]))
            .is_err()
    );
    assert!(LayerKvCache::<f32>::new(1, 0, 4, 4, 4).is_err());
    assert!(KvCache::<f32>::new(0, 1, 1, 4, 4).is_err());
}

#[test]
fn a_view_kept_alive_is_never_changed_under_it() {
    let mut cache = LayerKvCache::<f64>::new(1, 1, 4, 2, 2).unwrap();
    let x = Tensor::<f64>::ones(&[1, 1, 1, 2]);
    let (k1, _) = cache.append(&x, &x).unwrap();
    let before = k1.to_vec();
    let (k2, _) = cache.append(&x.mul_scalar(2.0), &x).unwrap(); // k1 still alive
    assert_eq!(k1.to_vec(), before);
    assert_eq!(k2.to_vec(), [1.0, 1.0, 2.0, 2.0]);
    assert_eq!(cache.reallocations(), 1); // the keys copied; the values' view was dropped
}

#[test]
fn attention_with_a_cache_equals_attention_over_the_whole_sequence() {
    let mut rng = Rng::new(8);
    let attn = MultiHeadAttention::<f64>::new(16, 4, &mut rng).unwrap();
    let x = Tensor::<f64>::randn(&[2, 11, 16], 0.0, 1.0, &mut rng);
    let full = attn.forward(&x).unwrap();
    let mut cache = LayerKvCache::new(2, 4, 11, 4, 4).unwrap();
    // The cache is for inference: while gradients are recorded it refuses.
    let e = attn.forward((&x, &mut cache)).unwrap_err();
    assert!(e.to_string().contains("no_grad"), "{e}");
    assert!(cache.is_empty());
    let _guard = NoGradGuard::new();
    let mut parts = vec![
        attn.forward((&x.narrow(1, 0, 6).unwrap(), &mut cache))
            .unwrap(),
    ];
    for t in 6..11 {
        parts.push(
            attn.forward((&x.narrow(1, t, 1).unwrap(), &mut cache))
                .unwrap(),
        );
    }
    let refs: Vec<&Tensor<f64>> = parts.iter().collect();
    let cached = Tensor::concat(&refs, 1).unwrap();
    assert!(max_abs_diff(&cached, &full) < 1e-12);
    assert_eq!(cache.reallocations(), 0);
    // One more token than the cache holds: an error, not a panic.
    let e = attn
        .forward((&x.narrow(1, 0, 1).unwrap(), &mut cache))
        .unwrap_err();
    assert!(matches!(e, NnError::CacheFull { .. }), "{e}");
}

#[test]
fn a_padding_mask_hides_padded_keys() {
    // Right padding: the real tokens' outputs do not depend on what the pads hold.
    let mut rng = Rng::new(12);
    let attn = MultiHeadAttention::<f64>::new(8, 2, &mut rng).unwrap();
    let x = Tensor::<f64>::randn(&[1, 6, 8], 0.0, 1.0, &mut rng);
    let y = Tensor::concat(
        &[
            &x.narrow(1, 0, 4).unwrap(),
            &Tensor::randn(&[1, 2, 8], 0.0, 1.0, &mut rng),
        ],
        1,
    )
    .unwrap();
    let mask = IdTensor::from([[1, 1, 1, 1, 0, 0]]);
    // Without a mask a causal model already ignores later pads; make the pads come first
    // instead by reversing: left padding, so real queries would otherwise see them.
    let flip = |t: &Tensor<f64>| {
        let rows: Vec<Tensor<f64>> = (0..6).rev().map(|i| t.narrow(1, i, 1).unwrap()).collect();
        let refs: Vec<&Tensor<f64>> = rows.iter().collect();
        Tensor::concat(&refs, 1).unwrap()
    };
    let left = IdTensor::from([[0, 0, 1, 1, 1, 1]]);
    let a = attn.forward_with(&flip(&x), Some(&left), None).unwrap();
    let b = attn.forward_with(&flip(&y), Some(&left), None).unwrap();
    let real = |t: &Tensor<f64>| t.narrow(1, 2, 4).unwrap();
    assert!(max_abs_diff(&real(&a), &real(&b)) < 1e-12);
    let unmasked = attn.forward_with(&flip(&y), None, None).unwrap();
    assert!(max_abs_diff(&real(&a), &real(&unmasked)) > 1e-3);
    let _ = mask;
}

#[test]
fn decoder_block_gradients_match_finite_differences() {
    let mut rng = Rng::new(4);
    let block = DecoderBlock::<f64>::with_hidden(8, 2, 12, &mut rng).unwrap();
    let x = Tensor::<f64>::randn(&[2, 5, 8], 0.0, 1.0, &mut rng);
    let report = gradcheck_module(&block, || block.forward(&x), &options(5)).unwrap();
    assert!(report.passed(), "{report}");
    let names: Vec<String> = block
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names[0], "norm1.scale");
    assert_eq!(names[1], "attn.W_O");
    assert!(names.contains(&"attn.heads.1.W_V".to_string()));
    assert_eq!(
        names[names.len() - 4..],
        ["mlp.W_1", "mlp.B_1", "mlp.W_2", "mlp.B_2"]
    );
}

#[test]
fn bad_head_counts_are_errors() {
    let mut rng = Rng::new(0);
    let e = MultiHeadAttention::<f32>::new(128, 0, &mut rng).unwrap_err();
    assert!(e.to_string().contains("at least 1"), "{e}");
    let e = MultiHeadAttention::<f32>::new(128, 3, &mut rng).unwrap_err();
    assert!(
        e.to_string().contains("multiple of the number of heads 3"),
        "{e}"
    );
    let e = MultiHeadAttention::<f32>::new(24, 8, &mut rng).unwrap_err();
    assert!(e.to_string().contains("even head dimension"), "{e}");
    // Without RoPE an odd head size is fine.
    let attn = MultiHeadAttention::<f32>::new(128, 8, &mut rng).unwrap();
    assert!(attn.clone().with_rope(Some(Rope::new(8).unwrap())).is_err());
    let e = attn.forward(&Tensor::zeros(&[2, 3, 64])).unwrap_err();
    assert!(matches!(e, NnError::BadInput { .. }), "{e}");
}

#[test]
fn a_bad_padding_mask_leaves_the_cache_unchanged() {
    let mut rng = Rng::new(21);
    let attn = MultiHeadAttention::<f64>::new(8, 2, &mut rng).unwrap();
    let x = Tensor::<f64>::randn(&[1, 3, 8], 0.0, 1.0, &mut rng);
    let mut cache = LayerKvCache::new(1, 2, 8, 4, 4).unwrap();
    let _guard = NoGradGuard::new();
    attn.forward_with(&x, Some(&IdTensor::from([[1, 1, 1]])), Some(&mut cache))
        .unwrap();
    assert_eq!(cache.len(), 3);
    let (keys, values) = cache.keys_values().unwrap();
    let one = x.narrow(1, 0, 1).unwrap();
    // With 3 cached positions, one new token needs a mask over 4 keys; 1 or 5 is wrong.
    for bad in [IdTensor::from([[1]]), IdTensor::from([[1, 1, 1, 1, 1]])] {
        let e = attn
            .forward_with(&one, Some(&bad), Some(&mut cache))
            .unwrap_err();
        assert!(matches!(e, NnError::BadInput { .. }), "{e}");
        assert!(
            e.to_string().contains("MultiHeadAttention::forward_with"),
            "{e}"
        );
        assert!(e.to_string().contains("[1, 4]"), "{e}");
        assert_eq!(cache.len(), 3, "a failed call must not advance the cache");
    }
    let (k, v) = cache.keys_values().unwrap();
    assert_eq!((k.to_vec(), v.to_vec()), (keys.to_vec(), values.to_vec()));
    // The right mask still works, from position 3.
    let with_cache = attn
        .forward_with(
            &one,
            Some(&IdTensor::from([[1, 1, 1, 1]])),
            Some(&mut cache),
        )
        .unwrap();
    assert_eq!(cache.len(), 4);
    let mut whole = Tensor::concat(&[&x, &one], 1).unwrap();
    whole = attn.forward(&whole).unwrap().narrow(1, 3, 1).unwrap();
    assert!(max_abs_diff(&with_cache, &whole) < 1e-12);
    // Without a cache the mask must cover the input's positions.
    let e = attn
        .forward_with(&x, Some(&IdTensor::from([[1, 1]])), None)
        .unwrap_err();
    assert!(
        e.to_string().contains("MultiHeadAttention::forward_with"),
        "{e}"
    );
}
