//! The [`Module`] trait: something with parameters that maps a tensor to a tensor.

use crate::error::Result;
use ferrograd_tensor::{Parameter, Scalar, Tensor};

/// A layer or a model: PyTorch's `nn.Module`.
///
/// - **Forward** takes `&self`: a model can run while an optimizer holds its parameters
///   (they are shared handles, see [`Parameter`]), and `Module: Send + Sync`, so a
///   model can be shared between threads.
/// - **Parameters** are named as PyTorch names them (`"0.weight"` inside a
///   [`crate::Sequential`], `"fc1.weight"` for a field `fc1` of a hand-written model —
///   build those names with [`prefixed`]), so checkpoints line up with PyTorch's
///   `state_dict`.
/// - **Training mode** is state of the module, set with [`Module::set_training`] (or
///   [`Module::train`] / [`Module::eval`]) before calling forward, as in PyTorch; forward
///   reads it. Modules start in training mode. Containers pass the call to their
///   children, so a hand-written model must forward it to every child that cares (see
///   the example); only [`crate::Dropout`] behaves differently today.
///
/// The book's module API, a model as a plain struct:
///
/// ```
/// use ferrograd_nn::{prefixed, Dropout, Linear, Module, Relu};
/// use ferrograd_tensor::{Parameter, Rng, Tensor};
///
/// #[derive(Debug)]
/// struct TwoLayer { fc1: Linear, drop: Dropout, fc2: Linear }
///
/// impl Module for TwoLayer {
///     fn forward(&self, x: &Tensor) -> ferrograd_nn::Result<Tensor> {
///         let hidden = self.drop.forward(&Relu.forward(&self.fc1.forward(x)?)?)?;
///         self.fc2.forward(&hidden)
///     }
///     fn named_parameters(&self) -> Vec<(String, Parameter)> {
///         let mut all = prefixed("fc1", &self.fc1);
///         all.extend(prefixed("fc2", &self.fc2));
///         all
///     }
///     fn set_training(&mut self, training: bool) {
///         Module::<f32>::set_training(&mut self.drop, training);
///     }
/// }
///
/// let mut rng = Rng::new(0);
/// let mut model = TwoLayer {
///     fc1: Linear::new(2, 4, &mut rng),
///     drop: Dropout::new(0.5, 1)?,
///     fc2: Linear::new(4, 1, &mut rng),
/// };
/// assert_eq!(model.num_parameters(), 2 * 4 + 4 + 4 + 1);
/// let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// model.eval(); // dropout off: forward is deterministic
/// let x = Tensor::ones(&[3, 2]);
/// assert_eq!(model.forward(&x)?.to_vec(), model.forward(&x)?.to_vec());
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
pub trait Module<T: Scalar = f32>: std::fmt::Debug + Send + Sync {
    /// Applies the module to `input`.
    ///
    /// # Errors
    /// When the input's shape does not fit the module.
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>>;

    /// Parameters with their names, in a stable order (PyTorch's `named_parameters()`
    /// and the keys of its `state_dict()`). The default has none.
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

    /// Switches training mode on or off (PyTorch's `train(mode)`); layers that behave
    /// differently in training (dropout) store it, containers pass it to their
    /// children. The default does nothing.
    fn set_training(&mut self, _training: bool) {}

    /// Training mode on (PyTorch's `model.train()`).
    fn train(&mut self) {
        self.set_training(true);
    }

    /// Training mode off (PyTorch's `model.eval()`): dropout becomes the identity.
    fn eval(&mut self) {
        self.set_training(false);
    }
}

/// The named parameters of `child`, each name prefixed with `prefix.` — for composing
/// models by hand with PyTorch's naming (a field `fc1` holding a [`crate::Linear`] gives
/// `"fc1.weight"` and `"fc1.bias"`).
///
/// ```
/// use ferrograd_nn::{prefixed, Linear};
/// use ferrograd_tensor::Rng;
/// let names: Vec<String> = prefixed("encoder.fc1", &Linear::<f32>::new(2, 3, &mut Rng::new(0)))
///     .into_iter()
///     .map(|(name, _)| name)
///     .collect();
/// assert_eq!(names, ["encoder.fc1.weight", "encoder.fc1.bias"]);
/// ```
pub fn prefixed<T: Scalar>(prefix: &str, child: &dyn Module<T>) -> Vec<(String, Parameter<T>)> {
    child
        .named_parameters()
        .into_iter()
        .map(|(name, p)| (format!("{prefix}.{name}"), p))
        .collect()
}
