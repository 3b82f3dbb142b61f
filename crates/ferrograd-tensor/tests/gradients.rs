//! Property tests: for every differentiable op, autodiff gradients equal central finite
//! differences in f64, over random shapes (rank 0–4, size-1 axes, broadcasting) and
//! non-contiguous inputs.
//!
//! Tolerance: |autodiff − fd| ≤ 1e-6 + 1e-5·|fd| with step 1e-6. A central difference
//! in f64 has truncation error ~eps²·|f'''|/6 ≈ 1e-13 and rounding error
//! ~2.2e-16·|L|/eps ≈ 2e-10·|L| for the weighted-sum objective L (|L| < 100 here), so the
//! bound leaves a margin of ~50× while any wrong derivative formula, missed broadcast
//! reduction or mis-indexed scatter shows up as an O(1) error. Inputs are kept away from
//! kinks (|x| ≥ 0.1 for relu/abs, distinct values for max/min) and out of domain errors
//! (positive inputs to log/sqrt/pow).

use ferrograd_tensor::{GradcheckOptions, IdTensor, Tensor, gradcheck};
use proptest::prelude::*;

fn options() -> GradcheckOptions {
    GradcheckOptions {
        eps: 1e-6,
        atol: 1e-6,
        rtol: 1e-5,
        seed: 11,
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    }
}

/// A shape of rank 0–4 with sizes 1–3.
fn shape(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=3, 0..=max_rank)
}

/// Values in `lo..hi`, with |x| ≥ 0.1 (away from kinks at 0).
fn values(n: usize, lo: f64, hi: f64) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(lo..hi, n).prop_map(|v| {
        v.into_iter()
            .map(|x| {
                if x.abs() < 0.1 {
                    x.signum() * 0.1 + x
                } else {
                    x
                }
            })
            .map(|x| if x == 0.0 { 0.15 } else { x })
            .collect()
    })
}

/// A tensor of `shape` from `data`, optionally laid out non-contiguously: stored with
/// its axes reversed and viewed back through a permutation.
fn make(data: Vec<f64>, shape: &[usize], strided: bool) -> Tensor<f64> {
    if !strided || shape.len() < 2 {
        return Tensor::from_vec(data, shape).unwrap();
    }
    let reversed: Vec<usize> = shape.iter().rev().copied().collect();
    let perm: Vec<usize> = (0..shape.len()).rev().collect();
    // Element (i0..ik) of the view reads stored element (ik..i0): fill accordingly.
    let stored = Tensor::from_vec(data, shape)
        .unwrap()
        .permute(&perm)
        .unwrap()
        .contiguous();
    let view = Tensor::from_vec(stored.to_vec(), &reversed)
        .unwrap()
        .permute(&perm)
        .unwrap();
    assert_eq!(view.shape(), shape);
    view
}

/// A tensor strategy: random shape, values, layout.
fn tensor_with(max_rank: usize, lo: f64, hi: f64) -> impl Strategy<Value = Tensor<f64>> {
    (shape(max_rank), any::<bool>()).prop_flat_map(move |(s, strided)| {
        let n = s.iter().product();
        values(n, lo, hi).prop_map(move |v| make(v, &s, strided))
    })
}

