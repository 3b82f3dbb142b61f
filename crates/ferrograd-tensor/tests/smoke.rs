//! Quick end-to-end checks of the autograd engine.
use ferrograd_tensor::*;

#[test]
fn gradcheck_basic_ops() {
    let x = Tensor::<f64>::from([[0.3, -1.2, 0.5], [2.0, 0.7, -0.4]]);
    let y = Tensor::<f64>::from([[0.9, 0.2], [-0.3, 1.1], [0.25, -0.6]]);
    let b = Tensor::<f64>::from([0.1, -0.2]);
    let opts = GradcheckOptions::default();
    let r = gradcheck(
        |v| Ok(v[0].matmul(&v[1])?.add(&v[2])?.tanh().softmax(-1)?.log()),
        &[x.clone(), y.clone(), b.clone()],
        &opts,
    )
    .unwrap();
    assert!(r.passed(), "{r}");
    let r = gradcheck(
        |v| Ok(v[0].t()?.matmul(&v[0])?.sum(&[0], true)?.sigmoid()),
        &[x.clone()],
        &opts,
    )
    .unwrap();
    assert!(r.passed(), "{r}");
    let r = gradcheck(|v| v[0].max(&[1], false), &[x.clone()], &opts).unwrap();
    assert!(r.passed(), "{r}");
    let r = gradcheck(|v| v[0].var(&[1], 1, false), &[x.clone()], &opts).unwrap();
    assert!(r.passed(), "{r}");
    let idx = Indices::new(vec![2, 0, 1, 1], &[2, 2]).unwrap();
    let r = gradcheck(|v| v[0].gather(1, &idx), &[x.clone()], &opts).unwrap();
    assert!(r.passed(), "{r}");
    let r = gradcheck(
        |v| v[0].index_select(0, &Indices::from(vec![1, 1, 0])),
        &[x.clone()],
        &opts,
    )
    .unwrap();
    assert!(r.passed(), "{r}");
    let r = gradcheck(
        |v| {
            Tensor::concat(&[&v[0], &v[1].t()?], 0)?
                .gelu()
                .log_softmax(0)
        },
        &[x.clone(), y.clone()],
        &opts,
    )
    .unwrap();
    assert!(r.passed(), "{r}");
}

#[test]
fn deep_chain_backward_and_drop() {
    let x = Tensor::<f32>::from([1.0]).set_requires_grad(true);
    let mut h = x.clone();
    for _ in 0..100_000 {
        h = h.mul_scalar(1.0);
    }
    let g = h.sum_all().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![1.0]);
}

#[test]
fn reused_tensor_accumulates() {
    let x = Tensor::<f64>::from([3.0]).set_requires_grad(true);
    let y = x.mul(&x).unwrap().add(&x).unwrap().sum_all();
    let g = y.backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![7.0]);
    let g2 = y.backward().unwrap();
    assert_eq!(g2.get(&x).unwrap().to_vec(), vec![7.0]);
}
