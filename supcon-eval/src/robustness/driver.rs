//! Evaluates a classifier on clean images and on every corruption x severity, generated on the
//! fly or read from pre-generated ImageNet-C / CIFAR-10-C data.

use burn::data::dataset::Dataset;
use burn::prelude::Device;
use burn::tensor::{Tensor, TensorData};
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::corruption_error::{CellResult, CleanResult, Normaliser, RobustnessReport};
use super::readers::{CifarC, ImageNetCFolder};
use super::RobustnessError;
use crate::corruption::{
    corrupt, imagenet_crop, Corruption, CorruptionContext, Resolution, Severity,
};
use crate::{
    collect_outputs, negative_log_likelihood, Binning, ImageClassifier, LabeledBatch,
    ReliabilityBins,
};

/// A labelled image as the robustness driver reads it from a dataset.
pub trait LabeledSample: Send {
    /// The 8-bit RGB image.
    fn image(&self) -> &RgbImage;
    /// Its class index.
    fn label(&self) -> usize;
}

impl LabeledSample for supcon_data::LabeledImage {
    fn image(&self) -> &RgbImage {
        &self.image
    }

    fn label(&self) -> usize {
        self.label
    }
}

impl LabeledSample for (RgbImage, usize) {
    fn image(&self) -> &RgbImage {
        &self.0
    }

    fn label(&self) -> usize {
        self.1
    }
}

/// Per-channel normalisation applied to `pixel / 255` before the model:
/// `(x - mean[c]) / std[c]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Channel means (R, G, B).
    pub mean: [f32; 3],
    /// Channel standard deviations (R, G, B).
    pub std: [f32; 3],
}

impl Normalization {
    /// ImageNet's statistics (torchvision's values).
    pub const IMAGENET: Normalization = Normalization {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };
    /// CIFAR-10's statistics (the SupCon reference code's values).
    pub const CIFAR10: Normalization = Normalization {
        mean: [0.4914, 0.4822, 0.4465],
        std: [0.2023, 0.1994, 0.2010],
    };

    /// Turns equally sized images into a normalised `[N, 3, H, W]` tensor.
    ///
    /// # Errors
    /// [`RobustnessError::MixedSizes`] when the images differ in size.
    pub fn to_tensor(
        &self,
        images: &[RgbImage],
        device: &Device,
    ) -> Result<Tensor<4>, RobustnessError> {
        let (width, height) = images.first().map(|i| i.dimensions()).unwrap_or((0, 0));
        if let Some(index) = images
            .iter()
            .position(|i| i.dimensions() != (width, height))
        {
            return Err(RobustnessError::MixedSizes {
                index,
                size: images[index].dimensions(),
                first: (width, height),
            });
        }
        let plane = (width * height) as usize;
        let mut values = vec![0.0f32; images.len() * 3 * plane];
        for (n, image) in images.iter().enumerate() {
            for (p, pixel) in image.pixels().enumerate() {
                for c in 0..3 {
                    let v = f32::from(pixel[c]) / 255.0;
                    values[(n * 3 + c) * plane + p] = (v - self.mean[c]) / self.std[c];
                }
            }
        }
        let shape = [images.len(), 3, height as usize, width as usize];
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }
}

/// Settings of the robustness evaluation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RobustnessConfig {
    /// Corruptions to evaluate (default: all 19).
    pub corruptions: Vec<Corruption>,
    /// Severities to evaluate (default: 1 to 5).
    pub severities: Vec<Severity>,
    /// Images per model call (default 64).
    pub batch_size: usize,
    /// Base seed of the corruptions; image i uses a seed derived from it and i.
    pub seed: u64,
    /// Input normalisation of the model.
    pub normalization: Normalization,
    /// Equal-width bins of the per-cell ECE (default 15).
    pub num_bins: usize,
    /// Show a progress bar on stderr (off by default, for library use).
    pub progress: bool,
}

impl RobustnessConfig {
    /// All 19 corruptions at severities 1-5, batches of 64, seed 0, 15 ECE bins.
    pub fn new(normalization: Normalization) -> Self {
        Self {
            corruptions: Corruption::ALL.to_vec(),
            severities: Severity::ALL.to_vec(),
            batch_size: 64,
            seed: 0,
            normalization,
            num_bins: 15,
            progress: false,
        }
    }

    fn cells(&self) -> Vec<(Corruption, Severity)> {
        self.corruptions
            .iter()
            .flat_map(|&c| self.severities.iter().map(move |&s| (c, s)))
            .collect()
    }

    fn progress_bar(&self, steps: usize) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(steps as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} batches  {per_sec}  ETA {eta}")
                .expect("a valid progress template"),
        );
        bar
    }
}

/// Running top-1 hits, confidences and NLL of one cell.
#[derive(Default)]
struct CellStats {
    confidences: Vec<f32>,
    hits: Vec<bool>,
    nll_sum: f64,
}

