//! `ferrograd-fuzz`: runs the fuzz targets for a bounded time (see the library docs).
//!
//! ```text
//! ferrograd-fuzz [TARGET...] [--seconds N] [--seed S] [--max-alloc-mb M] [--max-live-mb M]
//!                [--timeout S] [--seeds DIR] [--regressions DIR]
//! ferrograd-fuzz --list
//! ferrograd-fuzz --replay TARGET FILE...
//! ferrograd-fuzz --write-input TARGET SEED EXECUTION FILE
//! ```
//!
//! Each target runs in a worker process (this program, with `--worker`) supervised by
//! this one: panics are caught in the worker, which saves the minimized input and goes
//! on; an allocation over a cap, a run longer than `--timeout` or a crash ends the worker,
//! and the supervisor regenerates the input from the seed and the execution number
//! recorded (or, after a crash without a record, by replaying the worker with tracing),
//! saves it, and starts a new worker at the next execution.

use ferrograd_fuzz::{Config, Finding, Target, alloc, targets};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: ferrograd-fuzz [TARGET...] [--seconds N] [--seed S] \
[--max-alloc-mb M] [--max-live-mb M] [--timeout S] [--seeds DIR] [--regressions DIR]
       ferrograd-fuzz --list
       ferrograd-fuzz --replay TARGET FILE...
       ferrograd-fuzz --write-input TARGET SEED EXECUTION FILE";

#[derive(Debug, Clone)]
struct Options {
    targets: Vec<&'static Target>,
    seconds: f64,
    seed: u64,
    request_cap: usize,
    live_cap: usize,
    timeout: f64,
    seeds: PathBuf,
    regressions: PathBuf,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--worker") => worker(&args[1..]),
        Some("--list") => {
            for t in targets::ALL {
                println!("{:<12} {}", t.name, t.about);
            }
            Ok(true)
        }
        Some("--replay") => replay(&args[1..]),
        Some("--write-input") => write_input(&args[1..]),
        Some("--help" | "-h") => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => parse(&args).and_then(|o| supervise_all(&o)),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("ferrograd-fuzz: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn value<'a>(args: &'a [String], i: &mut usize, flag: &str) -> Result<&'a str, String> {
    *i += 1;
    args.get(*i)
        .map(String::as_str)
        .ok_or_else(|| format!("{flag} needs a value"))
}

fn number<T: std::str::FromStr>(text: &str, flag: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag}: {text:?} is not a valid number"))
}

fn target(name: &str) -> Result<&'static Target, String> {
    targets::find(name).ok_or_else(|| {
        let names: Vec<&str> = targets::ALL.iter().map(|t| t.name).collect();
        format!("no target named {name:?} (targets: {})", names.join(", "))
    })
}

fn parse(args: &[String]) -> Result<Options, String> {
    let (seeds, regressions) = ferrograd_fuzz::default_dirs();
    let mut o = Options {
        targets: Vec::new(),
        seconds: 10.0,
        seed: 1,
        request_cap: 64 << 20,
        live_cap: 1 << 30,
        timeout: 10.0,
        seeds,
        regressions,
    };
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        match flag {
            "--seconds" => o.seconds = number(value(args, &mut i, flag)?, flag)?,
            "--seed" => o.seed = number(value(args, &mut i, flag)?, flag)?,
            "--max-alloc-mb" => {
                o.request_cap = number::<usize>(value(args, &mut i, flag)?, flag)? << 20
            }
            "--max-live-mb" => {
                o.live_cap = number::<usize>(value(args, &mut i, flag)?, flag)? << 20
            }
            "--timeout" => o.timeout = number(value(args, &mut i, flag)?, flag)?,
            "--seeds" => o.seeds = value(args, &mut i, flag)?.into(),
            "--regressions" => o.regressions = value(args, &mut i, flag)?.into(),
            _ if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            name => o.targets.push(target(name)?),
        }
        i += 1;
    }
    if !(o.seconds.is_finite() && o.seconds > 0.0) {
        return Err("--seconds must be a positive number".into());
    }
    if !(o.timeout.is_finite() && o.timeout > 0.0) {
        return Err("--timeout must be a positive number".into());
    }
    if o.targets.is_empty() {
        o.targets = targets::ALL.iter().collect();
    }
    Ok(o)
}

