//! Replays of PyTorch runs: the same problems, from the same initial weights, with the same
//! hyper-parameters, must give PyTorch's loss at every step and its final weights.
//!
//! The expected numbers are in `reference/pytorch_values.rs`, written by
//! `reference/gen_reference.py` (PyTorch 2.15.0, CPU, float32, `foreach=False`, one
//! thread): run `python3 gen_reference.py > pytorch_values.rs` in `tests/reference/`. The
//! data and initial weights below are copied from that script's literals.
//!
//! Tolerances. PyTorch and ferrograd do the same f32 operations in the same order, but not
//! bit for bit: PyTorch's vectorised kernels fuse multiply-adds, its `tanh`, `exp` and
//! `log` are other implementations (a few ulp apart), and its matmul and mean sum in
//! another order. Each step thus differs by a few ulp (f32 ulp ≈ 6e-8 relative), and the
//! differences propagate through 15-20 steps; Adam's normalisation `m / sqrt(v)` can
//! amplify them for weights whose gradient is near 0. The largest relative differences
//! measured are 4.2e-7 on losses and 9.1e-7 on final weights (each test prints its own with
//! `--nocapture`), so we assert 1e-5 relative (on weights: relative to max(|w|, 0.1), i.e.
//! an absolute 1e-6 floor for weights near 0), a margin of ~10x. Still, a wrong formula
//! fails: applying dampening on SGD's first momentum step is off by 12%, ε added before
//! Adam's bias correction by 4% (with ε = 0.01) and by 2.5e-5 (with ε = 1e-6).

#[path = "reference/pytorch_values.rs"]
#[allow(dead_code, clippy::excessive_precision, clippy::approx_constant)]
mod reference;

use ferrograd_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, ClipGradNorm, ExponentialLr, LrSchedule, LrScheduler,
    Optimizer, Sgd, SgdConfig, StepLr, WarmupCosineLr, clip_grad_norm, clip_grad_value,
};
use ferrograd_tensor::{Gradients, Parameter, Tensor};
use reference::*;

// ----- data and initial weights: the literals of gen_reference.py ---------------------

const XLIN: [[f32; 3]; 6] = [
    [-1.772, 1.9004, -1.9085],
    [0.9992, 1.3795, -1.9277],
    [1.151, -0.5353, 0.3141],
    [-1.9637, -1.8131, -1.2763],
    [1.8207, -1.2139, 1.0229],
    [1.7186, 1.7682, -0.6225],
];
const YLIN: [[f32; 1]; 6] = [[-0.8712], [0.1482], [1.6536], [-2.3517], [1.4904], [1.7834]];
const WLIN: [[f32; 3]; 1] = [[0.3597, -0.4634, 0.4458]];
const BLIN: [f32; 1] = [-0.4088];

const X: [[f32; 2]; 8] = [
    [1.8459, 0.1569],
    [0.7113, -1.1809],
    [1.7639, 0.7626],
    [1.8663, 1.575],
    [-0.8048, -0.5552],
    [-1.3362, -1.4172],
    [-1.7394, -0.7946],
    [0.4124, -1.9865],
];
const YREG: [[f32; 1]; 8] = [
    [0.3559],
    [-0.3242],
    [-0.3801],
    [0.637],
    [-0.0385],
    [-0.3684],
    [-0.0376],
    [0.4093],
];
const YCLS: [[f32; 1]; 8] = [[1.0], [0.0], [0.0], [1.0], [1.0], [0.0], [1.0], [0.0]];
const W1: [[f32; 2]; 8] = [
    [0.1721, 0.3385],
    [0.4133, 0.6194],
    [0.3359, 0.5913],
    [-0.6594, -0.0481],
    [0.6207, 0.2086],
    [0.5613, -0.5415],
    [-0.0433, -0.3548],
    [0.0613, 0.1035],
];
const B1: [f32; 8] = [
    -0.6816, -0.3966, -0.3087, 0.5829, 0.372, -0.4766, 0.416, -0.5057,
];
const W2: [[f32; 8]; 1] = [[
    0.0822, -0.2613, -0.3488, 0.26, -0.2034, -0.1992, 0.3377, 0.2607,
]];
const B2: [f32; 1] = [-0.1475];

