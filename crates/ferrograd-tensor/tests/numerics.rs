//! The numeric edges of the reduction-based ops: large magnitudes, infinities and NaN in
//! softmax, log-softmax, logsumexp, cross-entropy, NLL, binary cross-entropy with logits,
//! layer norm and RMS norm, at f32 and f64.
//!
//! Fixed cases compare with PyTorch 2.15's values, printed by
//! `tests/reference/numeric_edges.py` (copied here as `repr` gives them, exact for both
//! precisions). Property tests check, over random rows, that every output is finite
//! wherever PyTorch's is (large finite magnitudes, some `−inf` entries), and that the
//! stack's one NaN rule holds in every kernel: a NaN or `+inf` in a row, or a row of only
//! `−inf`, makes that row NaN (as in PyTorch), and leaves the other rows alone.

// PyTorch's printed values are kept as printed, even where they equal a std constant.
#![allow(clippy::approx_constant)]

use ferrograd_tensor::{IdTensor, Reduction, Scalar, Tensor};
use proptest::prelude::*;

const INF: f64 = f64::INFINITY;
const NAN: f64 = f64::NAN;

/// `got` equals `want` elementwise: both NaN, the same infinity, or within `rel` relative.
fn assert_values(name: &str, got: &[f64], want: &[f64], rel: f64) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= rel * w.abs().max(f64::MIN_POSITIVE)
        };
        assert!(ok, "{name}[{i}]: got {g:e}, PyTorch {w:e} (got {got:?})");
    }
}

fn row<T: Scalar>(values: &[f64]) -> Tensor<T> {
    Tensor::from_vec(
        values.iter().map(|&v| T::from_f64(v)).collect(),
        &[1, values.len()],
    )
    .unwrap()
}

fn f64s<T: Scalar>(t: &Tensor<T>) -> Vec<f64> {
    t.to_vec().iter().map(|v| v.to_f64()).collect()
}

/// One row and PyTorch's results for it (target 1 for the losses).
struct Case {
    row: [f64; 3],
    softmax: [f64; 3],
    log_softmax: [f64; 3],
    logsumexp: f64,
    cross_entropy: f64,
    smoothed: f64,
}

/// PyTorch's values in f32 (`numeric_edges.py`, `== torch.float32`).
const F32_CASES: &[Case] = &[
    Case {
        row: [1e4, 1e4, 1e4],
        softmax: [0.3333333432674408; 3],
        log_softmax: [-1.0986123085021973; 3],
        logsumexp: 10001.0986328125,
        cross_entropy: 1.0986123085021973,
        smoothed: 1.0986123085021973,
    },
    Case {
        row: [-1e30, -1e30, -1e30],
        softmax: [0.3333333432674408; 3],
        log_softmax: [-1.0986123085021973; 3],
        logsumexp: -1.0000000150474662e30,
        cross_entropy: 1.0986123085021973,
        smoothed: 1.0986123085021973,
    },
    Case {
        row: [-INF, 1.0, 2.0],
        softmax: [0.0, 0.2689414322376251, 0.7310585975646973],
        log_softmax: [-INF, -1.31326162815094, -0.31326165795326233],
        logsumexp: 2.3132617473602295,
        cross_entropy: 1.31326162815094,
        smoothed: INF,
    },
    Case {
        row: [INF, 1.0, 2.0],
        softmax: [NAN; 3],
        log_softmax: [NAN; 3],
        logsumexp: INF,
        cross_entropy: NAN,
        smoothed: NAN,
    },
    Case {
        row: [-INF, -INF, -INF],
        softmax: [NAN; 3],
        log_softmax: [NAN; 3],
        logsumexp: -INF,
        cross_entropy: NAN,
        smoothed: NAN,
    },
    Case {
        row: [NAN, 1.0, 2.0],
        softmax: [NAN; 3],
        log_softmax: [NAN; 3],
        logsumexp: NAN,
        cross_entropy: NAN,
        smoothed: NAN,
    },
    Case {
        row: [1.0, 2.0, 3.0],
        softmax: [0.09003057330846786, 0.2447284758090973, 0.6652409434318542],
        log_softmax: [
            -2.4076058864593506,
            -1.4076058864593506,
            -0.40760594606399536,
        ],
        logsumexp: 3.4076058864593506,
        cross_entropy: 1.4076058864593506,
        smoothed: 1.4076058864593506,
    },
];

