//! Id tensors: views and shifts without copies, the ops that produce ids (arange, argmax,
//! topk, sort, comparisons, multinomial) and those that take them, and bad ids.

use ferrograd_tensor::{IdTensor, Rng, Tensor, TensorError};

#[test]
fn shifting_a_batch_of_sequences_is_a_view() {
    // [batch 2, time 5]: the book's next-token setup, input = ids[:, :-1], target = ids[:, 1:].
    let ids = IdTensor::new((0..10).collect(), &[2, 5]).unwrap();
    let input = ids.slice(1, ..-1).unwrap();
    let target = ids.slice(1, 1..).unwrap();
    assert_eq!(input.shape(), &[2, 4]);
    assert_eq!(input.to_vec(), [0, 1, 2, 3, 5, 6, 7, 8]);
    assert_eq!(target.to_vec(), [1, 2, 3, 4, 6, 7, 8, 9]);
    assert!(input.shares_storage_with(&ids) && target.shares_storage_with(&ids));
    assert!(!input.is_contiguous(), "a narrowed row-major view has gaps");
    // Narrow, select, transpose, unsqueeze: views too.
    let col = ids.narrow(1, 2, 1).unwrap();
    assert_eq!(col.to_vec(), [2, 7]);
    assert_eq!(ids.select(0, 1).unwrap().to_vec(), [5, 6, 7, 8, 9]);
    let t = ids.transpose(0, 1).unwrap();
    assert_eq!(t.shape(), &[5, 2]);
    assert_eq!(t.get(&[3, 1]).unwrap(), 8);
    assert!(t.shares_storage_with(&ids));
    assert_eq!(ids.unsqueeze(0).unwrap().shape(), &[1, 2, 5]);
    // Reshape of a contiguous tensor is a view; of a strided one, a copy with the same ids.
    assert!(ids.reshape(&[10]).unwrap().shares_storage_with(&ids));
    let flat = target.reshape(&[8]).unwrap();
    assert_eq!(flat.to_vec(), target.to_vec());
    // Python-style bounds clamp, as slicing a PyTorch tensor does.
    assert_eq!(ids.slice(1, -100..2).unwrap().shape(), &[2, 2]);
    assert_eq!(ids.slice(1, 3..100).unwrap().shape(), &[2, 2]);
    let (start, end) = (4, 2); // an empty range, as x[:, 4:2] in PyTorch
    assert_eq!(ids.slice(1, start..end).unwrap().shape(), &[2, 0]);
}

#[test]
fn joining_and_comparing_ids() {
    let a = IdTensor::from([[1, 2], [3, 4]]);
    let b = IdTensor::from([[5, 6]]);
    let cat = IdTensor::cat(&[&a, &b], 0).unwrap();
    assert_eq!(cat.shape(), &[3, 2]);
    assert_eq!(cat.to_vec(), [1, 2, 3, 4, 5, 6]);
    let cols = IdTensor::cat(&[&a, &a.slice(1, ..1).unwrap()], 1).unwrap();
    assert_eq!(cols.to_vec(), [1, 2, 1, 3, 4, 3]);
    let stacked = IdTensor::stack(&[&a, &a], 1).unwrap();
    assert_eq!(stacked.shape(), &[2, 2, 2]);
    assert_eq!(stacked.to_vec(), [1, 2, 1, 2, 3, 4, 3, 4]);
    assert!(matches!(
        IdTensor::cat(&[&a, &IdTensor::from([1, 2, 3])], 0),
        Err(TensorError::ShapeMismatch { .. })
    ));
    // Comparisons give 0/1 ids, broadcasting as PyTorch's.
    let eq = a.eq(&IdTensor::from([1, 4])).unwrap();
    assert_eq!(eq.to_vec(), [1, 0, 0, 1]);
    assert_eq!(a.ge_scalar(3).to_vec(), [0, 0, 1, 1]);
    assert_eq!(a.ne_scalar(2).count_nonzero(), 3);
    assert_eq!(a.sum(), 10);
    assert_eq!((a.min(), a.max()), (Some(1), Some(4)));
    // A mask as floats for arithmetic.
    assert_eq!(
        a.lt_scalar(3).to_float::<f32>().to_vec(),
        [1.0, 1.0, 0.0, 0.0]
    );
}

