//! A small pool of spinning worker threads for the kernels' parallel loops.
//!
//! A training step runs hundreds of short kernels back to back. Waking a sleeping thread
//! costs tens of microseconds on the virtual machines we measure on, and rayon's
//! `join` from outside its pool wakes two (one to take the job, one to steal half of it)
//! while the calling thread waits idle; measured here, that made a 784-256-256-10 MLP
//! step *slower* at two threads than at one. This pool does what OpenMP runtimes (and so
//! PyTorch) do instead: the calling thread takes part in the work, and after a job the
//! workers spin for [`SPIN`] before sleeping, so the next kernel of the step finds them
//! awake.
//!
//! Tasks are handed out from both ends of one shared range: the caller takes them from
//! the front, the workers from the back. A worker that wakes late costs nothing (the
//! caller simply runs the remaining tasks itself, and a job is never slower than running
//! its tasks in a loop by more than the handshake, well under a microsecond), and with
//! two threads running, the caller gets the first part of every job and the worker the
//! last (with more workers, which of them takes which of the back tasks is a race).
//! Kernels cut their output in order (rows, chunks, a product's row blocks), so the data
//! one kernel writes on a core is mostly what the next kernel reads on the same core;
//! with a shared counter the pieces went to whichever thread came first, and on a VM
//! whose two vCPUs sit on different dies every such piece crossed between them.
//! One job runs at a time; a call made while another is running (from another thread,
//! or from inside a task) runs its tasks on the calling thread.
//!
//! ```
//! use ferrograd_linalg::cpu::pool;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! let total = AtomicUsize::new(0);
//! pool::run(8, &|task| {
//!     total.fetch_add(task, Ordering::Relaxed);
//! });
//! assert_eq!(total.into_inner(), 28); // 0 + 1 + … + 7, each task exactly once
//! ```

use crate::cpu::threads::{available_cores, num_threads};
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long an idle worker spins, waiting for the next job, before it sleeps.
pub const SPIN: Duration = Duration::from_millis(5);

/// One job: calls of `body`, one per task, handed out from the two ends of `unclaimed`.
struct Job<'a> {
    body: &'a (dyn Fn(usize) + Sync),
    /// The tasks not yet taken, `front..back`, packed as `front | back << 32` so that
    /// one compare-and-swap claims a task from either end.
    unclaimed: AtomicU64,
    done: AtomicUsize,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Job<'_> {
    /// Runs every task on the calling thread, then re-raises the first panic, if any.
    fn run_here(self) {
        self.work(End::Front);
        if let Some(payload) = self.panic.into_inner().unwrap_or_else(|e| e.into_inner()) {
            resume_unwind(payload);
        }
    }

    /// Claims the next task from `end`, or `None` when every task is taken.
    fn claim(&self, end: End) -> Option<usize> {
        let mut current = self.unclaimed.load(SeqCst);
        loop {
            let (front, back) = (current & u64::from(u32::MAX), current >> 32);
            if front >= back {
                return None;
            }
            let (task, next) = match end {
                End::Front => (front, current + 1),
                End::Back => (back - 1, current - (1 << 32)),
            };
            match self
                .unclaimed
                .compare_exchange_weak(current, next, SeqCst, SeqCst)
            {
                // Lossless: `task < back <= u32::MAX`.
                Ok(_) => return Some(task as usize),
                Err(seen) => current = seen,
            }
        }
    }

    /// Runs tasks taken from `end` until none are left; a panic is kept for the caller
    /// to re-raise.
    fn work(&self, end: End) {
        while let Some(task) = self.claim(end) {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| (self.body)(task))) {
                let mut slot = self.panic.lock().unwrap_or_else(|e| e.into_inner());
                slot.get_or_insert(payload);
            }
            self.done.fetch_add(1, SeqCst);
        }
    }
}

/// Which end of a job's tasks a thread takes from: the caller the front, workers the back.
#[derive(Clone, Copy)]
enum End {
    Front,
    Back,
}

struct Shared {
    /// The running job (a `Job` on the caller's stack), or null.
    job: AtomicPtr<Job<'static>>,
    /// Bumped for every job, so a worker serves each job once.
    epoch: AtomicU64,
    /// Workers currently inside a job; the caller waits for zero before returning.
    active: AtomicUsize,
    /// Taken by the caller of the running job.
    busy: AtomicBool,
    workers: Vec<Worker>,
}

