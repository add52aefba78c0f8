//! Interrupted runs: `reproduce` on a small synthetic study is killed with SIGKILL at random and
//! at chosen moments (during a step, while a checkpoint is written, during evaluation), re-run
//! with the same command each time, and must end with the same weights (byte for byte), metrics
//! and results as an uninterrupted run. Once, the newest checkpoint is damaged between two runs:
//! the resumed run must name the bad file and fall back to the previous checkpoint.
//!
//! Environment: `SUPCON_KILLS` (kills, default 12), `SUPCON_KILL_SEED` (default 0). Each run
//! takes about 2 s on 2 cores; the test about 20 s.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use supcon_tests::mutate::SplitMix64;

const RUNNER: &str = env!("CARGO_BIN_EXE_supcon-runner");
const STAGES: [&str; 3] = ["cross_entropy", "supcon", "linear"];

/// The study: `configs/tiny.json` with 128 training images and 3 epochs per stage (24 steps per
/// stage) and a checkpoint after every step, so that kills land in every part of the run.
fn command(out: &Path) -> Command {
    let config = xtask::config::configs_dir().join("tiny.json");
    let mut command = Command::new(RUNNER);
    command
        .args(["reproduce", "synthetic", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .args([
            "--epochs",
            "3",
            "--set",
            "data.synthetic.samples_per_class=32",
        ])
        .args(["--set", "checkpoint.every_steps=1"])
        .env("RUST_LOG", "info,supcon_train=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// A running study whose log lines are collected as they come.
struct Running {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    reader: std::thread::JoinHandle<()>,
}

impl Running {
    fn start(out: &Path) -> Self {
        let mut child = command(out).spawn().expect("the runner starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        Self { child, log, reader }
    }

    fn logged(&self, needle: &str) -> bool {
        self.log
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains(needle))
    }

    fn finished(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// Waits for the end; the log.
    fn wait(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let status = self.child.wait().unwrap();
        self.reader.join().unwrap();
        let log = self.log.lock().unwrap().clone();
        (status, log)
    }
}

/// When to kill.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// After a random delay.
    Random,
    /// As soon as a checkpoint folder is being assembled.
    CheckpointWrite,
    /// Shortly after an evaluation starts.
    Evaluation,
    /// Right after an epoch ends (the first steps of the next epoch).
    AfterEpoch,
}

/// Whether a checkpoint (or another atomically written file) is being written under `out`.
fn writing_checkpoint(out: &Path) -> bool {
    STAGES.iter().any(|stage| {
        let dir = out.join(stage).join("checkpoints");
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        })
    })
}

/// Runs the study until `moment`, then kills it with SIGKILL. Returns where it landed.
fn run_and_kill(out: &Path, moment: Moment, rng: &mut SplitMix64, typical: Duration) -> String {
    let mut running = Running::start(out);
    let started = Instant::now();
    let deadline = typical.mul_f64(3.0);
    let delay = typical.mul_f64(0.1 + 0.25 * rng.below(1000) as f64 / 1000.0);
    let mut caught_writing = false;
    loop {
        if running.finished() {
            break;
        }
        let elapsed = started.elapsed();
        let due = match moment {
            Moment::Random => elapsed >= delay,
            Moment::CheckpointWrite => {
                caught_writing = writing_checkpoint(out);
                caught_writing || elapsed >= deadline
            }
            Moment::Evaluation => running.logged("evaluate_") || elapsed >= deadline,
            Moment::AfterEpoch => running.logged(" epoch ") || elapsed >= deadline,
        };
        if due {
            if matches!(moment, Moment::Evaluation) {
                std::thread::sleep(Duration::from_millis(rng.below(40) as u64));
            }
            let _ = running.child.kill();
            break;
        }
        std::thread::sleep(Duration::from_micros(if matches!(moment, Moment::Random) {
            1000
        } else {
            100
        }));
    }
    let (status, log) = running.wait();
    let killed = status.code().is_none();
    let landed = where_it_landed(out, caught_writing || writing_checkpoint(out));
    let last = log
        .last()
        .map(|l| l.split("] ").last().unwrap_or(l).to_string())
        .unwrap_or_default();
    format!(
        "{:<15} {:<8} {landed}; last log line: {}",
        format!("{moment:?}"),
        if killed { "killed" } else { "finished" },
        last.chars().take(90).collect::<String>()
    )
}

/// The stage in progress and its newest checkpoint.
fn where_it_landed(out: &Path, writing: bool) -> String {
    for stage in STAGES {
        let dir = out.join(stage);
        if !dir.join(supcon_train::SUMMARY_FILE).is_file() {
            let store = supcon_train::CheckpointStore::new(dir.join("checkpoints"), 2);
            let step = store
                .list()
                .unwrap_or_default()
                .last()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .unwrap_or_else(|| "no checkpoint".into());
            let writing = if writing {
                ", writing a checkpoint"
            } else {
                ""
            };
            return format!("in stage {stage} ({step}{writing})");
        }
    }
    if !out.join("eval/supcon.json").is_file() || !out.join("eval/cross_entropy.json").is_file() {
        return "during evaluation".into();
    }
    if !out.join("report.json").is_file() {
        return "while writing the report".into();
    }
    "after the run had finished".into()
}

/// Damages the newest checkpoint of the stage in progress when it has an older one to fall
/// back to; returns the damaged file.
fn damage_newest_checkpoint(out: &Path) -> Option<PathBuf> {
    for stage in STAGES {
        let dir = out.join(stage);
        if dir.join(supcon_train::SUMMARY_FILE).is_file() {
            continue;
        }
        let store = supcon_train::CheckpointStore::new(dir.join("checkpoints"), 2);
        let list = store.list().ok()?;
        if list.len() < 2 {
            return None;
        }
        let newest = list.last()?;
        let file = std::fs::read_dir(newest)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "bpk"))?;
        let bytes = std::fs::read(&file).ok()?;
        std::fs::write(&file, &bytes[..bytes.len() / 2]).ok()?;
        return Some(file);
    }
    None
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The metrics of a stage without the wall-clock fields.
fn metrics(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let mut value: Value = serde_json::from_str(line).unwrap();
            let object = value.as_object_mut().unwrap();
            object.remove("images_per_sec");
            object.remove("seconds");
            value
        })
        .collect()
}

