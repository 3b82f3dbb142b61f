//! Narrow's backward adds into the window of the gradient its input has already
//! collected (`BackwardOp::accumulate_input_grad`) instead of adding a zero-padded
//! full-size gradient. The gradients must be exactly those of the zero-padded sum (up to
//! the sign of a zero outside the window, which the values here never produce).

use ferrograd_tensor::{Parameter, Tensor};

/// Values that are small multiples of 1/8, so every sum below is exact in f32.
fn values(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| (((i * 37 + seed * 11) % 17) as f32 - 8.0) / 8.0)
        .collect()
}

#[test]
fn overlapping_narrows_and_other_uses_accumulate_exactly() {
    let (rows, cols) = (5, 9);
    let x_values = values(rows * cols, 1);
    let x = Parameter::new(Tensor::from_vec(x_values.clone(), &[rows, cols]).unwrap());
    // Three windows of axis 1 (two of them overlapping), one of axis 0, and a use of the
    // whole tensor, each weighted by its own constant tensor.
    let windows: [(isize, usize, usize); 4] = [(1, 0, 3), (1, 2, 4), (1, 6, 3), (0, 1, 3)];
    let t = x.tensor();
    let mut loss = t.square().sum_all();
    let mut weights = Vec::new();
    for (k, &(axis, start, len)) in windows.iter().enumerate() {
        let part = t.narrow(axis, start, len).unwrap();
        let w_values = values(part.numel(), k + 2);
        let w = Tensor::from_vec(w_values.clone(), part.shape()).unwrap();
        loss = loss.add(&part.mul(&w).unwrap().sum_all()).unwrap();
        weights.push(w_values);
    }
    let grads = loss.backward_free().unwrap();
    let got = grads.get(&x).unwrap().to_vec();

    // d/dx of x² is 2x; each window adds its weights at the positions it covers.
    let mut expected: Vec<f32> = x_values.iter().map(|v| 2.0 * v).collect();
    for (&(axis, start, len), w) in windows.iter().zip(&weights) {
        for r in 0..rows {
            for c in 0..cols {
                let (inside, wr, wc, wcols) = if axis == 1 {
                    (c >= start && c < start + len, r, c.wrapping_sub(start), len)
                } else {
                    (
                        r >= start && r < start + len,
                        r.wrapping_sub(start),
                        c,
                        cols,
                    )
                };
                if inside {
                    expected[r * cols + c] += w[wr * wcols + wc];
                }
            }
        }
    }
    assert_eq!(got, expected);
}

#[test]
fn a_narrow_of_a_tensor_used_once_still_gets_a_zero_padded_gradient() {
    let x =
        Parameter::new(Tensor::<f64>::from_vec((0..12).map(f64::from).collect(), &[3, 4]).unwrap());
    let loss = x.tensor().narrow(1, 1, 2).unwrap().sum_all();
    let grads = loss.backward().unwrap();
    assert_eq!(
        grads.get(&x).unwrap().to_vec(),
        [0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    );
}
