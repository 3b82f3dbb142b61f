//! The small datasets of the book's first chapter, built in.

use crate::dataset::TensorDataset;
use ferrograd_tensor::{IdTensor, Scalar, Tensor};

/// §1.2: house areas in square metres.
pub const HOUSE_AREAS: [f64; 3] = [150.0, 200.0, 260.0];

/// §1.2: house prices in thousands of dollars, matching [`HOUSE_AREAS`].
pub const HOUSE_PRICES: [f64; 3] = [200.0, 600.0, 500.0];

/// §1.7: the 12 customers' (age in years, income in thousands of dollars).
pub const BUY_FEATURES: [[f64; 2]; 12] = [
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

/// §1.7: whether each customer of [`BUY_FEATURES`] bought (1) or not (0).
pub const BUY_LABELS: [usize; 12] = [0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1];

/// §1.2's house prices for linear regression `price = w·area + b`: inputs `[3, 1]`
/// (area, m²), targets `[3, 1]` (price, thousands).
///
/// ```
/// use ferrograd_data::{Dataset, book};
/// let ds = book::house_prices::<f64>();
/// assert_eq!(ds.len(), 3);
/// assert_eq!(ds.targets().to_vec(), vec![200.0, 600.0, 500.0]);
/// ```
pub fn house_prices<T: Scalar>() -> TensorDataset<Tensor<T>, Tensor<T>> {
    let x = Tensor::from(HOUSE_AREAS.map(|a| [T::from_f64(a)]));
    let y = Tensor::from(HOUSE_PRICES.map(|p| [T::from_f64(p)]));
    TensorDataset::from_checked(x, y)
}

/// §1.7's buy/no-buy examples as the book trains them, with binary cross-entropy:
/// inputs `[12, 2]` (age, income), targets `[12, 1]` holding 0.0 or 1.0.
pub fn buy_no_buy<T: Scalar>() -> TensorDataset<Tensor<T>, Tensor<T>> {
    let x = Tensor::from(BUY_FEATURES.map(|r| r.map(T::from_f64)));
    let y = Tensor::from(BUY_LABELS.map(|l| [T::from_usize(l)]));
    TensorDataset::from_checked(x, y)
}

/// §1.7's buy/no-buy examples with class-index targets for a cross-entropy loss:
/// inputs `[12, 2]` (age, income), targets [`IdTensor`] `[12]` (0 = no, 1 = yes).
pub fn buy_no_buy_classes<T: Scalar>() -> TensorDataset<Tensor<T>, IdTensor> {
    let x = Tensor::from(BUY_FEATURES.map(|r| r.map(T::from_f64)));
    TensorDataset::from_checked(
        x,
        IdTensor::from_indices(&BUY_LABELS, &[BUY_LABELS.len()])
            .expect("12 labels fill shape [12]"),
    )
}
