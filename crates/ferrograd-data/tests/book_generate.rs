//! The book's built-in datasets and the seeded generators.

use ferrograd_data::generate::{blobs, moons, noisy_sine, spirals};
use ferrograd_data::{DataError, Dataset, book};
use std::f64::consts::{PI, TAU};

#[test]
fn house_prices_are_the_books_three_examples() {
    let ds = book::house_prices::<f32>();
    assert_eq!(ds.inputs().shape(), &[3, 1]);
    assert_eq!(ds.targets().shape(), &[3, 1]);
    assert_eq!(ds.inputs().to_vec(), vec![150.0, 200.0, 260.0]);
    assert_eq!(ds.targets().to_vec(), vec![200.0, 600.0, 500.0]);
}

#[test]
fn buy_no_buy_is_the_books_twelve_examples() {
    let x = [
        [22.0, 25.0],
        [25.0, 35.0],
        [47.0, 80.0],
        [52.0, 95.0],
        [46.0, 82.0],
        [56.0, 90.0],
        [23.0, 27.0],
        [30.0, 50.0],
        [40.0, 60.0],
        [39.0, 57.0],
        [53.0, 95.0],
        [48.0, 88.0],
    ];
    let y = [0i64, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1];
    let flat: Vec<f64> = x.iter().flatten().copied().collect();

    let ds = book::buy_no_buy::<f64>();
    assert_eq!(ds.inputs().shape(), &[12, 2]);
    assert_eq!(ds.inputs().to_vec(), flat);
    assert_eq!(ds.targets().shape(), &[12, 1]);
    let yf: Vec<f64> = y.iter().map(|&v| v as f64).collect();
    assert_eq!(ds.targets().to_vec(), yf);

    let classes = book::buy_no_buy_classes::<f32>();
    assert_eq!(classes.targets().shape(), &[12]);
    assert_eq!(classes.targets().to_vec(), y);
    assert_eq!(classes.len(), 12);
}

fn column(rows: &[Vec<f64>], c: usize) -> Vec<f64> {
    rows.iter().map(|r| r[c]).collect()
}

#[test]
fn noisy_sine_follows_the_curve_and_no_line_fits_it() {
    let clean = noisy_sine::<f64>(500, 0.0, 4).unwrap();
    let x = clean.inputs().to_vec();
    let y = clean.targets().to_vec();
    assert_eq!(clean.inputs().shape(), &[500, 1]);
    for (&xi, &yi) in x.iter().zip(&y) {
        assert!((0.0..TAU).contains(&xi));
        assert!((yi - xi.sin()).abs() < 1e-12);
    }

    let n = 4000;
    let noisy = noisy_sine::<f64>(n, 0.1, 5).unwrap();
    let x = noisy.inputs().to_vec();
    let y = noisy.targets().to_vec();
    // Residuals from the true curve have the noise's standard deviation (0.1); its
    // sample estimate has a standard error of about 0.1/sqrt(2n) ≈ 0.0011.
    let resid: Vec<f64> = x.iter().zip(&y).map(|(a, b)| b - a.sin()).collect();
    let sd = (resid.iter().map(|r| r * r).sum::<f64>() / n as f64).sqrt();
    assert!((sd - 0.1).abs() < 0.006, "noise sd {sd}");
    // The least-squares line leaves a mean squared error of about 0.2 + 0.01 (for
    // uniform x on [0, 2π): Var(sin) = 1/2 and the line explains Cov²/Var(x) =
    // 1/(4π²/12) ≈ 0.304 of it): far above the noise variance.
    let (mx, my) = (
        x.iter().sum::<f64>() / n as f64,
        y.iter().sum::<f64>() / n as f64,
    );
    let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let slope = sxy / sxx;
    let mse = x
        .iter()
        .zip(&y)
        .map(|(a, b)| (b - (my + slope * (a - mx))).powi(2))
        .sum::<f64>()
        / n as f64;
    assert!((mse - 0.206).abs() < 0.02, "line mse {mse}");
    assert!(mse > 10.0 * 0.01);
}

