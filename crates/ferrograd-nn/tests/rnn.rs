//! The Elman RNN: the fused forward/backward over time against finite differences (f64)
//! and against the same computation composed step by step from tensor primitives; shapes,
//! states and errors.
//!
//! Gradient checks: central differences with step 1e-6 in f64, tolerance
//! |ad − fd| ≤ 1e-6 + 1e-5·|fd| (the nn crate's tests/gradients.rs settings: rounding
//! error of the difference ~1e-10, truncation ~1e-12 for these smooth functions of O(1)
//! inputs, so any formula error ≥ 1e-3 relative fails).

use ferrograd_nn::{ElmanCell, ElmanRnn, Forward, Module, gradcheck_module, initialize_weights};
use ferrograd_tensor::{GradcheckOptions, Rng, Tensor, gradcheck};
use proptest::prelude::*;

fn options() -> GradcheckOptions {
    GradcheckOptions {
        eps: 1e-6,
        atol: 1e-6,
        rtol: 1e-5,
        seed: 7,
    }
}

/// An RNN with weights scaled so the tanh units are neither saturated nor linear.
fn rnn(input: usize, hidden: usize, layers: usize, seed: u64) -> ElmanRnn<f64> {
    let mut rng = Rng::new(seed);
    let rnn = ElmanRnn::<f64>::new(input, hidden, layers, &mut rng).unwrap();
    for p in rnn.parameters() {
        let shape = p.shape();
        p.set(&Tensor::randn(&shape, 0.0, 0.5, &mut rng)).unwrap();
    }
    rnn
}

fn max_abs_diff(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.to_vec()
        .iter()
        .zip(b.to_vec())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn fused_gradients_match_finite_differences() {
    for (batch, time, input, hidden, layers) in [
        (2, 3, 4, 5, 1),
        (3, 4, 3, 3, 2),
        (1, 1, 2, 4, 3),
        (2, 5, 6, 2, 2),
    ] {
        let model = rnn(input, hidden, layers, 11 + time as u64);
        let mut rng = Rng::new(5);
        let x = Tensor::<f64>::randn(&[batch, time, input], 0.0, 1.0, &mut rng);
        let h0 = Tensor::<f64>::randn(&[layers, batch, hidden], 0.0, 0.5, &mut rng);
        // Inputs and initial state; the output and last state both feed the objective.
        let report = gradcheck(
            |v| {
                let out = model.forward_with_state(&v[0], Some(&v[1]))?;
                out.output.sum_all().add(&out.hidden.square().sum_all())
            },
            &[x.clone(), h0.clone()],
            &options(),
        )
        .unwrap();
        assert!(
            report.passed(),
            "inputs {batch}x{time}x{input}→{hidden}·{layers}: {report}"
        );
        // Every parameter, with and without an initial state.
        for with_state in [false, true] {
            let report = gradcheck_module(
                &model,
                || {
                    let out = model.forward_with_state(&x, with_state.then_some(&h0))?;
                    Ok(out.output)
                },
                &options(),
            )
            .unwrap();
            assert!(report.passed(), "parameters (state {with_state}): {report}");
            assert_eq!(report.checked, model.num_parameters());
        }
    }
}

#[test]
fn fused_equals_the_composed_step_by_step_computation() {
    let model = rnn(5, 6, 3, 2);
    let mut rng = Rng::new(9);
    let x = Tensor::<f64>::randn(&[4, 7, 5], 0.0, 1.0, &mut rng).set_requires_grad(true);
    let h0 = Tensor::<f64>::randn(&[3, 4, 6], 0.0, 0.5, &mut rng).set_requires_grad(true);
    let weights = Tensor::<f64>::randn(&[4, 7, 6], 0.0, 1.0, &mut rng);
    let fused = model.forward_with_state(&x, Some(&h0)).unwrap();
    let composed = model.forward_composed(&x, Some(&h0)).unwrap();
    assert!(max_abs_diff(&fused.output, &composed.output) < 1e-14);
    assert!(max_abs_diff(&fused.hidden, &composed.hidden) < 1e-14);
    let objective = |o: &ferrograd_nn::RnnOutput<f64>| {
        o.output
            .mul(&weights)
            .unwrap()
            .sum_all()
            .add(&o.hidden.sum_all())
            .unwrap()
    };
    let gf = objective(&fused).backward().unwrap();
    let gc = objective(&composed).backward().unwrap();
    for (name, p) in model.named_parameters() {
        let d = max_abs_diff(gf.get(&p).unwrap(), gc.get(&p).unwrap());
        assert!(d < 1e-12, "{name}: {d}");
    }
    assert!(max_abs_diff(gf.get(&x).unwrap(), gc.get(&x).unwrap()) < 1e-12);
    assert!(max_abs_diff(gf.get(&h0).unwrap(), gc.get(&h0).unwrap()) < 1e-12);
}

#[test]
fn f32_fused_forward_is_close_to_the_library_tanh() {
    let mut rng = Rng::new(3);
    let model = ElmanRnn::<f32>::new(16, 32, 2, &mut rng).unwrap();
    let x = Tensor::<f32>::randn(&[8, 12, 16], 0.0, 1.0, &mut rng);
    let fused = model.forward(&x).unwrap().output.to_vec();
    let composed = model.forward_composed(&x, None).unwrap().output.to_vec();
    // The fused tanh is within 2 ulps of the exact one; errors carried through 12 steps
    // of two layers stay within a few units of 1e-7 for these O(1) values.
    let worst = fused
        .iter()
        .zip(&composed)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 2e-6, "{worst}");
}

