//! Top-k accuracy, per-class accuracy and the confusion matrix.

use serde::{Deserialize, Serialize};

use crate::{EvalError, EvalOutputs};

/// Top-k accuracy: the fraction of samples whose label is among the `k` highest-scoring
/// classes.
///
/// Classes are ranked by score, ties broken by the lower class index (so top-1 agrees with the
/// argmax used everywhere else): the label of sample `i` is in its top k when
/// `#{c : s_ic > s_iy or (s_ic = s_iy and c < y)} < k`, with `s` the probabilities and `y` the
/// label.
///
/// # Errors
/// [`EvalError::InvalidTopK`] when `k` is 0 or larger than the number of classes.
pub fn top_k_accuracy(outputs: &EvalOutputs, k: usize) -> Result<f64, EvalError> {
    let num_classes = outputs.num_classes();
    if k == 0 || k > num_classes {
        return Err(EvalError::InvalidTopK { k, num_classes });
    }
    let hits = (0..outputs.num_samples())
        .filter(|&i| label_rank(outputs, i) < k)
        .count();
    Ok(hits as f64 / outputs.num_samples() as f64)
}

/// The 0-based rank of sample `i`'s label among its classes (0: the label is the argmax).
fn label_rank(outputs: &EvalOutputs, i: usize) -> usize {
    let row = outputs.scores().row(i);
    let label = outputs.labels()[i];
    let target = row[label];
    row.iter()
        .enumerate()
        .filter(|&(c, &s)| s > target || (s == target && c < label))
        .count()
}

/// Counts of (true class, predicted class) pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// `counts[t][p]`: samples of true class `t` predicted as class `p` (the first argmax).
    pub counts: Vec<Vec<u64>>,
}

impl ConfusionMatrix {
    /// Tallies the argmax predictions against the labels.
    pub fn from_outputs(outputs: &EvalOutputs) -> Self {
        let num_classes = outputs.num_classes();
        let mut counts = vec![vec![0u64; num_classes]; num_classes];
        for (i, &label) in outputs.labels().iter().enumerate() {
            let (_, predicted) = outputs.scores().prediction(i);
            counts[label][predicted] += 1;
        }
        Self { counts }
    }

    /// The number of classes.
    pub fn num_classes(&self) -> usize {
        self.counts.len()
    }

    /// Samples of true class `truth` predicted as `predicted`.
    ///
    /// # Panics
    /// When either index is `>=` the number of classes.
    pub fn get(&self, truth: usize, predicted: usize) -> u64 {
        self.counts[truth][predicted]
    }

    /// The number of samples tallied.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Each row divided by its sum (the recall of each class on the diagonal); a class with no
    /// samples gives a row of zeros.
    pub fn row_normalised(&self) -> Vec<Vec<f64>> {
        self.counts
            .iter()
            .map(|row| {
                let support: u64 = row.iter().sum();
                row.iter()
                    .map(|&n| {
                        if support == 0 {
                            0.0
                        } else {
                            n as f64 / support as f64
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

/// The accuracy on the samples of one true class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAccuracy {
    /// The class index.
    pub class: usize,
    /// The number of samples whose label is this class.
    pub support: u64,
    /// How many of them were predicted correctly (top-1).
    pub correct: u64,
    /// `correct / support`, or `None` (JSON `null`) when the class has no samples.
    pub accuracy: Option<f64>,
}

/// Top-1 and top-5 accuracy, accuracy per class and the confusion matrix of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyReport {
    /// The number of samples `N`.
    pub num_samples: usize,
    /// The number of classes `C`.
    pub num_classes: usize,
    /// Top-1 accuracy in [0, 1].
    pub top1: f64,
    /// Top-5 accuracy in [0, 1], or `None` when there are fewer than 5 classes.
    pub top5: Option<f64>,
    /// The mean of the per-class accuracies over the classes that have samples (balanced
    /// accuracy).
    pub mean_class_accuracy: f64,
    /// Accuracy of every class, in class order.
    pub per_class: Vec<ClassAccuracy>,
    /// The confusion matrix.
    pub confusion_matrix: ConfusionMatrix,
}

impl AccuracyReport {
    /// Computes every accuracy figure of `outputs`.
    pub fn compute(outputs: &EvalOutputs) -> Self {
        let confusion_matrix = ConfusionMatrix::from_outputs(outputs);
        let per_class: Vec<ClassAccuracy> = confusion_matrix
            .counts
            .iter()
            .enumerate()
            .map(|(class, row)| {
                let support: u64 = row.iter().sum();
                let correct = row[class];
                let accuracy = (support > 0).then(|| correct as f64 / support as f64);
                ClassAccuracy {
                    class,
                    support,
                    correct,
                    accuracy,
                }
            })
            .collect();
        let present: Vec<f64> = per_class.iter().filter_map(|c| c.accuracy).collect();
        let mean_class_accuracy = present.iter().sum::<f64>() / present.len() as f64;

        let diagonal: u64 = (0..outputs.num_classes())
            .map(|c| confusion_matrix.get(c, c))
            .sum();
        let top1 = diagonal as f64 / outputs.num_samples() as f64;
        let top5 = top_k_accuracy(outputs, 5).ok();
        Self {
            num_samples: outputs.num_samples(),
            num_classes: outputs.num_classes(),
            top1,
            top5,
            mean_class_accuracy,
            per_class,
            confusion_matrix,
        }
    }
}
