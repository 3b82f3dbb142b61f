//! Invalid hyper-parameters and inputs are errors (as PyTorch raises), named precisely,
//! and a failed call changes nothing.

use ferrograd_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, ClipGradNorm, ExponentialLr, LrScheduler, OptimError,
    Optimizer, Sgd, SgdConfig, StepLr, WarmupCosineLr, clip_grad_norm, clip_grad_value, grad_norm,
};
use ferrograd_tensor::{Gradients, Parameter, Tensor};

fn param(values: &[f32]) -> Parameter {
    Parameter::new(Tensor::from(values.to_vec()))
}

/// The hyper-parameter an error names, or a panic if it is another error.
fn invalid_name(err: OptimError) -> &'static str {
    let message = err.to_string();
    match err {
        OptimError::InvalidHyperParameter { name, .. } => {
            assert!(message.contains(name), "{message}");
            name
        }
        other => panic!("expected InvalidHyperParameter, got {other:?}"),
    }
}

fn sgd_error(config: SgdConfig) -> &'static str {
    invalid_name(Sgd::new([param(&[1.0])], config).unwrap_err())
}

fn adam_error(config: AdamConfig) -> &'static str {
    let name = invalid_name(Adam::new([param(&[1.0])], config).unwrap_err());
    let adamw = AdamWConfig {
        lr: config.lr,
        betas: config.betas,
        eps: config.eps,
        weight_decay: config.weight_decay,
        amsgrad: config.amsgrad,
        maximize: config.maximize,
    };
    assert_eq!(
        invalid_name(AdamW::new([param(&[1.0])], adamw).unwrap_err()),
        name
    );
    name
}

#[test]
fn sgd_rejects_what_pytorch_rejects() {
    let ok = SgdConfig::new(0.1);
    assert_eq!(sgd_error(SgdConfig { lr: -0.1, ..ok }), "lr");
    assert_eq!(sgd_error(SgdConfig { lr: f64::NAN, ..ok }), "lr");
    assert_eq!(
        sgd_error(SgdConfig {
            lr: f64::INFINITY,
            ..ok
        }),
        "lr"
    );
    assert_eq!(
        sgd_error(SgdConfig {
            momentum: -0.5,
            ..ok
        }),
        "momentum"
    );
    assert_eq!(
        sgd_error(SgdConfig {
            weight_decay: -1e-4,
            ..ok
        }),
        "weight_decay"
    );
    // Nesterov needs momentum > 0 and no dampening.
    assert_eq!(
        sgd_error(SgdConfig {
            nesterov: true,
            ..ok
        }),
        "nesterov"
    );
    let nesterov_dampened = SgdConfig {
        nesterov: true,
        momentum: 0.9,
        dampening: 0.1,
        ..ok
    };
    assert_eq!(sgd_error(nesterov_dampened), "nesterov");
    // What PyTorch accepts, we accept: lr 0, dampening without momentum, any dampening.
    for config in [
        SgdConfig { lr: 0.0, ..ok },
        SgdConfig {
            dampening: 0.5,
            ..ok
        },
        SgdConfig {
            momentum: 0.9,
            dampening: -1.0,
            ..ok
        },
        SgdConfig {
            momentum: 0.9,
            nesterov: true,
            ..ok
        },
    ] {
        Sgd::new([param(&[1.0])], config).unwrap();
    }
}

