//! GFLOP/s of each matrix product of the `lm_step` workload (d = 128, 1,024 tokens, MLP
//! 512, vocabulary 256), alone and repeated, so its operands stay in cache: the speed the
//! step's products could reach. Layouts are the step's: a Linear layer multiplies by its
//! weight's transposed view, the weight gradient is formed from the output gradient's
//! transposed view.
//!
//! With `--cold`, a 64 MiB buffer is written before each timed call, so every operand
//! and the output start outside the caches, as they mostly do inside a training step;
//! each product's time is then the median of 31 such calls.
//!
//! ```sh
//! cargo run --release -p ferrograd-linalg --example lm_step_products   # FERROGRAD_NUM_THREADS=1 for one core
//! cargo run --release -p ferrograd-linalg --example lm_step_products -- --cold
//! ```

mod common;

use common::CacheEvictor;
use ferrograd_linalg::LinalgError;
use ferrograd_linalg::kernel::{MatView, MatViewMut, gemm};
use std::time::Instant;

/// Times `call` with its data in cache (best of 5 runs of 100 calls) or, when `cold`, with
/// the caches flushed before each call (median of 31 calls).
fn seconds_per_call(
    cold: bool,
    mut call: impl FnMut() -> Result<(), LinalgError>,
) -> Result<f64, LinalgError> {
    if cold {
        let mut evictor = CacheEvictor::new();
        let mut times = Vec::with_capacity(31);
        for _ in 0..31 {
            evictor.evict();
            let start = Instant::now();
            call()?;
            times.push(start.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        return Ok(times[times.len() / 2]);
    }
    let reps = 100;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..reps {
            call()?;
        }
        best = best.min(start.elapsed().as_secs_f64() / f64::from(reps));
    }
    Ok(best)
}

fn main() -> Result<(), LinalgError> {
    let cold = std::env::args().any(|arg| arg == "--cold");
    let values =
        |n: usize| -> Vec<f32> { (0..n).map(|i| ((i % 13) as f32 - 6.0) * 0.01).collect() };
    let rows = 1024;
    // (product, m, k, n, left operand transposed, right operand transposed)
    let products: &[(&str, usize, usize, usize, bool, bool)] = &[
        ("forward qkv   x·Wᵀ", rows, 128, 384, false, true),
        ("forward proj  x·Wᵀ", rows, 128, 128, false, true),
        ("forward fc1   x·Wᵀ", rows, 128, 512, false, true),
        ("forward fc2   h·Wᵀ", rows, 512, 128, false, true),
        ("forward head  x·Wᵀ", rows, 128, 256, false, true),
        ("dX qkv        g·W", rows, 384, 128, false, false),
        ("dX proj       g·W", rows, 128, 128, false, false),
        ("dX fc1        g·W", rows, 512, 128, false, false),
        ("dX fc2        g·W", rows, 128, 512, false, false),
        ("dX head       g·W", rows, 256, 128, false, false),
        ("dW qkv        gᵀ·x", 384, rows, 128, true, false),
        ("dW proj       gᵀ·x", 128, rows, 128, true, false),
        ("dW fc1        gᵀ·x", 512, rows, 128, true, false),
        ("dW fc2        gᵀ·x", 128, rows, 512, true, false),
        ("dW head       gᵀ·x", 256, rows, 128, true, false),
    ];
    // Each block's four Linear layers run twice (2 blocks); the head once.
    let per_step = |name: &str| if name.contains("head") { 1.0 } else { 2.0 };
    let (mut step_seconds, mut step_flops) = (0.0, 0.0);
    println!("| product | m | k | n | µs | GFLOP/s |");
    println!("|---|---|---|---|---|---|");
    for &(name, m, k, n, left_t, right_t) in products {
        let (a, b) = (values(m * k), values(k * n));
        let mut c = vec![0.0f32; m * n];
        let lhs = if left_t {
            MatView::row_major(&a, k, m)?.transpose()
        } else {
            MatView::row_major(&a, m, k)?
        };
        let rhs = if right_t {
            MatView::row_major(&b, n, k)?.transpose()
        } else {
            MatView::row_major(&b, k, n)?
        };
        let best = seconds_per_call(cold, || {
            gemm(MatViewMut::row_major(&mut c, m, n)?, lhs, rhs, 1.0, false)
        })?;
        let flops = 2.0 * (m * k * n) as f64;
        step_seconds += per_step(name) * best;
        step_flops += per_step(name) * flops;
        println!(
            "| {name} | {m} | {k} | {n} | {:.1} | {:.1} |",
            best * 1e6,
            flops / best / 1e9
        );
    }
    println!(
        "\none lm_step's products: {:.2} GFLOP in {:.2} ms ({:.1} GFLOP/s) on {} thread(s){}",
        step_flops / 1e9,
        step_seconds * 1e3,
        step_flops / step_seconds / 1e9,
        ferrograd_linalg::cpu::num_threads(),
        if cold { ", operands cold" } else { "" }
    );
    Ok(())
}
