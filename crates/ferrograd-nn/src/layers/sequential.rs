//! `Sequential`: modules applied one after another (the book's sequential API).

use crate::error::Result;
use crate::module::{Forward, Layer, Module, Visitor};
use ferrograd_tensor::{Scalar, Tensor};

/// Modules applied in order, `torch.nn.Sequential`; parameters are named by position
/// (`"0.weight"`, `"2.bias"`), as PyTorch names them.
///
/// ```
/// use ferrograd_nn::{Forward, Linear, Module, Sequential, Sigmoid};
/// use ferrograd_tensor::{Rng, Tensor};
/// let mut rng = Rng::new(0);
/// let model = Sequential::new().push(Linear::new(2, 1, &mut rng)).push(Sigmoid);
/// let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["0.weight", "0.bias"]);
/// let p = model.forward(&Tensor::<f32>::from([[22.0, 25.0]]))?;
/// assert!(p.item()? > 0.0 && p.item()? < 1.0);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Default)]
pub struct Sequential<T: Scalar = f32> {
    layers: Vec<Box<dyn Layer<T>>>,
}

impl<T: Scalar> Sequential<T> {
    /// An empty sequence.
    pub fn new() -> Self {
        Self { layers: Vec::new() }
    }

    /// Appends a module (builder style), like the arguments of
    /// `torch.nn.Sequential(...)`.
    pub fn push(mut self, layer: impl Layer<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a module in place (`nn.Sequential.append`).
    pub fn append(&mut self, layer: impl Layer<T> + 'static) {
        self.layers.push(Box::new(layer));
    }

    /// Appends an already boxed module (for layers chosen at run time).
    pub fn append_boxed(&mut self, layer: Box<dyn Layer<T>>) {
        self.layers.push(layer);
    }

    /// The modules, in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Layer<T>> {
        self.layers.iter().map(|l| l.as_ref())
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The module at `index`.
    pub fn get(&self, index: usize) -> Option<&dyn Layer<T>> {
        self.layers.get(index).map(|l| l.as_ref())
    }
}

impl<T: Scalar> Module<T> for Sequential<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        for (i, layer) in self.layers.iter().enumerate() {
            let layer: &dyn Module<T> = layer.as_ref();
            v.module(&i.to_string(), layer);
        }
    }
}

impl<T: Scalar> Forward<&Tensor<T>> for Sequential<T> {
    type Output = Tensor<T>;
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        let mut x = input.clone();
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        Ok(x)
    }
}
