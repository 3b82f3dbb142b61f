//! Saving and restoring optimizer state: a run interrupted after 5 steps, saved to a file
//! and resumed in a fresh optimizer gives bit-identical parameters to an uninterrupted
//! 10-step run; state files that do not fit are errors that change nothing.

use ferrograd_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, LrScheduler, OptimError, Optimizer, Sgd, SgdConfig,
    StateDict, WarmupCosineLr, clip_grad_norm, load_state, load_state_bytes, save_state,
    save_state_bytes,
};
use ferrograd_tensor::{Parameter, Scalar, Tensor};
use std::path::PathBuf;

type R<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// A file in the system's temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        Self(std::env::temp_dir().join(format!(
            "ferrograd-optim-{name}-{}.safetensors",
            std::process::id()
        )))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn initial<T: Scalar>() -> Vec<Parameter<T>> {
    let t = |v: &[f64], shape: &[usize]| {
        let data = v.iter().map(|&x| T::from_f64(x)).collect();
        Parameter::new(Tensor::from_vec(data, shape).unwrap())
    };
    vec![
        t(&[0.3, -0.7, 1.1, 0.05, -0.2, 0.9], &[3, 2]),
        t(&[0.1, -0.1, 0.2], &[3]),
        t(&[0.5, -0.25, 0.75], &[1, 3]),
    ]
}

/// A small non-convex objective of all three parameters, with gradient clipping, so that
/// every piece of state matters.
fn train_step<T: Scalar>(params: &[Parameter<T>], opt: &mut dyn Optimizer<T>, step: usize) -> R {
    let x = Tensor::from_vec(
        (0..8)
            .map(|i| T::from_f64(((i * 7 + step * 3) % 11) as f64 / 5.0 - 1.0))
            .collect(),
        &[4, 2],
    )?;
    let h = x
        .matmul(&params[0].tensor().t()?)?
        .add(&params[1].tensor())?
        .tanh();
    let out = h.matmul(&params[2].tensor().t()?)?;
    let loss = out.sub_scalar(T::from_f64(0.5)).square().mean_all();
    let mut grads = loss.backward()?;
    clip_grad_norm(&mut grads, 0.5)?;
    opt.step(&grads)?;
    Ok(())
}

fn values<T: Scalar>(params: &[Parameter<T>]) -> Vec<Vec<T>> {
    params.iter().map(|p| p.tensor().to_vec()).collect()
}

/// 10 steps straight vs 5 steps, save (optimizer + scheduler) to a file, load into a fresh
/// optimizer and scheduler (over a fresh copy of the parameters at step 5), 5 more steps.
fn resume_is_bit_identical<T: Scalar, O: Optimizer<T>>(
    name: &str,
    make: impl Fn(Vec<Parameter<T>>) -> O,
) -> R {
    let schedule = WarmupCosineLr::new(3, 10)?
        .start_factor(0.2)?
        .min_lr(1e-4)?;

    let straight = initial::<T>();
    let mut opt = make(straight.clone());
    let mut sched = LrScheduler::new(schedule, &mut opt)?;
    for step in 0..10 {
        train_step(&straight, &mut opt, step)?;
        sched.step(&mut opt)?;
    }

    let first = initial::<T>();
    let mut opt = make(first.clone());
    let mut sched = LrScheduler::new(schedule, &mut opt)?;
    for step in 0..5 {
        train_step(&first, &mut opt, step)?;
        sched.step(&mut opt)?;
    }
    let file = TempFile::new(name);
    let mut dict = opt.state_dict();
    sched.write_state(&mut dict);
    save_state(&file.0, &dict)?;
    let at_five = values(&first);
    drop((opt, sched, first));

    // A new process would rebuild the model and load its weights; here: fresh parameters
    // (new ids) holding the step-5 values, and an optimizer built with other settings.
    let resumed: Vec<Parameter<T>> = at_five
        .iter()
        .zip(initial::<T>())
        .map(|(v, p)| Parameter::new(Tensor::from_vec(v.clone(), &p.shape()).unwrap()))
        .collect();
    let mut opt = make(resumed.clone());
    opt.set_lr(123.0)?;
    let loaded = load_state::<T>(&file.0)?;
    opt.load_state_dict(&loaded)?;
    let mut sched = LrScheduler::from_state(schedule, &loaded)?;
    assert_eq!(sched.current_step(), 5);
    assert_eq!(opt.lr(), sched.lr()); // restored by load_state_dict, not by the scheduler
    for step in 5..10 {
        train_step(&resumed, &mut opt, step)?;
        sched.step(&mut opt)?;
    }

    let (a, b) = (values(&straight), values(&resumed));
    for (x, y) in a.iter().zip(&b) {
        let (x, y): (Vec<u64>, Vec<u64>) = (
            x.iter().map(|v| v.to_f64().to_bits()).collect(),
            y.iter().map(|v| v.to_f64().to_bits()).collect(),
        );
        assert_eq!(
            x, y,
            "{name}: resumed parameters differ from the uninterrupted run"
        );
    }
    assert_ne!(
        values(&initial::<T>()),
        a,
        "{name}: the run must have moved the weights"
    );
    Ok(())
}

