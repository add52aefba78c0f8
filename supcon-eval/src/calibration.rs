//! Calibration error (ECE, MCE, RMS, equal-mass and classwise ECE), NLL and Brier score.

use burn::config::Config;
use serde::{Deserialize, Serialize};

use crate::{EvalError, EvalOutputs};

/// How confidences are grouped into bins.
///
/// For each bin `b` with `n_b` of the `N` samples: `acc_b` is the fraction of them predicted
/// correctly, `conf_b` their mean confidence, and `gap_b = |acc_b - conf_b|`. Then
/// ECE = `sum_b (n_b / N) gap_b`, MCE = `max_b gap_b` over non-empty bins, and
/// RMS = `sqrt(sum_b (n_b / N) gap_b^2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Binning {
    /// `B` bins of equal width with the edges `k / B`, closed on the right as in Guo et al.
    /// (2017): bin `m` (0-based) holds the confidences `c` with `m < c * B <= m + 1`, and bin 0
    /// also holds `c = 0`, so a confidence of exactly 1 falls in the top bin. The product
    /// `c * B` is rounded to f32, the precision of the scores, so a score written as an edge's
    /// decimal (0.2 for 3/15) counts as lying on that edge. Sums run in f64.
    #[default]
    EqualWidth,
    /// Exactly what torchmetrics' `MulticlassCalibrationError` (1.9) computes: edges from
    /// `torch.linspace(0, 1, B + 1)` in f32 (so some are not the nearest f32 to `k / B`), bins
    /// closed on the left (`bucketize(c, edges, right=True) - 1`), a confidence of exactly 1
    /// in an extra bin `B` of its own (so there are `B + 1` bins), and every sum in f32.
    TorchMetrics,
    /// `B` bins holding equal numbers of samples (adaptive ECE, Nixon et al. 2019): samples are
    /// sorted by confidence (ties by index) and split into `min(B, N)` consecutive groups whose
    /// sizes differ by at most one, the larger groups first. A bin's edges are the smallest and
    /// largest confidence in it.
    EqualMass,
}

impl Binning {
    /// The 0-based bin of `confidence` among `num_bins` fixed bins, or `None` for
    /// [`Binning::EqualMass`], whose bins depend on all the samples.
    ///
    /// # Panics
    /// When `num_bins` is 0 or `confidence` is outside [0, 1].
    pub fn bin_index(self, confidence: f32, num_bins: usize) -> Option<usize> {
        assert!(num_bins > 0, "the number of bins must be positive, got 0");
        assert!(
            (0.0..=1.0).contains(&confidence),
            "confidence {confidence} is outside [0, 1]"
        );
        match self {
            Binning::EqualWidth => Some(equal_width_index(confidence, num_bins)),
            Binning::TorchMetrics => Some(torchmetrics_index(
                &torchmetrics_bin_edges(num_bins),
                confidence,
            )),
            Binning::EqualMass => None,
        }
    }
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// The lower edge of the bin.
    pub lower: f64,
    /// The upper edge of the bin.
    pub upper: f64,
    /// The number of samples in the bin.
    pub count: u64,
    /// The fraction of them predicted correctly (0 for an empty bin).
    pub accuracy: f64,
    /// Their mean confidence (0 for an empty bin).
    pub confidence: f64,
    /// `count / N`.
    pub proportion: f64,
}

/// Binned confidences and the calibration errors they give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBins {
    /// The binning rule.
    pub binning: Binning,
    /// The bins in order of confidence (`B + 1` of them for [`Binning::TorchMetrics`]).
    pub bins: Vec<CalibrationBin>,
    /// Expected calibration error, `sum_b (n_b / N) |acc_b - conf_b|`.
    pub ece: f64,
    /// Maximum calibration error, `max_b |acc_b - conf_b|`.
    pub mce: f64,
    /// Root-mean-square calibration error, `sqrt(sum_b (n_b / N) (acc_b - conf_b)^2)`.
    pub rms: f64,
}

