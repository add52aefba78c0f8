//! Bad inputs give typed errors that name the value or shape; logits are recognised.

use supcon_eval::{
    Binning, CalibrationConfig, ClassScores, EvalError, EvalOutputs, ReliabilityBins,
};

#[test]
fn nan_names_its_row_and_class() {
    let error = ClassScores::new(vec![0.5, 0.5, f32::NAN, 1.0], 2).unwrap_err();
    assert!(
        matches!(
            error,
            EvalError::NonFinite {
                row: 1,
                class: 0,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("[1][0] is NaN"), "{error}");
    let error = ClassScores::from_logits(vec![1.0, f32::INFINITY], 2).unwrap_err();
    assert!(error.to_string().contains("inf"), "{error}");
}

#[test]
fn empty_input_is_an_error() {
    let error = ClassScores::new(vec![], 3).unwrap_err();
    assert!(matches!(error, EvalError::Empty { .. }), "{error}");
    let rows: [[f32; 2]; 0] = [];
    assert!(matches!(
        EvalOutputs::from_rows(&rows, &[]),
        Err(EvalError::Empty { .. })
    ));
    let error = ReliabilityBins::compute(&[], &[], 15, Binning::EqualWidth).unwrap_err();
    assert!(matches!(error, EvalError::Empty { .. }), "{error}");
    assert!(matches!(
        ClassScores::new(vec![1.0], 0),
        Err(EvalError::NoClasses)
    ));
}

#[test]
fn a_label_out_of_range_names_the_sample_and_the_label() {
    let scores = ClassScores::new(vec![0.5, 0.5, 0.1, 0.9], 2).unwrap();
    let error = EvalOutputs::new(scores, vec![0, 2]).unwrap_err();
    assert!(
        matches!(
            error,
            EvalError::LabelOutOfRange {
                index: 1,
                label: 2,
                num_classes: 2
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("label 2 of sample 1"), "{error}");
}

#[test]
fn shape_mismatches_name_the_shapes() {
    let error = ClassScores::new(vec![0.2, 0.3, 0.5, 1.0], 3).unwrap_err();
    assert!(
        matches!(
            error,
            EvalError::RaggedScores {
                len: 4,
                num_classes: 3
            }
        ),
        "{error}"
    );

    let rows = vec![vec![0.5f32, 0.5], vec![1.0, 0.0, 0.0]];
    let error = ClassScores::from_rows(&rows).unwrap_err();
    assert!(
        matches!(
            error,
            EvalError::RowLength {
                row: 1,
                len: 3,
                expected: 2
            }
        ),
        "{error}"
    );

    let scores = ClassScores::new(vec![0.5, 0.5, 0.1, 0.9], 2).unwrap();
    let error = EvalOutputs::new(scores, vec![0, 1, 1]).unwrap_err();
    assert!(
        matches!(error, EvalError::LabelCount { labels: 3, rows: 2 }),
        "{error}"
    );
    assert!(
        error.to_string().contains("3 labels for 2 score rows"),
        "{error}"
    );

    let error = ReliabilityBins::compute(&[0.5, 0.6], &[true], 15, Binning::EqualWidth);
    assert!(matches!(
        error,
        Err(EvalError::LabelCount { labels: 1, rows: 2 })
    ));
}

#[test]
fn scores_outside_the_unit_interval_are_soft_maxed_as_logits() {
    let logits = [[2.0f32, -1.0, 0.5], [0.0, 3.0, -2.0], [1.0, 1.0, 4.0]];
    let labels = [0, 2, 2];
    let from_logits = EvalOutputs::from_rows(&logits, &labels).unwrap();
    assert!(from_logits.scores().logits().is_some());

    let probabilities: Vec<Vec<f32>> = logits
        .iter()
        .map(|row| {
            let sum: f64 = row.iter().map(|&z| f64::from(z).exp()).sum();
            row.iter()
                .map(|&z| (f64::from(z).exp() / sum) as f32)
                .collect()
        })
        .collect();
    let from_probabilities = EvalOutputs::from_rows(&probabilities, &labels).unwrap();
    assert!(from_probabilities.scores().logits().is_none());

    for (a, b) in from_logits
        .scores()
        .probabilities()
        .iter()
        .zip(from_probabilities.scores().probabilities())
    {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    let config = CalibrationConfig::new();
    let a = config.compute(&from_logits).unwrap();
    let b = config.compute(&from_probabilities).unwrap();
    assert!((a.ece - b.ece).abs() < 1e-6 && (a.nll - b.nll).abs() < 1e-6);
}

#[test]
fn unit_interval_scores_that_do_not_sum_to_one_are_rejected() {
    let error = ClassScores::new(vec![0.9, 0.8, 0.3, 0.7], 2).unwrap_err();
    assert!(
        matches!(error, EvalError::NotNormalised { row: 0, .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("score row 0 lies in [0, 1] but sums to 1.69"),
        "{error}"
    );
    // The same values are accepted when declared as logits.
    assert!(ClassScores::from_logits(vec![0.9, 0.8, 0.3, 0.7], 2).is_ok());
    let error = ClassScores::from_probabilities(vec![1.2, -0.2], 2).unwrap_err();
    assert!(
        matches!(
            error,
            EvalError::NotAProbability {
                row: 0,
                class: 0,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn bad_bin_counts_and_confidences_are_errors() {
    let error = ReliabilityBins::compute(&[0.5], &[true], 0, Binning::EqualWidth).unwrap_err();
    assert!(matches!(error, EvalError::InvalidBinCount(0)), "{error}");
    let error = ReliabilityBins::compute(&[0.5, 1.5], &[true, false], 15, Binning::TorchMetrics);
    let error = error.unwrap_err();
    assert!(
        matches!(error, EvalError::InvalidConfidence { index: 1, .. }),
        "{error}"
    );
    let outputs = EvalOutputs::from_rows(&[[0.5f32, 0.5]], &[0]).unwrap();
    let error = CalibrationConfig::new()
        .with_adaptive_bins(0)
        .compute(&outputs)
        .unwrap_err();
    assert!(matches!(error, EvalError::InvalidBinCount(0)), "{error}");
}
