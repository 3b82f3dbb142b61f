//! Initialisers: bounds exactly, spreads statistically. Each statistical check allows six
//! standard errors of its estimate (stated per test), so a correct implementation fails
//! with probability ~1e-9 while a wrong gain or fan (off by ≥ 10%) always fails.

use ferrograd_nn::init::*;
use ferrograd_nn::{Embedding, Linear};
use ferrograd_tensor::{Rng, Tensor};

fn moments(t: &Tensor<f64>) -> (f64, f64) {
    let v = t.to_vec();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn gains_match_pytorch() {
    // torch.nn.init.calculate_gain: linear/sigmoid 1, tanh 5/3, relu √2,
    // leaky_relu(0.2) √(2 / 1.04).
    assert_eq!(calculate_gain(Nonlinearity::Linear), 1.0);
    assert_eq!(calculate_gain(Nonlinearity::Sigmoid), 1.0);
    assert_eq!(calculate_gain(Nonlinearity::Tanh), 5.0 / 3.0);
    assert_eq!(calculate_gain(Nonlinearity::Relu), 2f64.sqrt());
    assert!((calculate_gain(Nonlinearity::LeakyRelu(0.2)) - (2.0f64 / 1.04).sqrt()).abs() < 1e-15);
    assert_eq!(fans(&[10, 4]).unwrap(), (4, 10));
    assert_eq!(fans(&[8, 3, 5]).unwrap(), (15, 40));
}

#[test]
fn uniform_bounds_are_exact_and_filled() {
    let mut rng = Rng::new(1);
    // Kaiming uniform, ReLU, fan_in 512: bound √2·√(3/512).
    let w: Tensor<f64> =
        kaiming_uniform(&[256, 512], FanMode::FanIn, Nonlinearity::Relu, &mut rng).unwrap();
    let bound = 2f64.sqrt() * (3.0f64 / 512.0).sqrt();
    let v = w.to_vec();
    assert!(v.iter().all(|x| x.abs() <= bound));
    // With 131072 draws the largest |w| is within bound·(1 - 1e-4) with probability
    // 1 - e^-13; a smaller bound (wrong gain or fan) would fail.
    assert!(v.iter().fold(0.0f64, |m, x| m.max(x.abs())) > bound * (1.0 - 1e-4));
    // Xavier uniform: bound gain·√(6 / (fan_in + fan_out)).
    let x: Tensor<f64> = xavier_uniform(&[300, 200], 1.0, &mut rng).unwrap();
    let bound = (6.0f64 / 500.0).sqrt();
    let v = x.to_vec();
    assert!(v.iter().all(|x| x.abs() <= bound));
    assert!(v.iter().fold(0.0f64, |m, x| m.max(x.abs())) > bound * (1.0 - 1e-4));
    // Kaiming uniform with fan_out on a 3-D weight: fan_out = 16·3.
    let k: Tensor<f64> =
        kaiming_uniform(&[16, 8, 3], FanMode::FanOut, Nonlinearity::Linear, &mut rng).unwrap();
    assert!(k.to_vec().iter().all(|x| x.abs() <= (3.0f64 / 48.0).sqrt()));
}

#[test]
fn normal_spreads() {
    let mut rng = Rng::new(2);
    // Sample std of n normal draws has standard error σ/√(2n); the mean σ/√n.
    let check = |t: &Tensor<f64>, mean: f64, std: f64| {
        let n = t.numel() as f64;
        let (m, s) = moments(t);
        assert!(
            (m - mean).abs() < 6.0 * std / n.sqrt(),
            "mean {m} vs {mean}"
        );
        assert!(
            (s - std).abs() < 6.0 * std / (2.0 * n).sqrt(),
            "std {s} vs {std}"
        );
    };
    check(&normal(&[200, 200], 2.0, 0.5, &mut rng), 2.0, 0.5);
    let std = (5.0 / 3.0) / (128.0f64 * 3.0).sqrt(); // tanh gain, fan_out = 128·3
    check(
        &kaiming_normal(&[128, 64, 3], FanMode::FanOut, Nonlinearity::Tanh, &mut rng).unwrap(),
        0.0,
        std,
    );
    let std = 2.0 * (2.0f64 / (100.0 + 400.0)).sqrt(); // gain 2
    check(
        &xavier_normal(&[400, 100], 2.0, &mut rng).unwrap(),
        0.0,
        std,
    );
    // Embedding rows are N(0, 1), as PyTorch's.
    let table = Embedding::<f64>::new(300, 100, None, &mut rng);
    check(&table.weight.tensor(), 0.0, 1.0);
    // Uniform(-1, 3): mean 1, std 4/√12; the sample std's standard error for a uniform
    // is about 0.45·std/√n (kurtosis 1.8), inside the normal bound used here.
    check(
        &uniform(&[200, 200], -1.0, 3.0, &mut rng),
        1.0,
        4.0 / 12f64.sqrt(),
    );
}

#[test]
fn linear_init_is_pytorch_default() {
    // PyTorch: weight and bias from U(-1/√in, 1/√in); std 1/√(3·in).
    let layer = Linear::<f64>::new(400, 300, &mut Rng::new(3));
    let w = layer.weight.tensor();
    let bound = 1.0 / 20.0;
    assert!(w.to_vec().iter().all(|x| x.abs() <= bound));
    let (_, s) = moments(&w);
    let std = bound / 3f64.sqrt();
    assert!(
        (s - std).abs() < 6.0 * std / (2.0 * 120_000.0f64).sqrt(),
        "{s}"
    );
    let b = layer.bias.as_ref().unwrap().tensor().to_vec();
    assert!(b.iter().all(|x| x.abs() <= bound));
    assert!(fans(&[3]).is_err());
}
