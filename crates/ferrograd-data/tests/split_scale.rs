//! Splits (sizes, disjointness, seeding, k-fold) and scalers (fitted on train only,
//! constant columns, inverse transforms, errors).

use ferrograd_data::scale::{MinMaxScaler, StandardScaler};
use ferrograd_data::split::{k_fold, train_val_test_split};
use ferrograd_data::{DataError, Dataset, TensorDataset, book};
use ferrograd_tensor::{IdTensor, Tensor};

fn assert_close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol,
            "element {i}: {x} vs {y} (tolerance {tol})"
        );
    }
}

#[test]
fn split_sizes_follow_the_fractions() {
    for (n, f, expected) in [
        (100, (0.7, 0.15, 0.15), (70, 15, 15)),
        (10, (0.8, 0.1, 0.1), (8, 1, 1)),
        (12, (0.5, 0.25, 0.25), (6, 3, 3)),
        // round(7·0.6) = 4, round(7·0.8) = 6: 4, 2, 1.
        (7, (0.6, 0.2, 0.2), (4, 2, 1)),
        (5, (1.0, 0.0, 0.0), (5, 0, 0)),
        (0, (0.8, 0.1, 0.1), (0, 0, 0)),
    ] {
        let s = train_val_test_split(n, f.0, f.1, f.2, 11).unwrap();
        assert_eq!(
            (s.train.len(), s.validation.len(), s.test.len()),
            expected,
            "n = {n}, fractions {f:?}"
        );
        let mut all: Vec<usize> = [s.train, s.validation, s.test].concat();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..n).collect::<Vec<_>>(),
            "parts must partition 0..{n}"
        );
    }
}

#[test]
fn split_is_seeded() {
    let a = train_val_test_split(50, 0.6, 0.2, 0.2, 5).unwrap();
    let b = train_val_test_split(50, 0.6, 0.2, 0.2, 5).unwrap();
    let c = train_val_test_split(50, 0.6, 0.2, 0.2, 6).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Random, not the first 30 examples.
    assert_ne!(a.train, (0..30).collect::<Vec<_>>());
    assert!(a.train.windows(2).all(|w| w[0] < w[1]), "parts are sorted");
}

#[test]
fn split_rejects_bad_fractions() {
    for f in [
        (0.5, 0.5, 0.5),
        (0.7, 0.2, 0.0),
        (-0.1, 0.6, 0.5),
        (f64::NAN, 0.5, 0.5),
    ] {
        assert!(
            matches!(
                train_val_test_split(10, f.0, f.1, f.2, 0),
                Err(DataError::InvalidArgument { .. })
            ),
            "{f:?}"
        );
    }
}

#[test]
fn k_fold_covers_every_example_once() {
    let folds = k_fold(10, 3, None).unwrap();
    assert_eq!(folds.len(), 3);
    assert_eq!(folds[0].validation, vec![0, 1, 2, 3]);
    assert_eq!(folds[1].validation, vec![4, 5, 6]);
    assert_eq!(folds[2].validation, vec![7, 8, 9]);
    assert_eq!(folds[1].train, vec![0, 1, 2, 3, 7, 8, 9]);

    let shuffled = k_fold(23, 5, Some(8)).unwrap();
    let mut counts = [0; 23];
    for f in &shuffled {
        assert!([4, 5].contains(&f.validation.len()));
        assert_eq!(f.train.len() + f.validation.len(), 23);
        for &i in &f.validation {
            counts[i] += 1;
            assert!(!f.train.contains(&i));
        }
    }
    assert!(counts.iter().all(|&c| c == 1));
    assert_eq!(shuffled, k_fold(23, 5, Some(8)).unwrap());
    assert_ne!(shuffled, k_fold(23, 5, None).unwrap());
    assert!(k_fold(5, 1, None).is_err());
    assert!(k_fold(5, 6, None).is_err());
}

#[test]
fn standard_scaler_is_fitted_on_train_only() {
    let data = book::buy_no_buy::<f64>();
    let split = train_val_test_split(data.len(), 0.5, 0.25, 0.25, 3).unwrap();
    let train = data.select(&split.train).unwrap();
    let valid = data.select(&split.validation).unwrap();
    let scaler = StandardScaler::fit(train.inputs()).unwrap();

    // The statistics are the training rows', computed here independently.
    let rows: Vec<[f64; 2]> = split.train.iter().map(|&i| book::BUY_FEATURES[i]).collect();
    let n = rows.len() as f64;
    let mean: Vec<f64> = (0..2)
        .map(|c| rows.iter().map(|r| r[c]).sum::<f64>() / n)
        .collect();
    let std: Vec<f64> = (0..2)
        .map(|c| (rows.iter().map(|r| (r[c] - mean[c]).powi(2)).sum::<f64>() / n).sqrt())
        .collect();
    assert_close(scaler.mean(), &mean, 1e-12);
    assert_close(scaler.scale(), &std, 1e-12);

    // Training data comes out with mean 0 and standard deviation 1 …
    let z = scaler.transform(train.inputs()).unwrap().to_vec2().unwrap();
    for c in 0..2 {
        let m = z.iter().map(|r| r[c]).sum::<f64>() / n;
        let v = z.iter().map(|r| (r[c] - m).powi(2)).sum::<f64>() / n;
        assert!(
            m.abs() < 1e-12 && (v - 1.0).abs() < 1e-12,
            "column {c}: {m}, {v}"
        );
    }
    // … and validation data uses the training statistics, not its own.
    let zv = scaler.transform(valid.inputs()).unwrap().to_vec2().unwrap();
    for (row, &i) in zv.iter().zip(&split.validation) {
        for c in 0..2 {
            let expected = (book::BUY_FEATURES[i][c] - mean[c]) / std[c];
            assert!((row[c] - expected).abs() < 1e-12);
        }
    }
    let own = StandardScaler::fit(valid.inputs()).unwrap();
    assert_ne!(own.mean(), scaler.mean());
}

