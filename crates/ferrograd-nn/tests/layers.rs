//! Behaviour of layers: naming, initialisation ranges, modes, padding, errors.

use ferrograd_nn::*;
use ferrograd_tensor::{IdTensor, Rng, Tensor};

#[test]
fn sequential_names_parameters_like_pytorch() {
    let mut rng = Rng::new(0);
    let model = Sequential::new()
        .push(Linear::<f32>::new(2, 100, &mut rng))
        .push(Sigmoid)
        .push(Linear::new(100, 1, &mut rng))
        .push(Sigmoid);
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
    assert_eq!(model.num_parameters(), 2 * 100 + 100 + 100 + 1);
}

#[test]
fn linear_init_range_and_shape_errors() {
    let layer = Linear::<f32>::new(16, 8, &mut Rng::new(1));
    let bound = 1.0 / 4.0; // 1/sqrt(16)
    for p in layer.parameters() {
        assert!(p.tensor().to_vec().iter().all(|v| v.abs() <= bound));
    }
    assert!(
        Linear::<f32>::with_bias(3, 2, false, &mut Rng::new(1))
            .bias
            .is_none()
    );
    let err = layer.forward(&Tensor::zeros(&[4, 15])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Linear: expected [..., 16], got shape [4, 15]"
    );
}

#[test]
fn dropout_scales_in_training_and_is_identity_in_eval() {
    let dropout = Dropout::new(0.25, 7).unwrap();
    let x = Tensor::<f32>::ones(&[10_000]);
    let y = Forward::forward(&dropout, &x).unwrap().to_vec();
    let kept = y.iter().filter(|&&v| v != 0.0).count();
    assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
    // kept ~ Binomial(10000, 0.75): sd ≈ 43; allow 5 sd.
    assert!((kept as i64 - 7500).abs() < 220, "{kept}");
    Module::<f32>::set_training(&dropout, false);
    assert_eq!(Forward::forward(&dropout, &x).unwrap().to_vec(), x.to_vec());
    assert!(Dropout::new(1.5, 0).is_err());
    assert!(Dropout::new(-0.1, 0).is_err());
    // p = 1 drops everything in training, as PyTorch's Dropout(p=1.0).
    let all = Dropout::new(1.0, 0).unwrap();
    assert!(
        Forward::forward(&all, &x)
            .unwrap()
            .to_vec()
            .iter()
            .all(|&v| v == 0.0)
    );
}

#[test]
fn embedding_padding_row_is_zero_and_gets_no_gradient() {
    let table = Embedding::<f64>::new(5, 3, Some(0), &mut Rng::new(2));
    assert_eq!(table.weight.tensor().to_vec()[..3], [0.0, 0.0, 0.0]);
    let ids = IdTensor::new(vec![0, 2, 2, 0], &[2, 2]).unwrap();
    let out = table.lookup(&ids).unwrap();
    assert_eq!(out.shape(), &[2, 2, 3]);
    let grads = out.sum_all().backward().unwrap();
    let g = grads.get(&table.weight).unwrap().to_vec();
    assert_eq!(&g[..3], &[0.0, 0.0, 0.0], "padding row");
    assert_eq!(&g[6..9], &[2.0, 2.0, 2.0], "row 2 picked twice");
    assert!(table.lookup(&IdTensor::from(vec![5])).is_err());
}

#[test]
fn losses_reject_bad_input() {
    let p = Tensor::<f32>::from([0.5, 1.5]);
    let y = Tensor::<f32>::from([0.0, 1.0]);
    assert_eq!(
        BceLoss::default().forward(&p, &y).unwrap_err().to_string(),
        "BceLoss: input element 1.5 is not in [0, 1]"
    );
    assert_eq!(
        BceLoss::default()
            .forward(&y, &Tensor::from([0.5, -0.5]))
            .unwrap_err()
            .to_string(),
        "BceLoss: target element -0.5 is not in [0, 1]"
    );
    assert!(
        MseLoss::default()
            .forward(&p, &Tensor::from([1.0]))
            .is_err()
    );
    let logits = Tensor::<f32>::zeros(&[2, 3]);
    assert!(
        CrossEntropyLoss::default()
            .forward(&logits, &IdTensor::from(vec![0, 3]))
            .is_err()
    );
    assert!(
        CrossEntropyLoss::default()
            .forward(&logits, &IdTensor::from(vec![0]))
            .is_err()
    );
    // All targets ignored: the mean is 0/0 = NaN, as in PyTorch.
    let all_ignored = CrossEntropyLoss {
        ignore_index: 1,
        ..Default::default()
    };
    assert!(
        all_ignored
            .forward(&logits, &IdTensor::from(vec![1, 1]))
            .unwrap()
            .item()
            .unwrap()
            .is_nan()
    );
}