/// Two shapes that broadcast together: the second derived from the first by dropping
/// leading axes and setting some sizes to 1 (and the pair possibly swapped).
fn broadcast_pair(lo: f64, hi: f64) -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
    (
        shape(4),
        0usize..=4,
        prop::collection::vec(any::<bool>(), 4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(move |(a_shape, drop, ones, swap, strided)| {
            let keep = a_shape.len() - drop.min(a_shape.len());
            let b_shape: Vec<usize> = a_shape[a_shape.len() - keep..]
                .iter()
                .zip(&ones)
                .map(|(&d, &one)| if one { 1 } else { d })
                .collect();
            let (sa, sb) = if swap {
                (b_shape, a_shape)
            } else {
                (a_shape, b_shape)
            };
            let (na, nb) = (sa.iter().product(), sb.iter().product());
            (values(na, lo, hi), values(nb, lo, hi))
                .prop_map(move |(va, vb)| (make(va, &sa, strided), make(vb, &sb, false)))
        })
}

fn check(
    f: impl Fn(&[Tensor<f64>]) -> ferrograd_tensor::Result<Tensor<f64>>,
    inputs: &[Tensor<f64>],
) -> Result<(), TestCaseError> {
    let report =
        gradcheck(f, inputs, &options()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(report.passed(), "{}", report);
    Ok(())
}

fn min_gap(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.sub(b)
        .unwrap()
        .abs()
        .to_vec()
        .into_iter()
        .fold(f64::INFINITY, f64::min)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn unary_smooth(x in tensor_with(4, -2.0, 2.0)) {
        check(|v| Ok(v[0].neg()), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].exp()), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].tanh()), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].sigmoid()), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].gelu()), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].gelu_tanh()), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].silu()), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].sin()), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].cos()), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].square()), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].add_scalar(1.5).mul_scalar(-0.5).sub_scalar(2.0).div_scalar(3.0).rsub_scalar(1.0)), &[x])?;
    }

    #[test]
    fn unary_with_kinks(x in tensor_with(4, -2.0, 2.0)) {
        check(|v| Ok(v[0].abs()), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].relu()), std::slice::from_ref(&x))?;
        // Clamp bounds placed between grid values away from the inputs.
        let near = x.to_vec().iter().any(|&e| (e - 0.55).abs() < 1e-3 || (e + 0.45).abs() < 1e-3);
        prop_assume!(!near);
        check(|v| Ok(v[0].clamp(Some(-0.45), Some(0.55))), &[x])?;
    }

    #[test]
    fn unary_positive_domain(x in tensor_with(4, 0.2, 3.0)) {
        check(|v| Ok(v[0].log()), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].sqrt()), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].powf(1.7)), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].powf(-0.5)), &[x])?;
    }

    #[test]
    fn binary_broadcasting((a, b) in broadcast_pair(-2.0, 2.0)) {
        check(|v| v[0].add(&v[1]), &[a.clone(), b.clone()])?;
        check(|v| v[0].sub(&v[1]), &[a.clone(), b.clone()])?;
        check(|v| v[0].mul(&v[1]), &[a.clone(), b.clone()])?;
        check(|v| v[0].div(&v[1]), &[a.clone(), b.clone()])?;
        let a_big = a.broadcast_to(&ferrograd_tensor::layout::broadcast_shapes("t", a.shape(), b.shape()).unwrap()).unwrap();
        prop_assume!(min_gap(&a_big, &b) > 1e-3);
        check(|v| v[0].maximum(&v[1]), &[a.clone(), b.clone()])?;
        check(|v| v[0].minimum(&v[1]), &[a, b])?;
    }

    #[test]
    fn pow_broadcasting((a, b) in broadcast_pair(0.3, 2.0)) {
        check(|v| v[0].pow(&v[1]), &[a, b])?;
    }

    #[test]
    fn reductions(x in tensor_with(4, -2.0, 2.0), axes_mask in prop::collection::vec(any::<bool>(), 4), keepdim in any::<bool>()) {
        let axes: Vec<isize> = (0..x.rank()).filter(|&i| axes_mask[i]).map(|i| i as isize).collect();
        check(|v| v[0].sum(&axes, keepdim), std::slice::from_ref(&x))?;
        check(|v| v[0].mean(&axes, keepdim), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].sum_all()), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].mean_all()), std::slice::from_ref(&x))?;
        let reduced_count: usize = if axes.is_empty() { x.numel() } else { axes.iter().map(|&a| x.shape()[a as usize]).product() };
        if reduced_count > 1 {
            check(|v| v[0].var(&axes, 1, keepdim), std::slice::from_ref(&x))?;
        }
        check(|v| v[0].var(&axes, 0, keepdim), std::slice::from_ref(&x))?;
        // Distinct values: no ties for max/min.
        let mut sorted = x.to_vec();
        sorted.sort_by(f64::total_cmp);
        prop_assume!(sorted.windows(2).all(|w| w[1] - w[0] > 1e-3));
        check(|v| v[0].max(&axes, keepdim), std::slice::from_ref(&x))?;
        check(|v| v[0].min(&axes, keepdim), &[x])?;
    }

    #[test]
    fn softmax_family(x in tensor_with(4, -3.0, 3.0), axis_seed in 0usize..4) {
        prop_assume!(x.rank() > 0);
        let axis = (axis_seed % x.rank()) as isize;
        check(|v| v[0].softmax(axis), std::slice::from_ref(&x))?;
        check(|v| v[0].log_softmax(axis), std::slice::from_ref(&x))?;
        check(|v| v[0].log_softmax(-1), std::slice::from_ref(&x))?;
        check(|v| v[0].logsumexp(axis, false), std::slice::from_ref(&x))?;
        check(|v| v[0].logsumexp(axis, true), &[x])?;
    }

    #[test]
    fn fused_norms(x in tensor_with(3, -3.0, 3.0), affine in any::<bool>()) {
        prop_assume!(x.rank() > 0);
        let n = x.shape()[x.rank() - 1];
        // Rows of one element have zero variance: layer norm's gradient is then 0 · 1/√eps.
        let w = Tensor::from_vec((0..n).map(|i| 0.5 + i as f64 * 0.25).collect(), &[n]).unwrap();
        let b = Tensor::from_vec((0..n).map(|i| i as f64 * 0.1 - 0.2).collect(), &[n]).unwrap();
        if affine {
            check(|v| v[0].layer_norm(&[n], Some(&v[1]), Some(&v[2]), 1e-5), &[x.clone(), w.clone(), b])?;
            check(|v| v[0].rms_norm(&[n], Some(&v[1]), Some(1e-6)), &[x, w])?;
        } else {
            check(|v| v[0].layer_norm(&[n], None, None, 1e-5), std::slice::from_ref(&x))?;
            check(|v| v[0].rms_norm(&[n], None, None), &[x])?;
        }
    }

    #[test]
    fn fused_losses(rows in 1usize..4, classes in 1usize..5, seed in 0u64..1000, smoothing in prop::sample::select(vec![0.0, 0.1])) {
        let mut rng = ferrograd_tensor::Rng::new(seed);
        let x = Tensor::<f64>::randn(&[rows, classes], 0.0, 2.0, &mut rng);
        // Some targets ignored (-100), the rest in range.
        let targets = IdTensor::from((0..rows).map(|i| if i == 1 { -100 } else { rng.below(classes) as i64 }).collect::<Vec<_>>());
        for reduction in [ferrograd_tensor::Reduction::Mean, ferrograd_tensor::Reduction::Sum, ferrograd_tensor::Reduction::None] {
            check(|v| v[0].cross_entropy(&targets, reduction, -100, smoothing), std::slice::from_ref(&x))?;
            check(|v| v[0].log_softmax(-1)?.nll_loss(&targets, reduction, -100), std::slice::from_ref(&x))?;
        }
        let y = Tensor::<f64>::rand_uniform(&[rows, classes], 0.1, 0.9, &mut rng);
        let p = x.sigmoid();
        check(|v| v[0].binary_cross_entropy_with_logits(&v[1], ferrograd_tensor::Reduction::Mean), &[x.clone(), y.clone()])?;
        check(|v| v[0].binary_cross_entropy(&v[1], ferrograd_tensor::Reduction::Sum), &[p, y.clone()])?;
        check(|v| v[0].mse_loss(&v[1], ferrograd_tensor::Reduction::Mean), &[x, y])?;
    }

    #[test]
    fn embedding_lookup(rows in 1usize..5, dim in 1usize..4, picks in prop::collection::vec(0usize..100, 1..6)) {
        let table = Tensor::<f64>::from_vec((0..rows * dim).map(|i| i as f64 * 0.3 - 1.0).collect(), &[rows, dim]).unwrap();
        let ids = IdTensor::from(picks.iter().map(|&p| (p % rows) as i64).collect::<Vec<_>>());
        // Without a padding row: PyTorch's padding row gets no gradient although its value
        // is used, which finite differences rightly disagree with (tested in ferrograd-nn).
        check(|v| v[0].embedding(&ids, None), &[table])?;
    }

    #[test]
    fn matmul_shapes(m in 1usize..4, k in 1usize..4, n in 1usize..4, batch in prop::collection::vec(1usize..3, 0..3),
                     lhs_batch_ones in any::<bool>(), transposed in any::<bool>(), seed in 0u64..1000) {
        let mut rng = ferrograd_tensor::Rng::new(seed);
        let mut a_shape = if lhs_batch_ones { batch.iter().map(|_| 1).collect() } else { batch.clone() };
        a_shape.extend([m, k]);
        let b_shape: Vec<usize> = batch.iter().copied().chain([k, n]).collect();
        let a = Tensor::<f64>::randn(&a_shape, 0.0, 1.0, &mut rng);
        // A transposed operand is a view, exercising faer on strided data.
        let b = if transposed {
            let mut tshape = batch.clone();
            tshape.extend([n, k]);
            Tensor::<f64>::randn(&tshape, 0.0, 1.0, &mut rng).t().unwrap()
        } else {
            Tensor::<f64>::randn(&b_shape, 0.0, 1.0, &mut rng)
        };
        check(|v| v[0].matmul(&v[1]), &[a.clone(), b.clone()])?;
        // matrix-vector, vector-matrix and dot products.
        let vk = Tensor::<f64>::randn(&[k], 0.0, 1.0, &mut rng);
        let a2 = Tensor::<f64>::randn(&[m, k], 0.0, 1.0, &mut rng);
        check(|v| v[0].matmul(&v[1]), &[a2.clone(), vk.clone()])?;
        check(|v| v[1].matmul(&v[0].t()?), &[a2, vk.clone()])?;
        check(|v| v[0].matmul(&v[1]), &[vk.clone(), vk])?;
    }

    #[test]
    fn shape_views(x in tensor_with(4, -2.0, 2.0)) {
        let w = Tensor::<f64>::from_vec((0..x.numel()).map(|i| 0.3 + i as f64 * 0.1).collect(), x.shape()).unwrap();
        // Views are linear maps; multiply by fixed weights so each element's path differs.
        check(|v| v[0].reshape(&[v[0].numel()])?.mul(&w.reshape(&[w.numel()])?), std::slice::from_ref(&x))?;
        check(|v| v[0].flatten(0, -1), std::slice::from_ref(&x))?;
        check(|v| v[0].unsqueeze(0)?.squeeze(0), std::slice::from_ref(&x))?;
        check(|v| Ok(v[0].contiguous()), std::slice::from_ref(&x))?;
        if x.rank() >= 2 {
            check(|v| v[0].transpose(0, -1)?.exp().sum(&[0], false), std::slice::from_ref(&x))?;
            let perm: Vec<usize> = (0..x.rank()).rev().collect();
            check(|v| v[0].permute(&perm)?.reshape(&[v[0].numel()]), std::slice::from_ref(&x))?;
        }
        if x.rank() >= 1 {
            let last = x.rank() - 1;
            let size = x.shape()[last];
            check(|v| v[0].narrow(-1, size / 2, size - size / 2), std::slice::from_ref(&x))?;
            check(|v| v[0].select(-1, size - 1), std::slice::from_ref(&x))?;
            let mut target = vec![2];
            target.extend_from_slice(x.shape());
            check(|v| v[0].broadcast_to(&target)?.mul(&v[0]), std::slice::from_ref(&x))?;
            check(|v| {
                let pieces = v[0].split(2, last as isize)?;
                let scaled: Vec<Tensor<f64>> = pieces.iter().enumerate().map(|(i, p)| p.mul_scalar(i as f64 + 1.0)).collect();
                Tensor::concat(&scaled.iter().collect::<Vec<_>>(), last as isize)
            }, std::slice::from_ref(&x))?;
            check(|v| {
                let c = v[0].chunk(2, 0)?;
                Tensor::stack(&[&c[0], &c[0].exp()], 0)
            }, &[x])?;
        }
    }

    #[test]
    fn indexing(x in tensor_with(3, -2.0, 2.0), picks in prop::collection::vec(0usize..100, 1..6)) {
        prop_assume!(x.rank() >= 1);
        let axis = x.rank() - 1;
        let size = x.shape()[axis];
        // Repeated picks exercise the scatter-add of index_select's backward.
        let idx = IdTensor::from(picks.iter().map(|p| (p % size) as i64).collect::<Vec<_>>());
        check(|v| v[0].index_select(axis as isize, &idx), std::slice::from_ref(&x))?;
        // A 2-D index array along axis 0: the embedding-lookup shape.
        let rows = x.shape()[0];
        let ids = IdTensor::new(picks.iter().map(|p| (p % rows) as i64).collect(), &[1, picks.len()]).unwrap();
        check(|v| v[0].index_select(0, &ids), std::slice::from_ref(&x))?;
        // gather/scatter along the last axis with an index of the same rank.
        let mut ishape = x.shape().to_vec();
        ishape[axis] = 2;
        let n: usize = ishape.iter().product();
        let gidx = IdTensor::new((0..n).map(|i| (picks[i % picks.len()] % size) as i64).collect(), &ishape).unwrap();
        check(|v| v[0].gather(axis as isize, &gidx), std::slice::from_ref(&x))?;
        let src = Tensor::<f64>::from_vec((0..n).map(|i| (i as f64 * 0.37).sin()).collect(), &ishape).unwrap();
        check(|v| Ok(v[0].scatter_add(axis as isize, &gidx, &v[1])?.tanh()), &[x, src])?;
    }

    #[test]
    fn masks_and_where((a, b) in broadcast_pair(-2.0, 2.0)) {
        let out_shape = ferrograd_tensor::layout::broadcast_shapes("t", a.shape(), b.shape()).unwrap();
        let mask = a.broadcast_to(&out_shape).unwrap().gt_scalar(0.0);
        check(|v| Tensor::where_cond(&mask, &v[0], &v[1]), &[a.clone(), b.clone()])?;
        let own_mask = a.gt_scalar(0.3);
        check(|v| v[0].masked_fill(&own_mask, -7.0), &[a])?;
    }
}

