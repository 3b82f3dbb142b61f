//! `ferrograd_optim`: optimizer state read with `load_state_bytes` at `f32` and `f64`,
//! loaded into SGD, Adam and AdamW over two parameters and stepped, learning-rate
//! schedulers restored from it and stepped, and the state written back and read again.
//!
//! Checked beyond "no panic": errors name the source; a state that loads into an
//! optimizer leaves it able to step; the state round-trips through bytes unchanged.

use crate::{Rng, Target, formats};
use ferrograd_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, ExponentialLr, LrScheduler, Optimizer, Sgd, SgdConfig,
    StateDict, StepLr, WarmupCosineLr, load_state_bytes, save_state_bytes,
};
use ferrograd_tensor::{Gradients, Parameter, Scalar, Tensor};

/// The target.
pub const TARGET: Target = Target {
    name: "optim_state",
    about: "ferrograd_optim state loading, restoring into optimizers and schedulers",
    run,
    seeds,
    dictionary: DICTIONARY,
    mutate: Some(mutate),
    max_len: 4096,
};

const NAME: &str = "fuzz-state.safetensors";

/// Entry names of the state files.
const NAMES: &[&str] = &[
    "__kind__",
    "__scalar__.lr",
    "__scalar__.num_params",
    "__scalar__.momentum",
    "__scalar__.nesterov",
    "__scalar__.amsgrad",
    "__scalar__.beta1",
    "__scalar__.state.0.step",
    "__scalar__.state.1.step",
    "__scalar__.scheduler.step",
    "__scalar__.scheduler.base_lr",
    "state.0.exp_avg",
    "state.0.exp_avg_sq",
    "state.0.max_exp_avg_sq",
    "state.1.momentum_buffer",
    "state.2.exp_avg",
];

const DICTIONARY: &[&[u8]] = &[
    b"__kind__",
    b"__scalar__.",
    b"state.0.",
    b"state.1.",
    b"Adam",
    b"AdamW",
    b"Sgd",
    b"\"F32\"",
    b"\"F64\"",
    b"\"U8\"",
    b"\"shape\"",
    b"\"data_offsets\"",
];

fn mutate(data: &mut Vec<u8>, rng: &mut Rng) {
    formats::mutate_safetensors(data, rng, NAMES);
}

/// The two parameters every optimizer here is built over: shapes `[2]` and `[3, 1]`.
fn params<T: Scalar>() -> Vec<Parameter<T>> {
    let t = |v: &[f64], shape: &[usize]| {
        let data = v.iter().map(|&x| T::from_f64(x)).collect();
        Parameter::new(Tensor::from_vec(data, shape).expect("values fill the shape"))
    };
    vec![
        t(&[1.0, -2.0], &[2]),
        t(&[0.5, 0.25, -1.0], &[3, 1]),
    ]
}

fn grads<T: Scalar>(params: &[Parameter<T>]) -> Gradients<T> {
    let loss = params[0]
        .tensor()
        .square()
        .sum_all()
        .add(&params[1].tensor().sum_all())
        .expect("scalars add");
    loss.backward().expect("the loss has a graph")
}

/// State files written by ferrograd's optimizers after a step, with scheduler state.
pub fn seeds() -> Vec<Vec<u8>> {
    fn of<T: Scalar>() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let p = params::<T>();
        let mut sgd = Sgd::new(
            p.clone(),
            SgdConfig {
                momentum: 0.9,
                nesterov: true,
                ..SgdConfig::new(0.1)
            },
        )
        .expect("valid config");
        let mut adam = Adam::new(
            p.clone(),
            AdamConfig {
                amsgrad: true,
                ..AdamConfig::new(0.01)
            },
        )
        .expect("valid config");
        let mut adamw = AdamW::new(p.clone(), AdamWConfig::new(0.001)).expect("valid config");
        let optimizers: [&mut dyn Optimizer<T>; 3] = [&mut sgd, &mut adam, &mut adamw];
        for opt in optimizers {
            opt.step(&grads(&p)).expect("a step");
            let mut dict = opt.state_dict();
            LrScheduler::new(StepLr::new(2, 0.5).expect("valid"), opt)
                .expect("a scheduler")
                .write_state(&mut dict);
            out.push(save_state_bytes(&dict).expect("state encodes"));
        }
        out
    }
    let mut seeds = of::<f32>();
    seeds.extend(of::<f64>());
    seeds
}

/// Feeds `data` to the state reader and everything that takes a state.
pub fn run(data: &[u8]) {
    exercise::<f32>(data);
    exercise::<f64>(data);
}

fn exercise<T: Scalar>(data: &[u8]) {
    let state = match load_state_bytes::<T>(data, NAME) {
        Ok(state) => state,
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains(NAME), "error does not name the source: {text}");
            return;
        }
    };
    crate::accepted();
    round_trip(&state);
    let p = params::<T>();
    let g = grads(&p);
    let sgd = Sgd::new(p.clone(), SgdConfig::default()).map(|o| Box::new(o) as Box<dyn Optimizer<T>>);
    let adam = Adam::new(p.clone(), AdamConfig::default()).map(|o| Box::new(o) as Box<dyn Optimizer<T>>);
    let adamw =
        AdamW::new(p.clone(), AdamWConfig::default()).map(|o| Box::new(o) as Box<dyn Optimizer<T>>);
    for opt in [sgd, adam, adamw] {
        let mut opt = opt.expect("default configs are valid");
        if opt.load_state_dict(&state).is_ok() {
            opt.step(&g).expect("a loaded optimizer steps");
            let _ = opt.state_dict();
        }
        schedulers(&state, opt.as_mut());
    }
}

fn schedulers<T: Scalar>(state: &StateDict<T>, opt: &mut dyn Optimizer<T>) {
    if let Ok(mut s) = LrScheduler::from_state(StepLr::new(3, 0.1).expect("valid"), state) {
        let _ = s.step(opt);
        let _ = s.lr();
    }
    if let Ok(mut s) = LrScheduler::from_state(ExponentialLr::new(0.9).expect("valid"), state) {
        let _ = s.step(opt);
    }
    let cosine = WarmupCosineLr::new(5, 20).expect("valid");
    if let Ok(mut s) = LrScheduler::from_state(cosine, state) {
        let _ = s.step(opt);
        let _ = s.lr();
    }
}

/// A loaded state written back and read again is the same state.
fn round_trip<T: Scalar>(state: &StateDict<T>) {
    let bytes = save_state_bytes(state).expect("a loaded state can be written back");
    let again = load_state_bytes::<T>(&bytes, NAME).expect("a written state reads back");
    assert_eq!(again.kind, state.kind, "round trip changed the kind");
    assert_eq!(
        again.scalars.keys().collect::<Vec<_>>(),
        state.scalars.keys().collect::<Vec<_>>(),
        "round trip changed the scalars' names"
    );
    for (name, v) in &state.scalars {
        assert_eq!(
            again.scalars[name].to_bits(),
            v.to_bits(),
            "round trip changed scalar {name}"
        );
    }
    assert_eq!(
        again.tensors.keys().collect::<Vec<_>>(),
        state.tensors.keys().collect::<Vec<_>>(),
        "round trip changed the tensors' names"
    );
    for (name, t) in &state.tensors {
        let back = &again.tensors[name];
        assert_eq!(back.shape(), t.shape(), "round trip changed {name}'s shape");
        let same = back
            .to_vec()
            .iter()
            .zip(t.to_vec())
            .all(|(a, b)| a.to_f64().to_bits() == b.to_f64().to_bits() || (a.is_nan() && b.is_nan()));
        assert!(same, "round trip changed {name}'s values");
    }
}
