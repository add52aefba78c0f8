//! Validated class scores and labels on the host: the input of every metric.

use serde::{Deserialize, Serialize};

use crate::EvalError;

/// How far a row of probabilities may sum from 1 before it is rejected.
///
/// Generous enough for probabilities rounded to float16 and back; tight enough to catch sigmoid
/// outputs or unnormalised scores that happen to lie in [0, 1].
pub const ROW_SUM_TOLERANCE: f64 = 1e-3;

/// The smallest probability used inside a logarithm: the smallest normal `f32`.
///
/// A probability that underflowed to 0 costs `-ln(f32::MIN_POSITIVE)` = 87.3 nats in the
/// negative log-likelihood instead of infinity.
pub const PROBABILITY_FLOOR: f64 = f32::MIN_POSITIVE as f64;

/// Scores of `N` samples over `C` classes, checked and turned into probabilities.
///
/// Rows are stored flat in row-major order (`[N * C]`, row `i` is sample `i`). When the input
/// was logits they are kept too, so that temperature scaling and the negative log-likelihood
/// use them exactly.
///
/// # Logits or probabilities
/// [`ClassScores::new`] decides as torchmetrics does: if any value of the whole input lies
/// outside [0, 1], the input is read as logits and every row is soft-maxed; otherwise it is read
/// as probabilities. Unlike torchmetrics, probability rows must sum to 1 within
/// [`ROW_SUM_TOLERANCE`], which catches logits that happen to lie in [0, 1]. Use
/// [`ClassScores::from_logits`] to force the logit reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    num_classes: usize,
    probabilities: Vec<f32>,
    logits: Option<Vec<f32>>,
}

impl ClassScores {
    /// Reads flat scores `[N * C]`, as logits or probabilities (see the type's docs).
    ///
    /// # Errors
    /// [`EvalError::NoClasses`], [`EvalError::Empty`], [`EvalError::RaggedScores`] when the
    /// length is not a multiple of `num_classes`, [`EvalError::NonFinite`] for NaN or infinity,
    /// [`EvalError::NotNormalised`] for probability rows that do not sum to 1.
    pub fn new(values: Vec<f32>, num_classes: usize) -> Result<Self, EvalError> {
        check_layout(&values, num_classes)?;
        if values.iter().any(|v| !(0.0..=1.0).contains(v)) {
            Ok(Self::softmax_of(values, num_classes))
        } else {
            Self::checked_probabilities(values, num_classes)
        }
    }

    /// Reads nested scores `[N][C]` (for example parsed from JSON), as [`ClassScores::new`].
    ///
    /// # Errors
    /// As [`ClassScores::new`], and [`EvalError::RowLength`] for rows of unequal length.
    pub fn from_rows<R: AsRef<[f32]>>(rows: &[R]) -> Result<Self, EvalError> {
        let (flat, num_classes) = flatten(rows)?;
        Self::new(flat, num_classes)
    }

    /// Reads flat logits `[N * C]` and soft-maxes every row, whatever their range.
    ///
    /// # Errors
    /// As [`ClassScores::new`], without the row-sum check.
    pub fn from_logits(logits: Vec<f32>, num_classes: usize) -> Result<Self, EvalError> {
        check_layout(&logits, num_classes)?;
        Ok(Self::softmax_of(logits, num_classes))
    }

    /// Reads flat probabilities `[N * C]`; values outside [0, 1] are an error.
    ///
    /// # Errors
    /// As [`ClassScores::new`], and [`EvalError::NotAProbability`] for a value outside [0, 1].
    pub fn from_probabilities(values: Vec<f32>, num_classes: usize) -> Result<Self, EvalError> {
        check_layout(&values, num_classes)?;
        if let Some(i) = values.iter().position(|v| !(0.0..=1.0).contains(v)) {
            return Err(EvalError::NotAProbability {
                row: i / num_classes,
                class: i % num_classes,
                value: values[i],
            });
        }
        Self::checked_probabilities(values, num_classes)
    }

