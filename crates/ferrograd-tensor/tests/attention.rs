//! The fused attention op against the same computation composed from primitive ops
//! (`matmul`, `masked_fill`, `softmax`, `matmul`), and its gradients against finite
//! differences, in f64 over random shapes, with and without causal and padding masks, with
//! query offsets (as after a KV-cache prefill) and with strided operands.
//!
//! Tolerances: the fused op and the composed ops compute the same sums in different orders
//! (blocked matrix products, exponentials by a polynomial in `f32` but the library `exp` in
//! `f64`), so values and autodiff gradients agree to ~1e-14 in f64; 1e-10 absolute leaves
//! a margin of 10⁴ while a wrong mask, scale or index gives O(0.1) errors. Finite
//! differences: step 1e-6, |autodiff − fd| ≤ 1e-6 + 1e-5·|fd| (see `gradients.rs` for why
//! that bound is ~50× the truncation and rounding error of a central difference).

use ferrograd_tensor::{
    AttentionOptions, GradcheckOptions, IdTensor, Rng, Tensor, TensorError, gradcheck,
    set_num_threads,
};
use proptest::prelude::*;

/// The composed reference: `softmax(q kᵀ · scale, masked) v` with `-inf` fills.
fn composed(
    q: &Tensor<f64>,
    k: &Tensor<f64>,
    v: &Tensor<f64>,
    causal: Option<usize>,
    pad: Option<&[i64]>,
    scale: f64,
) -> Tensor<f64> {
    let (b, tq, tk) = (q.shape()[0], q.shape()[2], k.shape()[2]);
    let mut hide = vec![0.0; b * tq * tk];
    for bi in 0..b {
        for i in 0..tq {
            for j in 0..tk {
                let future = causal.is_some_and(|off| j > off + i);
                let padded = pad.is_some_and(|p| p[bi * tk + j] == 0);
                if future || padded {
                    hide[(bi * tq + i) * tk + j] = 1.0;
                }
            }
        }
    }
    let hide = Tensor::from_vec(hide, &[b, 1, tq, tk]).unwrap();
    let scores = q
        .matmul(&k.transpose(-2, -1).unwrap())
        .unwrap()
        .mul_scalar(scale);
    scores
        .masked_fill(&hide, f64::NEG_INFINITY)
        .unwrap()
        .softmax(-1)
        .unwrap()
        .matmul(v)
        .unwrap()
}

fn random(shape: &[usize], rng: &mut Rng) -> Tensor<f64> {
    Tensor::randn(shape, 0.0, 1.0, rng)
}

/// A `[B, H, T, D]` tensor stored as `[B, T, H, D]` (the layout of a projection's heads).
fn random_heads_inner(b: usize, h: usize, t: usize, d: usize, rng: &mut Rng) -> Tensor<f64> {
    random(&[b, t, h, d], rng).transpose(1, 2).unwrap()
}

