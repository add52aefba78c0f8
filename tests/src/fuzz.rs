//! A time-bounded mutation fuzzer on stable Rust: runs a file reader on mutated copies of valid
//! inputs and fails on a panic, a hang, an unbounded allocation or an error that does not name
//! the file.
//!
//! Each execution writes the input to a file, calls the reader on a fresh thread inside
//! `catch_unwind`, and waits at most [`TIME_LIMIT`]. The test binary installs
//! [`CountingAllocator`] as its global allocator, so the peak of bytes allocated during one
//! execution is measured exactly and compared with the target's bound. A failing input is saved
//! and its replay command printed; committed failures under `tests/fuzz-regressions/<target>/`
//! are replayed before every run.
//!
//! Environment: `SUPCON_FUZZ_SECONDS` (seconds per target, default 3), `SUPCON_FUZZ_SEED`
//! (the base seed, default 0).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::mutate::{Mutation, Mutator, SplitMix64};

/// The longest one execution may take before it counts as a hang.
pub const TIME_LIMIT: Duration = Duration::from_secs(5);

/// Default seconds per target when `SUPCON_FUZZ_SECONDS` is not set.
pub const DEFAULT_SECONDS: f64 = 3.0;

/// A single allocation above this is refused (the process then aborts with Rust's "memory
/// allocation of N bytes failed", naming the size) rather than risking the machine.
pub const REFUSE_ALLOCATION_ABOVE: usize = 4 << 30;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Serialises fuzz runs in one process, so that the allocation peak belongs to one target.
static RUNNING: Mutex<()> = Mutex::new(());

/// The system allocator, counting live bytes and their peak.
///
/// Install it in a test binary with
/// `#[global_allocator] static ALLOCATOR: CountingAllocator = CountingAllocator;`.
pub struct CountingAllocator;

impl CountingAllocator {
    fn record(size: usize) {
        let now = CURRENT.fetch_add(size, Ordering::Relaxed) + size;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; only counters are updated around it,
// and a refused allocation returns null as the `GlobalAlloc` contract allows.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > REFUSE_ALLOCATION_ABOVE {
            return std::ptr::null_mut();
        }
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            Self::record(layout.size());
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > REFUSE_ALLOCATION_ABOVE {
            return std::ptr::null_mut();
        }
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            Self::record(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > REFUSE_ALLOCATION_ABOVE {
            return std::ptr::null_mut();
        }
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            Self::record(new_size);
        }
        moved
    }
}

/// Why a reader turned an input down.
#[derive(Debug)]
pub enum Rejected {
    /// Opening or parsing the file failed: the message must name the file.
    File(String),
    /// The file opened but an item could not be produced (a record, an image of a tree); the
    /// message must not be empty.
    Item(String),
}

/// The reader under test: given the path of the input file, open it and read everything in it.
pub type Check = Arc<dyn Fn(&Path) -> Result<(), Rejected> + Send + Sync>;

/// One fuzz target.
pub struct Target {
    /// The name (also the folder of its committed regressions).
    pub name: &'static str,
    /// Valid inputs to mutate.
    pub seeds: Vec<Vec<u8>>,
    /// How inputs are mutated.
    pub mutator: Mutator,
    /// The folder the input file is written into (other files of a layout may live there).
    pub dir: PathBuf,
    /// The name of the input file inside `dir`.
    pub file_name: String,
    /// The path a [`Rejected::File`] message must contain: the input file when `None` (a
    /// layout of several files, such as a checkpoint folder, names its folder instead).
    pub must_name: Option<PathBuf>,
    /// The largest allocation peak (bytes above the peak before the call) one execution may
    /// reach.
    pub memory_limit: usize,
    /// The reader.
    pub check: Check,
}

/// What a fuzz run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Executions, seeds and regressions included.
    pub executions: usize,
    /// Inputs the reader accepted.
    pub accepted: usize,
    /// Inputs it rejected with an error.
    pub rejected: usize,
    /// Committed regression inputs replayed.
    pub regressions: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The largest allocation peak of one execution, in bytes.
    pub max_allocation: usize,
    /// How often each mutation was applied.
    pub mutations: BTreeMap<String, usize>,
}

/// `tests/fuzz-regressions/<target>/` in this repository.
pub fn regressions_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz-regressions")
        .join(target)
}

