//! How long one cache line takes to go from one core to another and back: two threads
//! hand a counter back and forth, and the time per round trip is printed once per
//! half-second for ten seconds.
//!
//! This is what every hand-off between the worker pool's threads costs (a job's start,
//! its task counter, a block of data written on one core and read on the other). On the
//! 2-vCPU VMs measured here it is not fixed: the same binary sees ~60–80 ns for a while
//! and ~350–410 ns for another, as the host moves the vCPUs, and two-thread training
//! steps move with it (`lm_step` ~17.5 ms against ~22–24 ms, for both PyTorch and us).
//! Run it before and after a two-thread timing to know which regime the timing saw (the
//! first line is often slow: the second vCPU wakes up).
//!
//! ```sh
//! cargo run --release -p ferrograd-linalg --example core_round_trip
//! ```

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let counter = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // The echo thread turns every odd value into the next even one.
    let echo = {
        let (counter, stop) = (Arc::clone(&counter), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let value = counter.load(Ordering::Acquire);
                if value % 2 == 1 {
                    counter.store(value + 1, Ordering::Release);
                }
            }
        })
    };
    let trips = 100_000u64;
    for _ in 0..20 {
        let start = Instant::now();
        let mut value = counter.load(Ordering::Acquire);
        for _ in 0..trips {
            counter.store(value + 1, Ordering::Release);
            // Wait for the echo (with a bound, so a descheduled echo thread cannot hang
            // the program: the round is then reported as such).
            let asked = Instant::now();
            let mut spins = 0u32;
            while counter.load(Ordering::Acquire) != value + 2 {
                spins = spins.wrapping_add(1);
                // The clock is read rarely: it costs about as much as a fast round trip.
                if spins.is_multiple_of(1 << 16) && asked.elapsed() > Duration::from_secs(1) {
                    let _ = writeln!(
                        std::io::stdout(),
                        "no echo within 1 s (is the other thread running?)"
                    );
                    stop.store(true, Ordering::Relaxed);
                    let _ = echo.join();
                    return;
                }
                std::hint::spin_loop();
            }
            value += 2;
        }
        let nanos = start.elapsed().as_nanos() as f64 / trips as f64;
        // A closed pipe (`| head`) ends the program quietly.
        if writeln!(std::io::stdout(), "{nanos:.1} ns per round trip").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, Ordering::Relaxed);
    let _ = echo.join();
}
