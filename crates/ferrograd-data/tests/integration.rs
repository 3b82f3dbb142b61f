//! The integration tests of `ferrograd-data` as one test binary, one module per file. A
//! binary per file compiled the stack's generic code and linked it once per file
//! (for `ferrograd-lm`'s 19 files: 138 s, against 33 s as one binary).

mod book_generate;
mod csv;
mod loader;
mod number_props;
mod scaling_gradient_descent;
mod split_scale;
mod text;
mod text_lines;
