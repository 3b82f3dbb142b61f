//! Forward values checked against PyTorch 2.15 (CPU, float32) on fixed inputs.
//!
//! The expected numbers were printed by `tests/reference/forward_values.py`; inputs are
//! built from the same integer formula on both sides, so they are bit-identical.
//! Tolerance: |got - want| <= 1e-5 + 1e-5 |want|. f32 has a unit roundoff of 6e-8; the
//! softmax, log-softmax and 4-term matmuls here accumulate a few roundings of terms up
//! to ~25 in magnitude (~1e-5 absolute at worst when summation orders differ), so this
//! is tight enough to catch any wrong formula or index while allowing a different order
//! of floating-point operations than PyTorch's kernels.

use ferrograd_tensor::{IdTensor, Tensor};

fn value(i: usize, seed: usize) -> f64 {
    ((i * 37 + seed * 11) % 101) as f64 / 10.0 - 5.0
}

fn tensor(shape: &[usize], seed: usize) -> Tensor<f32> {
    let n: usize = shape.iter().product();
    let data = (0..n).map(|i| value(i, seed) as f32).collect();
    Tensor::from_vec(data, shape).unwrap()
}

fn assert_close(name: &str, got: &Tensor<f32>, want: &[f64]) {
    let got = got.to_vec();
    assert_eq!(got.len(), want.len(), "{name}: element count");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-5 + 1e-5 * w.abs();
        assert!(
            (g as f64 - w).abs() <= tol,
            "{name}[{i}]: got {g}, PyTorch {w} (tolerance {tol:e})"
        );
    }
}

// softmax_dim1: shape [3, 5]
const SOFTMAX_DIM1: &[f64] = &[
    0.000558628817088902,
    0.022595031186938286,
    0.9139081239700317,
    0.001518510514870286,
    0.061419662088155746,
    0.9315363764762878,
    0.0015478008426725864,
    0.0626043751835823,
    0.00010402072075521573,
    0.0042073591612279415,
    0.2637363374233246,
    0.00043821317376568913,
    0.01772453635931015,
    0.7169097065925598,
    0.0011911870678886771,
];
// softmax_dim0: shape [3, 5]
const SOFTMAX_DIM0: &[f64] = &[
    0.00019009708194062114,
    0.8223299980163574,
    0.8223300576210022,
    0.001229122863151133,
    0.8223300576210022,
    0.8453740477561951,
    0.1502261608839035,
    0.1502261459827423,
    0.00022454053396359086,
    0.1502261459827423,
    0.1544359028339386,
    0.027443844825029373,
    0.027443841099739075,
    0.9985463619232178,
    0.027443846687674522,
];
// log_softmax_dim1: shape [3, 5]
const LOG_SOFTMAX_DIM1: &[f64] = &[
    -7.490025520324707,
    -3.790025234222412,
    -0.09002526104450226,
    -6.490025520324707,
    -2.790025234222412,
    -0.07092004269361496,
    -6.470920085906982,
    -2.7709200382232666,
    -9.170920372009277,
    -5.470920085906982,
    -1.3328053951263428,
    -7.732804775238037,
    -4.032805442810059,
    -0.3328053653240204,
    -6.732804775238037,
];
// log_softmax_big: shape [2, 3]
const LOG_SOFTMAX_BIG: &[f64] = &[-1850.0, -925.0, 0.0, -925.0, 0.0, -1600.0];
// gather_dim1: shape [3, 2]
const GATHER_DIM1: &[f64] = &[
    -0.699999988079071,
    -1.7000000476837158,
    -3.4000000953674316,
    -3.4000000953674316,
    5.0,
    -2.4000000953674316,
];
// bmm_broadcast: shape [2, 5, 3, 2]
const BMM_BROADCAST: &[f64] = &[
    10.049999237060547,
    4.529999732971191,
    -12.25,
    31.59000015258789,
    12.920000076293945,
    4.1100006103515625,
    -23.0,
    4.809999465942383,
    3.1499996185302734,
    32.849998474121094,
    -25.240001678466797,
    6.350000381469727,
    -22.719999313354492,
    9.130000114440918,
    4.409999847412109,
    -16.389999389648438,
    -23.0,
    5.559999942779541,
    -22.439998626708984,
    9.40999984741211,
    5.670000076293945,
    -15.130000114440918,
    -20.760000228881836,
    7.799999713897705,
    -22.160001754760742,
    9.6899995803833,
    6.9300007820129395,
    -13.870000839233398,
    -18.520000457763672,
    10.039999008178711,
    15.869999885559082,
    -8.220000267028809,
    15.789999008178711,
    3.690000534057617,
    18.740001678466797,
    -8.640000343322754,
    19.09000015258789,
    -12.069999694824219,
    -27.479999542236328,
    7.8899993896484375,
    16.850000381469727,
    -10.530000686645508,
    15.239999771118164,
    28.520000457763672,
    -23.279998779296875,
    1.9899992942810059,
    14.959999084472656,
    24.950000762939453,
    11.390000343322754,
    24.670000076293945,
    -19.079999923706055,
    6.189999103546143,
    13.069999694824219,
    23.060001373291016,
    7.539999485015869,
    20.81999969482422,
    -14.880000114440918,
    10.389999389648438,
    11.180000305175781,
    21.170001983642578,
];
// causal_attention: shape [4, 3]
const CAUSAL_ATTENTION: &[f64] = &[
    3.799999952316284,
    -2.5999999046325684,
    1.100000023841858,
    4.292495250701904,
    -2.1075050830841064,
    1.5924949645996094,
    1.326494574546814,
    -1.5738334655761719,
    2.126166343688965,
    0.5860005617141724,
    -1.289428949356079,
    2.4105708599090576,
];

