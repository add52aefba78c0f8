//! Temperature scaling: one temperature fitted on held-out logits by minimising the NLL.

use serde::{Deserialize, Serialize};

use crate::calibration::{log_sum_exp, negative_log_likelihood};
use crate::outputs::softmax_row;
use crate::{CalibrationConfig, ClassScores, EvalError, EvalOutputs, ReliabilityBins};

/// The smallest temperature the fit considers.
pub const MIN_TEMPERATURE: f64 = 0.01;
/// The largest temperature the fit considers.
pub const MAX_TEMPERATURE: f64 = 100.0;

/// A fitted temperature and what it does on the set it was fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemperatureScaling {
    /// The temperature `T`: calibrated probabilities are `softmax(z / T)`.
    pub temperature: f64,
    /// NLL (nats) at `T = 1`.
    pub nll_before: f64,
    /// NLL (nats) at the fitted `T`.
    pub nll_after: f64,
    /// ECE at `T = 1`, with the binning of the config given to [`fit_temperature`].
    pub ece_before: f64,
    /// ECE at the fitted `T`.
    pub ece_after: f64,
    /// Newton/bisection steps taken.
    pub iterations: usize,
    /// Whether the minimum lies at (or beyond) [`MIN_TEMPERATURE`] or [`MAX_TEMPERATURE`], which
    /// happens when the held-out set is separable (every prediction right: the NLL keeps falling
    /// as `T -> 0`) or degenerate.
    pub at_bound: bool,
}

impl TemperatureScaling {
    /// Rescales `scores` with the fitted temperature.
    pub fn apply(&self, scores: &ClassScores) -> ClassScores {
        scale_scores(scores, self.temperature).expect("a fitted temperature is positive")
    }
}

/// Divides the logits of `scores` by `temperature` and soft-maxes again.
///
/// Scores given as probabilities are scaled through `ln p` (see
/// [`negative_log_likelihood`](crate::negative_log_likelihood)), since `softmax(ln p) = p`.
///
/// # Errors
/// [`EvalError::InvalidTemperature`] when `temperature` is not finite and positive.
pub fn scale_scores(scores: &ClassScores, temperature: f64) -> Result<ClassScores, EvalError> {
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(EvalError::InvalidTemperature(temperature));
    }
    let scaled: Vec<f32> = (0..scores.num_samples())
        .flat_map(|i| {
            scores
                .logit_row(i)
                .into_iter()
                .map(|z| (z / temperature) as f32)
        })
        .collect();
    ClassScores::from_logits(scaled, scores.num_classes())
}

/// Mean NLL at inverse temperature `beta`, with its first and second derivatives in `beta`.
///
/// With `z_i` the logits of sample `i` and `p_i = softmax(beta z_i)`:
/// `NLL(beta) = (1/N) sum_i [logsumexp(beta z_i) - beta z_i,y_i]`,
/// `NLL'(beta) = (1/N) sum_i [E_p_i(z_i) - z_i,y_i]`,
/// `NLL''(beta) = (1/N) sum_i Var_p_i(z_i) >= 0`: the NLL is convex in `beta = 1 / T`.
fn nll_derivatives(logits: &[Vec<f64>], labels: &[usize], beta: f64) -> (f64, f64, f64) {
    let (mut value, mut first, mut second) = (0.0, 0.0, 0.0);
    for (z, &y) in logits.iter().zip(labels) {
        let scaled: Vec<f64> = z.iter().map(|&v| beta * v).collect();
        let p = softmax_row(z, 1.0 / beta);
        let mean: f64 = p.iter().zip(z).map(|(p, z)| p * z).sum();
        let variance: f64 = p.iter().zip(z).map(|(p, z)| p * (z - mean).powi(2)).sum();
        value += log_sum_exp(&scaled) - scaled[y];
        first += mean - z[y];
        second += variance;
    }
    let n = labels.len() as f64;
    (value / n, first / n, second / n)
}

