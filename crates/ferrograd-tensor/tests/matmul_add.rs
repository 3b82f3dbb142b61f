//! `matmul_add` (`x·W + b` in one op) against the two ops it fuses, `matmul` then `add`.
//!
//! On its fused path the output starts as the bias and the product is added into it, so
//! an element is `b + dot` where the two ops form `dot + b`. The kernel may fold that
//! addition into its last fused multiply-add (one rounding fewer) or, for a long inner
//! dimension, add the bias to the first piece of the sum: the last bits can differ. So
//! values are checked against an f64 reference within the rounding bound of a product,
//! and gradients, which both paths form from the same output gradient by the same code,
//! bit for bit. Gradients are also checked against finite differences in f64.

use ferrograd_tensor::{GradcheckOptions, Rng, Tensor, TensorError, gradcheck};

fn random(shape: &[usize], rng: &mut Rng) -> Tensor<f32> {
    let len = shape.iter().product();
    let values = (0..len)
        .map(|_| rng.next_f64() as f32 * 2.0 - 1.0)
        .collect();
    Tensor::from_vec(values, shape).unwrap()
}

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.to_vec().iter().map(|v| v.to_bits()).collect()
}

/// A Linear layer's operands: `x [batch, time, k]`, the weight `[n, k]` used through its
/// transposed view, a bias `[n]`; all three trainable.
fn linear_operands(
    batch: usize,
    time: usize,
    k: usize,
    n: usize,
    rng: &mut Rng,
) -> (Tensor<f32>, Tensor<f32>, Tensor<f32>) {
    let x = random(&[batch, time, k], rng).set_requires_grad(true);
    let weight = random(&[n, k], rng).set_requires_grad(true);
    let bias = random(&[n], rng).set_requires_grad(true);
    (x, weight, bias)
}

/// Asserts `got` = `x·w + bias` (`x [rows, k]` flattened, `w [k, n]` in logical order)
/// within `(k + 1)·u·Σ|terms|` per element (u = 2⁻²⁴): the rounding bound of a k-term
/// dot product plus one addition, the bound used for products throughout the stack. A
/// missing bias or a dropped piece of the sum is far outside it.
fn assert_within_rounding(got: &Tensor<f32>, x: &Tensor<f32>, w: &Tensor<f32>, bias: &Tensor<f32>) {
    let (xv, wv, bv, got) = (x.to_vec(), w.to_vec(), bias.to_vec(), got.to_vec());
    let (k, n) = (w.shape()[0], w.shape()[1]);
    let rows = xv.len() / k;
    assert_eq!(got.len(), rows * n);
    let u = f64::from(f32::EPSILON) / 2.0;
    for i in 0..rows {
        for j in 0..n {
            let mut exact = f64::from(bv[j]);
            let mut magnitude = exact.abs();
            for p in 0..k {
                let term = f64::from(xv[i * k + p]) * f64::from(wv[p * n + j]);
                exact += term;
                magnitude += term.abs();
            }
            let bound = (k as f64 + 1.0) * u * magnitude;
            let value = f64::from(got[i * n + j]);
            assert!(
                (value - exact).abs() <= bound,
                "[{i}, {j}] of {rows}×{k}×{n}: {value} vs {exact}, bound {bound}"
            );
        }
    }
}

#[test]
fn values_match_and_gradients_equal_matmul_then_add() {
    let mut rng = Rng::new(7);
    // Shapes around faer's 24-row tiles, a one-row batch item, and the chapter-4 sizes.
    for &(batch, time, k, n) in &[
        (2, 3, 4, 5),
        (1, 2, 1, 1),
        (3, 30, 128, 128),
        (2, 17, 33, 512),
        (4, 64, 256, 96),
    ] {
        let (x, weight, bias) = linear_operands(batch, time, k, n, &mut rng);
        let w_t = weight.t().unwrap();
        let fused = x.matmul_add(&w_t, &bias).unwrap();
        let composed = x.matmul(&w_t).unwrap().add(&bias).unwrap();
        assert_eq!(fused.shape(), &[batch, time, n]);
        assert_within_rounding(&fused, &x, &w_t, &bias);
        assert_within_rounding(&composed, &x, &w_t, &bias);

        // A loss that weights every output differently, so each gradient is distinct.
        let u = random(fused.shape(), &mut rng);
        let g_fused = fused.mul(&u).unwrap().sum_all().backward().unwrap();
        let g_composed = composed.mul(&u).unwrap().sum_all().backward().unwrap();
        for (name, t) in [("x", &x), ("weight", &weight), ("bias", &bias)] {
            let (a, b) = (g_fused.get(t).unwrap(), g_composed.get(t).unwrap());
            assert_eq!(a.shape(), t.shape(), "{name}'s gradient shape");
            assert_eq!(
                bits(a),
                bits(b),
                "{name}'s gradient, {batch}×{time}×{k}×{n}"
            );
        }
    }
}

