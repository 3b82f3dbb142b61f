//! Every layer and loss gradient-checked in f64 against central finite differences:
//! inputs with the tensor crate's `gradcheck`, parameters with `gradcheck_module`
//! (through the modules themselves). Step 1e-6; tolerance |ad − fd| ≤ 1e-6 + 1e-5·|fd|:
//! for these smooth functions of O(1) inputs the central difference is off by
//! ~1e-10 (rounding, ~1e-16·|f|/1e-6) plus ~1e-12 (truncation), so the bound has a
//! margin of ~10⁴ while any formula error (≥ 1e-3 relative) fails it.

use ferrograd_nn::*;
use ferrograd_tensor::{GradcheckOptions, IdTensor, Rng, Tensor, gradcheck};

fn options() -> GradcheckOptions {
    GradcheckOptions {
        eps: 1e-6,
        atol: 1e-6,
        rtol: 1e-5,
        seed: 3,
    }
}

fn check(
    name: &str,
    f: impl Fn(&[Tensor<f64>]) -> ferrograd_tensor::Result<Tensor<f64>>,
    inputs: &[Tensor<f64>],
) {
    let report = gradcheck(f, inputs, &options()).unwrap();
    assert!(report.passed(), "{name}: {report}");
    assert!(report.checked > 0, "{name}: nothing checked");
}

fn check_params<M: Module<f64> + ?Sized>(
    name: &str,
    module: &M,
    f: impl Fn() -> Result<Tensor<f64>>,
) {
    let report = gradcheck_module(module, f, &options()).unwrap();
    assert!(report.passed(), "{name}: {report}");
    assert_eq!(report.checked, module.num_parameters(), "{name}");
}

/// Maps an nn error into the checker's error type.
fn nn(e: NnError) -> ferrograd_tensor::TensorError {
    ferrograd_tensor::TensorError::InvalidArgument {
        op: "test",
        reason: e.to_string(),
    }
}

/// Values in ±[0.2, 1.2], away from ReLU's kink at 0 (the step of 1e-6 never crosses it).
fn away_from_zero(shape: &[usize], rng: &mut Rng) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            let magnitude = 0.2 + rng.next_f64();
            if rng.next_f64() < 0.5 {
                -magnitude
            } else {
                magnitude
            }
        })
        .collect();
    Tensor::from_vec(data, shape).unwrap()
}

#[test]
fn linear_input_and_parameter_gradients() {
    let mut rng = Rng::new(7);
    let x = Tensor::<f64>::randn(&[3, 4], 0.0, 1.0, &mut rng);
    let x3 = Tensor::<f64>::randn(&[2, 3, 4], 0.0, 1.0, &mut rng);
    let x1 = Tensor::<f64>::randn(&[4], 0.0, 1.0, &mut rng);
    let linear = Linear::<f64>::new(4, 5, &mut rng);
    let no_bias = Linear::<f64>::with_bias(4, 5, false, &mut rng);
    for (name, input) in [("2-D", &x), ("3-D", &x3), ("1-D", &x1)] {
        check(
            &format!("linear {name}"),
            |v| linear.forward(&v[0]).map_err(nn),
            std::slice::from_ref(input),
        );
        check_params(&format!("linear {name} params"), &linear, || {
            linear.forward(input)
        });
        check_params(&format!("linear without bias {name}"), &no_bias, || {
            no_bias.forward(input)
        });
    }
    // A transposed (non-contiguous) input, checked as the view it is.
    let xt = Tensor::<f64>::randn(&[4, 3], 0.0, 1.0, &mut rng)
        .t()
        .unwrap();
    assert!(!xt.is_contiguous());
    check(
        "linear on a transposed input",
        |v| linear.forward(&v[0]).map_err(nn),
        &[xt],
    );
}

#[test]
fn activation_gradients() {
    let mut rng = Rng::new(8);
    let x = away_from_zero(&[3, 4], &mut rng);
    let modules: [(&str, &dyn Layer<f64>); 7] = [
        ("relu", &Relu),
        ("sigmoid", &Sigmoid),
        ("tanh", &Tanh),
        ("gelu", &Gelu),
        ("gelu tanh", &GeluTanh),
        ("softmax", &Softmax::new(-1)),
        ("log softmax over axis 0", &LogSoftmax::new(0)),
    ];
    for (name, m) in modules {
        check(
            name,
            |v| m.forward(&v[0]).map_err(nn),
            std::slice::from_ref(&x),
        );
    }
}

#[test]
fn sequential_and_hand_written_model_gradients() {
    let mut rng = Rng::new(9);
    let x = Tensor::<f64>::randn(&[3, 4], 0.0, 1.0, &mut rng);
    let seq = Sequential::new()
        .push(Linear::<f64>::new(4, 6, &mut rng))
        .push(Tanh)
        .push(LayerNorm::new(&[6]))
        .push(Linear::new(6, 2, &mut rng))
        .push(Gelu);
    check(
        "sequential input",
        |v| seq.forward(&v[0]).map_err(nn),
        std::slice::from_ref(&x),
    );
    check_params("sequential params", &seq, || seq.forward(&x));
}