#[test]
fn arange_argmax_topk_sort_produce_ids() {
    assert_eq!(IdTensor::arange(-2, 3).unwrap().to_vec(), [-2, -1, 0, 1, 2]);
    assert!(IdTensor::arange(5, 5).unwrap().is_empty());
    assert!(IdTensor::arange(5, 1).unwrap().is_empty());
    assert!(matches!(
        IdTensor::arange(i64::MIN, i64::MAX),
        Err(TensorError::TooLarge { .. })
    ));
    let x = Tensor::<f32>::from([[0.5, 3.0, 3.0, -1.0], [2.0, f32::NAN, 0.0, 9.0]]);
    // Ties to the first; NaN is the maximum (PyTorch).
    assert_eq!(x.argmax(1, false).unwrap().to_vec(), [1, 1]);
    let (values, ids) = x.slice(0, ..1).unwrap().topk(2, -1).unwrap();
    assert_eq!(values.to_vec(), [3.0, 3.0]);
    assert_eq!(ids.to_vec(), [1, 2]);
    // Sorting along axis 0 of a [2, 2]: ids per column.
    let m = Tensor::<f64>::from([[3.0, 1.0], [2.0, 4.0]]);
    let (sorted, order) = m.sort(0, false).unwrap();
    assert_eq!(sorted.to_vec(), [2.0, 1.0, 3.0, 4.0]);
    assert_eq!(order.to_vec(), [1, 0, 0, 1]);
    assert_eq!(m.argsort(1, true).unwrap().to_vec(), [0, 1, 1, 0]);
    assert!(matches!(
        m.topk(3, 1),
        Err(TensorError::InvalidArgument { op: "topk", .. })
    ));
}

#[test]
fn topk_values_carry_gradients_to_where_they_came_from() {
    let x = Tensor::<f64>::from([[0.1, 0.9, 0.5], [0.7, 0.2, 0.3]]).set_requires_grad(true);
    let (values, _) = x.topk(2, 1).unwrap();
    // L = Σ c·v with distinct weights per picked slot.
    let weights = Tensor::<f64>::from([[1.0, 10.0], [100.0, 1000.0]]);
    let grads = values.mul(&weights).unwrap().sum_all().backward().unwrap();
    // Row 0 picks 0.9 (pos 1), 0.5 (pos 2); row 1 picks 0.7 (pos 0), 0.3 (pos 2).
    assert_eq!(
        grads.get(&x).unwrap().to_vec(),
        [0.0, 1.0, 10.0, 100.0, 0.0, 1000.0]
    );
}

#[test]
fn multinomial_draws_from_the_rows() {
    let probs = Tensor::<f64>::from([[0.2, 0.0, 0.8], [0.0, 1.0, 0.0]]);
    let draws = probs.multinomial(20_000, &mut Rng::new(3)).unwrap();
    assert_eq!(draws.shape(), &[2, 20_000]);
    let row0 = draws.select(0, 0).unwrap().to_vec();
    assert!(row0.iter().all(|&i| i != 1), "a zero weight is never drawn");
    // Frequency of id 2: mean 0.8, sd sqrt(0.8·0.2/20000) ≈ 0.0028; 5 sd.
    let freq = row0.iter().filter(|&&i| i == 2).count() as f64 / 20_000.0;
    assert!((freq - 0.8).abs() < 0.014, "{freq}");
    assert!(draws.select(0, 1).unwrap().to_vec().iter().all(|&i| i == 1));
    // Same seed, same draws.
    assert_eq!(draws, probs.multinomial(20_000, &mut Rng::new(3)).unwrap());
    assert!(
        Tensor::<f32>::from([0.0, 0.0])
            .multinomial(1, &mut Rng::new(0))
            .is_err()
    );
    assert!(
        Tensor::<f32>::from([0.5, -0.1])
            .multinomial(1, &mut Rng::new(0))
            .is_err()
    );
    assert!(
        Tensor::<f32>::from([f32::NAN, 1.0])
            .multinomial(1, &mut Rng::new(0))
            .is_err()
    );
}

