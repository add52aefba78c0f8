//! Corruption robustness: CE, mCE and relative mCE (normalised by AlexNet or a baseline
//! model), per-cell calibration, the evaluation driver, readers of ImageNet-C and CIFAR-10-C
//! data, and a writer of ImageNet-C-style folders.
//!
//! ```
//! use supcon_eval::corruption::{Corruption, Severity};
//! use supcon_eval::robustness::{alexnet_errors, CellResult, CleanResult, Normaliser, RobustnessReport};
//!
//! // A model whose errors are exactly AlexNet's has mCE 100 (and relative mCE 100).
//! let cells = Corruption::ALL
//!     .into_iter()
//!     .flat_map(|c| Severity::ALL.into_iter().map(move |s| (c, s)))
//!     .map(|(corruption, severity)| CellResult {
//!         corruption,
//!         severity,
//!         error: alexnet_errors(corruption)[severity.index()],
//!         ece: None,
//!         nll: None,
//!         num_samples: 50_000,
//!         approximate: false,
//!     })
//!     .collect();
//! let clean = CleanResult { error: 0.4348, ece: None, nll: None, num_samples: 50_000 };
//! let report = RobustnessReport::compute(clean, cells, &Normaliser::alexnet())?;
//! assert!((report.mce.unwrap() - 100.0).abs() < 1e-9);
//! # Ok::<(), supcon_eval::robustness::RobustnessError>(())
//! ```

mod corruption_error;
mod driver;
mod npy;
mod readers;
mod writer;

use std::path::PathBuf;

pub use corruption_error::{
    alexnet_errors, BaselineErrors, CellResult, CleanResult, CorruptionSummary, Normaliser,
    RobustnessReport, ALEXNET_CLEAN_ERROR,
};
pub use driver::{
    evaluate_cifar_c, evaluate_imagenet_c, evaluate_robustness, LabeledSample, Normalization,
    RobustnessConfig,
};
pub use npy::{encode_npy_u8, parse_npy_u8, read_npy_u8, NpyArray};
pub use readers::{CifarC, CifarCCell, CifarCCorruption, FolderCell, ImageNetCFolder};
pub use writer::{write_corrupted_folder, CorruptFolderConfig, CorruptFolderSummary};

use crate::corruption::{Corruption, CorruptionError};
use crate::EvalError;

/// Errors of the robustness evaluation, readers and writer.
#[derive(Debug, thiserror::Error)]
pub enum RobustnessError {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An image file could not be decoded.
    #[error("cannot decode image {path}: {source}")]
    Image {
        /// The file.
        path: PathBuf,
        /// The decoding error.
        source: image::ImageError,
    },
    /// A folder holds none of the expected content.
    #[error("{root} holds no images in the expected layout (<corruption>/<severity>/<class>/<file> for ImageNet-C, <class>/<file> for a source folder)")]
    EmptyTree {
        /// The folder.
        root: PathBuf,
    },
    /// A requested (corruption, severity) folder is absent.
    #[error("missing corruption folder {path}")]
    MissingCell {
        /// The expected folder.
        path: PathBuf,
    },
    /// A class folder that the first cell of the tree does not have.
    #[error("class folder {path} is not among the classes of the tree's first cell")]
    UnknownClass {
        /// The folder.
        path: PathBuf,
    },
    /// A file does not start with numpy's magic string.
    #[error("{path} is not a .npy file (bad magic string)")]
    NpyMagic {
        /// The file.
        path: PathBuf,
    },
    /// An unreadable or unsupported `.npy` header.
    #[error("{path}: bad .npy header: {reason}")]
    NpyHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A `.npy` element type other than unsigned 8-bit.
    #[error("{path} holds dtype {dtype}, expected uint8 ('|u1')")]
    NpyDtype {
        /// The file.
        path: PathBuf,
        /// The header's `descr`.
        dtype: String,
    },
    /// A `.npy` file whose data does not match its shape.
    #[error("{path}: shape {shape:?} needs {expected} bytes of data, the file has {actual} (truncated or padded file)")]
    NpyLength {
        /// The file.
        path: PathBuf,
        /// The header's shape.
        shape: Vec<usize>,
        /// Bytes the shape needs.
        expected: usize,
        /// Bytes present.
        actual: usize,
    },
    /// A `.npy` array of an unexpected shape.
    #[error("{path} has shape {shape:?}, expected {expected}")]
    NpyShape {
        /// The file.
        path: PathBuf,
        /// Its shape.
        shape: Vec<usize>,
        /// The expected layout.
        expected: String,
    },
    /// An item index past the end of a dataset.
    #[error("index {index} is out of range for a dataset of {len} items")]
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// The dataset length.
        len: usize,
    },
    /// A dataset item could not be loaded.
    #[error("dataset item {index}: {message}")]
    Dataset {
        /// The index.
        index: usize,
        /// The dataset's error.
        message: String,
    },
    /// The dataset is empty.
    #[error("the dataset to evaluate is empty")]
    EmptyDataset,
    /// Images of one batch differ in size.
    #[error(
        "image {index} of a batch is {size:?}, the first is {first:?}: resize images to one size"
    )]
    MixedSizes {
        /// Position in the batch.
        index: usize,
        /// Its (width, height).
        size: (u32, u32),
        /// The first image's (width, height).
        first: (u32, u32),
    },
    /// A top-1 error outside [0, 1].
    #[error("{what} is {value}, not a fraction in [0, 1]")]
    InvalidError {
        /// Which error.
        what: String,
        /// Its value.
        value: f64,
    },
    /// A cell given twice.
    #[error("{corruption} severity {severity} appears twice")]
    DuplicateCell {
        /// The corruption.
        corruption: Corruption,
        /// The severity.
        severity: u8,
    },
    /// A corruption failed.
    #[error(transparent)]
    Corruption(#[from] CorruptionError),
    /// The model's outputs could not be evaluated.
    #[error(transparent)]
    Eval(#[from] EvalError),
}
