//! A long contiguous sum is cut into blocks of 4,096 elements whose sums are computed on
//! the worker pool above `thresholds::ELEMENTWISE` (2^17 elements) and then added in
//! block order. So the result must have the same bits at every thread count, count every
//! element once (the last block ragged), and stay within the blocked sum's rounding
//! bound. One test function: the thread count is global to the process.

use ferrograd_linalg::cpu::{num_threads, partition, set_num_threads, thresholds};
use ferrograd_tensor::Tensor;

/// Deterministic values with no pattern aligned to the block size, and not short dyadic
/// fractions: their sums round, so a different order of the additions changes the bits.
fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 * 0.013_717_421 - 4.37)
        .collect()
}

#[test]
fn long_sums_have_the_same_bits_at_every_thread_count() {
    let before = num_threads();
    // 3·2^17 + 4,099 = 397,315 elements: above the threshold, in 98 blocks (97 full, the
    // last of 3 elements).
    let len = 3 * (1 << 17) + 4099;

    // Small integers: every partial sum is an integer below 2^24, exact in f32 in any
    // order, so the sum must be exactly the integer total (a block lost or counted twice
    // moves it by thousands).
    let ints: Vec<f32> = (0..len).map(|i| (i % 7) as f32).collect();
    let exact: u64 = (0..len as u64).map(|i| i % 7).sum();
    assert!(exact < 1 << 24);
    let ints = Tensor::from_vec(ints, &[len]).unwrap();

    // Non-integers: the bits depend on the order of the additions.
    let x_values = values(len);
    let x = Tensor::from_vec(x_values.clone(), &[len]).unwrap();
    let reference: f64 = x_values.iter().map(|&v| f64::from(v)).sum();
    let magnitude: f64 = x_values.iter().map(|&v| f64::from(v).abs()).sum();
    // Each value passes through at most 4096/64 lane additions, 6 halvings of the 64
    // lanes and one addition per block (98 blocks): 168 roundings of at most 2^-24
    // relative each, bounded by 168 · 2^-24 · Σ|x| ≈ 1.0e-5 · Σ|x|.
    let bound = 168.0 * f64::from(f32::EPSILON) / 2.0 * magnitude;

    // Rows long enough to be split on their own, summed along the last axis.
    let rows = Tensor::from_vec(values(2 * 300_000), &[2, 300_000]).unwrap();

    let mut first: Option<(u32, Vec<u32>)> = None;
    for threads in [1, 2, 3, 4] {
        set_num_threads(threads);
        if threads > 1 {
            // The blocks really are split over the pool at this size.
            assert!(partition::piece_len(len, thresholds::ELEMENTWISE).is_some());
        }
        assert_eq!(
            ints.sum_all().item().unwrap(),
            exact as f32,
            "{threads} threads"
        );
        let total = x.sum_all().item().unwrap();
        assert!(
            (f64::from(total) - reference).abs() <= bound,
            "{threads} threads: {total} vs {reference} (bound {bound:e})"
        );
        let per_row: Vec<u32> = rows
            .sum(&[-1], false)
            .unwrap()
            .to_vec()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let bits = (total.to_bits(), per_row);
        match &first {
            None => first = Some(bits),
            Some(one) => assert_eq!(&bits, one, "{threads} threads vs 1"),
        }
    }
    set_num_threads(before);
}