#[test]
fn standard_scaler_constant_column_and_inverse() {
    let x = Tensor::<f64>::from([[1.0, 7.0], [2.0, 7.0], [6.0, 7.0]]);
    let (scaler, z) = StandardScaler::fit_transform(&x).unwrap();
    assert_eq!(scaler.scale()[1], 1.0);
    let z = z.to_vec();
    assert!(z.iter().all(|v| v.is_finite()));
    assert_eq!([z[1], z[3], z[5]], [0.0, 0.0, 0.0]);
    // mean 3, population std sqrt(14/3).
    let s = (14.0f64 / 3.0).sqrt();
    assert_close(&[z[0], z[2], z[4]], &[-2.0 / s, -1.0 / s, 3.0 / s], 1e-12);
    let back = scaler
        .inverse_transform(&Tensor::from_vec(z, &[3, 2]).unwrap())
        .unwrap();
    assert_close(&back.to_vec(), &x.to_vec(), 1e-12);
    // A single example [d] transforms too.
    let one = scaler.transform(&Tensor::from([3.0, 8.0])).unwrap();
    assert_close(&one.to_vec(), &[0.0, 1.0], 1e-12);
}

#[test]
fn min_max_scaler_range_constant_and_inverse() {
    let x = Tensor::<f64>::from([[150.0, 5.0], [200.0, 5.0], [260.0, 5.0]]);
    let scaler = MinMaxScaler::fit_range(&x, -1.0, 1.0).unwrap();
    // 200 m²: (200 − 150) / 110 of the way from −1 to 1 = −1/11.
    let z = scaler.transform(&x).unwrap().to_vec();
    assert_close(&z, &[-1.0, -1.0, -1.0 / 11.0, -1.0, 1.0, -1.0], 1e-12);
    assert_eq!(scaler.scale()[1], 1.0);
    let back = scaler
        .inverse_transform(&Tensor::from_vec(z, &[3, 2]).unwrap())
        .unwrap();
    assert_close(&back.to_vec(), &x.to_vec(), 1e-12);
    assert_eq!(scaler.data_min(), &[150.0, 5.0]);
    assert_eq!(scaler.data_max(), &[260.0, 5.0]);
    // Out-of-range values are not clipped.
    let far = scaler
        .transform(&Tensor::from([[370.0, 6.0]]))
        .unwrap()
        .to_vec();
    assert_close(&far, &[3.0, 0.0], 1e-12);
    assert!(MinMaxScaler::fit_range(&x, 1.0, 1.0).is_err());
}

#[test]
fn scaler_errors() {
    let x = Tensor::<f32>::from([[1.0, 2.0], [3.0, 4.0]]);
    let s = StandardScaler::fit(&x).unwrap();
    assert!(matches!(
        s.transform(&Tensor::zeros(&[2, 3])),
        Err(DataError::ShapeMismatch { .. })
    ));
    // A 1-D tensor: the error names the call, the rank it needs and the shape it got
    // (it used to say "expected shape [0, 0]").
    let err = StandardScaler::fit(&Tensor::<f32>::zeros(&[4])).unwrap_err();
    assert!(
        matches!(&err, DataError::WrongRank { op: "StandardScaler::fit", rank: 2, found, .. } if found.0 == [4]),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "StandardScaler::fit: expected a tensor of rank 2 ([examples, features]), got shape [4]"
    );
    let err = MinMaxScaler::fit(&Tensor::<f64>::zeros(&[2, 3, 4])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "MinMaxScaler::fit: expected a tensor of rank 2 ([examples, features]), got shape [2, 3, 4]"
    );
    assert!(StandardScaler::fit(&Tensor::<f64>::from_vec(vec![5.0], &[]).unwrap()).is_err());
    assert!(matches!(
        MinMaxScaler::fit(&Tensor::<f32>::zeros(&[0, 2])),
        Err(DataError::Empty { .. })
    ));
    let nan = Tensor::<f32>::from([[1.0, 2.0], [f32::NAN, 4.0]]);
    assert!(matches!(
        StandardScaler::fit(&nan),
        Err(DataError::NonFinite {
            row: 1,
            column: 0,
            ..
        })
    ));
}

#[test]
fn scaled_dataset_keeps_targets() {
    let data = book::buy_no_buy_classes::<f32>();
    let scaler = StandardScaler::fit(data.inputs()).unwrap();
    let z = scaler.transform(data.inputs()).unwrap();
    let scaled = data.clone().with_inputs(z).unwrap();
    assert_eq!(scaled.targets(), data.targets());
    let wrong: Result<TensorDataset<Tensor<f32>, IdTensor>, _> =
        data.with_inputs(Tensor::zeros(&[3, 2]));
    assert!(wrong.is_err());
}