fn max_abs_diff(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.to_vec()
        .iter()
        .zip(b.to_vec())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[derive(Debug, Clone)]
struct Case {
    b: usize,
    h: usize,
    tq: usize,
    tk: usize,
    dk: usize,
    dv: usize,
    causal: bool,
    /// Right padding lengths per batch row (key 0 always real, so no row is fully masked).
    lengths: Option<Vec<usize>>,
    strided: bool,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        1usize..=3,
        1usize..=3,
        1usize..=40,
        0usize..=8,
        1usize..=6,
        1usize..=6,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_flat_map(
            |(b, h, tk, extra_q, dk, dv, causal, padded, strided, seed)| {
                // Causal queries are the last `tq <= tk` positions; otherwise any count.
                let tq_max = if causal { tk } else { tk + extra_q };
                (1usize..=tq_max).prop_flat_map(move |tq| {
                    let lengths = if padded {
                        prop::collection::vec(1usize..=tk, b).prop_map(Some).boxed()
                    } else {
                        Just(None).boxed()
                    };
                    lengths.prop_map(move |lengths| Case {
                        b,
                        h,
                        tq,
                        tk,
                        dk,
                        dv,
                        causal,
                        lengths,
                        strided,
                        seed,
                    })
                })
            },
        )
}

impl Case {
    fn tensors(&self) -> (Tensor<f64>, Tensor<f64>, Tensor<f64>) {
        let mut rng = Rng::new(self.seed);
        let make = |t: usize, d: usize, rng: &mut Rng| {
            if self.strided {
                random_heads_inner(self.b, self.h, t, d, rng)
            } else {
                random(&[self.b, self.h, t, d], rng)
            }
        };
        let q = make(self.tq, self.dk, &mut rng);
        let k = make(self.tk, self.dk, &mut rng);
        let v = make(self.tk, self.dv, &mut rng);
        (q, k, v)
    }

    fn pad(&self) -> Option<Vec<i64>> {
        self.lengths.as_ref().map(|lengths| {
            lengths
                .iter()
                .flat_map(|&n| (0..self.tk).map(move |j| i64::from(j < n)))
                .collect()
        })
    }

    fn options(&self) -> AttentionOptions {
        let mut o = AttentionOptions::new().with_causal(self.causal);
        if let Some(p) = self.pad() {
            o = o.with_key_padding_mask(&IdTensor::new(p, &[self.b, self.tk]).unwrap());
        }
        o
    }

    fn offset(&self) -> Option<usize> {
        self.causal.then(|| self.tk - self.tq)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn fused_equals_composed_values_and_gradients(c in case()) {
        let (q, k, v) = c.tensors();
        let (q, k, v) = (
            q.set_requires_grad(true),
            k.set_requires_grad(true),
            v.set_requires_grad(true),
        );
        let scale = 1.0 / (c.dk as f64).sqrt();
        let pad = c.pad();
        let fused = q.scaled_dot_product_attention(&k, &v, &c.options()).unwrap();
        let reference = composed(&q, &k, &v, c.offset(), pad.as_deref(), scale);
        prop_assert!(max_abs_diff(&fused, &reference) < 1e-10, "{c:?}");
        // Gradients of Σ output · u for a fixed random u, both ways.
        let u = random(fused.shape(), &mut Rng::new(c.seed ^ 1));
        let gf = fused.mul(&u).unwrap().sum_all().backward().unwrap();
        let gr = reference.mul(&u).unwrap().sum_all().backward().unwrap();
        for (name, t) in [("q", &q), ("k", &k), ("v", &v)] {
            let (a, b) = (gf.get(t).unwrap(), gr.get(t).unwrap());
            prop_assert!(max_abs_diff(a, b) < 1e-10, "grad {name}: {c:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn fused_gradients_match_finite_differences(c in case()) {
        // Finite differences cost two forward passes per element: keep it small.
        let c = Case { tk: c.tk.min(12), tq: c.tq.min(c.tk.min(12)), ..c };
        let (q, k, v) = c.tensors();
        let options = c.options();
        let report = gradcheck(
            |x| x[0].scaled_dot_product_attention(&x[1], &x[2], &options),
            &[q, k, v],
            &GradcheckOptions { eps: 1e-6, atol: 1e-6, rtol: 1e-5, seed: c.seed },
        )
        .unwrap();
        prop_assert!(report.passed(), "{report}\n{c:?}");
    }
}

#[test]
fn long_contexts_and_threads_agree_with_one_thread_and_the_composed_ops() {
    // 200 queries span several query blocks; 2 threads split the heads.
    let mut rng = Rng::new(3);
    let (b, h, t, d) = (2, 3, 200, 8);
    let q = random_heads_inner(b, h, t, d, &mut rng).set_requires_grad(true);
    let k = random_heads_inner(b, h, t, d, &mut rng).set_requires_grad(true);
    let v = random_heads_inner(b, h, t, d, &mut rng).set_requires_grad(true);
    let opts = AttentionOptions::causal();
    let reference = composed(&q, &k, &v, Some(0), None, 1.0 / (d as f64).sqrt());
    let u = random(reference.shape(), &mut rng);
    let gr = reference.mul(&u).unwrap().sum_all().backward().unwrap();
    for threads in [1, 2] {
        set_num_threads(threads);
        let out = q.scaled_dot_product_attention(&k, &v, &opts).unwrap();
        assert!(max_abs_diff(&out, &reference) < 1e-10);
        let g = out.mul(&u).unwrap().sum_all().backward().unwrap();
        for t in [&q, &k, &v] {
            assert!(max_abs_diff(g.get(t).unwrap(), gr.get(t).unwrap()) < 1e-10);
        }
    }
}

#[test]
fn output_and_gradients_are_stored_heads_inner() {
    // [B, H, T, D] stored as [B, T, H, D]: the heads concatenate by a view.
    let mut rng = Rng::new(5);
    let q = random_heads_inner(2, 4, 6, 3, &mut rng).set_requires_grad(true);
    let k = random_heads_inner(2, 4, 6, 3, &mut rng);
    let v = random_heads_inner(2, 4, 6, 5, &mut rng);
    let out = q
        .scaled_dot_product_attention(&k, &v, &AttentionOptions::causal())
        .unwrap();
    assert_eq!(out.shape(), &[2, 4, 6, 5]);
    let merged = out.transpose(1, 2).unwrap();
    assert!(merged.is_contiguous());
    let grads = merged.sum_all().backward().unwrap();
    assert!(
        grads
            .get(&q)
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .is_contiguous()
    );
}

#[test]
fn a_query_that_sees_no_key_gets_zero_output_and_no_gradient() {
    // Left padding: the first two keys of row 1 are pads, so its first two (causal)
    // queries see nothing. The other rows match the composed ops.
    let mut rng = Rng::new(9);
    let (b, h, t, d) = (2, 2, 5, 4);
    let q = random(&[b, h, t, d], &mut rng).set_requires_grad(true);
    let k = random(&[b, h, t, d], &mut rng).set_requires_grad(true);
    let v = random(&[b, h, t, d], &mut rng).set_requires_grad(true);
    let mask = IdTensor::from([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]]);
    let out = q
        .scaled_dot_product_attention(
            &k,
            &v,
            &AttentionOptions::causal().with_key_padding_mask(&mask),
        )
        .unwrap();
    assert!(!out.has_nan());
    for head in 0..h {
        for i in 0..2 {
            let row = out
                .select(0, 1)
                .unwrap()
                .select(0, head)
                .unwrap()
                .select(0, i)
                .unwrap();
            assert!(row.to_vec().iter().all(|&x| x == 0.0));
        }
    }
    let pad: Vec<i64> = mask.to_vec();
    let reference = composed(&q, &k, &v, Some(0), Some(&pad), 0.5);
    // Row 0 entirely, row 1 from query 2 on.
    let r0 = |x: &Tensor<f64>| x.select(0, 0).unwrap();
    assert!(max_abs_diff(&r0(&out), &r0(&reference)) < 1e-12);
    let tail = |x: &Tensor<f64>| x.select(0, 1).unwrap().narrow(1, 2, 3).unwrap();
    assert!(max_abs_diff(&tail(&out), &tail(&reference)) < 1e-12);
    let grads = out.sum_all().backward().unwrap();
    let gq = grads.get(&q).unwrap();
    let dead = gq.select(0, 1).unwrap().narrow(1, 0, 2).unwrap();
    assert!(dead.to_vec().iter().all(|&x| x == 0.0));
    // The padded keys get no gradient either.
    let gk = grads
        .get(&k)
        .unwrap()
        .select(0, 1)
        .unwrap()
        .narrow(1, 0, 2)
        .unwrap();
    assert!(gk.to_vec().iter().all(|&x| x == 0.0));
}

#[test]
fn decoding_one_query_against_a_cache_matches_the_last_row_of_full_attention() {
    let mut rng = Rng::new(21);
    let (b, h, t, d) = (1, 3, 17, 8);
    let q = random(&[b, h, t, d], &mut rng);
    let k = random(&[b, h, t, d], &mut rng);
    let v = random(&[b, h, t, d], &mut rng);
    let full = q
        .scaled_dot_product_attention(&k, &v, &AttentionOptions::causal())
        .unwrap();
    for last in [0, 5, 16] {
        let step = q
            .narrow(2, last, 1)
            .unwrap()
            .scaled_dot_product_attention(
                &k.narrow(2, 0, last + 1).unwrap(),
                &v.narrow(2, 0, last + 1).unwrap(),
                &AttentionOptions::causal(),
            )
            .unwrap();
        let row = full.narrow(2, last, 1).unwrap();
        assert!(max_abs_diff(&step, &row) < 1e-12, "position {last}");
    }
}

#[test]
fn f32_matches_f64() {
    let mut rng = Rng::new(2);
    let (b, h, t, d) = (2, 4, 70, 16);
    let q = random(&[b, h, t, d], &mut rng);
    let k = random(&[b, h, t, d], &mut rng);
    let v = random(&[b, h, t, d], &mut rng);
    let opts = AttentionOptions::causal();
    let exact = q.scaled_dot_product_attention(&k, &v, &opts).unwrap();
    let single = q
        .to_dtype::<f32>()
        .scaled_dot_product_attention(&k.to_dtype(), &v.to_dtype(), &opts)
        .unwrap();
    // f32 rounding of scores ~1e-7·|s| (|s| ≲ 20) through exp: ≲ 1e-5 on weights ≤ 1.
    assert!(max_abs_diff(&exact, &single.to_dtype()) < 1e-5);
}

#[test]
fn bad_shapes_and_masks_are_errors() {
    let q = Tensor::<f32>::zeros(&[1, 2, 3, 4]);
    let k = Tensor::<f32>::zeros(&[1, 2, 5, 4]);
    let v = Tensor::<f32>::zeros(&[1, 2, 5, 6]);
    let ok = AttentionOptions::causal();
    assert!(q.scaled_dot_product_attention(&k, &v, &ok).is_ok());
    let msg = |r: ferrograd_tensor::Result<Tensor<f32>>| r.unwrap_err().to_string();
    let e = msg(q
        .reshape(&[2, 3, 4])
        .unwrap()
        .scaled_dot_product_attention(&k, &v, &ok));
    assert!(e.contains("rank 4"), "{e}");
    let e = msg(q.scaled_dot_product_attention(&Tensor::zeros(&[1, 2, 5, 3]), &v, &ok));
    assert!(e.contains("[B, H, T_q, D]"), "{e}");
    let e = msg(q.scaled_dot_product_attention(&k, &Tensor::zeros(&[1, 2, 4, 6]), &ok));
    assert!(e.contains("[B, H, T_k, D_v]"), "{e}");
    let bad_mask = ok
        .clone()
        .with_key_padding_mask(&IdTensor::from([[1, 1, 1]]));
    let e = msg(q.scaled_dot_product_attention(&k, &v, &bad_mask));
    assert!(e.contains("[1, 5]"), "{e}");
    // More causal queries than keys needs an explicit offset.
    let e = msg(k.scaled_dot_product_attention(&q, &q, &ok));
    assert!(e.contains("explicit query offset"), "{e}");
    assert!(
        k.scaled_dot_product_attention(&q, &q, &ok.with_query_offset(0))
            .is_ok()
    );
}

#[test]
fn a_nan_or_infinite_score_gives_nan_weights_for_its_row_only_as_the_composed_ops() {
    // One query row holds a NaN, another +inf (its scores are ±inf or NaN): those rows'
    // outputs are NaN, as `softmax` of the composed ops makes them; the others are finite
    // and equal the composed ones. 40 keys: rows longer than one block of lanes.
    let mut rng = Rng::new(11);
    let (b, h, t, d) = (1, 2, 40, 4);
    let mut qv = random(&[b, h, t, d], &mut rng).to_vec();
    qv[5 * d + 1] = f64::NAN; // head 0, query 5
    qv[(t + 33) * d] = f64::INFINITY; // head 1, query 33
    let q = Tensor::from_vec(qv, &[b, h, t, d]).unwrap();
    let k = random(&[b, h, t, d], &mut rng);
    let v = random(&[b, h, t, d], &mut rng);
    let fused = q
        .scaled_dot_product_attention(&k, &v, &AttentionOptions::causal())
        .unwrap();
    let reference = composed(&q, &k, &v, Some(0), None, 0.5);
    let (f, r) = (fused.to_vec(), reference.to_vec());
    for (i, (a, c)) in f.iter().zip(&r).enumerate() {
        let row = i / d; // (head, query)
        if row == 5 || row == t + 33 {
            assert!(a.is_nan() && c.is_nan(), "row {row}: {a} vs {c}");
        } else {
            assert!((a - c).abs() < 1e-10, "row {row}: {a} vs {c}");
        }
    }
}

/// The result `[B, H, T_q, D_v]` of inputs whose own element counts fit (here all empty)
/// can have a count that overflows `usize`; the kernels write it through unchecked index
/// arithmetic, so the op must refuse it with [`TensorError::TooLarge`] before allocating
/// (before, `batch * heads * tq * dv` wrapped: a debug panic, a too-small buffer and
/// out-of-bounds writes in release).
#[test]
fn attention_results_too_large_to_count_are_refused() {
    let too_large = |result: Result<Tensor<f32>, TensorError>| {
        assert!(
            matches!(
                &result,
                Err(TensorError::TooLarge {
                    op: "scaled_dot_product_attention",
                    ..
                })
            ),
            "{result:?}"
        );
    };
    let big = 1usize << 31;
    let empty = |shape: &[usize]| Tensor::<f32>::from_vec(Vec::new(), shape).unwrap();
    // Output 2^93 elements: the count overflows.
    let (q, k, v) = (
        empty(&[1, big, big, 0]),
        empty(&[1, big, 0, 0]),
        empty(&[1, big, 0, big]),
    );
    too_large(q.scaled_dot_product_attention(&k, &v, &AttentionOptions::new()));
    // Output 2^62 elements: the count fits but not its 2^64 bytes.
    let (q, k, v) = (
        empty(&[1, 1 << 20, 1 << 21, 0]),
        empty(&[1, 1 << 20, 0, 0]),
        empty(&[1, 1 << 20, 0, 1 << 21]),
    );
    too_large(q.scaled_dot_product_attention(&k, &v, &AttentionOptions::new()));
    // Many empty keys: the per-task score scratch `[BLOCK_Q, T_k]` overflows.
    let (q, k, v) = (
        empty(&[1, 1, 1, 0]),
        empty(&[1, 1, usize::MAX / 2, 0]),
        empty(&[1, 1, usize::MAX / 2, 0]),
    );
    too_large(q.scaled_dot_product_attention(&k, &v, &AttentionOptions::new()));
}

#[test]
fn a_causal_query_offset_past_every_key_shows_every_key_even_near_usize_max() {
    // `query_offset + i + 1` must saturate, not wrap: with the offset at usize::MAX every
    // key is visible to every query, exactly the unmasked attention (values and
    // gradients, forward and both backward kernels).
    let mut rng = Rng::new(5);
    let (b, h, tq, tk, d) = (2, 2, 3, 7, 4);
    let q = random(&[b, h, tq, d], &mut rng).set_requires_grad(true);
    let k = random(&[b, h, tk, d], &mut rng).set_requires_grad(true);
    let v = random(&[b, h, tk, d], &mut rng).set_requires_grad(true);
    let far = AttentionOptions::causal().with_query_offset(usize::MAX);
    let open = AttentionOptions::new();
    let shown = q.scaled_dot_product_attention(&k, &v, &far).unwrap();
    let all = q.scaled_dot_product_attention(&k, &v, &open).unwrap();
    assert_eq!(shown.to_vec(), all.to_vec());
    let u = random(shown.shape(), &mut rng);
    let g_far = shown.mul(&u).unwrap().sum_all().backward().unwrap();
    let g_all = all.mul(&u).unwrap().sum_all().backward().unwrap();
    for t in [&q, &k, &v] {
        assert_eq!(
            g_far.get(t).unwrap().to_vec(),
            g_all.get(t).unwrap().to_vec()
        );
    }
}

#[test]
fn f32_and_wide_heads_match_the_composed_ops_with_a_padding_mask() {
    // Heads of 16 and 20 features (whole 16-lane blocks, and a tail), 70 keys (score rows
    // of every length, padded to whole vectors), a padded batch row; f64 through the
    // fused op against the composed ops, then f32 (the small-product kernel on AVX-512
    // CPUs) against the same reference.
    for d in [16, 20] {
        let mut rng = Rng::new(4);
        let (b, h, t) = (2, 4, 70);
        let q = random(&[b, h, t, d], &mut rng).set_requires_grad(true);
        let k = random(&[b, h, t, d], &mut rng).set_requires_grad(true);
        let v = random(&[b, h, t, d], &mut rng).set_requires_grad(true);
        let mask: Vec<i64> = (0..b * t)
            .map(|i| i64::from(i / t == 0 || i % t < 45))
            .collect();
        let opts = AttentionOptions::causal()
            .with_key_padding_mask(&IdTensor::new(mask.clone(), &[b, t]).unwrap());
        let u = random(&[b, h, t, d], &mut rng);
        let reference = composed(&q, &k, &v, Some(0), Some(&mask), 1.0 / (d as f64).sqrt());
        let gr = reference.mul(&u).unwrap().sum_all().backward().unwrap();
        let fused = q.scaled_dot_product_attention(&k, &v, &opts).unwrap();
        assert!(max_abs_diff(&fused, &reference) < 1e-10);
        let g64 = fused.mul(&u).unwrap().sum_all().backward().unwrap();
        for x in [&q, &k, &v] {
            assert!(max_abs_diff(g64.get(x).unwrap(), gr.get(x).unwrap()) < 1e-10);
        }
        let single: Vec<Tensor<f32>> = [&q, &k, &v]
            .iter()
            .map(|x| x.to_dtype::<f32>().set_requires_grad(true))
            .collect();
        let out = single[0]
            .scaled_dot_product_attention(&single[1], &single[2], &opts)
            .unwrap();
        assert!(max_abs_diff(&reference, &out.to_dtype()) < 1e-5);
        let g32 = out
            .mul(&u.to_dtype())
            .unwrap()
            .sum_all()
            .backward()
            .unwrap();
        for (x64, x32) in [&q, &k, &v].into_iter().zip(&single) {
            let diff = max_abs_diff(gr.get(x64).unwrap(), &g32.get(x32).unwrap().to_dtype());
            // Each gradient element sums ~70·d products of O(1) values rounded to f32
            // (u = 2⁻²⁴ ≈ 6e-8): random rounding grows as √(70·d)·u ≈ 2e-6 (1.3e-6
            // measured at d = 16); the worst case n·u is 7e-5.
            assert!(diff < 2e-5, "d = {d}: gradient differs by {diff:e}");
        }
    }
}

#[test]
fn heads_with_no_features_give_zeros() {
    // Empty key/query features (dk = 0): every score is 0, so the output averages the
    // visible values; empty values (dv = 0): an empty output. Neither may panic.
    for (dk, dv) in [(0, 3), (3, 0), (0, 0)] {
        let mut rng = Rng::new(9);
        let q = random(&[2, 2, 5, dk], &mut rng).set_requires_grad(true);
        let k = random(&[2, 2, 5, dk], &mut rng).set_requires_grad(true);
        let v = random(&[2, 2, 5, dv], &mut rng).set_requires_grad(true);
        let opts = AttentionOptions::causal();
        let out = q.scaled_dot_product_attention(&k, &v, &opts).unwrap();
        let reference = composed(&q, &k, &v, Some(0), None, 1.0);
        assert_eq!(out.shape(), &[2, 2, 5, dv]);
        assert!(
            max_abs_diff(&out, &reference) < 1e-12,
            "dk = {dk}, dv = {dv}"
        );
        let grads = out.sum_all().backward().unwrap();
        for (t, len) in [(&q, dk), (&k, dk), (&v, dv)] {
            let g = grads.get(t).unwrap();
            assert_eq!(g.shape(), &[2, 2, 5, len]);
        }
        if dv > 0 {
            // Output row i is the mean of values 0..=i: ∂/∂v_j = Σ_{i ≥ j} 1/(i + 1).
            let g = grads.get(&v).unwrap().to_vec();
            let want: f64 = (0..5).map(|i| 1.0 / (i as f64 + 1.0)).sum();
            assert!((g[0] - want).abs() < 1e-12, "{} vs {want}", g[0]);
        }
    }
}
