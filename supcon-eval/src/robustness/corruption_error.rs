//! Corruption error (CE), mCE and relative mCE, normalised by AlexNet's published errors or by
//! a baseline model, with the calibration of every corruption x severity cell.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::RobustnessError;
use crate::corruption::{Corruption, Severity};

/// AlexNet's top-1 clean error on ImageNet, the normaliser of relative mCE.
pub const ALEXNET_CLEAN_ERROR: f64 = 0.4348;

/// AlexNet's published top-1 error on ImageNet-C for `corruption` at severities 1..=5, the
/// normaliser of CE (Hendrycks & Dietterich; the benchmark repository's README of 2019).
pub fn alexnet_errors(corruption: Corruption) -> [f64; 5] {
    match corruption {
        Corruption::GaussianNoise => [0.69528, 0.82542, 0.93554, 0.98138, 0.99452],
        Corruption::ShotNoise => [0.71224, 0.85108, 0.93574, 0.98182, 0.99146],
        Corruption::ImpulseNoise => [0.78374, 0.89808, 0.94870, 0.98720, 0.99548],
        Corruption::DefocusBlur => [0.65624, 0.73202, 0.85036, 0.91364, 0.94714],
        Corruption::GlassBlur => [0.64308, 0.75054, 0.88806, 0.91622, 0.93344],
        Corruption::MotionBlur => [0.58430, 0.70048, 0.82108, 0.89750, 0.92638],
        Corruption::ZoomBlur => [0.70008, 0.76992, 0.80784, 0.84198, 0.87198],
        Corruption::Snow => [0.71726, 0.88392, 0.86468, 0.91870, 0.94952],
        Corruption::Frost => [0.61390, 0.79734, 0.88790, 0.89942, 0.93430],
        Corruption::Fog => [0.67474, 0.76050, 0.84378, 0.87260, 0.94500],
        Corruption::Brightness => [0.45140, 0.48502, 0.54048, 0.62166, 0.72440],
        Corruption::Contrast => [0.64548, 0.76150, 0.88874, 0.97760, 0.99270],
        Corruption::ElasticTransform => [0.52596, 0.70116, 0.55686, 0.64076, 0.80554],
        Corruption::Pixelate => [0.52218, 0.54620, 0.73728, 0.87092, 0.91262],
        Corruption::JpegCompression => [0.51002, 0.54718, 0.57294, 0.65458, 0.74778],
        Corruption::SpeckleNoise => [0.66192, 0.74440, 0.90246, 0.94548, 0.97268],
        Corruption::GaussianBlur => [0.54732, 0.70444, 0.82574, 0.89864, 0.95940],
        Corruption::Spatter => [0.47196, 0.62194, 0.75052, 0.84132, 0.90182],
        Corruption::Saturate => [0.59342, 0.65514, 0.51174, 0.70834, 0.82260],
    }
}

/// The top-1 errors of a reference model, to normalise CE by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineErrors {
    /// A name for reports, e.g. `alexnet` or `cross_entropy_resnet18`.
    pub name: String,
    /// Its clean top-1 error.
    pub clean_error: f64,
    /// Its top-1 error per corruption at severities 1..=5.
    pub errors: BTreeMap<Corruption, [f64; 5]>,
}

impl BaselineErrors {
    /// AlexNet's published ImageNet-C errors and clean error 0.4348.
    pub fn alexnet() -> Self {
        Self {
            name: "alexnet".to_string(),
            clean_error: ALEXNET_CLEAN_ERROR,
            errors: Corruption::ALL
                .into_iter()
                .map(|c| (c, alexnet_errors(c)))
                .collect(),
        }
    }

    /// The errors of an evaluated model, as a baseline for another (e.g. the cross-entropy
    /// model for SupCon on CIFAR-10-C). Corruptions missing a severity are left out.
    pub fn from_report(name: impl Into<String>, report: &RobustnessReport) -> Self {
        let errors = report
            .corruptions
            .iter()
            .filter_map(|c| {
                let e = c.errors;
                Some((c.corruption, [e[0]?, e[1]?, e[2]?, e[3]?, e[4]?]))
            })
            .collect();
        Self {
            name: name.into(),
            clean_error: report.clean.error,
            errors,
        }
    }
}

/// How CE is normalised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normaliser {
    /// No normalisation: report the unnormalised mean errors only (datasets other than
    /// ImageNet with no baseline).
    None,
    /// A reference model's errors ([`BaselineErrors::alexnet`] for ImageNet-C).
    Baseline(BaselineErrors),
}

