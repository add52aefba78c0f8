//! The run folder: its layout, the write check, the recorded configuration and stage timings.
//!
//! ```text
//! <out>/config.json            the resolved configuration of the study
//! <out>/timings.json           seconds spent per stage, summed over invocations
//! <out>/cross_entropy/         the baseline's training run (metrics.jsonl, checkpoints/, ...)
//! <out>/supcon/                stage 1
//! <out>/linear/                stage 2
//! <out>/eval/<model>.json      cached evaluation results
//! <out>/plots/*.png
//! <out>/report.md, report.json
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::differences;

/// Seconds per stage and whether it finished, kept in `<out>/timings.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Timings {
    /// Per stage: seconds summed over invocations.
    pub seconds: BTreeMap<String, f64>,
}

/// A run folder.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Creates the folder (and parents) and checks that files can be written in it, before any
    /// work starts.
    ///
    /// # Errors
    /// When the folder cannot be created or written, naming it.
    pub fn create(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).with_context(|| {
            format!(
                "cannot create the output folder {}; choose another with --out",
                root.display()
            )
        })?;
        let probe = root.join(".write-test.tmp");
        std::fs::write(&probe, b"ok")
            .and_then(|()| std::fs::remove_file(&probe))
            .with_context(|| {
                format!(
                    "the output folder {} is not writable; choose another with --out",
                    root.display()
                )
            })?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A path inside the folder.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Records the configuration, or checks that it equals the recorded one for the keys that
    /// change what training computes. Changing only `evaluation.*` or `checkpoint.*` is
    /// allowed (the evaluation re-runs).
    ///
    /// # Errors
    /// When the folder holds a run with another training configuration (the message lists the
    /// differing keys), or `config.json` cannot be read or written.
    pub fn record_config(&self, config: &Value) -> Result<()> {
        let path = self.path("config.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let old: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", path.display()))?;
            let changed: Vec<String> = differences(&old, config)
                .into_iter()
                .filter(|key| !key.starts_with("evaluation.") && !key.starts_with("checkpoint."))
                .filter(|key| key != "source")
                .collect();
            if !changed.is_empty() {
                bail!(
                    "{} holds a run with another configuration (changed: {}); resume it with the \
                     same options, or choose another folder with --out",
                    self.root.display(),
                    changed.join(", ")
                );
            }
        }
        write_json(&path, config)
    }

    /// The stage timings recorded so far.
    pub fn timings(&self) -> Timings {
        std::fs::read_to_string(self.path("timings.json"))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Adds `seconds` to a stage's recorded time.
    ///
    /// # Errors
    /// When `timings.json` cannot be written.
    pub fn add_time(&self, stage: &str, seconds: f64) -> Result<()> {
        let mut timings = self.timings();
        *timings.seconds.entry(stage.to_string()).or_default() += seconds;
        write_json(&self.path("timings.json"), &timings)
    }
}

/// Writes pretty JSON atomically (temporary file, then rename), so that an interruption never
/// leaves a half-written file that a later run would trust.
///
/// # Errors
/// When the file cannot be written, naming it.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot serialise to JSON")?;
    write_atomically(path, text.as_bytes())
}

/// Writes bytes atomically (temporary file in the same folder, then rename).
///
/// # Errors
/// When the file cannot be written, naming it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    supcon_train::write_atomically(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_changed_training_key_is_refused_and_evaluation_keys_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let config = json!({"supcon": {"epochs": 2}, "evaluation": {"severities": [1]}});
        run.record_config(&config).unwrap();
        run.record_config(&json!({"supcon": {"epochs": 2}, "evaluation": {"severities": [5]}}))
            .unwrap();
        let err = run
            .record_config(&json!({"supcon": {"epochs": 3}, "evaluation": {"severities": [5]}}))
            .unwrap_err();
        assert!(
            err.to_string().contains("changed: supcon.epochs"),
            "{err:#}"
        );
    }

    #[test]
    fn timings_accumulate() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        run.add_time("supcon", 1.5).unwrap();
        run.add_time("supcon", 2.0).unwrap();
        assert_eq!(run.timings().seconds["supcon"], 3.5);
    }

    #[test]
    fn an_unwritable_folder_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        // A folder below a regular file cannot be created.
        let err = RunDir::create(&file.join("run")).unwrap_err();
        assert!(err.to_string().contains("a-file/run"), "{err:#}");
    }
}