impl ReliabilityBins {
    /// Bins the top-1 confidence of every sample of `outputs` (see [`Binning`]).
    ///
    /// # Errors
    /// [`EvalError::InvalidBinCount`] when `num_bins` is 0.
    pub fn from_outputs(
        outputs: &EvalOutputs,
        num_bins: usize,
        binning: Binning,
    ) -> Result<Self, EvalError> {
        let (confidences, hits) = outputs.confidences_and_hits();
        Self::compute(&confidences, &hits, num_bins, binning)
    }

    /// Bins arbitrary (confidence, correct) pairs: `hits[i]` says whether the prediction made
    /// with confidence `confidences[i]` was right.
    ///
    /// # Errors
    /// [`EvalError::Empty`], [`EvalError::LabelCount`] when the two slices differ in length,
    /// [`EvalError::InvalidConfidence`] for NaN or a value outside [0, 1],
    /// [`EvalError::InvalidBinCount`] when `num_bins` is 0.
    pub fn compute(
        confidences: &[f32],
        hits: &[bool],
        num_bins: usize,
        binning: Binning,
    ) -> Result<Self, EvalError> {
        if confidences.is_empty() {
            return Err(EvalError::Empty {
                what: "the confidence array",
            });
        }
        if hits.len() != confidences.len() {
            return Err(EvalError::LabelCount {
                labels: hits.len(),
                rows: confidences.len(),
            });
        }
        if let Some(index) = confidences.iter().position(|c| !(0.0..=1.0).contains(c)) {
            return Err(EvalError::InvalidConfidence {
                index,
                value: confidences[index],
            });
        }
        if num_bins == 0 {
            return Err(EvalError::InvalidBinCount(num_bins));
        }
        Ok(match binning {
            Binning::EqualWidth => equal_width(confidences, hits, num_bins),
            Binning::TorchMetrics => torchmetrics(confidences, hits, num_bins),
            Binning::EqualMass => equal_mass(confidences, hits, num_bins),
        })
    }

    /// The number of samples binned.
    pub fn num_samples(&self) -> u64 {
        self.bins.iter().map(|b| b.count).sum()
    }

    /// The fraction of samples predicted correctly.
    pub fn accuracy(&self) -> f64 {
        let hits: f64 = self.bins.iter().map(|b| b.accuracy * b.count as f64).sum();
        hits / self.num_samples() as f64
    }

    /// The mean confidence over all samples.
    pub fn mean_confidence(&self) -> f64 {
        let total: f64 = self
            .bins
            .iter()
            .map(|b| b.confidence * b.count as f64)
            .sum();
        total / self.num_samples() as f64
    }
}

/// The bin edges torchmetrics uses: `torch.linspace(0, 1, num_bins + 1)` in f32.
///
/// torch fills the first half as `start + step * i` and the second half as
/// `end - step * (steps - 1 - i)`, with `step = (end - start) / (steps - 1)` in f32 and one
/// rounding per edge; that is why edge 6 of 15 is 0.40000004 rather than f32(0.4).
pub fn torchmetrics_bin_edges(num_bins: usize) -> Vec<f32> {
    let steps = num_bins + 1;
    let step = 1.0f32 / num_bins as f32;
    let halfway = steps / 2;
    (0..steps)
        .map(|i| {
            // The product of an f32 and a small integer is exact in f64: one rounding, as torch.
            if i < halfway {
                (f64::from(step) * i as f64) as f32
            } else {
                (1.0 - f64::from(step) * (steps - 1 - i) as f64) as f32
            }
        })
        .collect()
}

/// `bucketize(c, edges, right=True) - 1`: the number of edges `<= c`, minus one, so a
/// confidence of 1 lands in the extra slot `edges.len() - 1`.
fn torchmetrics_index(edges: &[f32], c: f32) -> usize {
    edges.partition_point(|&e| e <= c) - 1
}

/// The 0-based equal-width bin of confidence `c` (see [`Binning::EqualWidth`]).
pub(crate) fn equal_width_index(c: f32, num_bins: usize) -> usize {
    let position = c * num_bins as f32;
    (position.ceil() as usize)
        .saturating_sub(1)
        .min(num_bins - 1)
}