    fn checked_probabilities(values: Vec<f32>, num_classes: usize) -> Result<Self, EvalError> {
        for (row, chunk) in values.chunks_exact(num_classes).enumerate() {
            let sum: f64 = chunk.iter().map(|&p| f64::from(p)).sum();
            if (sum - 1.0).abs() > ROW_SUM_TOLERANCE {
                return Err(EvalError::NotNormalised { row, sum });
            }
        }
        Ok(Self {
            num_classes,
            probabilities: values,
            logits: None,
        })
    }

    fn softmax_of(logits: Vec<f32>, num_classes: usize) -> Self {
        let mut probabilities = Vec::with_capacity(logits.len());
        for row in logits.chunks_exact(num_classes) {
            probabilities.extend(softmax_row(row, 1.0).into_iter().map(|p| p as f32));
        }
        Self {
            num_classes,
            probabilities,
            logits: Some(logits),
        }
    }

    /// The number of samples `N`.
    pub fn num_samples(&self) -> usize {
        self.probabilities.len() / self.num_classes
    }

    /// The number of classes `C`.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// All probabilities, flat `[N * C]`.
    pub fn probabilities(&self) -> &[f32] {
        &self.probabilities
    }

    /// The probabilities of sample `i`, `[C]`.
    ///
    /// # Panics
    /// When `i >= N`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.probabilities[i * self.num_classes..(i + 1) * self.num_classes]
    }

    /// The logits, flat `[N * C]`, when the input was read as logits.
    pub fn logits(&self) -> Option<&[f32]> {
        self.logits.as_deref()
    }

    /// Logits of sample `i` in f64: the given logits, or `ln p` (floored at
    /// [`PROBABILITY_FLOOR`]) when the input was probabilities. `softmax(ln p) = p`, so both
    /// readings describe the same prediction.
    pub(crate) fn logit_row(&self, i: usize) -> Vec<f64> {
        let range = i * self.num_classes..(i + 1) * self.num_classes;
        match &self.logits {
            Some(logits) => logits[range].iter().map(|&z| f64::from(z)).collect(),
            None => self.probabilities[range]
                .iter()
                .map(|&p| f64::from(p).max(PROBABILITY_FLOOR).ln())
                .collect(),
        }
    }

    /// The confidence (largest probability) and the predicted class (its first argmax) of
    /// sample `i`.
    pub fn prediction(&self, i: usize) -> (f32, usize) {
        let row = self.row(i);
        let mut best = 0;
        for (class, &p) in row.iter().enumerate() {
            if p > row[best] {
                best = class;
            }
        }
        (row[best], best)
    }
}

/// Checks the class count, emptiness, row layout and finiteness of a flat score buffer.
fn check_layout(values: &[f32], num_classes: usize) -> Result<(), EvalError> {
    if num_classes == 0 {
        return Err(EvalError::NoClasses);
    }
    if values.is_empty() {
        return Err(EvalError::Empty {
            what: "the score array",
        });
    }
    if values.len() % num_classes != 0 {
        return Err(EvalError::RaggedScores {
            len: values.len(),
            num_classes,
        });
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(EvalError::NonFinite {
            row: i / num_classes,
            class: i % num_classes,
            value: values[i],
        });
    }
    Ok(())
}

/// Flattens nested rows, checking they all have the length of row 0.
fn flatten<R: AsRef<[f32]>>(rows: &[R]) -> Result<(Vec<f32>, usize), EvalError> {
    let Some(first) = rows.first() else {
        return Err(EvalError::Empty {
            what: "the score array",
        });
    };
    let expected = first.as_ref().len();
    let mut flat = Vec::with_capacity(rows.len() * expected);
    for (row, values) in rows.iter().enumerate() {
        let values = values.as_ref();
        if values.len() != expected {
            return Err(EvalError::RowLength {
                row,
                len: values.len(),
                expected,
            });
        }
        flat.extend_from_slice(values);
    }
    Ok((flat, expected))
}

