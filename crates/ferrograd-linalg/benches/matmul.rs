//! Matrix product and matrix-vector product through `ferrograd-linalg`, side by side with
//! raw faer on the same data, sizes and parallelism, to show that the wrapper (shape
//! checks, view construction, the sequential/parallel choice) costs nothing measurable.
//!
//! For each size, three variants:
//! - `ferrograd_into`: `Matrix::matmul_into` / `matvec_into` into a reused buffer;
//! - `faer`: `faer::linalg::matmul::matmul` on the same row-major buffers with the same
//!   `Par` the kernel picks (`kernel::use_parallel`);
//! - `ferrograd_alloc`: `Matrix::matmul` / `matvec`, which also allocates the result.
//!
//! Throughput is `Elements(2·m·n·k)` (`2·m·n` for matrix-vector): criterion's elements
//! per second are floating-point operations per second, so `Gelem/s` reads as GFLOP/s.
//!
//! Run: `cargo bench -p ferrograd-linalg --bench matmul`. The machine is shared and
//! noisy; compare medians.
//!
//! Measured on the shared 2-core VM (load average 3–4.5 from other jobs), median over 3
//! runs of the per-run ratio `ferrograd_into / faer` in time: 0.996–1.048 for every
//! matmul size (f32 ≈ 74–107 GFLOP/s up to 512, 45 at 1024; f64 ≈ 36–52) and 0.94–1.15
//! for matrix-vector (memory bound, the noisiest). The only difference above the noise
//! is a fixed ~30 ns (shape checks and view construction) that shows on the smallest
//! product, a 64×64 matrix-vector product: 380 ns against faer's 347 ns.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrograd_linalg::faer::linalg::matmul::matmul;
use ferrograd_linalg::faer::{Accum, MatMut, MatRef, Par};
use ferrograd_linalg::kernel::use_parallel;
use ferrograd_linalg::{Matrix, Vector, num_threads};
use std::hint::black_box;
use std::time::Duration;

const MATMUL_SIZES: [usize; 5] = [64, 128, 256, 512, 1024];
const MATVEC_SIZES: [usize; 4] = [64, 256, 1024, 4096];

fn par_for<T: ferrograd_linalg::Scalar>(m: usize, n: usize, k: usize) -> Par {
    if use_parallel::<T>(m, n, k) {
        Par::rayon(num_threads())
    } else {
        Par::Seq
    }
}

macro_rules! bench_dtype {
    ($matmul_fn:ident, $matvec_fn:ident, $t:ty, $name:literal) => {
        fn $matmul_fn(c: &mut Criterion) {
            for n in MATMUL_SIZES {
                let a = Matrix::<$t>::from_fn(n, n, |i, j| ((i * 7 + j) % 17) as $t * 0.25 - 2.0);
                let b = Matrix::<$t>::from_fn(n, n, |i, j| ((i + 3 * j) % 13) as $t * 0.5 - 3.0);
                let mut out = Matrix::<$t>::zeros(n, n);
                let mut raw = vec![0.0 as $t; n * n];
                let par = par_for::<$t>(n, n, n);
                let mut group = c.benchmark_group(format!("matmul/{}/{n}", $name));
                // Elements = floating-point operations: 2·n³ for an n×n product.
                group.throughput(Throughput::Elements(2 * (n * n * n) as u64));
                group.bench_function(BenchmarkId::from_parameter("ferrograd_into"), |bench| {
                    bench.iter(|| black_box(&a).matmul_into(black_box(&b), &mut out).unwrap())
                });
                group.bench_function(BenchmarkId::from_parameter("faer"), |bench| {
                    bench.iter(|| {
                        matmul(
                            MatMut::from_row_major_slice_mut(&mut raw, n, n),
                            Accum::Replace,
                            MatRef::from_row_major_slice(black_box(a.as_slice()), n, n),
                            MatRef::from_row_major_slice(black_box(b.as_slice()), n, n),
                            1.0,
                            par,
                        );
                        black_box(&mut raw);
                    })
                });
                group.bench_function(BenchmarkId::from_parameter("ferrograd_alloc"), |bench| {
                    bench.iter(|| black_box(&a).matmul(black_box(&b)).unwrap())
                });
                group.finish();
            }
        }

        fn $matvec_fn(c: &mut Criterion) {
            for n in MATVEC_SIZES {
                let a = Matrix::<$t>::from_fn(n, n, |i, j| ((i * 7 + j) % 17) as $t * 0.25 - 2.0);
                let x = Vector::<$t>::from_fn(n, |i| (i % 11) as $t * 0.5 - 2.5);
                let mut out = Vector::<$t>::zeros(n);
                let mut raw = vec![0.0 as $t; n];
                let par = par_for::<$t>(n, 1, n);
                let mut group = c.benchmark_group(format!("matvec/{}/{n}", $name));
                // Elements = floating-point operations: 2·n² for an n×n matrix-vector product.
                group.throughput(Throughput::Elements(2 * (n * n) as u64));
                group.bench_function(BenchmarkId::from_parameter("ferrograd_into"), |bench| {
                    bench.iter(|| black_box(&a).matvec_into(black_box(&x), &mut out).unwrap())
                });
                group.bench_function(BenchmarkId::from_parameter("faer"), |bench| {
                    bench.iter(|| {
                        matmul(
                            MatMut::from_row_major_slice_mut(&mut raw, n, 1),
                            Accum::Replace,
                            MatRef::from_row_major_slice(black_box(a.as_slice()), n, n),
                            MatRef::from_row_major_slice(black_box(x.as_slice()), n, 1),
                            1.0,
                            par,
                        );
                        black_box(&mut raw);
                    })
                });
                group.bench_function(BenchmarkId::from_parameter("ferrograd_alloc"), |bench| {
                    bench.iter(|| black_box(&a).matvec(black_box(&x)).unwrap())
                });
                group.finish();
            }
        }
    };
}

bench_dtype!(matmul_f32, matvec_f32, f32, "f32");
bench_dtype!(matmul_f64, matvec_f64, f64, "f64");

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
}

criterion_group! {
    name = benches;
    config = config();
    targets = matmul_f32, matvec_f32, matmul_f64, matvec_f64
}
criterion_main!(benches);