#[test]
fn sgd_nesterov_resumes_bit_identically() -> R {
    let config = SgdConfig {
        momentum: 0.9,
        nesterov: true,
        weight_decay: 1e-3,
        ..SgdConfig::new(0.3)
    };
    resume_is_bit_identical::<f32, _>("sgd", |p| Sgd::new(p, config).unwrap())?;
    resume_is_bit_identical::<f64, _>("sgd64", |p| Sgd::new(p, config).unwrap())
}

#[test]
fn adam_amsgrad_resumes_bit_identically() -> R {
    let config = AdamConfig {
        amsgrad: true,
        weight_decay: 0.01,
        ..AdamConfig::new(0.05)
    };
    resume_is_bit_identical::<f32, _>("adam", |p| Adam::new(p, config).unwrap())?;
    resume_is_bit_identical::<f64, _>("adam64", |p| Adam::new(p, config).unwrap())
}

#[test]
fn adamw_resumes_bit_identically() -> R {
    let config = AdamWConfig {
        weight_decay: 0.1,
        ..AdamWConfig::new(0.05)
    };
    resume_is_bit_identical::<f32, _>("adamw", |p| AdamW::new(p, config).unwrap())
}

#[test]
fn state_dicts_name_entries_as_pytorch() -> R {
    let params = initial::<f32>();
    let mut opt = Adam::new(
        params.clone(),
        AdamConfig {
            amsgrad: true,
            ..AdamConfig::new(0.1)
        },
    )?;
    train_step(&params, &mut opt, 0)?;
    let dict = opt.state_dict();
    assert_eq!(dict.kind, "Adam");
    let names: Vec<&str> = dict.tensors.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "state.0.exp_avg",
            "state.0.exp_avg_sq",
            "state.0.max_exp_avg_sq",
            "state.1.exp_avg",
            "state.1.exp_avg_sq",
            "state.1.max_exp_avg_sq",
            "state.2.exp_avg",
            "state.2.exp_avg_sq",
            "state.2.max_exp_avg_sq",
        ]
    );
    assert_eq!(dict.scalar("state.1.step"), Some(1.0));
    assert_eq!(dict.scalar("lr"), Some(0.1));
    assert_eq!(dict.scalar("amsgrad"), Some(1.0));
    assert_eq!(dict.tensor("state.0.exp_avg").unwrap().shape(), &[3, 2]);
    Ok(())
}

/// Loads `dict` into a fresh Adam over `initial()`, expecting a `StateDict` error whose
/// message contains `needle`, and checks that the optimizer is unchanged.
fn rejects(dict: &StateDict, needle: &str) {
    let params = initial::<f32>();
    let mut opt = Adam::new(params, AdamConfig::new(0.5)).unwrap();
    let before = format!("{opt:?}");
    let err = opt.load_state_dict(dict).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, OptimError::StateDict { .. }), "{err:?}");
    assert!(
        message.contains(needle),
        "{message:?} should mention {needle:?}"
    );
    assert_eq!(format!("{opt:?}"), before);
}

