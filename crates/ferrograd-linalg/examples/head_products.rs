//! GFLOP/s of the chapter-4 decoder's output-head products (`decoder_step_30`: blocks of
//! 256 rows, d = 128, V = 8,192, slices of 1,024 classes, the layouts of
//! `ferrograd-lm`'s `train_loss.rs`), hot or cold:
//!
//! - logits `h_blk·W[:, slice]` into the block's `[256, 8192]` buffer;
//! - `∂W[:, slice] += h_blkᵀ·g_slice`;
//! - `∂h_blk += g_slice·W[:, slice]ᵀ`.
//!
//! Each product runs over the eight slices of a block, 20 times (the first two not
//! timed). With `--cold`, a 64 MiB buffer is written before each call, so its operands
//! start outside the caches; inside the step they are partly warm, so the step's speeds
//! lie between the two.
//!
//! ```sh
//! FERROGRAD_NUM_THREADS=1 cargo run --release -p ferrograd-linalg --example head_products [-- --cold]
//! ```

mod common;

use common::CacheEvictor;
use ferrograd_linalg::LinalgError;
use ferrograd_linalg::kernel::{MatView, MatViewMut, gemm};
use std::time::Instant;

fn main() -> Result<(), LinalgError> {
    let (rows, d, vocab, slice) = (256usize, 128usize, 8192usize, 1024usize);
    let values = |n: usize, seed: usize| -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 7 + seed) % 13) as f32 - 6.0) * 0.01)
            .collect()
    };
    let h = values(rows * d, 1);
    let w = values(d * vocab, 2);
    let mut logits = values(rows * vocab, 3);
    let mut dw = vec![0f32; d * vocab];
    let mut dh = vec![0f32; rows * d];
    let cold = std::env::args().any(|arg| arg == "--cold");
    let mut evictor = CacheEvictor::new();
    let (reps, untimed) = (20u8, 2u8);
    let mut seconds = [0f64; 3];
    for rep in 0..reps {
        for c in 0..vocab / slice {
            for (kind, total) in seconds.iter_mut().enumerate() {
                if cold {
                    evictor.evict();
                }
                let start = Instant::now();
                let h_blk = MatView::row_major(&h, rows, d)?;
                let w_slice = MatView::new(&w, c * slice, d, slice, vocab as isize, 1)?;
                match kind {
                    0 => gemm(
                        MatViewMut::new(&mut logits, c * slice, rows, slice, vocab as isize, 1)?,
                        h_blk,
                        w_slice,
                        1.0,
                        false,
                    )?,
                    1 => gemm(
                        MatViewMut::new(&mut dw, c * slice, d, slice, vocab as isize, 1)?,
                        h_blk.transpose(),
                        MatView::new(&logits, c * slice, rows, slice, vocab as isize, 1)?,
                        1.0,
                        true,
                    )?,
                    _ => gemm(
                        MatViewMut::row_major(&mut dh, rows, d)?,
                        MatView::new(&logits, c * slice, rows, slice, vocab as isize, 1)?,
                        w_slice.transpose(),
                        1.0,
                        true,
                    )?,
                }
                if rep >= untimed {
                    *total += start.elapsed().as_secs_f64();
                }
            }
        }
    }
    let flops = 2.0 * (rows * d * vocab) as f64 * f64::from(reps - untimed);
    println!(
        "{}: logits {:.1}, ∂W {:.1}, ∂h {:.1} GFLOP/s on {} thread(s)",
        if cold { "cold" } else { "hot" },
        flops / seconds[0] / 1e9,
        flops / seconds[1] / 1e9,
        flops / seconds[2] / 1e9,
        ferrograd_linalg::cpu::num_threads()
    );
    Ok(())
}
