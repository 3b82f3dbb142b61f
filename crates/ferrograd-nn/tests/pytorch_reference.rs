//! Layers and losses against PyTorch 2.15 (CPU, float64) on fixed inputs.
//!
//! Expected values were printed by `tests/reference/nn_reference.py`; inputs come from the
//! same integer formula on both sides, so they are bit-identical. Both sides compute in
//! f64, so results differ only by summation order: |got − want| ≤ 1e-9·(1 + |want|)
//! leaves a margin of ~10⁵ ulps over those rounding differences while catching any
//! formula error (those show up at 1e-3 or more).

#![allow(clippy::approx_constant)] // PyTorch printed these digits: data, not named constants.

use ferrograd_nn::{
    BceLoss, BceWithLogitsLoss, CrossEntropyLoss, LayerNorm, Linear, Module, Reduction, RmsNorm,
};
use ferrograd_tensor::{Indices, Tensor};

fn value(i: usize, seed: usize) -> f64 {
    ((i * 37 + seed * 11) % 101) as f64 / 10.0 - 5.0
}

fn tensor(shape: &[usize], seed: usize, scale: f64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|i| value(i, seed) * scale).collect(), shape).unwrap()
}

fn close(name: &str, got: &Tensor<f64>, want: &[f64]) {
    let got = got.to_vec();
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-9 * (1.0 + w.abs()),
            "{name}[{i}]: got {g}, PyTorch {w}"
        );
    }
}

