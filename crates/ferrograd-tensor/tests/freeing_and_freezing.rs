//! `backward_free` (the training loop's call: frees the graph so parameters update in
//! place), frozen parameters (no gradient work), and custom ops that return the wrong
//! number of gradients.

use ferrograd_tensor::{BackwardOp, Parameter, Result, Tensor, TensorError};

/// A small two-layer computation on parameters: `Σ tanh(x·W1)·W2`.
fn loss(x: &Tensor<f64>, w1: &Parameter<f64>, w2: &Parameter<f64>) -> Tensor<f64> {
    x.matmul(&w1.tensor())
        .unwrap()
        .tanh()
        .matmul(&w2.tensor().t().unwrap())
        .unwrap()
        .sum_all()
}

fn params() -> (Tensor<f64>, Parameter<f64>, Parameter<f64>) {
    let x = Tensor::from([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]]);
    let w1 = Parameter::new(Tensor::from([[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]]));
    let w2 = Parameter::new(Tensor::from([[0.7, -0.8]]));
    (x, w1, w2)
}

fn data_ptr(p: &Parameter<f64>) -> *const f64 {
    p.tensor().as_slice().unwrap().as_ptr()
}

#[test]
fn backward_free_gives_the_same_gradients_and_frees_the_graph() {
    let (x, w1, w2) = params();
    let kept = loss(&x, &w1, &w2);
    let reference = kept.backward().unwrap();
    // backward() keeps the graph: a second call gives the same gradients.
    let again = kept.backward().unwrap();
    assert_eq!(
        reference.get(&w1).unwrap().to_vec(),
        again.get(&w1).unwrap().to_vec()
    );
    let freed = loss(&x, &w1, &w2);
    let hidden_user_handle = freed.clone();
    let grads = freed.backward_free().unwrap();
    for w in [&w1, &w2] {
        assert_eq!(
            grads.get(w).unwrap().to_vec(),
            reference.get(w).unwrap().to_vec()
        );
    }
    // The value stays readable; a second backward through the freed graph is an error
    // that says what happened, as PyTorch's "backward through the graph a second time".
    assert_eq!(hidden_user_handle.item().unwrap(), kept.item().unwrap());
    let err = hidden_user_handle.backward().unwrap_err();
    assert!(
        matches!(err, TensorError::GraphFreed { op: "sum" }),
        "{err}"
    );
    assert!(err.to_string().contains("backward_free"), "{err}");
}

#[test]
fn after_backward_free_the_update_is_in_place() {
    let (x, w1, w2) = params();
    // The graph kept alive by a live loss: the update must copy (old values are still
    // referenced by the recorded computation).
    let loss_kept = loss(&x, &w1, &w2);
    let grads = loss_kept.backward().unwrap();
    let before = data_ptr(&w1);
    let g = grads.get(&w1).unwrap().to_vec();
    w1.update(|v| v.iter_mut().zip(&g).for_each(|(v, g)| *v -= 0.1 * g))
        .unwrap();
    assert_ne!(
        data_ptr(&w1),
        before,
        "the graph held the old buffer: copied"
    );
    // Freed graph, even with the loss still held by the caller: the same buffer is updated.
    let loss_freed = loss(&x, &w1, &w2);
    let grads = loss_freed.backward_free().unwrap();
    let before = data_ptr(&w1);
    let g = grads.get(&w1).unwrap().to_vec();
    let expected: Vec<f64> = w1
        .tensor()
        .to_vec()
        .iter()
        .zip(&g)
        .map(|(v, g)| v - 0.1 * g)
        .collect();
    w1.update(|v| v.iter_mut().zip(&g).for_each(|(v, g)| *v -= 0.1 * g))
        .unwrap();
    assert_eq!(data_ptr(&w1), before, "updated in place");
    assert_eq!(w1.tensor().to_vec(), expected);
    drop(loss_kept);
    drop(loss_freed);
}

#[test]
fn frozen_parameters_get_no_gradient_and_the_rest_is_unchanged() {
    let (x, w1, w2) = params();
    let reference = loss(&x, &w1, &w2).backward().unwrap();
    w1.freeze();
    assert!(!w1.is_trainable() && w2.is_trainable());
    assert!(
        !w1.tensor().requires_grad(),
        "a frozen weight is a constant"
    );
    let grads = loss(&x, &w1, &w2).backward().unwrap();
    assert!(grads.get(&w1).is_none());
    assert_eq!(
        grads.get(&w2).unwrap().to_vec(),
        reference.get(&w2).unwrap().to_vec(),
        "the trainable gradient is the same with the other parameter frozen"
    );
    // Freezing is shared by every clone (a module and an optimizer hold the same one),
    // survives updates, and can be undone.
    let shared = w1.clone();
    shared
        .update(|v| v.iter_mut().for_each(|v| *v *= 2.0))
        .unwrap();
    assert!(!w1.is_trainable());
    shared.unfreeze();
    assert!(w1.is_trainable());
    assert!(loss(&x, &w1, &w2).backward().unwrap().get(&w1).is_some());
    // Everything frozen: no graph at all.
    w1.freeze();
    w2.freeze();
    assert!(matches!(
        loss(&x, &w1, &w2).backward(),
        Err(TensorError::NoGraph)
    ));
}

/// A custom op that forgets its second input's gradient.
struct Forgetful;

impl BackwardOp<f64> for Forgetful {
    fn name(&self) -> &'static str {
        "forgetful_add"
    }
    fn backward(
        &self,
        _: &[Tensor<f64>],
        _: &Tensor<f64>,
        grad: &Tensor<f64>,
    ) -> Result<Vec<Option<Tensor<f64>>>> {
        Ok(vec![Some(grad.clone())])
    }
}

#[test]
fn a_backward_returning_too_few_gradients_is_an_error_naming_the_op() {
    let a = Tensor::<f64>::from([1.0, 2.0]).set_requires_grad(true);
    let b = Tensor::<f64>::from([3.0, 4.0]).set_requires_grad(true);
    let sum = a.add(&b).unwrap().to_vec();
    let out = Tensor::from_op(sum, &[2], &[&a, &b], Forgetful).unwrap();
    let err = out.sum_all().backward().unwrap_err();
    assert!(
        matches!(
            err,
            TensorError::BackwardArity {
                op: "forgetful_add",
                inputs: 2,
                gradients: 1
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "backward: the backward of `forgetful_add` returned 1 gradients for 2 inputs"
    );
}
