//! Normalisation layers, `LayerNorm` and `RmsNorm`. Their computation is the tensor
//! crate's fused ops ([`Tensor::layer_norm`], [`Tensor::rms_norm`]; function forms in
//! [`crate::functional`]), whose gradients are checked against finite differences and
//! PyTorch in the tests.

use crate::error::{NnError, Result};
use crate::module::{Forward, Module, Visitor};
use ferrograd_tensor::{Parameter, Scalar, Tensor};

/// The error for a layer built with an empty `normalized_shape`, naming the call that
/// built it.
fn empty_shape(op: &'static str, layer: &str) -> NnError {
    NnError::InvalidArgument {
        op,
        reason: format!(
            "normalized_shape is [] (built by {layer}::new(&[])); it must name at least one \
             trailing axis to normalise over, e.g. {layer}::new(&[d]) for rows of d features"
        ),
    }
}

/// `torch.nn.LayerNorm`: over the trailing `normalized_shape` axes,
/// `(x - mean) / √(var + eps) · weight + bias` with the biased variance; `eps = 1e-5`,
/// weight ones and bias zeros at the start.
///
/// ```
/// use ferrograd_nn::{Forward, LayerNorm, Module};
/// use ferrograd_tensor::Tensor;
/// let norm = LayerNorm::<f32>::new(&[4]);
/// let names: Vec<String> = norm.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["weight", "bias"]);
/// let y = norm.forward(&Tensor::from([[1.0, 2.0, 3.0, 4.0]]))?;
/// assert!(y.mean_all().item()?.abs() < 1e-6); // each row has mean 0 …
/// assert!((y.square().mean_all().item()? - 1.0).abs() < 1e-4); // … and variance ≈ 1
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// `.clone()` shares the parameters: the clone is tied to this layer (one update
/// changes both). [`Module::deep_clone`] makes an
/// independent copy.
#[derive(Debug, Clone)]
pub struct LayerNorm<T: Scalar = f32> {
    /// Scale, of `normalized_shape` (None without elementwise affine).
    pub weight: Option<Parameter<T>>,
    /// Shift, of `normalized_shape` (None without elementwise affine).
    pub bias: Option<Parameter<T>>,
    normalized_shape: Vec<usize>,
    eps: f64,
}

impl<T: Scalar> LayerNorm<T> {
    /// Layer norm over trailing axes of `normalized_shape`, with affine parameters and
    /// `eps = 1e-5` (PyTorch's defaults). An empty `normalized_shape` is reported by
    /// [`Forward::forward`] (or at once by [`LayerNorm::try_new`]).
    pub fn new(normalized_shape: &[usize]) -> Self {
        Self::with_options(normalized_shape, 1e-5, true)
    }

    /// [`LayerNorm::new`], checking `normalized_shape` at once.
    ///
    /// ```
    /// use ferrograd_nn::LayerNorm;
    /// let err = LayerNorm::<f32>::try_new(&[]).unwrap_err().to_string();
    /// assert!(err.starts_with("LayerNorm::try_new: normalized_shape is [] (built by LayerNorm::new(&[]))"), "{err}");
    /// ```
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] for an empty `normalized_shape`.
    pub fn try_new(normalized_shape: &[usize]) -> Result<Self> {
        if normalized_shape.is_empty() {
            return Err(empty_shape("LayerNorm::try_new", "LayerNorm"));
        }
        Ok(Self::new(normalized_shape))
    }

    /// Layer norm with a chosen `eps` and with or without the elementwise affine.
    pub fn with_options(normalized_shape: &[usize], eps: f64, elementwise_affine: bool) -> Self {
        Self {
            weight: elementwise_affine.then(|| Parameter::new(Tensor::ones(normalized_shape))),
            bias: elementwise_affine.then(|| Parameter::new(Tensor::zeros(normalized_shape))),
            normalized_shape: normalized_shape.to_vec(),
            eps,
        }
    }

    /// The trailing shape it normalises over.
    pub fn normalized_shape(&self) -> &[usize] {
        &self.normalized_shape
    }

    /// The `eps` added to the variance.
    pub fn eps(&self) -> f64 {
        self.eps
    }
}

