//! Behaviour of the tensor API: errors and their messages, views, autograd semantics.

use ferrograd_tensor::{
    Gradients, IdTensor, NoGradGuard, Parameter, Rng, Tensor, TensorError, no_grad,
};

#[test]
fn shape_mismatch_errors_name_op_and_shapes() {
    let a = Tensor::<f32>::zeros(&[3, 2]);
    let b = Tensor::<f32>::zeros(&[3]);
    assert_eq!(
        a.add(&b).unwrap_err().to_string(),
        "add: shape mismatch between [3, 2] and [3]"
    );
    assert_eq!(
        a.matmul(&a).unwrap_err().to_string(),
        "matmul: shape mismatch between [3, 2] and [3, 2]"
    );
    let batch = Tensor::<f32>::zeros(&[2, 3, 4]);
    let other = Tensor::<f32>::zeros(&[3, 4, 5]);
    assert_eq!(
        batch.matmul(&other).unwrap_err().to_string(),
        "matmul: shape mismatch between [2, 3, 4] and [3, 4, 5]"
    );
    let err = Tensor::concat(&[&a, &b.unsqueeze(0).unwrap()], 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "concat: shape mismatch between [3, 2] and [1, 3]"
    );
    let err = Tensor::<f32>::from_vec(vec![1.0; 5], &[2, 3]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "from_vec: 5 elements cannot fill shape [2, 3]"
    );
    assert_eq!(
        a.reshape(&[4]).unwrap_err().to_string(),
        "reshape: 6 elements cannot fill shape [4]"
    );
}

#[test]
fn operator_sugar_panics_with_the_same_message() {
    let a = Tensor::<f32>::zeros(&[3, 2]);
    let b = Tensor::<f32>::zeros(&[3]);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| &a + &b)).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert_eq!(message, &a.add(&b).unwrap_err().to_string());
}

#[test]
fn bad_axis_errors() {
    let a = Tensor::<f32>::zeros(&[3, 2]);
    assert_eq!(
        a.sum(&[2], false).unwrap_err().to_string(),
        "sum: axis 2 is out of range for a tensor of rank 2 (shape [3, 2])"
    );
    assert!(matches!(
        a.softmax(-3),
        Err(TensorError::InvalidAxis {
            op: "softmax",
            axis: -3,
            rank: 2,
            ..
        })
    ));
    assert!(matches!(
        a.sum(&[0, -2], false),
        Err(TensorError::InvalidArgument { op: "sum", .. })
    ));
    assert!(matches!(
        Tensor::<f32>::scalar(1.0).softmax(0),
        Err(TensorError::InvalidAxis { .. })
    ));
    assert!(a.squeeze(0).is_err());
    assert!(a.permute(&[0, 0]).is_err());
}

