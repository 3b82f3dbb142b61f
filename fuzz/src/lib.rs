//! # ferrograd-fuzz
//!
//! Bounded, deterministic, in-process fuzzing of ferrograd's loaders and parsers on
//! stable Rust, with nothing but the standard library (and serde_json to mutate
//! safetensors headers).
//!
//! - A [`Target`] is a function `run(&[u8])` that feeds the bytes to a loader and checks
//!   what comes back (a panic is a finding: the loader's, or a failed property check),
//!   plus built-in seeds, seed files under `fuzz/seeds/<target>/`, a dictionary of tokens
//!   and, optionally, a structure-aware mutation. The registry is
//!   [`targets::ALL`]: adding a target is one file in `src/targets/` and one name in the
//!   `targets!` line of `src/targets/mod.rs`.
//! - Execution `i` of a run seeded with `s` feeds [`input_for`]`(s, i)`: the corpus
//!   entries first, unchanged, then corpus entries with 1–8 stacked mutations (bit flips,
//!   byte sets, truncations, insertions, duplicated chunks, huge length fields, number and
//!   token replacements, splices between entries, the target's own mutation). Inputs
//!   depend on nothing else, so any input is reproduced from `(s, i)`.
//! - Each run is wrapped in `catch_unwind`, and allocations are checked against caps by
//!   the crate's global allocator ([`alloc`]); a panic is minimized and saved under
//!   `fuzz/regressions/<target>/`; a request over a cap, a hang or a crash kills the
//!   worker process, and the supervisor in the binary saves the input.
//! - `cargo test -p ferrograd-fuzz` replays every seed and every regression of every
//!   target, so a bug once found stays fixed.
//!
//! There is no coverage feedback (that needs instrumented builds, i.e. other compiler
//! flags and a second build of every dependency); the mutations are structure-aware
//! instead, and a report states how many inputs each target accepted.

pub mod alloc;
pub mod formats;
pub mod mutate;
pub mod targets;

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use mutate::Rng;

#[global_allocator]
static ALLOCATOR: alloc::CapAllocator = alloc::CapAllocator;

/// A fuzz target: a loader or parser fed arbitrary bytes.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Its name on the command line, and the name of its seed and regression folders.
    pub name: &'static str,
    /// One line on what it exercises.
    pub about: &'static str,
    /// Feeds the bytes to the code under test; panics on a finding.
    pub run: fn(&[u8]),
    /// Seeds built at run time (files written by the library itself, say).
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Tokens of the input format, inserted and swapped by the mutations.
    pub dictionary: &'static [&'static [u8]],
    /// A structure-aware mutation, used for about a third of the mutation steps.
    pub mutate: Option<fn(&mut Vec<u8>, &mut Rng)>,
    /// The largest input generated.
    pub max_len: usize,
}

thread_local! {
    static ACCEPTED: Cell<bool> = const { Cell::new(false) };
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<Panic>> = const { RefCell::new(None) };
}

/// Called by a target when its input got past the loader's checks; the report counts
/// these, which shows whether mutations reach the code behind the first checks.
pub fn accepted() {
    ACCEPTED.with(|a| a.set(true));
}

/// A panic caught while running a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panic {
    /// The panic message.
    pub message: String,
    /// `file:line:column` of the panic: what tells two bugs apart.
    pub location: String,
}

impl std::fmt::Display for Panic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "panicked at {}: {}", self.location, self.message)
    }
}

/// Installs (once) a panic hook that records panics inside [`run_one`] silently and
/// leaves every other panic to the previous hook.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CAPTURING.with(Cell::get) {
                previous(info);
                return;
            }
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(a panic without a message)".to_owned());
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(Panic { message, location }));
        }));
    });
}

/// What one run of a target did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Returned; `accepted` when the target called [`accepted`].
    Returned {
        /// Whether the input got past the loader's checks.
        accepted: bool,
    },
    /// Panicked.
    Panicked(Panic),
}

/// Runs started so far, and whether one is in progress: the worker's watchdog reads
/// both to tell a hang from a slow run.
pub static RUNS: AtomicU64 = AtomicU64::new(0);
/// See [`RUNS`].
pub static IN_RUN: AtomicBool = AtomicBool::new(false);

