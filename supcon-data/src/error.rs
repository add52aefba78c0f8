//! The error type of every fallible operation in this crate.

use std::path::PathBuf;

use burn::data::dataset::DatasetError;

/// What can go wrong between files on disk and a batch of tensors.
///
/// Every variant names the file, the index or the value at fault, so a message read in a log is
/// enough to find the problem.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },

    /// A dataset file is missing; the message lists every file the layout expects.
    #[error("{dataset}: {path} is missing; expected in {dir}: {expected}")]
    MissingFile {
        /// Which dataset was being opened (e.g. "CIFAR-10").
        dataset: &'static str,
        /// The missing file.
        path: PathBuf,
        /// The folder that was searched.
        dir: PathBuf,
        /// The expected files and their sizes, as one line.
        expected: String,
    },

    /// A dataset file has the wrong size; the message lists every expected file and size.
    #[error(
        "{dataset}: {path} has {actual} bytes, expected {expected_size} bytes \
         ({records} records of {record_size} bytes); expected files: {expected}"
    )]
    WrongFileSize {
        /// Which dataset was being opened.
        dataset: &'static str,
        /// The file with the wrong size.
        path: PathBuf,
        /// Its size in bytes.
        actual: u64,
        /// The size it should have.
        expected_size: u64,
        /// The number of records the expected size holds.
        records: u64,
        /// The size of one record in bytes.
        record_size: u64,
        /// The expected files and their sizes, as one line.
        expected: String,
    },

    /// A record of a dataset file carries a label outside the dataset's classes.
    #[error(
        "{dataset}: record {record} of {path} has label {label}, outside the {num_classes} \
         classes (a corrupt file, or one of another dataset)"
    )]
    LabelOutOfRange {
        /// Which dataset was being opened.
        dataset: &'static str,
        /// The file holding the record.
        path: PathBuf,
        /// The record's index within that file (0-based).
        record: usize,
        /// The label it carries.
        label: usize,
        /// The number of classes of the dataset.
        num_classes: usize,
    },

    /// An ImageFolder root holds no class folders.
    #[error(
        "no class folders under {root}; expected the layout <root>/<class>/<image> \
         (jpg, jpeg, png, bmp or webp files)"
    )]
    NoClassFolders {
        /// The root that was scanned.
        root: PathBuf,
    },

    /// A class asked for in the allowed-class list has no folder.
    #[error("class {class:?} was requested but {root} has no folder of that name")]
    UnknownClass {
        /// The requested class.
        class: String,
        /// The root that was scanned.
        root: PathBuf,
    },

    /// An image file could not be decoded (corrupt, truncated, or not an image).
    #[error("cannot decode image {path}: {source}")]
    DecodeImage {
        /// The file that failed.
        path: PathBuf,
        /// The decoder's error.
        source: image::ImageError,
    },

    /// A source produced no samples at all.
    #[error("{what} has no samples")]
    Empty {
        /// A description of the empty source.
        what: String,
    },

    /// A configuration value is out of its valid range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// A preset name is not one of the known presets.
    #[error("unknown augmentation preset {name:?}; known presets: {known}")]
    UnknownPreset {
        /// The requested name.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },

    /// Two views in one batch have different sizes, so they cannot share a tensor.
    #[error(
        "sample {index}: a view is {actual_width}x{actual_height} but the batch holds \
         {expected_width}x{expected_height} views; end the pipeline with a fixed-size crop"
    )]
    ViewSizeMismatch {
        /// The dataset index of the sample.
        index: usize,
        /// Width of the offending view.
        actual_width: u32,
        /// Height of the offending view.
        actual_height: u32,
        /// Width of the batch's first view.
        expected_width: u32,
        /// Height of the batch's first view.
        expected_height: u32,
    },

    /// A source failed to return a sample.
    #[error("sample {index}: {source}")]
    Source {
        /// The dataset index that failed.
        index: usize,
        /// The source's error.
        source: DatasetError,
    },
}

impl DataError {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<DataError> for DatasetError {
    fn from(error: DataError) -> Self {
        DatasetError::new(error)
    }
}