#[test]
fn state_dicts_that_do_not_fit_are_rejected() -> R {
    let params = initial::<f32>();
    let mut opt = Adam::new(params.clone(), AdamConfig::new(0.1))?;
    train_step(&params, &mut opt, 0)?;
    let good = opt.state_dict();

    let mut other = good.clone();
    other.kind = "AdamW".into();
    rejects(&other, "written by \"AdamW\"");

    let mut other = good.clone();
    other.scalars.insert("num_params".into(), 4.0);
    rejects(&other, "4 parameters");

    let mut other = good.clone();
    other
        .tensors
        .insert("state.1.exp_avg".into(), Tensor::zeros(&[2]));
    rejects(&other, "shape [2], but parameter 1");

    let mut other = good.clone();
    other.tensors.remove("state.2.exp_avg_sq");
    rejects(&other, "missing state tensor \"state.2.exp_avg_sq\"");

    let mut other = good.clone();
    other.scalars.remove("beta2");
    rejects(&other, "missing scalar \"beta2\"");

    let mut other = good.clone();
    other.scalars.insert("momentum".into(), 0.9);
    rejects(&other, "unknown scalar \"momentum\"");

    let mut other = good.clone();
    other
        .tensors
        .insert("state.0.momentum_buffer".into(), Tensor::zeros(&[3, 2]));
    rejects(&other, "unknown state tensor");

    let mut other = good.clone();
    other.scalars.insert("state.0.step".into(), 1.5);
    rejects(&other, "whole number");

    let mut other = good.clone();
    other.scalars.insert("amsgrad".into(), 0.5);
    rejects(&other, "must be 0 or 1");

    // amsgrad on, but no max_exp_avg_sq saved.
    let mut other = good.clone();
    other.scalars.insert("amsgrad".into(), 1.0);
    rejects(&other, "max_exp_avg_sq");

    // An out-of-range hyper-parameter is the constructor's error.
    let mut other = good.clone();
    other.scalars.insert("beta1".into(), 1.0);
    let mut opt = Adam::new(initial::<f32>(), AdamConfig::default())?;
    assert!(matches!(
        opt.load_state_dict(&other),
        Err(OptimError::InvalidHyperParameter {
            name: "betas.0",
            ..
        })
    ));

    // Scheduler entries are not the optimizer's business.
    let mut with_scheduler = good.clone();
    with_scheduler.scalars.insert("scheduler.step".into(), 3.0);
    Adam::new(initial::<f32>(), AdamConfig::default())?.load_state_dict(&with_scheduler)?;
    Ok(())
}

#[test]
fn sgd_state_round_trips_through_a_file() -> R {
    let params = initial::<f64>();
    let mut opt = Sgd::new(
        params.clone(),
        SgdConfig {
            momentum: 0.5,
            dampening: 0.1,
            maximize: true,
            ..SgdConfig::new(0.01)
        },
    )?;
    train_step(&params, &mut opt, 0)?;
    let file = TempFile::new("sgd-roundtrip");
    save_state(&file.0, &opt.state_dict())?;
    let loaded = load_state::<f64>(&file.0)?;
    let mut fresh = Sgd::new(params.clone(), SgdConfig::default())?;
    fresh.load_state_dict(&loaded)?;
    assert_eq!(fresh.config(), opt.config());
    for i in 0..3 {
        assert_eq!(fresh.momentum_buffer(i), opt.momentum_buffer(i));
    }
    // Scalars survive exactly, even ones f32 cannot hold, in an f32 file.
    let mut dict = StateDict::<f32>::new("Sgd");
    dict.scalars.insert("lr".into(), 0.1);
    dict.scalars.insert("tiny".into(), 1e-300);
    dict.scalars.insert("big".into(), 9_007_199_254_740_991.0);
    save_state(&file.0, &dict)?;
    let back = load_state::<f32>(&file.0)?;
    assert_eq!(back.scalars, dict.scalars);
    assert_eq!(back.kind, "Sgd");
    Ok(())
}

#[test]
fn bad_state_files_are_errors() -> R {
    let file = TempFile::new("bad");
    // Missing file.
    assert!(matches!(
        load_state::<f32>(&file.0),
        Err(OptimError::Tensor(_))
    ));
    // Truncated file.
    let params = initial::<f32>();
    let mut opt = AdamW::new(params.clone(), AdamWConfig::default())?;
    train_step(&params, &mut opt, 0)?;
    save_state(&file.0, &opt.state_dict())?;
    let bytes = std::fs::read(&file.0)?;
    std::fs::write(&file.0, &bytes[..bytes.len() - 3])?;
    assert!(matches!(
        load_state::<f32>(&file.0),
        Err(OptimError::Tensor(_))
    ));
    // Wrong element type.
    std::fs::write(&file.0, &bytes)?;
    assert!(matches!(
        load_state::<f64>(&file.0),
        Err(OptimError::Tensor(_))
    ));
    // A safetensors file that is not an optimizer state.
    ferrograd_tensor::io::save_safetensors(&file.0, &[("weight", &Tensor::<f32>::ones(&[2]))])?;
    let err = load_state::<f32>(&file.0).unwrap_err();
    assert!(
        err.to_string().contains("not an optimizer state file"),
        "{err}"
    );
    // Reserved names cannot be saved.
    let mut dict = StateDict::<f32>::new("Sgd");
    dict.tensors.insert("__kind__".into(), Tensor::zeros(&[1]));
    assert!(matches!(
        save_state(&file.0, &dict),
        Err(OptimError::StateDict { .. })
    ));
    Ok(())
}