/// The tensor values (little-endian bytes, module order) of a Burn record file. The record
/// bytes themselves cannot be compared: they carry parameter ids, which differ between any two
/// processes, interrupted or not.
fn record_values(path: &Path, config: &xtask::config::StudyConfig, classes: usize) -> Vec<u8> {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::prelude::*;
    use supcon_models::{ClassifierModel, LinearClassifierConfig, SupConModelConfig};

    struct Values(Vec<u8>);
    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.extend_from_slice(param.val().into_data().as_bytes());
        }
    }
    fn values<M: Module>(module: M, path: &Path) -> Vec<u8> {
        let bytes = std::fs::read(path).unwrap();
        let record =
            burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
                .unwrap_or_else(|e| panic!("{} is not a Burn record: {e}", path.display()));
        let module = module
            .try_load_record(record)
            .unwrap_or_else(|e| panic!("{} does not fit: {e}", path.display()));
        let mut collected = Values(Vec::new());
        module.visit(&mut collected);
        collected.0
    }

    let device = Device::flex();
    let encoder = xtask::reproduce::encoder_config(config).unwrap();
    let name = path.file_name().unwrap().to_string_lossy();
    if name == "supcon_model.bpk" {
        let head = match config.model.head {
            xtask::config::HeadName::Mlp => supcon_models::HeadKind::Mlp,
            xtask::config::HeadName::Linear => supcon_models::HeadKind::Linear,
        };
        let model = SupConModelConfig::new(encoder)
            .with_head(head)
            .with_projection_dim(config.model.projection_dim)
            .init(&device);
        values(model, path)
    } else if name == "encoder.bpk" {
        values(encoder.init(&device), path)
    } else if name.ends_with("classifier_model.bpk") {
        values(
            ClassifierModel::from_encoder(encoder.init(&device), classes, &device),
            path,
        )
    } else if name.ends_with("classifier.bpk") {
        let features = encoder.init(&device).feature_dim();
        values(
            LinearClassifierConfig::new(features, classes).init(&device),
            path,
        )
    } else {
        panic!("no model type known for {}", path.display());
    }
}

