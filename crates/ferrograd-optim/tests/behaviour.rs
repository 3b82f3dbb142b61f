//! Behaviour: PyTorch's defaults, hand-computed updates, skipped parameters, optimising in
//! parts, element types, clipping corner cases and the scheduler's bookkeeping.

use ferrograd_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, ClipGradNorm, ExponentialLr, LrSchedule, LrScheduler,
    Optimizer, Sgd, SgdConfig, StepLr, WarmupCosineLr, clip_grad_norm, clip_grad_value, grad_norm,
};
use ferrograd_tensor::{Gradients, Parameter, Tensor};

type R<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn store<T: ferrograd_tensor::Scalar>(entries: &[(&Parameter<T>, Vec<T>)]) -> Gradients<T> {
    let mut grads = Gradients::new();
    for (p, g) in entries {
        grads.insert(*p, Tensor::from_vec(g.clone(), &p.shape()).unwrap());
    }
    grads
}

#[test]
fn defaults_are_pytorchs() {
    // torch.optim.SGD(params) / Adam(params) / AdamW(params) as of PyTorch 2.x.
    assert_eq!(
        SgdConfig::default(),
        SgdConfig {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false
        }
    );
    assert_eq!(
        AdamConfig::default(),
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false
        }
    );
    assert_eq!(
        AdamWConfig::default(),
        AdamWConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
            maximize: false
        }
    );
    let p = Parameter::new(Tensor::<f32>::zeros(&[1]));
    assert_eq!(
        Adam::new([p.clone()], AdamConfig::default())
            .unwrap()
            .config(),
        AdamConfig::default()
    );
    assert_eq!(
        AdamW::new([p.clone()], AdamWConfig::default())
            .unwrap()
            .config(),
        AdamWConfig::default()
    );
    assert_eq!(
        *Sgd::new([p], SgdConfig::default()).unwrap().config(),
        SgdConfig::default()
    );
}

/// SGD with momentum, dampening and weight decay, two steps by hand in f64: the first
/// step copies the gradient into the buffer undamped (PyTorch), the second damps.
#[test]
fn sgd_momentum_by_hand() -> R {
    let w = Parameter::new(Tensor::<f64>::from([1.0, -2.0]));
    let config = SgdConfig {
        momentum: 0.5,
        dampening: 0.25,
        weight_decay: 0.1,
        ..SgdConfig::new(0.2)
    };
    let mut opt = Sgd::new([w.clone()], config)?;
    let (g1, g2) = ([0.4, 0.6], [-1.0, 2.0]);

    opt.step(&store(&[(&w, g1.to_vec())]))?;
    // d = g + 0.1·w = [0.5, 0.4]; b = d; w = w − 0.2·b = [0.9, −2.08]
    let b1 = [0.4 + 0.1 * 1.0, 0.6 + 0.1 * -2.0];
    let w1 = [1.0 - 0.2 * b1[0], -2.0 - 0.2 * b1[1]];
    assert_eq!(opt.momentum_buffer(0).unwrap(), &b1);
    assert_eq!(w.tensor().to_vec(), w1.to_vec());

    opt.step(&store(&[(&w, g2.to_vec())]))?;
    let d2 = [g2[0] + 0.1 * w1[0], g2[1] + 0.1 * w1[1]];
    let b2 = [b1[0] * 0.5 + 0.75 * d2[0], b1[1] * 0.5 + 0.75 * d2[1]];
    let w2 = [w1[0] + -0.2 * b2[0], w1[1] + -0.2 * b2[1]];
    assert_eq!(opt.momentum_buffer(0).unwrap(), &b2);
    assert_eq!(w.tensor().to_vec(), w2.to_vec());
    Ok(())
}