#[test]
fn out_of_range_index_errors() {
    let table = Tensor::<f32>::zeros(&[4, 2]);
    let err = table
        .index_select(0, &IdTensor::from(vec![1, 4]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "index_select: id 4 at position 1 is out of range 0..4"
    );
    let err = table
        .gather(1, &IdTensor::new(vec![0, 2], &[1, 2]).unwrap())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "gather: id 2 at position 1 is out of range 0..2"
    );
    assert!(matches!(
        table.narrow(0, 3, 2),
        Err(TensorError::IndexOutOfRange { op: "narrow", .. })
    ));
    assert!(matches!(
        table.get(&[0, 5]),
        Err(TensorError::IndexOutOfRange { op: "get", .. })
    ));
    assert!(matches!(table.item(), Err(TensorError::NotScalar { .. })));
    // Negative ids are rejected where they index, naming the id and its position.
    let err = table
        .index_select(0, &IdTensor::from(vec![0, -1]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "index_select: id -1 at position 1 is out of range 0..4"
    );
}

/// Issue 18: an error names the call the user made and the values they passed. Before,
/// `select(1, 3)` reported "narrow: index 4 …", `stack(…, 3)` and `unsqueeze(4)` named an
/// internal shape, and `Gradients::accumulate` said "add: shape mismatch" without naming
/// the tensor whose gradients disagreed.
#[test]
fn errors_name_the_call_made_and_the_values_passed() {
    let a = Tensor::<f32>::zeros(&[2, 3]);
    assert_eq!(
        a.select(1, 3).unwrap_err().to_string(),
        "select: index 3 is out of range for axis 1 of size 3"
    );
    assert_eq!(
        a.select(-1, 7).unwrap_err().to_string(),
        "select: index 7 is out of range for axis 1 of size 3"
    );
    assert_eq!(
        a.unsqueeze(4).unwrap_err().to_string(),
        "unsqueeze: cannot insert an axis at position 4 into shape [2, 3] (valid: -3..=2)"
    );
    assert_eq!(
        a.unsqueeze(-4).unwrap_err().to_string(),
        "unsqueeze: cannot insert an axis at position -4 into shape [2, 3] (valid: -3..=2)"
    );
    assert_eq!(
        Tensor::stack(&[&a, &a], 3).unwrap_err().to_string(),
        "stack: cannot insert an axis at position 3 into shape [2, 3] (valid: -3..=2)"
    );
    assert_eq!(
        Tensor::stack(&[&a, &Tensor::zeros(&[3, 2])], 0)
            .unwrap_err()
            .to_string(),
        "stack: shape mismatch between [2, 3] and [3, 2]"
    );
    // The id tensor's views say the same, naming the id type.
    let ids = IdTensor::from([[1, 2, 3], [4, 5, 6]]);
    assert_eq!(
        ids.select(1, 3).unwrap_err().to_string(),
        "IdTensor::select: index 3 is out of range for axis 1 of size 3"
    );
    assert_eq!(
        ids.unsqueeze(4).unwrap_err().to_string(),
        "IdTensor::unsqueeze: cannot insert an axis at position 4 into shape [2, 3] (valid: -3..=2)"
    );
    assert_eq!(
        IdTensor::stack(&[&ids, &ids], -4).unwrap_err().to_string(),
        "IdTensor::stack: cannot insert an axis at position -4 into shape [2, 3] (valid: -3..=2)"
    );
    // Two gradients of different shapes for one tensor: the error names the call, the
    // tensor and both shapes.
    let w = Tensor::<f32>::zeros(&[2]).set_requires_grad(true);
    let mut held = Gradients::<f32>::new();
    held.insert(&w, Tensor::zeros(&[2]));
    let mut other = Gradients::new();
    other.insert(&w, Tensor::zeros(&[3]));
    let err = held.accumulate(&other).unwrap_err();
    assert!(
        matches!(&err, TensorError::GradientShape { op: "Gradients::accumulate", id, .. } if *id == w.id()),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "Gradients::accumulate: gradients of different shapes for tensor {}: [2] already held, [3] added",
            w.id()
        )
    );
}

