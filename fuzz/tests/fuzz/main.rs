//! The fuzz crate's tests, in one test binary (each links all of ferrograd, so one link
//! instead of two saves CI time).

mod engine;
mod replay;
