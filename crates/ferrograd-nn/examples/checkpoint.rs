//! Saves a small model's parameters to a safetensors file that PyTorch can load, and
//! prints the model's output on `[1, 2, 3]` so the two sides can be compared:
//!
//! ```text
//! cargo run -p ferrograd-nn --example checkpoint -- model.safetensors
//! python3 -c "import torch; from safetensors.torch import load_file
//! m = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
//! print(m.load_state_dict(load_file('model.safetensors')), m(torch.tensor([[1.0, 2.0, 3.0]])).item())"
//! ```

use ferrograd_nn::{Forward, Linear, Relu, Sequential, save_checkpoint};
use ferrograd_tensor::{Rng, Tensor};

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
    let y = model.forward(&Tensor::from([[1.0, 2.0, 3.0]]))?.item()?;
    println!("output on [1, 2, 3]: {y}");
    Ok(())
}
