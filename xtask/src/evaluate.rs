//! Evaluating a trained classifier: clean accuracy and calibration on the test set, then the
//! corruption suite (generated on the fly or read from pre-generated files).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::*;
use image::RgbImage;
use serde::{Deserialize, Serialize};
use supcon_data::{Compose, LabeledImage, Preset, Transform};
use supcon_eval::corruption::{Corruption, CorruptionContext, Severity};
use supcon_eval::robustness::{
    evaluate_cifar_c, evaluate_imagenet_c, evaluate_robustness, CifarC, ImageNetCFolder,
    Normaliser, Normalization, RobustnessConfig, RobustnessReport,
};
use supcon_eval::{
    evaluate_dataset, top_k_accuracy, AccuracyReport, CalibrationConfig, ImageClassifier,
    LabeledBatch, ReliabilityBins,
};
use supcon_models::ClassifierModel;

use crate::config::{DataSection, EvaluationSection};
use crate::datasets::Source;
use crate::report::{CorruptionResult, ModelResults};

/// A classifier in inference mode, seen through the evaluation trait.
pub struct Classifier {
    model: ClassifierModel,
    num_classes: usize,
}

impl Classifier {
    /// Wraps a model (put in inference mode: no autodiff, BatchNorm on running statistics).
    pub fn new(model: ClassifierModel, num_classes: usize) -> Self {
        Self {
            model: model.valid(),
            num_classes,
        }
    }
}

impl ImageClassifier for Classifier {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.model.forward(images)
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }
}

/// Turns test images into normalised batches with the trainer's test-time transform
/// (`Preset::Eval`: shorter side resized to `image_size / 0.875` and centre-cropped for sides of
/// 64 px or more, a plain resize below), then normalises.
#[derive(Clone, Debug)]
pub struct EvalBatcher {
    transform: Compose,
    normalization: Normalization,
}

impl EvalBatcher {
    /// The test-time preprocessing of a configuration.
    pub fn new(data: &DataSection) -> Self {
        Self {
            transform: Preset::Eval.build(data.image_size),
            normalization: normalization(data),
        }
    }

    fn prepare(&self, image: RgbImage) -> RgbImage {
        // The transform is deterministic; the generator is never drawn from.
        let mut rng = supcon_data::seed::rng_from_seed(0);
        self.transform.apply(image, &mut rng)
    }
}

impl Batcher<LabeledImage, LabeledBatch> for EvalBatcher {
    fn batch(&self, items: Vec<LabeledImage>, device: &Device) -> LabeledBatch {
        use rayon::prelude::*;
        let (images, labels): (Vec<RgbImage>, Vec<usize>) = items
            .into_par_iter()
            .map(|item| (self.prepare(item.image), item.label))
            .unzip();
        let images = self
            .normalization
            .to_tensor(&images, device)
            .expect("the eval transform gives every image the same size");
        LabeledBatch { images, labels }
    }
}

/// The normalisation of a configuration.
pub fn normalization(data: &DataSection) -> Normalization {
    Normalization {
        mean: data.mean.map(|v| v as f32),
        std: data.std.map(|v| v as f32),
    }
}

/// A source seen as `(image, label)` pairs at the model's input size (for the corruption suite).
struct Prepared {
    source: Source,
    batcher: Option<EvalBatcher>,
}

impl Dataset<(RgbImage, usize)> for Prepared {
    fn get(&self, index: usize) -> Result<(RgbImage, usize), DatasetError> {
        let item = self.source.get(index)?;
        let image = match &self.batcher {
            Some(batcher) => batcher.prepare(item.image),
            None => item.image,
        };
        Ok((image, item.label))
    }

    fn len(&self) -> usize {
        self.source.len()
    }
}

/// Where corrupted test data comes from.
pub enum CorruptedData {
    /// Corrupt the test images on the fly with this context.
    Generate(CorruptionContext),
    /// A pre-generated ImageNet-C tree.
    ImageNetC(ImageNetCFolder, PathBuf),
    /// Pre-generated CIFAR-10-C / CIFAR-100-C `.npy` files.
    CifarC(CifarC, PathBuf),
}

