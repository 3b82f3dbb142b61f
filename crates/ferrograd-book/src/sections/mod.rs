//! One module per section of chapter 1, each with a function that computes the section's
//! numbers into a result struct and functions that draw its figures.

pub mod activations;
pub mod autograd;
pub mod linear_regression;
pub mod logistic;
pub mod matrices;
pub mod vectors;