/// Adam's first two steps by hand in f64, from the formulas of PyTorch's documentation.
#[test]
fn adam_by_hand() -> R {
    let w = Parameter::new(Tensor::<f64>::from([0.5]));
    let (lr, b1, b2, eps) = (0.1, 0.9, 0.999, 1e-8);
    let mut opt = Adam::new([w.clone()], AdamConfig::new(lr))?;
    let (mut m, mut v, mut theta) = (0.0f64, 0.0f64, 0.5f64);
    for (t, g) in [(1, 2.0f64), (2, -1.0)] {
        opt.step(&store(&[(&w, vec![g])]))?;
        m = b1 * m + (1.0 - b1) * g;
        v = b2 * v + (1.0 - b2) * g * g;
        let m_hat = m / (1.0 - b1.powi(t));
        let v_hat = v / (1.0 - b2.powi(t));
        theta -= lr * m_hat / (v_hat.sqrt() + eps);
        let got = w.tensor().item()?;
        // Same maths, other rounding order (PyTorch's): agree to ~1e-15.
        assert!((got - theta).abs() < 1e-14, "step {t}: {got} vs {theta}");
    }
    assert_eq!(opt.step_count(0), 2);
    Ok(())
}

/// AdamW's decay multiplies the weights by 1 − lr·λ before the Adam step; Adam's L2 decay
/// instead enters the gradient, so with a zero gradient Adam moves by ≈ lr (the step of a
/// gradient λ·θ, normalised), AdamW by exactly lr·λ·θ.
#[test]
fn decoupled_and_l2_weight_decay_differ_as_documented() -> R {
    let (a, b) = (
        Parameter::new(Tensor::<f64>::from([2.0])),
        Parameter::new(Tensor::<f64>::from([2.0])),
    );
    let mut adam = Adam::new(
        [a.clone()],
        AdamConfig {
            weight_decay: 0.1,
            ..AdamConfig::new(0.01)
        },
    )?;
    let mut adamw = AdamW::new(
        [b.clone()],
        AdamWConfig {
            weight_decay: 0.1,
            ..AdamWConfig::new(0.01)
        },
    )?;
    adam.step(&store(&[(&a, vec![0.0])]))?;
    adamw.step(&store(&[(&b, vec![0.0])]))?;
    // Adam: g = 0.2, first step moves by lr·g/(|g| + ε) = 0.01·(1 − 5e-8).
    assert!((a.tensor().item()? - (2.0 - 0.01 * 0.2 / (0.2 + 1e-8))).abs() < 1e-15);
    assert_eq!(b.tensor().item()?, 2.0 * (1.0 - 0.01 * 0.1));
    Ok(())
}

/// AMSGrad divides by the largest second moment seen: after a large gradient then small
/// ones, its steps are smaller than plain Adam's.
#[test]
fn amsgrad_keeps_the_largest_second_moment() -> R {
    let (a, b) = (
        Parameter::new(Tensor::<f64>::from([0.0])),
        Parameter::new(Tensor::<f64>::from([0.0])),
    );
    let config = AdamConfig {
        betas: (0.0, 0.5),
        ..AdamConfig::new(1.0)
    };
    let mut plain = Adam::new([a.clone()], config)?;
    let mut ams = Adam::new(
        [b.clone()],
        AdamConfig {
            amsgrad: true,
            ..config
        },
    )?;
    for g in [10.0, 1.0, 1.0] {
        let (before_a, before_b) = (a.tensor().item()?, b.tensor().item()?);
        plain.step(&store(&[(&a, vec![g])]))?;
        ams.step(&store(&[(&b, vec![g])]))?;
        let (step_a, step_b) = (before_a - a.tensor().item()?, before_b - b.tensor().item()?);
        assert!(step_b <= step_a + 1e-15, "{step_b} > {step_a}");
    }
    // β₁ = 0: m = g; v after 3 steps = 0.5·(0.5·50 + 0.5) + 0.5 = 13.25 < max 50.
    let state = ams.state_dict();
    let vmax = state.tensor("state.0.max_exp_avg_sq").unwrap().item()?;
    let v = state.tensor("state.0.exp_avg_sq").unwrap().item()?;
    assert_eq!((vmax, v), (50.0, 13.25));
    Ok(())
}

/// torch.maximum propagates NaN, so a NaN second moment stays in AMSGrad's maximum.
#[test]
fn amsgrad_maximum_propagates_nan_as_torch_maximum() -> R {
    let w = Parameter::new(Tensor::<f32>::from([1.0, 1.0]));
    let mut opt = Adam::new(
        [w.clone()],
        AdamConfig {
            amsgrad: true,
            ..AdamConfig::new(0.1)
        },
    )?;
    opt.step(&store(&[(&w, vec![f32::NAN, 1.0])]))?;
    opt.step(&store(&[(&w, vec![1.0, 1.0])]))?;
    let vmax = opt
        .state_dict()
        .tensor("state.0.max_exp_avg_sq")
        .unwrap()
        .to_vec();
    assert!(vmax[0].is_nan() && vmax[1] > 0.0, "{vmax:?}");
    Ok(())
}

