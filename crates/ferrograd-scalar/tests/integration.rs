//! The integration tests of `ferrograd-scalar` as one test binary, one module per file. A
//! binary per file compiled the stack's generic code and linked it once per file
//! (for `ferrograd-lm`'s 19 files: 138 s, against 33 s as one binary).

mod basic;
mod book;
mod dot;
mod gradcheck_prop;
mod nn;
mod pytorch_replay;