/// `softmax(z / T)` of one row in f64, shifted by the row maximum for stability.
pub(crate) fn softmax_row<Z: Copy + Into<f64>>(row: &[Z], temperature: f64) -> Vec<f64> {
    let scaled: Vec<f64> = row.iter().map(|&z| z.into() / temperature).collect();
    let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = scaled.iter().map(|&z| (z - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// Class scores with one true label per sample: what a model produced on a labelled set.
///
/// Built with [`EvalOutputs::new`], which checks that the labels match the scores, so the
/// metric functions that take it cannot fail on its content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalOutputs {
    scores: ClassScores,
    labels: Vec<usize>,
}

impl EvalOutputs {
    /// Pairs scores with labels.
    ///
    /// # Errors
    /// [`EvalError::LabelCount`] when there is not one label per score row,
    /// [`EvalError::LabelOutOfRange`] for a label `>= C`.
    pub fn new(scores: ClassScores, labels: Vec<usize>) -> Result<Self, EvalError> {
        if labels.len() != scores.num_samples() {
            return Err(EvalError::LabelCount {
                labels: labels.len(),
                rows: scores.num_samples(),
            });
        }
        let num_classes = scores.num_classes();
        if let Some(index) = labels.iter().position(|&label| label >= num_classes) {
            return Err(EvalError::LabelOutOfRange {
                index,
                label: labels[index],
                num_classes,
            });
        }
        Ok(Self { scores, labels })
    }

    /// Reads nested scores `[N][C]` (logits or probabilities, see [`ClassScores`]) and labels.
    ///
    /// # Errors
    /// Those of [`ClassScores::from_rows`] and [`EvalOutputs::new`].
    pub fn from_rows<R: AsRef<[f32]>>(rows: &[R], labels: &[usize]) -> Result<Self, EvalError> {
        Self::new(ClassScores::from_rows(rows)?, labels.to_vec())
    }

    /// The scores.
    pub fn scores(&self) -> &ClassScores {
        &self.scores
    }

    /// The true labels, one per sample.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The number of samples `N`.
    pub fn num_samples(&self) -> usize {
        self.labels.len()
    }

    /// The number of classes `C`.
    pub fn num_classes(&self) -> usize {
        self.scores.num_classes()
    }

    /// Per sample: the confidence (largest probability) and whether its argmax is the label.
    pub fn confidences_and_hits(&self) -> (Vec<f32>, Vec<bool>) {
        (0..self.num_samples())
            .map(|i| {
                let (confidence, predicted) = self.scores.prediction(i);
                (confidence, predicted == self.labels[i])
            })
            .unzip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_outside_the_unit_interval_makes_the_whole_input_logits() {
        // Row 0 alone would pass as probabilities; the 2.0 in row 1 makes every row logits.
        let scores = ClassScores::new(vec![0.5, 0.5, 2.0, 0.0], 2).unwrap();
        assert!(scores.logits().is_some());
        assert!((scores.row(0)[0] - 0.5).abs() < 1e-7);
        let expected = 1.0 / (1.0 + (-2.0f64).exp());
        assert!((f64::from(scores.row(1)[0]) - expected).abs() < 1e-7);
    }

    #[test]
    fn the_first_maximum_is_the_prediction() {
        let scores = ClassScores::new(vec![0.25, 0.375, 0.375], 3).unwrap();
        assert_eq!(scores.prediction(0), (0.375, 1));
    }

    #[test]
    fn logits_of_probabilities_give_the_probabilities_back() {
        let scores = ClassScores::new(vec![0.2, 0.3, 0.5], 3).unwrap();
        let back = softmax_row(&scores.logit_row(0), 1.0);
        for (b, p) in back.iter().zip(scores.row(0)) {
            assert!((b - f64::from(*p)).abs() < 1e-7);
        }
    }
}
