//! Backward formulas written the way PyTorch writes them, so gradients agree bit for bit
//! (a product by a reciprocal rounds differently from a division in about a third of the
//! cases, and a different association can overflow where PyTorch's does not), and
//! maximum/minimum's gradient at NaN and at an infinite incoming gradient.
//!
//! `tests/reference/backward_forms.py` confirms on 500 random float32 values that each
//! form used here (`g / c`, `g / x`, `-g * ((a / b) / b)`) is PyTorch's autograd bit for
//! bit, and prints PyTorch's gradients for the fixed cases below (torch 2.15.0, CPU).

use ferrograd_tensor::{Parameter, Rng, Tensor};

const N: usize = 400;

/// `value(i) = ((i * 37) % 101) / 10 - 5`, as in the reference script.
fn value(i: usize) -> f64 {
    ((i * 37) % 101) as f64 / 10.0 - 5.0
}

/// Random f32 values in `[lo, lo + width)`.
fn random(rng: &mut Rng, lo: f32, width: f32) -> Vec<f32> {
    (0..N).map(|_| lo + width * rng.next_f32()).collect()
}

fn leaf(values: Vec<f32>, shape: &[usize]) -> (Parameter<f32>, Tensor<f32>) {
    let p = Parameter::new(Tensor::from_vec(values, shape).unwrap());
    let t = p.tensor();
    (p, t)
}

fn assert_bits(name: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            g.to_bits(),
            w.to_bits(),
            "{name}[{i}]: got {g:e}, want {w:e}"
        );
    }
}

/// Gradient of `f(x)` for the incoming gradient `g`.
fn grad_of(x: &Tensor<f32>, y: &Tensor<f32>, g: &[f32]) -> Vec<f32> {
    let g = Tensor::from_vec(g.to_vec(), y.shape()).unwrap();
    y.backward_with_grad(&g).unwrap().get(x).unwrap().to_vec()
}

#[test]
fn div_scalar_and_mean_backward_divide_by_the_count_as_pytorch() {
    let mut rng = Rng::new(1);
    let (_, x) = leaf(random(&mut rng, -5.0, 10.0), &[N]);
    let g = random(&mut rng, -7.0, 14.0);
    let want: Vec<f32> = g.iter().map(|&g| g / 3.0).collect();
    assert_bits("div_scalar", &grad_of(&x, &x.div_scalar(3.0), &g), &want);
    // mean over the last axis of [16, 25]: each row's gradient is g_row / 25.
    let (_, rows) = leaf(random(&mut rng, -5.0, 10.0), &[16, 25]);
    let mean = rows.mean(&[1], false).unwrap();
    let want: Vec<f32> = g[..16]
        .iter()
        .flat_map(|&g| std::iter::repeat_n(g / 25.0, 25))
        .collect();
    assert_bits("mean", &grad_of(&rows, &mean, &g[..16]), &want);
    let want = vec![g[0] / 400.0; N];
    assert_bits("mean_all", &grad_of(&x, &x.mean_all(), &g[..1]), &want);
    // PyTorch's values (backward_forms.py): g = value(i) divided by 3.
    let g16: Vec<f32> = (0..16).map(|i| value(i) as f32).collect();
    let (_, x16) = leaf(vec![1.0; 16], &[16]);
    let torch = [
        -1.6666666269302368,
        -0.43333330750465393,
        0.800000011920929,
        -1.3333333730697632,
        -0.10000000149011612,
        1.1333333253860474,
        -1.0,
        0.23333333432674408,
        1.4666666984558105,
        -0.6666666865348816,
        0.5666666626930237,
        -1.566666603088379,
        -0.3333333432674408,
        0.9000000357627869,
        -1.2333333492279053,
        0.0,
    ];
    let torch: Vec<f32> = torch.iter().map(|&v: &f64| v as f32).collect();
    assert_bits(
        "div_scalar (PyTorch)",
        &grad_of(&x16, &x16.div_scalar(3.0), &g16),
        &torch,
    );
}

