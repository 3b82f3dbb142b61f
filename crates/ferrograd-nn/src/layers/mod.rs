//! Layers, one file per concept.

pub mod activation;
pub mod conv1d;
pub mod dropout;
pub mod embedding;
pub mod linear;
pub mod lora;
pub mod norm;
pub mod rnn;
pub mod sequential;