/// Compares everything a user reads from the two run folders.
fn assert_same_results(reference: &Path, resumed: &Path) -> usize {
    let config =
        xtask::config::from_json(&read_json(&reference.join("config.json")), "config").unwrap();
    let classes = config.data.synthetic.as_ref().unwrap().num_classes;
    let mut compared = 0;
    let mut differing = Vec::new();
    for stage in STAGES {
        let mut files: Vec<PathBuf> = std::fs::read_dir(reference.join(stage))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e == "bpk" || e == "safetensors")
            })
            .collect();
        files.sort();
        assert!(files.len() >= 2, "model files of {stage}: {files:?}");
        for file in files {
            let name = file.file_name().unwrap();
            let other = resumed.join(stage).join(name);
            let same = if file.extension().is_some_and(|e| e == "bpk") {
                record_values(&file, &config, classes) == record_values(&other, &config, classes)
            } else {
                std::fs::read(&file).unwrap() == std::fs::read(&other).unwrap()
            };
            if !same {
                differing.push(format!("{stage}/{}", name.to_string_lossy()));
            }
            compared += 1;
        }
        let metrics_file = Path::new(stage).join(supcon_train::METRICS_FILE);
        assert_eq!(
            metrics(&reference.join(&metrics_file)),
            metrics(&resumed.join(&metrics_file)),
            "{} differs",
            metrics_file.display()
        );
        compared += 1;
    }
    assert!(
        differing.is_empty(),
        "differ from the uninterrupted run: {differing:?}"
    );
    for model in ["supcon", "cross_entropy"] {
        let path = format!("eval/{model}.json");
        let (a, b) = (
            read_json(&reference.join(&path)),
            read_json(&resumed.join(&path)),
        );
        assert_eq!(a["results"], b["results"], "{path} differs");
        compared += 1;
    }
    let (a, b) = (
        read_json(&reference.join("report.json")),
        read_json(&resumed.join("report.json")),
    );
    assert_eq!(a["results"], b["results"], "report.json differs");
    compared + 1
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        })
        .unwrap_or(default)
}

#[test]
fn killed_and_resumed_runs_end_bit_identical_to_an_uninterrupted_run() {
    // SUPCON_KILL_KEEP=1 keeps both run folders for inspection.
    let holder = tempfile::tempdir().unwrap();
    let root = holder.path().to_path_buf();
    if std::env::var_os("SUPCON_KILL_KEEP").is_some() {
        println!("run folders kept in {}", holder.keep().display());
    }
    let reference = root.join("uninterrupted");
    let resumed = root.join("killed");

    let started = Instant::now();
    let (status, log) = Running::start(&reference).wait();
    assert!(
        status.success(),
        "the uninterrupted run failed:\n{}",
        log.join("\n")
    );
    let typical = started.elapsed();

    let kills = env_number("SUPCON_KILLS", 12) as usize;
    let mut rng = SplitMix64::new(env_number("SUPCON_KILL_SEED", 0));
    // Short random delays and the first checkpoint write each advance the run a little; an
    // evaluation kill comes once training is mostly done.
    let plan = [
        Moment::Random,
        Moment::CheckpointWrite,
        Moment::AfterEpoch,
        Moment::Random,
        Moment::CheckpointWrite,
        Moment::Random,
        Moment::CheckpointWrite,
        Moment::AfterEpoch,
        Moment::Random,
        Moment::Evaluation,
        Moment::Random,
        Moment::CheckpointWrite,
    ];
    let mut damaged: Option<PathBuf> = None;
    let mut landings = Vec::new();
    for kill in 0..kills {
        // Once, between two runs, damage the newest checkpoint (half of a payload file gone),
        // at the first kill after the second that leaves an older checkpoint to fall back to.
        let damage_now = damaged.is_none() && kill >= 2;
        let landing = run_and_kill(&resumed, plan[kill % plan.len()], &mut rng, typical);
        println!("kill {:>2}: {landing}", landings.len() + 1);
        landings.push(landing);
        if damage_now {
            damaged = damage_newest_checkpoint(&resumed);
            if let Some(file) = &damaged {
                println!("         damaged {}", file.display());
                // The next run must name the file and go on from the previous checkpoint; it
                // is killed once it has said so.
                let mut running = Running::start(&resumed);
                let deadline = Instant::now() + typical.mul_f64(3.0);
                while !running.logged("skipping damaged checkpoint")
                    && !running.finished()
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_micros(200));
                }
                let _ = running.child.kill();
                let (_, log) = running.wait();
                let named = log.iter().any(|line| {
                    line.contains("skipping damaged checkpoint")
                        && line.contains(&file.display().to_string())
                });
                assert!(
                    named,
                    "no warning names {}:\n{}",
                    file.display(),
                    log.join("\n")
                );
                let landing = format!(
                    "{:<15} killed   after it named the damaged file and fell back",
                    "Damaged"
                );
                println!("kill {:>2}: {landing}", landings.len() + 1);
                landings.push(landing);
            }
        }
    }
    let (status, log) = Running::start(&resumed).wait();
    assert!(
        status.success(),
        "the final resumed run failed:\n{}",
        log.join("\n")
    );
    let compared = assert_same_results(&reference, &resumed);

    let killed = landings.iter().filter(|l| l.contains(" killed ")).count();
    println!(
        "{} kills tried, {killed} landed before the run ended; {compared} files and result sets \
         identical to the uninterrupted run ({:.1} s each)",
        landings.len(),
        typical.as_secs_f64()
    );
    assert!(killed >= 1, "no kill landed while the run was working");
    assert!(
        damaged.is_some(),
        "no moment had two checkpoints to fall back between"
    );
}
