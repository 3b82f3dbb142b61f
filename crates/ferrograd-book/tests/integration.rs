//! The integration tests of `ferrograd-book` as one test binary, one module per file. A
//! binary per file compiled the stack's generic code and linked it once per file
//! (for `ferrograd-lm`'s 19 files: 138 s, against 33 s as one binary).

mod bad_input;
mod chapter2;
mod chapter3;
mod chapter4;
mod chapter5;
mod cli;
mod common;
mod figures;
mod numbers;
