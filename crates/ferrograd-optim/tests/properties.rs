//! Property tests against closed forms derived on paper (not from the code): with a
//! constant gradient, SGD's momentum buffer and Adam's bias-corrected moments have exact
//! closed forms, and AdamW with a zero gradient only decays.

use ferrograd_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, Sgd, SgdConfig, clip_grad_norm, grad_norm,
};
use ferrograd_tensor::{Gradients, Parameter, Tensor};
use proptest::prelude::*;

fn constant_grads(p: &Parameter<f64>, g: &[f64]) -> Gradients<f64> {
    let mut grads = Gradients::new();
    grads.insert(p, Tensor::from_vec(g.to_vec(), &[g.len()]).unwrap());
    grads
}

fn vector() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-10.0f64..10.0, 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// b₁ = g, bᵢ = μ·bᵢ₋₁ + (1 − τ)·g  ⇒  bᵢ = g·(μ^(i−1) + (1 − τ)·(1 − μ^(i−1))/(1 − μ)),
    /// and θₖ = θ₀ − γ·Σᵢ bᵢ. Rounding in f64 over ≤ 20 steps stays below 1e-12 relative
    /// to the scale of the sum; 1e-10 leaves room.
    #[test]
    fn sgd_momentum_with_a_constant_gradient_follows_its_closed_form(
        theta0 in vector(),
        scale in -3.0f64..3.0,
        momentum in 0.0f64..0.95,
        dampening in 0.0f64..0.9,
        lr in 1e-3f64..1.0,
        steps in 1usize..20,
    ) {
        let g: Vec<f64> = theta0.iter().map(|t| t * scale + 0.5).collect();
        let p = Parameter::new(Tensor::from_vec(theta0.clone(), &[theta0.len()]).unwrap());
        let config = SgdConfig { momentum, dampening, ..SgdConfig::new(lr) };
        let mut opt = Sgd::new([p.clone()], config).unwrap();
        for _ in 0..steps {
            opt.step(&constant_grads(&p, &g)).unwrap();
        }
        let buffer_sum: f64 = (1..=steps)
            .map(|i| {
                let mu = momentum.powi(i as i32 - 1);
                mu + (1.0 - dampening) * (1.0 - mu) / (1.0 - momentum)
            })
            .sum();
        for ((got, t0), gi) in p.tensor().to_vec().iter().zip(&theta0).zip(&g) {
            let want = t0 - lr * gi * buffer_sum;
            let tol = 1e-10 * (t0.abs() + lr * gi.abs() * buffer_sum + 1.0);
            prop_assert!((got - want).abs() <= tol, "{} vs {}", got, want);
        }
    }

    /// With a constant gradient m̂ₜ = g and v̂ₜ = g² exactly, so every Adam step moves by
    /// γ·g/(|g| + ε): θₜ = θ₀ − t·γ·g/(|g| + ε), whatever β₁ and β₂ (AMSGrad too, since
    /// vₜ only grows). 1e-9 relative to t·γ covers f64 rounding of the bias corrections.
    #[test]
    fn adam_with_a_constant_gradient_moves_by_lr_per_step(
        theta0 in vector(),
        g0 in 0.01f64..5.0,
        beta1 in 0.0f64..0.99,
        beta2 in 0.0f64..0.9999,
        lr in 1e-4f64..0.5,
        steps in 1usize..20,
        amsgrad in any::<bool>(),
    ) {
        let n = theta0.len();
        let g: Vec<f64> = (0..n).map(|i| if i % 2 == 0 { g0 } else { -g0 * 3.0 }).collect();
        let p = Parameter::new(Tensor::from_vec(theta0.clone(), &[n]).unwrap());
        let config = AdamConfig { betas: (beta1, beta2), amsgrad, ..AdamConfig::new(lr) };
        let mut opt = Adam::new([p.clone()], config).unwrap();
        for _ in 0..steps {
            opt.step(&constant_grads(&p, &g)).unwrap();
        }
        for ((got, t0), gi) in p.tensor().to_vec().iter().zip(&theta0).zip(&g) {
            let want = t0 - steps as f64 * lr * gi / (gi.abs() + 1e-8);
            prop_assert!((got - want).abs() <= 1e-9 * (steps as f64 * lr + t0.abs()),
                "{} vs {}", got, want);
        }
    }

    /// AdamW with a zero gradient only decays: θₜ = θ₀·(1 − γλ)ᵗ.
    #[test]
    fn adamw_with_a_zero_gradient_only_decays(
        theta0 in vector(),
        lr in 1e-4f64..0.5,
        weight_decay in 0.0f64..1.0,
        steps in 1usize..20,
    ) {
        let n = theta0.len();
        let p = Parameter::new(Tensor::from_vec(theta0.clone(), &[n]).unwrap());
        let config = AdamWConfig { weight_decay, ..AdamWConfig::new(lr) };
        let mut opt = AdamW::new([p.clone()], config).unwrap();
        for _ in 0..steps {
            opt.step(&constant_grads(&p, &vec![0.0; n])).unwrap();
        }
        let factor = (1.0 - lr * weight_decay).powi(steps as i32);
        for (got, t0) in p.tensor().to_vec().iter().zip(&theta0) {
            prop_assert!((got - t0 * factor).abs() <= 1e-13 * t0.abs(), "{} vs {}", got, t0 * factor);
        }
    }

    /// Maximising with gradient g is minimising with gradient −g, bit for bit (negation is
    /// exact), for every optimizer.
    #[test]
    fn maximize_is_descent_on_the_negated_gradient(
        theta0 in vector(),
        grads in prop::collection::vec(vector(), 1..5),
        weight_decay in 0.0f64..0.1,
    ) {
        let n = theta0.len();
        let make = || Parameter::new(Tensor::from_vec(theta0.clone(), &[n]).unwrap());
        type Build = fn(Parameter<f64>, bool, f64) -> Box<dyn Optimizer<f64>>;
        let builders: [Build; 3] = [
            |p, maximize, wd| Box::new(Sgd::new([p], SgdConfig {
                momentum: 0.9, nesterov: true, weight_decay: wd, maximize, ..SgdConfig::new(0.1)
            }).unwrap()),
            |p, maximize, wd| Box::new(Adam::new([p], AdamConfig {
                amsgrad: true, weight_decay: wd, maximize, ..AdamConfig::new(0.1)
            }).unwrap()),
            |p, maximize, wd| Box::new(AdamW::new([p], AdamWConfig {
                weight_decay: wd, maximize, ..AdamWConfig::new(0.1)
            }).unwrap()),
        ];
        for build in builders {
            let (a, b) = (make(), make());
            let (mut up, mut down) = (build(a.clone(), true, weight_decay), build(b.clone(), false, weight_decay));
            for g in &grads {
                let g: Vec<f64> = (0..n).map(|i| g[i % g.len()]).collect();
                let neg: Vec<f64> = g.iter().map(|x| -x).collect();
                up.step(&constant_grads(&a, &g)).unwrap();
                down.step(&constant_grads(&b, &neg)).unwrap();
            }
            prop_assert_eq!(a.tensor().to_vec(), b.tensor().to_vec());
        }
    }

    /// After clipping, the total norm is min(total, max_norm) up to the 1e-6 guard.
    #[test]
    fn clipping_bounds_the_total_norm(
        a in vector(),
        b in vector(),
        max_norm in 0.01f64..20.0,
    ) {
        let (pa, pb) = (
            Parameter::new(Tensor::<f64>::zeros(&[a.len()])),
            Parameter::new(Tensor::<f64>::zeros(&[b.len()])),
        );
        let mut grads = constant_grads(&pa, &a);
        grads.insert(&pb, Tensor::from_vec(b.clone(), &[b.len()]).unwrap());
        let expected: f64 = a.iter().chain(&b).map(|x| x * x).sum::<f64>().sqrt();
        let total = clip_grad_norm(&mut grads, max_norm).unwrap();
        prop_assert!((total - expected).abs() <= 1e-12 * expected);
        let after = grad_norm(&grads, 2.0).unwrap();
        let want = if max_norm < total { max_norm * total / (total + 1e-6) } else { total };
        prop_assert!((after - want).abs() <= 1e-12 * (want + 1e-300), "{} vs {}", after, want);
    }
}
