//! The fused head loss with several tasks gives the same gradients bit for bit on every
//! run: the tasks' ∂W/∂b partials are added in task order, not in the order the tasks
//! finish (which depends on scheduling), and the same gradients as one task to rounding.
//! Its own test binary: it sets the thread count, which is process-wide.

use ferrograd_lm::train_loss::{BLOCK_ROWS, linear_cross_entropy};
use ferrograd_tensor::{IdTensor, Rng, Scalar, Tensor};
use std::sync::Mutex;

/// The thread count is process-wide: the tests of this file take turns.
static THREADS: Mutex<()> = Mutex::new(());

/// ∂h, ∂W and (with a bias) ∂b of the fused head loss (ignore index −100) at the current
/// thread count.
fn head_grads<T: Scalar>(
    h: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
    targets: &IdTensor,
) -> Vec<Vec<T>> {
    let (h, w) = (
        h.detach().set_requires_grad(true),
        w.detach().set_requires_grad(true),
    );
    let b = b.map(|b| b.detach().set_requires_grad(true));
    let loss = linear_cross_entropy(&h, &w, b.as_ref(), targets, -100).unwrap();
    let grads = loss.backward().unwrap();
    [Some(&h), Some(&w), b.as_ref()]
        .into_iter()
        .flatten()
        .map(|t| grads.get(t).unwrap().to_vec())
        .collect()
}

#[test]
fn gradients_are_identical_run_to_run_with_eight_threads() {
    let _turn = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    ferrograd_linalg::cpu::set_num_threads(8);
    let (rows, e, v): (usize, usize, usize) = (4000, 32, 64);
    // 16 blocks of rows: one task per thread the machine runs at once (8 at most), each
    // after the first adding a partial ∂W and ∂b.
    assert!(rows.div_ceil(BLOCK_ROWS) >= 8);
    let mut rng = Rng::new(7);
    let targets: Vec<i64> = (0..rows).map(|_| rng.below(v) as i64).collect();
    let targets = IdTensor::from(targets);
    let h = Tensor::<f32>::randn(&[rows, e], 0.0, 1.0, &mut rng);
    let w = Tensor::<f32>::randn(&[v, e], 0.0, 0.5, &mut rng);
    let b = Tensor::<f32>::randn(&[v], 0.0, 0.5, &mut rng);
    for bias in [Some(&b), None] {
        let first = head_grads(&h, &w, bias, &targets);
        for i in 1..20 {
            let again = head_grads(&h, &w, bias, &targets);
            // Bitwise: f32 sums of several partials in another order differ in the last
            // bits.
            let same =
                |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
            let with = if bias.is_some() { "with" } else { "without" };
            assert!(
                same(&again[1], &first[1]),
                "∂W {with} bias differs on run {i}"
            );
            if bias.is_some() {
                assert!(same(&again[2], &first[2]), "∂b differs on run {i}");
            }
        }
    }
}

#[test]
fn several_tasks_give_the_one_task_gradients_to_rounding() {
    // The first task accumulates ∂W and ∂b straight into the outputs and the others add
    // partials: the totals must be the one-task sums, whatever the split. f64, so that a
    // different summation order moves them by ~1e-15 and a lost or doubled partial (half
    // of the total or less, ~1e-4 here) cannot pass.
    let _turn = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let (rows, e, v): (usize, usize, usize) = (4000, 16, 40);
    let mut rng = Rng::new(11);
    let targets = IdTensor::from((0..rows).map(|_| rng.below(v) as i64).collect::<Vec<_>>());
    let h = Tensor::<f64>::randn(&[rows, e], 0.0, 1.0, &mut rng);
    let w = Tensor::<f64>::randn(&[v, e], 0.0, 0.5, &mut rng);
    let b = Tensor::<f64>::randn(&[v], 0.0, 0.5, &mut rng);
    // Without a bias the tasks skip ∂b altogether: ∂h and ∂W must not notice.
    for bias in [Some(&b), None] {
        let run = |threads: usize| {
            ferrograd_linalg::cpu::set_num_threads(threads);
            head_grads(&h, &w, bias, &targets)
        };
        let (one, several) = (run(1), run(8));
        assert_eq!(one.len(), if bias.is_some() { 3 } else { 2 });
        for (name, (a, b)) in ["∂h", "∂W", "∂b"].iter().zip(one.iter().zip(&several)) {
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            let with = if bias.is_some() { "with" } else { "without" };
            assert!(
                worst < 1e-12,
                "{name} {with} bias: 1 vs 8 threads differ by {worst}"
            );
        }
    }
}
