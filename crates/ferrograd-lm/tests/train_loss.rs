//! The fused output head + cross-entropy (`linear_cross_entropy`) against the composed
//! `Linear` → `CrossEntropyLoss` (values and every gradient, f64), against finite
//! differences, and its errors; `matmul_cross_entropy` (the weight stored `[E, V]`, as the
//! book's decoder) against `matmul` → `CrossEntropyLoss` the same way.

use ferrograd_lm::train_loss::{
    BLOCK_ROWS, CHUNK_COLS, linear_cross_entropy, matmul_cross_entropy,
};
use ferrograd_nn::CrossEntropyLoss;
use ferrograd_tensor::{GradcheckOptions, IdTensor, Rng, Tensor, TensorError, gradcheck, no_grad};

struct Case {
    h: Tensor<f64>,
    w: Tensor<f64>,
    b: Tensor<f64>,
    targets: IdTensor,
}

/// `rows` rows of width `e`, `v` classes, about one target in five ignored (-100).
fn case(rows: usize, e: usize, v: usize, seed: u64) -> Case {
    let mut rng = Rng::new(seed);
    let targets: Vec<i64> = (0..rows)
        .map(|_| {
            if rng.below(5) == 0 {
                -100
            } else {
                rng.below(v) as i64
            }
        })
        .collect();
    Case {
        h: Tensor::randn(&[rows, e], 0.0, 1.0, &mut rng).set_requires_grad(true),
        w: Tensor::randn(&[v, e], 0.0, 0.5, &mut rng).set_requires_grad(true),
        b: Tensor::randn(&[v], 0.0, 0.5, &mut rng).set_requires_grad(true),
        targets: IdTensor::from(targets),
    }
}