/// Fits one temperature on held-out outputs by minimising the mean NLL, and reports NLL and
/// ECE before and after.
///
/// The NLL is convex in the inverse temperature `beta = 1 / T`, so the fit runs Newton's
/// method on `NLL'(beta) = 0` inside a bracket that shrinks at every step, falling back to
/// bisection (on `ln beta`) whenever a Newton step leaves it; it stops when `beta` moves by
/// less than `1e-12` relative. The search covers `T` in [`MIN_TEMPERATURE`,
/// `MAX_TEMPERATURE`]; a minimum outside is clamped and flagged with `at_bound`.
///
/// # Errors
/// [`EvalError::InvalidBinCount`] when a bin count of `config` is 0.
pub fn fit_temperature(
    held_out: &EvalOutputs,
    config: &CalibrationConfig,
) -> Result<TemperatureScaling, EvalError> {
    let logits: Vec<Vec<f64>> = (0..held_out.num_samples())
        .map(|i| held_out.scores().logit_row(i))
        .collect();
    let labels = held_out.labels();
    let slope = |beta: f64| nll_derivatives(&logits, labels, beta).1;

    let (mut low, mut high) = (1.0 / MAX_TEMPERATURE, 1.0 / MIN_TEMPERATURE);
    let mut iterations = 0;
    let (beta, at_bound) = if slope(low) >= 0.0 {
        (low, true)
    } else if slope(high) <= 0.0 {
        (high, true)
    } else {
        let mut beta = 1.0;
        loop {
            iterations += 1;
            let (_, first, second) = nll_derivatives(&logits, labels, beta);
            if first > 0.0 {
                high = beta;
            } else {
                low = beta;
            }
            let newton = beta - first / second;
            let next = if second > 0.0 && newton > low && newton < high {
                newton
            } else {
                (low * high).sqrt()
            };
            let done = first == 0.0 || (next - beta).abs() <= 1e-12 * beta || iterations >= 200;
            beta = next;
            if done {
                break;
            }
        }
        (beta, false)
    };
    let temperature = 1.0 / beta;
    if at_bound {
        log::warn!(
            "the NLL-minimising temperature lies at the edge of [{MIN_TEMPERATURE}, \
             {MAX_TEMPERATURE}]; using T = {temperature}"
        );
    }

    let scaled = EvalOutputs::new(
        scale_scores(held_out.scores(), temperature)?,
        labels.to_vec(),
    )?;
    let ece = |outputs: &EvalOutputs| {
        ReliabilityBins::from_outputs(outputs, config.num_bins, config.binning).map(|b| b.ece)
    };
    Ok(TemperatureScaling {
        temperature,
        nll_before: negative_log_likelihood(held_out),
        nll_after: nll_derivatives(&logits, labels, beta).0,
        ece_before: ece(held_out)?,
        ece_after: ece(&scaled)?,
        iterations,
        at_bound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derivatives_match_finite_differences() {
        let logits = vec![vec![2.0, -1.0, 0.5], vec![0.1, 0.3, -2.0]];
        let labels = [1, 0];
        let (_, first, second) = nll_derivatives(&logits, &labels, 0.7);
        let h = 1e-5;
        let at = |b: f64| nll_derivatives(&logits, &labels, b);
        let numeric_first = (at(0.7 + h).0 - at(0.7 - h).0) / (2.0 * h);
        let numeric_second = (at(0.7 + h).1 - at(0.7 - h).1) / (2.0 * h);
        assert!(
            (first - numeric_first).abs() < 1e-8,
            "{first} vs {numeric_first}"
        );
        assert!(
            (second - numeric_second).abs() < 1e-8,
            "{second} vs {numeric_second}"
        );
    }

    #[test]
    fn a_separable_set_hits_the_lower_bound() {
        let scores = ClassScores::from_logits(vec![3.0, 0.0, 0.0, 3.0], 2).unwrap();
        let outputs = EvalOutputs::new(scores, vec![0, 1]).unwrap();
        let fit = fit_temperature(&outputs, &CalibrationConfig::new()).unwrap();
        assert!(fit.at_bound);
        assert!((fit.temperature - MIN_TEMPERATURE).abs() < 1e-12);
    }

    #[test]
    fn zero_negative_and_nan_temperatures_are_rejected() {
        let scores = ClassScores::from_logits(vec![1.0, 0.0], 2).unwrap();
        for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                scale_scores(&scores, t),
                Err(EvalError::InvalidTemperature(_))
            ));
        }
    }
}