#[test]
fn state_carries_across_calls() {
    // Running 6 steps at once equals running 4, then 2 from the state after 4.
    let model = rnn(3, 4, 2, 4);
    let x = Tensor::<f64>::randn(&[2, 6, 3], 0.0, 1.0, &mut Rng::new(1));
    let whole = model.forward(&x).unwrap();
    let first = model.forward(&x.narrow(1, 0, 4).unwrap()).unwrap();
    let second = model
        .forward((&x.narrow(1, 4, 2).unwrap(), &first.hidden))
        .unwrap();
    assert!(max_abs_diff(&whole.output.narrow(1, 4, 2).unwrap(), &second.output) < 1e-15);
    assert!(max_abs_diff(&whole.hidden, &second.hidden) < 1e-15);
    // The last state of the top layer is the last output.
    let top = whole.hidden.select(0, 1).unwrap();
    assert!(max_abs_diff(&top, &whole.output.select(1, 5).unwrap()) < 1e-15);
}

#[test]
fn empty_sequences_give_the_initial_state() {
    let model = rnn(3, 4, 2, 4);
    let out = model.forward(&Tensor::<f64>::zeros(&[2, 0, 3])).unwrap();
    assert_eq!(out.output.shape(), &[2, 0, 4]);
    assert_eq!(out.hidden.shape(), &[2, 2, 4]);
    assert!(out.hidden.to_vec().iter().all(|&v| v == 0.0));
    let h0 = Tensor::<f64>::ones(&[2, 2, 4]);
    assert_eq!(
        model
            .forward((&Tensor::zeros(&[2, 0, 3]), &h0))
            .unwrap()
            .hidden
            .to_vec(),
        h0.to_vec()
    );
}

#[test]
fn one_step_by_hand() {
    // h = tanh(x·W + h0·U + b) for one sequence of one step, computed by hand.
    let cell = ElmanCell::<f64>::from_tensors(
        Tensor::from([[0.5, -1.0], [2.0, 0.25]]),
        Tensor::from([[0.1, 0.2], [0.3, 0.4]]),
        Tensor::from([0.05, -0.05]),
    )
    .unwrap();
    let model = ElmanRnn::from_cells(vec![cell]).unwrap();
    let x = Tensor::from_vec(vec![1.0, 2.0], &[1, 1, 2]).unwrap();
    let h0 = Tensor::from_vec(vec![-1.0, 1.0], &[1, 1, 2]).unwrap();
    let out = model.forward((&x, &h0)).unwrap().output.to_vec();
    // x = [1, 2], h0 = [-1, 1]: z = x·W + h0·U + b, column by column.
    let z0: f64 = 0.5 + 2.0 * 2.0 + (-0.1 + 0.3) + 0.05;
    let z1: f64 = -1.0 + 2.0 * 0.25 + (-0.2 + 0.4) - 0.05;
    assert!((out[0] - z0.tanh()).abs() < 1e-15 && (out[1] - z1.tanh()).abs() < 1e-15);
}

