//! Trains a small multilayer perceptron on a non-linear dataset — two interleaving half
//! circles ("moons"), which no straight line separates — and prints the loss falling.
//!
//! ```text
//! cargo run --release -p ferrograd --example train_mlp [epochs]
//! ```
//!
//! The network is `Linear(2, 16), Tanh, Linear(16, 16), Tanh, Linear(16, 1), Sigmoid`,
//! trained on binary cross-entropy with Adam (lr 0.01) over shuffled mini-batches of 32.

use ferrograd::prelude::*;

/// A dense layer `x · Wᵀ + b`, initialised like PyTorch's `Linear`:
/// `U(−1/√fan_in, 1/√fan_in)`.
struct Linear {
    weight: Parameter<f32>,
    bias: Parameter<f32>,
}

impl Linear {
    fn new(fan_in: usize, fan_out: usize, rng: &mut Rng) -> Self {
        let k = 1.0 / (fan_in as f32).sqrt();
        Linear {
            weight: Parameter::new(Tensor::rand_uniform(&[fan_out, fan_in], -k, k, rng)),
            bias: Parameter::new(Tensor::rand_uniform(&[fan_out], -k, k, rng)),
        }
    }

    fn forward(&self, x: &Tensor<f32>) -> Result<Tensor<f32>, TensorError> {
        x.matmul(&self.weight.tensor().t()?)?
            .add(&self.bias.tensor())
    }
}

struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    fn forward(&self, x: &Tensor<f32>) -> Result<Tensor<f32>, TensorError> {
        let mut h = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            h = if i + 1 < self.layers.len() {
                h.tanh()
            } else {
                h.sigmoid()
            };
        }
        Ok(h)
    }

    fn parameters(&self) -> Vec<Parameter<f32>> {
        self.layers
            .iter()
            .flat_map(|l| [l.weight.clone(), l.bias.clone()])
            .collect()
    }
}

/// Mean binary cross-entropy of probabilities `p` against 0/1 labels `y`.
fn bce(p: &Tensor<f32>, y: &Tensor<f32>) -> Result<Tensor<f32>, TensorError> {
    let log_p = p.log().clamp(Some(-100.0), None);
    let log_q = p.rsub_scalar(1.0).log().clamp(Some(-100.0), None);
    Ok(y.mul(&log_p)?
        .add(&y.rsub_scalar(1.0).mul(&log_q)?)?
        .mean_all()
        .neg())
}

/// Class indices `[n]` as 0.0/1.0 labels `[n, 1]`.
fn labels(targets: &Indices) -> Result<Tensor<f32>, TensorError> {
    targets.to_tensor::<f32>().reshape(&[targets.len(), 1])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let epochs: u64 = std::env::args().nth(1).map_or(Ok(60), |s| s.parse())?;
    let data = ferrograd::data::generate::moons::<f32>(400, 0.1, 7)?;
    let loader = DataLoader::new(&data, 32)?.shuffle(42);

    let mut rng = Rng::new(0);
    let model = Mlp {
        layers: vec![
            Linear::new(2, 16, &mut rng),
            Linear::new(16, 16, &mut rng),
            Linear::new(16, 1, &mut rng),
        ],
    };
    let mut optimizer = Adam::new(model.parameters(), AdamConfig::new(0.01))?;
    let (x_all, y_all) = (data.inputs().clone(), labels(data.targets())?);

    println!(
        "moons: {} points, MLP 2-16-16-1, Adam lr 0.01, batches of 32",
        data.len()
    );
    for epoch in 0..epochs {
        for batch in loader.epoch(epoch) {
            let batch = batch?;
            let loss = bce(&model.forward(&batch.inputs)?, &labels(&batch.targets)?)?;
            let grads = loss.backward()?;
            optimizer.step(&grads)?;
        }
        if epoch % (epochs / 12).max(1) == 0 || epoch + 1 == epochs {
            let (loss, accuracy) = no_grad(|| -> Result<(f32, f32), TensorError> {
                let p = model.forward(&x_all)?;
                let correct = p
                    .to_vec()
                    .iter()
                    .zip(y_all.to_vec())
                    .filter(|&(&p, y)| (p >= 0.5) == (y == 1.0))
                    .count();
                Ok((bce(&p, &y_all)?.item()?, correct as f32 / data.len() as f32))
            })?;
            println!(
                "epoch {epoch:>4}  loss {loss:.4}  accuracy {:.1}%",
                100.0 * accuracy
            );
        }
    }
    Ok(())
}