#[test]
fn log_backward_divides_by_x_as_pytorch() {
    let mut rng = Rng::new(2);
    let (_, x) = leaf(random(&mut rng, 0.01, 10.0), &[N]);
    let g = random(&mut rng, -7.0, 14.0);
    let want: Vec<f32> = g.iter().zip(x.to_vec()).map(|(&g, x)| g / x).collect();
    assert_bits("log", &grad_of(&x, &x.log(), &g), &want);
    // PyTorch's values (backward_forms.py).
    let g16: Vec<f32> = (0..16).map(|i| value(i) as f32).collect();
    let x16: Vec<f32> = (0..16)
        .map(|i| (value(i + 16).abs() + 0.05) as f32)
        .collect();
    let (_, x16) = leaf(x16, &[16]);
    let torch = [
        -1.3333333730697632,
        -0.4727272689342499,
        2.2857143878936768,
        -0.8421052694320679,
        -0.17142857611179352,
        1.658536672592163,
        -0.6741573214530945,
        0.9333333373069763,
        1.4426230192184448,
        -0.5797101259231567,
        4.857142925262451,
        -1.1604937314987183,
        -0.40816324949264526,
        2.0,
        -0.7326732277870178,
        0.0,
    ];
    let torch: Vec<f32> = torch.iter().map(|&v: &f64| v as f32).collect();
    assert_bits("log (PyTorch)", &grad_of(&x16, &x16.log(), &g16), &torch);
}

#[test]
fn div_backward_for_the_divisor_is_pytorchs_form_and_does_not_overflow_early() {
    let mut rng = Rng::new(3);
    let (_, a) = leaf(random(&mut rng, -10.0, 20.0), &[N]);
    let (_, b) = leaf(random(&mut rng, 0.01, 5.0), &[N]);
    let g = random(&mut rng, -7.0, 14.0);
    let y = a.div(&b).unwrap();
    let grads = y
        .backward_with_grad(&Tensor::from_vec(g.clone(), &[N]).unwrap())
        .unwrap();
    let (av, bv) = (a.to_vec(), b.to_vec());
    let want_a: Vec<f32> = (0..N).map(|i| g[i] / bv[i]).collect();
    let want_b: Vec<f32> = (0..N).map(|i| -g[i] * ((av[i] / bv[i]) / bv[i])).collect();
    assert_bits("div (a)", &grads.get(&a).unwrap().to_vec(), &want_a);
    assert_bits("div (b)", &grads.get(&b).unwrap().to_vec(), &want_b);
    // PyTorch's values (backward_forms.py): g = 1e30, a = 1e30, b = 1e20 gives a finite
    // -1.0000000200408773e20 (the old (-g · out)/b overflowed to -inf); a = 1e-10
    // gives -0 (the old form: -1e-20); b = 1 overflows in both.
    for (a, b, want) in [
        (1e30_f32, 1e20_f32, -1.0000000200408773e20_f64 as f32),
        (1e-10, 1e20, -0.0),
        (1e30, 1.0, f32::NEG_INFINITY),
    ] {
        let (_, a) = leaf(vec![a], &[1]);
        let (_, b) = leaf(vec![b], &[1]);
        let y = a.div(&b).unwrap();
        let got = y
            .backward_with_grad(&Tensor::from(vec![1e30_f32]))
            .unwrap()
            .get(&b)
            .unwrap()
            .to_vec();
        assert_bits("div (b), large", &got, &[want]);
    }
}

