//! Gradient checks of a module's parameters: the tensor crate's [`gradcheck`] perturbs
//! the inputs of a function; this perturbs the parameters a module holds, so a layer is
//! checked through exactly the code its users run.
//!
//! [`gradcheck`]: ferrograd_tensor::gradcheck()

use crate::error::Result;
use crate::module::Module;
use ferrograd_tensor::{
    GradcheckMismatch, GradcheckOptions, GradcheckReport, Rng, Tensor, no_grad,
};

/// Checks the gradients `backward` gives for every trainable parameter of `module`
/// against central finite differences, with the settings of the tensor crate's checker.
///
/// Frozen parameters are skipped, as PyTorch's `gradcheck` checks only the inputs that
/// require a gradient: a frozen parameter gets no gradient by design (its analytic
/// gradient is absent, not zero), so comparing it with finite differences would report
/// a failure that is not one.
///
/// `f` runs the computation to check (it usually calls `module.forward`). Its output is
/// reduced to a scalar with fixed random weights drawn from `options.seed`, `L = Σ w ⊙
/// f()`, so one backward pass checks a random vector-Jacobian product. Each parameter
/// element is moved by `±options.eps` in place ([`ferrograd_tensor::Parameter::update`])
/// and restored exactly afterwards. In the report, `input` is the position of the
/// parameter in [`Module::named_parameters`] (frozen ones included, so the position
/// names the same parameter whatever is frozen), and `checked` counts the elements of
/// the trainable parameters.
///
/// ```
/// use ferrograd_nn::{gradcheck_module, LayerNorm, Forward, Module};
/// use ferrograd_tensor::{GradcheckOptions, Rng, Tensor};
/// let norm = LayerNorm::<f64>::new(&[3]);
/// let x = Tensor::<f64>::randn(&[2, 3], 0.0, 1.0, &mut Rng::new(0));
/// let report = gradcheck_module(&norm, || norm.forward(&x), &GradcheckOptions::default())?;
/// assert!(report.passed(), "{report}");
/// assert_eq!(report.checked, 6); // weight and bias, 3 each
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// # Errors
/// Any error of `f` or of the backward pass.
pub fn gradcheck_module<M, F>(
    module: &M,
    f: F,
    options: &GradcheckOptions,
) -> Result<GradcheckReport>
where
    M: Module<f64> + ?Sized,
    F: Fn() -> Result<Tensor<f64>>,
{
    let params = module.named_parameters();
    let out = f()?;
    let weights = Tensor::<f64>::randn(out.shape(), 0.0, 1.0, &mut Rng::new(options.seed));
    let objective = || -> Result<f64> {
        no_grad(|| -> Result<f64> { Ok(f()?.mul(&weights)?.sum_all().item()?) })
    };
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
    for (i, (_, param)) in params.iter().enumerate() {
        if !param.is_trainable() {
            continue;
        }
        let shape = param.shape();
        let analytic = grads
            .as_ref()
            .and_then(|g| g.get(param))
            .map_or_else(|| vec![0.0; param.numel()], Tensor::to_vec);
        let values = param.tensor().to_vec();
        for (j, &a) in analytic.iter().enumerate() {
            let original = values[j];
            let at = |value: f64| -> Result<f64> {
                param.update(|data| data[j] = value)?;
                objective()
            };
            let plus = at(original + options.eps);
            let minus = at(original - options.eps);
            param.update(|data| data[j] = original)?;
            let numeric = (plus? - minus?) / (2.0 * options.eps);
            let ratio = (a - numeric).abs() / (options.atol + options.rtol * numeric.abs());
            report.checked += 1;
            if report.worst.is_none() || ratio > report.worst_ratio || ratio.is_nan() {
                report.worst_ratio = if ratio.is_nan() { f64::INFINITY } else { ratio };
                report.worst = Some(GradcheckMismatch {
                    input: i,
                    index: unravel(j, &shape),
                    analytic: a,
                    numeric,
                });
            }
        }
    }
    Ok(report)
}

fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        index[i] = flat % d.max(1);
        flat /= d.max(1);
    }
    index
}
