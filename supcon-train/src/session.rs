//! The machinery every training stage shares: the stage directory, its recorded config,
//! checkpoints, metrics and progress display.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use burn::config::Config;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};

use crate::checkpoint::{
    write_atomically, Checkpoint, CheckpointStore, EpochSums, TrainingPosition,
};
use crate::config::CheckpointConfig;
use crate::data::LabeledDataset;
use crate::error::{Result, TrainError};
use crate::metrics::{EpochMetrics, MetricsRecord, MetricsWriter, StepMetrics};
use crate::options::TrainOptions;

/// The file holding a stage's configuration in its directory.
pub const CONFIG_FILE: &str = "config.json";
/// The file holding a stage's metrics in its directory.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// The directory holding a stage's checkpoints.
pub const CHECKPOINT_DIR: &str = "checkpoints";
/// The file holding a finished stage's summary.
pub const SUMMARY_FILE: &str = "summary.json";

/// Configuration keys that do not change what a run computes, so a run may resume under other
/// values of them.
const RUNTIME_KEYS: &[&str] = &["checkpoint"];

/// Serialises seeding the backend and drawing the initial weights, so that concurrent runs in
/// one process (tests) do not interleave draws from the backend's global generator.
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// Seeds `device` with `seed`, builds a module with `init` and draws all its initial weights,
/// with no other seeded initialisation of this crate in between.
///
/// Burn initialises parameters lazily, on first use; without forcing them here, the draws would
/// happen during the first forward pass, interleaved with whatever else uses the backend's
/// generator at that moment.
pub(crate) fn seeded_init<M: Module>(device: &Device, seed: u64, init: impl FnOnce() -> M) -> M {
    struct Materialize;
    impl ModuleVisitor for Materialize {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    let _guard = INIT_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    let module = init();
    module.visit(&mut Materialize);
    module
}

/// The record bytes of a module, with BatchNorm running statistics brought up to date first
/// (Burn's record visitor reads the last synchronised value, which may lag one update).
pub(crate) fn module_bytes<M: Module>(module: &M) -> Result<Vec<u8>> {
    // `valid` synchronises every running state shared with `module` as a side effect.
    drop(module.valid());
    let bytes = module
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| TrainError::Format(format!("cannot serialise the model: {e}")))?;
    Ok(bytes.to_vec())
}

/// Loads record bytes (from `path`, named in errors) into `module`.
pub(crate) fn load_module_bytes<M: Module>(module: M, bytes: Vec<u8>, path: &Path) -> Result<M> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| TrainError::corrupt(path, format!("not a Burn record ({e})")))?;
    module
        .try_load_record(record)
        .map_err(|e| TrainError::corrupt(path, format!("does not fit the model ({e})")))
}

/// Loads optimiser state bytes (from `path`, named in errors) into `optimizer`.
pub(crate) fn load_optimizer_bytes(
    optimizer: ModuleOptimizer,
    bytes: Vec<u8>,
    path: &Path,
) -> Result<ModuleOptimizer> {
    optimizer
        .from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| TrainError::corrupt(path, format!("not an optimiser record ({e})")))
}

/// Writes a module's record to `path` atomically.
pub(crate) fn save_module_file<M: Module>(module: &M, path: &Path) -> Result<()> {
    write_atomically(path, &module_bytes(module)?)
}

/// The open stage directory of a run.
pub(crate) struct Session {
    pub stage: &'static str,
    pub dir: PathBuf,
    pub options: TrainOptions,
    config: serde_json::Value,
    store: CheckpointStore,
    every_epochs: usize,
    every_steps: Option<usize>,
    metrics: MetricsWriter,
    last_checkpoint: Option<PathBuf>,
    bar: Option<ProgressBar>,
    images_since: usize,
    since: Instant,
}

impl Session {
    /// Opens (or creates) the stage directory `dir`: records the config, finds the newest
    /// intact checkpoint and checks that it belongs to this config, and opens the metrics file
    /// (cut back to the checkpoint's position on resume, emptied on a fresh start).
    pub fn open<C: Config>(
        stage: &'static str,
        dir: &Path,
        config: &C,
        train: &LabeledDataset,
        checkpoint: &CheckpointConfig,
        options: &TrainOptions,
    ) -> Result<(Self, Option<Checkpoint>)> {
        let config_json = serde_json::to_value(config).expect("a Config always serialises");
        Self::open_json(stage, dir, config_json, train, checkpoint, options)
    }