/// PyTorch (backward_forms.py): maximum's gradient is `where(a == b, g/2, g)` with 0
/// where `a` strictly loses — so where either side is NaN both get all of `g`, and an
/// infinite `g` gives exactly 0 (not `inf · 0 = NaN`) to the loser.
#[test]
fn maximum_and_minimum_gradients_follow_pytorch_at_nan_ties_and_infinite_gradients() {
    let nan = f32::NAN;
    let inf = f32::INFINITY;
    type Op = fn(&Tensor<f32>, &Tensor<f32>) -> ferrograd_tensor::Result<Tensor<f32>>;
    /// Name, op, PyTorch's gradients of a and b at NaN/ties, then with g = inf.
    type Case = (&'static str, Op, [f32; 4], [f32; 4], [f32; 2], [f32; 2]);
    let cases: [Case; 2] = [
        (
            "maximum",
            Tensor::maximum,
            [1.0, 1.0, 0.5, 1.0],
            [1.0, 1.0, 0.5, 0.0],
            [0.0, inf],
            [inf, 0.0],
        ),
        (
            "minimum",
            Tensor::minimum,
            [1.0, 1.0, 0.5, 0.0],
            [1.0, 1.0, 0.5, 1.0],
            [inf, 0.0],
            [0.0, inf],
        ),
    ];
    for (name, op, want_a, want_b, inf_a, inf_b) in cases {
        let (_, a) = leaf(vec![nan, 1.0, 2.0, 3.0], &[4]);
        let (_, b) = leaf(vec![1.0, nan, 2.0, 1.0], &[4]);
        let grads = op(&a, &b)
            .unwrap()
            .backward_with_grad(&Tensor::ones(&[4]))
            .unwrap();
        assert_bits(name, &grads.get(&a).unwrap().to_vec(), &want_a);
        assert_bits(name, &grads.get(&b).unwrap().to_vec(), &want_b);
        let (_, a) = leaf(vec![1.0, 2.0], &[2]);
        let (_, b) = leaf(vec![2.0, 1.0], &[2]);
        let g = Tensor::from(vec![inf, inf]);
        let grads = op(&a, &b).unwrap().backward_with_grad(&g).unwrap();
        assert_bits(name, &grads.get(&a).unwrap().to_vec(), &inf_a);
        assert_bits(name, &grads.get(&b).unwrap().to_vec(), &inf_b);
    }
}

#[test]
fn sqrt_backward_divides_by_twice_the_root_as_pytorch() {
    let mut rng = Rng::new(5);
    let (_, x) = leaf(random(&mut rng, 0.01, 10.0), &[N]);
    let g = random(&mut rng, -7.0, 14.0);
    let y = x.sqrt();
    let want: Vec<f32> = g
        .iter()
        .zip(y.to_vec())
        .map(|(&g, y)| g / (2.0 * y))
        .collect();
    assert_bits("sqrt", &grad_of(&x, &y, &g), &want);
    // The form itself is PyTorch's (backward_forms.py asserts it on torch's own outputs).
    // Fixed values are not compared with PyTorch's here: its CPU square root is not
    // always correctly rounded (√4.75 gives 2.1794493, one ulp below 2.1794496, which
    // ours gives), so the same form meets a different `y`.
    let old: Vec<f32> = g
        .iter()
        .zip(y.to_vec())
        .map(|(&g, y)| g * (0.5 / y))
        .collect();
    assert!(
        old.iter()
            .zip(&want)
            .any(|(a, b)| a.to_bits() != b.to_bits())
    );
}

#[test]
fn sigmoid_backward_associates_as_pytorch() {
    let mut rng = Rng::new(6);
    let (_, x) = leaf(random(&mut rng, -8.0, 16.0), &[N]);
    let g = random(&mut rng, -7.0, 14.0);
    let y = x.sigmoid();
    // PyTorch's sigmoid_backward: (g · (1 − y)) · y (backward_forms.py checks the form).
    let want: Vec<f32> = g
        .iter()
        .zip(y.to_vec())
        .map(|(&g, y)| g * (1.0 - y) * y)
        .collect();
    assert_bits("sigmoid", &grad_of(&x, &y, &g), &want);
    // The old association, y·(1 − y) first, differs in a share of these values: the
    // test can tell the two apart.
    let old: Vec<f32> = g
        .iter()
        .zip(y.to_vec())
        .map(|(&g, y)| g * (y * (1.0 - y)))
        .collect();
    assert!(
        old.iter()
            .zip(&want)
            .any(|(a, b)| a.to_bits() != b.to_bits())
    );
}
