//! Prints, as Graphviz DOT, the graph of one sigmoid unit and its loss on one example of
//! the book's buy/no-buy dataset, with every node's value and gradient.
//!
//! ```text
//! cargo run -p ferrograd-scalar --example graph_dot > unit.dot && dot -Tsvg unit.dot -o unit.svg
//! ```

use ferrograd_scalar::nn::binary_cross_entropy;
use ferrograd_scalar::{ScalarError, Tape};

fn main() -> Result<(), ScalarError> {
    let tape = Tape::new();
    // Age 47, income 80 (thousands): a buyer (y = 1).
    let x1 = tape.constant(47.0).label("x1 (age)");
    let x2 = tape.constant(80.0).label("x2 (income)");
    let w1 = tape.var(0.1).label("w1");
    let w2 = tape.var(-0.2).label("w2");
    let b = tape.var(0.05).label("b");
    let z = (w1 * x1 + w2 * x2 + b).label("z");
    let y_hat = z.sigmoid().label("ŷ");
    let loss = binary_cross_entropy(y_hat, 1.0).label("loss");
    let grads = loss.backward()?;
    print!("{}", loss.to_dot(Some(&grads)));
    Ok(())
}