/// Per-bin sums in f64.
#[derive(Clone, Default)]
struct Tally {
    count: u64,
    hits: f64,
    confidence: f64,
}

fn finish(binning: Binning, edges: Vec<(f64, f64)>, tallies: Vec<Tally>) -> ReliabilityBins {
    let total: u64 = tallies.iter().map(|t| t.count).sum();
    let bins: Vec<CalibrationBin> = edges
        .into_iter()
        .zip(tallies)
        .map(|((lower, upper), t)| {
            let n = t.count as f64;
            let (accuracy, confidence) = if t.count == 0 {
                (0.0, 0.0)
            } else {
                (t.hits / n, t.confidence / n)
            };
            let proportion = n / total as f64;
            CalibrationBin {
                lower,
                upper,
                count: t.count,
                accuracy,
                confidence,
                proportion,
            }
        })
        .collect();

    let (mut ece, mut mce, mut squared) = (0.0f64, 0.0f64, 0.0f64);
    for bin in bins.iter().filter(|b| b.count > 0) {
        let gap = (bin.accuracy - bin.confidence).abs();
        ece += bin.proportion * gap;
        mce = mce.max(gap);
        squared += bin.proportion * gap * gap;
    }
    ReliabilityBins {
        binning,
        bins,
        ece,
        mce,
        rms: squared.sqrt(),
    }
}

fn equal_width(confidences: &[f32], hits: &[bool], num_bins: usize) -> ReliabilityBins {
    let mut tallies = vec![Tally::default(); num_bins];
    for (&c, &hit) in confidences.iter().zip(hits) {
        let t = &mut tallies[equal_width_index(c, num_bins)];
        t.count += 1;
        t.hits += f64::from(u8::from(hit));
        t.confidence += f64::from(c);
    }
    let b = num_bins as f64;
    let edges = (0..num_bins)
        .map(|m| (m as f64 / b, (m + 1) as f64 / b))
        .collect();
    finish(Binning::EqualWidth, edges, tallies)
}

fn equal_mass(confidences: &[f32], hits: &[bool], num_bins: usize) -> ReliabilityBins {
    let n = confidences.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| confidences[a].total_cmp(&confidences[b]).then(a.cmp(&b)));

    let groups = num_bins.min(n);
    let (base, extra) = (n / groups, n % groups);
    let (mut edges, mut tallies) = (Vec::with_capacity(groups), Vec::with_capacity(groups));
    let mut start = 0;
    for g in 0..groups {
        let members = &order[start..start + base + usize::from(g < extra)];
        start += members.len();
        let mut t = Tally::default();
        for &i in members {
            t.count += 1;
            t.hits += f64::from(u8::from(hits[i]));
            t.confidence += f64::from(confidences[i]);
        }
        let lower = f64::from(confidences[members[0]]);
        let upper = f64::from(confidences[members[members.len() - 1]]);
        edges.push((lower, upper));
        tallies.push(t);
    }
    finish(Binning::EqualMass, edges, tallies)
}