fn max_diff(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.to_vec()
        .iter()
        .zip(b.to_vec())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// The composed reference: logits = h·Wᵀ + b, then PyTorch-style mean cross-entropy.
fn composed(c: &Case, bias: bool, scale: f64) -> (f64, Vec<Tensor<f64>>) {
    let mut logits = c.h.matmul(&c.w.transpose(0, 1).unwrap()).unwrap();
    if bias {
        logits = logits.add(&c.b).unwrap();
    }
    let loss = CrossEntropyLoss::new()
        .forward(&logits, &c.targets)
        .unwrap();
    let value = loss.item().unwrap();
    let grads = loss.mul_scalar(scale).backward().unwrap();
    let mut out = vec![
        grads.get(&c.h).unwrap().clone(),
        grads.get(&c.w).unwrap().clone(),
    ];
    if bias {
        out.push(grads.get(&c.b).unwrap().clone());
    }
    (value, out)
}

fn fused(c: &Case, bias: bool, scale: f64) -> (f64, Vec<Tensor<f64>>) {
    let loss = linear_cross_entropy(&c.h, &c.w, bias.then_some(&c.b), &c.targets, -100).unwrap();
    let value = loss.item().unwrap();
    let grads = loss.mul_scalar(scale).backward().unwrap();
    let mut out = vec![
        grads.get(&c.h).unwrap().clone(),
        grads.get(&c.w).unwrap().clone(),
    ];
    if bias {
        out.push(grads.get(&c.b).unwrap().clone());
    }
    (value, out)
}

#[test]
fn fused_equals_linear_then_cross_entropy() {
    // A few rows (one block), more rows than BLOCK_ROWS with a ragged last block
    // (several blocks, split over the worker threads), and more classes than CHUNK_COLS
    // with a ragged last slice (the online softmax across slices).
    for (rows, e, v, seed) in [
        (7, 5, 11, 1),
        (2 * BLOCK_ROWS + 37, 16, 53, 2),
        (BLOCK_ROWS + 5, 8, 2 * CHUNK_COLS + 37, 11),
    ] {
        let c = case(rows, e, v, seed);
        for bias in [true, false] {
            // An incoming gradient other than 1 (the loss scaled by 2.5) must scale every
            // gradient.
            let (fv, fg) = fused(&c, bias, 2.5);
            let (cv, cg) = composed(&c, bias, 2.5);
            // f64: both sums run over at most a few thousand terms of size ~1; 1e-12
            // leaves room for different summation orders, not for a wrong formula.
            assert!(
                (fv - cv).abs() < 1e-12,
                "rows {rows} bias {bias}: {fv} vs {cv}"
            );
            for (i, (a, b)) in fg.iter().zip(&cg).enumerate() {
                let d = max_diff(a, b);
                assert!(d < 1e-12, "rows {rows} bias {bias} gradient {i}: {d}");
            }
        }
    }
}

#[test]
fn a_row_maximum_in_any_slice_gives_the_composed_values() {
    // Large logits in the first slice and in the last one: rows whose maximum comes late
    // rescale the sum of the earlier slices by up to exp(−40), rows whose maximum comes
    // first never do. Both must equal the composed ops.
    let v = 2 * CHUNK_COLS + 37;
    let mut c = case(40, 6, v, 13);
    let mut b = c.b.to_vec();
    b[3] = 35.0;
    b[v - 1] = 40.0;
    c.b = Tensor::from_vec(b, &[v]).unwrap().set_requires_grad(true);
    let mut h = c.h.to_vec();
    // Half the rows favour class 3 (a large first feature times a positive weight).
    let w = c.w.to_vec();
    for (row, chunk) in h.chunks_mut(6).enumerate() {
        if row % 2 == 0 {
            chunk[0] = 12.0 * w[3 * 6].signum();
        }
    }
    c.h = Tensor::from_vec(h, &[40, 6])
        .unwrap()
        .set_requires_grad(true);
    let (fv, fg) = fused(&c, true, 1.0);
    let (cv, cg) = composed(&c, true, 1.0);
    // f64: logits up to ~50, so the loss's terms are ~50; 1e-11 is 2e-13 relative.
    assert!((fv - cv).abs() < 1e-11, "{fv} vs {cv}");
    for (i, (a, b)) in fg.iter().zip(&cg).enumerate() {
        let d = max_diff(a, b);
        assert!(d < 1e-12, "gradient {i}: {d}");
    }
}

#[test]
fn gradients_match_finite_differences() {
    let c = case(9, 4, 7, 3);
    let targets = c.targets.clone();
    let report = gradcheck(
        |xs| {
            linear_cross_entropy(&xs[0], &xs[1], Some(&xs[2]), &targets, -100).map_err(|e| {
                TensorError::InvalidArgument {
                    op: "linear_cross_entropy",
                    reason: e.to_string(),
                }
            })
        },
        &[c.h.detach(), c.w.detach(), c.b.detach()],
        &GradcheckOptions::default(),
    )
    .unwrap();
    assert!(report.passed(), "{report}");
}

#[test]
fn without_gradients_the_value_is_the_same() {
    let c = case(300, 8, 29, 4);
    let with = linear_cross_entropy(&c.h, &c.w, Some(&c.b), &c.targets, -100)
        .unwrap()
        .item()
        .unwrap();
    let without =
        no_grad(|| linear_cross_entropy(&c.h, &c.w, Some(&c.b), &c.targets, -100)).unwrap();
    assert!(!without.requires_grad());
    assert_eq!(with, without.item().unwrap());
}

#[test]
fn bad_input_is_an_error_and_all_ignored_is_nan() {
    let c = case(6, 4, 5, 5);
    // A target outside 0..V that is not the ignore index.
    for bad in [5i64, -1] {
        let t = IdTensor::from(vec![0, 1, bad, 2, 3, 4]);
        let err = linear_cross_entropy(&c.h, &c.w, Some(&c.b), &t, -100)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&bad.to_string()) && err.contains("position 2"),
            "{err}"
        );
    }
    // Shapes that do not fit.
    let t = IdTensor::from(vec![0, 1, 2]);
    assert!(linear_cross_entropy(&c.h, &c.w, Some(&c.b), &t, -100).is_err());
    let w = Tensor::<f64>::zeros(&[5, 3]);
    assert!(linear_cross_entropy(&c.h, &w, Some(&c.b), &c.targets, -100).is_err());
    let b = Tensor::<f64>::zeros(&[4]);
    assert!(linear_cross_entropy(&c.h, &c.w, Some(&b), &c.targets, -100).is_err());
    // Every target ignored: the mean over nothing is NaN, as PyTorch's.
    let t = IdTensor::from(vec![-100i64; 6]);
    let loss = linear_cross_entropy(&c.h, &c.w, Some(&c.b), &t, -100).unwrap();
    assert!(loss.item().unwrap().is_nan());
}

