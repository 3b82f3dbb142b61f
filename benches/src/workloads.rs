//! The workloads. [`build`] returns a closure that runs one unit of work (one training
//! step, one product…) on state prepared beforehand, so that only the work is timed.

use ferrograd::prelude::*;

/// A prepared workload: call it to run one unit of work.
pub type Workload = Box<dyn FnMut()>;

/// Names of every workload, as `benches/pytorch/workloads.py` spells them.
pub const NAMES: &[&str] = &[
    "logreg_loop",
    "mlp_step",
    "lm_step",
    "matmul_64",
    "matmul_256",
    "matmul_512",
    "matmul_1024",
    "add_1m",
    "softmax_64x32000",
];

/// Prepares the named workload, or `None` for an unknown name.
pub fn build(name: &str) -> Option<Workload> {
    Some(match name {
        "matmul_64" => matmul(64),
        "matmul_256" => matmul(256),
        "matmul_512" => matmul(512),
        "matmul_1024" => matmul(1024),
        "add_1m" => add_1m(),
        "softmax_64x32000" => softmax(),
        _ => return None,
    })
}

/// What one call of the workload does, for tables.
pub fn unit(name: &str) -> &'static str {
    match name {
        "logreg_loop" => "500 steps",
        "mlp_step" | "lm_step" => "step",
        n if n.starts_with("matmul") => "product",
        "add_1m" => "add",
        _ => "softmax",
    }
}

fn matmul(n: usize) -> Workload {
    let mut rng = Rng::new(0);
    let a = Tensor::<f32>::randn(&[n, n], 0.0, 1.0, &mut rng);
    let b = Tensor::<f32>::randn(&[n, n], 0.0, 1.0, &mut rng);
    Box::new(move || {
        std::hint::black_box(a.matmul(&b).expect("square shapes"));
    })
}

fn add_1m() -> Workload {
    let mut rng = Rng::new(0);
    let a = Tensor::<f32>::randn(&[1_000_000], 0.0, 1.0, &mut rng);
    let b = Tensor::<f32>::randn(&[1_000_000], 0.0, 1.0, &mut rng);
    Box::new(move || {
        std::hint::black_box(a.add(&b).expect("same shapes"));
    })
}

fn softmax() -> Workload {
    let mut rng = Rng::new(0);
    let x = Tensor::<f32>::randn(&[64, 32000], 0.0, 1.0, &mut rng);
    Box::new(move || {
        std::hint::black_box(x.softmax(-1).expect("axis exists"));
    })
}
