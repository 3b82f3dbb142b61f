//! Normalisation layers, `LayerNorm` and `RmsNorm`, and their functional forms: fused
//! operations (one pass forward keeping two numbers per row, one pass backward) whose
//! gradients are checked against finite differences and PyTorch in the tests.

use crate::error::{NnError, Result, shape_of};
use crate::kernels;
use crate::module::{Forward, Module, Visitor};
use ferrograd_tensor::{BackwardOp, Parameter, Scalar, Tensor};

/// Checks that the trailing axes of `input` are `normalized` and that the affine
/// parameters have that shape; returns the row length (their product).
fn check_shapes<T: Scalar>(
    op: &'static str,
    input: &Tensor<T>,
    normalized: &[usize],
    params: [Option<&Tensor<T>>; 2],
) -> Result<usize> {
    let rank = input.rank();
    if normalized.is_empty()
        || rank < normalized.len()
        || input.shape()[rank - normalized.len()..] != *normalized
    {
        return Err(NnError::BadInput {
            op,
            expected: format!("[..., {}]", join(normalized)),
            got: shape_of(input.shape()),
        });
    }
    for p in params.into_iter().flatten() {
        if p.shape() != normalized {
            return Err(NnError::BadInput {
                op,
                expected: format!("a weight or bias of shape [{}]", join(normalized)),
                got: shape_of(p.shape()),
            });
        }
    }
    Ok(normalized.iter().product())
}

