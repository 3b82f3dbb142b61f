//! The fuzz targets. Each module exposes `pub fn run(data: &[u8])`, `pub fn seeds()` and
//! `pub const TARGET: Target`; the `targets!` line below declares the modules and lists
//! them in [`ALL`], so adding a target is one file here and one name on that line.

use crate::Target;

macro_rules! targets {
    ($($name:ident),* $(,)?) => {
        $(pub mod $name;)*
        /// Every target, in the order `cargo xtask fuzz` runs them.
        pub const ALL: &[Target] = &[$($name::TARGET),*];
    };
}

targets![safetensors, optim_state, csv, tokenize, checkpoint];

pub mod selftest;

/// The target named `name`: one of [`ALL`], or one of the engine's self-test targets
/// (`selftest-…`, used by the crate's own tests, never run by `cargo xtask fuzz`).
pub fn find(name: &str) -> Option<&'static Target> {
    ALL.iter().chain(selftest::ALL).find(|t| t.name == name)
}
