//! Replays PyTorch's chapter-1 trainings (`tests/data/chapter1_pytorch.json`, see the
//! README beside it) with ferrograd and compares every step.
//!
//! Both runs start from the weights written in the file and train as the book does in
//! PyTorch — `Sequential`, `Linear`, `Sigmoid`, `BceLoss` from `ferrograd::nn`, full-batch
//! `Sgd` (lr 0.001, 500 steps) from `ferrograd::optim` — on the 12 buy/no-buy examples:
//!
//! - logistic regression, `Sequential(Linear(2, 1), Sigmoid)`;
//! - the 2-100-1 network `Linear(2, 100), Sigmoid, Linear(100, 1), Sigmoid`.
//!
//! Tolerance: both sides compute in float32 (ε = 6e-8) but sum in different orders
//! (PyTorch's `addmm` and reductions vs ours), so each loss differs by a few float32
//! roundings of the 12-term mean. Gradient descent with this small learning rate is
//! contractive on these problems, so the difference does not grow over the run. 1e-5
//! relative is ~170 float32 ulps: loose enough for summation order, and far tighter than the
//! effect of any real mistake (a missing gradient term or a wrong factor moves the loss by
//! more than 1e-3 relative within a few steps). Observed when written: worst 3.8e-7
//! (logistic regression) and 3.1e-7 (2-100-1 network) over the 500 steps.

use ferrograd::prelude::*;
use serde_json::Value;

const REL_TOL: f64 = 1e-5;

fn reference() -> Value {
    serde_json::from_str(include_str!("data/chapter1_pytorch.json")).expect("valid JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().expect("a finite number")],
        other => panic!("expected numbers, found {other}"),
    }
}

fn tensor(v: &Value, shape: &[usize]) -> Tensor<f32> {
    let data: Vec<f32> = floats(v).into_iter().map(|x| x as f32).collect();
    Tensor::from_vec(data, shape).expect("shape matches the data")
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
}

/// Asserts each element of `ours` is within `REL_TOL` relative of `theirs`; returns the
/// worst relative difference.
fn assert_close(what: &str, ours: &[f64], theirs: &[f64]) -> f64 {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths differ");
    let mut worst = 0.0f64;
    for (i, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
        let r = rel(a, b);
        worst = worst.max(r);
        assert!(
            r <= REL_TOL,
            "{what}[{i}]: ferrograd {a}, PyTorch {b} (relative difference {r:e})"
        );
    }
    worst
}

struct Data {
    x: Tensor<f32>,
    y: Tensor<f32>,
}

fn data(section: &Value) -> Data {
    Data {
        x: tensor(&section["x"], &[12, 2]),
        y: tensor(&section["y"], &[12, 1]),
    }
}

/// `Linear(in, out)` holding the given initial weights (PyTorch's `[out, in]`, `[out]`).
fn linear(section: &Value, weight: &str, bias: &str) -> Linear {
    let init = &section["init"];
    let w = floats(&init[weight]);
    let out = init[weight].as_array().unwrap().len();
    let weight = tensor(&init[weight], &[out, w.len() / out]);
    let bias = tensor(&init[bias], &[out]);
    Linear::from_tensors(weight, Some(bias)).expect("PyTorch's shapes fit")
}

/// The book's loop: `zero_grad` (nothing to do), forward, loss, backward, step, for the
/// section's steps with `BCELoss` and `SGD(lr)`; returns the loss before every update and
/// the loss after the last one.
fn train(section: &Value, model: &Sequential) -> (Vec<f64>, f64) {
    let Data { x, y } = data(section);
    let lr = section["lr"].as_f64().unwrap();
    let steps = section["steps"].as_u64().unwrap() as usize;
    let criterion = BceLoss::default();
    // optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
    let mut optimizer = Sgd::new(model.parameters(), SgdConfig::new(lr)).unwrap();
    let mut losses = Vec::with_capacity(steps);
    for _ in 0..steps {
        // optimizer.zero_grad(): nothing to do, backward() returns fresh gradients.
        let outputs = model.forward(&x).unwrap(); //             outputs = model(X)
        let loss = criterion.forward(&outputs, &y).unwrap(); //  loss = criterion(outputs, y)
        losses.push(f64::from(loss.item().unwrap()));
        let grads = loss.backward().unwrap(); //                 loss.backward()
        optimizer.step(&grads).unwrap(); //                      optimizer.step()
    }
    let last = no_grad(|| criterion.forward(&model.forward(&x).unwrap(), &y))
        .unwrap()
        .item()
        .unwrap();
    (losses, f64::from(last))
}

fn to_f64(t: &Tensor<f32>) -> Vec<f64> {
    t.to_vec().into_iter().map(f64::from).collect()
}

#[test]
fn the_reference_holds_the_books_data() {
    let r = reference();
    for key in ["logistic_regression_sgd", "mlp_2_100_1_sgd"] {
        let s = &r[key];
        assert_eq!(
            floats(&s["x"]),
            [
                22., 25., 25., 35., 47., 80., 52., 95., 46., 82., 56., 90., 23., 27., 30., 50.,
                40., 60., 39., 57., 53., 95., 48., 88.
            ]
        );
        assert_eq!(
            floats(&s["y"]),
            [0., 0., 1., 1., 1., 1., 0., 1., 1., 0., 1., 1.]
        );
        assert_eq!(s["lr"].as_f64(), Some(0.001));
        assert_eq!(s["loss_per_step"].as_array().map(Vec::len), Some(500));
    }
}

#[test]
fn logistic_regression_matches_pytorch_at_every_step() {
    let r = reference();
    let s = &r["logistic_regression_sgd"];
    // model = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    let model = Sequential::new()
        .push(linear(s, "weight", "bias"))
        .push(Sigmoid);
    let (losses, last) = train(s, &model);

    let worst = assert_close("loss_per_step", &losses, &floats(&s["loss_per_step"]));
    assert_close("final_loss", &[last], &floats(&s["final_loss"]));
    let params = model.named_parameters();
    let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["0.weight", "0.bias"]);
    assert_close(
        "final weight",
        &to_f64(&params[0].1.tensor()),
        &floats(&s["final"]["weight"]),
    );
    assert_close(
        "final bias",
        &to_f64(&params[1].1.tensor()),
        &floats(&s["final"]["bias"]),
    );
    let Data { x, .. } = data(s);
    let p = no_grad(|| model.forward(&x)).unwrap();
    assert_close(
        "final_predictions",
        &to_f64(&p),
        &floats(&s["final_predictions"]),
    );
    eprintln!("logistic regression: worst relative loss difference {worst:e}");
}

#[test]
fn mlp_2_100_1_matches_pytorch_at_every_step() {
    let r = reference();
    let s = &r["mlp_2_100_1_sgd"];
    assert_eq!(
        s["layers"],
        "Linear(2,100), Sigmoid, Linear(100,1), Sigmoid"
    );
    let model = Sequential::new()
        .push(linear(s, "0.weight", "0.bias"))
        .push(Sigmoid)
        .push(linear(s, "2.weight", "2.bias"))
        .push(Sigmoid);
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
    let (losses, last) = train(s, &model);

    let worst = assert_close("loss_per_step", &losses, &floats(&s["loss_per_step"]));
    assert_close("final_loss", &[last], &floats(&s["final_loss"]));
    let Data { x, .. } = data(s);
    let p = no_grad(|| model.forward(&x)).unwrap();
    assert_close(
        "final_predictions",
        &to_f64(&p),
        &floats(&s["final_predictions"]),
    );
    eprintln!("2-100-1 network: worst relative loss difference {worst:e}");
}