/// |a − b| ≤ tol·(1 + |b|) elementwise.
fn assert_close(name: &str, a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len(), "{name}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{name}[{i}]: {x} vs {y}"
        );
    }
}

#[test]
fn fused_f32_kernels_agree_with_tensor_primitives_at_scale() {
    // The fused f32 kernels (8-lane sums, polynomial exp) against the same math composed
    // from the tensor crate's ops, on rows long enough for rounding to accumulate. Rows of
    // 3000 (512) terms in f32 differ by ~√n ulps between summation orders, ~3e-6
    // relative; 2e-5 leaves a margin while any formula error is far larger.
    let mut rng = Rng::new(4);
    let logits = Tensor::<f32>::randn(&[64, 3000], 0.0, 3.0, &mut rng).set_requires_grad(true);
    let targets = IdTensor::from((0..64).map(|_| rng.below(3000) as i64).collect::<Vec<_>>());
    let fused = CrossEntropyLoss::default()
        .forward(&logits, &targets)
        .unwrap();
    let column = targets.reshape(&[64, 1]).unwrap();
    let composed = logits
        .log_softmax(-1)
        .unwrap()
        .gather(1, &column)
        .unwrap()
        .mean_all()
        .neg();
    assert_close("ce", &fused.to_vec(), &composed.to_vec(), 2e-5);
    let (gf, gc) = (fused.backward().unwrap(), composed.backward().unwrap());
    assert_close(
        "ce grad",
        &gf.get(&logits).unwrap().to_vec(),
        &gc.get(&logits).unwrap().to_vec(),
        2e-5,
    );

    let x = Tensor::<f32>::randn(&[256, 512], 1.0, 2.0, &mut rng).set_requires_grad(true);
    let g = Tensor::<f32>::randn(&[256, 512], 0.0, 1.0, &mut rng);
    let fused = layer_norm(&x, &[512], None, None, 1e-5).unwrap();
    let mean = x.mean(&[-1], true).unwrap();
    let centered = x.sub(&mean).unwrap();
    let var = centered.square().mean(&[-1], true).unwrap();
    let composed = centered.div(&var.add_scalar(1e-5).sqrt()).unwrap();
    assert_close("layer norm", &fused.to_vec(), &composed.to_vec(), 2e-5);
    let gf = fused.backward_with_grad(&g).unwrap();
    let gc = composed.backward_with_grad(&g).unwrap();
    assert_close(
        "layer norm grad",
        &gf.get(&x).unwrap().to_vec(),
        &gc.get(&x).unwrap().to_vec(),
        2e-5,
    );
}

/// Issue 18: a norm layer built with `new(&[])` said "expected [..., ]" at its first
/// forward pass, and `Embedding::forward` dropped which id was out of range. The errors
/// now name the call and what the user passed.
#[test]
fn errors_name_the_layer_call_and_the_values_passed() {
    let x = Tensor::<f32>::zeros(&[2, 3]);
    let hint = |layer: &str| {
        format!(
            "normalized_shape is [] (built by {layer}::new(&[])); it must name at least one \
             trailing axis to normalise over, e.g. {layer}::new(&[d]) for rows of d features"
        )
    };
    let err = LayerNorm::<f32>::new(&[]).forward(&x).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("LayerNorm::forward: {}", hint("LayerNorm"))
    );
    let err = RmsNorm::<f32>::new(&[], None).forward(&x).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("RmsNorm::forward: {}", hint("RmsNorm"))
    );
    let err = LayerNorm::<f32>::try_new(&[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("LayerNorm::try_new: {}", hint("LayerNorm"))
    );
    let table = Embedding::<f32>::new(5, 2, None, &mut Rng::new(0));
    let err = table
        .forward(&IdTensor::from([[0, 4], [7, 1]]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Embedding::forward: id 7 at position 2 is out of range 0..5"
    );
    let err = table.forward(&IdTensor::from([-1])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Embedding::forward: id -1 at position 0 is out of range 0..5"
    );
}