#[test]
fn adam_and_adamw_reject_what_pytorch_rejects() {
    let ok = AdamConfig::new(0.1);
    assert_eq!(adam_error(AdamConfig { lr: -1e-3, ..ok }), "lr");
    assert_eq!(adam_error(AdamConfig { eps: -1e-8, ..ok }), "eps");
    assert_eq!(
        adam_error(AdamConfig {
            eps: f64::NAN,
            ..ok
        }),
        "eps"
    );
    assert_eq!(
        adam_error(AdamConfig {
            betas: (1.0, 0.999),
            ..ok
        }),
        "betas.0"
    );
    assert_eq!(
        adam_error(AdamConfig {
            betas: (-0.1, 0.999),
            ..ok
        }),
        "betas.0"
    );
    assert_eq!(
        adam_error(AdamConfig {
            betas: (0.9, 1.0),
            ..ok
        }),
        "betas.1"
    );
    assert_eq!(
        adam_error(AdamConfig {
            betas: (0.9, f64::NAN),
            ..ok
        }),
        "betas.1"
    );
    assert_eq!(
        adam_error(AdamConfig {
            weight_decay: -0.01,
            ..ok
        }),
        "weight_decay"
    );
    // The edges PyTorch accepts.
    let edges = AdamConfig {
        lr: 0.0,
        betas: (0.0, 0.0),
        eps: 0.0,
        ..ok
    };
    Adam::new([param(&[1.0])], edges).unwrap();
}

#[test]
fn error_messages_name_the_operation_and_value() {
    let err = Adam::new(
        [param(&[1.0])],
        AdamConfig {
            betas: (1.5, 0.9),
            ..AdamConfig::default()
        },
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("Adam::new: invalid betas.0 = 1.5"),
        "{message}"
    );
    let err = AdamW::new([param(&[1.0])], AdamWConfig::new(-1.0)).unwrap_err();
    assert!(
        err.to_string().starts_with("AdamW::new: invalid lr = -1"),
        "{err}"
    );
}