/// Seconds per target: `SUPCON_FUZZ_SECONDS` or [`DEFAULT_SECONDS`].
///
/// # Panics
/// When the variable is set but is not a non-negative number.
pub fn seconds_per_target() -> f64 {
    match std::env::var("SUPCON_FUZZ_SECONDS") {
        Ok(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or_else(|| panic!("SUPCON_FUZZ_SECONDS={text:?} is not a number of seconds")),
        Err(_) => DEFAULT_SECONDS,
    }
}

/// The base seed: `SUPCON_FUZZ_SEED` or 0.
///
/// # Panics
/// When the variable is set but is not an unsigned integer.
pub fn base_seed() -> u64 {
    match std::env::var("SUPCON_FUZZ_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("SUPCON_FUZZ_SEED={text:?} is not an unsigned integer")),
        Err(_) => 0,
    }
}

/// The seed of execution `index` of `target`: FNV-1a of the name mixed with the base seed and
/// the index, so that each execution replays on its own.
fn execution_seed(target: &str, base: u64, index: usize) -> u64 {
    let name = target.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut mix = SplitMix64::new(name ^ base.rotate_left(17) ^ (index as u64).rotate_left(41));
    mix.next_u64()
}

/// Runs `target` for `seconds` (after its seeds and committed regressions).
///
/// # Panics
/// On the first input that makes the reader panic, hang, allocate past the target's bound or
/// report an error that does not name the file; the message gives the reason, the saved input
/// and the seed to replay it.
pub fn run(target: &Target, seconds: f64) -> Report {
    let _serial = RUNNING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let started = Instant::now();
    let mut report = Report::default();
    let input = target.dir.join(&target.file_name);

    for (index, seed) in target.seeds.iter().enumerate() {
        let outcome = execute(target, &input, seed, &mut report);
        if let Err(reason) = outcome {
            fail(target, seed, &format!("seed input {index}"), &reason);
        }
    }
    for path in committed_regressions(target.name) {
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("cannot read regression input {}: {e}", path.display()));
        if let Err(reason) = execute(target, &input, &bytes, &mut report) {
            fail(
                target,
                &bytes,
                &format!("regression {}", path.display()),
                &reason,
            );
        }
        report.regressions += 1;
    }

    let base = base_seed();
    let budget = Duration::from_secs_f64(seconds);
    let mut index = 0;
    while started.elapsed() < budget {
        let mut rng = SplitMix64::new(execution_seed(target.name, base, index));
        let seed = rng.pick(&target.seeds).clone();
        let (bytes, mutations) = target.mutator.mutate(&seed, &mut rng);
        for mutation in &mutations {
            *report.mutations.entry(format!("{mutation:?}")).or_default() += 1;
        }
        if let Err(reason) = execute(target, &input, &bytes, &mut report) {
            let origin = format!(
                "SUPCON_FUZZ_SEED={base}, execution {index}, mutations {}",
                describe(&mutations)
            );
            fail(target, &bytes, &origin, &reason);
        }
        index += 1;
    }
    report.seconds = started.elapsed().as_secs_f64();
    println!(
        "fuzz target {:<22} {:>7} executions in {:>5.1} s ({} accepted, {} rejected, {} \
         committed regressions; largest allocation peak {:.1} MiB)",
        target.name,
        report.executions,
        report.seconds,
        report.accepted,
        report.rejected,
        report.regressions,
        report.max_allocation as f64 / (1 << 20) as f64
    );
    report
}

fn describe(mutations: &[Mutation]) -> String {
    mutations
        .iter()
        .map(|m| format!("{m:?}"))
        .collect::<Vec<_>>()
        .join("+")
}

/// The committed regression inputs of a target, sorted.
pub fn committed_regressions(target: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(regressions_dir(target)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    paths
}

/// Runs the reader once on `bytes`; the reason when the outcome is not acceptable.
fn execute(target: &Target, input: &Path, bytes: &[u8], report: &mut Report) -> Result<(), String> {
    std::fs::write(input, bytes)
        .unwrap_or_else(|e| panic!("cannot write the fuzz input {}: {e}", input.display()));
    report.executions += 1;

    let before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let (sender, receiver) = std::sync::mpsc::channel();
    let check = Arc::clone(&target.check);
    let path = input.to_path_buf();
    std::thread::Builder::new()
        .name(format!("fuzz-{}", target.name))
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&path)));
            let _ = sender.send(outcome);
        })
        .expect("a fuzz thread starts");
    let outcome = match receiver.recv_timeout(TIME_LIMIT) {
        Ok(outcome) => outcome,
        Err(_) => {
            return Err(format!(
                "no result within {} s (a hang)",
                TIME_LIMIT.as_secs()
            ))
        }
    };
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    report.max_allocation = report.max_allocation.max(peak);
    if peak > target.memory_limit {
        return Err(format!(
            "allocated {peak} bytes at peak for a {}-byte input (bound {} bytes)",
            bytes.len(),
            target.memory_limit
        ));
    }
    match outcome {
        Err(panic) => Err(format!("panicked: {}", panic_message(&panic))),
        Ok(Ok(())) => {
            report.accepted += 1;
            Ok(())
        }
        Ok(Err(Rejected::File(message))) => {
            report.rejected += 1;
            let named = target.must_name.as_deref().unwrap_or(input);
            let shown = named.display().to_string();
            if message.contains(&shown) {
                Ok(())
            } else {
                Err(format!(
                    "the error does not name the file {shown}: {message}"
                ))
            }
        }
        Ok(Err(Rejected::Item(message))) => {
            report.rejected += 1;
            if message.trim().is_empty() {
                Err("an item error with an empty message".to_string())
            } else {
                Ok(())
            }
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Saves the failing input where the test can find it and panics with the replay instructions.
fn fail(target: &Target, bytes: &[u8], origin: &str, reason: &str) -> ! {
    let dir = std::env::temp_dir()
        .join("supcon-fuzz-crashes")
        .join(target.name);
    std::fs::create_dir_all(&dir).expect("the crash folder can be created");
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    let saved = dir.join(format!("crash-{hash:016x}"));
    std::fs::write(&saved, bytes).expect("the crash input can be saved");
    panic!(
        "fuzz target {}: {reason}\n  input: {} ({} bytes, from {origin})\n  fix the reader, then \
         commit the input under {}/ so that every run replays it",
        target.name,
        saved.display(),
        bytes.len(),
        regressions_dir(target.name).display()
    );
}