/// torchmetrics' computation, step by step in f32 so that it agrees to the last bits.
fn torchmetrics(confidences: &[f32], hits: &[bool], num_bins: usize) -> ReliabilityBins {
    let edges = torchmetrics_bin_edges(num_bins);
    let slots = edges.len();

    let (mut count, mut accuracy, mut confidence) =
        (vec![0f32; slots], vec![0f32; slots], vec![0f32; slots]);
    for (&c, &hit) in confidences.iter().zip(hits) {
        let slot = torchmetrics_index(&edges, c);
        count[slot] += 1.0;
        confidence[slot] += c;
        accuracy[slot] += f32::from(u8::from(hit));
    }
    let total: f32 = count.iter().sum();
    for s in 0..slots {
        // nan_to_num(sum / count): an empty bin reads 0.
        let divide = |sum: f32| if count[s] == 0.0 { 0.0 } else { sum / count[s] };
        accuracy[s] = divide(accuracy[s]);
        confidence[s] = divide(confidence[s]);
    }
    let proportion: Vec<f32> = count.iter().map(|&n| n / total).collect();

    let (mut ece, mut mce, mut squared) = (0f32, 0f32, 0f32);
    for s in 0..slots {
        let gap = accuracy[s] - confidence[s];
        ece += gap.abs() * proportion[s];
        mce = mce.max(gap.abs());
        squared += gap * gap * proportion[s];
    }
    let rms = if squared > 0.0 { squared.sqrt() } else { 0.0 };

    let bins = (0..slots)
        .map(|s| {
            let lower = f64::from(edges[s]);
            let upper = f64::from(*edges.get(s + 1).unwrap_or(&1.0));
            CalibrationBin {
                lower,
                upper,
                count: count[s] as u64,
                accuracy: f64::from(accuracy[s]),
                confidence: f64::from(confidence[s]),
                proportion: f64::from(proportion[s]),
            }
        })
        .collect();
    ReliabilityBins {
        binning: Binning::TorchMetrics,
        bins,
        ece: f64::from(ece),
        mce: f64::from(mce),
        rms: f64::from(rms),
    }
}

/// Classwise ECE (Kull et al. 2019): the calibration error of every class's own probability,
/// averaged over classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClasswiseCalibration {
    /// For class `k`: the ECE of the pairs `(p_ik, [y_i = k])` over all samples `i`, binned by
    /// `p_ik`.
    pub per_class: Vec<f64>,
    /// The mean of `per_class`.
    pub mean: f64,
}

/// Computes the classwise ECE of `outputs` with `num_bins` bins of the given rule.
///
/// # Errors
/// [`EvalError::InvalidBinCount`] when `num_bins` is 0.
pub fn classwise_calibration_error(
    outputs: &EvalOutputs,
    num_bins: usize,
    binning: Binning,
) -> Result<ClasswiseCalibration, EvalError> {
    let num_classes = outputs.num_classes();
    let probabilities = outputs.scores().probabilities();
    let per_class = (0..num_classes)
        .map(|k| {
            let p: Vec<f32> = probabilities
                .iter()
                .skip(k)
                .step_by(num_classes)
                .copied()
                .collect();
            let hits: Vec<bool> = outputs.labels().iter().map(|&y| y == k).collect();
            ReliabilityBins::compute(&p, &hits, num_bins, binning).map(|bins| bins.ece)
        })
        .collect::<Result<Vec<f64>, EvalError>>()?;
    let mean = per_class.iter().sum::<f64>() / num_classes as f64;
    Ok(ClasswiseCalibration { per_class, mean })
}

/// `ln sum_j exp(x_j)`, shifted by the maximum.
pub(crate) fn log_sum_exp(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + values.iter().map(|&v| (v - max).exp()).sum::<f64>().ln()
}

/// Mean negative log-likelihood of the labels, `-(1/N) sum_i ln p_i,y_i`, in nats.
///
/// Computed in f64 from the logits when the input was logits (`ln p = z_y - logsumexp(z)`), and
/// from `ln max(p, f32::MIN_POSITIVE)` renormalised over the row otherwise, so a probability
/// that underflowed to 0 costs 87.3 nats rather than infinity.
pub fn negative_log_likelihood(outputs: &EvalOutputs) -> f64 {
    let total: f64 = outputs
        .labels()
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            let z = outputs.scores().logit_row(i);
            log_sum_exp(&z) - z[y]
        })
        .sum();
    total / outputs.num_samples() as f64
}

/// Multi-class Brier score, `(1/N) sum_i sum_k (p_ik - [y_i = k])^2` (0 is perfect, 2 is the
/// worst), in f64.
pub fn brier_score(outputs: &EvalOutputs) -> f64 {
    let total: f64 = outputs
        .labels()
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            outputs
                .scores()
                .row(i)
                .iter()
                .enumerate()
                .map(|(k, &p)| (f64::from(p) - f64::from(u8::from(k == y))).powi(2))
                .sum::<f64>()
        })
        .sum();
    total / outputs.num_samples() as f64
}