/// Runs every chosen target in turn; true when none had a finding.
fn supervise_all(o: &Options) -> Result<bool, String> {
    let mut clean = true;
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    eprintln!(
        "ferrograd-fuzz: seed {}, {} s per target, caps {} MiB per request / {} MiB live, on {cpu}",
        o.seed,
        o.seconds,
        o.request_cap >> 20,
        o.live_cap >> 20
    );
    for t in &o.targets {
        clean &= supervise(t, o)?;
    }
    Ok(clean)
}

/// Totals of one target's run over all its workers.
#[derive(Debug, Default)]
struct Totals {
    execs: u64,
    accepted: u64,
    findings: usize,
    slowest: (u64, u64),
    largest: usize,
    peak: usize,
}

fn supervise(t: &'static Target, o: &Options) -> Result<bool, String> {
    let corpus = ferrograd_fuzz::corpus(t, &o.seeds)
        .map_err(|e| format!("{}: cannot read the seeds: {e}", t.name))?;
    let crash_file = std::env::temp_dir().join(format!(
        "ferrograd-fuzz-{}-{}.record",
        t.name,
        std::process::id()
    ));
    let started = Instant::now();
    let budget = Duration::from_secs_f64(o.seconds);
    let mut totals = Totals::default();
    let mut start = 0u64;
    // Set after a worker died without a record: the next worker replays the same
    // executions, writing each one's number down before running it.
    let mut died: Option<String> = None;
    while let Some(left) = budget.checked_sub(started.elapsed()) {
        if left.is_zero() {
            break;
        }
        let _ = std::fs::remove_file(&crash_file);
        let trace = died.is_some();
        let run = spawn_worker(t, o, start, left, &crash_file, trace)?;
        if let (Some(done), false) = (&run.done, trace) {
            totals.execs += done.execs;
            totals.accepted += done.accepted;
            if done.slowest.1 > totals.slowest.1 {
                totals.slowest = done.slowest;
            }
            totals.largest = totals.largest.max(done.largest);
            totals.peak = totals.peak.max(done.peak);
        }
        totals.findings += run.findings;
        if run.status_ok {
            if let Some(status) = died {
                eprintln!(
                    "  FINDING {}: a worker died ({status}) at execution {start} or later \
                     (seed {}), and replaying with tracing did not reproduce it",
                    t.name, o.seed
                );
                totals.findings += 1;
            }
            break;
        }
        // The worker died: find the execution and save its input.
        let record = std::fs::read_to_string(&crash_file).ok();
        let Some((kind, exec, message)) = record.as_deref().and_then(parse_record) else {
            if trace {
                eprintln!(
                    "  FINDING {}: a worker died ({}) at execution {start} or later (seed {}) \
                     and its replay died too without a record; stderr:\n{}",
                    t.name, run.status, o.seed, run.stderr_tail
                );
                totals.findings += 1;
                break;
            }
            died = Some(run.status.clone());
            continue;
        };
        let kind = if kind == "trace" { "crash" } else { kind };
        died = None;
        let input = ferrograd_fuzz::input_for(t, &corpus, o.seed, exec);
        let saved = ferrograd_fuzz::save_regression(&o.regressions, t, kind, &input)
            .map_err(|e| format!("cannot save a regression: {e}"))?;
        let message = if kind == "crash" {
            format!(
                "the worker died ({}): {}",
                run.status,
                run.stderr_tail.trim()
            )
        } else {
            message.to_owned()
        };
        eprintln!(
            "  FINDING {} {kind} at execution {exec}: {message}\n    input: {} ({} bytes)",
            t.name,
            saved.display(),
            input.len()
        );
        totals.findings += 1;
        if !trace {
            totals.execs += exec + 1 - start;
        }
        start = exec + 1;
    }
    let _ = std::fs::remove_file(&crash_file);
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "fuzz {:<12} {:>9} execs in {secs:.1} s ({:.0}/s), {:.0}% accepted, slowest {:.2} ms \
         (execution {}), largest request {} KiB, {} finding(s)",
        t.name,
        totals.execs,
        totals.execs as f64 / secs,
        100.0 * totals.accepted as f64 / totals.execs.max(1) as f64,
        totals.slowest.1 as f64 / 1000.0,
        totals.slowest.0,
        totals.largest.div_ceil(1024),
        totals.findings
    );
    Ok(totals.findings == 0)
}