fn join(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

struct LayerNormBackward<T: Scalar> {
    n: usize,
    has_weight: bool,
    has_bias: bool,
    /// Per row: mean and 1/√(var + eps).
    stats: Vec<T>,
}

impl<T: Scalar> BackwardOp<T> for LayerNormBackward<T> {
    fn name(&self) -> &'static str {
        "layer_norm"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> ferrograd_tensor::Result<Vec<Option<Tensor<T>>>> {
        let x = inputs[0].contiguous_data();
        let weight = self.has_weight.then(|| inputs[1].contiguous_data());
        let g = grad.contiguous_data();
        let n = self.n;
        let mut gx = kernels::buffer(x.len());
        let wants = |i: usize| inputs.get(i).is_some_and(Tensor::requires_grad);
        let weight_at = 1;
        let bias_at = 1 + usize::from(self.has_weight);
        let mut gw = vec![
            T::ZERO;
            if self.has_weight && wants(weight_at) {
                n
            } else {
                0
            }
        ];
        let mut gb = vec![
            T::ZERO;
            if self.has_bias && wants(bias_at) {
                n
            } else {
                0
            }
        ];
        if n > 0 {
            let per = kernels::rows_per_block(self.stats.len() / 2, n);
            let (gw_len, gb_len) = (gw.len(), gb.len());
            let blocks: Vec<_> = x
                .chunks(per * n)
                .zip(g.chunks(per * n))
                .zip(self.stats.chunks(2 * per))
                .zip(gx.chunks_mut(per * n))
                .collect();
            // Each block sums its own weight and bias gradients; they are added up after.
            let mut partial = vec![(vec![T::ZERO; gw_len], vec![T::ZERO; gb_len]); blocks.len()];
            let items: Vec<_> = blocks.into_iter().zip(partial.iter_mut()).collect();
            let w = weight.as_deref();
            kernels::in_parallel(items, |((((x, g), stats), gx), (pw, pb))| {
                kernels::layer_norm_backward(x, g, n, w, stats, gx, pw, pb);
            });
            for (pw, pb) in partial {
                gw.iter_mut().zip(pw).for_each(|(a, b)| *a += b);
                gb.iter_mut().zip(pb).for_each(|(a, b)| *a += b);
            }
        }
        let mut grads = vec![Some(Tensor::from_vec(gx, inputs[0].shape())?)];
        if self.has_weight {
            grads.push(wrap(gw, inputs[weight_at].shape())?);
        }
        if self.has_bias {
            grads.push(wrap(gb, inputs[bias_at].shape())?);
        }
        Ok(grads)
    }
}

/// A gradient buffer as a tensor, or `None` when it was not computed (empty).
fn wrap<T: Scalar>(data: Vec<T>, shape: &[usize]) -> ferrograd_tensor::Result<Option<Tensor<T>>> {
    if data.is_empty() && shape.iter().product::<usize>() != 0 {
        return Ok(None);
    }
    Tensor::from_vec(data, shape).map(Some)
}

/// Layer normalisation as a function, `torch.nn.functional.layer_norm`: over the
/// trailing `normalized_shape` axes, `(x - mean) / √(var + eps) · weight + bias` with
/// the biased variance. `weight` and `bias`, when given, have shape `normalized_shape`.
///
/// ```
/// use ferrograd_nn::layer_norm;
/// use ferrograd_tensor::Tensor;
/// let x = Tensor::<f64>::from([[1.0, 2.0, 3.0], [10.0, 10.0, 10.0]]);
/// let y = layer_norm(&x, &[3], None, None, 1e-5)?.to_vec();
/// let s = (2.0f64 / 3.0 + 1e-5).sqrt(); // √(biased var + eps) of the first row
/// assert!((y[0] + 1.0 / s).abs() < 1e-12 && y[1].abs() < 1e-12 && (y[2] - 1.0 / s).abs() < 1e-12);
/// assert_eq!(y[3..], [0.0, 0.0, 0.0]); // a constant row normalises to zero
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// # Errors
/// [`NnError::BadInput`] when the input's trailing axes are not `normalized_shape`
/// (which must not be empty) or a parameter has another shape.
pub fn layer_norm<T: Scalar>(
    input: &Tensor<T>,
    normalized_shape: &[usize],
    weight: Option<&Tensor<T>>,
    bias: Option<&Tensor<T>>,
    eps: f64,
) -> Result<Tensor<T>> {
    let n = check_shapes("layer_norm", input, normalized_shape, [weight, bias])?;
    let x = input.contiguous_data();
    let (w, b) = (
        weight.map(Tensor::contiguous_data),
        bias.map(Tensor::contiguous_data),
    );
    let rows = x.len().checked_div(n).unwrap_or(0);
    let mut y = kernels::buffer(x.len());
    let mut stats = vec![T::ZERO; 2 * rows];
    if n > 0 {
        let per = kernels::rows_per_block(rows, n);
        let blocks: Vec<_> = x
            .chunks(per * n)
            .zip(y.chunks_mut(per * n))
            .zip(stats.chunks_mut(2 * per))
            .collect();
        let (w, b, eps) = (w.as_deref(), b.as_deref(), T::from_f64(eps));
        kernels::in_parallel(blocks, |((x, y), stats)| {
            kernels::layer_norm_forward(x, n, w, b, eps, y, stats);
        });
    }
    drop((x, w, b));
    let mut inputs = vec![input];
    inputs.extend(weight);
    inputs.extend(bias);
    let op = LayerNormBackward {
        n,
        has_weight: weight.is_some(),
        has_bias: bias.is_some(),
        stats,
    };
    Ok(Tensor::from_op(y, input.shape(), &inputs, op)?)
}

struct RmsNormBackward<T: Scalar> {
    n: usize,
    has_weight: bool,
    /// Per row: 1/√(mean(x²) + eps).
    rstd: Vec<T>,
}

impl<T: Scalar> BackwardOp<T> for RmsNormBackward<T> {
    fn name(&self) -> &'static str {
        "rms_norm"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> ferrograd_tensor::Result<Vec<Option<Tensor<T>>>> {
        let x = inputs[0].contiguous_data();
        let weight = self.has_weight.then(|| inputs[1].contiguous_data());
        let g = grad.contiguous_data();
        let n = self.n;
        let mut gx = kernels::buffer(x.len());
        let wants_w = self.has_weight && inputs[1].requires_grad();
        let mut gw = vec![T::ZERO; if wants_w { n } else { 0 }];
        if n > 0 {
            let per = kernels::rows_per_block(self.rstd.len(), n);
            let gw_len = gw.len();
            let blocks: Vec<_> = x
                .chunks(per * n)
                .zip(g.chunks(per * n))
                .zip(self.rstd.chunks(per))
                .zip(gx.chunks_mut(per * n))
                .collect();
            // Each block sums its own weight gradient; they are added up after.
            let mut partial = vec![vec![T::ZERO; gw_len]; blocks.len()];
            let items: Vec<_> = blocks.into_iter().zip(partial.iter_mut()).collect();
            let w = weight.as_deref();
            kernels::in_parallel(items, |((((x, g), rstd), gx), pw)| {
                kernels::rms_norm_backward(x, g, n, w, rstd, gx, pw);
            });
            for pw in partial {
                gw.iter_mut().zip(pw).for_each(|(a, b)| *a += b);
            }
        }
        let mut grads = vec![Some(Tensor::from_vec(gx, inputs[0].shape())?)];
        if self.has_weight {
            grads.push(wrap(gw, inputs[1].shape())?);
        }
        Ok(grads)
    }
}

/// RMS normalisation as a function, `torch.nn.functional.rms_norm`:
/// `x / √(mean(x²) + eps) · weight` over the trailing `normalized_shape` axes; `eps =
/// None` uses the machine epsilon of `T` (`f32::EPSILON` for `f32`), as PyTorch does.
///
/// ```
/// use ferrograd_nn::rms_norm;
/// use ferrograd_tensor::Tensor;
/// let x = Tensor::<f64>::from([3.0, 4.0]);
/// let y = rms_norm(&x, &[2], None, Some(0.0))?.to_vec();
/// let rms = 12.5f64.sqrt(); // √((9 + 16) / 2)
/// assert!((y[0] - 3.0 / rms).abs() < 1e-15 && (y[1] - 4.0 / rms).abs() < 1e-15);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// # Errors
/// [`NnError::BadInput`] when the input's trailing axes are not `normalized_shape`
/// (which must not be empty) or the weight has another shape.
pub fn rms_norm<T: Scalar>(
    input: &Tensor<T>,
    normalized_shape: &[usize],
    weight: Option<&Tensor<T>>,
    eps: Option<f64>,
) -> Result<Tensor<T>> {
    let n = check_shapes("rms_norm", input, normalized_shape, [weight, None])?;
    let eps = eps.map_or(T::EPSILON, T::from_f64);
    let x = input.contiguous_data();
    let w = weight.map(Tensor::contiguous_data);
    let rows = x.len().checked_div(n).unwrap_or(0);
    let mut y = kernels::buffer(x.len());
    let mut rstd = vec![T::ZERO; rows];
    if n > 0 {
        let per = kernels::rows_per_block(rows, n);
        let blocks: Vec<_> = x
            .chunks(per * n)
            .zip(y.chunks_mut(per * n))
            .zip(rstd.chunks_mut(per))
            .collect();
        let w = w.as_deref();
        kernels::in_parallel(blocks, |((x, y), rstd)| {
            kernels::rms_norm_forward(x, n, w, eps, y, rstd);
        });
    }
    drop((x, w));
    let mut inputs = vec![input];
    inputs.extend(weight);
    let op = RmsNormBackward {
        n,
        has_weight: weight.is_some(),
        rstd,
    };
    Ok(Tensor::from_op(y, input.shape(), &inputs, op)?)
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
    /// `eps = 1e-5` (PyTorch's defaults).
    pub fn new(normalized_shape: &[usize]) -> Self {
        Self::with_options(normalized_shape, 1e-5, true)
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
        let (w, b) = (
            self.weight.as_ref().map(Parameter::tensor),
            self.bias.as_ref().map(Parameter::tensor),
        );
        layer_norm(
            input,
            &self.normalized_shape,
            w.as_ref(),
            b.as_ref(),
            self.eps,
        )
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
#[derive(Debug, Clone)]
pub struct RmsNorm<T: Scalar = f32> {
    /// Scale, of `normalized_shape` (None without elementwise affine).
    pub weight: Option<Parameter<T>>,
    normalized_shape: Vec<usize>,
    eps: Option<f64>,
}

impl<T: Scalar> RmsNorm<T> {
    /// RMS norm over the trailing axes of `normalized_shape` with a weight of ones;
    /// `eps = None` uses machine epsilon of `T`.
    pub fn new(normalized_shape: &[usize], eps: Option<f64>) -> Self {
        Self::with_options(normalized_shape, eps, true)
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
        let w = self.weight.as_ref().map(Parameter::tensor);
        rms_norm(input, &self.normalized_shape, w.as_ref(), self.eps)
    }
}