#[test]
fn empty_and_duplicate_parameter_lists_are_errors() {
    let err = Sgd::<f32>::new([], SgdConfig::default()).unwrap_err();
    assert!(
        matches!(err, OptimError::EmptyParameterList { op: "Sgd::new" }),
        "{err:?}"
    );
    let err = Adam::<f32>::new(Vec::new(), AdamConfig::default()).unwrap_err();
    assert!(matches!(err, OptimError::EmptyParameterList { .. }));

    let (a, b) = (param(&[1.0]), param(&[2.0]));
    let err = AdamW::new([a.clone(), b, a.clone()], AdamWConfig::default()).unwrap_err();
    match err {
        OptimError::DuplicateParameter {
            op,
            index,
            first,
            id,
        } => {
            assert_eq!((op, index, first, id), ("AdamW::new", 2, 0, a.id()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_gradient_of_the_wrong_shape_is_an_error_and_nothing_moves() {
    let (a, b) = (param(&[1.0, 2.0]), param(&[3.0, 4.0, 5.0]));
    let mut grads = Gradients::new();
    grads.insert(&a, Tensor::from([1.0, 1.0]));
    grads.insert(&b, Tensor::from_vec(vec![1.0; 3], &[3, 1]).unwrap());
    let mut opts: Vec<Box<dyn Optimizer>> = vec![
        Box::new(Sgd::new([a.clone(), b.clone()], SgdConfig::new(0.1)).unwrap()),
        Box::new(Adam::new([a.clone(), b.clone()], AdamConfig::new(0.1)).unwrap()),
        Box::new(AdamW::new([a.clone(), b.clone()], AdamWConfig::new(0.1)).unwrap()),
    ];
    for opt in &mut opts {
        let err = opt.step(&grads).unwrap_err();
        let message = err.to_string();
        match err {
            OptimError::GradientShape {
                index,
                id,
                param,
                grad,
                ..
            } => {
                assert_eq!((index, id), (1, b.id()));
                assert_eq!((param.0, grad.0), (vec![3], vec![3, 1]));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            message.contains("shape [3, 1]") && message.contains("shape [3]"),
            "{message}"
        );
        // Parameter 0, whose gradient is fine, was not updated either.
        assert_eq!(a.tensor().to_vec(), vec![1.0, 2.0]);
        assert_eq!(b.tensor().to_vec(), vec![3.0, 4.0, 5.0]);
    }
}

#[test]
fn set_lr_rejects_negative_and_non_finite_rates() {
    let mut opt = Sgd::new([param(&[1.0])], SgdConfig::new(0.1)).unwrap();
    assert_eq!(invalid_name(opt.set_lr(-0.1).unwrap_err()), "lr");
    assert_eq!(invalid_name(opt.set_lr(f64::NAN).unwrap_err()), "lr");
    assert_eq!(opt.lr(), 0.1);
    opt.set_lr(0.0).unwrap();
    assert_eq!(opt.lr(), 0.0);
}

#[test]
fn schedules_reject_invalid_settings() {
    assert_eq!(invalid_name(StepLr::new(0, 0.5).unwrap_err()), "step_size");
    assert_eq!(invalid_name(StepLr::new(2, -0.5).unwrap_err()), "gamma");
    assert_eq!(
        invalid_name(ExponentialLr::new(f64::NAN).unwrap_err()),
        "gamma"
    );
    assert_eq!(
        invalid_name(WarmupCosineLr::new(10, 10).unwrap_err()),
        "total_steps"
    );
    let s = WarmupCosineLr::new(1, 10).unwrap();
    assert_eq!(
        invalid_name(s.start_factor(1.5).unwrap_err()),
        "start_factor"
    );
    assert_eq!(invalid_name(s.min_lr(-1.0).unwrap_err()), "min_lr");
}

#[test]
fn clipping_rejects_invalid_settings_and_non_finite_norms_on_request() {
    let p = param(&[0.0, 0.0]);
    let mut grads = Gradients::new();
    grads.insert(&p, Tensor::from([f32::INFINITY, 1.0]));

    assert_eq!(
        invalid_name(clip_grad_norm(&mut grads, -1.0).unwrap_err()),
        "max_norm"
    );
    assert_eq!(
        invalid_name(clip_grad_norm(&mut grads, f64::NAN).unwrap_err()),
        "max_norm"
    );
    let zero_order = ClipGradNorm {
        norm_type: 0.0,
        ..ClipGradNorm::new(1.0)
    };
    assert_eq!(
        invalid_name(zero_order.clip(&mut grads).unwrap_err()),
        "norm_type"
    );
    assert_eq!(
        invalid_name(grad_norm(&grads, -2.0).unwrap_err()),
        "norm_type"
    );
    assert_eq!(
        invalid_name(clip_grad_value(&mut grads, -0.5).unwrap_err()),
        "clip_value"
    );

    let strict = ClipGradNorm {
        error_if_nonfinite: true,
        ..ClipGradNorm::new(1.0)
    };
    match strict.clip(&mut grads).unwrap_err() {
        OptimError::NonFiniteNorm {
            norm_type, total, ..
        } => {
            assert_eq!((norm_type, total), (2.0, f64::INFINITY));
        }
        other => panic!("{other:?}"),
    }
    // Left unchanged by the failed call.
    assert_eq!(grads.get(&p).unwrap().to_vec(), vec![f32::INFINITY, 1.0]);
}

#[test]
fn errors_from_the_tensor_layer_are_wrapped() {
    let err: OptimError = Tensor::<f32>::from_vec(vec![1.0], &[2]).unwrap_err().into();
    assert!(matches!(err, OptimError::Tensor(_)));
    assert!(err.to_string().contains("from_vec"), "{err}");
}

#[test]
fn a_scheduler_giving_a_negative_rate_is_an_error() {
    #[derive(Debug)]
    struct Negative;
    impl ferrograd_optim::LrSchedule for Negative {
        fn lr_at(&self, base_lr: f64, step: u64) -> f64 {
            base_lr - step as f64
        }
    }
    let mut opt = Sgd::new([param(&[1.0])], SgdConfig::new(0.5)).unwrap();
    let mut sched = LrScheduler::new(Negative, &mut opt).unwrap();
    assert_eq!(invalid_name(sched.step(&mut opt).unwrap_err()), "lr");
    // Neither the optimizer nor the scheduler moved.
    assert_eq!((opt.lr(), sched.current_step()), (0.5, 0));
}
