//! Forward + backward of the fused layers and losses against the same computation
//! composed from tensor primitives (what the fused versions replace), and of two MLPs.
//! f32, the calling thread's settings (set `FERROGRAD_NUM_THREADS=1` for one core).
//!
//! - `cross_entropy/{fused,composed}/{128x10,64x32000}`: mean cross-entropy of `[N, C]`
//!   logits, forward and backward. The composed version is log-softmax → gather → mean.
//! - `layer_norm`, `rms_norm`: `[1024, 128]` (16 sequences of 64 tokens, d = 128) with
//!   affine parameters, forward and backward of a given (dense) output gradient.
//! - `mlp`: the book's 2-100-1 sigmoid network with BCE on 12 examples (tiny tensors:
//!   per-op overhead) and a 784-256-256-10 ReLU network with cross-entropy on a batch of
//!   128 (matmul-bound), forward and backward.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ferrograd_nn::{
    BceLoss, CrossEntropyLoss, Forward, LayerNorm, Linear, Relu, RmsNorm, Sequential, Sigmoid,
};
use ferrograd_tensor::{IdTensor, Rng, Tensor};
use std::hint::black_box;
use std::time::Duration;

fn configure<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(15)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));
    group
}

fn cross_entropy(c: &mut Criterion) {
    let mut group = configure(c, "cross_entropy");
    let mut rng = Rng::new(0);
    for (n, classes) in [(128, 10), (64, 32_000)] {
        let logits =
            Tensor::<f32>::randn(&[n, classes], 0.0, 1.0, &mut rng).set_requires_grad(true);
        let targets = IdTensor::from(
            (0..n)
                .map(|_| rng.below(classes) as i64)
                .collect::<Vec<_>>(),
        );
        let id = format!("{n}x{classes}");
        let loss = CrossEntropyLoss::default();
        group.bench_function(BenchmarkId::new("fused", &id), |b| {
            b.iter(|| black_box(loss.forward(&logits, &targets).unwrap().backward().unwrap()))
        });
        let column = targets.reshape(&[n, 1]).unwrap();
        group.bench_function(BenchmarkId::new("composed", &id), |b| {
            b.iter(|| {
                let picked = logits.log_softmax(-1).unwrap().gather(1, &column).unwrap();
                black_box(picked.mean_all().neg().backward().unwrap())
            })
        });
    }
    group.finish();
}

fn norms(c: &mut Criterion) {
    let mut group = configure(c, "norm_1024x128");
    let mut rng = Rng::new(1);
    let x = Tensor::<f32>::randn(&[1024, 128], 0.0, 1.0, &mut rng).set_requires_grad(true);
    let g = Tensor::<f32>::randn(&[1024, 128], 0.0, 1.0, &mut rng);
    let ln = LayerNorm::<f32>::new(&[128]);
    group.bench_function("layer_norm/fused", |b| {
        b.iter(|| black_box(ln.forward(&x).unwrap().backward_with_grad(&g).unwrap()))
    });
    let (w, bias) = (
        ln.weight.as_ref().unwrap().tensor(),
        ln.bias.as_ref().unwrap().tensor(),
    );
    group.bench_function("layer_norm/composed", |b| {
        b.iter(|| {
            let mean = x.mean(&[-1], true).unwrap();
            let centered = x.sub(&mean).unwrap();
            let var = centered.square().mean(&[-1], true).unwrap();
            let y = centered.div(&var.add_scalar(1e-5).sqrt()).unwrap();
            let y = y.mul(&w).unwrap().add(&bias).unwrap();
            black_box(y.backward_with_grad(&g).unwrap())
        })
    });
    let rms = RmsNorm::<f32>::new(&[128], None);
    group.bench_function("rms_norm/fused", |b| {
        b.iter(|| black_box(rms.forward(&x).unwrap().backward_with_grad(&g).unwrap()))
    });
    let w = rms.weight.as_ref().unwrap().tensor();
    group.bench_function("rms_norm/composed", |b| {
        b.iter(|| {
            let r = x
                .square()
                .mean(&[-1], true)
                .unwrap()
                .add_scalar(f32::EPSILON)
                .sqrt();
            let y = x.div(&r).unwrap().mul(&w).unwrap();
            black_box(y.backward_with_grad(&g).unwrap())
        })
    });
    group.finish();
}

fn mlp(c: &mut Criterion) {
    let mut group = configure(c, "mlp_forward_backward");
    let mut rng = Rng::new(2);
    let book = Sequential::new()
        .push(Linear::<f32>::new(2, 100, &mut rng))
        .push(Sigmoid)
        .push(Linear::new(100, 1, &mut rng))
        .push(Sigmoid);
    let x = Tensor::<f32>::randn(&[12, 2], 0.0, 1.0, &mut rng);
    let y = Tensor::<f32>::from_vec((0..12).map(|i| (i % 2) as f32).collect(), &[12, 1]).unwrap();
    let bce = BceLoss::default();
    group.bench_function("2-100-1_bce_12", |b| {
        b.iter(|| {
            black_box(
                bce.forward(&book.forward(&x).unwrap(), &y)
                    .unwrap()
                    .backward()
                    .unwrap(),
            )
        })
    });
    let wide = Sequential::new()
        .push(Linear::<f32>::new(784, 256, &mut rng))
        .push(Relu)
        .push(Linear::new(256, 256, &mut rng))
        .push(Relu)
        .push(Linear::new(256, 10, &mut rng));
    let x = Tensor::<f32>::randn(&[128, 784], 0.0, 1.0, &mut rng);
    let targets = IdTensor::from((0..128).map(|_| rng.below(10) as i64).collect::<Vec<_>>());
    let ce = CrossEntropyLoss::default();
    group.bench_function("784-256-256-10_ce_128", |b| {
        b.iter(|| {
            black_box(
                ce.forward(&wide.forward(&x).unwrap(), &targets)
                    .unwrap()
                    .backward()
                    .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, cross_entropy, norms, mlp);
criterion_main!(benches);