#[test]
fn bad_ids_name_the_id_its_position_and_the_range() {
    let table = Tensor::<f32>::zeros(&[5, 3]);
    let err = table
        .index_select(0, &IdTensor::from([[0, 1], [5, 2]]))
        .unwrap_err();
    assert!(matches!(
        err,
        TensorError::IdOutOfRange {
            id: 5,
            position: 2,
            size: 5,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "index_select: id 5 at position 2 is out of range 0..5"
    );
    let err = Tensor::<f32>::one_hot(&IdTensor::from([1, -100]), 3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "one_hot: id -100 at position 1 is out of range 0..3"
    );
    assert!(IdTensor::from([-1]).to_indices().is_err());
    assert!(IdTensor::new(vec![1, 2, 3], &[2, 2]).is_err());
    assert!(matches!(
        IdTensor::full(&[usize::MAX, 2], 0),
        Err(TensorError::TooLarge { .. })
    ));
    // A padding label of -100 is just an id; the losses are what ignore it.
    let labels = IdTensor::from([[7, 3, 0]]).masked_fill(&IdTensor::from([[0, 0, 1]]), -100);
    assert_eq!(labels.unwrap().to_vec(), [7, 3, -100]);
}

#[test]
fn ids_print_like_pytorch() {
    let ids = IdTensor::from([[5, -100], [12, 3]]);
    assert_eq!(
        ids.to_string(),
        "tensor([[   5, -100],\n        [  12,    3]])"
    );
    assert_eq!(IdTensor::scalar(7).to_string(), "tensor(7)");
}

#[test]
fn empty_tensors_with_huge_sizes_do_not_overflow() {
    // A file may store an empty tensor of shape [0, 4, 2^64 - 1]: no elements, no panic.
    let t = Tensor::<f32>::from_vec(Vec::new(), &[0, 4, usize::MAX]).unwrap();
    assert_eq!(t.numel(), 0);
    assert!(t.is_contiguous());
    assert!(t.to_vec().is_empty());
    let t = Tensor::<f32>::from_vec(Vec::new(), &[4, usize::MAX, 0]).unwrap();
    assert_eq!(t.numel(), 0);
    assert_eq!(t.sum_all().item().unwrap(), 0.0);
    let ids = IdTensor::new(Vec::new(), &[usize::MAX, 0]).unwrap();
    assert!(ids.is_empty() && ids.to_vec().is_empty());
}

#[test]
fn sizes_too_large_to_allocate_are_errors_not_aborts() {
    // Countable, but 2^60 bytes, beyond any x86-64 or AArch64 address space (so the
    // allocation fails whatever the kernel's overcommit setting): an error naming the
    // call, never an abort.
    for result in [
        IdTensor::full(&[1 << 57], 7),
        IdTensor::zeros(&[1 << 30, 1 << 27]),
        IdTensor::arange(0, 1 << 57),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err, TensorError::TooLarge { .. }), "{err}");
    }
    assert_eq!(IdTensor::arange(3, 6).unwrap().to_vec(), [3, 4, 5]);
    assert_eq!(IdTensor::full(&[2, 2], 9).unwrap().to_vec(), [9, 9, 9, 9]);
    // One-hot rows of a class count whose product overflows, or too many to allocate.
    let ids = IdTensor::from(vec![0, 0, 0, 0]);
    for classes in [1usize << 62, 1 << 58] {
        let err = Tensor::<f32>::one_hot(&ids, classes).unwrap_err();
        assert!(
            matches!(err, TensorError::TooLarge { .. }),
            "{classes}: {err}"
        );
    }
    assert_eq!(
        Tensor::<f32>::one_hot(&IdTensor::from(vec![1, 0]), 2)
            .unwrap()
            .to_vec(),
        [0.0, 1.0, 1.0, 0.0]
    );
    // A mask that does not broadcast names the call the user made.
    let err = IdTensor::from([[7, 3, 0, 0]])
        .masked_fill(&IdTensor::from(vec![1, 0, 1]), -100)
        .unwrap_err()
        .to_string();
    assert!(err.contains("IdTensor::masked_fill"), "{err}");
}

#[test]
fn rows_without_entries_and_uniform_draws_at_the_edge() {
    let mut rng = Rng::new(1);
    let err = Tensor::<f32>::zeros(&[3, 0])
        .multinomial(2, &mut rng)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("multinomial") && err.contains("row 0"),
        "{err}"
    );
    // No rows at all: nothing to draw, an empty result.
    let none = Tensor::<f32>::zeros(&[0, 4])
        .multinomial(2, &mut rng)
        .unwrap();
    assert_eq!(none.shape(), &[0, 2]);
    // [low, high) even where f64 draws round up in f32: an interval one f32 step wide
    // makes every draw that would round to `high` a redraw.
    let low = 1.0f32;
    let high = f32::from_bits(low.to_bits() + 1);
    let x = Tensor::<f32>::rand_uniform(&[10_000], low, high, &mut rng);
    assert!(
        x.to_vec().iter().all(|&v| v == low),
        "only `low` is below `high`"
    );
}
