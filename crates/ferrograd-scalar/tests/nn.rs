//! The `nn` module: seeded initialisation, forward passes, loss, gradients and training of
//! the book's Figure 1.1 network on the buy/no-buy dataset.

use ferrograd_scalar::Tape;
use ferrograd_scalar::nn::{
    Activation, BUY_X, BUY_Y, Layer, Mlp, Module, Neuron, SplitMix64, binary_cross_entropy,
};

#[test]
fn splitmix64_known_answers() {
    // The first outputs for seed 0 published with the algorithm (Vigna's splitmix64.c).
    let mut r = SplitMix64::new(0);
    assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
    assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    let mut r = SplitMix64::new(7);
    for _ in 0..1000 {
        let u = r.next_f64();
        assert!((0.0..1.0).contains(&u));
        let v = r.uniform(-2.0, 3.0);
        assert!((-2.0..3.0).contains(&v));
    }
}

#[test]
fn figure_1_1_shape_and_seeded_init() {
    let m = Mlp::figure_1_1(Activation::Relu, 1);
    // 3 units × (2 weights + bias) + 1 unit × (3 weights + bias).
    assert_eq!(m.num_parameters(), 13);
    assert_eq!(m.layers().len(), 2);
    assert_eq!(m.layers()[0].neurons().len(), 3);
    assert_eq!(m.layers()[1].neurons()[0].activation(), Activation::Sigmoid);
    assert_eq!(m, Mlp::figure_1_1(Activation::Relu, 1));
    assert_ne!(
        m.parameters(),
        Mlp::figure_1_1(Activation::Relu, 2).parameters()
    );
    // PyTorch's Linear range: |w| < 1/√fan_in.
    for (i, layer) in m.layers().iter().enumerate() {
        let k = 1.0 / if i == 0 { 2.0_f64 } else { 3.0 }.sqrt();
        for n in layer.neurons() {
            assert!(n.weights().iter().chain([&n.bias()]).all(|w| w.abs() < k));
        }
    }
}

#[test]
fn tape_forward_equals_plain_prediction() {
    for act in [
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Identity,
    ] {
        let m = Mlp::new(2, &[4, 3, 1], act, Activation::Sigmoid, 9);
        let tape = Tape::new();
        let p = m.bind(&tape);
        for x in BUY_X {
            let xv = tape.vars(&x);
            // The same IEEE operations in the same order on both paths: bit-identical.
            assert_eq!(m.forward(&p, &xv)[0].value(), m.predict(&x)[0]);
        }
    }
}

#[test]
fn hand_built_neuron_and_layer() {
    let n = Neuron::from_parts(vec![2.0, -1.0], 0.5, Activation::Relu);
    assert_eq!(n.predict(&[1.0, 1.0]), 1.5);
    assert_eq!(n.predict(&[0.0, 1.0]), 0.0);
    let tape = Tape::new();
    let p = n.bind(&tape);
    let x = tape.vars(&[3.0, 4.0]);
    let y = n.forward(&p, &x);
    assert_eq!(y.value(), 2.5);
    let g = y.backward().unwrap();
    // d relu(2·3 − 4 + 0.5)/d(w1, w2, b, x1, x2) = (x1, x2, 1, w1, w2).
    assert_eq!([g[p[0]], g[p[1]], g[p[2]]], [3.0, 4.0, 1.0]);
    assert_eq!([g[x[0]], g[x[1]]], [2.0, -1.0]);

    let l = Layer::from_neurons(vec![
        n.clone(),
        Neuron::from_parts(vec![1.0, 1.0], 0.0, Activation::Identity),
    ]);
    assert_eq!(l.predict(&[3.0, 4.0]), vec![2.5, 7.0]);
}

#[test]
fn mean_bce_equals_the_book_formula() {
    let m = Mlp::figure_1_1(Activation::Tanh, 3);
    let mut want = 0.0;
    for (x, y) in BUY_X.iter().zip(BUY_Y) {
        let p = m.predict(x)[0];
        want -= y * p.ln() + (1.0 - y) * (1.0 - p).ln();
    }
    want /= 12.0;
    // ln(1 + e^-z) (the tape's logits form) and −ln σ(z) differ by a few roundings of
    // values of order 1: 1e-13 relative is ~500 ulps of margin.
    let got = m.loss(&BUY_X, &BUY_Y);
    assert!((got - want).abs() <= 1e-13 * want, "{got} vs {want}");

    // A non-sigmoid output uses the book's formula on the output directly: an identity
    // output unit with zero weights and bias 0.25 predicts p = 0.25 for every example.
    let out = Neuron::from_parts(vec![0.0; 3], 0.25, Activation::Identity);
    let hidden = Layer::new(2, 3, Activation::Tanh, &mut SplitMix64::new(1));
    let m2 = Mlp::from_layers(vec![hidden, Layer::from_neurons(vec![out])]);
    let want = -(8.0 * 0.25_f64.ln() + 4.0 * 0.75_f64.ln()) / 12.0;
    let got = m2.loss(&BUY_X, &BUY_Y);
    assert!((got - want).abs() <= 1e-15, "{got} vs {want}");
    let tape = Tape::new();
    let p = tape.var(0.25);
    assert_eq!(binary_cross_entropy(p, 1.0).value(), -(0.25_f64.ln()));
}

