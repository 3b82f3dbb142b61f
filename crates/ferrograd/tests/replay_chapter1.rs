//! Replays PyTorch's chapter-1 trainings (`tests/data/chapter1_pytorch.json`, see the
//! README beside it) with ferrograd and compares every step.
//!
//! Both runs start from the weights written in the file, train with full-batch SGD
//! ([`ferrograd::optim::Sgd`])
//! (lr 0.001, 500 steps) on the book's 12 buy/no-buy examples and BCE loss:
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
//! more than 1e-3 relative within a few steps). Observed when written: worst 5.4e-7
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

/// `torch.nn.BCELoss()` (mean reduction, logs clamped at −100 as PyTorch does).
fn bce(p: &Tensor<f32>, y: &Tensor<f32>) -> Result<Tensor<f32>, TensorError> {
    let log_p = p.log().clamp(Some(-100.0), None);
    let log_q = p.rsub_scalar(1.0).log().clamp(Some(-100.0), None);
    let per_example = y.mul(&log_p)?.add(&y.rsub_scalar(1.0).mul(&log_q)?)?;
    Ok(per_example.mean_all().neg())
}

/// `Linear(in, out)`: `x · Wᵀ + b`.
fn linear(
    x: &Tensor<f32>,
    w: &Parameter<f32>,
    b: &Parameter<f32>,
) -> Result<Tensor<f32>, TensorError> {
    x.matmul(&w.tensor().t()?)?.add(&b.tensor())
}

/// Trains `forward` with SGD for the section's steps; returns the loss before every
/// update and the loss after the last one.
fn train(
    section: &Value,
    params: &[&Parameter<f32>],
    forward: impl Fn(&Tensor<f32>) -> Result<Tensor<f32>, TensorError>,
) -> (Vec<f64>, f64) {
    let Data { x, y } = data(section);
    let lr = section["lr"].as_f64().unwrap();
    let params: Vec<Parameter<f32>> = params.iter().map(|&p| p.clone()).collect();
    // optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
    let mut optimizer = Sgd::new(params, SgdConfig::new(lr)).unwrap();
    let steps = section["steps"].as_u64().unwrap() as usize;
    let mut losses = Vec::with_capacity(steps);
    for _ in 0..steps {
        // optimizer.zero_grad(): nothing to do, backward() returns fresh gradients.
        let loss = bce(&forward(&x).unwrap(), &y).unwrap(); // loss = criterion(model(X), y)
        losses.push(f64::from(loss.item().unwrap()));
        let grads = loss.backward().unwrap(); //                  loss.backward()
        optimizer.step(&grads).unwrap(); //                       optimizer.step()
    }
    let last = no_grad(|| bce(&forward(&x).unwrap(), &y).unwrap().item().unwrap());
    (losses, f64::from(last))
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
    let w = Parameter::new(tensor(&s["init"]["weight"], &[1, 2]));
    let b = Parameter::new(tensor(&s["init"]["bias"], &[1]));
    let (losses, last) = train(s, &[&w, &b], |x| Ok(linear(x, &w, &b)?.sigmoid()));

    let worst = assert_close("loss_per_step", &losses, &floats(&s["loss_per_step"]));
    assert_close("final_loss", &[last], &floats(&s["final_loss"]));
    let to_f64 = |t: Tensor<f32>| t.to_vec().into_iter().map(f64::from).collect::<Vec<_>>();
    assert_close(
        "final weight",
        &to_f64(w.tensor()),
        &floats(&s["final"]["weight"]),
    );
    assert_close(
        "final bias",
        &to_f64(b.tensor()),
        &floats(&s["final"]["bias"]),
    );
    let Data { x, .. } = data(s);
    let p = no_grad(|| linear(&x, &w, &b).unwrap().sigmoid());
    assert_close(
        "final_predictions",
        &to_f64(p),
        &floats(&s["final_predictions"]),
    );
    eprintln!("logistic regression: worst relative loss difference {worst:e}");
}

#[test]
fn mlp_2_100_1_matches_pytorch_at_every_step() {
    let r = reference();
    let s = &r["mlp_2_100_1_sgd"];
    let init = &s["init"];
    let w0 = Parameter::new(tensor(&init["0.weight"], &[100, 2]));
    let b0 = Parameter::new(tensor(&init["0.bias"], &[100]));
    let w2 = Parameter::new(tensor(&init["2.weight"], &[1, 100]));
    let b2 = Parameter::new(tensor(&init["2.bias"], &[1]));
    let forward = |x: &Tensor<f32>| {
        let h = linear(x, &w0, &b0)?.sigmoid();
        Ok(linear(&h, &w2, &b2)?.sigmoid())
    };
    let (losses, last) = train(s, &[&w0, &b0, &w2, &b2], forward);

    let worst = assert_close("loss_per_step", &losses, &floats(&s["loss_per_step"]));
    assert_close("final_loss", &[last], &floats(&s["final_loss"]));
    let Data { x, .. } = data(s);
    let p: Vec<f64> = no_grad(|| forward(&x))
        .unwrap()
        .to_vec()
        .into_iter()
        .map(f64::from)
        .collect();
    assert_close("final_predictions", &p, &floats(&s["final_predictions"]));
    eprintln!("2-100-1 network: worst relative loss difference {worst:e}");
}