type R<T> = Result<T, Box<dyn std::error::Error>>;

/// Asserts `got ≈ want` elementwise: `|got − want| ≤ rel · max(|want|, floor)`.
fn assert_close(what: &str, got: &[f32], want: &[f32], rel: f64, floor: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let worst = got
        .iter()
        .zip(want)
        .map(|(&g, &w)| (f64::from(g) - f64::from(w)).abs() / f64::from(w).abs().max(floor))
        .fold(0.0, f64::max);
    eprintln!("{what}: largest relative difference from PyTorch {worst:.2e}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let (g, w) = (f64::from(g), f64::from(w));
        let tol = rel * w.abs().max(floor);
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: got {g}, PyTorch {w} (diff {:.3e}, relative {:.3e}, tolerance {tol:.3e})",
            (g - w).abs(),
            (g - w).abs() / w.abs().max(floor)
        );
    }
}

fn flat(params: &[Parameter]) -> Vec<f32> {
    params.iter().flat_map(|p| p.tensor().to_vec()).collect()
}

// ----- SGD on linear regression --------------------------------------------------------

fn linear_params() -> Vec<Parameter> {
    vec![
        Parameter::new(Tensor::from(WLIN)),
        Parameter::new(Tensor::from(BLIN)),
    ]
}

/// `steps` steps on `sign · MSE` of the linear model; returns the MSE before each step.
fn linear_run(
    params: &[Parameter],
    opt: &mut dyn Optimizer,
    steps: usize,
    sign: f32,
) -> R<Vec<f32>> {
    let (x, y) = (Tensor::from(XLIN), Tensor::from(YLIN));
    let mut losses = vec![];
    for _ in 0..steps {
        let pred = x
            .matmul(&params[0].tensor().t()?)?
            .add(&params[1].tensor())?;
        let mse = pred.sub(&y)?.square().mean_all();
        losses.push(mse.item()?);
        let grads = mse.mul_scalar(sign).backward()?;
        opt.step(&grads)?;
    }
    Ok(losses)
}

#[test]
fn sgd_nesterov_momentum_weight_decay_matches_pytorch() -> R<()> {
    let params = linear_params();
    let config = SgdConfig {
        momentum: 0.9,
        nesterov: true,
        weight_decay: 0.01,
        ..SgdConfig::new(0.02)
    };
    let mut opt = Sgd::new(params.clone(), config)?;
    let losses = linear_run(&params, &mut opt, 15, 1.0)?;
    assert_close("losses", &losses, &SGD_NESTEROV_LOSSES, 1e-5, 0.0);
    assert_close("weights", &flat(&params), &SGD_NESTEROV_FINAL, 1e-5, 0.1);
    Ok(())
}

#[test]
fn sgd_dampened_momentum_maximize_matches_pytorch() -> R<()> {
    let params = linear_params();
    let config = SgdConfig {
        momentum: 0.8,
        dampening: 0.3,
        weight_decay: 0.05,
        maximize: true,
        ..SgdConfig::new(0.03)
    };
    let mut opt = Sgd::new(params.clone(), config)?;
    // Maximising −MSE is minimising MSE.
    let losses = linear_run(&params, &mut opt, 15, -1.0)?;
    assert_close("losses", &losses, &SGD_DAMPENED_MAXIMIZE_LOSSES, 1e-5, 0.0);
    assert_close(
        "weights",
        &flat(&params),
        &SGD_DAMPENED_MAXIMIZE_FINAL,
        1e-5,
        0.1,
    );
    Ok(())
}