#[test]
fn parameters_without_gradients_are_skipped_and_keep_their_own_step_count() -> R {
    let (a, b) = (
        Parameter::new(Tensor::<f32>::from([1.0, 2.0])),
        Parameter::new(Tensor::<f32>::from([3.0])),
    );
    let mut adam = Adam::new([a.clone(), b.clone()], AdamConfig::new(0.1))?;
    let mut sgd = Sgd::new(
        [a.clone(), b.clone()],
        SgdConfig {
            momentum: 0.9,
            ..SgdConfig::new(0.1)
        },
    )?;
    for _ in 0..3 {
        adam.step(&store(&[(&a, vec![1.0, 1.0])]))?;
    }
    assert_eq!(b.tensor().to_vec(), vec![3.0]);
    assert_eq!((adam.step_count(0), adam.step_count(1)), (3, 0));
    assert!(adam.state_dict().tensor("state.1.exp_avg").is_none());
    // b's first step has its own bias correction: it moves by lr·g/(|g| + ε) ≈ lr.
    adam.step(&store(&[(&b, vec![-4.0])]))?;
    assert!((b.tensor().item()? - 3.1).abs() < 1e-6);
    assert_eq!((adam.step_count(0), adam.step_count(1)), (3, 1));

    sgd.step(&store(&[(&b, vec![1.0])]))?;
    assert!(sgd.momentum_buffer(0).is_none());
    assert_eq!(sgd.momentum_buffer(1), Some(&[1.0f32][..]));
    // An empty store is a no-op.
    let before = a.tensor().to_vec();
    adam.step(&Gradients::new())?;
    sgd.step(&Gradients::new())?;
    assert_eq!(a.tensor().to_vec(), before);
    Ok(())
}

/// Two optimizers over disjoint subsets give exactly the numbers of one over the union
/// (PyTorch's parameter groups): state is per parameter.
#[test]
fn optimising_in_parts_equals_optimising_the_whole() -> R {
    let make = || {
        vec![
            Parameter::new(Tensor::<f32>::from([0.5, -1.5, 2.0])),
            Parameter::new(Tensor::<f32>::from([[0.25, 0.75], [-0.125, 1.0]])),
            Parameter::new(Tensor::<f32>::from([3.0])),
        ]
    };
    let (whole, parts) = (make(), make());
    let config = AdamWConfig {
        amsgrad: true,
        ..AdamWConfig::new(0.05)
    };
    let mut one = AdamW::new(whole.clone(), config)?;
    let mut first = AdamW::new([parts[0].clone(), parts[2].clone()], config)?;
    let mut second = AdamW::new([parts[1].clone()], config)?;
    let loss = |p: &[Parameter]| -> R<Tensor> {
        let a = p[0].tensor().square().sum_all();
        let b = p[1].tensor().matmul(&p[1].tensor())?.tanh().sum_all();
        Ok(a.add(&b)?.mul(&p[2].tensor().sin().sum_all())?)
    };
    for _ in 0..7 {
        one.step(&loss(&whole)?.backward()?)?;
        let grads = loss(&parts)?.backward()?;
        first.step(&grads)?;
        second.step(&grads)?;
    }
    for (w, p) in whole.iter().zip(&parts) {
        assert_eq!(w.tensor().to_vec(), p.tensor().to_vec());
    }
    Ok(())
}

#[test]
fn non_contiguous_gradients_are_read_in_row_major_order() -> R {
    let w = Parameter::new(Tensor::<f32>::from([[1.0, 2.0], [3.0, 4.0]]));
    let mut opt = Sgd::new([w.clone()], SgdConfig::new(1.0))?;
    let g = Tensor::<f32>::from([[10.0, 30.0], [20.0, 40.0]]).t()?; // [[10, 20], [30, 40]]
    assert!(!g.is_contiguous());
    let mut grads = Gradients::new();
    grads.insert(&w, g);
    opt.step(&grads)?;
    assert_eq!(w.tensor().to_vec(), vec![-9.0, -18.0, -27.0, -36.0]);
    Ok(())
}