impl CorruptedData {
    /// Opens a pre-generated folder: `.npy` files (CIFAR-C) or an ImageNet-C tree.
    ///
    /// # Errors
    /// When the folder does not hold either layout.
    pub fn open(dir: &Path) -> Result<Self> {
        let has_npy = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the corrupted data folder {}", dir.display()))?
            .filter_map(|e| e.ok())
            .any(|e| e.path().extension().is_some_and(|x| x == "npy"));
        if has_npy {
            let data = CifarC::open(dir).with_context(|| {
                format!(
                    "{} is not a CIFAR-10-C folder (labels.npy and <corruption>.npy)",
                    dir.display()
                )
            })?;
            Ok(Self::CifarC(data, dir.to_path_buf()))
        } else {
            let data = ImageNetCFolder::open(dir).with_context(|| {
                format!(
                    "{} is not an ImageNet-C tree (<corruption>/<severity>/<class>/<image>)",
                    dir.display()
                )
            })?;
            Ok(Self::ImageNetC(data, dir.to_path_buf()))
        }
    }

    /// `generated` or the folder's path, for the report.
    pub fn describe(&self) -> String {
        match self {
            Self::Generate(_) => "generated on the fly from the test set".to_string(),
            Self::ImageNetC(_, dir) | Self::CifarC(_, dir) => dir.display().to_string(),
        }
    }

    /// Whether a corruption is approximate (frost without textures, generated only).
    pub fn is_approximate(&self, corruption: Corruption) -> bool {
        match self {
            Self::Generate(context) => context.is_approximate(corruption),
            _ => false,
        }
    }
}

/// Everything an evaluation produced, as cached in `<out>/eval/<model>.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Evaluation {
    /// The evaluation settings it was computed with (a cache is valid only for these).
    pub settings: EvaluationSection,
    /// The corrupted data's origin.
    pub corruption_source: String,
    /// The model file's size and modification time when it was computed (a retrained model
    /// invalidates the cache).
    pub model_fingerprint: Option<String>,
    /// The results table.
    pub results: ModelResults,
    /// The clean reliability diagram's bins.
    pub reliability: ReliabilityBins,
    /// The corruption suite's full report (`None` when no corruption was evaluated).
    pub robustness: Option<RobustnessReport>,
}

/// What the evaluation needs besides the model.
pub struct EvalSetup<'a> {
    /// The test split.
    pub test: Source,
    /// The subset of the test split that is corrupted.
    pub corruption_subset: Source,
    /// Data settings (resolution, normalisation).
    pub data: &'a DataSection,
    /// Evaluation settings.
    pub settings: &'a EvaluationSection,
    /// Corrupted data.
    pub corrupted: &'a CorruptedData,
    /// Use AlexNet's errors to normalise (ImageNet).
    pub imagenet_normaliser: bool,
    /// Seed of the corruptions.
    pub seed: u64,
    /// Show progress bars.
    pub progress: bool,
}

/// Evaluates a classifier: clean top-1/top-5/ECE/NLL on the whole test split, then error and
/// ECE under every corruption and severity.
///
/// # Errors
/// When a test image cannot be read, a corruption fails, or the model's outputs are invalid.
pub fn evaluate(model: &Classifier, setup: &EvalSetup<'_>, device: &Device) -> Result<Evaluation> {
    let settings = setup.settings;
    let batcher = EvalBatcher::new(setup.data);
    let outputs = evaluate_dataset(model, &*setup.test, &batcher, settings.batch_size, device)
        .context("clean evaluation failed")?;
    let accuracy = AccuracyReport::compute(&outputs);
    let top5 = top_k_accuracy(&outputs, 5.min(model.num_classes()))?;
    let calibration = CalibrationConfig::new()
        .with_num_bins(settings.calibration_bins)
        .compute(&outputs)
        .context("calibration failed")?;

    let robustness = if settings.corruptions.is_empty() {
        None
    } else {
        Some(corruption_suite(model, setup, device)?)
    };

    let mut results = ModelResults {
        top1: accuracy.top1,
        top5,
        ece: calibration.ece,
        nll: calibration.nll,
        test_images: accuracy.num_samples,
        mean_corruption_error: None,
        relative_corruption_error: None,
        mce: None,
        relative_mce: None,
        corruptions: BTreeMap::new(),
        error_by_severity: Vec::new(),
        ece_by_severity: Vec::new(),
    };
    if let Some(report) = &robustness {
        fill_corruption_results(&mut results, report, settings, setup.corrupted);
    }
    Ok(Evaluation {
        settings: settings.clone(),
        corruption_source: setup.corrupted.describe(),
        model_fingerprint: None,
        results,
        reliability: calibration.reliability,
        robustness,
    })
}

