//! Training metrics: per-step and per-epoch records, written as JSON lines.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// The metrics of one optimiser step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// The training stage (`supcon`, `linear_probe`, `cross_entropy`).
    pub stage: String,
    /// The global step (0-based) over the whole run.
    pub step: usize,
    /// The epoch (0-based).
    pub epoch: usize,
    /// The batch within the epoch (0-based).
    pub batch: usize,
    /// The training loss of the step (for joint training, the sum of both losses).
    pub loss: f64,
    /// The cross-entropy loss of the stop-gradient classifier in joint training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier_loss: Option<f64>,
    /// The learning rate the step used.
    pub lr: f64,
    /// Training images (samples, not views) per second over this step, data loading included.
    pub images_per_sec: f64,
}

/// The summary of one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// The training stage.
    pub stage: String,
    /// The epoch (0-based).
    pub epoch: usize,
    /// The global step count at the end of the epoch.
    pub step: usize,
    /// The mean training loss over all the epoch's steps (a mid-epoch resume continues the
    /// sums its checkpoint recorded).
    pub loss: f64,
    /// The mean classifier loss in joint training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier_loss: Option<f64>,
    /// The mean training accuracy of the epoch's steps, where the stage has a classifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_acc: Option<f64>,
    /// The learning rate of the epoch's last step.
    pub lr: f64,
    /// Training images per second over the epoch.
    pub images_per_sec: f64,
    /// Top-1 accuracy on the validation set, where the stage validates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_acc: Option<f64>,
    /// Seconds the epoch took (training and validation).
    pub seconds: f64,
}

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricsRecord {
    /// A step line.
    Step(StepMetrics),
    /// An epoch line.
    Epoch(EpochMetrics),
}

/// Appends [`MetricsRecord`]s to a JSON-lines file, one object per line.
#[derive(Debug)]
pub struct MetricsWriter {
    path: PathBuf,
    file: File,
}

impl MetricsWriter {
    /// Opens `path` for appending, first cutting it to `keep_bytes` bytes when given (a resumed
    /// run drops the lines written after its checkpoint, so no step appears twice).
    ///
    /// # Errors
    /// [`TrainError::Io`] naming the file.
    pub fn open(path: &Path, keep_bytes: Option<u64>) -> Result<Self> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| TrainError::io(parent, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| TrainError::io(path, e))?;
        if let Some(keep) = keep_bytes {
            let length = file.metadata().map_err(|e| TrainError::io(path, e))?.len();
            if length > keep {
                file.set_len(keep).map_err(|e| TrainError::io(path, e))?;
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one record as a line.
    ///
    /// # Errors
    /// [`TrainError::Io`] naming the file.
    pub fn write(&mut self, record: &MetricsRecord) -> Result<()> {
        let mut line = serde_json::to_vec(record).expect("metrics always serialise");
        line.push(b'\n');
        self.file
            .write_all(&line)
            .map_err(|e| TrainError::io(&self.path, e))
    }

    /// Flushes the file and returns its length in bytes (recorded in checkpoints).
    ///
    /// # Errors
    /// [`TrainError::Io`] naming the file.
    pub fn flush(&mut self) -> Result<u64> {
        self.file
            .flush()
            .map_err(|e| TrainError::io(&self.path, e))?;
        Ok(self
            .file
            .metadata()
            .map_err(|e| TrainError::io(&self.path, e))?
            .len())
    }
}

/// Reads every record of a `metrics.jsonl` file.
///
/// # Errors
/// [`TrainError::Io`] when the file cannot be read, [`TrainError::Data`] naming the file and
/// line when a line is not a metrics record.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricsRecord>> {
    let text = fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            serde_json::from_str(line).map_err(|e| {
                TrainError::Format(format!("{} line {}: {e}", path.display(), number + 1))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: usize) -> MetricsRecord {
        MetricsRecord::Step(StepMetrics {
            stage: "supcon".into(),
            step,
            epoch: 0,
            batch: step,
            loss: 1.5,
            classifier_loss: None,
            lr: 0.1,
            images_per_sec: 10.0,
        })
    }

    #[test]
    fn lines_carry_the_documented_keys() {
        let json = serde_json::to_value(step(3)).unwrap();
        for key in ["kind", "step", "epoch", "loss", "lr", "images_per_sec"] {
            assert!(json.get(key).is_some(), "{key} missing from {json}");
        }
        assert_eq!(json["kind"], "step");
    }

    #[test]
    fn reopening_with_a_length_drops_later_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut writer = MetricsWriter::open(&path, None).unwrap();
        writer.write(&step(0)).unwrap();
        let kept = writer.flush().unwrap();
        writer.write(&step(1)).unwrap();
        writer.flush().unwrap();
        drop(writer);

        let mut writer = MetricsWriter::open(&path, Some(kept)).unwrap();
        writer.write(&step(5)).unwrap();
        writer.flush().unwrap();
        assert_eq!(read_metrics(&path).unwrap(), vec![step(0), step(5)]);
    }
}