/// PyTorch's values in f64 (`== torch.float64`).
const F64_CASES: &[Case] = &[
    Case {
        row: [1e4, 1e4, 1e4],
        softmax: [0.3333333333333333; 3],
        log_softmax: [-1.0986122886681098; 3],
        logsumexp: 10001.098612288668,
        cross_entropy: 1.0986122886681098,
        smoothed: 1.0986122886681098,
    },
    Case {
        row: [1e300, 1e300, -1e300],
        softmax: [0.5, 0.5, 0.0],
        log_softmax: [-0.6931471805599453, -0.6931471805599453, -2e300],
        logsumexp: 1e300,
        cross_entropy: 0.6931471805599453,
        smoothed: 6.666666666666667e298,
    },
    Case {
        row: [-INF, 1.0, 2.0],
        softmax: [0.0, 0.26894142136999516, 0.7310585786300049],
        log_softmax: [-INF, -1.3132616875182228, -0.31326168751822286],
        logsumexp: 2.313261687518223,
        cross_entropy: 1.3132616875182228,
        smoothed: INF,
    },
    Case {
        row: [INF, 1.0, 2.0],
        softmax: [NAN; 3],
        log_softmax: [NAN; 3],
        logsumexp: INF,
        cross_entropy: NAN,
        smoothed: NAN,
    },
    Case {
        row: [-INF, -INF, -INF],
        softmax: [NAN; 3],
        log_softmax: [NAN; 3],
        logsumexp: -INF,
        cross_entropy: NAN,
        smoothed: NAN,
    },
    Case {
        row: [NAN, 1.0, 2.0],
        softmax: [NAN; 3],
        log_softmax: [NAN; 3],
        logsumexp: NAN,
        cross_entropy: NAN,
        smoothed: NAN,
    },
    Case {
        row: [1.0, 2.0, 3.0],
        softmax: [0.09003057317038045, 0.2447284710547976, 0.6652409557748218],
        log_softmax: [
            -2.4076059644443806,
            -1.4076059644443804,
            -0.4076059644443804,
        ],
        logsumexp: 3.4076059644443806,
        cross_entropy: 1.4076059644443804,
        smoothed: 1.4076059644443804,
    },
];

/// Checks every op on every case. Tolerances: f32 results within 4 ulps (`5e-7`
/// relative: the polynomial exponential is within 2 ulps, then one log and a division),
/// f64 within `1e-14` (library `exp`/`ln`, a few roundings).
fn check_cases<T: Scalar>(cases: &[Case], rel: f64) {
    let target = IdTensor::from(vec![1]);
    for case in cases {
        let x = row::<T>(&case.row);
        let name = |op: &str| format!("{op}({:?}) in {}", case.row, T::DTYPE);
        let log_probs = x.log_softmax(-1).unwrap();
        assert_values(
            &name("softmax"),
            &f64s(&x.softmax(-1).unwrap()),
            &case.softmax,
            rel,
        );
        assert_values(
            &name("log_softmax"),
            &f64s(&log_probs),
            &case.log_softmax,
            rel,
        );
        let lse = x.logsumexp(-1, false).unwrap();
        assert_eq!(lse.shape(), &[1]);
        assert_values(&name("logsumexp"), &f64s(&lse), &[case.logsumexp], rel);
        let ce = x
            .cross_entropy(&target, Reduction::Mean, -100, 0.0)
            .unwrap();
        assert_values(
            &name("cross_entropy"),
            &f64s(&ce),
            &[case.cross_entropy],
            rel,
        );
        let smoothed = x
            .cross_entropy(&target, Reduction::Mean, -100, 0.1)
            .unwrap();
        assert_values(
            &name("smoothed cross_entropy"),
            &f64s(&smoothed),
            &[case.smoothed],
            rel,
        );
        // NLL of log-softmax is cross-entropy: it inherits log-softmax's precision.
        let nll = log_probs.nll_loss(&target, Reduction::Mean, -100).unwrap();
        assert_values(
            &name("nll_loss(log_softmax)"),
            &f64s(&nll),
            &[case.cross_entropy],
            rel,
        );
    }
}

#[test]
fn softmax_family_and_losses_match_pytorch_at_the_edges_f32() {
    check_cases::<f32>(F32_CASES, 5e-7);
}