/// A small MLP and a single-head causal attention block, gradient-checked end to end.
#[test]
fn composite_mlp_and_attention() {
    let mut rng = ferrograd_tensor::Rng::new(5);
    let x = Tensor::<f64>::randn(&[4, 3], 0.0, 1.0, &mut rng);
    let w1 = Tensor::<f64>::randn(&[5, 3], 0.0, 0.5, &mut rng);
    let b1 = Tensor::<f64>::randn(&[5], 0.0, 0.5, &mut rng);
    let w2 = Tensor::<f64>::randn(&[2, 5], 0.0, 0.5, &mut rng);
    let targets = IdTensor::new(vec![0, 1, 1, 0], &[4, 1]).unwrap();
    let mlp = |v: &[Tensor<f64>]| {
        let h = v[0].matmul(&v[1].t()?)?.add(&v[2])?.tanh();
        let logits = h.matmul(&v[3].t()?)?;
        Ok(logits
            .log_softmax(-1)?
            .gather(1, &targets)?
            .mean_all()
            .neg())
    };
    let report = gradcheck(mlp, &[x, w1, b1, w2], &options()).unwrap();
    assert!(report.passed(), "MLP: {report}");

    let (t, d) = (5, 4);
    let x = Tensor::<f64>::randn(&[2, t, d], 0.0, 1.0, &mut rng);
    let wq = Tensor::<f64>::randn(&[d, d], 0.0, 0.5, &mut rng);
    let wk = Tensor::<f64>::randn(&[d, d], 0.0, 0.5, &mut rng);
    let wv = Tensor::<f64>::randn(&[d, d], 0.0, 0.5, &mut rng);
    let future = Tensor::<f64>::ones(&[t, t]).triu(1).unwrap();
    let attention = |v: &[Tensor<f64>]| {
        let (q, k, val) = (
            v[0].matmul(&v[1])?,
            v[0].matmul(&v[2])?,
            v[0].matmul(&v[3])?,
        );
        let scores = q
            .matmul(&k.transpose(-2, -1)?)?
            .div_scalar((d as f64).sqrt());
        let weights = scores
            .masked_fill(&future, f64::NEG_INFINITY)?
            .softmax(-1)?;
        weights.matmul(&val)?.add(&v[0])
    };
    let report = gradcheck(attention, &[x, wq, wk, wv], &options()).unwrap();
    assert!(report.passed(), "attention: {report}");
}

