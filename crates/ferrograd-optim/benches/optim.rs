//! Optimizer step throughput on ~1M parameters (a 1024×1024 matrix plus a 1024 bias), f32:
//! Adam, AdamW with AMSGrad, SGD with Nesterov momentum, and global-norm clipping. Each
//! step reads the gradient and parameter and reads and writes every state buffer once:
//! for Adam 28 bytes per parameter (16 MB of buffers here), so the loop is bound by memory
//! (or last-level cache) bandwidth and the elements/s figure can be read against it.
//! AMSGrad adds a fifth buffer and a NaN-propagating maximum (~1.5x Adam's time here).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrograd_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, Sgd, SgdConfig, clip_grad_norm,
};
use ferrograd_tensor::{Gradients, Parameter, Rng, Tensor};
use std::hint::black_box;
use std::time::Duration;

const N: usize = 1024;

fn setup() -> (Vec<Parameter>, Gradients) {
    let mut rng = Rng::new(7);
    let params = vec![
        Parameter::new(Tensor::randn(&[N, N], 0.0, 0.02, &mut rng)),
        Parameter::new(Tensor::zeros(&[N])),
    ];
    let mut grads = Gradients::new();
    for p in &params {
        grads.insert(p, Tensor::randn(&p.shape(), 0.0, 1e-3, &mut rng));
    }
    (params, grads)
}

fn steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("optimizer_step_1M_f32");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    group.throughput(Throughput::Elements((N * N + N) as u64));

    let (params, grads) = setup();
    let mut opt = Adam::new(params, AdamConfig::new(1e-3)).unwrap();
    group.bench_function("adam", |b| b.iter(|| opt.step(black_box(&grads)).unwrap()));

    let (params, grads) = setup();
    let config = AdamWConfig {
        amsgrad: true,
        ..AdamWConfig::new(1e-3)
    };
    let mut opt = AdamW::new(params, config).unwrap();
    group.bench_function("adamw_amsgrad", |b| {
        b.iter(|| opt.step(black_box(&grads)).unwrap())
    });

    let (params, grads) = setup();
    let mut opt = AdamW::new(params, AdamWConfig::new(1e-3)).unwrap();
    group.bench_function("adamw", |b| b.iter(|| opt.step(black_box(&grads)).unwrap()));
    let (params, grads) = setup();
    let mut opt = Adam::new(
        params,
        AdamConfig {
            amsgrad: true,
            ..AdamConfig::new(1e-3)
        },
    )
    .unwrap();
    group.bench_function("adam_amsgrad", |b| {
        b.iter(|| opt.step(black_box(&grads)).unwrap())
    });

    let (params, grads) = setup();
    let config = SgdConfig {
        momentum: 0.9,
        nesterov: true,
        weight_decay: 1e-4,
        ..SgdConfig::new(0.01)
    };
    let mut opt = Sgd::new(params, config).unwrap();
    group.bench_function("sgd_nesterov", |b| {
        b.iter(|| opt.step(black_box(&grads)).unwrap())
    });

    let (_params, grads) = setup();
    group.bench_function("clip_grad_norm", |b| {
        b.iter(|| {
            let mut g = grads.clone();
            black_box(clip_grad_norm(&mut g, 1e-6).unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, steps);
criterion_main!(benches);