/// The `[E, V]` case: an output matrix `wt` (the transpose of `c.w`, a leaf of its own).
fn transposed_weight(c: &Case) -> Tensor<f64> {
    let t = c.w.detach().transpose(0, 1).unwrap();
    Tensor::from_vec(t.to_vec(), t.shape())
        .unwrap()
        .set_requires_grad(true)
}

#[test]
fn matmul_form_equals_matmul_then_cross_entropy() {
    for (rows, e, v, seed) in [
        (7, 5, 11, 6),
        (2 * BLOCK_ROWS + 37, 16, 53, 7),
        (BLOCK_ROWS + 5, 8, 2 * CHUNK_COLS + 37, 12),
    ] {
        let c = case(rows, e, v, seed);
        let wt = transposed_weight(&c);
        for bias in [true, false] {
            let b = bias.then_some(&c.b);
            let fused = matmul_cross_entropy(&c.h, &wt, b, &c.targets, -100).unwrap();
            let fv = fused.item().unwrap();
            let fg = fused.mul_scalar(2.5).backward().unwrap();
            let mut logits = c.h.matmul(&wt).unwrap();
            if bias {
                logits = logits.add(&c.b).unwrap();
            }
            let composed = CrossEntropyLoss::new()
                .forward(&logits, &c.targets)
                .unwrap();
            let cv = composed.item().unwrap();
            let cg = composed.mul_scalar(2.5).backward().unwrap();
            // f64, the same bound and reason as for `linear_cross_entropy` above.
            assert!(
                (fv - cv).abs() < 1e-12,
                "rows {rows} bias {bias}: {fv} vs {cv}"
            );
            let mut pairs = vec![(&c.h, "h"), (&wt, "w")];
            if bias {
                pairs.push((&c.b, "b"));
            }
            for (t, name) in pairs {
                let (a, r) = (fg.get(t).unwrap(), cg.get(t).unwrap());
                assert_eq!(
                    a.shape(),
                    t.shape(),
                    "gradient of {name} has the input's shape"
                );
                let d = max_diff(a, r);
                assert!(d < 1e-12, "rows {rows} bias {bias} gradient of {name}: {d}");
            }
        }
    }
}

#[test]
fn matmul_form_gradients_match_finite_differences() {
    let c = case(9, 4, 7, 8);
    let wt = transposed_weight(&c);
    let targets = c.targets.clone();
    let report = gradcheck(
        |xs| {
            matmul_cross_entropy(&xs[0], &xs[1], Some(&xs[2]), &targets, -100).map_err(|e| {
                TensorError::InvalidArgument {
                    op: "matmul_cross_entropy",
                    reason: e.to_string(),
                }
            })
        },
        &[c.h.detach(), wt.detach(), c.b.detach()],
        &GradcheckOptions::default(),
    )
    .unwrap();
    assert!(report.passed(), "{report}");
}

#[test]
fn matmul_form_rejects_a_weight_stored_the_other_way() {
    // h is [6, 4]: an [E, V] weight must have 4 rows; c.w is [5, 4].
    let c = case(6, 4, 5, 9);
    let err = matmul_cross_entropy(&c.h, &c.w, None, &c.targets, -100)
        .unwrap_err()
        .to_string();
    assert!(err.contains("[5, 4]"), "{err}");
    assert!(matmul_cross_entropy(&c.h, &transposed_weight(&c), None, &c.targets, -100).is_ok());
}

#[test]
fn a_kept_graph_gives_the_same_gradients_twice_and_they_can_be_changed_safely() {
    // The op hands out its stored gradients without copying when the incoming gradient
    // is 1: changing one returned gradient must not change the next backward's.
    let c = case(2 * BLOCK_ROWS + 5, 6, 13, 10);
    let loss = linear_cross_entropy(&c.h, &c.w, Some(&c.b), &c.targets, -100).unwrap();
    let first = loss.backward().unwrap();
    let dw1 = first.get(&c.w).unwrap().to_vec();
    let mut taken = first.get(&c.w).unwrap().clone();
    drop(first);
    // Either the write is refused (the buffer is shared) or it lands in a private copy.
    if let Some(data) = taken.try_data_mut() {
        data.fill(0.0);
    }
    let second = loss.backward().unwrap();
    assert_eq!(second.get(&c.w).unwrap().to_vec(), dw1);
}