/// Issue 18: constructors that take a size count their elements with checked
/// arithmetic. Before, `arange(0.0, 1e30, 1.0)` panicked with "capacity overflow",
/// `eye(1 << 32)` wrapped `n * n` (index out of bounds in release) and
/// `zeros(&[usize::MAX, 2])` wrapped its element count. The fallible forms return
/// [`TensorError::TooLarge`] naming the call; the panicking forms panic with that text.
#[test]
fn constructors_report_sizes_that_overflow() {
    fn too_large<T>(result: Result<T, TensorError>, op: &str) {
        match result {
            Err(TensorError::TooLarge { op: got, .. }) => assert_eq!(got, op),
            Err(other) => panic!("{op}: expected TooLarge, got {other:?}"),
            Ok(_) => panic!("{op}: expected TooLarge, got a tensor"),
        }
    }
    let huge = [usize::MAX, 2];
    let mut rng = Rng::new(0);
    too_large(Tensor::<f64>::arange(0.0, 1e30, 1.0), "arange");
    too_large(Tensor::<f32>::arange(0.0, 3e38, 1.0), "arange");
    too_large(Tensor::<f32>::try_eye(1 << 32), "eye");
    too_large(Tensor::<f64>::try_eye(1 << 31), "eye");
    too_large(Tensor::<f32>::try_full(&huge, 1.0), "full");
    too_large(Tensor::<f32>::try_zeros(&huge), "zeros");
    too_large(Tensor::<f32>::try_ones(&huge), "ones");
    too_large(
        Tensor::<f32>::try_rand_uniform(&huge, 0.0, 1.0, &mut rng),
        "rand_uniform",
    );
    too_large(Tensor::<f64>::try_randn(&huge, 0.0, 1.0, &mut rng), "randn");
    // The panicking forms say what was asked for, not "capacity overflow".
    let panic = std::panic::catch_unwind(|| Tensor::<f32>::eye(1 << 32)).unwrap_err();
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        text.starts_with("eye: shape [4294967296, 4294967296] is too large"),
        "{text}"
    );
    // Small sizes still work.
    assert_eq!(
        Tensor::<f64>::arange(0.0, 3.0, 1.0).unwrap().to_vec(),
        [0.0, 1.0, 2.0]
    );
    assert_eq!(
        Tensor::<f32>::try_eye(2).unwrap().to_vec(),
        [1.0, 0.0, 0.0, 1.0]
    );
}