/// Runs a target once on `data`, with the allocation caps armed and panics caught.
/// Call [`install_panic_hook`] first to keep caught panics quiet.
pub fn run_one(target: &Target, data: &[u8]) -> Outcome {
    RUNS.fetch_add(1, Ordering::Relaxed);
    IN_RUN.store(true, Ordering::Relaxed);
    ACCEPTED.with(|a| a.set(false));
    LAST_PANIC.with(|p| p.borrow_mut().take());
    CAPTURING.with(|c| c.set(true));
    let result = {
        let _armed = alloc::Armed::new();
        catch_unwind(AssertUnwindSafe(|| (target.run)(data)))
    };
    CAPTURING.with(|c| c.set(false));
    IN_RUN.store(false, Ordering::Relaxed);
    match result {
        Ok(()) => Outcome::Returned {
            accepted: ACCEPTED.with(Cell::get),
        },
        Err(_) => Outcome::Panicked(LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or(Panic {
            message: "(panic not recorded: install_panic_hook was not called)".into(),
            location: String::new(),
        })),
    }
}

/// The folder of seed files of `target` under `root` (normally `fuzz/seeds`).
pub fn seed_dir(root: &Path, target: &Target) -> PathBuf {
    root.join(target.name)
}

/// `fuzz/seeds` and `fuzz/regressions` of this crate's source tree.
pub fn default_dirs() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    (root.join("seeds"), root.join("regressions"))
}

/// The regular files of `dir`, sorted by name (none when it does not exist).
///
/// # Errors
/// When the folder exists but cannot be read.
pub fn files_in(dir: &Path) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_file() && !hidden {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| std::fs::read(&p).map(|bytes| (p, bytes)))
        .collect()
}

/// The corpus mutations start from: the built-in seeds, then the seed files, in a fixed
/// order (so that inputs are reproducible).
///
/// # Errors
/// When the seed folder cannot be read.
pub fn corpus(target: &Target, seeds_root: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut corpus = (target.seeds)();
    corpus.extend(
        files_in(&seed_dir(seeds_root, target))?
            .into_iter()
            .map(|(_, b)| b),
    );
    corpus.retain(|c| c.len() <= target.max_len);
    Ok(corpus)
}

/// The input of execution `exec` of a run seeded with `seed`: corpus entry `exec` as it
/// is for the first executions, then a corpus entry with 1–8 stacked mutations.
pub fn input_for(target: &Target, corpus: &[Vec<u8>], seed: u64, exec: u64) -> Vec<u8> {
    if let Some(entry) = usize::try_from(exec).ok().and_then(|i| corpus.get(i)) {
        return entry.clone();
    }
    let mut rng = Rng::for_exec(seed, exec);
    let mut data = if corpus.is_empty() {
        Vec::new()
    } else {
        rng.pick(corpus).clone()
    };
    let cx = mutate::Context {
        corpus,
        dictionary: target.dictionary,
        max_len: target.max_len,
    };
    let steps = 1 << rng.below(4);
    for _ in 0..steps {
        match target.mutate {
            Some(custom) if rng.one_in(3) => {
                custom(&mut data, &mut rng);
                data.truncate(target.max_len);
            }
            _ => mutate::mutate_once(&mut data, &mut rng, &cx),
        }
    }
    data
}

/// 64-bit FNV-1a: names a regression file by its content.
pub fn content_hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Writes `data` to `<dir>/<target>/<kind>-<hash>` (nothing when it is there already)
/// and returns the path.
///
/// # Errors
/// When the folder or the file cannot be written.
pub fn save_regression(
    dir: &Path,
    target: &Target,
    kind: &str,
    data: &[u8],
) -> std::io::Result<PathBuf> {
    let folder = dir.join(target.name);
    std::fs::create_dir_all(&folder)?;
    let path = folder.join(format!("{kind}-{:016x}", content_hash(data)));
    if !path.exists() {
        let temporary = folder.join(format!(".{kind}-{}.tmp", std::process::id()));
        std::fs::write(&temporary, data)?;
        std::fs::rename(&temporary, &path)?;
    }
    Ok(path)
}

