//! The fused kernels split large inputs into blocks of rows on several threads. Per-row
//! results do not depend on the split, so forward values and input gradients must be
//! bit-identical with 1 and with 3 threads; the weight and bias gradients of the norms
//! are sums over rows added up block by block, so they may differ by rounding only
//! (|Δ| ≤ 1e-12·(1 + |g|) in f64 for sums of ~600 terms of size ~1).
//!
//! Its own test binary: the thread count is global to the process.

use ferrograd_nn::{CrossEntropyLoss, Forward, LayerNorm, RmsNorm};
use ferrograd_tensor::{IdTensor, Rng, Tensor, set_num_threads};

fn close(name: &str, a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-12 * (1.0 + y.abs()),
            "{name}[{i}]: {x} vs {y}"
        );
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut rng = Rng::new(1);
    // 70 × 4000 and 600 × 512 elements: above the 2^18-element parallel threshold.
    let logits = Tensor::<f64>::randn(&[70, 4000], 0.0, 2.0, &mut rng).set_requires_grad(true);
    let targets = IdTensor::from((0..70).map(|_| rng.below(4000) as i64).collect::<Vec<_>>());
    let x = Tensor::<f64>::randn(&[600, 512], 0.3, 1.5, &mut rng).set_requires_grad(true);
    let ln = LayerNorm::<f64>::new(&[512]);
    let rms = RmsNorm::<f64>::new(&[512], None);
    let g = Tensor::<f64>::randn(&[600, 512], 0.0, 1.0, &mut rng);
    let run = |threads: usize| {
        set_num_threads(threads);
        let loss = CrossEntropyLoss::new()
            .with_label_smoothing(0.1)
            .with_ignore_index(7)
            .forward(&logits, &targets)
            .unwrap();
        let ce_grad = loss.backward().unwrap().get(&logits).unwrap().to_vec();
        let y = ln.forward(&x).unwrap();
        let ln_grads = y.mul(&g).unwrap().sum_all().backward().unwrap();
        let z = rms.forward(&x).unwrap();
        let rms_grads = z.mul(&g).unwrap().sum_all().backward().unwrap();
        let get = |grads: &ferrograd_tensor::Gradients<f64>,
                   p: &ferrograd_tensor::Parameter<f64>| {
            grads.get(p).unwrap().to_vec()
        };
        (
            (loss.item().unwrap(), ce_grad),
            (y.to_vec(), ln_grads.get(&x).unwrap().to_vec()),
            (
                get(&ln_grads, ln.weight.as_ref().unwrap()),
                get(&ln_grads, ln.bias.as_ref().unwrap()),
            ),
            (z.to_vec(), rms_grads.get(&x).unwrap().to_vec()),
            get(&rms_grads, rms.weight.as_ref().unwrap()),
        )
    };
    let one = run(1);
    let three = run(3);
    assert_eq!(one.0, three.0, "cross-entropy loss and gradient");
    assert_eq!(one.1, three.1, "layer norm output and input gradient");
    assert_eq!(one.3, three.3, "rms norm output and input gradient");
    close("layer norm weight gradient", &one.2.0, &three.2.0);
    close("layer norm bias gradient", &one.2.1, &three.2.1);
    close("rms norm weight gradient", &one.4, &three.4);
}
