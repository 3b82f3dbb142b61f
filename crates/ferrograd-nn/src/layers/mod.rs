//! Layers, one file per concept.

pub mod activation;
pub mod attention;
pub mod conv1d;
pub mod decoder;
pub mod dropout;
pub mod embedding;
pub mod kv_cache;
pub mod linear;
pub mod lora;
pub mod norm;
pub mod rnn;
pub mod rope;
pub mod sequential;