#[test]
fn a_graph_holding_the_old_value_is_not_changed_by_a_step() -> R {
    let w = Parameter::new(Tensor::<f32>::from([1.0, 2.0]));
    let mut opt = Adam::new([w.clone()], AdamConfig::new(0.5))?;
    let old = w.tensor();
    let loss = old.square().sum_all();
    opt.step(&loss.backward()?)?;
    assert_eq!(old.to_vec(), vec![1.0, 2.0]);
    assert_ne!(w.tensor().to_vec(), vec![1.0, 2.0]);
    Ok(())
}

#[test]
fn clipping_with_a_non_finite_norm_scales_as_pytorch_does() -> R {
    // PyTorch: total = inf, clip_coef = max_norm / inf = 0, so finite entries become 0 and
    // infinite ones NaN (inf · 0).
    let p = Parameter::new(Tensor::<f32>::zeros(&[3]));
    let mut grads = store(&[(&p, vec![f32::INFINITY, -2.0, 0.5])]);
    let total = clip_grad_norm(&mut grads, 1.0)?;
    assert_eq!(total, f32::INFINITY);
    let g = grads.get(&p).unwrap().to_vec();
    assert!(g[0].is_nan() && g[1] == 0.0 && g[2] == 0.0, "{g:?}");

    let mut grads = store(&[(&p, vec![f32::NAN, 1.0, 1.0])]);
    assert!(clip_grad_norm(&mut grads, 1.0)?.is_nan());
    assert!(grad_norm(&grads, f64::INFINITY)?.is_nan());
    let mut grads = store(&[(&p, vec![f32::NAN, 5.0, -5.0])]);
    clip_grad_value(&mut grads, 1.0)?;
    let g = grads.get(&p).unwrap().to_vec();
    assert!(g[0].is_nan() && g[1] == 1.0 && g[2] == -1.0);
    Ok(())
}

/// f64 gradients above ~1.3e154 have squares that overflow although their norm is
/// finite. Before, the total was inf, the coefficient 0 and every gradient silently
/// became 0. PyTorch 2.15: `clip_grad_norm_` of the one-element `[1e200]` returns 1e200
/// and scales it to 1.0 (a one-element norm is exact there); for more elements PyTorch
/// overflows (`[3e200, 4e200]`: inf and zeros) — we give the true norm (see the docs
/// of `ClipGradNorm`), as we already did for f32 by summing in f64.
#[test]
fn clipping_f64_gradients_whose_squares_overflow_uses_the_finite_norm() -> R {
    let p = Parameter::new(Tensor::<f64>::zeros(&[1]));
    let mut grads = store(&[(&p, vec![1e200])]);
    let total = clip_grad_norm(&mut grads, 1.0)?;
    assert_eq!(total, 1e200);
    let g = grads.get(&p).unwrap().to_vec();
    // coef = 1 / (1e200 + 1e-6) = 1e-200 (to the last bit or two), so g ≈ 1.
    assert!((g[0] - 1.0).abs() < 1e-15, "{g:?}");

    let (a, b) = (
        Parameter::new(Tensor::<f64>::zeros(&[2])),
        Parameter::new(Tensor::<f64>::zeros(&[1])),
    );
    let mut grads = store(&[(&a, vec![3e200, 0.0]), (&b, vec![-4e200])]);
    let total = clip_grad_norm(&mut grads, 1.0)?;
    assert!((total - 5e200).abs() <= 5e200 * 1e-15, "{total:e}");
    let (ga, gb) = (
        grads.get(&a).unwrap().to_vec(),
        grads.get(&b).unwrap().to_vec(),
    );
    assert!((ga[0] - 0.6).abs() < 1e-15 && ga[1] == 0.0, "{ga:?}");
    assert!((gb[0] + 0.8).abs() < 1e-15, "{gb:?}");
    // Other orders: p = 3 overflows its cubes from ~5.6e102 on.
    let grads = store(&[(&a, vec![3e200, 0.0]), (&b, vec![-4e200])]);
    let total = grad_norm(&grads, 3.0)?;
    let want = 1e200 * (27.0f64 + 64.0).powf(1.0 / 3.0);
    assert!(
        (total - want).abs() <= want * 1e-14,
        "{total:e} vs {want:e}"
    );
    // A norm truly above f64::MAX is still inf, and an inf or NaN element still wins.
    let both = |x: f64| store(&[(&a, vec![x, x]), (&b, vec![x])]);
    assert_eq!(grad_norm(&both(1.5e308), 2.0)?, f64::INFINITY);
    assert_eq!(grad_norm(&both(1.5e308), 1.0)?, f64::INFINITY);
    let mut with_inf = store(&[(&a, vec![1e200, f64::INFINITY]), (&b, vec![1e200])]);
    assert_eq!(clip_grad_norm(&mut with_inf, 1.0)?, f64::INFINITY);
    let with_nan = store(&[(&a, vec![1e200, f64::NAN]), (&b, vec![1e200])]);
    assert!(grad_norm(&with_nan, 2.0)?.is_nan());
    assert!(grad_norm(&with_nan, 3.0)?.is_nan());
    Ok(())
}