impl Normaliser {
    /// AlexNet, the benchmark's normaliser on ImageNet-C.
    pub fn alexnet() -> Self {
        Normaliser::Baseline(BaselineErrors::alexnet())
    }
}

/// Clean (uncorrupted) results of the evaluated model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CleanResult {
    /// Top-1 error in [0, 1].
    pub error: f64,
    /// Expected calibration error, when measured.
    pub ece: Option<f64>,
    /// Mean negative log-likelihood in nats, when measured.
    pub nll: Option<f64>,
    /// Number of images.
    pub num_samples: usize,
}

/// The results of one corruption at one severity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// The corruption.
    pub corruption: Corruption,
    /// The severity.
    pub severity: Severity,
    /// Top-1 error in [0, 1].
    pub error: f64,
    /// Expected calibration error, when measured.
    pub ece: Option<f64>,
    /// Mean negative log-likelihood in nats, when measured.
    pub nll: Option<f64>,
    /// Number of images.
    pub num_samples: usize,
    /// True when the images were not generated exactly as the benchmark does (frost without
    /// the benchmark's textures).
    pub approximate: bool,
}

/// The summary of one corruption over its severities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorruptionSummary {
    /// The corruption.
    pub corruption: Corruption,
    /// Whether mCE averages it (false for the 4 extras).
    pub in_mce: bool,
    /// Top-1 error at severities 1..=5 (`None` where not evaluated).
    pub errors: [Option<f64>; 5],
    /// Mean top-1 error over the evaluated severities.
    pub mean_error: f64,
    /// `CE = 100 * sum_s E_s / sum_s E_s^baseline` (all five severities needed).
    pub ce: Option<f64>,
    /// `relative CE = 100 * sum_s (E_s - E_clean) / sum_s (E_s^baseline - E_clean^baseline)`.
    pub relative_ce: Option<f64>,
    /// Mean ECE over the evaluated severities, when measured.
    pub mean_ece: Option<f64>,
    /// True when any of its cells is approximate.
    pub approximate: bool,
}

/// Corruption robustness of one model: per-cell errors and calibration, CE per corruption,
/// mCE and relative mCE, mean ECE per severity.
///
/// Errors are fractions in [0, 1]; CE, mCE and their relative forms are percentages of the
/// baseline (100 = as robust as the baseline), as the benchmark reports them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RobustnessReport {
    /// The normaliser's name (`alexnet`, a baseline model's name, or `none`).
    pub normaliser: String,
    /// Clean results.
    pub clean: CleanResult,
    /// Every evaluated cell, in corruption then severity order.
    pub cells: Vec<CellResult>,
    /// One summary per evaluated corruption, in [`Corruption::ALL`] order.
    pub corruptions: Vec<CorruptionSummary>,
    /// Mean CE over the 15 benchmark corruptions (all needed).
    pub mce: Option<f64>,
    /// Mean relative CE over the 15 benchmark corruptions.
    pub relative_mce: Option<f64>,
    /// Unnormalised mean top-1 error over the evaluated benchmark cells.
    pub mean_corruption_error: f64,
    /// Mean ECE over the evaluated benchmark corruptions at severities 1..=5.
    pub mean_ece_per_severity: [Option<f64>; 5],
    /// Mean NLL over the evaluated benchmark corruptions at severities 1..=5.
    pub mean_nll_per_severity: [Option<f64>; 5],
    /// True when any cell is approximate (then mCE is not the benchmark's figure).
    pub approximate: bool,
}

fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (count > 0).then(|| sum / count as f64)
}

fn check_error(value: f64, what: String) -> Result<(), RobustnessError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(RobustnessError::InvalidError { what, value })
    }
}

