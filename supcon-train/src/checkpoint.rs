//! Atomic, verified training checkpoints: one directory per checkpoint, the last K kept.
//!
//! Layout of a checkpoint directory `step-0000001234/`:
//! `model.bpk`, `optimizer.bpk` (and any other payload files), then `manifest.json`, written
//! last, holding the training position, the run's configuration and the size and FNV-1a hash of
//! every payload file. The directory is assembled under a temporary name in the same parent,
//! every file is synced to disk, and the directory is renamed into place, so a reader never
//! sees a partial checkpoint under a final name.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// The checkpoint format this version writes and reads.
pub const CHECKPOINT_FORMAT_VERSION: u32 = 1;

/// The name of the file written last in every checkpoint directory.
pub const MANIFEST_FILE: &str = "manifest.json";

const DIR_PREFIX: &str = "step-";
const TEMP_PREFIX: &str = ".tmp-";

/// Where a run stands: everything besides the tensors that a resumed run needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingPosition {
    /// The training stage that wrote the checkpoint (`supcon`, `linear_probe`, ...).
    pub stage: String,
    /// Optimiser steps completed over the whole run (the schedule's position).
    pub step: usize,
    /// The epoch (0-based) of the next batch to train on.
    pub epoch: usize,
    /// The index of the next batch within that epoch.
    pub batch: usize,
    /// The run's seed (model initialisation and data order and augmentation derive from it).
    pub seed: u64,
    /// The best validation accuracy seen so far, if the stage validates.
    #[serde(default)]
    pub best_val_accuracy: Option<f64>,
    /// The epoch that reached it.
    #[serde(default)]
    pub best_epoch: Option<usize>,
    /// The length of the stage's `metrics.jsonl` when the checkpoint was written; a resumed run
    /// cuts the file back to it so that no step is recorded twice.
    #[serde(default)]
    pub metrics_bytes: u64,
    /// The running sums of the epoch in progress, so that the summary of an epoch interrupted
    /// and resumed covers every step of it.
    #[serde(default)]
    pub epoch_sums: EpochSums,
}

/// Running sums of an epoch's step results. Floating-point sums are kept as their IEEE-754 bit
/// patterns so that a checkpoint restores them exactly.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochSums {
    /// Steps summed.
    pub steps: usize,
    /// Sum of the step losses (`f64::to_bits`).
    pub loss_bits: u64,
    /// Sum of the classifier losses, for stages that have one (`f64::to_bits`).
    pub classifier_loss_bits: Option<u64>,
    /// Correct predictions, for stages that count them.
    pub correct: Option<usize>,
    /// Rows over which `correct` was counted.
    pub rows: usize,
}

/// One payload file of a checkpoint, as recorded in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct FileEntry {
    name: String,
    bytes: u64,
    fnv1a64: String,
}

/// The manifest, written last; its presence marks a complete checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Manifest {
    format_version: u32,
    position: TrainingPosition,
    config: serde_json::Value,
    files: Vec<FileEntry>,
}

/// A checkpoint found on disk whose manifest has been read and whose files have been verified.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The checkpoint directory.
    pub path: PathBuf,
    /// Where the run stood when it was written.
    pub position: TrainingPosition,
    /// The configuration of the run that wrote it.
    pub config: serde_json::Value,
}

impl Checkpoint {
    /// Reads one payload file of the checkpoint.
    ///
    /// # Errors
    /// [`TrainError::CorruptCheckpoint`] when the file is not part of the checkpoint, or
    /// [`TrainError::Io`] when it cannot be read.
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        let path = self.path.join(name);
        if !path.is_file() {
            return Err(TrainError::corrupt(&path, "the file is missing"));
        }
        fs::read(&path).map_err(|e| TrainError::io(&path, e))
    }
}

/// The checkpoints of one training stage: a directory holding one subdirectory per checkpoint.
#[derive(Clone, Debug)]
pub struct CheckpointStore {
    dir: PathBuf,
    keep_last: usize,
}

impl CheckpointStore {
    /// A store in `dir` (created on the first save) that keeps the newest `keep_last`
    /// checkpoints.
    ///
    /// # Panics
    /// When `keep_last` is 0.
    pub fn new(dir: impl Into<PathBuf>, keep_last: usize) -> Self {
        assert!(
            keep_last > 0,
            "a checkpoint store must keep at least one checkpoint"
        );
        Self {
            dir: dir.into(),
            keep_last,
        }
    }

