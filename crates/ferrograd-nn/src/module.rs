//! The [`Module`] trait: something with parameters that maps a tensor to a tensor.

use crate::error::Result;
use ferrograd_tensor::{Parameter, Scalar, Tensor};

/// A layer or a model: PyTorch's `nn.Module`.
///
/// Parameters are named as PyTorch names them (`"0.weight"` inside a [`crate::Sequential`],
/// `"fc1.weight"` for a field `fc1` of a hand-written model — see [`prefixed`]), so
/// checkpoints line up with PyTorch's `state_dict`.
///
/// ```
/// use ferrograd_nn::{prefixed, Linear, Module, Relu};
/// use ferrograd_tensor::{Parameter, Rng, Tensor};
///
/// // The book's module API: a model as a plain struct.
/// #[derive(Debug)]
/// struct TwoLayer { fc1: Linear, fc2: Linear }
///
/// impl Module for TwoLayer {
///     fn forward(&self, x: &Tensor) -> ferrograd_nn::Result<Tensor> {
///         self.fc2.forward(&Relu.forward(&self.fc1.forward(x)?)?)
///     }
///     fn named_parameters(&self) -> Vec<(String, Parameter)> {
///         let mut all = prefixed("fc1", &self.fc1);
///         all.extend(prefixed("fc2", &self.fc2));
///         all
///     }
/// }
///
/// let mut rng = Rng::new(0);
/// let model = TwoLayer { fc1: Linear::new(2, 4, &mut rng), fc2: Linear::new(4, 1, &mut rng) };
/// assert_eq!(model.num_parameters(), 2 * 4 + 4 + 4 + 1);
/// assert_eq!(model.named_parameters()[0].0, "fc1.weight");
/// assert_eq!(model.forward(&Tensor::zeros(&[3, 2]))?.shape(), &[3, 1]);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
pub trait Module<T: Scalar = f32>: std::fmt::Debug + Send + Sync {
    /// Applies the module to `input`.
    ///
    /// # Errors
    /// When the input's shape does not fit the module.
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>>;

    /// Parameters with their names, in a stable order.
    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        Vec::new()
    }

    /// Parameters, in the order of [`Module::named_parameters`] (hand them to an
    /// optimizer).
    fn parameters(&self) -> Vec<Parameter<T>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// Total number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.named_parameters().iter().map(|(_, p)| p.numel()).sum()
    }

    /// Switches training mode on or off (PyTorch's `train()` / `eval()`); only layers
    /// that behave differently (dropout) care. Containers pass it to their children.
    fn set_training(&mut self, _training: bool) {}
}

/// The named parameters of `child`, each name prefixed with `prefix.` — for composing
/// models by hand with PyTorch's naming.
pub fn prefixed<T: Scalar>(prefix: &str, child: &dyn Module<T>) -> Vec<(String, Parameter<T>)> {
    child
        .named_parameters()
        .into_iter()
        .map(|(name, p)| (format!("{prefix}.{name}"), p))
        .collect()
}
