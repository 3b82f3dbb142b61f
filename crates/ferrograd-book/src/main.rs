//! Book examples.
fn main() {}