#[test]
fn names_and_shapes_follow_the_notebook() {
    let model = ElmanRnn::<f32>::new(128, 128, 2, &mut Rng::new(0)).unwrap();
    let named: Vec<(String, Vec<usize>)> = model
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.shape()))
        .collect();
    assert_eq!(
        named,
        [
            ("rnn_units.0.Uh".to_string(), vec![128, 128]),
            ("rnn_units.0.Wh".to_string(), vec![128, 128]),
            ("rnn_units.0.b".to_string(), vec![128]),
            ("rnn_units.1.Uh".to_string(), vec![128, 128]),
            ("rnn_units.1.Wh".to_string(), vec![128, 128]),
            ("rnn_units.1.b".to_string(), vec![128]),
        ]
    );
    assert_eq!(model.num_parameters(), 2 * (2 * 128 * 128 + 128));
    // The notebook's initialisation: Xavier bound √(6/256) for the weights, [0, 1) for b.
    let bound = (6.0f32 / 256.0).sqrt();
    for (name, p) in model.named_parameters() {
        let v = p.tensor().to_vec();
        if name.ends_with(".b") {
            assert!(v.iter().all(|&x| (0.0..1.0).contains(&x)), "{name}");
        } else {
            assert!(v.iter().all(|&x| x.abs() <= bound), "{name}");
        }
    }
    // initialize_weights redraws everything with the same rules.
    initialize_weights(&model, &mut Rng::new(1)).unwrap();
    let b = model.rnn_units[1].b.tensor().to_vec();
    assert!(b.iter().all(|&x| (0.0..1.0).contains(&x)));
}

#[test]
fn bad_shapes_are_errors() {
    let model = ElmanRnn::<f32>::new(3, 4, 2, &mut Rng::new(0)).unwrap();
    let err = model
        .forward(&Tensor::zeros(&[2, 5, 4]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[batch, time, 3]") && err.contains("[2, 5, 4]"),
        "{err}"
    );
    assert!(model.forward(&Tensor::zeros(&[2, 3])).is_err());
    let err = model
        .forward((&Tensor::zeros(&[2, 5, 3]), &Tensor::zeros(&[1, 2, 4])))
        .unwrap_err()
        .to_string();
    assert!(err.contains("[2, 2, 4]"), "{err}");
    assert!(ElmanRnn::<f32>::new(3, 4, 0, &mut Rng::new(0)).is_err());
    let a = ElmanCell::<f32>::new(3, 4, &mut Rng::new(0));
    let b = ElmanCell::<f32>::new(5, 4, &mut Rng::new(0));
    let err = ElmanRnn::from_cells(vec![a, b]).unwrap_err().to_string();
    assert!(
        err.contains("layer 1 takes 5 inputs but layer 0 gives 4"),
        "{err}"
    );
    assert!(
        ElmanCell::<f32>::from_tensors(
            Tensor::zeros(&[3, 4]),
            Tensor::zeros(&[4, 3]),
            Tensor::zeros(&[4])
        )
        .is_err()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Random shapes: fused and composed agree, values and gradients.
    #[test]
    fn fused_matches_composed_on_random_shapes(
        batch in 1usize..4, time in 0usize..6, input in 1usize..5,
        hidden in 1usize..5, layers in 1usize..4, seed in 0u64..1000,
    ) {
        let model = rnn(input, hidden, layers, seed);
        let x = Tensor::<f64>::randn(&[batch, time, input], 0.0, 1.0, &mut Rng::new(seed + 1))
            .set_requires_grad(true);
        let fused = model.forward(&x).unwrap();
        let composed = model.forward_composed(&x, None).unwrap();
        prop_assert!(max_abs_diff(&fused.output, &composed.output) < 1e-13);
        prop_assert!(max_abs_diff(&fused.hidden, &composed.hidden) < 1e-13);
        if time == 0 {
            return Ok(()); // nothing depends on the parameters: no graph on the composed side
        }
        let gf = fused.output.sum_all().add(&fused.hidden.sum_all()).unwrap().backward().unwrap();
        let gc = composed.output.sum_all().add(&composed.hidden.sum_all()).unwrap().backward().unwrap();
        for p in model.parameters() {
            prop_assert!(max_abs_diff(gf.get(&p).unwrap(), gc.get(&p).unwrap()) < 1e-12);
        }
    }
}