#[test]
fn clipping_an_empty_store_or_with_an_infinite_bound_changes_nothing() -> R {
    let mut empty = Gradients::<f32>::new();
    assert_eq!(clip_grad_norm(&mut empty, 1.0)?, 0.0);
    let p = Parameter::new(Tensor::<f32>::zeros(&[2]));
    let mut grads = store(&[(&p, vec![3e30, -4e30])]);
    let total = clip_grad_norm(&mut grads, f64::INFINITY)?;
    assert_eq!(total, 5e30);
    assert_eq!(grads.get(&p).unwrap().to_vec(), vec![3e30, -4e30]);
    Ok(())
}

#[test]
fn clip_params_only_touches_and_measures_the_given_parameters() -> R {
    let (a, b) = (
        Parameter::new(Tensor::<f64>::zeros(&[2])),
        Parameter::new(Tensor::<f64>::zeros(&[1])),
    );
    let mut grads = store(&[(&a, vec![3.0, 4.0]), (&b, vec![100.0])]);
    let total = ClipGradNorm::new(1.0).clip_params(&mut grads, std::slice::from_ref(&a))?;
    assert_eq!(total, 5.0);
    let g = grads.get(&a).unwrap().to_vec();
    let coef = 1.0 / (5.0 + 1e-6);
    assert_eq!(g, vec![3.0 * coef, 4.0 * coef]);
    assert_eq!(grads.get(&b).unwrap().to_vec(), vec![100.0]);
    Ok(())
}

#[test]
fn the_global_norm_spans_all_gradients() -> R {
    // 2-norm over [1, 2] and [2] is 3: clipping to 1.5 halves (up to the 1e-6 guard).
    let (a, b) = (
        Parameter::new(Tensor::<f64>::zeros(&[2])),
        Parameter::new(Tensor::<f64>::zeros(&[1])),
    );
    let mut grads = store(&[(&a, vec![1.0, 2.0]), (&b, vec![2.0])]);
    assert_eq!(grad_norm(&grads, 2.0)?, 3.0);
    assert_eq!(grad_norm(&grads, 1.0)?, 5.0);
    assert_eq!(grad_norm(&grads, f64::INFINITY)?, 2.0);
    assert_eq!(clip_grad_norm(&mut grads, 1.5)?, 3.0);
    let coef = 1.5 / (3.0 + 1e-6);
    assert_eq!(grads.get(&b).unwrap().to_vec(), vec![2.0 * coef]);
    Ok(())
}

#[test]
fn scheduler_bookkeeping() -> R {
    let p = Parameter::new(Tensor::<f32>::zeros(&[1]));
    let mut opt = Adam::new([p], AdamConfig::new(0.2))?;
    let schedule = WarmupCosineLr::new(2, 6)?;
    let mut sched = LrScheduler::new(schedule, &mut opt)?;
    // Built: lr for step 0 of a warm-up from 0.
    assert_eq!(
        (opt.lr(), sched.lr(), sched.current_step(), sched.base_lr()),
        (0.0, 0.0, 0, 0.2)
    );
    sched.step(&mut opt)?;
    assert_eq!((opt.lr(), sched.current_step()), (0.1, 1));
    for _ in 0..10 {
        sched.step(&mut opt)?;
        assert_eq!(opt.lr(), sched.lr());
    }
    assert_eq!(opt.lr(), 0.0);
    assert_eq!(sched.schedule(), &schedule);

    // Works through a trait object too.
    let mut boxed: Box<dyn Optimizer> = Box::new(Sgd::new(
        [Parameter::new(Tensor::zeros(&[1]))],
        SgdConfig::new(1.0),
    )?);
    let mut sched = LrScheduler::new(ExponentialLr::new(0.5)?, boxed.as_mut())?;
    sched.step(boxed.as_mut())?;
    sched.step(boxed.as_mut())?;
    assert_eq!(boxed.lr(), 0.25);
    Ok(())
}