    /// [`open`](Self::open) with the configuration to record already as JSON. The size and
    /// class count of the training set are recorded with it, so that a resume on other data
    /// (which would change the schedule and the data position) is refused.
    pub fn open_json(
        stage: &'static str,
        dir: &Path,
        mut config_json: serde_json::Value,
        train: &LabeledDataset,
        checkpoint: &CheckpointConfig,
        options: &TrainOptions,
    ) -> Result<(Self, Option<Checkpoint>)> {
        assert!(
            options.metrics_every > 0,
            "TrainOptions::metrics_every must be at least 1"
        );
        config_json["train_images"] = train.len().into();
        config_json["num_classes"] = train.num_classes.into();
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        let store = CheckpointStore::new(dir.join(CHECKPOINT_DIR), checkpoint.keep_last);

        let resume = store.latest()?;
        if let Some(found) = &resume {
            if found.position.stage != stage {
                return Err(TrainError::IncompatibleCheckpoint {
                    path: found.path.clone(),
                    difference: format!(
                        "it was written by stage {}, not {stage}",
                        found.position.stage
                    ),
                });
            }
            if let Some(difference) = config_difference(&found.config, &config_json) {
                return Err(TrainError::IncompatibleCheckpoint {
                    path: found.path.clone(),
                    difference,
                });
            }
            log::info!(
                "{stage}: resuming from {} (epoch {}, batch {}, step {})",
                found.path.display(),
                found.position.epoch,
                found.position.batch,
                found.position.step
            );
        }
        let pretty = serde_json::to_vec_pretty(&config_json).expect("JSON always serialises");
        write_atomically(&dir.join(CONFIG_FILE), &pretty)?;

        let keep = Some(resume.as_ref().map_or(0, |c| c.position.metrics_bytes));
        let metrics = MetricsWriter::open(&dir.join(METRICS_FILE), keep)?;
        let session = Self {
            stage,
            dir: dir.to_path_buf(),
            options: options.clone(),
            config: config_json,
            store,
            every_epochs: checkpoint.every_epochs.max(1),
            every_steps: checkpoint.every_steps,
            metrics,
            last_checkpoint: resume.as_ref().map(|c| c.path.clone()),
            bar: None,
            images_since: 0,
            since: Instant::now(),
        };
        Ok((session, resume))
    }

    /// A fresh position at the start of the run.
    pub fn start_position(&self, seed: u64) -> TrainingPosition {
        TrainingPosition {
            stage: self.stage.to_string(),
            step: 0,
            epoch: 0,
            batch: 0,
            seed,
            best_val_accuracy: None,
            best_epoch: None,
            metrics_bytes: 0,
            epoch_sums: EpochSums::default(),
        }
    }

    /// Whether a checkpoint is due after finishing `epoch` (0-based) of `epochs`.
    pub fn checkpoint_due_after_epoch(&self, epoch: usize, epochs: usize) -> bool {
        (epoch + 1) % self.every_epochs == 0 || epoch + 1 == epochs
    }

    /// Whether a mid-epoch checkpoint is due after `step` steps in total.
    pub fn checkpoint_due_after_step(&self, step: usize) -> bool {
        self.every_steps
            .is_some_and(|every| every > 0 && step % every == 0)
    }

    /// Whether the run should stop (with a checkpoint) after `step` steps in total.
    pub fn stop_requested(&self, step: usize) -> bool {
        self.options.max_steps.is_some_and(|max| step >= max)
    }

    /// Writes a checkpoint at `position` with the given payload files.
    pub fn save_checkpoint(
        &mut self,
        position: &TrainingPosition,
        files: &[(&str, &[u8])],
    ) -> Result<()> {
        let mut position = position.clone();
        position.metrics_bytes = self.metrics.flush()?;
        let path = self.store.save(&position, &self.config, files)?;
        log::debug!("{}: checkpoint {}", self.stage, path.display());
        self.last_checkpoint = Some(path);
        Ok(())
    }

    /// The error for a non-finite loss at the given place.
    pub fn non_finite(
        &mut self,
        step: usize,
        epoch: usize,
        batch: usize,
        value: f64,
    ) -> TrainError {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
        let _ = self.metrics.flush();
        log::error!("{}: loss {value} at step {step}; stopping", self.stage);
        TrainError::NonFiniteLoss {
            step,
            epoch,
            batch,
            value,
            last_checkpoint: self.last_checkpoint.clone(),
        }
    }