#[test]
fn softmax_matches_pytorch() {
    let x = tensor(&[3, 5], 1);
    assert_close("softmax(dim=1)", &x.softmax(1).unwrap(), SOFTMAX_DIM1);
    assert_close("softmax(dim=0)", &x.softmax(0).unwrap(), SOFTMAX_DIM0);
    // The same through a transposed (non-contiguous) view.
    let xt = tensor(&[3, 5], 1).t().unwrap().contiguous().t().unwrap();
    assert!(!xt.is_contiguous());
    assert_close(
        "softmax(dim=1) of a view",
        &xt.softmax(-1).unwrap(),
        SOFTMAX_DIM1,
    );
}

#[test]
fn log_softmax_matches_pytorch() {
    let x = tensor(&[3, 5], 1);
    assert_close(
        "log_softmax(dim=1)",
        &x.log_softmax(1).unwrap(),
        LOG_SOFTMAX_DIM1,
    );
    let big = tensor(&[2, 3], 2).mul_scalar(250.0);
    let out = big.log_softmax(1).unwrap();
    assert!(out.to_vec().iter().all(|v| v.is_finite()));
    assert_close("log_softmax of logits ~1000", &out, LOG_SOFTMAX_BIG);
    let p = big.softmax(1).unwrap();
    assert!(p.to_vec().iter().all(|v| v.is_finite()));
}

#[test]
fn gather_matches_pytorch() {
    let src = tensor(&[3, 4], 3);
    let index = IdTensor::new(vec![3, 0, 1, 1, 2, 0], &[3, 2]).unwrap();
    assert_close(
        "gather(dim=1)",
        &src.gather(1, &index).unwrap(),
        GATHER_DIM1,
    );
}

#[test]
fn batched_matmul_with_broadcasting_matches_pytorch() {
    let a = tensor(&[2, 1, 3, 4], 4);
    let b = tensor(&[5, 4, 2], 5);
    let c = a.matmul(&b).unwrap();
    assert_eq!(c.shape(), &[2, 5, 3, 2]);
    assert_close("matmul [2,1,3,4] x [5,4,2]", &c, BMM_BROADCAST);
}

#[test]
fn causal_attention_step_matches_pytorch() {
    let q = tensor(&[4, 3], 6).div_scalar(5.0);
    let k = tensor(&[4, 3], 7).div_scalar(5.0);
    let v = tensor(&[4, 3], 8);
    let scores = q.matmul(&k.t().unwrap()).unwrap().div_scalar(3f32.sqrt());
    let future = Tensor::<f32>::ones(&[4, 4]).triu(1).unwrap();
    let masked = scores.masked_fill(&future, f32::NEG_INFINITY).unwrap();
    let out = masked.softmax(-1).unwrap().matmul(&v).unwrap();
    assert_close("causal attention", &out, CAUSAL_ATTENTION);
}