#[test]
fn embedding_gradients_with_and_without_padding() {
    let mut rng = Rng::new(10);
    let ids = IdTensor::new(vec![1, 4, 1, 0, 5, 0], &[2, 3]).unwrap();
    for padding in [None, Some(0), Some(1)] {
        let table = Embedding::<f64>::new(6, 3, padding, &mut rng);
        // The padding row gets no gradient by design (PyTorch's semantics), which finite
        // differences cannot see; so the outputs looked up from it are masked out of the
        // checked function, making its true gradient zero — and every other row, looked
        // up next to padding ids, is checked as usual.
        let keep: Vec<f64> = ids
            .to_vec()
            .iter()
            .flat_map(|&id| {
                [if Some(id as usize) == padding {
                    0.0
                } else {
                    1.0
                }; 3]
            })
            .collect();
        let keep = Tensor::from_vec(keep, &[2, 3, 3]).unwrap();
        check_params(&format!("embedding, padding {padding:?}"), &table, || {
            Ok(table.lookup(&ids)?.mul(&keep)?)
        });
        check(
            &format!("functional embedding, padding {padding:?}"),
            |v| functional::embedding(&v[0], &ids, padding)?.mul(&keep),
            &[table.weight.tensor()],
        );
    }
}

#[test]
fn norm_gradients() {
    let mut rng = Rng::new(11);
    let x3 = Tensor::<f64>::randn(&[2, 3, 4], 0.5, 1.5, &mut rng);
    let perturb = |norm: &dyn Module<f64>, rng: &mut Rng| {
        // Start the affine parameters away from ones and zeros.
        for p in norm.parameters() {
            p.update(|d| d.iter_mut().for_each(|v| *v += 0.3 * rng.normal()))
                .unwrap();
        }
    };
    let norms: Vec<(&str, Box<dyn Layer<f64>>)> = vec![
        ("layer norm", Box::new(LayerNorm::new(&[4]))),
        (
            "layer norm over two axes",
            Box::new(LayerNorm::new(&[3, 4])),
        ),
        (
            "layer norm without affine",
            Box::new(LayerNorm::with_options(&[4], 1e-5, false)),
        ),
        ("rms norm", Box::new(RmsNorm::new(&[4], None))),
        (
            "rms norm over two axes",
            Box::new(RmsNorm::new(&[3, 4], Some(1e-6))),
        ),
        (
            "rms norm without affine",
            Box::new(RmsNorm::with_options(&[4], None, false)),
        ),
    ];
    for (name, norm) in &norms {
        perturb(norm.as_ref(), &mut rng);
        check(
            name,
            |v| norm.forward(&v[0]).map_err(nn),
            std::slice::from_ref(&x3),
        );
        // A non-contiguous input: the transpose of a [2, 4, 3] tensor.
        let xt = x3
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .transpose(1, 2)
            .unwrap();
        check(
            &format!("{name} (strided input)"),
            |v| norm.forward(&v[0]).map_err(nn),
            &[xt],
        );
        if norm.num_parameters() > 0 {
            check_params(name, norm.as_ref(), || norm.forward(&x3));
        }
    }
    // The functional forms with weight and bias as checked inputs.
    let gamma = Tensor::<f64>::randn(&[4], 1.0, 0.2, &mut rng);
    let beta = Tensor::<f64>::randn(&[4], 0.0, 0.2, &mut rng);
    check(
        "layer_norm x, weight, bias",
        |v| layer_norm(&v[0], &[4], Some(&v[1]), Some(&v[2]), 1e-5).map_err(nn),
        &[x3.clone(), gamma.clone(), beta],
    );
    check(
        "rms_norm x, weight",
        |v| rms_norm(&v[0], &[4], Some(&v[1]), None).map_err(nn),
        &[x3, gamma],
    );
}

#[test]
fn dropout_gradient_is_the_mask() {
    // In training the mask changes every call, so finite differences cannot see it: the
    // gradient must be the mask itself (0 or 1/(1-p) per element).
    let dropout = Dropout::new(0.3, 5).unwrap();
    let x = Tensor::<f64>::ones(&[200]).set_requires_grad(true);
    let y = Forward::forward(&dropout, &x).unwrap();
    let g = y.sum_all().backward().unwrap().get(&x).unwrap().to_vec();
    assert_eq!(
        g,
        y.to_vec(),
        "gradient of Σ dropout(x) at x = 1 is the mask"
    );
    let eval = Dropout::new(0.3, 5).unwrap();
    Module::<f64>::eval(&eval);
    check(
        "dropout (eval)",
        |v| Forward::forward(&eval, &v[0]).map_err(nn),
        &[x.detach()],
    );
}

