//! The errors a training run reports.

use std::path::PathBuf;

/// Why a training run or a checkpoint operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A file or directory could not be read or written.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The loss became NaN or infinite; the last good checkpoint is left in place.
    #[error(
        "the loss became {value} at step {step} (epoch {epoch}, batch {batch}); training stopped, \
         the last good checkpoint is {}",
        last_checkpoint.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none".into())
    )]
    NonFiniteLoss {
        /// The global step (0-based) whose loss was not finite.
        step: usize,
        /// The epoch of that step.
        epoch: usize,
        /// The batch within the epoch.
        batch: usize,
        /// The loss value (NaN or ±inf).
        value: f64,
        /// The newest checkpoint written before the failure, if any.
        last_checkpoint: Option<PathBuf>,
    },
    /// A checkpoint exists but cannot be used: missing or truncated files, a checksum mismatch,
    /// or a format this version does not read.
    #[error("checkpoint {path} is unusable: {reason}")]
    CorruptCheckpoint {
        /// The checkpoint directory or file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A checkpoint belongs to a run with another configuration (resuming it would not continue
    /// the same training).
    #[error(
        "checkpoint {path} was written by a run with another configuration ({difference}); use a \
         new run directory or restore the original config"
    )]
    IncompatibleCheckpoint {
        /// The checkpoint directory.
        path: PathBuf,
        /// The first differing setting.
        difference: String,
    },
    /// A checkpoint or model file that the caller asked for does not exist.
    #[error("no checkpoint found at {path}")]
    MissingCheckpoint {
        /// Where one was expected.
        path: PathBuf,
    },
    /// The data could not be loaded.
    #[error(transparent)]
    Data(#[from] supcon_data::DataError),
    /// A model or optimiser could not be serialised, or a metrics file could not be parsed.
    #[error("{0}")]
    Format(String),
    /// The configuration is invalid for this dataset or model.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl TrainError {
    /// An [`TrainError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// A [`TrainError::CorruptCheckpoint`] for `path`.
    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::CorruptCheckpoint {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
