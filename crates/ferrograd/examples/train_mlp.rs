//! Trains a small multilayer perceptron on a non-linear dataset — two interleaving half
//! circles ("moons"), which no straight line separates — and prints the loss falling.
//!
//! ```text
//! cargo run --release -p ferrograd --example train_mlp [epochs]
//! ```
//!
//! The network is `Linear(2, 16), Tanh, Linear(16, 16), Tanh, Linear(16, 1), Sigmoid`
//! (PyTorch's initialisation, seeded), trained on binary cross-entropy with Adam (lr 0.01)
//! over shuffled mini-batches of 32.

use ferrograd::prelude::*;

/// Class indices `[n]` as 0.0/1.0 labels `[n, 1]`, the targets `BceLoss` wants.
fn labels(targets: &IdTensor) -> Result<Tensor<f32>, TensorError> {
    targets.to_float::<f32>().reshape(&[targets.len(), 1])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let epochs: u64 = std::env::args().nth(1).map_or(Ok(60), |s| s.parse())?;
    let data = ferrograd::data::generate::moons::<f32>(400, 0.1, 7)?;
    let loader = DataLoader::new(&data, 32)?.shuffle(42);

    let mut rng = Rng::new(0);
    let model = Sequential::new()
        .push(Linear::new(2, 16, &mut rng))
        .push(Tanh)
        .push(Linear::new(16, 16, &mut rng))
        .push(Tanh)
        .push(Linear::new(16, 1, &mut rng))
        .push(Sigmoid);
    let criterion = BceLoss::default();
    let mut optimizer = Adam::new(model.parameters(), AdamConfig::new(0.01))?;
    let (x_all, y_all) = (data.inputs().clone(), labels(data.targets())?);

    let evaluate = || -> Result<(f32, f32), NnError> {
        no_grad(|| {
            let p = model.forward(&x_all)?;
            let correct = p
                .to_vec()
                .iter()
                .zip(y_all.to_vec())
                .filter(|&(&p, y)| (p >= 0.5) == (y == 1.0))
                .count();
            Ok((
                criterion.forward(&p, &y_all)?.item()?,
                correct as f32 / data.len() as f32,
            ))
        })
    };

    println!(
        "moons: {} points; MLP 2-16-16-1 ({} parameters), Adam lr 0.01, batches of 32",
        data.len(),
        model
            .parameters()
            .iter()
            .map(Parameter::numel)
            .sum::<usize>()
    );
    let (loss, accuracy) = evaluate()?;
    println!(
        "before training  loss {loss:.4}  accuracy {:.1}%",
        100.0 * accuracy
    );
    for epoch in 0..epochs {
        for batch in loader.epoch(epoch) {
            let batch = batch?;
            let loss =
                criterion.forward(&model.forward(&batch.inputs)?, &labels(&batch.targets)?)?;
            optimizer.step(&loss.backward_free()?)?;
        }
        if epoch % (epochs / 12).max(1) == 0 || epoch + 1 == epochs {
            let (loss, accuracy) = evaluate()?;
            println!(
                "epoch {epoch:>4}       loss {loss:.4}  accuracy {:.1}%",
                100.0 * accuracy
            );
        }
    }
    Ok(())
}