impl<T: Scalar> Module<T> for LayerNorm<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.optional_param("weight", self.weight.as_ref());
        v.optional_param("bias", self.bias.as_ref());
    }
}

impl<T: Scalar> Forward<&Tensor<T>> for LayerNorm<T> {
    type Output = Tensor<T>;
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        const OP: &str = "LayerNorm::forward";
        if self.normalized_shape.is_empty() {
            return Err(empty_shape(OP, "LayerNorm"));
        }
        let (w, b) = (
            self.weight.as_ref().map(Parameter::tensor),
            self.bias.as_ref().map(Parameter::tensor),
        );
        input
            .layer_norm(&self.normalized_shape, w.as_ref(), b.as_ref(), self.eps)
            .map_err(|e| e.with_op(OP).into())
    }
}

/// `torch.nn.RMSNorm`: `x / √(mean(x²) + eps) · weight` over the trailing
/// `normalized_shape` axes; `eps = None` means the element type's machine epsilon, as in
/// PyTorch, and the weight starts at ones.
///
/// ```
/// use ferrograd_nn::{Forward, RmsNorm};
/// use ferrograd_tensor::Tensor;
/// let norm = RmsNorm::<f32>::new(&[2], None);
/// let y = norm.forward(&Tensor::from([[3.0, 4.0]]))?.to_vec();
/// let rms = 12.5f32.sqrt();
/// assert!((y[0] - 3.0 / rms).abs() < 1e-6 && (y[1] - 4.0 / rms).abs() < 1e-6);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// `.clone()` shares the parameters: the clone is tied to this layer (one update
/// changes both). [`Module::deep_clone`] makes an
/// independent copy.
#[derive(Debug, Clone)]
pub struct RmsNorm<T: Scalar = f32> {
    /// Scale, of `normalized_shape` (None without elementwise affine).
    pub weight: Option<Parameter<T>>,
    normalized_shape: Vec<usize>,
    eps: Option<f64>,
}

impl<T: Scalar> RmsNorm<T> {
    /// RMS norm over the trailing axes of `normalized_shape` with a weight of ones;
    /// `eps = None` uses machine epsilon of `T`. An empty `normalized_shape` is reported
    /// by [`Forward::forward`] (or at once by [`RmsNorm::try_new`]).
    pub fn new(normalized_shape: &[usize], eps: Option<f64>) -> Self {
        Self::with_options(normalized_shape, eps, true)
    }

    /// [`RmsNorm::new`], checking `normalized_shape` at once.
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] for an empty `normalized_shape`.
    pub fn try_new(normalized_shape: &[usize], eps: Option<f64>) -> Result<Self> {
        if normalized_shape.is_empty() {
            return Err(empty_shape("RmsNorm::try_new", "RmsNorm"));
        }
        Ok(Self::new(normalized_shape, eps))
    }

    /// RMS norm with or without the elementwise affine weight.
    pub fn with_options(
        normalized_shape: &[usize],
        eps: Option<f64>,
        elementwise_affine: bool,
    ) -> Self {
        Self {
            weight: elementwise_affine.then(|| Parameter::new(Tensor::ones(normalized_shape))),
            normalized_shape: normalized_shape.to_vec(),
            eps,
        }
    }

    /// The trailing shape it normalises over.
    pub fn normalized_shape(&self) -> &[usize] {
        &self.normalized_shape
    }

    /// The `eps` added to the mean square (`None`: machine epsilon of `T`).
    pub fn eps(&self) -> Option<f64> {
        self.eps
    }
}

impl<T: Scalar> Module<T> for RmsNorm<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.optional_param("weight", self.weight.as_ref());
    }
}

impl<T: Scalar> Forward<&Tensor<T>> for RmsNorm<T> {
    type Output = Tensor<T>;
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        const OP: &str = "RmsNorm::forward";
        if self.normalized_shape.is_empty() {
            return Err(empty_shape(OP, "RmsNorm"));
        }
        let w = self.weight.as_ref().map(Parameter::tensor);
        input
            .rms_norm(&self.normalized_shape, w.as_ref(), self.eps)
            .map_err(|e| e.with_op(OP).into())
    }
}
