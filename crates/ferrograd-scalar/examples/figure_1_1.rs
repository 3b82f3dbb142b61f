//! Trains the network of the book's Figure 1.1 (2 inputs, 3 hidden units, 1 sigmoid
//! output) with plain gradient descent on the book's 12-example buy/no-buy dataset, and
//! prints the loss as it falls.
//!
//! ```text
//! cargo run -p ferrograd-scalar --example figure_1_1 [hidden: relu|tanh|sigmoid] [lr] [steps] [seed]
//! ```

use ferrograd_scalar::nn::{Activation, BUY_X, BUY_Y, Mlp};
use ferrograd_scalar::{ScalarError, Tape};

fn main() -> Result<(), ScalarError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hidden = match args.first().map(String::as_str) {
        None | Some("relu") => Activation::Relu,
        Some("tanh") => Activation::Tanh,
        Some("sigmoid") => Activation::Sigmoid,
        Some(other) => panic!("unknown activation {other:?}: use relu, tanh or sigmoid"),
    };
    let lr: f64 = args.get(1).map_or(1e-3, |s| s.parse().expect("lr"));
    let steps: usize = args.get(2).map_or(2000, |s| s.parse().expect("steps"));
    let seed: u64 = args.get(3).map_or(1, |s| s.parse().expect("seed"));

    let mut model = Mlp::figure_1_1(hidden, seed);
    let mut tape = Tape::new();
    println!("Figure 1.1 network, {hidden:?} hidden units, lr = {lr}, seed = {seed}");
    for step in 0..=steps {
        let loss = model.train_step(&mut tape, &BUY_X, &BUY_Y, lr)?;
        if step % (steps / 10).max(1) == 0 {
            println!("step {step:>6}  loss {loss:.6}");
        }
    }
    let correct = BUY_X
        .iter()
        .zip(BUY_Y)
        .filter(|(x, y)| (model.predict(&x[..])[0] >= 0.5) == (*y == 1.0))
        .count();
    println!("accuracy {correct}/{}", BUY_X.len());
    Ok(())
}