const CE_PLAIN_LOSS: &[f64] = &[2.2051420756274114];
const CE_PLAIN_GRAD: &[f64] = &[
    0.004044011367711392,
    -0.17428081755400537,
    0.1635693586253951,
    0.006667447560898889,
    0.021580138636832048,
    0.13724578700297851,
    0.005594440764986811,
    -0.16442036640479735,
    -0.1959559886322886,
    0.02571918244599465,
    0.1635693586253951,
    0.006667447560898889,
    0.02158013863683203,
    0.13724578700297851,
    0.005594440764986811,
    -0.16442036640479737,
    0.1526053934632622,
    0.006220532176548329,
    -0.1604385380226151,
    0.0016126123828045427,
];
const CE_IGNORE_LOSS: &[f64] = &[2.5242074711000946];
const CE_IGNORE_GRAD: &[f64] = &[
    0.006740018946185653,
    -0.2904680292566756,
    0.2726155977089918,
    0.011112412601498147,
    0.0,
    0.0,
    0.0,
    0.0,
    -0.32659331438714767,
    0.04286530407665774,
    0.2726155977089918,
    0.011112412601498147,
    0.0,
    0.0,
    0.0,
    0.0,
    0.2543423224387703,
    0.010367553627580548,
    -0.26739756337102516,
    0.0026876873046742375,
];
const CE_IGNORE_SMOOTH_LOSS: &[f64] = &[2.5158741377667613];
const CE_IGNORE_SMOOTH_GRAD: &[f64] = &[
    -0.001593314387147678,
    -0.26546802925667556,
    0.26428226437565855,
    0.002779079268164817,
    0.0,
    0.0,
    0.0,
    0.0,
    -0.3015933143871477,
    0.034531970743324425,
    0.26428226437565855,
    0.002779079268164817,
    0.0,
    0.0,
    0.0,
    0.0,
    0.24600898910543703,
    0.002034220294247216,
    -0.24239756337102517,
    -0.005645646028659095,
];
const CE_NCT_LOSS: &[f64] = &[1.8077694139894058];
const CE_NCT_GRAD: &[f64] = &[
    -0.11474591006173254,
    0.07054599656918749,
    0.07054599656918747,
    0.010254089938267465,
    0.10751997501133095,
    -0.12025892012883113,
    0.0047410798711688745,
    -0.017480024988669046,
    0.007225935050401579,
    0.049712923559643636,
    -0.07528707644035634,
    0.007225935050401579,
    0.07054599656918749,
    0.0705459965691875,
    -0.11474591006173253,
    0.07054599656918749,
    0.004741079871168872,
    0.0047410798711688745,
    0.10751997501133095,
    -0.12025892012883113,
    -0.07528707644035637,
    -0.07528707644035637,
    0.0072259350504015815,
    0.049712923559643636,
];
const BCEL_LOSS: &[f64] = &[
    1000.0,
    1000.0,
    1.9287498479639178e-22,
    0.0,
    0.6931471805599453,
    2.298587351573742,
];
const BCEL_GRAD: &[f64] = &[
    1.0,
    -1.0,
    0.0,
    1.928749847963918e-22,
    -0.5,
    0.7025741268224334,
];
const BCE_LOSS: &[f64] = &[100.0, 100.0, 0.0, -0.0, 0.8650536601710546];
const BCE_GRAD: &[f64] = &[
    -1000000003995.8029,
    1000000003995.8029,
    0.0,
    0.0,
    -1.4285714285714286,
];
const LN_OUT: &[f64] = &[
    0.07619857436702647,
    1.2862995257363428,
    0.7021898177193328,
    0.16746571624468437,
    -0.03479779685987992,
    -0.5265597694749978,
    -0.06453737242355338,
    0.2344488347328847,
    0.1766732520993268,
    0.566040650147571,
    -1.2276281416991912,
    0.09346813542674666,
];
const LN_GX: &[f64] = &[
    0.05547953540181416,
    -0.39991849078563824,
    -0.3068192415439096,
    0.6512581969277341,
    0.4370765824656027,
    0.38484440067270315,
    -0.8878183175653988,
    0.06589733442709297,
    -0.23496361336883093,
    0.839625832035729,
    -0.3909288300264074,
    -0.2137333886404907,
];
const LN_GW: &[f64] = &[
    -3.9846272828681704,
    -5.470636703077613,
    -2.0590716891552816,
    -3.7307052213134857,
];
const LN_GB: &[f64] = &[
    -1.2999999999999998,
    -0.2999999999999998,
    0.6999999999999997,
    1.7000000000000002,
];
const RMS_OUT: &[f64] = &[
    0.07890043458823522,
    0.47959087690888097,
    1.123170892373702,
    -0.021658942828143037,
    -0.11893110626069704,
    -0.6964076999931931,
    -0.06541210844338337,
    0.10571653889839754,
    0.0981929020475867,
    0.2748037467026212,
    -1.1251270026285984,
    -0.03818612857406155,
];
const RMS_GX: &[f64] = &[
    -0.42101744568883825,
    -1.273802368849687,
    -0.41398779850992656,
    -0.014753220431691624,
    0.21636761487371084,
    -0.03057430031970941,
    -1.121234535817804,
    -0.10417127702909978,
    0.27671737432840726,
    1.210735786672974,
    -0.10744807810567969,
    0.26613808115700327,
];
const RMS_GW: &[f64] = &[
    -5.554604258122112,
    -1.561771297308471,
    -0.8397833829154919,
    -5.31091505699252,
];
const LINEAR_OUT: &[f64] = &[
    6.014,
    7.0539999999999985,
    -2.4670000000000005,
    -3.5569999999999986,
    -2.7670000000000003,
    -2.956999999999999,
    -3.067,
    -5.386999999999999,
];

#[test]
fn cross_entropy_with_ignore_index_and_smoothing() {
    let logits = tensor(&[5, 4], 1, 0.5).set_requires_grad(true);
    let targets = Indices::from(vec![1, 3, 0, 3, 2]);
    let cases = [
        (CrossEntropyLoss::default(), CE_PLAIN_LOSS, CE_PLAIN_GRAD),
        (
            CrossEntropyLoss {
                ignore_index: Some(3),
                ..Default::default()
            },
            CE_IGNORE_LOSS,
            CE_IGNORE_GRAD,
        ),
        (
            CrossEntropyLoss {
                ignore_index: Some(3),
                label_smoothing: 0.1,
                ..Default::default()
            },
            CE_IGNORE_SMOOTH_LOSS,
            CE_IGNORE_SMOOTH_GRAD,
        ),
    ];
    for (i, (loss_fn, want_loss, want_grad)) in cases.into_iter().enumerate() {
        let loss = loss_fn.forward(&logits, &targets).unwrap();
        close(&format!("case {i} loss"), &loss, want_loss);
        close(
            &format!("case {i} grad"),
            loss.backward().unwrap().get(&logits).unwrap(),
            want_grad,
        );
    }
}