#[test]
fn views_share_storage() {
    let a = Tensor::<f32>::from_vec((0..24).map(|i| i as f32).collect(), &[2, 3, 4]).unwrap();
    let t = a.transpose(0, 2).unwrap();
    assert!(t.shares_storage_with(&a));
    assert!(!t.is_contiguous());
    assert_eq!(t.shape(), &[4, 3, 2]);
    assert_eq!(t.get(&[3, 2, 1]).unwrap(), a.get(&[1, 2, 3]).unwrap());
    assert!(a.reshape(&[6, 4]).unwrap().shares_storage_with(&a));
    assert!(a.narrow(1, 1, 2).unwrap().shares_storage_with(&a));
    assert!(a.unsqueeze(0).unwrap().shares_storage_with(&a));
    let b = Tensor::<f32>::from([1.0, 2.0])
        .broadcast_to(&[3, 2])
        .unwrap();
    assert_eq!(b.strides(), &[0, 1]);
    assert_eq!(b.to_vec(), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    // A reshape that cannot be a view copies, and still gives the right order.
    let flat = t.reshape(&[24]).unwrap();
    assert!(!flat.shares_storage_with(&a));
    assert_eq!(flat.to_vec()[..4], [0.0, 12.0, 4.0, 16.0]);
    assert_eq!(t.contiguous().to_vec(), flat.to_vec());
}

#[test]
fn broadcasting_forward_values() {
    let a = Tensor::<f32>::from([[1.0], [2.0], [3.0]]);
    let b = Tensor::<f32>::from([10.0, 20.0]);
    assert_eq!(
        a.add(&b).unwrap().to_vec2().unwrap(),
        vec![vec![11.0, 21.0], vec![12.0, 22.0], vec![13.0, 23.0]]
    );
    assert_eq!(
        a.mul(&Tensor::scalar(2.0)).unwrap().to_vec(),
        vec![2.0, 4.0, 6.0]
    );
    let m = Tensor::<f32>::from([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]]);
    assert_eq!(m.max(&[1], false).unwrap().to_vec(), vec![5.0, 6.0]);
    assert_eq!(m.argmax(1, false).unwrap().to_vec(), [1, 2]);
    assert_eq!(
        m.min(&[0], true).unwrap().to_vec2().unwrap(),
        vec![vec![1.0, 2.0, 3.0]]
    );
    assert_eq!(m.mean(&[], false).unwrap().item().unwrap(), 3.5);
    // Unbiased by default as torch.var: values 1..6 have variance 3.5.
    assert!((m.var(&[], 1, false).unwrap().item().unwrap() - 3.5).abs() < 1e-6);
    assert_eq!(
        Tensor::<f32>::arange(0.0, 1.0, 0.25).unwrap().to_vec(),
        vec![0.0, 0.25, 0.5, 0.75]
    );
    assert_eq!(Tensor::<f32>::eye(2).to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
}

#[test]
fn only_trainable_leaves_start_a_graph() {
    let x = Tensor::<f32>::from([1.0, 2.0]);
    let y = x.exp().add(&x).unwrap();
    assert!(!y.requires_grad());
    assert!(matches!(y.sum_all().backward(), Err(TensorError::NoGraph)));
    let w = x.set_requires_grad(true);
    let z = w.exp();
    assert!(z.requires_grad());
    assert_eq!(z.op_name(), Some("exp"));
    assert!(!no_grad(|| w.exp()).requires_grad());
    {
        let _guard = NoGradGuard::new();
        assert!(!w.exp().requires_grad());
    }
    assert!(w.exp().requires_grad());
    assert!(!z.detach().requires_grad());
}

#[test]
fn gradients_of_intermediates_when_asked() {
    let w = Tensor::<f64>::from([1.0, -2.0]).set_requires_grad(true);
    let h = w.mul_scalar(3.0);
    let loss = h.square().sum_all();
    let grads = loss.backward_retaining(&[&h]).unwrap();
    assert_eq!(grads.get(&h).unwrap().to_vec(), vec![6.0, -12.0]);
    assert_eq!(grads.get(&w).unwrap().to_vec(), vec![18.0, -36.0]);
    let plain = loss.backward().unwrap();
    assert!(plain.get(&h).is_none());
}

#[test]
fn broadcast_gradient_is_summed_to_the_input_shape() {
    let bias = Tensor::<f64>::from([0.5, -0.5]).set_requires_grad(true);
    let x = Tensor::<f64>::ones(&[4, 2]);
    let loss = x.add(&bias).unwrap().sum_all();
    assert_eq!(
        loss.backward().unwrap().get(&bias).unwrap().to_vec(),
        vec![4.0, 4.0]
    );
}

#[test]
fn ten_thousand_layer_chain_backpropagates() {
    let w = Tensor::<f32>::from([0.5]).set_requires_grad(true);
    let mut h = w.clone();
    for _ in 0..10_000 {
        h = h.tanh().add_scalar(0.5);
    }
    let grads = h.sum_all().backward().unwrap();
    let g = grads.get(&w).unwrap().item().unwrap();
    assert!(g.is_finite());
}

#[test]
fn parameter_updates_keep_identity() {
    let p = Parameter::new(Tensor::<f32>::from([1.0, 2.0]));
    let id = p.id();
    let grads = p.tensor().square().sum_all().backward().unwrap();
    assert_eq!(grads.get(&p).unwrap().to_vec(), vec![2.0, 4.0]);
    // A graph still holds the old value: the update must not change it.
    let old = p.tensor();
    p.update(|v| v.iter_mut().for_each(|x| *x -= 1.0)).unwrap();
    assert_eq!(old.to_vec(), vec![1.0, 2.0]);
    assert_eq!(p.tensor().to_vec(), vec![0.0, 1.0]);
    assert_eq!(p.id(), id);
    assert!(p.set(&Tensor::zeros(&[3])).is_err());
}

#[test]
fn gradients_accumulate_across_passes() {
    let w = Tensor::<f64>::from([2.0]).set_requires_grad(true);
    let mut total = w.square().sum_all().backward().unwrap();
    total
        .accumulate(&w.mul_scalar(3.0).sum_all().backward().unwrap())
        .unwrap();
    assert_eq!(total.get(&w).unwrap().to_vec(), vec![7.0]);
}

#[test]
fn scalar_ops_round_like_pytorch() {
    // x / 3 is a true division (x · (1/3) differs in the last bit for many x), and
    // multiplying keeps the sign of zero.
    let x = Tensor::<f32>::from([1.0, 10.0, 0.7, -0.0]);
    let divided = x.div_scalar(3.0).to_vec();
    for (d, v) in divided.iter().zip(x.to_vec()) {
        assert_eq!(d.to_bits(), (v / 3.0).to_bits());
    }
    assert!(x.mul_scalar(2.0).to_vec()[3].is_sign_negative());
    assert!(x.neg().to_vec()[3].is_sign_positive());
}

/// Naive `[m, k] × [k, n]` product in f64, the reference for the kernel paths below.
fn naive_matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    c
}