#[test]
fn schedule_formulas_at_their_boundaries() -> R {
    let step = StepLr::new(5, 0.1)?;
    assert_eq!(step.lr_at(2.0, 4), 2.0);
    assert!((step.lr_at(2.0, 10) - 0.02).abs() < 1e-15);
    assert_eq!((step.step_size(), step.gamma()), (5, 0.1));
    let warm = WarmupCosineLr::new(4, 8)?.start_factor(0.5)?.min_lr(0.25)?;
    assert_eq!(warm.lr_at(1.0, 0), 0.5);
    assert_eq!(warm.lr_at(1.0, 2), 0.75);
    assert_eq!(warm.lr_at(1.0, 4), 1.0);
    // Cosine half-way: η_min + (η − η_min)/2.
    assert!((warm.lr_at(1.0, 6) - 0.625).abs() < 1e-15);
    assert_eq!(warm.lr_at(1.0, 8), 0.25);
    assert_eq!(warm.lr_at(1.0, 9), 0.25);
    // No warm-up.
    let cos = WarmupCosineLr::new(0, 2)?;
    assert_eq!((cos.lr_at(3.0, 0), cos.lr_at(3.0, 2)), (3.0, 0.0));
    Ok(())
}

#[test]
fn optimizers_are_debug_printable_without_dumping_state() -> R {
    let p = Parameter::new(Tensor::<f32>::zeros(&[1000]));
    let mut opt = Adam::new([p.clone()], AdamConfig::default())?;
    opt.step(&store(&[(&p, vec![1.0; 1000])]))?;
    let text = format!("{opt:?}");
    assert!(
        text.starts_with("Adam {") && text.contains("initialised: 1"),
        "{text}"
    );
    assert!(text.len() < 300, "{text}");
    let sgd = Sgd::new([p.clone()], SgdConfig::default())?;
    assert!(format!("{sgd:?}").starts_with("Sgd {"));
    let adamw = AdamW::new([p], AdamWConfig::default())?;
    assert!(format!("{adamw:?}").starts_with("AdamW {"));
    Ok(())
}

#[test]
fn large_parameters_update_the_same_on_one_and_two_threads() -> R {
    // 200,003 elements: above the size from which Adam splits the update across threads,
    // and not a multiple of the block size. Each element's update is independent, so the
    // two runs must agree bit for bit, AMSGrad's running maximum included.
    let n = 200_003;
    let values: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.37).sin()).collect();
    let grads: Vec<Vec<f32>> = (0..3)
        .map(|s| {
            (0..n)
                .map(|i| ((i * (s + 2)) as f32 * 0.011).cos())
                .collect()
        })
        .collect();
    let run = |threads: usize, amsgrad: bool| -> R<Vec<f32>> {
        ferrograd_tensor::set_num_threads(threads);
        let p = Parameter::new(Tensor::from_vec(values.clone(), &[n])?);
        let config = AdamConfig {
            amsgrad,
            weight_decay: 0.01,
            ..AdamConfig::new(1e-2)
        };
        let mut adam = Adam::new([p.clone()], config)?;
        for g in &grads {
            adam.step(&store(&[(&p, g.clone())]))?;
        }
        Ok(p.tensor().to_vec())
    };
    for amsgrad in [false, true] {
        let one = run(1, amsgrad)?;
        let two = run(2, amsgrad)?;
        assert_eq!(one, two, "amsgrad = {amsgrad}");
        assert_ne!(one, values, "the parameters moved");
    }
    ferrograd_tensor::set_num_threads(1);
    Ok(())
}