/// Gradient of the mean loss for every parameter of an MLP, against a Richardson-extrapolated
/// central difference of the plain-`f64` loss. With h = 1e-3, D(h) = (f(p+h) − f(p−h))/2h has
/// error c₂h² + c₄h⁴ + …, and (4·D(h/2) − D(h))/3 cancels the h² term, leaving O(h⁴) ≈ 1e-12
/// times a fifth derivative of order 1 for these smooth (tanh/sigmoid) networks; rounding adds
/// ~ε·|f|/h ≈ 1e-13. A tolerance of 1e-8·max(1, |g|) is thus ~1e4 above both, while a wrong
/// backward rule (a missing term, a wrong sign) errs by O(|g|).
#[test]
fn mlp_gradients_match_finite_differences() {
    for act in [Activation::Tanh, Activation::Sigmoid] {
        let m = Mlp::new(2, &[3, 2, 1], act, Activation::Sigmoid, 11);
        // Scaled inputs keep the network away from saturation, where all derivatives are ~0
        // and the test would be weak.
        let xs: Vec<[f64; 2]> = BUY_X.iter().map(|x| [x[0] / 50.0, x[1] / 100.0]).collect();
        let tape = Tape::new();
        let p = m.bind(&tape);
        let loss = m.mean_bce(&p, &xs, &BUY_Y);
        let g = loss.backward().unwrap();
        let params = m.parameters();
        let f = |k: usize, d: f64| {
            let mut m2 = m.clone();
            let mut i = 0;
            m2.for_each_parameter_mut(&mut |q| {
                if i == k {
                    *q += d;
                }
                i += 1;
            });
            m2.loss(&xs, &BUY_Y)
        };
        for k in 0..params.len() {
            let h = 1e-3;
            let d1 = (f(k, h) - f(k, -h)) / (2.0 * h);
            let d2 = (f(k, h / 2.0) - f(k, -h / 2.0)) / h;
            let fd = (4.0 * d2 - d1) / 3.0;
            let ad = g[p[k]];
            assert!(
                (ad - fd).abs() <= 1e-8 * fd.abs().max(1.0),
                "{act:?} parameter {k}: ad {ad} vs fd {fd}"
            );
        }
    }
}

fn train(hidden: Activation, seed: u64, lr: f64, steps: usize) -> (Vec<f64>, Mlp) {
    let mut m = Mlp::figure_1_1(hidden, seed);
    let mut tape = Tape::new();
    let losses = (0..steps)
        .map(|_| m.train_step(&mut tape, &BUY_X, &BUY_Y, lr).unwrap())
        .collect();
    (losses, m)
}

#[test]
fn figure_1_1_trains_on_the_buy_dataset_and_is_deterministic() {
    let (losses, m) = train(Activation::Relu, 1, 1e-3, 1500);
    let (again, m2) = train(Activation::Relu, 1, 1e-3, 1500);
    // Same seed, same data, same arithmetic: bit-identical runs.
    assert_eq!(losses, again);
    assert_eq!(m, m2);
    let (first, last) = (losses[0], *losses.last().unwrap());
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    // A loss below ln 2 ≈ 0.693 (the loss of always answering 0.5) means the network has
    // learnt something; this run reaches ~0.2.
    assert!(last < 0.3, "final loss {last}");
    let correct = BUY_X
        .iter()
        .zip(BUY_Y)
        .filter(|(x, y)| (m.predict(*x)[0] >= 0.5) == (*y == 1.0))
        .count();
    assert!(correct >= 11, "{correct}/12 correct");
}

#[test]
fn loss_falls_for_every_hidden_activation_and_several_seeds() {
    for hidden in [Activation::Relu, Activation::Tanh, Activation::Sigmoid] {
        for seed in 1..=4 {
            let (losses, _) = train(hidden, seed, 1e-3, 300);
            let (first, last) = (losses[0], *losses.last().unwrap());
            assert!(last < first, "{hidden:?} seed {seed}: {first} -> {last}");
        }
    }
}

#[test]
fn a_step_moves_each_parameter_against_its_gradient() {
    let mut m = Mlp::figure_1_1(Activation::Tanh, 5);
    let before = m.parameters();
    let tape = Tape::new();
    let p = m.bind(&tape);
    let loss = m.mean_bce(&p, &BUY_X, &BUY_Y);
    let g = loss.backward().unwrap();
    m.gradient_step(&p, &g, 0.01);
    for (k, (b, a)) in before.iter().zip(m.parameters()).enumerate() {
        assert_eq!(a, b - 0.01 * g[p[k]]);
    }
}