struct Worker {
    sleeping: AtomicBool,
    thread: OnceLock<Thread>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<&'static Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let count = available_cores().saturating_sub(1).min(63);
        let shared: &'static Shared = Box::leak(Box::new(Shared {
            job: AtomicPtr::new(ptr::null_mut()),
            epoch: AtomicU64::new(0),
            active: AtomicUsize::new(0),
            busy: AtomicBool::new(false),
            workers: (0..count)
                .map(|_| Worker {
                    sleeping: AtomicBool::new(false),
                    thread: OnceLock::new(),
                })
                .collect(),
        }));
        for index in 0..count {
            let spawned = std::thread::Builder::new()
                .name(format!("ferrograd-worker-{index}"))
                .spawn(move || worker_loop(shared, index));
            if let Ok(handle) = spawned {
                let _ = shared.workers[index].thread.set(handle.thread().clone());
            }
        }
        shared
    })
}

fn worker_loop(shared: &'static Shared, index: usize) {
    let me = &shared.workers[index];
    let mut served = 0u64;
    loop {
        // Wait for a job this worker has not served: spin, then sleep.
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            if shared.epoch.load(SeqCst) != served && !shared.job.load(SeqCst).is_null() {
                break;
            }
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(64) {
                std::hint::spin_loop();
                continue;
            }
            if start.elapsed() < SPIN {
                // Let any other runnable thread on this core go first (a no-op when the
                // core is otherwise idle, as in a training step on a dedicated machine).
                std::thread::yield_now();
                continue;
            }
            me.sleeping.store(true, SeqCst);
            // Re-check after announcing sleep: a job published before the flag was seen
            // would otherwise wait for a wake-up that never comes.
            if shared.epoch.load(SeqCst) == served || shared.job.load(SeqCst).is_null() {
                std::thread::park();
            }
            me.sleeping.store(false, SeqCst);
        }
        // Only `num_threads() - 1` workers take part, however many exist.
        if index >= num_threads().saturating_sub(1) {
            served = shared.epoch.load(SeqCst);
            continue;
        }
        // Enter first, then read the job: a caller that saw `active == 0` has already
        // cleared `job`, so a late worker finds null here and never touches a finished
        // job's (freed) stack frame.
        shared.active.fetch_add(1, SeqCst);
        let epoch = shared.epoch.load(SeqCst);
        let job = shared.job.load(SeqCst);
        if !job.is_null() {
            // SAFETY: `job` points at a `Job` that its caller keeps alive until `active`
            // is back to zero, which it cannot be while this worker is counted.
            unsafe { (*job).work(End::Back) };
        }
        served = epoch;
        shared.active.fetch_sub(1, SeqCst);
    }
}

/// Spins for the first 1024 calls, then yields the core to the operating system.
fn spin_or_yield(spins: &mut u32) {
    *spins = spins.saturating_add(1);
    if *spins < 1024 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// The most tasks one job hands out: its range is packed in two 32-bit halves.
const MOST_TASKS: usize = u32::MAX as usize;

/// `tasks` cut into consecutive rounds of at most `most`: `(first task, count)` each.
fn rounds(tasks: usize, most: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..tasks)
        .step_by(most.max(1))
        .map(move |start| (start, (tasks - start).min(most.max(1))))
}

/// [`run`] for more tasks than one job holds: one job per round of at most `most` tasks.
/// A panic ends the call after its round; the later rounds do not run.
fn run_in_rounds(tasks: usize, most: usize, body: &(dyn Fn(usize) + Sync)) {
    for (start, count) in rounds(tasks, most) {
        run(count, &|task| body(start + task));
    }
}

/// How many threads a job can really have: [`num_threads`], but at most the pool's
/// workers plus the caller (a setting above the machine's cores gets no more threads).
/// A kernel that makes one piece per thread and whose pieces wait for one another in
/// order should make this many.
pub fn capacity() -> usize {
    num_threads().min(shared().workers.len() + 1)
}

