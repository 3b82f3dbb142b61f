//! §1.6: matrices — sum, product, transpose, matrix-vector product, and the network of
//! Figure 1.1 (2 inputs, 3 units, 1 output) written as matrices (eq. 1.6–1.7):
//! `z = ReLU(W₁x + b₁)`, `ŷ = σ(w₂·z + b₂)`.
//!
//! The matrices are illustrative. The network's weights come from
//! [`ferrograd::scalar::nn::Mlp::figure_1_1`] (seed 1), whose unit-by-unit output is the
//! independent check of the matrix form.

use ferrograd::linalg::{Matrix, Vector};
use ferrograd::scalar::nn::{Activation, Mlp};
use serde::Serialize;

use crate::error::Result;

/// The illustrative 2×2 matrix `A`.
pub const A: [[f64; 2]; 2] = [[1.0, 2.0], [3.0, 4.0]];
/// The illustrative 2×2 matrix `B`.
pub const B: [[f64; 2]; 2] = [[5.0, 6.0], [7.0, 8.0]];
/// The illustrative 2×3 matrix `C` (for a non-square transpose and product).
pub const C: [[f64; 3]; 2] = [[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]];
/// The illustrative vector `x` multiplied by `A`.
pub const X: [f64; 2] = [1.0, -1.0];
/// The input to Figure 1.1's network: the book's first customer (age 22, income 25).
pub const NETWORK_INPUT: [f64; 2] = [22.0, 25.0];
/// The seed of Figure 1.1's network weights.
pub const NETWORK_SEED: u64 = 1;

/// §1.6's quantities (matrices as lists of rows).
#[derive(Debug, Clone, Serialize)]
pub struct Matrices {
    /// `A + B`.
    pub sum: Vec<Vec<f64>>,
    /// `A B`.
    pub product: Vec<Vec<f64>>,
    /// `Cᵀ` (3×2).
    pub transpose: Vec<Vec<f64>>,
    /// `A C` (2×3).
    pub product_rectangular: Vec<Vec<f64>>,
    /// `A x`.
    pub matrix_vector: Vec<f64>,
    /// Figure 1.1's first-layer weights `W₁` (3×2).
    pub w1: Vec<Vec<f64>>,
    /// Figure 1.1's first-layer biases `b₁`.
    pub b1: Vec<f64>,
    /// Figure 1.1's output weights `w₂`.
    pub w2: Vec<f64>,
    /// Figure 1.1's output bias `b₂`.
    pub b2: f64,
    /// `z = ReLU(W₁x + b₁)` for [`NETWORK_INPUT`].
    pub hidden: Vec<f64>,
    /// `ŷ = σ(w₂·z + b₂)`, computed with matrices.
    pub output: f64,
    /// The same output computed unit by unit by the scalar crate's network.
    pub output_unit_by_unit: f64,
}

fn rows(m: &Matrix<f64>) -> Vec<Vec<f64>> {
    m.rows().map(<[f64]>::to_vec).collect()
}

/// Computes §1.6's quantities with [`ferrograd::linalg::Matrix`].
pub fn matrices() -> Result<Matrices> {
    let a = Matrix::from_rows(&A)?;
    let b = Matrix::from_rows(&B)?;
    let c = Matrix::from_rows(&C)?;

    let net = Mlp::figure_1_1(Activation::Relu, NETWORK_SEED);
    let layers = net.layers();
    let w1_rows: Vec<Vec<f64>> = layers[0]
        .neurons()
        .iter()
        .map(|n| n.weights().to_vec())
        .collect();
    let w1 = Matrix::from_rows(&w1_rows)?;
    let b1 = Vector::from_iter(layers[0].neurons().iter().map(|n| n.bias()));
    let out = &layers[1].neurons()[0];
    let w2 = Vector::from_slice(out.weights());
    let x = Vector::from(NETWORK_INPUT);
    // eq. 1.6: the first layer as one matrix-vector product.
    let hidden = w1.matvec(&x)?.try_add(&b1)?.map(|z| z.max(0.0));
    // eq. 1.7: the output unit.
    let output = 1.0 / (1.0 + (-(w2.dot(&hidden)? + out.bias())).exp());

    Ok(Matrices {
        sum: rows(&a.try_add(&b)?),
        product: rows(&a.matmul(&b)?),
        transpose: rows(&c.transpose()),
        product_rectangular: rows(&a.matmul(&c)?),
        matrix_vector: a.matvec(&Vector::from(X))?.into_vec(),
        w1: w1_rows,
        b1: b1.into_vec(),
        w2: w2.into_vec(),
        b2: out.bias(),
        hidden: hidden.into_vec(),
        output,
        output_unit_by_unit: net.predict(&NETWORK_INPUT)[0],
    })
}