#[test]
fn row_major_right_operands_stay_within_the_rounding_bound() {
    // (rows, k, n, seed). k = 1,500: faer sums the inner dimension in pieces, the bias
    // joining the first.
    for (rows, k, n, seed) in [(40, 24, 10, 8), (48, 1500, 40, 9)] {
        let mut rng = Rng::new(seed);
        let x = random(&[rows, k], &mut rng);
        let w = random(&[k, n], &mut rng);
        let bias = random(&[n], &mut rng);
        assert_within_rounding(&x.matmul_add(&w, &bias).unwrap(), &x, &w, &bias);
    }
}

#[test]
fn cases_off_the_fused_path_give_the_two_ops_results() {
    let mut rng = Rng::new(10);
    let x = random(&[6, 4], &mut rng);
    let w = random(&[4, 3], &mut rng);
    let composed = |b: &Tensor<f32>| x.matmul(&w).unwrap().add(b).unwrap();
    // A bias of shape [1, n] broadcasts too, through the two ops.
    let b2 = random(&[1, 3], &mut rng);
    assert_eq!(bits(&x.matmul_add(&w, &b2).unwrap()), bits(&composed(&b2)));
    // A scalar-like bias [1].
    let b1 = random(&[1], &mut rng);
    assert_eq!(bits(&x.matmul_add(&w, &b1).unwrap()), bits(&composed(&b1)));
    // One row, and a vector on the left.
    let row = random(&[1, 4], &mut rng);
    let b = random(&[3], &mut rng);
    let want = row.matmul(&w).unwrap().add(&b).unwrap();
    assert_eq!(bits(&row.matmul_add(&w, &b).unwrap()), bits(&want));
    let v = random(&[4], &mut rng);
    let want = v.matmul(&w).unwrap().add(&b).unwrap();
    let got = v.matmul_add(&w, &b).unwrap();
    assert_eq!(got.shape(), &[3]);
    assert_eq!(bits(&got), bits(&want));
}

#[test]
fn bad_shapes_are_errors_naming_the_op() {
    let x = Tensor::<f32>::zeros(&[5, 4]);
    let w = Tensor::<f32>::zeros(&[3, 2]);
    let b = Tensor::<f32>::zeros(&[2]);
    match x.matmul_add(&w, &b) {
        Err(TensorError::ShapeMismatch { op, .. }) => assert_eq!(op, "matmul"),
        other => panic!("expected a matmul shape mismatch, got {other:?}"),
    }
    let w = Tensor::<f32>::zeros(&[4, 2]);
    let b = Tensor::<f32>::zeros(&[3]);
    let err = x.matmul_add(&w, &b).unwrap_err();
    assert!(
        matches!(err, TensorError::ShapeMismatch { .. }),
        "a bias of 3 for 2 outputs: {err}"
    );
}

#[test]
fn gradients_match_finite_differences_in_f64() {
    let mut rng = Rng::new(11);
    let mut random64 = |shape: &[usize]| {
        let len = shape.iter().product();
        let values = (0..len).map(|_| rng.next_f64() * 2.0 - 1.0).collect();
        Tensor::<f64>::from_vec(values, shape).unwrap()
    };
    let (x, weight, bias) = (random64(&[2, 5, 6]), random64(&[4, 6]), random64(&[4]));
    let u = random64(&[2, 5, 4]);
    let report = gradcheck(
        |t| Ok(t[0].matmul_add(&t[1].t()?, &t[2])?.mul(&u)?.sum_all()),
        &[x, weight, bias],
        &GradcheckOptions {
            eps: 1e-6,
            atol: 1e-6,
            rtol: 1e-5,
            seed: 12,
        },
    )
    .unwrap();
    assert!(report.passed(), "{report}");
}