#[test]
fn state_bytes_in_memory_match_the_file_forms() -> R {
    let params = initial::<f32>();
    let mut opt = Adam::new(
        params.clone(),
        AdamConfig {
            amsgrad: true,
            ..AdamConfig::new(0.01)
        },
    )?;
    train_step(&params, &mut opt, 0)?;
    let dict = opt.state_dict();
    let file = TempFile::new("bytes");
    save_state(&file.0, &dict)?;
    let bytes = save_state_bytes(&dict)?;
    assert_eq!(std::fs::read(&file.0)?, bytes);

    let loaded = load_state_bytes::<f32>(&bytes, "adam.bin")?;
    let from_file = load_state::<f32>(&file.0)?;
    assert_eq!(loaded.kind, from_file.kind);
    assert_eq!(loaded.scalars, from_file.scalars);
    assert_eq!(
        loaded.tensors.keys().collect::<Vec<_>>(),
        from_file.tensors.keys().collect::<Vec<_>>()
    );
    for (name, t) in &loaded.tensors {
        assert_eq!(t.to_vec(), from_file.tensors[name].to_vec(), "{name}");
    }
    let mut fresh = Adam::new(params.clone(), AdamConfig::default())?;
    fresh.load_state_dict(&loaded)?;
    assert_eq!(fresh.step_count(0), 1);

    // Errors name the call and the bytes' name, as the file forms name the file.
    let err = load_state_bytes::<f32>(&bytes[..bytes.len() - 1], "adam.bin").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("load_safetensors_bytes: adam.bin: "),
        "{err}"
    );
    let plain = ferrograd_tensor::io::save_safetensors_bytes(&[("w", &Tensor::<f32>::ones(&[2]))])?;
    let err = load_state_bytes::<f32>(&plain, "adam.bin").unwrap_err();
    assert_eq!(
        err.to_string(),
        "load_state_bytes: adam.bin: not an optimizer state file (no \"__kind__\" entry)"
    );
    let mut reserved = StateDict::<f32>::new("Sgd");
    reserved.tensors.insert("__x".into(), Tensor::zeros(&[1]));
    assert!(
        save_state_bytes(&reserved)
            .unwrap_err()
            .to_string()
            .starts_with("save_state_bytes: ")
    );
    Ok(())
}

/// Found by fuzzing: a file with an extra entry named like the file's own ("__…") loaded,
/// and the state then could not be saved again (save_state reserves those names).
#[test]
fn reserved_names_are_rejected_on_load_as_on_save() -> R {
    let kind = Tensor::<f32>::from_vec(b"Sgd".iter().map(|&b| f32::from(b)).collect(), &[3])?;
    let odd = Tensor::<f32>::zeros(&[2]);
    let bytes = ferrograd_tensor::io::save_safetensors_bytes(&[
        ("__kind__", &kind),
        ("__schlar__.eps", &odd),
    ])?;
    let err = load_state_bytes::<f32>(&bytes, "odd.bin").unwrap_err();
    assert_eq!(
        err.to_string(),
        "load_state_bytes: odd.bin: unknown reserved entry \"__schlar__.eps\" \
         (names starting with \"__\" are the file's own)"
    );
    Ok(())
}

#[test]
fn loading_another_optimizers_file_names_the_file() -> R {
    let params = initial::<f32>();
    let config = SgdConfig {
        momentum: 0.9,
        ..SgdConfig::new(0.1)
    };
    let mut sgd = Sgd::new(params.clone(), config)?;
    train_step(&params, &mut sgd, 0)?;
    let path = std::env::temp_dir().join(format!(
        "ferrograd-sgd-state-{}.safetensors",
        std::process::id()
    ));
    sgd.save(&path)?;
    let mut adam = Adam::new(params, AdamConfig::new(0.1))?;
    let message = adam.load(&path).unwrap_err().to_string();
    std::fs::remove_file(&path).ok();
    assert!(
        message.contains(path.to_str().unwrap()) && message.contains("written by \"Sgd\""),
        "{message}"
    );
    Ok(())
}