#[test]
fn plain_sgd_matches_pytorch() -> R<()> {
    let params = linear_params();
    let mut opt = Sgd::new(params.clone(), SgdConfig::new(0.05))?;
    let losses = linear_run(&params, &mut opt, 15, 1.0)?;
    assert_close("losses", &losses, &SGD_PLAIN_LOSSES, 1e-5, 0.0);
    assert_close("weights", &flat(&params), &SGD_PLAIN_FINAL, 1e-5, 0.1);
    Ok(())
}

// ----- Adam and AdamW on a 2-8-1 tanh MLP ------------------------------------------------

fn mlp_params() -> Vec<Parameter> {
    vec![
        Parameter::new(Tensor::from(W1)),
        Parameter::new(Tensor::from(B1)),
        Parameter::new(Tensor::from(W2)),
        Parameter::new(Tensor::from(B2)),
    ]
}

#[derive(Clone, Copy)]
enum Task {
    Mse,
    Bce,
}

/// `tanh(x·W1ᵀ + b1)·W2ᵀ + b2`, as `nn.Linear(2, 8)`, `nn.Tanh()`, `nn.Linear(8, 1)`.
fn mlp_loss(params: &[Parameter], task: Task) -> R<Tensor> {
    let x = Tensor::from(X);
    let hidden = x
        .matmul(&params[0].tensor().t()?)?
        .add(&params[1].tensor())?
        .tanh();
    let out = hidden
        .matmul(&params[2].tensor().t()?)?
        .add(&params[3].tensor())?;
    Ok(match task {
        Task::Mse => out.sub(&Tensor::from(YREG))?.square().mean_all(),
        Task::Bce => {
            // nn.BCELoss on sigmoid outputs (its log clamp at −100 is never reached here).
            let (p, y, one) = (out.sigmoid(), Tensor::from(YCLS), Tensor::scalar(1.0));
            (y.mul(&p.log())? + (&one - &y).mul(&(&one - &p).log())?)
                .mean_all()
                .neg()
        }
    })
}

/// 20 steps on `sign · loss`; returns the loss before each step.
fn mlp_run(params: &[Parameter], opt: &mut dyn Optimizer, task: Task, sign: f32) -> R<Vec<f32>> {
    let mut losses = vec![];
    for _ in 0..20 {
        let loss = mlp_loss(params, task)?;
        losses.push(loss.item()?);
        let grads = loss.mul_scalar(sign).backward()?;
        opt.step(&grads)?;
    }
    Ok(losses)
}

#[test]
fn adam_matches_pytorch() -> R<()> {
    let params = mlp_params();
    let mut opt = Adam::new(params.clone(), AdamConfig::new(0.01))?;
    let losses = mlp_run(&params, &mut opt, Task::Mse, 1.0)?;
    assert_close("losses", &losses, &ADAM_MSE_LOSSES, 1e-5, 0.0);
    assert_close("weights", &flat(&params), &ADAM_MSE_FINAL, 1e-5, 0.1);
    Ok(())
}

#[test]
fn adam_large_eps_maximize_matches_pytorch() -> R<()> {
    // ε = 0.01 is of the order of sqrt(v̂): adding it before the bias correction of
    // sqrt(v) instead of after changes the losses by several percent.
    let params = mlp_params();
    let config = AdamConfig {
        eps: 0.01,
        maximize: true,
        ..AdamConfig::new(0.01)
    };
    let mut opt = Adam::new(params.clone(), config)?;
    // Maximising −MSE is minimising MSE.
    let losses = mlp_run(&params, &mut opt, Task::Mse, -1.0)?;
    assert_close(
        "losses",
        &losses,
        &ADAM_LARGE_EPS_MAXIMIZE_MSE_LOSSES,
        1e-5,
        0.0,
    );
    assert_close(
        "weights",
        &flat(&params),
        &ADAM_LARGE_EPS_MAXIMIZE_MSE_FINAL,
        1e-5,
        0.1,
    );
    Ok(())
}

