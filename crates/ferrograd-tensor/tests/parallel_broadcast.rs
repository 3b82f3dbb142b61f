//! Broadcast and strided element-wise ops split their output into blocks of outer rows
//! and run them on several threads above `thresholds::ELEMENTWISE` (2^17 elements). Each
//! element is computed by the same function either way, so the results must equal a
//! plain loop over the values exactly, at every thread count and for blocks that start
//! mid-axis. One test function: the thread count is global to the process.

use ferrograd_linalg::cpu::{num_threads, set_num_threads};
use ferrograd_tensor::Tensor;

/// Deterministic values with no pattern aligned to the shapes used here.
fn values(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| (((i * 7919 + seed * 104_729) % 1000) as f32 - 500.0) / 64.0)
        .collect()
}

#[test]
fn broadcast_and_strided_ops_equal_a_plain_loop_at_every_thread_count() {
    let before = num_threads();
    // [3, 257, 300] = 231,300 elements: above the threshold, and 257 rows split unevenly.
    let (b, r, c) = (3, 257, 300);
    let x_values = values(b * r * c, 1);
    let x = Tensor::from_vec(x_values.clone(), &[b, r, c]).unwrap();
    let bias_values = values(c, 2);
    let bias = Tensor::from_vec(bias_values.clone(), &[c]).unwrap();
    let column_values = values(r, 3);
    let column = Tensor::from_vec(column_values.clone(), &[r, 1]).unwrap();
    // A [1, 700, 200] tensor: the first axis is 1, so the blocks are cut along the second.
    let y_values = values(700 * 200, 4);
    let y = Tensor::from_vec(y_values.clone(), &[1, 700, 200]).unwrap();
    let at = |v: &[f32], i: usize, j: usize, k: usize| v[(i * r + j) * c + k];

    let mut expect_bias = Vec::with_capacity(b * r * c);
    let mut expect_column = Vec::with_capacity(b * r * c);
    let mut expect_where = Vec::with_capacity(b * r * c);
    for i in 0..b {
        for (j, &scale) in column_values.iter().enumerate() {
            for (k, &shift) in bias_values.iter().enumerate() {
                let v = at(&x_values, i, j, k);
                expect_bias.push(v + shift);
                expect_column.push(v * scale);
                expect_where.push(if scale > 0.0 { v } else { shift });
            }
        }
    }
    // yᵀ over its last two axes, made contiguous by an element-wise op (the strided path).
    let mut expect_transposed_neg = Vec::with_capacity(700 * 200);
    for k in 0..200 {
        for j in 0..700 {
            expect_transposed_neg.push(-y_values[j * 200 + k]);
        }
    }

    for threads in [1, 2, 3] {
        set_num_threads(threads);
        let sum = x.add(&bias).unwrap();
        assert_eq!(sum.to_vec(), expect_bias, "x + bias, {threads} threads");
        let product = x.mul(&column).unwrap();
        assert_eq!(
            product.to_vec(),
            expect_column,
            "x * column, {threads} threads"
        );
        let mask = column.gt_scalar(0.0);
        let chosen = Tensor::where_cond(&mask, &x, &bias).unwrap();
        assert_eq!(chosen.to_vec(), expect_where, "where, {threads} threads");
        let negated = y.transpose(1, 2).unwrap().neg();
        assert_eq!(negated.shape(), &[1, 200, 700]);
        assert_eq!(
            negated.to_vec(),
            expect_transposed_neg,
            "-yᵀ, {threads} threads"
        );
    }
    set_num_threads(before);
}
