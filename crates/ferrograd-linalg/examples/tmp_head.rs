use ferrograd_linalg::kernel::{MatView, MatViewMut, gemm};
use std::time::Instant;
fn main() {
    let vals = |n: usize| -> Vec<f32> { (0..n).map(|i| ((i % 13) as f32 - 6.0) * 0.01).collect() };
    let (e, v) = (128usize, 8192usize);
    for r in [256usize, 512] {
        let hb = vals(r * e);
        let w = vals(e * v);
        let mut logits = vals(r * v);
        let mut dw = vals(e * v);
        let mut dh = vals(r * e);
        let reps = 20;
        let time = |f: &mut dyn FnMut()| {
            let mut best = f64::MAX;
            for _ in 0..5 {
                let s = Instant::now();
                for _ in 0..reps {
                    f();
                }
                best = best.min(s.elapsed().as_secs_f64() / reps as f64);
            }
            best
        };
        let fl = 2.0 * (r * e * v) as f64;
        let t1 = time(&mut || {
            gemm(
                MatViewMut::row_major(&mut logits, r, v).unwrap(),
                MatView::row_major(&hb, r, e).unwrap(),
                MatView::row_major(&w, e, v).unwrap(),
                1.0,
                false,
            )
            .unwrap()
        });
        let g = logits.clone();
        let t2 = time(&mut || {
            gemm(
                MatViewMut::row_major(&mut dw, e, v).unwrap(),
                MatView::row_major(&hb, r, e).unwrap().transpose(),
                MatView::row_major(&g, r, v).unwrap(),
                1.0,
                true,
            )
            .unwrap()
        });
        let t3 = time(&mut || {
            gemm(
                MatViewMut::row_major(&mut dh, r, e).unwrap(),
                MatView::row_major(&g, r, v).unwrap(),
                MatView::row_major(&w, e, v).unwrap().transpose(),
                1.0,
                false,
            )
            .unwrap()
        });
        println!(
            "rows {r}: logits {:.1} GF/s ({:.2} ms)  dW {:.1} GF/s ({:.2} ms)  dH {:.1} GF/s ({:.2} ms)",
            fl / t1 / 1e9,
            t1 * 1e3,
            fl / t2 / 1e9,
            t2 * 1e3,
            fl / t3 / 1e9,
            t3 * 1e3
        );
    }
}