/// Runs `body(0) … body(tasks - 1)`, each exactly once, on the calling thread and up to
/// [`num_threads`]` - 1` pool workers; returns when all have finished.
///
/// With one thread allowed, one task, or another job already running, the tasks run in a
/// loop on the calling thread. A panic in any task is re-raised here after every task of
/// its job has finished (more than `u32::MAX` tasks run as several jobs, and the ones
/// after a panic do not start).
pub fn run(tasks: usize, body: &(dyn Fn(usize) + Sync)) {
    if tasks == 0 {
        return;
    }
    // More tasks than the packed range holds (never in the stack's kernels, which make a
    // few per thread) run in rounds of the largest count it does.
    if tasks > MOST_TASKS {
        return run_in_rounds(tasks, MOST_TASKS, body);
    }
    let job = Job {
        body,
        unclaimed: AtomicU64::new((tasks as u64) << 32),
        done: AtomicUsize::new(0),
        panic: Mutex::new(None),
    };
    let helpers = num_threads().saturating_sub(1);
    if tasks == 1 || helpers == 0 {
        return job.run_here();
    }
    let shared = shared();
    if shared.workers.is_empty() || shared.busy.swap(true, SeqCst) {
        return job.run_here();
    }
    // Lifetime erased for the shared slot; `job` outlives every use (see worker_loop).
    let job_ptr = (&job as *const Job<'_>).cast_mut().cast::<Job<'static>>();
    shared.job.store(job_ptr, SeqCst);
    shared.epoch.fetch_add(1, SeqCst);
    for worker in shared.workers.iter().take(helpers) {
        if worker.sleeping.load(SeqCst)
            && let Some(thread) = worker.thread.get()
        {
            thread.unpark();
        }
    }
    job.work(End::Front);
    // A worker holding a task may have been preempted (more runnable threads than
    // cores): after a short spin, yield so it can run on this core if it must.
    let mut spins = 0u32;
    while job.done.load(SeqCst) < tasks {
        spin_or_yield(&mut spins);
    }
    shared.job.store(ptr::null_mut(), SeqCst);
    while shared.active.load(SeqCst) != 0 {
        spin_or_yield(&mut spins);
    }
    shared.busy.store(false, SeqCst);
    if let Some(payload) = job.panic.into_inner().unwrap_or_else(|e| e.into_inner()) {
        resume_unwind(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn every_task_runs_exactly_once_across_many_jobs() {
        crate::cpu::threads::set_num_threads(2);
        for tasks in [1usize, 2, 3, 17, 256] {
            for _ in 0..50 {
                let hits: Vec<AtomicU32> = (0..tasks).map(|_| AtomicU32::new(0)).collect();
                run(tasks, &|t| {
                    hits[t].fetch_add(1, SeqCst);
                });
                assert!(hits.iter().all(|h| h.load(SeqCst) == 1), "{tasks} tasks");
            }
        }
    }

    #[test]
    fn the_caller_takes_tasks_from_the_front_and_workers_from_the_back() {
        let job = Job {
            body: &|_| {},
            unclaimed: AtomicU64::new(5 << 32),
            done: AtomicUsize::new(0),
            panic: Mutex::new(None),
        };
        let claims = [
            (End::Front, Some(0)),
            (End::Back, Some(4)),
            (End::Back, Some(3)),
            (End::Front, Some(1)),
            (End::Front, Some(2)),
            (End::Back, None),
            (End::Front, None),
        ];
        for (step, (end, want)) in claims.into_iter().enumerate() {
            assert_eq!(job.claim(end), want, "claim {step}");
        }
    }

    #[test]
    fn every_task_runs_once_when_split_into_rounds() {
        crate::cpu::threads::set_num_threads(2);
        let hits: Vec<AtomicU32> = (0..11).map(|_| AtomicU32::new(0)).collect();
        run_in_rounds(11, 4, &|t| {
            hits[t].fetch_add(1, SeqCst);
        });
        assert!(hits.iter().all(|h| h.load(SeqCst) == 1));
    }

    #[test]
    fn capacity_counts_the_caller_and_the_workers_only() {
        // (Not 1 thread: other tests of this binary assume at least 2 while they run.)
        crate::cpu::threads::set_num_threads(64);
        assert_eq!(capacity(), available_cores().min(64));
        crate::cpu::threads::set_num_threads(2);
        assert_eq!(capacity(), available_cores().min(2));
    }

    #[test]
    fn more_tasks_than_one_job_holds_run_in_rounds() {
        let cut = |tasks, most| rounds(tasks, most).collect::<Vec<_>>();
        assert_eq!(cut(10, 4), [(0, 4), (4, 4), (8, 2)]);
        assert_eq!(cut(8, 4), [(0, 4), (4, 4)]);
        assert_eq!(cut(3, 4), [(0, 3)]);
        assert_eq!(
            cut(MOST_TASKS + 2, MOST_TASKS),
            [(0, MOST_TASKS), (MOST_TASKS, 2)]
        );
    }

    #[test]
    fn nested_and_concurrent_jobs_complete() {
        crate::cpu::threads::set_num_threads(2);
        let total = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..100 {
                        run(4, &|_| {
                            // A nested call while a job runs falls back to a loop.
                            run(3, &|_| {
                                total.fetch_add(1, SeqCst);
                            });
                        });
                    }
                });
            }
        });
        assert_eq!(total.into_inner(), 4 * 100 * 4 * 3);
    }

    #[test]
    fn a_panicking_task_is_reraised_after_the_others_finish() {
        crate::cpu::threads::set_num_threads(2);
        let finished = AtomicUsize::new(0);
        let result = catch_unwind(AssertUnwindSafe(|| {
            run(16, &|t| {
                if t == 5 {
                    panic!("task five");
                }
                finished.fetch_add(1, SeqCst);
            });
        }));
        let payload = result.expect_err("the panic must reach the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"task five"));
        assert_eq!(finished.into_inner(), 15);
        // The pool is usable afterwards.
        let count = AtomicUsize::new(0);
        run(8, &|_| {
            count.fetch_add(1, SeqCst);
        });
        assert_eq!(count.into_inner(), 8);
    }
}
