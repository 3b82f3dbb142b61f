//! The book's buy/no-buy data lives in `ferrograd-data`; the scalar-autodiff crate, which
//! sits below it and must stand alone, keeps a copy for its own examples. This checks
//! that the copy is the same data.

use ferrograd::data::book::{BUY_FEATURES, BUY_LABELS};
use ferrograd::scalar::nn::{BUY_X, BUY_Y};

#[test]
fn the_scalar_crates_copy_is_the_data_of_ferrograd_data() {
    assert_eq!(BUY_X, BUY_FEATURES);
    let labels: Vec<f64> = BUY_LABELS.iter().map(|&l| l as f64).collect();
    assert_eq!(BUY_Y.to_vec(), labels);
}
