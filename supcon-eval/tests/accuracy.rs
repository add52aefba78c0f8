//! Top-k accuracy, per-class accuracy and the confusion matrix on hand-worked cases.

use supcon_eval::{top_k_accuracy, AccuracyReport, EvalError, EvalOutputs};

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() < 1e-12,
        "{what}: got {actual}, expected {expected}"
    );
}

/// The 10-sample, 3-class case of the calibration tests. By hand: the argmax predictions are
/// 0 1 2 0 1 2 1 0 0 2 against labels 0 1 1 0 0 2 0 1 0 2, so 6 of 10 are right; every wrong
/// sample has its label second, so top-2 is 10 of 10.
fn hand_case() -> EvalOutputs {
    let rows: [[f32; 3]; 10] = [
        [0.90, 0.05, 0.05],
        [0.10, 0.85, 0.05],
        [0.20, 0.30, 0.50],
        [0.62, 0.28, 0.10],
        [0.35, 0.42, 0.23],
        [0.05, 0.05, 0.90],
        [0.25, 0.70, 0.05],
        [0.88, 0.07, 0.05],
        [0.48, 0.47, 0.05],
        [0.30, 0.33, 0.37],
    ];
    EvalOutputs::from_rows(&rows, &[0, 1, 1, 0, 0, 2, 0, 1, 0, 2]).unwrap()
}

#[test]
fn top_k_on_the_hand_case() {
    let outputs = hand_case();
    assert_close(top_k_accuracy(&outputs, 1).unwrap(), 0.6, "top-1");
    assert_close(top_k_accuracy(&outputs, 2).unwrap(), 1.0, "top-2");
    assert_close(top_k_accuracy(&outputs, 3).unwrap(), 1.0, "top-3");
}

#[test]
fn confusion_matrix_and_per_class_accuracy_on_the_hand_case() {
    let report = AccuracyReport::compute(&hand_case());
    // Rows are true classes, columns predictions (tallied by hand from the list above).
    assert_eq!(
        report.confusion_matrix.counts,
        vec![vec![3, 2, 0], vec![1, 1, 1], vec![0, 0, 2]]
    );
    assert_eq!(report.confusion_matrix.total(), 10);
    assert_close(report.top1, 0.6, "top-1");
    assert_eq!(report.top5, None, "top-5 is undefined for 3 classes");

    let accuracies: Vec<f64> = report
        .per_class
        .iter()
        .map(|c| c.accuracy.unwrap())
        .collect();
    assert_close(accuracies[0], 3.0 / 5.0, "class 0");
    assert_close(accuracies[1], 1.0 / 3.0, "class 1");
    assert_close(accuracies[2], 1.0, "class 2");
    assert_eq!(report.per_class[0].support, 5);
    assert_close(
        report.mean_class_accuracy,
        (0.6 + 1.0 / 3.0 + 1.0) / 3.0,
        "balanced",
    );

    let normalised = report.confusion_matrix.row_normalised();
    assert_close(normalised[1][2], 1.0 / 3.0, "row-normalised [1][2]");
}

/// Six classes with logits 6 5 4 3 2 1 (in class order): the label's rank is its index.
#[test]
fn top_five_counts_the_five_highest_classes() {
    let row = [6.0f32, 5.0, 4.0, 3.0, 2.0, 1.0];
    let outputs = EvalOutputs::from_rows(&[row; 4], &[0, 4, 5, 2]).unwrap();
    // Labels at ranks 0, 4, 5, 2: three within the top 5, one within the top 1.
    assert_close(top_k_accuracy(&outputs, 5).unwrap(), 0.75, "top-5");
    assert_close(top_k_accuracy(&outputs, 1).unwrap(), 0.25, "top-1");
    let report = AccuracyReport::compute(&outputs);
    assert_close(report.top5.unwrap(), 0.75, "report top-5");
    assert_eq!(report.per_class[1].accuracy, None, "class 1 has no samples");
    assert_eq!(report.per_class[1].support, 0);
}

#[test]
fn ties_go_to_the_lower_class_index() {
    let outputs = EvalOutputs::from_rows(&[[0.4f32, 0.4, 0.2]; 2], &[0, 1]).unwrap();
    assert_close(
        top_k_accuracy(&outputs, 1).unwrap(),
        0.5,
        "top-1: class 0 wins the tie",
    );
    assert_close(top_k_accuracy(&outputs, 2).unwrap(), 1.0, "top-2");
    let report = AccuracyReport::compute(&outputs);
    assert_eq!(report.confusion_matrix.counts[1], vec![1, 0, 0]);
}

#[test]
fn top_k_outside_one_to_the_class_count_is_an_error() {
    let outputs = hand_case();
    for k in [0, 4] {
        let error = top_k_accuracy(&outputs, k).unwrap_err();
        assert!(
            matches!(error, EvalError::InvalidTopK { num_classes: 3, .. }),
            "{error}"
        );
        assert!(error.to_string().contains(&format!("top-{k}")), "{error}");
    }
}

#[test]
fn the_report_round_trips_through_json() {
    let report = AccuracyReport::compute(&hand_case());
    let json = serde_json::to_string_pretty(&report).unwrap();
    let back: AccuracyReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.confusion_matrix, report.confusion_matrix);
    assert!((back.top1 - report.top1).abs() < 1e-15);
    assert!(json.contains("\"confusion_matrix\""));
}