fn transpose(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    (0..cols)
        .flat_map(|j| (0..rows).map(move |i| a[i * cols + j]))
        .collect()
}

#[test]
fn gradient_through_a_transposed_weight_is_exact_and_contiguous() {
    // y = x·Wᵀ as in a Linear layer: dW = dyᵀ·x must come back in W's own (row-major)
    // layout, and dx = dy·W, whatever order the backward forms the products in.
    let (batch, inp, out) = (5, 4, 3);
    let mut rng = Rng::new(7);
    let x = Tensor::<f64>::randn(&[batch, inp], 0.0, 1.0, &mut rng).set_requires_grad(true);
    let w = Tensor::<f64>::randn(&[out, inp], 0.0, 1.0, &mut rng).set_requires_grad(true);
    let dy = Tensor::<f64>::randn(&[batch, out], 0.0, 1.0, &mut rng);
    let y = x.matmul(&w.t().unwrap()).unwrap();
    let grads = y.mul(&dy).unwrap().sum_all().backward().unwrap();
    let gw = grads.get(&w).unwrap();
    let gx = grads.get(&x).unwrap();
    assert!(gw.is_contiguous(), "strides {:?}", gw.strides());
    let dy_t = transpose(&dy.to_vec(), batch, out);
    let expected_gw = naive_matmul(&dy_t, &x.to_vec(), out, batch, inp);
    let expected_gx = naive_matmul(&dy.to_vec(), &w.to_vec(), batch, out, inp);
    // Sums of at most 5 products of O(1) numbers in f64: 1e-12 is ~1000 ulps of slack.
    for (got, want) in [(gw.to_vec(), expected_gw), (gx.to_vec(), expected_gx)] {
        for (g, e) in got.iter().zip(&want) {
            assert!((g - e).abs() < 1e-12, "{g} vs {e}");
        }
    }
    // A transposed left operand takes the mirrored path: d(Aᵀ·B)/dA.
    let a = Tensor::<f64>::randn(&[inp, batch], 0.0, 1.0, &mut rng).set_requires_grad(true);
    let b = Tensor::<f64>::randn(&[inp, out], 0.0, 1.0, &mut rng);
    let grads = a
        .t()
        .unwrap()
        .matmul(&b)
        .unwrap()
        .mul(&dy)
        .unwrap()
        .sum_all()
        .backward()
        .unwrap();
    let ga = grads.get(&a).unwrap();
    assert!(ga.is_contiguous(), "strides {:?}", ga.strides());
    // d(Aᵀ B) / dA = B dyᵀ, shape [inp, batch].
    let expected = naive_matmul(&b.to_vec(), &dy_t, inp, out, batch);
    for (g, e) in ga.to_vec().iter().zip(&expected) {
        assert!((g - e).abs() < 1e-12, "{g} vs {e}");
    }
}

#[test]
fn batched_products_split_across_threads_match_the_sequential_ones() {
    // 64 products of 32×64×32: each below faer's parallel threshold, together above the
    // one for splitting the batch across threads.
    let mut rng = Rng::new(11);
    let a = Tensor::<f32>::randn(&[4, 16, 32, 64], 0.0, 1.0, &mut rng);
    let b = Tensor::<f32>::randn(&[4, 16, 64, 32], 0.0, 1.0, &mut rng);
    ferrograd_tensor::set_num_threads(1);
    let sequential = a.matmul(&b).unwrap().to_vec();
    ferrograd_tensor::set_num_threads(2);
    let parallel = a.matmul(&b).unwrap().to_vec();
    ferrograd_tensor::set_num_threads(1);
    // Each product is computed by the same kernel on the same data: identical bits.
    assert_eq!(sequential, parallel);
    // And item 37 (batch index [2, 5]) is the product of its own operands.
    let (av, bv) = (a.to_vec(), b.to_vec());
    let item = 37;
    let a_item: Vec<f64> = av[item * 2048..(item + 1) * 2048]
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let b_item: Vec<f64> = bv[item * 2048..(item + 1) * 2048]
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let expected = naive_matmul(&a_item, &b_item, 32, 64, 32);
    for (g, e) in parallel[item * 1024..(item + 1) * 1024]
        .iter()
        .zip(&expected)
    {
        // 64-term f32 dot products of N(0,1) values: |sum| ≲ 30, error ≲ 64·ε·Σ|terms|.
        assert!(
            (f64::from(*g) - e).abs() < 1e-4 * (1.0 + e.abs()),
            "{g} vs {e}"
        );
    }
}