#[test]
fn softmax_family_and_losses_match_pytorch_at_the_edges_f64() {
    check_cases::<f64>(F64_CASES, 1e-14);
}

/// The three cases, exactly: log-softmax is `(x − max) − ln Σ`, not
/// `x − (max + ln Σ)`, which rounded `ln 3` away at 10⁴ and gave 0 for the other two.
#[test]
fn log_softmax_keeps_the_log_sum_at_large_magnitudes() {
    let big = row::<f32>(&[1e4, 1e4, 1e4]).log_softmax(-1).unwrap();
    assert_eq!(big.to_vec(), vec![-1.098_612_3f32; 3]);
    let tiny = row::<f32>(&[-1e30, -1e30, -1e30]).log_softmax(-1).unwrap();
    assert_eq!(tiny.to_vec(), vec![-1.098_612_3f32; 3]);
    let wide = row::<f64>(&[1e300, 1e300, -1e300]).log_softmax(-1).unwrap();
    let w = wide.to_vec();
    assert!(
        (w[0] + std::f64::consts::LN_2).abs() < 1e-15 && w[0] == w[1],
        "{w:?}"
    );
    assert_eq!(w[2], -2e300);
}

/// Gradients at large magnitudes, against hand-computed values: with equal logits every
/// probability is exactly 1/3, and `[1e300, 1e300, −1e300]` gives 1/2, 1/2, 0. The
/// upstream gradient picks the first output (`g = [1, 0, 0]`) for softmax and
/// log-softmax, so softmax's is `p·(g − Σ g·p)` = `[2/9, −1/9, −1/9]` and log-softmax's
/// `g − p·Σ g` = `[2/3, −1/3, −1/3]`; logsumexp's is `p`, cross-entropy's (target 1)
/// `p − onehot`. Before, logsumexp's backward used `exp(x − lse)` with `lse` rounded at
/// its own magnitude: `[1e4; 3]` in f32 gave 0.333327 (20 ulps off) and the f64 row gave
/// `[1, 1, 0]`.
#[test]
fn gradients_of_the_softmax_family_keep_their_precision_at_large_magnitudes() {
    fn grad_of<T: Scalar>(values: &[f64], f: impl Fn(&Tensor<T>) -> Tensor<T>) -> Vec<f64> {
        let x = row::<T>(values).set_requires_grad(true);
        let grads = f(&x).backward().unwrap();
        f64s(grads.get(&x).expect("a gradient for x"))
    }
    fn check<T: Scalar>(values: &[f64], p: [f64; 3], rel: f64) {
        let name = |op: &str| format!("{op} backward at {values:?} in {}", T::DTYPE);
        let first = |y: Tensor<T>| y.narrow(-1, 0, 1).unwrap().sum_all();
        let target = IdTensor::from(vec![1]);
        let dot = p[0];
        let softmax = [p[0] * (1.0 - dot), -p[1] * dot, -p[2] * dot];
        assert_values(
            &name("softmax"),
            &grad_of::<T>(values, |x| first(x.softmax(-1).unwrap())),
            &softmax,
            rel,
        );
        let log_softmax = [1.0 - p[0], -p[1], -p[2]];
        assert_values(
            &name("log_softmax"),
            &grad_of::<T>(values, |x| first(x.log_softmax(-1).unwrap())),
            &log_softmax,
            rel,
        );
        assert_values(
            &name("logsumexp"),
            &grad_of::<T>(values, |x| x.logsumexp(-1, false).unwrap().sum_all()),
            &p,
            rel,
        );
        let ce = [p[0], p[1] - 1.0, p[2]];
        assert_values(
            &name("cross_entropy"),
            &grad_of::<T>(values, |x| {
                x.cross_entropy(&target, Reduction::Mean, -100, 0.0)
                    .unwrap()
            }),
            &ce,
            rel,
        );
        assert_values(
            &name("nll_loss(log_softmax)"),
            &grad_of::<T>(values, |x| {
                x.log_softmax(-1)
                    .unwrap()
                    .nll_loss(&target, Reduction::Mean, -100)
                    .unwrap()
            }),
            &ce,
            rel,
        );
    }
    let third = [1.0 / 3.0; 3];
    // f32: within 8 ulps (1e-6 relative: 1/3 rounded, a sum, a product or two).
    check::<f32>(&[1e4, 1e4, 1e4], third, 1e-6);
    check::<f32>(&[-1e30, -1e30, -1e30], third, 1e-6);
    check::<f32>(&[3e38, 3e38, 3e38], third, 1e-6);
    // f64: within a few ulps.
    check::<f64>(&[1e4, 1e4, 1e4], third, 1e-15);
    check::<f64>(&[1e300, 1e300, -1e300], [0.5, 0.5, 0.0], 1e-15);
}