/// Shrinks an input that panics at `location` while it still panics there: removes
/// chunks of halving sizes, for at most `budget` runs.
pub fn minimize(target: &Target, data: &[u8], location: &str, budget: usize) -> Vec<u8> {
    let mut best = data.to_vec();
    let mut runs = 0;
    let mut chunk = best.len().div_ceil(2).max(1);
    loop {
        let mut i = 0;
        while i < best.len() && runs < budget {
            let mut candidate = best.clone();
            candidate.drain(i..(i + chunk).min(best.len()));
            runs += 1;
            match run_one(target, &candidate) {
                Outcome::Panicked(p) if p.location == location => best = candidate,
                _ => i += chunk,
            }
        }
        if chunk == 1 || runs >= budget {
            return best;
        }
        chunk = chunk.div_ceil(2);
    }
}

/// Settings of a fuzzing run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The seed that, with the execution number, fixes every input.
    pub seed: u64,
    /// The first execution number.
    pub start: u64,
    /// Stop when this much time has passed…
    pub duration: Duration,
    /// …or after this execution number (exclusive).
    pub end: u64,
    /// Where panicking inputs are saved (`None`: not saved).
    pub regressions: Option<PathBuf>,
    /// Runs spent shrinking each new panicking input.
    pub minimize_budget: usize,
}

/// A new panic found during a run.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The execution that found it.
    pub exec: u64,
    /// The panic.
    pub panic: Panic,
    /// Where the (minimized) input was saved.
    pub saved: Option<PathBuf>,
    /// Length of the input before and after minimizing.
    pub len: (usize, usize),
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Executions run.
    pub execs: u64,
    /// Executions whose input the target accepted.
    pub accepted: u64,
    /// Wall time spent.
    pub elapsed: Duration,
    /// New panics, one per panic location.
    pub findings: Vec<Finding>,
    /// The slowest execution and its time.
    pub slowest: (u64, Duration),
    /// The largest single allocation request made while a target ran.
    pub largest_request: usize,
    /// The peak of live bytes while armed.
    pub peak_live: usize,
}

/// The execution in progress, for the supervisor's crash records.
pub static CURRENT_EXEC: AtomicU64 = AtomicU64::new(u64::MAX);

/// Fuzzes `target` in this process: executions `config.start..config.end` until the
/// time is up, calling `on_finding` for each new panic location.
pub fn fuzz(
    target: &Target,
    corpus: &[Vec<u8>],
    config: &Config,
    mut on_finding: impl FnMut(&Finding),
) -> Report {
    install_panic_hook();
    let started = Instant::now();
    let mut report = Report::default();
    let mut seen: Vec<String> = Vec::new();
    alloc::take_high_water();
    let mut exec = config.start;
    while exec < config.end && started.elapsed() < config.duration {
        let data = input_for(target, corpus, config.seed, exec);
        CURRENT_EXEC.store(exec, Ordering::Relaxed);
        let t0 = Instant::now();
        let outcome = run_one(target, &data);
        let took = t0.elapsed();
        if took > report.slowest.1 {
            report.slowest = (exec, took);
        }
        report.execs += 1;
        match outcome {
            Outcome::Returned { accepted } => report.accepted += u64::from(accepted),
            Outcome::Panicked(panic) => {
                if !seen.contains(&panic.location) {
                    seen.push(panic.location.clone());
                    let small = minimize(target, &data, &panic.location, config.minimize_budget);
                    let saved = config
                        .regressions
                        .as_ref()
                        .and_then(|dir| save_regression(dir, target, "panic", &small).ok());
                    let finding = Finding {
                        exec,
                        panic,
                        saved,
                        len: (data.len(), small.len()),
                    };
                    on_finding(&finding);
                    report.findings.push(finding);
                }
            }
        }
        exec += 1;
    }
    CURRENT_EXEC.store(u64::MAX, Ordering::Relaxed);
    report.elapsed = started.elapsed();
    (report.largest_request, report.peak_live) = alloc::take_high_water();
    report
}

/// Every input the replay test runs for `target`: built-in seeds, seed files and
/// regression files, labelled.
///
/// # Errors
/// When a folder cannot be read.
pub fn replay_inputs(
    target: &Target,
    seeds_root: &Path,
    regressions_root: &Path,
) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut inputs: Vec<(String, Vec<u8>)> = (target.seeds)()
        .into_iter()
        .enumerate()
        .map(|(i, s)| (format!("{} built-in seed {i}", target.name), s))
        .collect();
    for dir in [
        seed_dir(seeds_root, target),
        regressions_root.join(target.name),
    ] {
        for (path, bytes) in files_in(&dir)? {
            inputs.push((path.display().to_string(), bytes));
        }
    }
    Ok(inputs)
}
