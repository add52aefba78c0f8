//! Accuracy, calibration and corruption robustness for any Burn image classifier.
//!
//! Models enter through [`ImageClassifier`] (normalised images in, logits out);
//! [`collect_outputs`] or [`evaluate_dataset`] run one over labelled images and return
//! [`EvalOutputs`], on which every metric is computed on the host.
//!
//! ```
//! use supcon_eval::{AccuracyReport, CalibrationConfig, EvalOutputs};
//!
//! // Three samples, two classes: scores outside [0, 1] are read as logits and soft-maxed.
//! let logits = [[2.0f32, 0.0], [0.0, 1.0], [1.5, 0.5]];
//! let outputs = EvalOutputs::from_rows(&logits, &[0, 1, 1]).unwrap();
//!
//! let accuracy = AccuracyReport::compute(&outputs);
//! assert!((accuracy.top1 - 2.0 / 3.0).abs() < 1e-12);
//!
//! let calibration = CalibrationConfig::new().compute(&outputs).unwrap();
//! println!("{}", serde_json::to_string_pretty(&calibration).unwrap());
//! ```

pub mod corruption;
pub mod robustness;

pub use corruption::{
    corrupt, Corruption, CorruptionContext, CorruptionError, CorruptionParams, FrostTextures,
    Resolution, Severity,
};
pub use robustness::{
    evaluate_cifar_c, evaluate_imagenet_c, evaluate_robustness, write_corrupted_folder, Normaliser,
    RobustnessConfig, RobustnessError, RobustnessReport,
};

mod accuracy;
mod calibration;
mod error;
mod evaluate;
mod model;
mod outputs;
mod plot;
mod reliability;
mod temperature;

pub use accuracy::{top_k_accuracy, AccuracyReport, ClassAccuracy, ConfusionMatrix};
pub use calibration::{
    brier_score, classwise_calibration_error, negative_log_likelihood, torchmetrics_bin_edges,
    Binning, CalibrationBin, CalibrationConfig, CalibrationReport, ClasswiseCalibration,
    ReliabilityBins,
};
pub use error::EvalError;
pub use evaluate::{
    collect_outputs, evaluate_dataset, evaluate_labeled_images, LabeledBatch, LabeledImageBatcher,
};
pub use model::ImageClassifier;
pub use outputs::{ClassScores, EvalOutputs, PROBABILITY_FLOOR, ROW_SUM_TOLERANCE};
pub use plot::{plot_lines, MIN_FIGURE_SIDE};
pub use reliability::plot_reliability_diagram;
pub use temperature::{
    fit_temperature, scale_scores, TemperatureScaling, MAX_TEMPERATURE, MIN_TEMPERATURE,
};