    /// The directory of the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a checkpoint atomically and deletes the oldest ones beyond `keep_last`.
    ///
    /// `files` are the payload files (name, contents); `config` is the run's configuration.
    /// Returns the checkpoint directory.
    ///
    /// # Errors
    /// [`TrainError::Io`] naming the file that could not be written. A failed write leaves the
    /// previous checkpoints untouched.
    pub fn save(
        &self,
        position: &TrainingPosition,
        config: &serde_json::Value,
        files: &[(&str, &[u8])],
    ) -> Result<PathBuf> {
        fs::create_dir_all(&self.dir).map_err(|e| TrainError::io(&self.dir, e))?;
        self.remove_stale_temporaries();

        let name = format!("{DIR_PREFIX}{:010}", position.step);
        let final_dir = self.dir.join(&name);
        let temp_dir = self.dir.join(format!("{TEMP_PREFIX}{name}"));
        if temp_dir.exists() {
            fs::remove_dir_all(&temp_dir).map_err(|e| TrainError::io(&temp_dir, e))?;
        }
        fs::create_dir(&temp_dir).map_err(|e| TrainError::io(&temp_dir, e))?;

        let mut entries = Vec::with_capacity(files.len());
        for (file, contents) in files {
            assert!(
                *file != MANIFEST_FILE && !file.contains('/'),
                "checkpoint payload name {file:?} is reserved or not a plain file name"
            );
            write_synced(&temp_dir.join(file), contents)?;
            entries.push(FileEntry {
                name: file.to_string(),
                bytes: contents.len() as u64,
                fnv1a64: format!("{:016x}", fnv1a64(contents)),
            });
        }
        let manifest = Manifest {
            format_version: CHECKPOINT_FORMAT_VERSION,
            position: position.clone(),
            config: config.clone(),
            files: entries,
        };
        let json = serde_json::to_vec_pretty(&manifest).expect("a manifest always serialises");
        write_synced(&temp_dir.join(MANIFEST_FILE), &json)?;
        sync_dir(&temp_dir);

        // A checkpoint of the same step (a re-run after a crash during pruning) is replaced.
        if final_dir.exists() {
            fs::remove_dir_all(&final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
        }
        fs::rename(&temp_dir, &final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
        sync_dir(&self.dir);

        self.prune()?;
        Ok(final_dir)
    }

    /// The checkpoint directories in the store, oldest first (by step), complete or not.
    pub fn list(&self) -> Result<Vec<PathBuf>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(TrainError::io(&self.dir, e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| TrainError::io(&self.dir, e))?;
            let name = entry.file_name();
            let Some(step) = name
                .to_str()
                .and_then(|n| n.strip_prefix(DIR_PREFIX))
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            if entry.path().is_dir() {
                found.push((step, entry.path()));
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, path)| path).collect())
    }