fn parse_record(text: &str) -> Option<(&str, u64, &str)> {
    let mut lines = text.splitn(3, '\n');
    let kind = lines.next()?;
    let exec = lines.next()?.parse().ok()?;
    Some((kind, exec, lines.next().unwrap_or("").trim()))
}

#[derive(Debug, Default)]
struct Done {
    execs: u64,
    accepted: u64,
    slowest: (u64, u64),
    largest: usize,
    peak: usize,
}

#[derive(Debug)]
struct WorkerRun {
    done: Option<Done>,
    findings: usize,
    status_ok: bool,
    status: String,
    stderr_tail: String,
}

fn spawn_worker(
    t: &Target,
    o: &Options,
    start: u64,
    left: Duration,
    crash_file: &Path,
    trace: bool,
) -> Result<WorkerRun, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut command = Command::new(exe);
    command.args([
        "--worker",
        t.name,
        &o.seed.to_string(),
        &start.to_string(),
        &left.as_millis().max(1).to_string(),
        &o.request_cap.to_string(),
        &o.live_cap.to_string(),
        &o.timeout.to_string(),
        if trace { "trace" } else { "fuzz" },
    ]);
    command
        .arg(crash_file)
        .arg(&o.seeds)
        .arg(&o.regressions)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start a worker: {e}"))?;
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut run = WorkerRun {
        done: None,
        findings: 0,
        status_ok: false,
        status: String::new(),
        stderr_tail: String::new(),
    };
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["finding", exec, before, after, saved, location, message] => {
                run.findings += 1;
                eprintln!(
                    "  FINDING {} panic at execution {exec}: panicked at {location}: {message}\n    \
                     input: {saved} (minimized from {before} to {after} bytes)",
                    t.name
                );
            }
            [
                "done",
                execs,
                accepted,
                slowest_exec,
                slowest_us,
                largest,
                peak,
            ] => {
                run.done = Some(Done {
                    execs: execs.parse().unwrap_or(0),
                    accepted: accepted.parse().unwrap_or(0),
                    slowest: (
                        slowest_exec.parse().unwrap_or(0),
                        slowest_us.parse().unwrap_or(0),
                    ),
                    largest: largest.parse().unwrap_or(0),
                    peak: peak.parse().unwrap_or(0),
                });
            }
            _ => {}
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for a worker: {e}"))?;
    let stderr = stderr_reader.join().unwrap_or_default();
    let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
    run.stderr_tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
    run.status_ok = status.success();
    run.status = status.to_string();
    Ok(run)
}

/// The crash-record file of this worker, for the allocator hook and the watchdog.
static RECORD: OnceLock<PathBuf> = OnceLock::new();

fn write_record(kind: &str, exec: u64, message: &str) {
    if let Some(path) = RECORD.get() {
        let _ = std::fs::write(path, format!("{kind}\n{exec}\n{message}\n"));
    }
}

fn record_trip(trip: &alloc::Trip) {
    let exec = ferrograd_fuzz::CURRENT_EXEC.load(Ordering::Relaxed);
    write_record("alloc", exec, &trip.to_string());
}

