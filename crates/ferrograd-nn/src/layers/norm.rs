//! Normalisation layers: `LayerNorm` and `RmsNorm`, written from differentiable tensor
//! primitives (their gradients are checked against finite differences in the tests).

use crate::error::{NnError, Result, shape_of};
use crate::module::Module;
use ferrograd_tensor::{BackwardOp, Parameter, Scalar, Tensor};

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
    check_trailing("layer_norm", input, normalized_shape)?;
    let n: usize = normalized_shape.iter().product();
    for (name, t) in [("weight", weight), ("bias", bias)] {
        if let Some(t) = t
            && t.shape() != normalized_shape
        {
            return Err(NnError::BadInput {
                op: "layer_norm",
                expected: format!("a {name} of shape {normalized_shape:?}"),
                got: shape_of(t.shape()),
            });
        }
    }
    // One fused pass per row (forward) and per row (backward) instead of nine
    // element-wise ops and their gradients: measured 3-4× faster on [16, 64, 128].
    let x = input.contiguous_data();
    let w = weight.map(|w| w.contiguous_data().into_owned());
    let b = bias.map(|b| b.contiguous_data().into_owned());
    let rows = if n == 0 { 0 } else { x.len() / n };
    let mut out = vec![T::ZERO; x.len()];
    let mut stats = vec![T::ZERO; 2 * rows]; // mean and 1/√(var + eps) per row
    let inv_n = T::ONE / T::from_usize(n.max(1));
    for r in 0..rows {
        let row = &x[r * n..(r + 1) * n];
        let mean = row.iter().copied().sum::<T>() * inv_n;
        let var = row.iter().map(|&v| (v - mean) * (v - mean)).sum::<T>() * inv_n;
        let rstd = T::ONE / (var + T::from_f64(eps)).sqrt();
        stats[2 * r] = mean;
        stats[2 * r + 1] = rstd;
        for (j, (o, &v)) in out[r * n..(r + 1) * n].iter_mut().zip(row).enumerate() {
            let mut y = (v - mean) * rstd;
            if let Some(w) = &w {
                y *= w[j];
            }
            if let Some(b) = &b {
                y += b[j];
            }
            *o = y;
        }
    }
    let op = LayerNormBackward {
        n,
        stats,
        has_weight: weight.is_some(),
        has_bias: bias.is_some(),
    };
    let mut inputs = vec![input];
    inputs.extend(weight);
    inputs.extend(bias);
    Ok(Tensor::from_op(out, input.shape(), &inputs, op)?)
}

/// Backward of the fused layer norm: with x̂ = (x - μ)·r and ĝ = dy·w,
/// dx = r·(ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)), dw = Σ dy·x̂, db = Σ dy (sums over rows).
struct LayerNormBackward<T> {
    n: usize,
    stats: Vec<T>,
    has_weight: bool,
    has_bias: bool,
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
        let n = self.n;
        let x = inputs[0].contiguous_data();
        let dy = grad.contiguous_data();
        let w = self
            .has_weight
            .then(|| inputs[1].contiguous_data().into_owned());
        let rows = self.stats.len() / 2;
        let inv_n = T::ONE / T::from_usize(n.max(1));
        let mut dx = vec![T::ZERO; x.len()];
        let mut dw = vec![T::ZERO; n];
        let mut db = vec![T::ZERO; n];
        let mut g_hat = vec![T::ZERO; n];
        for r in 0..rows {
            let (mean, rstd) = (self.stats[2 * r], self.stats[2 * r + 1]);
            let (xr, dyr) = (&x[r * n..(r + 1) * n], &dy[r * n..(r + 1) * n]);
            let (mut sum_g, mut sum_gx) = (T::ZERO, T::ZERO);
            for j in 0..n {
                let x_hat = (xr[j] - mean) * rstd;
                dw[j] += dyr[j] * x_hat;
                db[j] += dyr[j];
                g_hat[j] = match &w {
                    Some(w) => dyr[j] * w[j],
                    None => dyr[j],
                };
                sum_g += g_hat[j];
                sum_gx += g_hat[j] * x_hat;
            }
            let (mean_g, mean_gx) = (sum_g * inv_n, sum_gx * inv_n);
            for j in 0..n {
                let x_hat = (xr[j] - mean) * rstd;
                dx[r * n + j] = rstd * (g_hat[j] - mean_g - x_hat * mean_gx);
            }
        }
        let shape = inputs[0].shape();
        let mut grads = vec![Some(Tensor::from_vec(dx, shape)?)];
        if self.has_weight {
            grads.push(Some(Tensor::from_vec(dw, inputs[1].shape())?));
        }
        if self.has_bias {
            let bias = &inputs[inputs.len() - 1];
            grads.push(Some(Tensor::from_vec(db, bias.shape())?));
        }
        Ok(grads)
    }
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