#[test]
fn moons_lie_on_their_half_circles() {
    let ds = moons::<f64>(401, 0.0, 2).unwrap();
    assert_eq!(ds.inputs().shape(), &[401, 2]);
    let rows = ds.inputs().to_vec2().unwrap();
    let classes = ds.targets().to_vec();
    assert_eq!(classes.iter().filter(|&&c| c == 0).count(), 201);
    assert_eq!(classes.iter().filter(|&&c| c == 1).count(), 200);
    for (p, c) in rows.iter().zip(classes) {
        let (x, y) = (p[0], p[1]);
        if c == 0 {
            assert!((x.hypot(y) - 1.0).abs() < 1e-12 && y >= 0.0, "{p:?}");
        } else {
            assert!(
                ((x - 1.0).hypot(y - 0.5) - 1.0).abs() < 1e-12 && y <= 0.5,
                "{p:?}"
            );
        }
    }
    // Noise moves points off the curves by about `noise`.
    let noisy = moons::<f64>(2000, 0.1, 2).unwrap();
    let rows = noisy.inputs().to_vec2().unwrap();
    let off: f64 = rows
        .iter()
        .zip(noisy.targets().to_vec())
        .map(|(p, c)| {
            if c == 0 {
                (p[0].hypot(p[1]) - 1.0).abs()
            } else {
                ((p[0] - 1.0).hypot(p[1] - 0.5) - 1.0).abs()
            }
        })
        .sum::<f64>()
        / 2000.0;
    // Mean |radial offset| of 2-D N(0, 0.1²) noise is about 0.1·sqrt(2/π) ≈ 0.08.
    assert!((0.06..0.1).contains(&off), "{off}");
}

#[test]
fn spirals_follow_their_arms() {
    let ds = spirals::<f64>(300, 0.0, 9).unwrap();
    let rows = ds.inputs().to_vec2().unwrap();
    for (p, c) in rows.iter().zip(ds.targets().to_vec()) {
        let r = p[0].hypot(p[1]);
        assert!(r > 0.0 && r <= 1.0 + 1e-12);
        let angle = 3.0 * PI * r + c as f64 * PI;
        assert!((p[0] - r * angle.cos()).abs() < 1e-12, "{p:?} class {c}");
        assert!((p[1] - r * angle.sin()).abs() < 1e-12, "{p:?} class {c}");
    }
    // Both classes present, alternating.
    assert_eq!(ds.targets().to_vec()[..4], [0, 1, 0, 1]);
}

#[test]
fn blobs_center_on_their_centers() {
    let centers = [[-2.0, 1.0], [3.0, -1.0], [0.0, 4.0]];
    let n = 3000;
    let ds = blobs::<f64, 2>(n, &centers, 0.5, 6).unwrap();
    assert_eq!(ds.inputs().shape(), &[n, 2]);
    let rows = ds.inputs().to_vec2().unwrap();
    for (k, center) in centers.iter().enumerate() {
        let members: Vec<Vec<f64>> = rows
            .iter()
            .zip(ds.targets().to_vec())
            .filter(|&(_, c)| c == k as i64)
            .map(|(r, _)| r.clone())
            .collect();
        assert_eq!(members.len(), 1000);
        for (axis, &expected) in center.iter().enumerate() {
            let xs = column(&members, axis);
            let m = xs.iter().sum::<f64>() / 1000.0;
            let sd = (xs.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 1000.0).sqrt();
            // Standard error of the mean: 0.5/sqrt(1000) ≈ 0.016; allow 5 of them.
            assert!((m - expected).abs() < 0.08, "class {k} axis {axis}: {m}");
            assert!((sd - 0.5).abs() < 0.06, "class {k} axis {axis}: sd {sd}");
        }
    }
    let three_d = blobs::<f32, 3>(10, &[[0.0; 3], [1.0; 3]], 0.1, 0).unwrap();
    assert_eq!(three_d.inputs().shape(), &[10, 3]);
}

#[test]
fn generators_are_seeded() {
    let a = moons::<f32>(50, 0.1, 1).unwrap();
    let b = moons::<f32>(50, 0.1, 1).unwrap();
    let c = moons::<f32>(50, 0.1, 2).unwrap();
    assert_eq!(a.inputs().to_vec(), b.inputs().to_vec());
    assert_ne!(a.inputs().to_vec(), c.inputs().to_vec());
    let s1 = noisy_sine::<f32>(20, 0.3, 7).unwrap();
    let s2 = noisy_sine::<f32>(20, 0.3, 7).unwrap();
    assert_eq!(s1.targets().to_vec(), s2.targets().to_vec());
    let p1 = spirals::<f32>(20, 0.1, 7).unwrap();
    let p2 = spirals::<f32>(20, 0.1, 8).unwrap();
    assert_ne!(p1.inputs().to_vec(), p2.inputs().to_vec());
}

#[test]
fn generator_arguments_are_checked() {
    assert!(matches!(
        moons::<f32>(10, -0.1, 0),
        Err(DataError::InvalidArgument { .. })
    ));
    assert!(spirals::<f32>(10, f64::NAN, 0).is_err());
    assert!(noisy_sine::<f32>(10, f64::INFINITY, 0).is_err());
    let none: [[f64; 2]; 0] = [];
    assert!(blobs::<f32, 2>(10, &none, 1.0, 0).is_err());
    assert!(blobs::<f32, 2>(10, &[[f64::NAN, 0.0]], 1.0, 0).is_err());
    assert_eq!(moons::<f32>(0, 0.1, 0).unwrap().len(), 0);
}
