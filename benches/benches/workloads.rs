//! Criterion benchmarks of the workloads compared with PyTorch by
//! `cargo xtask bench-compare` (see `benches/pytorch/workloads.py`).

use criterion::{Criterion, criterion_group, criterion_main};
use ferrograd_benches::workloads;
use std::time::Duration;

fn all(c: &mut Criterion) {
    let mut group = c.benchmark_group("workloads");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for &name in workloads::NAMES {
        if let Some(mut run) = workloads::build(name) {
            group.bench_function(name, |b| b.iter(&mut run));
        }
    }
    group.finish();
}

criterion_group!(benches, all);
criterion_main!(benches);