#[test]
fn adam_l2_amsgrad_matches_pytorch() -> R<()> {
    let params = mlp_params();
    let config = AdamConfig {
        betas: (0.8, 0.99),
        eps: 1e-6,
        weight_decay: 0.05,
        amsgrad: true,
        ..AdamConfig::new(0.02)
    };
    let mut opt = Adam::new(params.clone(), config)?;
    let losses = mlp_run(&params, &mut opt, Task::Mse, 1.0)?;
    assert_close("losses", &losses, &ADAM_L2_AMSGRAD_MSE_LOSSES, 1e-5, 0.0);
    assert_close(
        "weights",
        &flat(&params),
        &ADAM_L2_AMSGRAD_MSE_FINAL,
        1e-5,
        0.1,
    );
    Ok(())
}

#[test]
fn adamw_matches_pytorch() -> R<()> {
    let params = mlp_params();
    let config = AdamWConfig {
        weight_decay: 0.1,
        ..AdamWConfig::new(0.01)
    };
    let mut opt = AdamW::new(params.clone(), config)?;
    let losses = mlp_run(&params, &mut opt, Task::Bce, 1.0)?;
    assert_close("losses", &losses, &ADAMW_BCE_LOSSES, 1e-5, 0.0);
    assert_close("weights", &flat(&params), &ADAMW_BCE_FINAL, 1e-5, 0.1);
    Ok(())
}

#[test]
fn adamw_amsgrad_large_lerp_weight_matches_pytorch() -> R<()> {
    // β₁ = 0.3 puts the lerp weight 1 − β₁ above ½: PyTorch's other lerp formula.
    let params = mlp_params();
    let config = AdamWConfig {
        betas: (0.3, 0.9),
        weight_decay: 0.2,
        amsgrad: true,
        ..AdamWConfig::new(0.03)
    };
    let mut opt = AdamW::new(params.clone(), config)?;
    let losses = mlp_run(&params, &mut opt, Task::Bce, 1.0)?;
    assert_close("losses", &losses, &ADAMW_AMSGRAD_BCE_LOSSES, 1e-5, 0.0);
    assert_close(
        "weights",
        &flat(&params),
        &ADAMW_AMSGRAD_BCE_FINAL,
        1e-5,
        0.1,
    );
    Ok(())
}

// ----- schedules -------------------------------------------------------------------------

/// The optimizer's learning rate before each of `n` scheduler steps, as the script records
/// PyTorch's `param_groups[0]["lr"]`.
fn scheduled_lrs(schedule: impl LrSchedule, n: usize) -> R<Vec<f64>> {
    let p = Parameter::new(Tensor::<f32>::zeros(&[1]));
    let mut opt = Sgd::new([p], SgdConfig::new(0.1))?;
    let mut sched = LrScheduler::new(schedule, &mut opt)?;
    let mut lrs = vec![];
    for _ in 0..n {
        lrs.push(opt.lr());
        sched.step(&mut opt)?;
    }
    Ok(lrs)
}

/// PyTorch's schedulers update the rate recursively (`lr ← lr·γ`, and a recursive form of
/// the cosine), ours in closed form; both are f64 and differ by a few ulp after a dozen
/// steps (≤ 1e-15 relative), far below what f32 parameters can see. 1e-12 relative.
fn assert_lrs(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-12 * w.abs(),
            "{what} step {i}: got {g}, PyTorch {w}"
        );
    }
}

#[test]
fn step_lr_matches_pytorch() -> R<()> {
    assert_lrs(
        "StepLR",
        &scheduled_lrs(StepLr::new(3, 0.5)?, 12)?,
        &STEP_LR,
    );
    Ok(())
}