    /// Starts the progress display of an epoch of `steps` steps, `done` of them already done.
    pub fn begin_epoch(&mut self, epoch: usize, epochs: usize, steps: usize, done: usize) {
        self.images_since = 0;
        self.since = Instant::now();
        if !self.options.progress {
            return;
        }
        let bar = ProgressBar::new(steps as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]",
            )
            .expect("the progress template is valid")
            .progress_chars("=> "),
        );
        bar.set_prefix(format!("{} epoch {}/{epochs}", self.stage, epoch + 1));
        bar.set_position(done as u64);
        bar.reset_eta();
        self.bar = Some(bar);
    }

    /// Records one step: the metrics line (every `metrics_every` steps), the observer and the
    /// progress display.
    pub fn record_step(&mut self, metrics: StepMetrics) -> Result<()> {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "loss {:.4} lr {:.4e} {:.1} img/s",
                metrics.loss, metrics.lr, metrics.images_per_sec
            ));
            bar.inc(1);
        }
        if metrics.step % self.options.metrics_every == 0 {
            self.write(MetricsRecord::Step(metrics))?;
        }
        Ok(())
    }

    /// Counts `images` training images for the epoch's throughput.
    pub fn count_images(&mut self, images: usize) {
        self.images_since += images;
    }

    /// Images per second since the epoch began.
    pub fn epoch_throughput(&self) -> f64 {
        self.images_since as f64 / self.since.elapsed().as_secs_f64().max(1e-9)
    }

    /// Seconds since the epoch began.
    pub fn epoch_seconds(&self) -> f64 {
        self.since.elapsed().as_secs_f64()
    }

    /// Closes the epoch's progress display and records its summary.
    pub fn record_epoch(&mut self, metrics: EpochMetrics) -> Result<()> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        log::info!(
            "{} epoch {}: loss {:.4}{}{} lr {:.4e}, {:.1} img/s, {:.1} s",
            self.stage,
            metrics.epoch + 1,
            metrics.loss,
            metrics
                .classifier_loss
                .map(|l| format!(", classifier loss {l:.4}"))
                .unwrap_or_default(),
            metrics
                .val_acc
                .map(|a| format!(", val acc {:.2}%", 100.0 * a))
                .unwrap_or_default(),
            metrics.lr,
            metrics.images_per_sec,
            metrics.seconds
        );
        self.write(MetricsRecord::Epoch(metrics))
    }

    fn write(&mut self, record: MetricsRecord) -> Result<()> {
        if let Some(observer) = &self.options.observer {
            observer(&record);
        }
        self.metrics.write(&record)
    }

    /// Flushes the metrics file.
    pub fn flush(&mut self) -> Result<()> {
        self.metrics.flush().map(|_| ())
    }
}

/// The first setting (as a JSON path with both values) where two recorded configs differ,
/// ignoring the run-time keys; `None` when they agree.
pub(crate) fn config_difference(
    recorded: &serde_json::Value,
    current: &serde_json::Value,
) -> Option<String> {
    fn walk(a: &serde_json::Value, b: &serde_json::Value, path: &str, top: bool) -> Option<String> {
        use serde_json::Value;
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for key in keys {
                    if top && RUNTIME_KEYS.contains(&key.as_str()) {
                        continue;
                    }
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    let null = Value::Null;
                    let found = walk(
                        x.get(key).unwrap_or(&null),
                        y.get(key).unwrap_or(&null),
                        &child,
                        false,
                    );
                    if found.is_some() {
                        return found;
                    }
                }
                None
            }
            _ if a == b => None,
            _ => Some(format!("{path}: checkpoint has {a}, config has {b}")),
        }
    }
    walk(recorded, current, "", true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_difference_names_the_setting_and_both_values() {
        let a = serde_json::json!({"epochs": 10, "optimizer": {"Sgd": {"momentum": 0.9}},
            "checkpoint": {"keep_last": 2}});
        let b = serde_json::json!({"epochs": 10, "optimizer": {"Sgd": {"momentum": 0.8}},
            "checkpoint": {"keep_last": 5}});
        assert_eq!(
            config_difference(&a, &b).unwrap(),
            "optimizer.Sgd.momentum: checkpoint has 0.9, config has 0.8"
        );
        let c = serde_json::json!({"epochs": 10, "optimizer": {"Sgd": {"momentum": 0.9}},
            "checkpoint": {"keep_last": 9}});
        assert_eq!(config_difference(&a, &c), None);
    }
}
