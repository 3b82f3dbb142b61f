//! Tensor benchmarks: matmul through the tensor API against raw faer, element-wise and
//! reduction throughput on 1M elements, softmax on [64, 32000], and the per-op overhead
//! on the book's tiny tensors (12×2).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrograd_tensor::{Rng, Tensor, set_num_threads};
use std::hint::black_box;
use std::time::Duration;

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul_f32");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    let mut rng = Rng::new(0);
    for &n in &[64usize, 128, 256, 512, 1024] {
        // Throughput in "elements" = floating-point operations (2·n³): criterion's
        // elements/s reads as FLOP/s.
        group.throughput(Throughput::Elements(2 * (n * n * n) as u64));
        let a = Tensor::<f32>::randn(&[n, n], 0.0, 1.0, &mut rng);
        let b = Tensor::<f32>::randn(&[n, n], 0.0, 1.0, &mut rng);
        group.bench_with_input(BenchmarkId::new("tensor", n), &n, |bench, _| {
            bench.iter(|| black_box(a.matmul(&b).unwrap()));
        });
        let (av, bv) = (a.to_vec(), b.to_vec());
        let mut out = vec![0f32; n * n];
        group.bench_with_input(BenchmarkId::new("raw_faer", n), &n, |bench, _| {
            bench.iter(|| {
                let lhs = faer::MatRef::from_row_major_slice(&av, n, n);
                let rhs = faer::MatRef::from_row_major_slice(&bv, n, n);
                let dst = faer::MatMut::from_row_major_slice_mut(&mut out, n, n);
                let par = if ferrograd_linalg::kernel::use_parallel::<f32>(n, n, n) {
                    faer::Par::rayon(ferrograd_tensor::num_threads())
                } else {
                    faer::Par::Seq
                };
                faer::linalg::matmul::matmul(dst, faer::Accum::Replace, lhs, rhs, 1.0f32, par);
                black_box(&out);
            });
        });
    }
    group.finish();
}

fn elementwise_and_reductions(c: &mut Criterion) {
    let mut group = c.benchmark_group("million_elements");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    let n = 1 << 20;
    group.throughput(Throughput::Elements(n as u64));
    let mut rng = Rng::new(1);
    let a = Tensor::<f32>::randn(&[n], 0.0, 1.0, &mut rng);
    let b = Tensor::<f32>::randn(&[n], 0.0, 1.0, &mut rng);
    group.bench_function("add", |bench| bench.iter(|| black_box(a.add(&b).unwrap())));
    group.bench_function("mul", |bench| bench.iter(|| black_box(a.mul(&b).unwrap())));
    group.bench_function("exp", |bench| bench.iter(|| black_box(a.exp())));
    group.bench_function("sum", |bench| bench.iter(|| black_box(a.sum_all())));
    let m = a.reshape(&[1024, 1024]).unwrap();
    group.bench_function("sum_axis0_1024x1024", |bench| {
        bench.iter(|| black_box(m.sum(&[0], false).unwrap()))
    });
    group.bench_function("max_axis1_1024x1024", |bench| {
        bench.iter(|| black_box(m.max(&[1], false).unwrap()))
    });
    group.finish();

    let mut group = c.benchmark_group("softmax");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    let logits = Tensor::<f32>::randn(&[64, 32000], 0.0, 1.0, &mut rng);
    group.throughput(Throughput::Elements(64 * 32000));
    group.bench_function("64x32000", |bench| {
        bench.iter(|| black_box(logits.softmax(-1).unwrap()))
    });
    group.bench_function("log_softmax_64x32000", |bench| {
        bench.iter(|| black_box(logits.log_softmax(-1).unwrap()))
    });
    group.finish();
}

fn tiny_overhead(c: &mut Criterion) {
    // The book's chapter-1 sizes: per-op framework overhead dominates.
    let mut group = c.benchmark_group("tiny_12x2");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(300));
    let mut rng = Rng::new(2);
    let x = Tensor::<f32>::randn(&[12, 2], 0.0, 1.0, &mut rng);
    let y = Tensor::<f32>::randn(&[12, 2], 0.0, 1.0, &mut rng);
    let w = Tensor::<f32>::randn(&[1, 2], 0.0, 1.0, &mut rng);
    let wp = w.set_requires_grad(true);
    group.bench_function("add", |bench| bench.iter(|| black_box(x.add(&y).unwrap())));
    group.bench_function("sigmoid", |bench| bench.iter(|| black_box(x.sigmoid())));
    group.bench_function("sum_all", |bench| bench.iter(|| black_box(x.sum_all())));
    group.bench_function("matmul_12x2_2x1", |bench| {
        bench.iter(|| black_box(x.matmul(&w.t().unwrap()).unwrap()))
    });
    group.bench_function("add_recording_graph", |bench| {
        bench.iter(|| black_box(x.add(&wp).unwrap()))
    });
    group.bench_function("forward_backward_logistic", |bench| {
        bench.iter(|| {
            let p = x.matmul(&wp.t().unwrap()).unwrap().sigmoid();
            let loss = p.sum_all();
            black_box(loss.backward().unwrap())
        })
    });
    group.finish();
}

fn single_thread(c: &mut Criterion) {
    set_num_threads(1);
    let mut group = c.benchmark_group("million_elements_1thread");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    let n = 1 << 20;
    group.throughput(Throughput::Elements(n as u64));
    let mut rng = Rng::new(1);
    let a = Tensor::<f32>::randn(&[n], 0.0, 1.0, &mut rng);
    let b = Tensor::<f32>::randn(&[n], 0.0, 1.0, &mut rng);
    group.bench_function("add", |bench| bench.iter(|| black_box(a.add(&b).unwrap())));
    group.finish();
    set_num_threads(std::thread::available_parallelism().map_or(1, |n| n.get()));
}

criterion_group!(
    benches,
    matmul,
    elementwise_and_reductions,
    tiny_overhead,
    single_thread
);
criterion_main!(benches);