#[test]
fn strided_and_broadcast_views_gather_in_row_major_order() {
    let base = Tensor::<f32>::from_vec((0..12).map(|v| v as f32).collect(), &[3, 4]).unwrap();
    assert_eq!(
        base.t().unwrap().contiguous_data().to_vec(),
        vec![0., 4., 8., 1., 5., 9., 2., 6., 10., 3., 7., 11.]
    );
    let row = Tensor::<f32>::from([1.0, 2.0]);
    let broadcast = row.broadcast_to(&[3, 2]).unwrap();
    assert_eq!(
        broadcast.contiguous_data().to_vec(),
        vec![1., 2., 1., 2., 1., 2.]
    );
}

/// Issue 18, "no wrapped arithmetic anywhere on shapes": a file may hold an empty tensor
/// with a huge size beside a zero (`[4, 2^64 − 1, 0]`). Ops on it either give the empty
/// result or report a result too large to count — before, the products of its sizes
/// overflowed (a panic in debug builds, a wrapped count in release) in printing, sums,
/// logsumexp, flatten, element-wise ops, concat and index_select.
#[test]
fn ops_on_empty_tensors_with_huge_sizes_never_wrap() {
    fn too_large<T: std::fmt::Debug>(result: Result<T, TensorError>, op: &str) {
        assert!(
            matches!(&result, Err(TensorError::TooLarge { op: got, .. }) if *got == op),
            "{op}: {result:?}"
        );
    }
    let huge = usize::MAX;
    let t = Tensor::<f32>::from_vec(Vec::new(), &[4, huge, 0]).unwrap();
    assert_eq!(t.to_string(), format!("tensor([], size=(4, {huge}, 0))"));
    assert_eq!(t.sum(&[0], false).unwrap().shape(), &[huge, 0]);
    too_large(t.sum(&[-1], false), "sum");
    too_large(t.logsumexp(-1, false), "logsumexp");
    assert_eq!(t.flatten(0, -1).unwrap().shape(), &[0]);
    too_large(t.flatten(0, 1), "flatten");
    assert_eq!(t.add(&t).unwrap().shape(), &[4, huge, 0]);
    assert_eq!(Tensor::concat(&[&t, &t], 0).unwrap().shape(), &[8, huge, 0]);
    let picked = t.index_select(0, &IdTensor::from(vec![3])).unwrap();
    assert_eq!(picked.shape(), &[1, huge, 0]);

    let wide = Tensor::<f32>::from_vec(Vec::new(), &[0, 1 << 40, 1 << 40]).unwrap();
    too_large(wide.sum(&[0], false), "sum");
    assert!(matches!(
        wide.index_select(0, &IdTensor::from(vec![0])),
        Err(TensorError::IdOutOfRange { size: 0, .. })
    ));
    let rows = Tensor::<f32>::from_vec(Vec::new(), &[huge, 0]).unwrap();
    too_large(rows.sum(&[-1], false), "sum");
    too_large(rows.logsumexp(-1, false), "logsumexp");
    assert_eq!(rows.sum(&[0], false).unwrap().shape(), &[0]);
}

