//! `Conv1d`: Hugging Face's `Conv1D` (GPT-2's projections), `y = x·W + b` with the
//! weight stored `[in, out]`.

use crate::error::{NnError, Result, shape_of};
use crate::init::normal;
use crate::module::{Forward, Module, Visitor};
use ferrograd_tensor::{Parameter, Rng, Scalar, Tensor};

/// The projection GPT-2 uses everywhere, Hugging Face's `transformers.pytorch_utils.Conv1D`
/// (named after OpenAI's original TensorFlow code; it is a linear layer, not a
/// convolution): `y = x·W + b` with weight `[in_features, out_features]` — the transpose
/// of [`crate::Linear`]'s `[out, in]` — and bias `[out_features]`, on the last axis of
/// inputs of any rank.
///
/// Keeping Hugging Face's layout means a GPT-2 checkpoint loads without transposing a
/// single tensor, and the forward product reads the weight in its stored order (batch
/// axes fold into the rows of one product). PEFT calls this layout "fan-in-fan-out".
///
/// ```
/// use ferrograd_nn::{Conv1d, Forward};
/// use ferrograd_tensor::Tensor;
/// // W = [[1, 2, 3], [4, 5, 6]] maps 2 inputs to 3 outputs.
/// let layer = Conv1d::from_tensors(
///     Tensor::<f32>::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
///     Some(Tensor::from([0.5, 0.5, 0.5])),
/// )?;
/// let y = layer.forward(&Tensor::from([[1.0, 1.0]]))?;
/// assert_eq!(y.to_vec(), [5.5, 7.5, 9.5]);
/// assert_eq!((layer.in_features(), layer.out_features()), (2, 3));
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// `.clone()` shares the parameters: the clone is tied to this layer (one update
/// changes both). [`Module::deep_clone`] makes an
/// independent copy.
#[derive(Debug, Clone)]
pub struct Conv1d<T: Scalar = f32> {
    /// Weight `[in_features, out_features]`.
    pub weight: Parameter<T>,
    /// Bias `[out_features]`, if any (Hugging Face's always has one).
    pub bias: Option<Parameter<T>>,
}

impl<T: Scalar> Conv1d<T> {
    /// A layer initialised as Hugging Face initialises GPT-2's: weight `N(0, std²)`, bias
    /// zero (`std` is the config's `initializer_range`, 0.02 for GPT-2).
    pub fn new(in_features: usize, out_features: usize, std: f64, rng: &mut Rng) -> Self {
        Self {
            weight: Parameter::new(normal(&[in_features, out_features], 0.0, std, rng)),
            bias: Some(Parameter::new(Tensor::zeros(&[out_features]))),
        }
    }

    /// A layer with the given weight `[in, out]` and optional bias `[out]`.
    ///
    /// # Errors
    /// [`NnError::BadInput`] when the shapes do not fit together.
    pub fn from_tensors(weight: Tensor<T>, bias: Option<Tensor<T>>) -> Result<Self> {
        if weight.rank() != 2 {
            return Err(NnError::BadInput {
                op: "Conv1d::from_tensors",
                expected: "a weight of shape [in, out]".into(),
                got: shape_of(weight.shape()),
            });
        }
        if let Some(b) = &bias
            && b.shape() != [weight.shape()[1]]
        {
            return Err(NnError::BadInput {
                op: "Conv1d::from_tensors",
                expected: format!("a bias of shape [{}]", weight.shape()[1]),
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
        self.weight.shape()[0]
    }

    /// Number of output features.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[1]
    }
}

impl<T: Scalar> Module<T> for Conv1d<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.param("weight", &self.weight);
        v.optional_param("bias", self.bias.as_ref());
    }
}

impl<T: Scalar> Forward<&Tensor<T>> for Conv1d<T> {
    type Output = Tensor<T>;
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        let bias = self.bias.as_ref().map(Parameter::tensor);
        conv1d(input, &self.weight.tensor(), bias.as_ref())
    }
}

/// `x·W + b` on the last axis of `x` (`[..., in]` → `[..., out]`) with `W` stored
/// `[in, out]`: the function form of [`Conv1d`]. One matrix product (batch axes fold into
/// its rows) and a broadcast add.
///
/// # Errors
/// [`NnError::BadInput`] when the weight is not 2-D, the bias not `[out]`, or the input's
/// last axis not `in`.
pub fn conv1d<T: Scalar>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
) -> Result<Tensor<T>> {
    if weight.rank() != 2 {
        return Err(NnError::BadInput {
            op: "Conv1d",
            expected: "a weight of shape [in, out]".into(),
            got: shape_of(weight.shape()),
        });
    }
    let (in_features, out_features) = (weight.shape()[0], weight.shape()[1]);
    if x.rank() == 0 || x.shape()[x.rank() - 1] != in_features {
        return Err(NnError::BadInput {
            op: "Conv1d",
            expected: format!("[..., {in_features}]"),
            got: shape_of(x.shape()),
        });
    }
    if let Some(b) = bias
        && b.shape() != [out_features]
    {
        return Err(NnError::BadInput {
            op: "Conv1d",
            expected: format!("a bias of shape [{out_features}]"),
            got: shape_of(b.shape()),
        });
    }
    // The output starts as the bias and the product is added into it (`matmul_add`).
    Ok(match bias {
        Some(b) => x.matmul_add(weight, b)?,
        None => x.matmul(weight)?,
    })
}
