//! Saves a small model's parameters to a safetensors file that PyTorch can load:
//!
//! ```text
//! cargo run -p ferrograd-nn --example checkpoint -- model.safetensors
//! python3 -c "from safetensors.torch import load_file; print(load_file('model.safetensors'))"
//! ```

use ferrograd_nn::{Linear, Relu, Sequential, save_checkpoint};
use ferrograd_tensor::Rng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "model.safetensors".into());
    let mut rng = Rng::new(0);
    let model = Sequential::new()
        .push(Linear::<f32>::new(3, 2, &mut rng))
        .push(Relu)
        .push(Linear::new(2, 1, &mut rng));
    save_checkpoint(&model, &path)?;
    println!("wrote {path}: tensors 0.weight [2, 3], 0.bias [2], 2.weight [1, 2], 2.bias [1]");
    Ok(())
}