#[test]
fn norms_match_pytorch_at_the_edges() {
    type NormCase = ([f64; 3], [f64; 3], [f64; 3]);
    // (row, layer_norm, rms_norm) from numeric_edges.py; eps 1e-5 and machine epsilon.
    let f32_cases: [NormCase; 4] = [
        ([1e20, -1e20, 0.0], [0.0; 3], [0.0; 3]),
        (
            [1e4, 1e4 + 1.0, 1e4 + 2.0],
            [-1.2247356176376343, 0.0, 1.2247356176376343],
            [0.9998999834060669, 1.0, 1.000100016593933],
        ),
        (
            [1e-30, 2e-30, 0.0],
            [0.0, 3.1622777832917053e-28, -3.1622777832917053e-28],
            [2.8963093616807558e-27, 5.7926187233615115e-27, 0.0],
        ),
        ([NAN, 1.0, 2.0], [NAN; 3], [NAN; 3]),
    ];
    let f64_cases: [NormCase; 4] = [
        (
            [1e20, -1e20, 0.0],
            [1.224744871391589, -1.224744871391589, 0.0],
            [1.224744871391589, -1.224744871391589, 0.0],
        ),
        (
            [1e4, 1e4 + 1.0, 1e4 + 2.0],
            [-1.2247356859083902, 0.0, 1.2247356859083902],
            [0.9999000066666665, 0.9999999966673331, 1.0000999866679998],
        ),
        (
            [1e-30, 2e-30, 0.0],
            [0.0, 3.1622776601683794e-28, -3.1622776601683794e-28],
            [6.7108864e-23, 1.34217728e-22, 0.0],
        ),
        ([NAN, 1.0, 2.0], [NAN; 3], [NAN; 3]),
    ];
    fn check<T: Scalar>(cases: &[NormCase], rel: f64) {
        for (x, ln, rms) in cases {
            let t = row::<T>(x);
            let got = f64s(&t.layer_norm(&[3], None, None, 1e-5).unwrap());
            assert_values(&format!("layer_norm({x:?}) {}", T::DTYPE), &got, ln, rel);
            let got = f64s(&t.rms_norm(&[3], None, None).unwrap());
            assert_values(&format!("rms_norm({x:?}) {}", T::DTYPE), &got, rms, rel);
        }
    }
    check::<f32>(&f32_cases, 2e-6);
    check::<f64>(&f64_cases, 1e-12);
}

#[test]
fn binary_cross_entropy_with_logits_matches_pytorch_at_the_edges() {
    // (z, y, f32 loss, f64 loss) from numeric_edges.py.
    let cases = [
        (1e30, 0.3, 7.000000105332264e29, 7e29),
        (-1e30, 1.0, 1.0000000150474662e30, 1e30),
        (100.0, 1.0, 3.923635700109488e-44, 3.720075976020836e-44),
        (-100.0, 0.0, 0.0, 0.0),
        (40.0, 0.5, 20.0, 20.0),
    ];
    for (z, y, want32, want64) in cases {
        let l32 = Tensor::<f32>::from([z as f32])
            .binary_cross_entropy_with_logits(&Tensor::from([y as f32]), Reduction::Mean)
            .unwrap()
            .item()
            .unwrap();
        // A subnormal f32 result carries few bits: compare to 2e-45 absolute there.
        assert!(
            (f64::from(l32) - want32).abs() <= 1e-6 * want32.abs() + 2e-45,
            "f32 z {z}, y {y}: {l32:e} vs {want32:e}"
        );
        let l64 = Tensor::<f64>::from([z])
            .binary_cross_entropy_with_logits(&Tensor::from([y]), Reduction::Mean)
            .unwrap()
            .item()
            .unwrap();
        assert!(
            (l64 - want64).abs() <= 1e-14 * want64.abs(),
            "f64 z {z}, y {y}: {l64:e} vs {want64:e}"
        );
    }
}

