//! Targets with planted bugs, to test the engine and its supervisor: a panic, an
//! allocation over the cap, a hang and a crash, each triggered by a seed (so the first
//! executions find it) and by nothing else.

use crate::Target;

fn plain_seed(trigger: &str) -> Vec<Vec<u8>> {
    vec![b"harmless".to_vec(), trigger.as_bytes().to_vec()]
}

/// Every self-test target.
pub const ALL: &[Target] = &[PANIC, ALLOC, HANG, CRASH];

const fn target(name: &'static str, run: fn(&[u8]), seeds: fn() -> Vec<Vec<u8>>) -> Target {
    Target {
        name,
        about: "a planted bug, for the engine's own tests",
        run,
        seeds,
        dictionary: &[],
        mutate: None,
        max_len: 64,
    }
}

/// Panics on inputs containing `boom`.
pub const PANIC: Target = target(
    "selftest-panic",
    |data| {
        if data.windows(4).any(|w| w == b"boom") {
            panic!("planted panic");
        }
    },
    || plain_seed("xxboomxx"),
);

/// Asks for 1 TiB on inputs starting with `alloc` (the length field a loader trusted).
pub const ALLOC: Target = target(
    "selftest-alloc",
    |data| {
        if data.starts_with(b"alloc") {
            let v: Vec<u8> = Vec::with_capacity(1 << 40);
            std::hint::black_box(v);
        }
    },
    || plain_seed("alloc"),
);

/// Sleeps for an hour on the input `hang`.
pub const HANG: Target = target(
    "selftest-hang",
    |data| {
        if data == b"hang" {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    },
    || plain_seed("hang"),
);

/// Aborts the process on the input `crash` (as a stack overflow would).
pub const CRASH: Target = target(
    "selftest-crash",
    |data| {
        if data == b"crash" {
            std::process::abort();
        }
    },
    || plain_seed("crash"),
);
