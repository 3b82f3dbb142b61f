//! Criterion benchmarks: forward + backward throughput on a 10⁶-node expression (in
//! operations, i.e. tape nodes, per second) and one training step of the book's Figure 1.1
//! network on the 12-example buy/no-buy dataset.
//!
//! `cargo bench -p ferrograd-scalar`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrograd_scalar::nn::{Activation, BUY_X, BUY_Y, Mlp};
use ferrograd_scalar::{Gradients, Tape, Value};

/// Iterations of the mixed chain body; each appends 3 nodes (mul, add-constant, tanh).
const ITERS: usize = 333_333;
/// Nodes on the tape: 2 leaves + 3 per iteration = 1,000,001.
const NODES: usize = 2 + 3 * ITERS;

/// y ← tanh(y·w + 0.1), repeated: a chain through a reused leaf `w`. Much of its forward
/// time is libm's `tanh`, not the tape.
fn build(tape: &Tape, x0: f64) -> Value<'_> {
    let x = tape.var(x0);
    let w = tape.var(0.9);
    let mut y = x;
    for _ in 0..ITERS {
        y = (y * w + 0.1).tanh();
    }
    y
}

/// Iterations of the arithmetic chain body; each appends 4 nodes.
const ARITH_ITERS: usize = 250_000;
/// 2 leaves + 4 per iteration = 1,000,002 nodes.
const ARITH_NODES: usize = 2 + 4 * ARITH_ITERS;

/// y ← (y·w + 0.1)·0.5 + w: four cheap operations, so this measures the tape's own
/// per-node cost.
fn build_arith(tape: &Tape, x0: f64) -> Value<'_> {
    let x = tape.var(x0);
    let w = tape.var(0.9);
    let mut y = x;
    for _ in 0..ARITH_ITERS {
        y = (y * w + 0.1) * 0.5 + w;
    }
    y
}

fn chain(c: &mut Criterion) {
    let mut group = c.benchmark_group("chain_1e6_nodes");
    group.throughput(Throughput::Elements(NODES as u64));

    let mut tape = Tape::with_capacity(NODES);
    let mut grads = Gradients::new();
    group.bench_function("forward_backward", |b| {
        b.iter(|| {
            tape.clear();
            let y = build(&tape, black_box(0.5));
            tape.backward_into(y, &mut grads).unwrap();
            black_box(grads.as_slice()[0]);
        });
    });
    group.bench_function("forward", |b| {
        b.iter(|| {
            tape.clear();
            black_box(build(&tape, black_box(0.5)).value());
        });
    });
    tape.clear();
    let y = build(&tape, 0.5);
    assert_eq!(tape.len(), NODES);
    group.bench_function("backward", |b| {
        b.iter(|| {
            tape.backward_into(black_box(y), &mut grads).unwrap();
            black_box(grads.as_slice()[0]);
        });
    });
    group.bench_function("forward_backward_fresh_tape", |b| {
        b.iter(|| {
            let tape = Tape::new();
            let y = build(&tape, black_box(0.5));
            black_box(y.backward().unwrap().as_slice()[0]);
        });
    });
    group.finish();

    let mut group = c.benchmark_group("arith_chain_1e6_nodes");
    group.throughput(Throughput::Elements(ARITH_NODES as u64));
    let mut tape = Tape::with_capacity(ARITH_NODES);
    group.bench_function("forward_backward", |b| {
        b.iter(|| {
            tape.clear();
            let y = build_arith(&tape, black_box(0.5));
            tape.backward_into(y, &mut grads).unwrap();
            black_box(grads.as_slice()[0]);
        });
    });
    assert_eq!(tape.len(), ARITH_NODES);
    group.finish();
}

fn figure_1_1(c: &mut Criterion) {
    let mut group = c.benchmark_group("figure_1_1");
    group.throughput(Throughput::Elements(BUY_X.len() as u64));
    let mut model = Mlp::figure_1_1(Activation::Relu, 1);
    let mut tape = Tape::new();
    group.bench_function("train_step_12_examples", |b| {
        b.iter(|| {
            black_box(
                model
                    .train_step(&mut tape, black_box(&BUY_X), &BUY_Y, 1e-3)
                    .unwrap(),
            )
        });
    });
    let model = Mlp::figure_1_1(Activation::Relu, 1);
    group.bench_function("predict_12_examples_no_tape", |b| {
        b.iter(|| {
            BUY_X
                .iter()
                .map(|x| model.predict(black_box(x))[0])
                .sum::<f64>()
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = chain, figure_1_1
}
criterion_main!(benches);
