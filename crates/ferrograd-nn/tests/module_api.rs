//! The book's two ways of building a model — `Sequential` and a plain struct (the module
//! API) — with PyTorch's parameter names, train/eval propagation and checkpoints.

use ferrograd_nn::{
    Dropout, Forward, Linear, Module, Relu, Result, Sequential, Sigmoid, Visitor, load_checkpoint,
    save_checkpoint,
};
use ferrograd_tensor::{Rng, Tensor};

/// The book's module API: a model as a struct whose fields are layers.
#[derive(Debug)]
struct Mlp {
    fc1: Linear,
    dropout: Dropout,
    fc2: Linear,
}

impl Mlp {
    fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        Self {
            fc1: Linear::new(2, 8, &mut rng),
            dropout: Dropout::new(0.5, seed).unwrap(),
            fc2: Linear::new(8, 1, &mut rng),
        }
    }
}

impl Module for Mlp {
    fn visit(&self, v: &mut dyn Visitor) {
        v.module("fc1", &self.fc1);
        v.module("dropout", &self.dropout);
        v.module("fc2", &self.fc2);
    }
}

impl Forward<&Tensor> for Mlp {
    type Output = Tensor;
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self
            .dropout
            .forward(&Relu.forward(&self.fc1.forward(x)?)?)?;
        Ok(self.fc2.forward(&h)?.sigmoid())
    }
}

fn names(model: &dyn Module) -> Vec<String> {
    model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

#[test]
fn struct_model_names_counts_and_modes() {
    let model = Mlp::new(1);
    assert_eq!(
        names(&model),
        ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    );
    assert_eq!(model.num_parameters(), 2 * 8 + 8 + 8 + 1);
    assert!(
        model.dropout.is_training(),
        "modules start in training mode"
    );
    let x = Tensor::<f32>::from([[0.5, -1.0], [2.0, 0.25], [1.0, 1.0]]);
    model.eval();
    assert!(!model.dropout.is_training());
    let y1 = model.forward(&x).unwrap().to_vec();
    assert_eq!(
        y1,
        model.forward(&x).unwrap().to_vec(),
        "eval is deterministic"
    );
    model.train();
    assert!(model.dropout.is_training());
    // The gradient reaches every parameter by name.
    let grads = model.forward(&x).unwrap().mean_all().backward().unwrap();
    for (name, p) in model.named_parameters() {
        assert!(grads.get(&p).is_some(), "{name}");
    }
}

#[test]
fn sequential_passes_the_mode_to_its_children() {
    let mut rng = Rng::new(2);
    let model = Sequential::new()
        .push(Linear::<f32>::new(4, 64, &mut rng))
        .push(Dropout::new(0.5, 3).unwrap())
        .push(Linear::new(64, 1, &mut rng))
        .push(Sigmoid);
    assert_eq!(names(&model), ["0.weight", "0.bias", "2.weight", "2.bias"]);
    let x = Tensor::<f32>::ones(&[2, 4]);
    // Training: two calls draw different masks (all 64 units kept twice in a row has
    // probability 2^-64).
    assert_ne!(
        model.forward(&x).unwrap().to_vec(),
        model.forward(&x).unwrap().to_vec()
    );
    model.eval();
    let a = model.forward(&x).unwrap().to_vec();
    assert_eq!(a, model.forward(&x).unwrap().to_vec());
    // Eval equals the model without the dropout layer.
    let h = model.get(0).unwrap().forward(&x).unwrap();
    let y = model
        .get(3)
        .unwrap()
        .forward(&model.get(2).unwrap().forward(&h).unwrap())
        .unwrap();
    assert_eq!(a, y.to_vec());
}

#[test]
fn struct_model_checkpoint_round_trip() {
    let path = std::env::temp_dir().join(format!(
        "ferrograd-nn-struct-{}.safetensors",
        std::process::id()
    ));
    let trained = Mlp::new(4);
    let fresh = Mlp::new(5);
    trained.eval();
    fresh.eval();
    let x = Tensor::<f32>::from([[0.5, -1.0], [2.0, 0.25]]);
    assert_ne!(
        trained.forward(&x).unwrap().to_vec(),
        fresh.forward(&x).unwrap().to_vec()
    );
    save_checkpoint(&trained, &path).unwrap();
    let stored: Vec<String> = ferrograd_tensor::io::load_safetensors(&path)
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(stored, ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]);
    load_checkpoint(&fresh, &path).unwrap();
    assert_eq!(
        trained.forward(&x).unwrap().to_vec(),
        fresh.forward(&x).unwrap().to_vec()
    );
    std::fs::remove_file(&path).unwrap();
}