/// Settings of a calibration report.
#[derive(Config, Debug)]
pub struct CalibrationConfig {
    /// The number of equal-width bins of ECE, MCE, RMS, classwise ECE and the diagram.
    #[config(default = 15)]
    pub num_bins: usize,
    /// The equal-width rule: [`Binning::EqualWidth`] or [`Binning::TorchMetrics`].
    #[config(default = "Binning::EqualWidth")]
    pub binning: Binning,
    /// The number of bins of the equal-mass (adaptive) ECE.
    #[config(default = 15)]
    pub adaptive_bins: usize,
}

/// Every calibration figure of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationReport {
    /// The number of samples `N`.
    pub num_samples: usize,
    /// The number of classes `C`.
    pub num_classes: usize,
    /// Expected calibration error of the top-1 confidence.
    pub ece: f64,
    /// Maximum calibration error.
    pub mce: f64,
    /// Root-mean-square calibration error.
    pub rms: f64,
    /// ECE with equal-mass bins.
    pub adaptive_ece: f64,
    /// The number of equal-mass bins used, `min(adaptive_bins, N)`.
    pub adaptive_bins: usize,
    /// Classwise ECE (mean over classes).
    pub classwise_ece: f64,
    /// Mean negative log-likelihood in nats.
    pub nll: f64,
    /// Multi-class Brier score.
    pub brier: f64,
    /// The bins behind `ece`, `mce` and `rms`, as drawn in the reliability diagram.
    pub reliability: ReliabilityBins,
}

impl CalibrationConfig {
    /// Computes every calibration figure of `outputs`.
    ///
    /// # Errors
    /// [`EvalError::InvalidBinCount`] when a bin count is 0.
    pub fn compute(&self, outputs: &EvalOutputs) -> Result<CalibrationReport, EvalError> {
        let reliability = ReliabilityBins::from_outputs(outputs, self.num_bins, self.binning)?;
        let adaptive =
            ReliabilityBins::from_outputs(outputs, self.adaptive_bins, Binning::EqualMass)?;
        let classwise = classwise_calibration_error(outputs, self.num_bins, self.binning)?;
        Ok(CalibrationReport {
            num_samples: outputs.num_samples(),
            num_classes: outputs.num_classes(),
            ece: reliability.ece,
            mce: reliability.mce,
            rms: reliability.rms,
            adaptive_ece: adaptive.ece,
            adaptive_bins: adaptive.bins.len(),
            classwise_ece: classwise.mean,
            nll: negative_log_likelihood(outputs),
            brier: brier_score(outputs),
            reliability,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_width_bins_are_closed_on_the_right() {
        assert_eq!(equal_width_index(0.0, 15), 0);
        assert_eq!(
            equal_width_index(0.2, 15),
            2,
            "0.2 = 3/15 is the top of bin 2"
        );
        assert_eq!(equal_width_index(0.2001, 15), 3);
        assert_eq!(equal_width_index(1.0, 15), 14);
        assert_eq!(equal_width_index(0.5, 2), 0);
        assert_eq!(equal_width_index(0.75, 1), 0);
    }

    #[test]
    fn equal_mass_splits_like_array_split() {
        let confidences = [0.9, 0.1, 0.5, 0.3, 0.7, 0.6, 0.2];
        let hits = [true; 7];
        let bins = ReliabilityBins::compute(&confidences, &hits, 3, Binning::EqualMass).unwrap();
        let counts: Vec<u64> = bins.bins.iter().map(|b| b.count).collect();
        assert_eq!(counts, [3, 2, 2]);
        assert_eq!(
            (bins.bins[0].lower, bins.bins[0].upper),
            (0.1f32.into(), 0.3f32.into())
        );
        let few = ReliabilityBins::compute(&confidences[..2], &hits[..2], 5, Binning::EqualMass);
        assert_eq!(few.unwrap().bins.len(), 2, "never more bins than samples");
    }
}
