//! Layers and losses against PyTorch 2.15 (CPU, float64) on fixed inputs.
//!
//! Expected values were printed by `tests/reference/nn_reference.py` (run it with
//! `python3 nn_reference.py` and paste its output over the constants); inputs come from
//! the same integer formula on both sides, so they are bit-identical. Both sides compute
//! in f64, so results differ only by summation order: |got − want| ≤ 1e-9·(1 + |want|)
//! leaves a margin of ~10⁵ ulps over those rounding differences while catching any
//! formula error (those show up at 1e-3 or more). The two f32 cases compare with
//! |got − want| ≤ 2e-6·(1 + |want|): about 16 f32 ulps at these magnitudes, room for a
//! different summation order over a handful of terms and for our polynomial `exp`
//! (within 2 ulps), and still 500× below any formula error.

#![allow(clippy::approx_constant)] // PyTorch printed these digits: data, not named constants.

use ferrograd_nn::{
    BceLoss, BceWithLogitsLoss, CrossEntropyLoss, Embedding, Forward, GeluTanh, LayerNorm, Linear,
    MseLoss, NllLoss, Reduction, RmsNorm,
};
use ferrograd_tensor::{IdTensor, Tensor};

fn value(i: usize, seed: usize) -> f64 {
    ((i * 37 + seed * 11) % 101) as f64 / 10.0 - 5.0
}

fn tensor(shape: &[usize], seed: usize, scale: f64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|i| value(i, seed) * scale).collect(), shape).unwrap()
}

fn close(name: &str, got: &Tensor<f64>, want: &[f64]) {
    close_within(name, &got.to_vec(), want, 1e-9);
}

fn close32(name: &str, got: &Tensor<f32>, want: &[f64]) {
    let got: Vec<f64> = got.to_vec().iter().map(|&v| f64::from(v)).collect();
    close_within(name, &got, want, 2e-6);
}