    /// The newest checkpoint that is complete and intact. A newer one that is damaged is
    /// skipped with a warning naming it; `None` when the store holds no checkpoint at all.
    ///
    /// # Errors
    /// [`TrainError::CorruptCheckpoint`] naming the newest checkpoint when checkpoints exist but
    /// none of them is intact.
    pub fn latest(&self) -> Result<Option<Checkpoint>> {
        let candidates = self.list()?;
        let mut first_error = None;
        for path in candidates.iter().rev() {
            match open(path) {
                Ok(checkpoint) => return Ok(Some(checkpoint)),
                Err(error) => {
                    log::warn!("skipping damaged checkpoint: {error}");
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(None),
        }
    }

    /// Deletes the oldest complete checkpoints beyond `keep_last`.
    fn prune(&self) -> Result<()> {
        let all = self.list()?;
        if all.len() <= self.keep_last {
            return Ok(());
        }
        for path in &all[..all.len() - self.keep_last] {
            log::debug!("removing old checkpoint {}", path.display());
            fs::remove_dir_all(path).map_err(|e| TrainError::io(path, e))?;
        }
        Ok(())
    }

    /// Removes temporaries left behind by a run killed while writing a checkpoint.
    fn remove_stale_temporaries(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let is_temp = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(TEMP_PREFIX));
            if is_temp {
                log::debug!("removing unfinished checkpoint {}", entry.path().display());
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Opens and verifies one checkpoint directory.
///
/// # Errors
/// [`TrainError::MissingCheckpoint`] when `path` does not exist;
/// [`TrainError::CorruptCheckpoint`] when the manifest is missing or unreadable, the format
/// version is unknown, or a payload file is missing, has the wrong size or the wrong hash.
pub fn open(path: &Path) -> Result<Checkpoint> {
    if !path.is_dir() {
        return Err(TrainError::MissingCheckpoint {
            path: path.to_path_buf(),
        });
    }
    let manifest_path = path.join(MANIFEST_FILE);
    let text = fs::read(&manifest_path).map_err(|e| {
        TrainError::corrupt(&manifest_path, format!("the manifest cannot be read ({e})"))
    })?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| {
        TrainError::corrupt(&manifest_path, format!("the manifest is not valid ({e})"))
    })?;
    if manifest.format_version != CHECKPOINT_FORMAT_VERSION {
        return Err(TrainError::corrupt(
            &manifest_path,
            format!(
                "format version {} is not the supported version {CHECKPOINT_FORMAT_VERSION}",
                manifest.format_version
            ),
        ));
    }
    for entry in &manifest.files {
        let file = path.join(&entry.name);
        let contents = fs::read(&file)
            .map_err(|e| TrainError::corrupt(&file, format!("cannot be read ({e})")))?;
        if contents.len() as u64 != entry.bytes {
            return Err(TrainError::corrupt(
                &file,
                format!(
                    "holds {} bytes, the manifest says {}",
                    contents.len(),
                    entry.bytes
                ),
            ));
        }
        let hash = format!("{:016x}", fnv1a64(&contents));
        if hash != entry.fnv1a64 {
            return Err(TrainError::corrupt(
                &file,
                format!("hash {hash} differs from the manifest's {}", entry.fnv1a64),
            ));
        }
    }
    Ok(Checkpoint {
        path: path.to_path_buf(),
        position: manifest.position,
        config: manifest.config,
    })
}

/// Writes `contents` to `path` through a temporary file in the same directory, syncs it and
/// renames it into place, so `path` holds either the old or the new contents.
///
/// # Errors
/// [`TrainError::Io`] naming the file.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = parent.join(format!("{TEMP_PREFIX}{file_name}"));
    write_synced(&temp, contents)?;
    fs::rename(&temp, path).map_err(|e| TrainError::io(path, e))?;
    sync_dir(parent);
    Ok(())
}

fn write_synced(path: &Path, contents: &[u8]) -> Result<()> {
    let mut file = fs::File::create(path).map_err(|e| TrainError::io(path, e))?;
    file.write_all(contents)
        .map_err(|e| TrainError::io(path, e))?;
    file.sync_all().map_err(|e| TrainError::io(path, e))
}

/// Syncs a directory so that renames inside it are durable (a no-op where unsupported).
fn sync_dir(dir: &Path) {
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// The 64-bit FNV-1a hash (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for &byte in bytes {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(step: usize) -> TrainingPosition {
        TrainingPosition {
            stage: "supcon".into(),
            step,
            epoch: step / 10,
            batch: step % 10,
            seed: 7,
            best_val_accuracy: None,
            best_epoch: None,
            metrics_bytes: 0,
            epoch_sums: EpochSums::default(),
        }
    }

    /// Published FNV-1a 64 test vectors (the FNV reference page): "" and "a".
    #[test]
    fn fnv1a64_matches_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn saved_checkpoints_round_trip_and_only_the_last_k_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), 2);
        let config = serde_json::json!({"lr": 0.5});
        for step in [3, 7, 12] {
            let payload = vec![step as u8; 100 + step];
            store
                .save(&position(step), &config, &[("model.bpk", &payload)])
                .unwrap();
        }
        let kept: Vec<_> = store
            .list()
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(kept, ["step-0000000007", "step-0000000012"]);

        let latest = store.latest().unwrap().unwrap();
        assert_eq!(latest.position, position(12));
        assert_eq!(latest.config, config);
        assert_eq!(latest.read("model.bpk").unwrap(), vec![12u8; 112]);
    }

    #[test]
    fn a_damaged_newest_checkpoint_falls_back_to_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), 3);
        let config = serde_json::json!({});
        store
            .save(&position(1), &config, &[("model.bpk", b"first")])
            .unwrap();
        let newest = store
            .save(&position(2), &config, &[("model.bpk", b"second")])
            .unwrap();
        fs::write(newest.join("model.bpk"), b"secomd").unwrap();

        let error = open(&newest).unwrap_err().to_string();
        assert!(
            error.contains("model.bpk") && error.contains("hash"),
            "{error}"
        );
        let latest = store.latest().unwrap().unwrap();
        assert_eq!(latest.position.step, 1);
    }

    #[test]
    fn a_checkpoint_without_manifest_is_reported_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), 3);
        let path = store
            .save(&position(5), &serde_json::json!({}), &[("a", b"x")])
            .unwrap();
        fs::remove_file(path.join(MANIFEST_FILE)).unwrap();
        let error = store.latest().unwrap_err().to_string();
        assert!(
            error.contains("step-0000000005") && error.contains("manifest"),
            "{error}"
        );
    }

    #[test]
    fn a_truncated_file_is_reported_with_both_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), 1);
        let path = store
            .save(&position(1), &serde_json::json!({}), &[("m", b"abcdef")])
            .unwrap();
        fs::write(path.join("m"), b"abc").unwrap();
        let error = open(&path).unwrap_err().to_string();
        assert!(
            error.contains("holds 3 bytes, the manifest says 6"),
            "{error}"
        );
    }

    #[test]
    fn unfinished_temporaries_are_ignored_and_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), 2);
        fs::create_dir_all(dir.path().join(".tmp-step-0000000009")).unwrap();
        assert!(store.latest().unwrap().is_none());
        store
            .save(&position(10), &serde_json::json!({}), &[("m", b"z")])
            .unwrap();
        assert!(!dir.path().join(".tmp-step-0000000009").exists());
    }

    #[test]
    fn opening_a_missing_checkpoint_names_the_path() {
        let error = open(Path::new("/nonexistent/step-1"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/step-1"), "{error}");
    }
}