/// `--worker TARGET SEED START MILLIS REQUEST_CAP LIVE_CAP TIMEOUT MODE RECORD SEEDS REGRESSIONS`
fn worker(args: &[String]) -> Result<bool, String> {
    let [
        name,
        seed,
        start,
        millis,
        request,
        live,
        timeout,
        mode,
        record,
        seeds,
        regressions,
    ] = args
    else {
        return Err("--worker: wrong arguments (internal use)".into());
    };
    let t = target(name)?;
    let seed: u64 = number(seed, "seed")?;
    let start: u64 = number(start, "start")?;
    let millis: u64 = number(millis, "millis")?;
    let timeout = Duration::from_secs_f64(number(timeout, "timeout")?);
    alloc::set_caps(number(request, "cap")?, number(live, "cap")?);
    let _ = RECORD.set(PathBuf::from(record));
    alloc::set_trip_hook(record_trip);
    spawn_watchdog(timeout);
    let corpus = ferrograd_fuzz::corpus(t, Path::new(seeds))
        .map_err(|e| format!("cannot read the seeds: {e}"))?;
    let duration = Duration::from_millis(millis);
    if mode == "trace" {
        ferrograd_fuzz::install_panic_hook();
        let started = Instant::now();
        let mut exec = start;
        while started.elapsed() < duration {
            write_record("trace", exec, "the worker died during this execution");
            let data = ferrograd_fuzz::input_for(t, &corpus, seed, exec);
            ferrograd_fuzz::CURRENT_EXEC.store(exec, Ordering::Relaxed);
            let _ = ferrograd_fuzz::run_one(t, &data);
            exec += 1;
        }
        if let Some(path) = RECORD.get() {
            let _ = std::fs::remove_file(path);
        }
        println!("done\t{}\t0\t0\t0\t0\t0", exec - start);
        return Ok(true);
    }
    let config = Config {
        seed,
        start,
        duration,
        end: u64::MAX,
        regressions: Some(PathBuf::from(regressions)),
        minimize_budget: 2000,
    };
    let report = ferrograd_fuzz::fuzz(t, &corpus, &config, |f: &Finding| {
        let clean = |s: &str| s.replace(['\t', '\n'], " ");
        println!(
            "finding\t{}\t{}\t{}\t{}\t{}\t{}",
            f.exec,
            f.len.0,
            f.len.1,
            f.saved
                .as_ref()
                .map_or_else(|| "(not saved)".into(), |p| p.display().to_string()),
            clean(&f.panic.location),
            clean(&f.panic.message)
        );
    });
    println!(
        "done\t{}\t{}\t{}\t{}\t{}\t{}",
        report.execs,
        report.accepted,
        report.slowest.0,
        report.slowest.1.as_micros(),
        report.largest_request,
        report.peak_live
    );
    Ok(true)
}

/// Ends the worker when one run of the target takes longer than `timeout`.
fn spawn_watchdog(timeout: Duration) {
    std::thread::spawn(move || {
        let mut last = (u64::MAX, Instant::now());
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let runs = ferrograd_fuzz::RUNS.load(Ordering::Relaxed);
            let exec = ferrograd_fuzz::CURRENT_EXEC.load(Ordering::Relaxed);
            let busy = ferrograd_fuzz::IN_RUN.load(Ordering::Relaxed);
            if !busy || runs != last.0 {
                last = (runs, Instant::now());
            } else if last.1.elapsed() > timeout {
                let message = format!("one run took more than {} s", timeout.as_secs_f64());
                write_record("hang", exec, &message);
                eprintln!("ferrograd-fuzz: execution {exec}: {message}; aborting");
                std::process::abort();
            }
        }
    });
}

/// `--replay TARGET FILE...`: runs the target on each file in this process, with the
/// caps armed and panics not caught, so that a failure prints its own message and
/// backtrace.
fn replay(args: &[String]) -> Result<bool, String> {
    let [name, files @ ..] = args else {
        return Err("--replay needs a target and files".into());
    };
    let t = target(name)?;
    for file in files {
        let data = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
        eprintln!("replaying {file} ({} bytes)", data.len());
        let _armed = alloc::Armed::new();
        (t.run)(&data);
    }
    eprintln!("all {} input(s) ran without a finding", files.len());
    Ok(true)
}

/// `--write-input TARGET SEED EXECUTION FILE`: writes the input of one execution (the
/// slowest one of a report, say) to a file, from the default seed folder.
fn write_input(args: &[String]) -> Result<bool, String> {
    let [name, seed, exec, file] = args else {
        return Err("--write-input needs a target, a seed, an execution and a file".into());
    };
    let t = target(name)?;
    let (seeds, _) = ferrograd_fuzz::default_dirs();
    let corpus = ferrograd_fuzz::corpus(t, &seeds).map_err(|e| format!("seeds: {e}"))?;
    let data = ferrograd_fuzz::input_for(
        t,
        &corpus,
        number(seed, "seed")?,
        number(exec, "execution")?,
    );
    std::fs::write(file, &data).map_err(|e| format!("{file}: {e}"))?;
    eprintln!("wrote {} bytes to {file}", data.len());
    Ok(true)
}