#[test]
fn exponential_lr_matches_pytorch() -> R<()> {
    assert_lrs(
        "ExponentialLR",
        &scheduled_lrs(ExponentialLr::new(0.9)?, 12)?,
        &EXPONENTIAL_LR,
    );
    Ok(())
}

#[test]
fn warmup_cosine_matches_pytorch_linear_then_cosine_annealing() -> R<()> {
    let schedule = WarmupCosineLr::new(4, 14)?
        .start_factor(0.1)?
        .min_lr(0.01)?;
    assert_lrs(
        "warm-up cosine",
        &scheduled_lrs(schedule, 15)?,
        &WARMUP_COSINE_LR,
    );
    Ok(())
}

// ----- clipping --------------------------------------------------------------------------

fn clip_store() -> (Vec<Parameter>, Gradients) {
    let params = vec![
        Parameter::new(Tensor::zeros(&[2, 3])),
        Parameter::new(Tensor::zeros(&[2])),
        Parameter::new(Tensor::zeros(&[1, 2, 1])),
    ];
    let mut grads = Gradients::new();
    grads.insert(&params[0], Tensor::from_slice(&CLIP_G1, &[2, 3]).unwrap());
    grads.insert(&params[1], Tensor::from_slice(&CLIP_G2, &[2]).unwrap());
    grads.insert(
        &params[2],
        Tensor::from_slice(&CLIP_G3, &[1, 2, 1]).unwrap(),
    );
    (params, grads)
}

fn clipped(params: &[Parameter], grads: &Gradients) -> Vec<f32> {
    params
        .iter()
        .flat_map(|p| grads.get(p).unwrap().to_vec())
        .collect()
}

/// PyTorch sums in f32 (per tensor, then over the tensors' norms), we in f64: the norms
/// differ by at most an ulp or two, and so do the scaled gradients. 1e-6 relative
/// (≈ 16 ulp).
#[test]
fn clip_grad_norm_matches_pytorch() -> R<()> {
    let cases = [
        (1.0, 2.0, CLIP_L2_CLIPPED_TOTAL, CLIP_L2_CLIPPED),
        (100.0, 2.0, CLIP_L2_UNCLIPPED_TOTAL, CLIP_L2_UNCLIPPED),
        (0.5, f64::INFINITY, CLIP_INF_CLIPPED_TOTAL, CLIP_INF_CLIPPED),
        (2.0, 1.0, CLIP_L1_CLIPPED_TOTAL, CLIP_L1_CLIPPED),
        (1.5, 3.0, CLIP_L3_CLIPPED_TOTAL, CLIP_L3_CLIPPED),
    ];
    for (max_norm, norm_type, total, want) in cases {
        let (params, mut grads) = clip_store();
        let clip = ClipGradNorm {
            norm_type,
            ..ClipGradNorm::new(max_norm)
        };
        let got = clip.clip(&mut grads)?;
        let what = format!("max_norm {max_norm}, norm_type {norm_type}");
        assert_close(&format!("{what}: total"), &[got], &[total], 1e-6, 0.0);
        assert_close(&what, &clipped(&params, &grads), &want, 1e-6, 1e-3);
    }
    // The shorthand is the 2-norm.
    let (params, mut grads) = clip_store();
    let total = clip_grad_norm(&mut grads, 1.0)?;
    assert_close(
        "clip_grad_norm total",
        &[total],
        &[CLIP_L2_CLIPPED_TOTAL],
        1e-6,
        0.0,
    );
    assert_close(
        "clip_grad_norm",
        &clipped(&params, &grads),
        &CLIP_L2_CLIPPED,
        1e-6,
        1e-3,
    );
    Ok(())
}

#[test]
fn clip_grad_value_matches_pytorch() -> R<()> {
    let (params, mut grads) = clip_store();
    clip_grad_value(&mut grads, 1.0)?;
    // Clamping is exact.
    assert_eq!(clipped(&params, &grads), CLIP_VALUE_1.to_vec());
    Ok(())
}
