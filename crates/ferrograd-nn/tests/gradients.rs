//! Every layer and loss gradient-checked with the tensor crate's checker in f64
//! (central differences, step 1e-6; tolerance |ad − fd| ≤ 1e-6 + 1e-5·|fd|, ~50× above
//! the finite-difference error for these smooth functions of O(1) inputs).

use ferrograd_nn::*;
use ferrograd_tensor::{GradcheckOptions, Indices, Rng, Tensor, gradcheck};

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
}

fn nn(e: NnError) -> ferrograd_tensor::TensorError {
    ferrograd_tensor::TensorError::InvalidArgument {
        op: "test",
        reason: e.to_string(),
    }
}

#[test]
fn layers_input_gradients() {
    let mut rng = Rng::new(7);
    let x = Tensor::<f64>::randn(&[3, 4], 0.0, 1.0, &mut rng);
    let x3 = Tensor::<f64>::randn(&[2, 3, 4], 0.0, 1.0, &mut rng);
    let linear = Linear::<f64>::new(4, 5, &mut rng);
    check(
        "linear",
        |v| linear.forward(&v[0]).map_err(nn),
        std::slice::from_ref(&x),
    );
    check(
        "linear 3-D",
        |v| linear.forward(&v[0]).map_err(nn),
        std::slice::from_ref(&x3),
    );
    let ln = LayerNorm::<f64>::new(&[4]);
    check(
        "layer norm",
        |v| ln.forward(&v[0]).map_err(nn),
        std::slice::from_ref(&x3),
    );
    let ln2 = LayerNorm::<f64>::new(&[3, 4]);
    check(
        "layer norm over two axes",
        |v| ln2.forward(&v[0]).map_err(nn),
        std::slice::from_ref(&x3),
    );
    let rms = RmsNorm::<f64>::new(&[4], None);
    check(
        "rms norm",
        |v| rms.forward(&v[0]).map_err(nn),
        std::slice::from_ref(&x3),
    );
    let seq = Sequential::new()
        .push(Linear::<f64>::new(4, 6, &mut rng))
        .push(Tanh)
        .push(Linear::new(6, 2, &mut rng))
        .push(Gelu);
    check(
        "sequential",
        |v| seq.forward(&v[0]).map_err(nn),
        std::slice::from_ref(&x),
    );
    for (name, m) in [
        ("sigmoid", &Sigmoid as &dyn Module<f64>),
        ("softmax", &Softmax { axis: -1 }),
    ] {
        check(
            name,
            |v| m.forward(&v[0]).map_err(nn),
            std::slice::from_ref(&x),
        );
    }
    let mut dropout = Dropout::new(0.5, 1).unwrap();
    Module::<f64>::set_training(&mut dropout, false);
    check(
        "dropout (eval)",
        |v| Module::<f64>::forward(&dropout, &v[0]).map_err(nn),
        std::slice::from_ref(&x),
    );
}

#[test]
fn layers_parameter_gradients() {
    // Gradients with respect to parameters: the checker's input tensor replaces the
    // parameter, by building the layer from the checker's (leaf) tensors.
    let mut rng = Rng::new(8);
    let x = Tensor::<f64>::randn(&[3, 4], 0.0, 1.0, &mut rng);
    let w = Tensor::<f64>::randn(&[5, 4], 0.0, 0.5, &mut rng);
    let b = Tensor::<f64>::randn(&[5], 0.0, 0.5, &mut rng);
    check(
        "linear weight & bias",
        |v| x.matmul(&v[0].t()?)?.add(&v[1]),
        &[w, b],
    );
    let table = Tensor::<f64>::randn(&[6, 3], 0.0, 1.0, &mut rng);
    let ids = Indices::new(vec![1, 4, 1, 0], &[2, 2]).unwrap();
    check("embedding table", |v| v[0].index_select(0, &ids), &[table]);
    // Norm affine parameters, through the functional forms the modules use.
    let x3 = Tensor::<f64>::randn(&[2, 3, 4], 0.0, 1.0, &mut rng);
    let gamma = Tensor::<f64>::randn(&[4], 1.0, 0.2, &mut rng);
    let beta = Tensor::<f64>::randn(&[4], 0.0, 0.2, &mut rng);
    check(
        "layer norm weight & bias",
        |v| layer_norm(&x3, &[4], Some(&v[0]), Some(&v[1]), 1e-5).map_err(nn),
        &[gamma.clone(), beta],
    );
    check(
        "rms norm weight",
        |v| rms_norm(&x3, &[4], Some(&v[0]), None).map_err(nn),
        &[gamma],
    );
}

#[test]
fn losses_gradients() {
    let mut rng = Rng::new(9);
    let logits = Tensor::<f64>::randn(&[4, 5], 0.0, 1.0, &mut rng);
    let targets = Indices::from(vec![0, 4, 2, 2]);
    for loss in [
        CrossEntropyLoss::default(),
        CrossEntropyLoss {
            ignore_index: Some(2),
            ..Default::default()
        },
        CrossEntropyLoss {
            label_smoothing: 0.2,
            reduction: Reduction::Sum,
            ..Default::default()
        },
    ] {
        check(
            &format!("{loss:?}"),
            |v| loss.forward(&v[0], &targets).map_err(nn),
            std::slice::from_ref(&logits),
        );
    }
    let log_probs = logits.log_softmax(-1).unwrap();
    check(
        "nll",
        |v| NllLoss::default().forward(&v[0], &targets).map_err(nn),
        &[log_probs],
    );
    let y = Tensor::<f64>::from([[0.0, 1.0], [1.0, 0.25]]);
    let p = Tensor::<f64>::from([[0.2, 0.7], [0.9, 0.4]]);
    check(
        "bce",
        |v| BceLoss::default().forward(&v[0], &y).map_err(nn),
        std::slice::from_ref(&p),
    );
    check(
        "bce wrt target",
        |v| BceLoss::default().forward(&p, &v[0]).map_err(nn),
        std::slice::from_ref(&y),
    );
    let z = Tensor::<f64>::from([[-3.0, 0.5], [2.0, -0.1]]);
    check(
        "bce with logits",
        |v| BceWithLogitsLoss::default().forward(&v[0], &y).map_err(nn),
        std::slice::from_ref(&z),
    );
    check(
        "mse",
        |v| MseLoss::default().forward(&v[0], &y).map_err(nn),
        &[z],
    );
}
