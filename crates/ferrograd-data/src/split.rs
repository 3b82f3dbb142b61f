//! Seeded train/validation/test splits and k-fold cross-validation indices.

use crate::error::{Result, invalid};
use ferrograd_tensor::Rng;

/// Example indices of a train/validation/test split, each part sorted ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Indices of the training examples (into `0..n`).
    pub train: Vec<usize>,
    /// Indices of the validation examples.
    pub validation: Vec<usize>,
    /// Indices of the test examples.
    pub test: Vec<usize>,
}

/// Splits `0..n` at random into train, validation and test parts by fractions that add
/// up to 1 (within 1e-9), seeded: the same seed gives the same split on every machine.
///
/// Sizes: `train = round(n·f_train)`, `train + validation = round(n·(f_train +
/// f_validation))`, and the test part takes the rest, so the parts always cover all `n`
/// examples. With `n = 10` and `(0.8, 0.1, 0.1)` that is 8, 1, 1.
///
/// ```
/// use ferrograd_data::split::train_val_test_split;
/// let s = train_val_test_split(100, 0.7, 0.15, 0.15, 7)?;
/// assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (70, 15, 15));
/// # Ok::<(), ferrograd_data::DataError>(())
/// ```
///
/// # Errors
/// [`crate::DataError::InvalidArgument`] for a fraction outside `[0, 1]` (or NaN) or
/// fractions whose sum is not 1.
pub fn train_val_test_split(
    n: usize,
    train: f64,
    validation: f64,
    test: f64,
    seed: u64,
) -> Result<Split> {
    const OP: &str = "train_val_test_split";
    for (name, f) in [("train", train), ("validation", validation), ("test", test)] {
        if !(0.0..=1.0).contains(&f) {
            return Err(invalid(OP, format!("{name} fraction {f} is not in [0, 1]")));
        }
    }
    let sum = train + validation + test;
    if (sum - 1.0).abs() > 1e-9 {
        return Err(invalid(
            OP,
            format!("fractions {train} + {validation} + {test} add up to {sum}, not 1"),
        ));
    }
    let nf = n as f64;
    let b1 = ((nf * train).round() as usize).min(n);
    let b2 = ((nf * (train + validation)).round() as usize).clamp(b1, n);
    let order = Rng::new(seed).permutation(n);
    let sorted = |part: &[usize]| {
        let mut v = part.to_vec();
        v.sort_unstable();
        v
    };
    Ok(Split {
        train: sorted(&order[..b1]),
        validation: sorted(&order[b1..b2]),
        test: sorted(&order[b2..]),
    })
}

/// One fold of k-fold cross-validation: train on `train`, validate on `validation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Indices of the examples to train on (every example not in `validation`), sorted.
    pub train: Vec<usize>,
    /// Indices of the examples held out in this fold, sorted.
    pub validation: Vec<usize>,
}

/// k-fold cross-validation indices over `0..n`: `k` disjoint validation parts covering
/// every example once, of sizes differing by at most one (the first `n % k` folds get
/// one extra, as scikit-learn's `KFold`). With `seed` the examples are shuffled first;
/// without, folds are consecutive runs.
///
/// ```
/// use ferrograd_data::split::k_fold;
/// let folds = k_fold(10, 3, None)?;
/// assert_eq!(folds[0].validation, vec![0, 1, 2, 3]);
/// assert_eq!(folds[2].validation, vec![7, 8, 9]);
/// # Ok::<(), ferrograd_data::DataError>(())
/// ```
///
/// # Errors
/// [`crate::DataError::InvalidArgument`] unless `2 <= k <= n`.
pub fn k_fold(n: usize, k: usize, seed: Option<u64>) -> Result<Vec<Fold>> {
    if k < 2 || k > n {
        return Err(invalid(
            "k_fold",
            format!("need 2 <= k <= n, got k = {k} for n = {n} examples"),
        ));
    }
    let order = match seed {
        Some(s) => Rng::new(s).permutation(n),
        None => (0..n).collect(),
    };
    let mut folds = Vec::with_capacity(k);
    let mut start = 0;
    for i in 0..k {
        let size = n / k + usize::from(i < n % k);
        let mut validation = order[start..start + size].to_vec();
        let mut train: Vec<usize> = order[..start]
            .iter()
            .chain(&order[start + size..])
            .copied()
            .collect();
        validation.sort_unstable();
        train.sort_unstable();
        folds.push(Fold { train, validation });
        start += size;
    }
    Ok(folds)
}
