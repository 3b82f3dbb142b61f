//! The book's §1.2 closed-form linear regression, replayed against PyTorch.
//!
//! The expected values below are **PyTorch's results**, copied from the project's shared
//! reference file `chapter1.json` (key `linear_regression_closed_form_f64`, made with
//! PyTorch 2.15.0 on the CPU in float64). They are embedded here so that the test runs on
//! any fresh clone; it does not read that file.

use ferrograd_linalg::{LineFit, Matrix, Vector, fit_line, mean_squared_error};

/// Areas (m²) of the book's three houses.
const X: [f64; 3] = [150.0, 200.0, 260.0];
/// Their prices (thousands).
const Y: [f64; 3] = [200.0, 600.0, 500.0];
/// PyTorch: optimal slope w*.
const TORCH_W: f64 = 2.5824175824175835;
/// PyTorch: optimal intercept b*.
const TORCH_B: f64 = -91.75824175824197;
/// PyTorch: training MSE at (w*, b*).
const TORCH_MSE: f64 = 15402.930402930398;
/// PyTorch (and the book): MSE at the rounded parameters (2.58, −91.76), two decimals.
const TORCH_MSE_AT_ROUNDED: f64 = 15403.19;

/// Relative error.
fn rel(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

#[test]
fn closed_form_fit_matches_pytorch_in_f64() {
    let line = fit_line(&X, &Y).unwrap();
    // Both are least-squares solutions of a 3×2 system with condition number ~1e3,
    // computed in f64: they agree to ~1e3·ε ≈ 2e-13 relative, 1e-12 leaves margin.
    assert!(rel(line.w, TORCH_W) < 1e-12, "w = {}", line.w);
    assert!(rel(line.b, TORCH_B) < 1e-12, "b = {}", line.b);
    assert_eq!(format!("{:.2} {:.2}", line.w, line.b), "2.58 -91.76"); // the book's figures

    let mse = line.mse(&X, &Y).unwrap();
    // The MSE is flat at the optimum: parameter errors of 1e-12 change it by far less.
    assert!(rel(mse, TORCH_MSE) < 1e-12, "mse = {mse}");
}

#[test]
fn mse_at_the_books_rounded_parameters() {
    let rounded = LineFit { w: 2.58, b: -91.76 };
    let mse = rounded.mse(&X, &Y).unwrap();
    // By hand: residuals 95.24, −175.76, 79.04 → (9070.6576 + 30891.5776 + 6247.3216)/3.
    assert!((mse - 15403.1856).abs() < 1e-9, "mse = {mse}");
    assert_eq!(format!("{mse:.2}"), format!("{TORCH_MSE_AT_ROUNDED:.2}"));
    assert!(
        mse > fit_line(&X, &Y).unwrap().mse(&X, &Y).unwrap(),
        "the optimum is lower"
    );
}

#[test]
fn the_same_fit_through_the_matrix_api_and_in_f32() {
    let a = Matrix::from_rows(&[[150.0, 1.0], [200.0, 1.0], [260.0, 1.0]]).unwrap();
    let wb = a.lstsq(&Vector::from(Y)).unwrap();
    assert!(rel(wb[0], TORCH_W) < 1e-12 && rel(wb[1], TORCH_B) < 1e-12);
    let residual = &a.matvec(&wb).unwrap() - &Vector::from(Y);
    assert!(rel(residual.dot(&residual).unwrap() / 3.0, TORCH_MSE) < 1e-12);
    // The normal equations hold at the solution: Aᵀ r = 0 (up to rounding of r·A).
    let normal = a.transpose().matvec(&residual).unwrap();
    assert!(normal.iter().all(|v| v.abs() < 1e-9), "{normal}");

    // f32: the inputs are exact in f32 and the solve runs in f64, so the answer is
    // PyTorch's f64 answer rounded once to f32 (half an ulp).
    let x32 = X.map(|v| v as f32);
    let y32 = Y.map(|v| v as f32);
    let line = fit_line(&x32, &y32).unwrap();
    assert_eq!(line.w, TORCH_W as f32);
    assert_eq!(line.b, TORCH_B as f32);
    let mse = mean_squared_error(&x32.map(|x| line.predict(x)), &y32).unwrap();
    assert!(rel(f64::from(mse), TORCH_MSE) < 1e-6, "f32 mse = {mse}");
}