/// The NaN rule in every row kernel: a row with a NaN (or `+inf`, or only `−inf`) is NaN
/// in softmax, log-softmax, logsumexp, cross-entropy and both norms; the other rows of
/// the same tensor are untouched, whatever their position in the thread split.
#[test]
fn one_nan_rule_in_every_row_kernel() {
    fn check<T: Scalar>() {
        let n = 200; // more than the 64 lanes of the row reductions: the NaN is in a lane
        for bad in [NAN, INF] {
            for at in [0, 37, n - 1] {
                let mut data: Vec<f64> = (0..3 * n).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
                data[n + at] = bad; // row 1
                let x =
                    Tensor::<T>::from_vec(data.iter().map(|&v| T::from_f64(v)).collect(), &[3, n])
                        .unwrap();
                let rows_of = |t: &Tensor<T>| -> Vec<Vec<f64>> {
                    let v = f64s(t);
                    v.chunks(v.len() / 3).map(<[f64]>::to_vec).collect()
                };
                let name = format!("{} with {bad} at {at}", T::DTYPE);
                let outputs = [
                    ("softmax", rows_of(&x.softmax(-1).unwrap())),
                    ("log_softmax", rows_of(&x.log_softmax(-1).unwrap())),
                    ("logsumexp", rows_of(&x.logsumexp(-1, false).unwrap())),
                    (
                        "cross_entropy",
                        rows_of(
                            &x.cross_entropy(
                                &IdTensor::from(vec![0, 1, 2]),
                                Reduction::None,
                                -100,
                                0.0,
                            )
                            .unwrap(),
                        ),
                    ),
                    (
                        "layer_norm",
                        rows_of(&x.layer_norm(&[n], None, None, 1e-5).unwrap()),
                    ),
                    ("rms_norm", rows_of(&x.rms_norm(&[n], None, None).unwrap())),
                ];
                for (op, rows) in outputs {
                    match (bad == INF, op) {
                        // PyTorch's values with a +inf: logsumexp is +inf; RMS norm scales
                        // by rsqrt(inf) = 0, so the infinity becomes NaN and the rest 0.
                        (true, "logsumexp") => assert_eq!(rows[1], [INF], "{op} {name}"),
                        (true, "rms_norm") => {
                            for (i, v) in rows[1].iter().enumerate() {
                                assert!(
                                    if i == at { v.is_nan() } else { *v == 0.0 },
                                    "{op} {name}"
                                );
                            }
                        }
                        _ => assert!(
                            rows[1].iter().all(|v| v.is_nan()),
                            "{op} {name}: {:?}",
                            &rows[1][..3]
                        ),
                    }
                    for r in [0, 2] {
                        assert!(
                            rows[r].iter().all(|v| v.is_finite()),
                            "{op} {name}, row {r}"
                        );
                    }
                }
            }
        }
    }
    check::<f32>();
    check::<f64>();
}

/// A row of `n` logits of mixed magnitudes up to `10^max_exp` (both signs), with about one
/// entry in eight `−inf` (a masked position) but at least one finite entry.
fn edge_row(max_exp: i32) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        (any::<bool>(), 0.0f64..1.0, -max_exp..=max_exp, 0u8..8),
        1..150,
    )
    .prop_map(|entries| {
        let mut row: Vec<f64> = entries
            .iter()
            .map(|&(negative, mantissa, exp, masked)| {
                if masked == 0 {
                    f64::NEG_INFINITY
                } else {
                    let v = (1.0 + mantissa) * 10f64.powi(exp);
                    if negative { -v } else { v }
                }
            })
            .collect();
        if row.iter().all(|v| v.is_infinite()) {
            row[0] = 1.0;
        }
        row
    })
}