fn close_within(name: &str, got: &[f64], want: &[f64], tolerance: f64) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tolerance * (1.0 + w.abs()),
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
const BCE_EDGE_LOSS: &[f64] = &[
    1.0000000000005e-12,
    9.999778782803785e-13,
    5.5262042301857095,
    0.6931471805599453,
    0.7645278888586923,
];
const BCE_EDGE_GP: &[f64] = &[
    1.000000000001,
    -1.9999557645511858,
    -89999997.89999998,
    4.8,
    11.111111111111118,
];
const BCE_EDGE_GY: &[f64] = &[
    27.63102111592755,
    -55.26208647578472,
    55.2620422018571,
    -0.0,
    -10.986122886681098,
];
const BCEL_MEAN_LOSS: &[f64] = &[4.100486103775504];
const BCEL_MEAN_GZ: &[f64] = &[
    0.029800730505529387,
    -0.09438516719953635,
    0.12499999999997663,
    -0.11554412522144952,
];
const BCEL_MEAN_GY: &[f64] = &[0.5, -0.125, -7.5, 0.0625];
const MSE_SUM_LOSS: &[f64] = &[5.756000000000001];
const MSE_SUM_GA: &[f64] = &[
    -1.2599999999999993,
    -0.5200000000000002,
    0.2200000000000002,
    -1.0599999999999998,
    -0.3200000000000004,
    4.460000000000001,
];
const MSE_SUM_GB: &[f64] = &[
    1.2599999999999993,
    0.5200000000000002,
    -0.2200000000000002,
    1.0599999999999998,
    0.3200000000000004,
    -4.460000000000001,
];
const CE_SMOOTH_NONE_LOSS: &[f64] = &[
    2.135455254386989,
    0.0,
    3.522955254386989,
    0.0,
    1.8517119045263062,
];
const CE_SMOOTH_NONE_GRAD: &[f64] = &[
    -0.06341991474216456,
    -1.02585613165504,
    1.133020189690463,
    -0.043744143293258334,
    0.0,
    0.0,
    0.0,
    0.0,
    -1.1884199147421646,
    0.09914386834495986,
    1.133020189690463,
    -0.043744143293258334,
    0.0,
    0.0,
    0.0,
    0.0,
    1.0507904509744665,
    -0.047096008675887535,
    -0.9220390351696133,
    -0.08165540712896593,
];
const CE_SMOOTH_SUM_LOSS: &[f64] = &[7.510122413300284];
const CE_SMOOTH_SUM_GRAD: &[f64] = &[
    -0.06341991474216456,
    -1.02585613165504,
    1.133020189690463,
    -0.043744143293258334,
    0.0,
    0.0,
    0.0,
    0.0,
    -1.1884199147421646,
    0.09914386834495986,
    1.133020189690463,
    -0.043744143293258334,
    0.0,
    0.0,
    0.0,
    0.0,
    1.0507904509744665,
    -0.047096008675887535,
    -0.9220390351696133,
    -0.08165540712896593,
];
const CE_NCT_SMOOTH_LOSS: &[f64] = &[1.7113429497789214];
const CE_NCT_SMOOTH_GRAD: &[f64] = &[
    -0.17949182012346507,
    0.0,
    0.11609199313837494,
    0.0,
    0.19003995002266189,
    0.0,
    -0.01551784025766225,
    0.0,
    -0.010548129899196842,
    0.0,
    -0.1005741528807127,
    0.0,
    0.11609199313837497,
    0.0,
    -0.17949182012346504,
    0.0,
    -0.015517840257662256,
    0.0,
    0.19003995002266189,
    0.0,
    -0.10057415288071272,
    0.0,
    -0.010548129899196837,
    0.0,
];
const CE_F32_LOSS: &[f64] = &[2.210142135620117];
const CE_F32_GRAD: &[f64] = &[
    -0.0009559895843267441,
    -0.15928080677986145,
    0.1585693359375,
    0.0016674463404342532,
    0.016580138355493546,
    0.13224577903747559,
    0.0005944403237663209,
    -0.1494203507900238,
    -0.18095597624778748,
    0.02071917988359928,
    0.1585693359375,
    0.001667447853833437,
    0.016580138355493546,
    0.13224577903747559,
    0.0005944414297118783,
    -0.1494203507900238,
    0.14760540425777435,
    0.0012205323437228799,
    -0.1454385221004486,
    -0.00338738807477057,
];
const NLL_IGNORE_LOSS: &[f64] = &[1.972825590626898];
const NLL_IGNORE_GRAD: &[f64] = &[
    0.0,
    0.0,
    -0.3333333333333333,
    0.0,
    0.0,
    0.0,
    0.0,
    -0.3333333333333333,
    0.0,
    0.0,
    0.0,
    -0.3333333333333333,
];
const EMB_OUT: &[f64] = &[
    -0.3999999999999999,
    1.4500000000000002,
    -1.75,
    0.6000000000000001,
    2.45,
    -0.75,
    1.5999999999999996,
    -1.6,
    0.25,
    0.6000000000000001,
    2.45,
    -0.75,
    -0.3999999999999999,
    1.4500000000000002,
    -1.75,
    0.10000000000000009,
    1.9500000000000002,
    -1.25,
];
const EMB_GRAD: &[f64] = &[
    0.0,
    0.0,
    0.0,
    -4.8,
    -1.1,
    2.5999999999999996,
    4.6000000000000005,
    1.9,
    -0.8000000000000003,
    0.0,
    0.0,
    0.0,
    2.3,
    -4.1,
    -0.40000000000000036,
];
const GELU_TANH_OUT: &[f64] = &[
    0.972687898809466,
    -7.024594819227126e-05,
    -0.15530337196910055,
    1.867365807998556,
    -0.0018695651620843634,
    -0.09724067969781285,
    2.711594544853811,
    -0.019276846155601705,
    0.39883989461732333,
];
const GELU_TANH_GRAD: &[f64] = &[
    2.767454933820499,
    0.0013069804687765286,
    0.018415612104826295,
    3.8313530280387234,
    0.018830112053395503,
    0.24972341560783495,
    4.605985558358554,
    0.08751392135088379,
    1.6255486055975856,
];
const LN2_OUT: &[f64] = &[
    0.5938595712020848,
    0.30649454610221266,
    0.3799804800071979,
    -1.5864882313550446,
    0.1435033873654848,
    0.7181398555155651,
    0.8944282932769453,
    0.11595831896526913,
    0.1817453213604447,
    0.5011787809681468,
    0.22385934090156567,
    0.7907968775418365,
    -1.3031339942879923,
    -0.1810130033841183,
    0.9662828590989484,
    0.181831182175582,
    -0.058442428864842265,
    -0.5015039709707618,
    -0.07061701993311255,
    0.20302398884997838,
    -1.4375469415699262,
    -0.1841693788462624,
    0.6033862497603435,
    -1.2246940689735464,
];
const LN2_GX: &[f64] = &[
    -0.9138338555612588,
    -0.2390266712494435,
    1.340867955119692,
    2.0211747981704926,
    -0.11678182683926197,
    -1.1216500910585676,
    0.0712383887904072,
    0.23120650146510646,
    -1.0784154660113514,
    -0.19028068941952925,
    0.8049383136636619,
    -0.809437357069948,
    0.6468672091990798,
    -0.5357673860821259,
    0.04789015794001111,
    -0.6677460122006812,
    0.7597037792343895,
    -0.16427615569962,
    -0.8156341507578675,
    0.2992999934872277,
    0.23184442492574356,
    -0.7320292173224794,
    0.07038927973264048,
    0.8594580775436815,
];
const LN2_GW: &[f64] = &[
    -4.22857215242241,
    1.0626801240512531,
    -2.382548540644426,
    -4.188147996474029,
    -4.343501813046439,
    -1.1492195302543065,
    1.3280023643309558,
    -4.783176040779156,
    -3.440701809328408,
    0.6918320746029724,
    -3.851140600851591,
    -4.360474420742226,
];
const LN2_GB: &[f64] = &[
    -2.4000000000000004,
    5.0,
    2.2999999999999994,
    -0.40000000000000036,
    -3.0999999999999996,
    -5.800000000000001,
    1.5999999999999996,
    -1.1,
    -3.8000000000000003,
    3.6000000000000005,
    0.8999999999999999,
    -1.8000000000000003,
];
const RMS_DEFAULT64_OUT: &[f64] = &[
    -0.6632350092250143,
    0.505321911790487,
    -1.515965735371461,
    -0.3474088143559599,
    0.7925155025846246,
    -1.1582918883929127,
    -0.03048136548402392,
    1.097329157424865,
];
const RMS_DEFAULT64_GX: &[f64] = &[
    8408176.045479044,
    54803895.06616128,
    -25448159.456099898,
    20947559.564582348,
    45222135.77359934,
    16440268.103019819,
    33079785.350073613,
    49719302.59712739,
];
const RMS_DEFAULT32_OUT: &[f64] = &[
    -0.47282513976097107,
    0.36024773120880127,
    -1.0807431936264038,
    -0.24767032265663147,
    0.5747568011283875,
    -0.8400291800498962,
    -0.022106029093265533,
    0.7958170771598816,
];

