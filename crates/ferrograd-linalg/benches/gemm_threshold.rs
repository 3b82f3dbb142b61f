//! Where does faer's parallel matrix product start to beat the sequential one?
//!
//! For f32 and f64, square sizes from 64 to 1024 and a few skinny shapes, this times
//! `faer::linalg::matmul::matmul` on row-major views (exactly what `kernel::gemm` calls)
//! with `Par::Seq` and with `Par::rayon(2)`. The crossover, on the product's work
//! `m·n·k`, sets `F32_PARALLEL_MIN_WORK` / `F64_PARALLEL_MIN_WORK` in `src/kernel.rs`;
//! the measured numbers are written in the documentation of `kernel::parallel_threshold`.
//!
//! Throughput is reported as `Elements(2·m·n·k)`: criterion's "elements per second" are
//! floating-point operations per second, so its `Gelem/s` reads as GFLOP/s.
//!
//! Run: `cargo bench -p ferrograd-linalg --bench gemm_threshold`. The machine is shared
//! and noisy; read the medians, not the means.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrograd_linalg::faer::linalg::matmul::matmul;
use ferrograd_linalg::faer::{Accum, MatMut, MatRef, Par};
use std::hint::black_box;
use std::time::Duration;

const SQUARE: [usize; 11] = [64, 128, 192, 256, 320, 384, 448, 512, 640, 768, 1024];
/// `(m, k, n)`: tall-skinny, wide inner dimension, thin output, and matrix-vector-like.
const SKINNY: [(usize, usize, usize); 6] = [
    (4096, 64, 64),
    (64, 4096, 64),
    (2048, 256, 32),
    (32, 256, 2048),
    (1024, 1024, 16),
    (4096, 4096, 1),
];

macro_rules! bench_dtype {
    ($fn_name:ident, $t:ty, $name:literal) => {
        fn $fn_name(c: &mut Criterion) {
            let shapes = SQUARE
                .iter()
                .map(|&s| (s, s, s))
                .chain(SKINNY.iter().copied());
            for (m, k, n) in shapes {
                let a: Vec<$t> = (0..m * k).map(|i| ((i % 17) as $t) * 0.25 - 2.0).collect();
                let b: Vec<$t> = (0..k * n).map(|i| ((i % 13) as $t) * 0.5 - 3.0).collect();
                let mut out: Vec<$t> = vec![0.0; m * n];
                let mut group = c.benchmark_group(format!("gemm_threshold/{}/{m}x{k}x{n}", $name));
                // Elements = floating-point operations (one multiply and one add per term).
                group.throughput(Throughput::Elements(2 * (m * n * k) as u64));
                for (label, par) in [("seq", Par::Seq), ("par2", Par::rayon(2))] {
                    group.bench_function(BenchmarkId::from_parameter(label), |bench| {
                        bench.iter(|| {
                            matmul(
                                MatMut::from_row_major_slice_mut(&mut out, m, n),
                                Accum::Replace,
                                MatRef::from_row_major_slice(black_box(&a), m, k),
                                MatRef::from_row_major_slice(black_box(&b), k, n),
                                1.0,
                                par,
                            );
                            black_box(&mut out);
                        })
                    });
                }
                group.finish();
            }
        }
    };
}

bench_dtype!(bench_f32, f32, "f32");
bench_dtype!(bench_f64, f64, "f64");

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(700))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_f32, bench_f64
}
criterion_main!(benches);