/// Checks the softmax family and cross-entropy on one row of `T`: finite outputs wherever
/// PyTorch's are (finite logits, `−inf` entries masked), probabilities summing to 1.
fn check_finite_softmax_family<T: Scalar>(
    values: &[f64],
    sum_tol: f64,
) -> Result<(), TestCaseError> {
    // The values as `T` (rounding, and in f32 the largest ones are kept below overflow by
    // the strategy's exponent).
    let x = row::<T>(values);
    let xs = f64s(&x);
    let n = xs.len();
    let p = f64s(&x.softmax(-1).unwrap());
    let lp = f64s(&x.log_softmax(-1).unwrap());
    let lse = x.logsumexp(-1, false).unwrap().item().unwrap().to_f64();
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for i in 0..n {
        if xs[i] == f64::NEG_INFINITY {
            prop_assert_eq!(p[i], 0.0);
            prop_assert_eq!(lp[i], f64::NEG_INFINITY);
        } else {
            prop_assert!(
                p[i].is_finite() && (0.0..=1.0).contains(&p[i]),
                "softmax[{}] = {}",
                i,
                p[i]
            );
            prop_assert!(
                lp[i].is_finite() && lp[i] <= 0.0,
                "log_softmax[{}] = {}",
                i,
                lp[i]
            );
        }
    }
    let total: f64 = p.iter().sum();
    prop_assert!((total - 1.0).abs() <= sum_tol, "softmax sums to {}", total);
    prop_assert!(
        lse.is_finite() && lse >= max,
        "logsumexp {} below the max {}",
        lse,
        max
    );
    prop_assert!(
        lse <= max + (n as f64).ln() * (1.0 + 1e-6) + max.abs() * 1e-6,
        "logsumexp {}",
        lse
    );
    // Cross-entropy at every finite target: finite and ≥ 0 (−log p ≥ 0).
    for t in (0..n).filter(|&t| xs[t].is_finite()).take(4) {
        let ce = x
            .cross_entropy(&IdTensor::from(vec![t as i64]), Reduction::Mean, -100, 0.0)
            .unwrap()
            .item()
            .unwrap()
            .to_f64();
        prop_assert!(
            ce.is_finite() && ce >= 0.0,
            "cross_entropy at {} = {}",
            t,
            ce
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn softmax_family_is_finite_at_large_magnitudes_f32(values in edge_row(37)) {
        check_finite_softmax_family::<f32>(&values, 2e-5)?;
    }

    #[test]
    fn softmax_family_is_finite_at_large_magnitudes_f64(values in edge_row(300)) {
        check_finite_softmax_family::<f64>(&values, 1e-12)?;
    }

    #[test]
    fn logit_and_norm_losses_are_finite_for_finite_inputs(
        values in prop::collection::vec((any::<bool>(), 0.0f64..1.0, -30i32..=30), 1..150),
        y in 0.0f64..=1.0,
    ) {
        let xs: Vec<f64> = values
            .iter()
            .map(|&(neg, m, e)| (1.0 + m) * 10f64.powi(e) * if neg { -1.0 } else { 1.0 })
            .collect();
        let n = xs.len();
        for precision in ["f32", "f64"] {
            let (bce, ln, rms) = if precision == "f32" {
                let x = row::<f32>(&xs);
                let target = Tensor::<f32>::full(&[1, n], y as f32);
                (
                    f64s(&x.binary_cross_entropy_with_logits(&target, Reduction::None).unwrap()),
                    // |x| ≤ 2e30 with squares in range only up to ~1e19; beyond that the
                    // variance overflows and the output is 0 (finite), as PyTorch's.
                    f64s(&x.layer_norm(&[n], None, None, 1e-5).unwrap()),
                    f64s(&x.rms_norm(&[n], None, None).unwrap()),
                )
            } else {
                let x = row::<f64>(&xs);
                let target = Tensor::<f64>::full(&[1, n], y);
                (
                    f64s(&x.binary_cross_entropy_with_logits(&target, Reduction::None).unwrap()),
                    f64s(&x.layer_norm(&[n], None, None, 1e-5).unwrap()),
                    f64s(&x.rms_norm(&[n], None, None).unwrap()),
                )
            };
            prop_assert!(bce.iter().all(|v| v.is_finite() && *v >= 0.0), "{} bce {:?}", precision, bce);
            prop_assert!(ln.iter().all(|v| v.is_finite()), "{} layer_norm {:?}", precision, ln);
            prop_assert!(rms.iter().all(|v| v.is_finite()), "{} rms_norm {:?}", precision, rms);
            // A normalised row has |y| ≤ √n (mean 0, mean square ≤ 1).
            let bound = (n as f64).sqrt() * (1.0 + 1e-3);
            prop_assert!(ln.iter().chain(&rms).all(|v| v.abs() <= bound), "{} norms exceed √n", precision);
        }
    }
}
