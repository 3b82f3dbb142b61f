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

#[test]
fn clone_ties_a_layer_and_deep_clone_copies_it() {
    let block = ferrograd_nn::DecoderBlock::<f64>::new(4, 2, &mut Rng::new(7)).unwrap();
    block.norm2.freeze();
    let tied = block.clone();
    let copy = block.deep_clone();
    let names = |m: &dyn Module<f64>| -> Vec<String> {
        m.named_parameters().into_iter().map(|(n, _)| n).collect()
    };
    assert_eq!(names(&copy), names(&block));
    let original: Vec<Vec<f64>> = block
        .parameters()
        .iter()
        .map(|p| p.tensor().to_vec())
        .collect();
    for ((p, t), c) in block
        .parameters()
        .iter()
        .zip(tied.parameters())
        .zip(copy.parameters())
    {
        assert!(p.same_as(&t) && p.id() == t.id(), "clone shares");
        assert!(!p.same_as(&c) && p.id() != c.id(), "deep_clone copies");
        assert_eq!(c.tensor().to_vec(), p.tensor().to_vec());
        assert_eq!(c.is_trainable(), p.is_trainable());
    }
    assert_eq!(
        copy.num_trainable_parameters(),
        block.num_trainable_parameters()
    );
    // Change every parameter of the copy: the original and its clone stay as they were.
    for c in copy.parameters() {
        c.update(|v| v.iter_mut().for_each(|x| *x += 1.0)).unwrap();
    }
    copy.freeze();
    for ((p, t), before) in block
        .parameters()
        .iter()
        .zip(tied.parameters())
        .zip(&original)
    {
        assert_eq!(&p.tensor().to_vec(), before);
        assert_eq!(&t.tensor().to_vec(), before);
    }
    assert_eq!(block.num_trainable_parameters(), block.num_parameters() - 4);
    // Change the clone: the original changes with it (one parameter).
    tied.mlp
        .b_2
        .set(&Tensor::from([1.0, 2.0, 3.0, 4.0]))
        .unwrap();
    assert_eq!(block.mlp.b_2.tensor().to_vec(), [1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn deep_clone_keeps_ties_inside_the_copied_model() {
    #[derive(Debug, Clone)]
    struct Tied {
        wte: ferrograd_nn::Embedding,
        lm_head: Linear,
    }
    impl Module for Tied {
        fn visit(&self, v: &mut dyn Visitor) {
            v.module("wte", &self.wte);
            v.module("lm_head", &self.lm_head);
        }
    }
    let mut rng = Rng::new(0);
    let wte = ferrograd_nn::Embedding::new(10, 4, None, &mut rng);
    let mut lm_head = Linear::with_bias(4, 10, false, &mut rng);
    lm_head.weight = wte.weight.clone();
    let model = Tied { wte, lm_head };
    let copy = model.deep_clone();
    assert!(
        copy.wte.weight.same_as(&copy.lm_head.weight),
        "the copy's tie is kept"
    );
    assert!(!copy.wte.weight.same_as(&model.wte.weight));
    assert_eq!(copy.num_parameters(), 40);
    // A second deep clone is independent of the first (no copies remembered across calls).
    let again = model.deep_clone();
    assert!(!again.wte.weight.same_as(&copy.wte.weight));
    // Outside deep_clone, clone shares again.
    assert!(model.wte.weight.clone().same_as(&model.wte.weight));
}