impl CellStats {
    fn add<M: ImageClassifier + ?Sized>(
        &mut self,
        model: &M,
        images: &[RgbImage],
        labels: &[usize],
        normalization: &Normalization,
        device: &Device,
    ) -> Result<(), RobustnessError> {
        let batch = LabeledBatch {
            images: normalization.to_tensor(images, device)?,
            labels: labels.to_vec(),
        };
        let outputs = collect_outputs(model, std::iter::once(batch))?;
        let (confidences, hits) = outputs.confidences_and_hits();
        self.nll_sum += negative_log_likelihood(&outputs) * labels.len() as f64;
        self.confidences.extend(confidences);
        self.hits.extend(hits);
        Ok(())
    }

    /// (error, ECE, NLL, samples).
    fn finish(&self, num_bins: usize) -> Result<(f64, f64, f64, usize), RobustnessError> {
        let n = self.hits.len();
        if n == 0 {
            return Err(RobustnessError::EmptyDataset);
        }
        let error = self.hits.iter().filter(|h| !**h).count() as f64 / n as f64;
        let bins =
            ReliabilityBins::compute(&self.confidences, &self.hits, num_bins, Binning::EqualWidth)?;
        Ok((error, bins.ece, self.nll_sum / n as f64, n))
    }
}

/// The seed of image `index`: splitmix64 of the base seed plus the index.
fn image_seed(seed: u64, index: usize) -> u64 {
    let mut z = seed.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Loads items `range` of `dataset` in parallel as (image, label) pairs.
fn load_batch<D, S>(
    dataset: &D,
    range: std::ops::Range<usize>,
) -> Result<(Vec<RgbImage>, Vec<usize>), RobustnessError>
where
    D: Dataset<S> + ?Sized,
    S: LabeledSample,
{
    let items: Vec<(RgbImage, usize)> = range
        .into_par_iter()
        .map(|index| {
            dataset
                .get(index)
                .map(|s| (s.image().clone(), s.label()))
                .map_err(|e| RobustnessError::Dataset {
                    index,
                    message: e.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(items.into_iter().unzip())
}

/// Evaluates `model` on the clean images of `dataset` and on every corruption x severity of
/// `config`, corrupting each batch on the fly (in parallel) with `context`.
///
/// On the ImageNet path every image (clean ones included) is first brought to 224x224 with
/// [`imagenet_crop`]. Each image is loaded once; its corruptions are seeded by `config.seed`
/// and its index, so a run is reproducible. Frost without the benchmark's textures is marked
/// approximate in the report.
///
/// # Errors
/// [`RobustnessError::EmptyDataset`], [`RobustnessError::Dataset`] when an item cannot be
/// loaded, [`RobustnessError::Corruption`], [`RobustnessError::MixedSizes`], and the
/// evaluation errors of the model's outputs ([`RobustnessError::Eval`]).
///
/// # Panics
/// When `config.batch_size` is 0.
pub fn evaluate_robustness<M, D, S>(
    model: &M,
    dataset: &D,
    context: &CorruptionContext,
    config: &RobustnessConfig,
    normaliser: &Normaliser,
    device: &Device,
) -> Result<RobustnessReport, RobustnessError>
where
    M: ImageClassifier + ?Sized,
    D: Dataset<S> + ?Sized,
    S: LabeledSample,
{
    assert!(
        config.batch_size > 0,
        "the batch size must be positive, got 0"
    );
    let len = dataset.len();
    if len == 0 {
        return Err(RobustnessError::EmptyDataset);
    }
    let cells = config.cells();
    let mut clean = CellStats::default();
    let mut stats: Vec<CellStats> = cells.iter().map(|_| CellStats::default()).collect();
    let batches = len.div_ceil(config.batch_size);
    let bar = config.progress_bar(batches);

    for b in 0..batches {
        let range = b * config.batch_size..((b + 1) * config.batch_size).min(len);
        let start = range.start;
        let (images, labels) = load_batch(dataset, range)?;
        let images: Vec<RgbImage> = match context.resolution {
            Resolution::ImageNet224 => images.par_iter().map(imagenet_crop).collect(),
            Resolution::Cifar32 => images,
        };
        clean.add(model, &images, &labels, &config.normalization, device)?;
        for (&(corruption, severity), cell) in cells.iter().zip(&mut stats) {
            let corrupted = images
                .par_iter()
                .enumerate()
                .map(|(k, image)| {
                    corrupt(
                        image,
                        corruption,
                        severity,
                        image_seed(config.seed, start + k),
                        context,
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            cell.add(model, &corrupted, &labels, &config.normalization, device)?;
        }
        log::debug!("robustness: batch {}/{batches} done", b + 1);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let clean = clean_result(clean.finish(config.num_bins)?);
    let results = cells
        .iter()
        .zip(&stats)
        .map(|(&(corruption, severity), s)| {
            let (error, ece, nll, num_samples) = s.finish(config.num_bins)?;
            Ok(CellResult {
                corruption,
                severity,
                error,
                ece: Some(ece),
                nll: Some(nll),
                num_samples,
                approximate: context.is_approximate(corruption),
            })
        })
        .collect::<Result<Vec<_>, RobustnessError>>()?;
    let report = RobustnessReport::compute(clean, results, normaliser)?;
    log::info!(
        "robustness: clean error {:.4}, mean error over the evaluated benchmark corruptions {:.4}, \
         mCE {}",
        report.clean.error,
        report.mean_corruption_error,
        report
            .mce
            .map_or_else(|| "n/a (needs all 15 and a baseline)".to_string(), |v| format!("{v:.2}"))
    );
    Ok(report)
}

/// Evaluates `model` on every item of one dataset (a clean set or one pre-generated cell).
fn evaluate_set<M, D, S>(
    model: &M,
    dataset: &D,
    crop_to_imagenet: bool,
    config: &RobustnessConfig,
    device: &Device,
) -> Result<(f64, f64, f64, usize), RobustnessError>
where
    M: ImageClassifier + ?Sized,
    D: Dataset<S> + ?Sized,
    S: LabeledSample,
{
    assert!(
        config.batch_size > 0,
        "the batch size must be positive, got 0"
    );
    let mut stats = CellStats::default();
    for b in 0..dataset.len().div_ceil(config.batch_size) {
        let range = b * config.batch_size..((b + 1) * config.batch_size).min(dataset.len());
        let (images, labels) = load_batch(dataset, range)?;
        let images = if crop_to_imagenet {
            images.par_iter().map(imagenet_crop).collect()
        } else {
            images
        };
        stats.add(model, &images, &labels, &config.normalization, device)?;
    }
    stats.finish(config.num_bins)
}

/// The clean row of a report from `(error, ece, nll, samples)`.
fn clean_result(stats: (f64, f64, f64, usize)) -> CleanResult {
    let (error, ece, nll, num_samples) = stats;
    CleanResult {
        error,
        ece: Some(ece),
        nll: Some(nll),
        num_samples,
    }
}

fn cell_result(
    corruption: Corruption,
    severity: Severity,
    stats: (f64, f64, f64, usize),
) -> CellResult {
    let (error, ece, nll, num_samples) = stats;
    CellResult {
        corruption,
        severity,
        error,
        ece: Some(ece),
        nll: Some(nll),
        num_samples,
        approximate: false,
    }
}

/// Evaluates `model` on a clean validation set (resized and centre-cropped to 224) and on the
/// cells of a pre-generated ImageNet-C tree that `config` asks for.
///
/// # Errors
/// [`RobustnessError::MissingCell`] when a requested cell is absent, and those of
/// [`evaluate_robustness`].
pub fn evaluate_imagenet_c<M, D, S>(
    model: &M,
    clean: &D,
    folder: &ImageNetCFolder,
    config: &RobustnessConfig,
    normaliser: &Normaliser,
    device: &Device,
) -> Result<RobustnessReport, RobustnessError>
where
    M: ImageClassifier + ?Sized,
    D: Dataset<S> + ?Sized,
    S: LabeledSample,
{
    let clean = clean_result(evaluate_set(model, clean, true, config, device)?);
    let cells = config.cells();
    let bar = config.progress_bar(cells.len());
    let mut results = Vec::new();
    for (corruption, severity) in cells {
        let cell = folder.cell(corruption, severity)?;
        results.push(cell_result(
            corruption,
            severity,
            evaluate_set(model, &cell, false, config, device)?,
        ));
        bar.inc(1);
    }
    bar.finish_and_clear();
    RobustnessReport::compute(clean, results, normaliser)
}

/// Evaluates `model` on a clean test set and on the CIFAR-10-C (or CIFAR-100-C) files that
/// `config` asks for, one corruption file in memory at a time.
///
/// # Errors
/// Those of [`CifarC::corruption`] and of [`evaluate_robustness`].
pub fn evaluate_cifar_c<M, D, S>(
    model: &M,
    clean: &D,
    cifar: &CifarC,
    config: &RobustnessConfig,
    normaliser: &Normaliser,
    device: &Device,
) -> Result<RobustnessReport, RobustnessError>
where
    M: ImageClassifier + ?Sized,
    D: Dataset<S> + ?Sized,
    S: LabeledSample,
{
    let clean = clean_result(evaluate_set(model, clean, false, config, device)?);
    let bar = config.progress_bar(config.corruptions.len() * config.severities.len());
    let mut results = Vec::new();
    for &corruption in &config.corruptions {
        let data = cifar.corruption(corruption)?;
        for &severity in &config.severities {
            let cell = data.severity(severity);
            results.push(cell_result(
                corruption,
                severity,
                evaluate_set(model, &cell, false, config, device)?,
            ));
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    RobustnessReport::compute(clean, results, normaliser)
}
