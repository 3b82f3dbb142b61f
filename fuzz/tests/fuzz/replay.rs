//! Replays every seed and every regression input of every target (so that a bug once
//! found by fuzzing stays fixed), with the allocation caps armed, and checks that the
//! seed and regression folders belong to registered targets.

use ferrograd_fuzz::{
    Outcome, alloc, default_dirs, install_panic_hook, replay_inputs, run_one, targets,
};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The input being replayed, for the allocator's trip hook.
static CURRENT: Mutex<String> = Mutex::new(String::new());

fn name_the_input(trip: &alloc::Trip) {
    let label = CURRENT.lock().map(|l| l.clone()).unwrap_or_default();
    eprintln!("replaying {label}: {trip}");
}

#[test]
fn every_seed_and_regression_of_every_target_runs_clean() {
    install_panic_hook();
    alloc::set_trip_hook(name_the_input);
    let (seeds, regressions) = default_dirs();
    let mut failures = Vec::new();
    let mut replayed = 0;
    for target in targets::ALL {
        let inputs = replay_inputs(target, &seeds, &regressions).expect("folders are readable");
        for (label, data) in inputs {
            *CURRENT.lock().unwrap() = label.clone();
            let started = Instant::now();
            if let Outcome::Panicked(p) = run_one(target, &data) {
                failures.push(format!("{label}: {p}"));
            }
            // A regression can be a hang: it must run in well under the fuzzer's 10 s
            // timeout now (this is an optimised test build).
            let took = started.elapsed();
            if took > Duration::from_secs(5) {
                failures.push(format!("{label}: took {took:?}"));
            }
            replayed += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {replayed} inputs fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(replayed >= 3 * targets::ALL.len(), "only {replayed} inputs");
}

/// Seeds are only worth mutating if the loader accepts them; a seed that stopped loading
/// (a format change, a stale file) must be noticed.
#[test]
fn every_seed_is_accepted() {
    install_panic_hook();
    let (seeds, _) = default_dirs();
    for target in targets::ALL {
        let corpus = ferrograd_fuzz::corpus(target, &seeds).unwrap();
        assert!(!corpus.is_empty(), "{} has no seeds", target.name);
        for (i, data) in corpus.iter().enumerate() {
            assert_eq!(
                run_one(target, data),
                Outcome::Returned { accepted: true },
                "{} seed {i} ({} bytes) is not accepted",
                target.name,
                data.len()
            );
        }
    }
}

#[test]
fn folders_belong_to_registered_targets() {
    let names: Vec<&str> = targets::ALL.iter().map(|t| t.name).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        names.len(),
        "duplicate target names: {names:?}"
    );
    let (seeds, regressions) = default_dirs();
    for root in [seeds, regressions] {
        let Ok(entries) = std::fs::read_dir(&root) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() {
                assert!(
                    names.contains(&name.as_str()),
                    "{}/{name} belongs to no target (targets: {names:?})",
                    root.display()
                );
            }
        }
    }
}

#[test]
fn inputs_are_fixed_by_seed_and_execution() {
    let (seeds, _) = default_dirs();
    for target in targets::ALL {
        let corpus = ferrograd_fuzz::corpus(target, &seeds).unwrap();
        let first: Vec<Vec<u8>> = (0..300)
            .map(|e| ferrograd_fuzz::input_for(target, &corpus, 9, e))
            .collect();
        // In another order: every input depends on (seed, execution) alone.
        for e in (0..300).rev() {
            assert_eq!(
                ferrograd_fuzz::input_for(target, &corpus, 9, e),
                first[e as usize]
            );
        }
        // The corpus comes first, unchanged; then mutants, mostly new.
        assert_eq!(&first[..corpus.len()], &corpus[..]);
        let mutated = first[corpus.len()..]
            .iter()
            .filter(|d| !corpus.contains(d))
            .count();
        assert!(mutated > 250 - corpus.len(), "{}: {mutated}", target.name);
        assert!(first.iter().all(|d| d.len() <= target.max_len));
        let other: Vec<Vec<u8>> = (0..300)
            .map(|e| ferrograd_fuzz::input_for(target, &corpus, 10, e))
            .collect();
        assert_ne!(first, other, "{}: the seed changes nothing", target.name);
    }
}
