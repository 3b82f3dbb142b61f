//! `Linear`: `y = x·Wᵀ + b`.

use crate::error::{NnError, Result, shape_of};
use crate::init::{FanMode, Nonlinearity, kaiming_uniform, uniform};
use crate::module::{Forward, Module, Visitor};
use ferrograd_tensor::{Parameter, Rng, Scalar, Tensor};

/// A fully connected layer, `torch.nn.Linear`: `y = x·Wᵀ + b` with weight `[out, in]`
/// and optional bias `[out]`, applied to the last axis of inputs of any rank
/// (`[..., in]` → `[..., out]`).
///
/// Forward is one matrix product with the transposed weight — a view, never a copy —
/// in which batch axes fold into the rows (one large product for a `[B, T, in]` input),
/// then a broadcast add of the bias ([`crate::functional::linear`]).
///
/// ```
/// use ferrograd_nn::{Forward, Linear};
/// use ferrograd_tensor::{Rng, Tensor};
/// let layer = Linear::new(2, 1, &mut Rng::new(0));
/// let y = layer.forward(&Tensor::<f32>::from([[22.0, 25.0], [47.0, 80.0]]))?;
/// assert_eq!(y.shape(), &[2, 1]);
/// // Any leading axes: a batch of 4 sequences of 3 vectors.
/// assert_eq!(layer.forward(&Tensor::zeros(&[4, 3, 2]))?.shape(), &[4, 3, 1]);
/// // PyTorch's initialisation: every value in [-1/√in, 1/√in].
/// let bound = 1.0 / 2f32.sqrt();
/// assert!(layer.weight.tensor().to_vec().iter().all(|w| w.abs() <= bound));
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// `.clone()` shares the parameters: the clone is tied to this layer (one update
/// changes both). [`Module::deep_clone`] makes an
/// independent copy.
#[derive(Debug, Clone)]
pub struct Linear<T: Scalar = f32> {
    /// Weight `[out_features, in_features]`.
    pub weight: Parameter<T>,
    /// Bias `[out_features]`, if any.
    pub bias: Option<Parameter<T>>,
}

impl<T: Scalar> Linear<T> {
    /// A layer with PyTorch's initialisation: weight, then bias, drawn from
    /// `U(-1/√in, 1/√in)` (PyTorch's `kaiming_uniform_(a=√5)` for the weight, which is
    /// that bound) with `rng`. A layer with `in_features == 0` starts at zero.
    pub fn new(in_features: usize, out_features: usize, rng: &mut Rng) -> Self {
        Self::with_bias(in_features, out_features, true, rng)
    }

    /// A layer with or without bias (PyTorch's `bias=False`), PyTorch's
    /// initialisation as in [`Linear::new`].
    pub fn with_bias(in_features: usize, out_features: usize, bias: bool, rng: &mut Rng) -> Self {
        let shape = [out_features, in_features];
        let weight = if in_features == 0 {
            Tensor::zeros(&shape)
        } else {
            kaiming_uniform(
                &shape,
                FanMode::FanIn,
                Nonlinearity::LeakyRelu(5f64.sqrt()),
                rng,
            )
            .expect("a 2-D shape has fans")
        };
        let bound = if in_features > 0 {
            1.0 / (in_features as f64).sqrt()
        } else {
            0.0
        };
        let bias = bias.then(|| Parameter::new(uniform(&[out_features], -bound, bound, rng)));
        Self {
            weight: Parameter::new(weight),
            bias,
        }
    }

    /// A layer with the given weight `[out, in]` and optional bias `[out]`.
    ///
    /// # Errors
    /// [`NnError::BadInput`] when the shapes do not fit together.
    pub fn from_tensors(weight: Tensor<T>, bias: Option<Tensor<T>>) -> Result<Self> {
        if weight.rank() != 2 {
            return Err(NnError::BadInput {
                op: "Linear::from_tensors",
                expected: "a weight of shape [out, in]".into(),
                got: shape_of(weight.shape()),
            });
        }
        if let Some(b) = &bias
            && b.shape() != [weight.shape()[0]]
        {
            return Err(NnError::BadInput {
                op: "Linear::from_tensors",
                expected: format!("a bias of shape [{}]", weight.shape()[0]),
                got: shape_of(b.shape()),
            });
        }
        Ok(Self {
            weight: Parameter::new(weight),
            bias: bias.map(Parameter::new),
        })
    }

    /// Number of input features.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Number of output features.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }
}

impl<T: Scalar> Module<T> for Linear<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.param("weight", &self.weight);
        v.optional_param("bias", self.bias.as_ref());
    }
}

impl<T: Scalar> Forward<&Tensor<T>> for Linear<T> {
    type Output = Tensor<T>;
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        let bias = self.bias.as_ref().map(Parameter::tensor);
        crate::functional::linear_named("Linear", input, &self.weight.tensor(), bias.as_ref())
    }
}