fn corruption_suite(
    model: &Classifier,
    setup: &EvalSetup<'_>,
    device: &Device,
) -> Result<RobustnessReport> {
    let settings = setup.settings;
    let severities = settings
        .severities
        .iter()
        .map(|&s| Severity::new(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let config = RobustnessConfig {
        corruptions: settings.corruptions.clone(),
        severities,
        batch_size: settings.batch_size,
        seed: setup.seed,
        normalization: normalization(setup.data),
        num_bins: settings.calibration_bins,
        progress: setup.progress,
    };
    let normaliser = if setup.imagenet_normaliser {
        Normaliser::alexnet()
    } else {
        Normaliser::None
    };
    let report = match setup.corrupted {
        CorruptedData::Generate(context) => {
            // The ImageNet path crops to 224 itself; the CIFAR path corrupts images at the
            // model's input size.
            let imagenet = context.resolution == supcon_eval::corruption::Resolution::ImageNet224;
            let needs_resize = first_size(&setup.corruption_subset) != Some(setup.data.image_size);
            let prepared = Prepared {
                source: setup.corruption_subset.clone(),
                batcher: (!imagenet && needs_resize).then(|| EvalBatcher::new(setup.data)),
            };
            evaluate_robustness(model, &prepared, context, &config, &normaliser, device)?
        }
        CorruptedData::ImageNetC(folder, _) => {
            let clean = Prepared {
                source: setup.corruption_subset.clone(),
                batcher: None,
            };
            evaluate_imagenet_c(model, &clean, folder, &config, &normaliser, device)?
        }
        CorruptedData::CifarC(data, _) => {
            let clean = Prepared {
                source: setup.corruption_subset.clone(),
                batcher: None,
            };
            evaluate_cifar_c(model, &clean, data, &config, &normaliser, device)?
        }
    };
    Ok(report)
}

fn first_size(source: &Source) -> Option<u32> {
    let item = source.get(0).ok()?;
    let (w, h) = item.image.dimensions();
    (w == h).then_some(w)
}

/// Copies the suite's per-cell numbers into the report's layout (fractions throughout).
fn fill_corruption_results(
    results: &mut ModelResults,
    report: &RobustnessReport,
    settings: &EvaluationSection,
    corrupted: &CorruptedData,
) {
    let mut error_sum = vec![(0.0, 0usize); settings.severities.len()];
    let mut ece_sum = vec![(0.0, 0usize); settings.severities.len()];
    let mut all = (0.0, 0usize);
    for summary in &report.corruptions {
        let corruption = summary.corruption;
        let mut errors = Vec::new();
        let mut eces = Vec::new();
        for (i, &level) in settings.severities.iter().enumerate() {
            let cell = report
                .cells
                .iter()
                .find(|c| c.corruption == corruption && c.severity.get() == level);
            if let Some(cell) = cell {
                errors.push(cell.error);
                eces.push(cell.ece.unwrap_or(f64::NAN));
                error_sum[i].0 += cell.error;
                error_sum[i].1 += 1;
                if let Some(ece) = cell.ece {
                    ece_sum[i].0 += ece;
                    ece_sum[i].1 += 1;
                }
                all.0 += cell.error;
                all.1 += 1;
            }
        }
        results.corruptions.insert(
            corruption.name().to_string(),
            CorruptionResult {
                mean_error: summary.mean_error,
                error: errors,
                ece: eces,
                approximate: summary.approximate || corrupted.is_approximate(corruption),
            },
        );
    }
    let mean = |(sum, n): (f64, usize)| if n > 0 { sum / n as f64 } else { f64::NAN };
    results.error_by_severity = error_sum.into_iter().map(mean).collect();
    results.ece_by_severity = ece_sum.into_iter().map(mean).collect();
    // Every evaluated cell counts (extras included), so the figure is defined for any subset of
    // corruptions; `mce` follows the benchmark and averages the 15 only.
    results.mean_corruption_error = (all.1 > 0).then(|| mean(all));
    results.mce = report.mce.map(|v| v / 100.0);
    results.relative_mce = report.relative_mce.map(|v| v / 100.0);
}