/// Products whose operands are transposed views of batched tensors take the backward
/// path that forms their gradient transposed; finite differences check it, with batch
/// axes that differ (rank 3 × rank 2) and that broadcast ([1, k, n] against [B, m, k]).
#[test]
fn batched_products_of_transposed_views_have_correct_gradients() {
    let mut rng = ferrograd_tensor::Rng::new(3);
    let (batch, m, k, n) = (3, 4, 5, 2);
    let a_stored = Tensor::<f64>::randn(&[batch, k, m], 0.0, 1.0, &mut rng);
    let b = Tensor::<f64>::randn(&[k, n], 0.0, 1.0, &mut rng);
    let report = gradcheck(
        |v| v[0].transpose(-2, -1)?.matmul(&v[1]),
        &[a_stored, b],
        &options(),
    )
    .unwrap();
    assert!(report.passed(), "transposed batched lhs: {report}");

    let a = Tensor::<f64>::randn(&[batch, m, k], 0.0, 1.0, &mut rng);
    let b_stored = Tensor::<f64>::randn(&[1, n, k], 0.0, 1.0, &mut rng);
    let report = gradcheck(
        |v| v[0].matmul(&v[1].transpose(-2, -1)?),
        &[a, b_stored],
        &options(),
    )
    .unwrap();
    assert!(report.passed(), "broadcast transposed rhs: {report}");

    // k = 0 with a weight shared across a batch: the gradient is all zeros, not an error.
    let a = Tensor::<f64>::zeros(&[2, 3, 0]).set_requires_grad(true);
    let w = Tensor::<f64>::zeros(&[0, 4]).set_requires_grad(true);
    let y = a.matmul(&w).unwrap();
    assert_eq!(y.shape(), &[2, 3, 4]);
    let grads = y.sum_all().backward().unwrap();
    assert_eq!(grads.get(&w).unwrap().shape(), &[0, 4]);
    assert_eq!(grads.get(&a).unwrap().shape(), &[2, 3, 0]);
}