impl RobustnessReport {
    /// Aggregates per-cell results.
    ///
    /// # Errors
    /// [`RobustnessError::InvalidError`] for an error outside [0, 1] (a percentage passed as a
    /// fraction, NaN), [`RobustnessError::DuplicateCell`] when a cell appears twice.
    pub fn compute(
        clean: CleanResult,
        mut cells: Vec<CellResult>,
        normaliser: &Normaliser,
    ) -> Result<Self, RobustnessError> {
        check_error(clean.error, "the clean error".to_string())?;
        for cell in &cells {
            check_error(
                cell.error,
                format!(
                    "the error of {} severity {}",
                    cell.corruption, cell.severity
                ),
            )?;
        }
        if let Normaliser::Baseline(baseline) = normaliser {
            check_error(
                baseline.clean_error,
                format!("{}'s clean error", baseline.name),
            )?;
            for (corruption, errors) in &baseline.errors {
                for (s, &e) in errors.iter().enumerate() {
                    check_error(
                        e,
                        format!(
                            "{}'s error on {corruption} severity {}",
                            baseline.name,
                            s + 1
                        ),
                    )?;
                }
            }
        }
        cells.sort_by_key(|c| (c.corruption, c.severity));
        if let Some(pair) = cells
            .windows(2)
            .find(|w| (w[0].corruption, w[0].severity) == (w[1].corruption, w[1].severity))
        {
            return Err(RobustnessError::DuplicateCell {
                corruption: pair[0].corruption,
                severity: pair[0].severity.get(),
            });
        }

        let mut corruptions = Vec::new();
        for corruption in Corruption::ALL {
            let own: Vec<&CellResult> = cells
                .iter()
                .filter(|c| c.corruption == corruption)
                .collect();
            if own.is_empty() {
                continue;
            }
            let mut errors = [None; 5];
            for cell in &own {
                errors[cell.severity.index()] = Some(cell.error);
            }
            let all: Option<[f64; 5]> = errors
                .iter()
                .copied()
                .collect::<Option<Vec<_>>>()
                .map(|v| [v[0], v[1], v[2], v[3], v[4]]);
            let base = match normaliser {
                Normaliser::Baseline(b) => b.errors.get(&corruption).map(|e| (e, b.clean_error)),
                Normaliser::None => None,
            };
            let (ce, relative_ce) = match (all, base) {
                (Some(e), Some((b, b_clean))) => {
                    let ce = 100.0 * e.iter().sum::<f64>() / b.iter().sum::<f64>();
                    let denominator: f64 = b.iter().map(|v| v - b_clean).sum();
                    let numerator: f64 = e.iter().map(|v| v - clean.error).sum();
                    (
                        Some(ce),
                        (denominator != 0.0).then(|| 100.0 * numerator / denominator),
                    )
                }
                _ => (None, None),
            };
            let eces: Vec<f64> = own.iter().filter_map(|c| c.ece).collect();
            corruptions.push(CorruptionSummary {
                corruption,
                in_mce: corruption.is_benchmark(),
                errors,
                mean_error: mean(own.iter().map(|c| c.error)).unwrap_or(0.0),
                ce,
                relative_ce,
                mean_ece: if eces.len() == own.len() {
                    mean(eces)
                } else {
                    None
                },
                approximate: own.iter().any(|c| c.approximate),
            });
        }

        let benchmark: Vec<&CorruptionSummary> = corruptions.iter().filter(|c| c.in_mce).collect();
        let complete = benchmark.len() == Corruption::BENCHMARK.len();
        let mce = complete
            .then(|| benchmark.iter().map(|c| c.ce).collect::<Option<Vec<_>>>())
            .flatten();
        let relative_mce = complete
            .then(|| {
                benchmark
                    .iter()
                    .map(|c| c.relative_ce)
                    .collect::<Option<Vec<_>>>()
            })
            .flatten();
        let benchmark_cells: Vec<&CellResult> = cells
            .iter()
            .filter(|c| c.corruption.is_benchmark())
            .collect();
        let per_severity = |pick: &dyn Fn(&CellResult) -> Option<f64>| {
            let mut out = [None; 5];
            for severity in Severity::ALL {
                let values: Vec<Option<f64>> = benchmark_cells
                    .iter()
                    .filter(|c| c.severity == severity)
                    .map(|c| pick(c))
                    .collect();
                out[severity.index()] = values
                    .iter()
                    .copied()
                    .collect::<Option<Vec<_>>>()
                    .and_then(mean);
            }
            out
        };

        Ok(Self {
            normaliser: match normaliser {
                Normaliser::None => "none".to_string(),
                Normaliser::Baseline(b) => b.name.clone(),
            },
            clean,
            mce: mce.and_then(mean),
            relative_mce: relative_mce.and_then(mean),
            mean_corruption_error: mean(benchmark_cells.iter().map(|c| c.error)).unwrap_or(0.0),
            mean_ece_per_severity: per_severity(&|c| c.ece),
            mean_nll_per_severity: per_severity(&|c| c.nll),
            approximate: cells.iter().any(|c| c.approximate),
            cells,
            corruptions,
        })
    }

    /// The summary of `corruption`, if evaluated.
    pub fn corruption(&self, corruption: Corruption) -> Option<&CorruptionSummary> {
        self.corruptions.iter().find(|c| c.corruption == corruption)
    }
}
