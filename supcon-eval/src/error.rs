//! The error type of the accuracy, calibration and plotting functions.

use std::path::PathBuf;

/// What can go wrong when evaluating predictions or drawing a figure.
///
/// Every variant names the offending value, row or shape so that the message alone locates the
/// problem.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// No samples were given.
    #[error("no samples: {what} is empty")]
    Empty {
        /// The input that was empty.
        what: &'static str,
    },

    /// The number of classes is zero.
    #[error("the number of classes must be at least 1, got 0")]
    NoClasses,

    /// A flat score buffer does not split into rows of `num_classes` values.
    #[error(
        "{len} scores do not form rows of {num_classes} classes \
         (expected a multiple of {num_classes})"
    )]
    RaggedScores {
        /// The number of values in the buffer.
        len: usize,
        /// The requested number of classes.
        num_classes: usize,
    },

    /// One row of a nested score array has a different length from the first row.
    #[error("score row {row} has {len} values, but row 0 has {expected}")]
    RowLength {
        /// The row index.
        row: usize,
        /// Its length.
        len: usize,
        /// The length of row 0.
        expected: usize,
    },

    /// A score is NaN or infinite.
    #[error("score [{row}][{class}] is {value}, not a finite number")]
    NonFinite {
        /// The sample index.
        row: usize,
        /// The class index.
        class: usize,
        /// The value.
        value: f32,
    },

    /// Scores that all lie in [0, 1] (and so are read as probabilities) do not sum to 1.
    #[error(
        "score row {row} lies in [0, 1] but sums to {sum}, not 1: pass logits with \
         ClassScores::from_logits, or normalise the probabilities"
    )]
    NotNormalised {
        /// The sample index.
        row: usize,
        /// The row sum.
        sum: f64,
    },

    /// Probabilities passed to a constructor that requires them lie outside [0, 1].
    #[error("probability [{row}][{class}] is {value}, outside [0, 1]")]
    NotAProbability {
        /// The sample index.
        row: usize,
        /// The class index.
        class: usize,
        /// The value.
        value: f32,
    },

    /// A confidence that is NaN or outside [0, 1].
    #[error("confidence {index} is {value}, outside [0, 1]")]
    InvalidConfidence {
        /// The sample index.
        index: usize,
        /// The value.
        value: f32,
    },

    /// The number of labels differs from the number of score rows.
    #[error("{labels} labels for {rows} score rows")]
    LabelCount {
        /// Number of labels.
        labels: usize,
        /// Number of score rows.
        rows: usize,
    },

    /// A label is not a valid class index.
    #[error("label {label} of sample {index} is out of range for {num_classes} classes")]
    LabelOutOfRange {
        /// The sample index.
        index: usize,
        /// The label.
        label: usize,
        /// The number of classes.
        num_classes: usize,
    },

    /// A top-k request with k = 0 or k larger than the number of classes.
    #[error("top-{k} accuracy is undefined for {num_classes} classes (need 1 <= k <= classes)")]
    InvalidTopK {
        /// The requested k.
        k: usize,
        /// The number of classes.
        num_classes: usize,
    },

    /// A calibration binning with no bins.
    #[error("the number of calibration bins must be at least 1, got {0}")]
    InvalidBinCount(usize),

    /// A temperature that is zero, negative or not finite.
    #[error("the temperature must be a finite positive number, got {0}")]
    InvalidTemperature(f64),

    /// A model returned logits of an unexpected shape.
    #[error("the model returned logits of shape {actual:?}, expected {expected:?}")]
    LogitShape {
        /// The shape returned.
        actual: Vec<usize>,
        /// `[batch size, number of classes]`.
        expected: Vec<usize>,
    },

    /// A tensor could not be read back to the host.
    #[error("cannot read the model's logits back to the host: {0}")]
    Readback(String),

    /// A dataset item could not be loaded.
    #[error("cannot load dataset item {index}: {message}")]
    Dataset {
        /// The item index.
        index: usize,
        /// The dataset's message.
        message: String,
    },

    /// A figure path whose extension is neither `.png` nor `.svg`.
    #[error("cannot tell the image format of {0}: use a .png or .svg extension")]
    PlotFormat(PathBuf),

    /// A chart with nothing to draw.
    #[error("nothing to plot in {path}: {reason}")]
    NothingToPlot {
        /// The figure's path.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// The plotting library failed.
    #[error("cannot draw {path}: {message}")]
    Plot {
        /// The figure's path.
        path: PathBuf,
        /// The library's message.
        message: String,
    },

    /// The PNG encoder failed.
    #[error("cannot write {path}: {source}")]
    Image {
        /// The figure's path.
        path: PathBuf,
        /// The encoder's error.
        source: image::ImageError,
    },
}
