//! Normalisation layers: `LayerNorm` and `RmsNorm`, written from differentiable tensor
//! primitives (their gradients are checked against finite differences in the tests).

use crate::error::{NnError, Result, shape_of};
use crate::module::Module;
use ferrograd_tensor::{Parameter, Scalar, Tensor};

fn check_trailing(
    op: &'static str,
    input: &Tensor<impl Scalar>,
    normalized: &[usize],
) -> Result<Vec<isize>> {
    let rank = input.rank();
    if rank < normalized.len() || input.shape()[rank - normalized.len()..] != *normalized {
        return Err(NnError::BadInput {
            op,
            expected: format!(
                "[..., {}]",
                normalized
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            got: shape_of(input.shape()),
        });
    }
    Ok((1..=normalized.len()).map(|i| -(i as isize)).collect())
}

/// Layer normalisation as a function (`torch.nn.functional.layer_norm`): over the
/// trailing `normalized_shape` axes, `(x - mean) / √(var + eps) · weight + bias` with the
/// biased variance.
///
/// # Errors
/// [`NnError::BadInput`] when the input's trailing axes are not `normalized_shape`.
pub fn layer_norm<T: Scalar>(
    input: &Tensor<T>,
    normalized_shape: &[usize],
    weight: Option<&Tensor<T>>,
    bias: Option<&Tensor<T>>,
    eps: f64,
) -> Result<Tensor<T>> {
    let axes = check_trailing("layer_norm", input, normalized_shape)?;
    let mean = input.mean(&axes, true)?;
    let centered = input.sub(&mean)?;
    let var = centered.square().mean(&axes, true)?;
    let normed = centered.div(&var.add_scalar(T::from_f64(eps)).sqrt())?;
    let scaled = match weight {
        Some(w) => normed.mul(w)?,
        None => normed,
    };
    Ok(match bias {
        Some(b) => scaled.add(b)?,
        None => scaled,
    })
}

/// RMS normalisation as a function (`torch.nn.functional.rms_norm`):
/// `x / √(mean(x²) + eps) · weight` over the trailing `normalized_shape` axes; `eps =
/// None` uses the machine epsilon of `T`.
///
/// # Errors
/// [`NnError::BadInput`] when the input's trailing axes are not `normalized_shape`.
pub fn rms_norm<T: Scalar>(
    input: &Tensor<T>,
    normalized_shape: &[usize],
    weight: Option<&Tensor<T>>,
    eps: Option<f64>,
) -> Result<Tensor<T>> {
    let axes = check_trailing("rms_norm", input, normalized_shape)?;
    let eps = eps.map_or(T::EPSILON, T::from_f64);
    let rms = input.square().mean(&axes, true)?.add_scalar(eps).sqrt();
    let normed = input.div(&rms)?;
    Ok(match weight {
        Some(w) => normed.mul(w)?,
        None => normed,
    })
}

/// `torch.nn.LayerNorm`: over the trailing `normalized_shape` axes,
/// `(x - mean) / √(var + eps) · weight + bias` with the biased variance; `eps = 1e-5`,
/// weight ones and bias zeros at the start.
#[derive(Debug, Clone)]
pub struct LayerNorm<T: Scalar = f32> {
    /// Scale, of `normalized_shape` (None without elementwise affine).
    pub weight: Option<Parameter<T>>,
    /// Shift, of `normalized_shape`.
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
}

impl<T: Scalar> Module<T> for LayerNorm<T> {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        let (w, b) = (
            self.weight.as_ref().map(|p| p.tensor()),
            self.bias.as_ref().map(|p| p.tensor()),
        );
        layer_norm(
            input,
            &self.normalized_shape,
            w.as_ref(),
            b.as_ref(),
            self.eps,
        )
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        let mut params = Vec::new();
        if let Some(w) = &self.weight {
            params.push(("weight".into(), w.clone()));
        }
        if let Some(b) = &self.bias {
            params.push(("bias".into(), b.clone()));
        }
        params
    }
}

/// `torch.nn.RMSNorm`: `x / √(mean(x²) + eps) · weight` over the trailing
/// `normalized_shape` axes; `eps` defaults to the element type's machine epsilon, as in
/// PyTorch, and the weight starts at ones.
#[derive(Debug, Clone)]
pub struct RmsNorm<T: Scalar = f32> {
    /// Scale, of `normalized_shape`.
    pub weight: Parameter<T>,
    normalized_shape: Vec<usize>,
    eps: Option<f64>,
}

impl<T: Scalar> RmsNorm<T> {
    /// RMS norm over the trailing axes of `normalized_shape`; `eps = None` uses machine
    /// epsilon of `T`.
    pub fn new(normalized_shape: &[usize], eps: Option<f64>) -> Self {
        Self {
            weight: Parameter::new(Tensor::ones(normalized_shape)),
            normalized_shape: normalized_shape.to_vec(),
            eps,
        }
    }
}

impl<T: Scalar> Module<T> for RmsNorm<T> {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        rms_norm(
            input,
            &self.normalized_shape,
            Some(&self.weight.tensor()),
            self.eps,
        )
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        vec![("weight".into(), self.weight.clone())]
    }
}