/// Element-wise ops whose broadcast result is too large to count or allocate report
/// [`TensorError::TooLarge`] naming the op. Before, `map2`/`map3` (add … pow, the
/// comparisons, `where_cond`, `masked_fill`), `triu`/`tril` and `IdTensor`'s
/// comparisons allocated the output unchecked: "capacity overflow" panics (or a
/// wrapped count in release).
#[test]
fn elementwise_ops_report_broadcasts_too_large_to_allocate() {
    fn too_large<T: std::fmt::Debug>(result: Result<T, TensorError>, op: &str) {
        assert!(
            matches!(&result, Err(TensorError::TooLarge { op: got, .. }) if *got == op),
            "{op}: {result:?}"
        );
    }
    let column = Tensor::<f32>::scalar(1.0)
        .broadcast_to(&[1 << 31, 1])
        .unwrap();
    let row = Tensor::<f32>::scalar(1.0)
        .broadcast_to(&[1, 1 << 31])
        .unwrap();
    too_large(column.add(&row), "add");
    too_large(column.sub(&row), "sub");
    too_large(column.mul(&row), "mul");
    too_large(column.div(&row), "div");
    too_large(column.maximum(&row), "maximum");
    too_large(column.minimum(&row), "minimum");
    too_large(column.pow(&row), "pow");
    too_large(column.eq(&row), "eq");
    too_large(column.lt(&row), "lt");
    too_large(Tensor::where_cond(&column, &row, &column), "where");
    // The same with a parameter on one side (the result would be recorded).
    let w = Parameter::new(Tensor::<f64>::scalar(2.0)).tensor();
    let wide = Tensor::<f64>::scalar(1.0)
        .broadcast_to(&[1 << 31, 1 << 31])
        .unwrap();
    too_large(wide.mul(&w), "mul");
    too_large(wide.masked_fill(&Tensor::scalar(1.0), 0.0), "where");
    too_large(wide.triu(0), "triu");
    too_large(wide.tril(0), "tril");
    // An empty tensor whose last two sizes multiply past usize.
    let empty = Tensor::<f32>::from_vec(Vec::new(), &[0, 1 << 40, 1 << 40]).unwrap();
    too_large(empty.triu(1), "triu");
    // Ids.
    let ids_column = IdTensor::scalar(1).broadcast_to(&[1 << 31, 1]).unwrap();
    let ids_row = IdTensor::scalar(1).broadcast_to(&[1, 1 << 31]).unwrap();
    too_large(ids_column.eq(&ids_row), "IdTensor::eq");
    too_large(ids_column.lt(&ids_row), "IdTensor::lt");
    // Ordinary broadcasts still work.
    let small = Tensor::<f32>::from([1.0, 2.0]).add(&Tensor::from([[10.0], [20.0]]));
    assert_eq!(small.unwrap().to_vec(), [11.0, 12.0, 21.0, 22.0]);
}

/// As PyTorch's `amax`: an empty kept axis gives an empty result; only an empty reduced
/// axis (there is no extremum of nothing) is an error.
#[test]
fn extrema_over_empty_tensors_follow_pytorch() {
    let t = Tensor::<f32>::zeros(&[0, 3]);
    assert_eq!(t.max(&[1], false).unwrap().shape(), &[0]);
    assert_eq!(t.min(&[1], true).unwrap().shape(), &[0, 1]);
    for axes in [&[0][..], &[][..]] {
        let err = t.max(axes, false).unwrap_err().to_string();
        assert!(err.contains("empty axis"), "{axes:?}: {err}");
    }
}

/// Joining id views whose result cannot be allocated is `TooLarge`, checked before any
/// part is copied (it used to size the buffer from an overflowed count of 0 and then copy
/// the parts, aborting on the first huge one).
#[test]
fn id_cat_too_large_to_allocate_is_an_error() {
    let one = IdTensor::from(vec![7]).reshape(&[1, 1]).unwrap();
    let wide = one.broadcast_to(&[1 << 31, 1 << 31]).unwrap();
    let result = IdTensor::cat(&[&wide, &wide], 0);
    assert!(
        matches!(
            &result,
            Err(TensorError::TooLarge {
                op: "IdTensor::cat",
                ..
            })
        ),
        "{result:?}"
    );
}