#[test]
fn cross_entropy_on_n_c_t_layout() {
    let logits = tensor(&[2, 3, 4], 2, 0.5).set_requires_grad(true);
    let targets = Indices::new(vec![0, 1, 2, 1, 2, 2, 0, 1], &[2, 4]).unwrap();
    let loss = CrossEntropyLoss::default()
        .forward(&logits, &targets)
        .unwrap();
    close("loss", &loss, CE_NCT_LOSS);
    close(
        "grad",
        loss.backward().unwrap().get(&logits).unwrap(),
        CE_NCT_GRAD,
    );
}

#[test]
fn bce_with_logits_at_extreme_logits() {
    let z = Tensor::<f64>::from([1000.0, -1000.0, 50.0, -50.0, 0.0, 3.0]).set_requires_grad(true);
    let y = Tensor::<f64>::from([0.0, 1.0, 1.0, 0.0, 1.0, 0.25]);
    let loss = BceWithLogitsLoss {
        reduction: Reduction::None,
    }
    .forward(&z, &y)
    .unwrap();
    close("loss", &loss, BCEL_LOSS);
    close(
        "grad",
        loss.sum_all().backward().unwrap().get(&z).unwrap(),
        BCEL_GRAD,
    );
}

#[test]
fn bce_clamps_log_at_minus_100() {
    let p = Tensor::<f64>::from([0.0, 1.0, 0.0, 1.0, 0.3]).set_requires_grad(true);
    let y = Tensor::<f64>::from([1.0, 0.0, 0.0, 1.0, 0.6]);
    let loss = BceLoss {
        reduction: Reduction::None,
    }
    .forward(&p, &y)
    .unwrap();
    close("loss", &loss, BCE_LOSS);
    close(
        "grad",
        loss.sum_all().backward().unwrap().get(&p).unwrap(),
        BCE_GRAD,
    );
}

#[test]
fn layer_norm_and_rms_norm_forward_and_gradients() {
    let x = tensor(&[3, 4], 3, 0.7).set_requires_grad(true);
    let w = tensor(&[3, 4], 6, 1.0);
    let ln = LayerNorm::<f64>::new(&[4]);
    ln.weight
        .as_ref()
        .unwrap()
        .set(&tensor(&[4], 4, 0.2))
        .unwrap();
    ln.bias
        .as_ref()
        .unwrap()
        .set(&tensor(&[4], 5, 0.1))
        .unwrap();
    let out = ln.forward(&x).unwrap();
    close("layer norm", &out, LN_OUT);
    let grads = out.mul(&w).unwrap().sum_all().backward().unwrap();
    close("layer norm dx", grads.get(&x).unwrap(), LN_GX);
    close(
        "layer norm dweight",
        grads.get(ln.weight.as_ref().unwrap()).unwrap(),
        LN_GW,
    );
    close(
        "layer norm dbias",
        grads.get(ln.bias.as_ref().unwrap()).unwrap(),
        LN_GB,
    );

    let rms = RmsNorm::<f64>::new(&[4], Some(1e-6));
    rms.weight.set(&tensor(&[4], 4, 0.2)).unwrap();
    let out = rms.forward(&x).unwrap();
    close("rms norm", &out, RMS_OUT);
    let grads = out.mul(&w).unwrap().sum_all().backward().unwrap();
    close("rms norm dx", grads.get(&x).unwrap(), RMS_GX);
    close("rms norm dweight", grads.get(&rms.weight).unwrap(), RMS_GW);
}

#[test]
fn linear_forward() {
    let layer = Linear::from_tensors(tensor(&[2, 3], 7, 0.3), Some(tensor(&[2], 8, 0.1))).unwrap();
    close(
        "linear",
        &layer.forward(&tensor(&[4, 3], 9, 1.0)).unwrap(),
        LINEAR_OUT,
    );
}