#[test]
fn cross_entropy_with_ignore_index_and_smoothing() {
    let logits = tensor(&[5, 4], 1, 0.5).set_requires_grad(true);
    let targets = IdTensor::from(vec![1, 3, 0, 3, 2]);
    let cases = [
        (CrossEntropyLoss::default(), CE_PLAIN_LOSS, CE_PLAIN_GRAD),
        (
            CrossEntropyLoss {
                ignore_index: 3,
                ..Default::default()
            },
            CE_IGNORE_LOSS,
            CE_IGNORE_GRAD,
        ),
        (
            CrossEntropyLoss {
                ignore_index: 3,
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
    let targets = IdTensor::new(vec![0, 1, 2, 1, 2, 2, 0, 1], &[2, 4]).unwrap();
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
    let rms_weight = rms.weight.as_ref().unwrap();
    rms_weight.set(&tensor(&[4], 4, 0.2)).unwrap();
    let out = rms.forward(&x).unwrap();
    close("rms norm", &out, RMS_OUT);
    let grads = out.mul(&w).unwrap().sum_all().backward().unwrap();
    close("rms norm dx", grads.get(&x).unwrap(), RMS_GX);
    close("rms norm dweight", grads.get(rms_weight).unwrap(), RMS_GW);
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

#[test]
fn bce_near_zero_and_one_uses_log1p() {
    // At p = 1e-12 and y = 0 the loss is -ln(1 - p): PyTorch's log1p(-p) gives
    // 1.0000000000005e-12, ln(1 - p) would give 1.00008890058e-12 (a relative error of
    // 9e-5, far outside the 1e-9 tolerance).
    let p = Tensor::<f64>::from([1e-12, 1.0 - 1e-12, 1e-8, 0.5, 0.9]).set_requires_grad(true);
    let y = Tensor::<f64>::from([0.0, 1.0, 0.3, 0.2, 0.7]).set_requires_grad(true);
    let loss = BceLoss::new(Reduction::None).forward(&p, &y).unwrap();
    close("loss", &loss, BCE_EDGE_LOSS);
    let weights = Tensor::<f64>::from([1.0, 2.0, 3.0, 4.0, 5.0]);
    let grads = loss.mul(&weights).unwrap().sum_all().backward().unwrap();
    close("input grad", grads.get(&p).unwrap(), BCE_EDGE_GP);
    close("target grad", grads.get(&y).unwrap(), BCE_EDGE_GY);
}

#[test]
fn bce_with_logits_mean_and_mse_sum_gradients() {
    let z = Tensor::<f64>::from([[-2.0, 0.5], [30.0, -0.25]]).set_requires_grad(true);
    let y = Tensor::<f64>::from([[0.0, 1.0], [0.5, 0.9]]).set_requires_grad(true);
    let loss = BceWithLogitsLoss::default().forward(&z, &y).unwrap();
    close("bce with logits", &loss, BCEL_MEAN_LOSS);
    let grads = loss.backward().unwrap();
    close("bce with logits dz", grads.get(&z).unwrap(), BCEL_MEAN_GZ);
    close("bce with logits dy", grads.get(&y).unwrap(), BCEL_MEAN_GY);

    let a = tensor(&[2, 3], 10, 0.3).set_requires_grad(true);
    let b = tensor(&[2, 3], 11, 0.2).set_requires_grad(true);
    let loss = MseLoss::new(Reduction::Sum).forward(&a, &b).unwrap();
    close("mse", &loss, MSE_SUM_LOSS);
    let grads = loss.backward().unwrap();
    close("mse d input", grads.get(&a).unwrap(), MSE_SUM_GA);
    close("mse d target", grads.get(&b).unwrap(), MSE_SUM_GB);
}

#[test]
fn cross_entropy_smoothing_with_every_reduction_and_layout() {
    let logits = tensor(&[5, 4], 1, 0.5).set_requires_grad(true);
    let targets = IdTensor::from(vec![1, 3, 0, 3, 2]);
    for (reduction, want_loss, want_grad) in [
        (Reduction::None, CE_SMOOTH_NONE_LOSS, CE_SMOOTH_NONE_GRAD),
        (Reduction::Sum, CE_SMOOTH_SUM_LOSS, CE_SMOOTH_SUM_GRAD),
    ] {
        let loss = CrossEntropyLoss::new()
            .with_ignore_index(3)
            .with_label_smoothing(0.25)
            .with_reduction(reduction)
            .forward(&logits, &targets)
            .unwrap();
        close(&format!("{reduction:?} loss"), &loss, want_loss);
        let grads = loss.mul_scalar(1.5).sum_all().backward().unwrap();
        close(
            &format!("{reduction:?} grad"),
            grads.get(&logits).unwrap(),
            want_grad,
        );
    }

    let logits3 = tensor(&[2, 3, 4], 2, 0.5).set_requires_grad(true);
    let targets3 = IdTensor::new(vec![0, 1, 2, 1, 2, 1, 0, 1], &[2, 4]).unwrap();
    let loss = CrossEntropyLoss::new()
        .with_ignore_index(1)
        .with_label_smoothing(0.3)
        .forward(&logits3, &targets3)
        .unwrap();
    close("[N, C, T] loss", &loss, CE_NCT_SMOOTH_LOSS);
    close(
        "[N, C, T] grad",
        loss.backward().unwrap().get(&logits3).unwrap(),
        CE_NCT_SMOOTH_GRAD,
    );
}

#[test]
fn cross_entropy_in_f32() {
    let logits = tensor(&[5, 4], 1, 0.5)
        .to_dtype::<f32>()
        .set_requires_grad(true);
    let loss = CrossEntropyLoss::new()
        .with_label_smoothing(0.1)
        .forward(&logits, &IdTensor::from(vec![1, 3, 0, 3, 2]))
        .unwrap();
    close32("loss", &loss, CE_F32_LOSS);
    close32(
        "grad",
        loss.backward().unwrap().get(&logits).unwrap(),
        CE_F32_GRAD,
    );
}

#[test]
fn nll_with_ignore_index() {
    let log_probs = tensor(&[4, 3], 12, 0.4)
        .log_softmax(1)
        .unwrap()
        .set_requires_grad(true);
    let loss = NllLoss::new()
        .with_ignore_index(0)
        .forward(&log_probs, &IdTensor::from(vec![2, 0, 1, 2]))
        .unwrap();
    close("loss", &loss, NLL_IGNORE_LOSS);
    close(
        "grad",
        loss.backward().unwrap().get(&log_probs).unwrap(),
        NLL_IGNORE_GRAD,
    );
}

#[test]
fn embedding_forward_and_padding_gradient() {
    let table = Embedding::from_tensor(tensor(&[5, 3], 13, 0.5), Some(0)).unwrap();
    let ids = IdTensor::new(vec![0, 2, 4, 2, 0, 1], &[2, 3]).unwrap();
    let out = table.lookup(&ids).unwrap();
    close("embedding", &out, EMB_OUT);
    let grads = out
        .mul(&tensor(&[2, 3, 3], 14, 1.0))
        .unwrap()
        .sum_all()
        .backward()
        .unwrap();
    close(
        "embedding grad",
        grads.get(&table.weight).unwrap(),
        EMB_GRAD,
    );
}

#[test]
fn gelu_tanh_forward_and_gradient() {
    let x = tensor(&[9], 15, 0.8).set_requires_grad(true);
    let out = GeluTanh.forward(&x).unwrap();
    close("gelu tanh", &out, GELU_TANH_OUT);
    let grads = out
        .mul(&tensor(&[9], 16, 1.0))
        .unwrap()
        .sum_all()
        .backward()
        .unwrap();
    close("gelu tanh grad", grads.get(&x).unwrap(), GELU_TANH_GRAD);
}

#[test]
fn layer_norm_over_two_axes() {
    let x = tensor(&[2, 3, 4], 17, 0.6).set_requires_grad(true);
    let ln = LayerNorm::<f64>::new(&[3, 4]);
    let (w, b) = (ln.weight.as_ref().unwrap(), ln.bias.as_ref().unwrap());
    w.set(&tensor(&[3, 4], 18, 0.2)).unwrap();
    b.set(&tensor(&[3, 4], 19, 0.1)).unwrap();
    let out = ln.forward(&x).unwrap();
    close("out", &out, LN2_OUT);
    let grads = out
        .mul(&tensor(&[2, 3, 4], 20, 1.0))
        .unwrap()
        .sum_all()
        .backward()
        .unwrap();
    close("dx", grads.get(&x).unwrap(), LN2_GX);
    close("dweight", grads.get(w).unwrap(), LN2_GW);
    close("dbias", grads.get(b).unwrap(), LN2_GB);
}

#[test]
fn rms_norm_default_eps_is_machine_epsilon() {
    // Inputs so small that mean(x²) is comparable to eps, so a wrong default shows.
    let small = tensor(&[2, 4], 21, 1e-8).set_requires_grad(true);
    let out = RmsNorm::<f64>::new(&[4], None).forward(&small).unwrap();
    close("f64 out", &out, RMS_DEFAULT64_OUT);
    let grads = out
        .mul(&tensor(&[2, 4], 22, 1.0))
        .unwrap()
        .sum_all()
        .backward()
        .unwrap();
    close("f64 dx", grads.get(&small).unwrap(), RMS_DEFAULT64_GX);
    let small32 = tensor(&[2, 4], 21, 1e-4).to_dtype::<f32>();
    let out32 = RmsNorm::<f32>::new(&[4], None).forward(&small32).unwrap();
    close32("f32 out", &out32, RMS_DEFAULT32_OUT);
}
