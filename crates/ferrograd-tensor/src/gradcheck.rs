//! A gradient checker: compares autodiff gradients with central finite differences in
//! `f64`, so users can check their own ops and modules the way we check ours.

use crate::autograd::no_grad;
use crate::error::{Result, TensorError, shape_of};
use crate::rng::Rng;
use crate::tensor::Tensor;
use std::fmt;

/// Settings of [`gradcheck`].
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckOptions {
    /// Finite-difference step (central differences: error O(eps²)).
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (relative to the numerical gradient).
    pub rtol: f64,
    /// Seed of the random output weights.
    pub seed: u64,
}

impl Default for GradcheckOptions {
    /// `eps = 1e-6`, `atol = 1e-5`, `rtol = 1e-3`: PyTorch's `gradcheck` defaults. In f64,
    /// a central difference with step 1e-6 has truncation error ~1e-12·f''' and rounding
    /// error ~1e-10·|f|, far inside these bounds for smooth functions of moderate size.
    fn default() -> Self {
        Self {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            seed: 0x5EED,
        }
    }
}

/// The element where autodiff and finite differences disagree most.
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckMismatch {
    /// Which input (position in the `inputs` slice).
    pub input: usize,
    /// Multi-index of the element in that input.
    pub index: Vec<usize>,
    /// Gradient from autodiff.
    pub analytic: f64,
    /// Gradient from central differences.
    pub numeric: f64,
}

impl GradcheckMismatch {
    /// `|analytic - numeric|`.
    pub fn abs_error(&self) -> f64 {
        (self.analytic - self.numeric).abs()
    }
}

/// Outcome of [`gradcheck`].
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckReport {
    /// Number of input elements checked.
    pub checked: usize,
    /// The element with the largest error relative to its tolerance (`None` when there
    /// was nothing to check).
    pub worst: Option<GradcheckMismatch>,
    /// `|a - n| / (atol + rtol |n|)` at the worst element: `≤ 1` passes.
    pub worst_ratio: f64,
}

impl GradcheckReport {
    /// True when every element was within tolerance.
    pub fn passed(&self) -> bool {
        self.worst_ratio <= 1.0
    }
}

impl fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() { "passed" } else { "FAILED" };
        write!(f, "gradcheck {verdict} on {} elements", self.checked)?;
        if let Some(w) = &self.worst {
            write!(
                f,
                "; worst: input {} at {:?}: autodiff {:.9e} vs finite difference {:.9e} \
                 (|error| {:.3e}, {:.3} of tolerance)",
                w.input,
                w.index,
                w.analytic,
                w.numeric,
                w.abs_error(),
                self.worst_ratio
            )?;
        }
        Ok(())
    }
}

fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        index[i] = flat % d.max(1);
        flat /= d.max(1);
    }
    index
}

/// Checks the gradients of `f` at `inputs` against central finite differences.
///
/// The output is reduced to a scalar with fixed random weights, `L = Σ w ⊙ f(x)`, so one
/// backward pass checks a random vector-Jacobian product — any wrong Jacobian entry shows
/// up with probability 1. Inputs keep their layout (views stay views), so ops are also
/// checked on non-contiguous inputs.
///
/// ```
/// use ferrograd_tensor::{gradcheck, GradcheckOptions, Tensor};
/// let x = Tensor::<f64>::from([[0.3, -1.2], [2.0, 0.7]]);
/// let report = gradcheck(|xs| Ok(xs[0].tanh().matmul(&xs[0])?), &[x], &GradcheckOptions::default())?;
/// assert!(report.passed(), "{report}");
/// # Ok::<(), ferrograd_tensor::TensorError>(())
/// ```
///
/// # Errors
/// Any error `f` returns, and [`TensorError::InvalidArgument`] when the output is not
/// finite at the given inputs.
pub fn gradcheck<F>(
    f: F,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
) -> Result<GradcheckReport>
where
    F: Fn(&[Tensor<f64>]) -> Result<Tensor<f64>>,
{
    let leaves: Vec<Tensor<f64>> = inputs.iter().map(|t| t.set_requires_grad(true)).collect();
    let out = f(&leaves)?;
    if out.has_nan() || out.contiguous_data().iter().any(|v| v.is_infinite()) {
        return Err(TensorError::InvalidArgument {
            op: "gradcheck",
            reason: format!(
                "the function's output of shape {} is not finite",
                shape_of(out.shape())
            ),
        });
    }
    let mut rng = Rng::new(options.seed);
    let weights = Tensor::<f64>::randn(out.shape(), 0.0, 1.0, &mut rng);
    let objective =
        |values: &Tensor<f64>| -> Result<f64> { values.mul(&weights)?.sum_all().item() };
    let loss = out.mul(&weights)?.sum_all();
    let grads = if loss.requires_grad() {
        Some(loss.backward()?)
    } else {
        None
    };

    let mut report = GradcheckReport {
        checked: 0,
        worst: None,
        worst_ratio: 0.0,
    };
    for (i, input) in inputs.iter().enumerate() {
        let analytic: Vec<f64> = grads
            .as_ref()
            .and_then(|g| g.get(&leaves[i]))
            .map_or_else(|| vec![0.0; input.numel()], Tensor::to_vec);
        let base = input.to_vec();
        for (j, &a) in analytic.iter().enumerate() {
            let eval = |delta: f64| -> Result<f64> {
                let mut values = base.clone();
                values[j] += delta;
                let mut perturbed: Vec<Tensor<f64>> = inputs.to_vec();
                perturbed[i] = Tensor::from_vec(values, input.shape())?;
                no_grad(|| objective(&f(&perturbed)?))
            };
            let numeric = (eval(options.eps)? - eval(-options.eps)?) / (2.0 * options.eps);
            let ratio = (a - numeric).abs() / (options.atol + options.rtol * numeric.abs());
            report.checked += 1;
            if report.worst.is_none() || ratio > report.worst_ratio || ratio.is_nan() {
                report.worst_ratio = if ratio.is_nan() { f64::INFINITY } else { ratio };
                report.worst = Some(GradcheckMismatch {
                    input: i,
                    index: unravel(j, input.shape()),
                    analytic: a,
                    numeric,
                });
            }
        }
    }
    Ok(report)
}