#[test]
fn cross_entropy_and_nll_gradients() {
    let mut rng = Rng::new(12);
    let logits = Tensor::<f64>::randn(&[4, 5], 0.0, 1.0, &mut rng);
    let targets = IdTensor::from(vec![0, 4, 2, 2]);
    for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        for (ignore_index, label_smoothing) in [(-100, 0.0), (2, 0.0), (4, 0.2), (-100, 1.0)] {
            let loss = CrossEntropyLoss {
                reduction,
                ignore_index,
                label_smoothing,
            };
            check(
                &format!("{loss:?}"),
                |v| loss.forward(&v[0], &targets).map_err(nn),
                std::slice::from_ref(&logits),
            );
        }
        let nll = NllLoss {
            reduction,
            ignore_index: 4,
        };
        check(
            &format!("{nll:?}"),
            |v| nll.forward(&v[0], &targets).map_err(nn),
            &[logits.log_softmax(-1).unwrap()],
        );
    }
    // [N, C, T] layout, a single [C] row, and a transposed [N, C] view.
    let logits3 = Tensor::<f64>::randn(&[2, 5, 3], 0.0, 1.0, &mut rng);
    let targets3 = IdTensor::new(vec![0, 4, 1, 2, 2, 3], &[2, 3]).unwrap();
    let smooth = CrossEntropyLoss::new()
        .with_label_smoothing(0.1)
        .with_ignore_index(3);
    check(
        "cross-entropy [N, C, T]",
        |v| smooth.forward(&v[0], &targets3).map_err(nn),
        &[logits3],
    );
    check(
        "cross-entropy [C]",
        |v| {
            smooth
                .forward(&v[0], &IdTensor::new(vec![2], &[]).unwrap())
                .map_err(nn)
        },
        &[Tensor::<f64>::randn(&[5], 0.0, 1.0, &mut rng)],
    );
    let transposed = Tensor::<f64>::randn(&[5, 4], 0.0, 1.0, &mut rng)
        .t()
        .unwrap();
    check(
        "cross-entropy on a transposed view",
        |v| smooth.forward(&v[0], &targets).map_err(nn),
        &[transposed],
    );
}

#[test]
fn binary_losses_and_mse_gradients() {
    let y = Tensor::<f64>::from([[0.0, 1.0], [1.0, 0.25]]);
    let p = Tensor::<f64>::from([[0.2, 0.7], [0.9, 0.4]]);
    let z = Tensor::<f64>::from([[-3.0, 0.5], [2.0, -0.1]]);
    for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        let bce = BceLoss { reduction };
        check(
            &format!("bce {reduction:?}"),
            |v| bce.forward(&v[0], &v[1]).map_err(nn),
            &[p.clone(), Tensor::from([[0.1, 0.6], [0.8, 0.25]])],
        );
        let logits = BceWithLogitsLoss { reduction };
        check(
            &format!("bce with logits {reduction:?}"),
            |v| logits.forward(&v[0], &v[1]).map_err(nn),
            &[z.clone(), y.clone()],
        );
        let mse = MseLoss { reduction };
        check(
            &format!("mse {reduction:?}"),
            |v| mse.forward(&v[0], &v[1]).map_err(nn),
            &[z.clone(), p.clone()],
        );
    }
}

#[test]
fn lora_with_a_frozen_base_checks_only_the_adapter() {
    let mut rng = Rng::new(11);
    let mut layer = Lora::new(Linear::<f64>::new(3, 4, &mut rng));
    layer.base.freeze();
    layer.attach(&LoraConfig::new(2, 4.0), &mut rng).unwrap();
    // B starts at zero (A's gradient would be zero too): give it values so both matter.
    let adapter = layer.adapter().unwrap();
    adapter
        .lora_b
        .set(&Tensor::randn(&[4, 2], 0.0, 1.0, &mut rng))
        .unwrap();
    let x = Tensor::<f64>::randn(&[5, 3], 0.0, 1.0, &mut rng);
    let report = gradcheck_module(&layer, || layer.forward(&x), &options()).unwrap();
    assert!(report.passed(), "{report}");
    // A [2, 3] and B [4, 2]; the frozen base (weight [4, 3], bias [4]) is not checked.
    assert_eq!(report.checked, 2 * 3 + 4 * 2);
    assert_eq!(report.checked, layer.num_trainable_parameters());
    // The worst element is reported under its position among all named parameters
    // (weight, bias, lora_A, lora_B): an adapter's, 2 or 3.
    let worst = report.worst.as_ref().unwrap();
    assert!(matches!(worst.input, 2 | 3), "{report}");
    // Unfrozen, the base is checked too (and passes).
    layer.base.unfreeze();
    let report = gradcheck_module(&layer, || layer.forward(&x), &options()).unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!(report.checked, layer.num_parameters());
}
