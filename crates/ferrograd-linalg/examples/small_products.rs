//! Time per call of the small products of attention, in the layouts the fused attention
//! uses (one head of a `[B, T, H·D]` projection, a query block of 32 rows), through
//! `kernel::gemm`. Run it twice to compare the small-product kernel with faer:
//!
//! ```sh
//! cargo run --release -p ferrograd-linalg --example small_products
//! FERROGRAD_SIMD=baseline cargo run --release -p ferrograd-linalg --example small_products  # faer only
//! ```

use ferrograd_linalg::LinalgError;
use ferrograd_linalg::kernel::{MatView, MatViewMut, gemm};
use std::time::Instant;

/// One product: `dst [m, n] (+)= lhs [m, k] · rhs [k, n]`.
struct Case {
    name: &'static str,
    m: usize,
    n: usize,
    k: usize,
    /// Left operand stored transposed (`[k, m]` rows), as `Pᵀ` in `dV += Pᵀ·dO`.
    lhs_t: bool,
    /// Right operand stored transposed (`[n, k]` rows), as `Kᵀ` in `S = Q·Kᵀ`.
    rhs_t: bool,
    accumulate: bool,
}

fn main() -> Result<(), LinalgError> {
    let row = 384; // row stride of a head's q/k/v inside a [B, T, 3·H·D] projection
    let mut cases = Vec::new();
    for (d, widths) in [
        (16, [32, 64, 96, 128]),
        (32, [32, 64, 96, 128]),
        (64, [32, 64, 128, 256]),
    ] {
        for w in widths {
            cases.push(Case {
                name: "S = Q·Kᵀ",
                m: 32,
                n: w,
                k: d,
                lhs_t: false,
                rhs_t: true,
                accumulate: false,
            });
            cases.push(Case {
                name: "S = Q·(Kᵀ copied)",
                m: 32,
                n: w,
                k: d,
                lhs_t: false,
                rhs_t: false,
                accumulate: false,
            });
            cases.push(Case {
                name: "O = P·V",
                m: 32,
                n: d,
                k: w,
                lhs_t: false,
                rhs_t: false,
                accumulate: false,
            });
            cases.push(Case {
                name: "dV += Pᵀ·dO",
                m: w,
                n: d,
                k: 32,
                lhs_t: true,
                rhs_t: false,
                accumulate: true,
            });
        }
    }
    cases.push(Case {
        name: "S (T = 30)",
        m: 30,
        n: 30,
        k: 16,
        lhs_t: false,
        rhs_t: true,
        accumulate: false,
    });
    cases.push(Case {
        name: "O (T = 30)",
        m: 30,
        n: 16,
        k: 30,
        lhs_t: false,
        rhs_t: false,
        accumulate: false,
    });
    println!("| product | m | n | k | ns per call | GFLOP/s |");
    println!("|---|---|---|---|---|---|");
    for c in &cases {
        let lhs_stride = if c.lhs_t { c.m } else { row.max(c.k) };
        let rhs_stride = if c.rhs_t { row.max(c.k) } else { row.max(c.n) };
        let lhs_len = if c.lhs_t { c.k * c.m } else { c.m * lhs_stride };
        let rhs_len = if c.rhs_t {
            c.n * rhs_stride
        } else {
            c.k * rhs_stride
        };
        let values =
            |n: usize| -> Vec<f32> { (0..n).map(|i| ((i % 13) as f32 - 6.0) * 0.01).collect() };
        let (a, b) = (values(lhs_len), values(rhs_len));
        let mut out = vec![0.0f32; c.m * c.n];
        let run = |out: &mut [f32]| -> Result<(), LinalgError> {
            let lhs = if c.lhs_t {
                MatView::row_major(&a, c.k, c.m)?.transpose()
            } else {
                MatView::new(&a, 0, c.m, c.k, lhs_stride as isize, 1)?
            };
            let rhs = if c.rhs_t {
                MatView::new(&b, 0, c.n, c.k, rhs_stride as isize, 1)?.transpose()
            } else {
                MatView::new(&b, 0, c.k, c.n, rhs_stride as isize, 1)?
            };
            gemm(
                MatViewMut::row_major(out, c.m, c.n)?,
                lhs,
                rhs,
                0.25,
                c.accumulate,
            )
        };
        let calls = (200_000_000 / (c.m * c.n * c.k)).clamp(1_000, 1_000_000);
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let start = Instant::now();
            for _ in 0..calls {
                run(&mut out)?;
            }
            best = best.min(start.elapsed().as_secs_f64() / calls as f64);
        }
        let flops = 2.0 * (c.m * c.n * c.k) as f64;
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.1} |",
            c.name,
            c.m,
            c.n,
            c.k,
            best * 1e9,
            flops / best / 1e9
        );
    }
    Ok(())
}
