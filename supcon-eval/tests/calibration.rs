//! Calibration metrics against torchmetrics' reference values and a hand-worked case.

#[path = "../../tests/src/reference.rs"]
mod reference;

use serde_json::Value;
use supcon_eval::{
    brier_score, classwise_calibration_error, fit_temperature, negative_log_likelihood,
    torchmetrics_bin_edges, Binning, CalibrationConfig, CalibrationReport, EvalOutputs,
    ReliabilityBins,
};

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn case_outputs(case: &Value) -> EvalOutputs {
    // The probabilities are float32 values stored as exact doubles: the cast is exact.
    let rows: Vec<Vec<f32>> = case["probs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| floats(row).into_iter().map(|p| p as f32).collect())
        .collect();
    let labels: Vec<usize> = case["target"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap() as usize)
        .collect();
    EvalOutputs::from_rows(&rows, &labels).unwrap()
}

fn assert_close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, expected {expected} (tolerance {tolerance})"
    );
}

/// Values from torchmetrics 1.9.0 `MulticlassCalibrationError` (reference/ece_cases.json),
/// matched within 1e-6 in the torchmetrics-compatible mode, for every case in the file.
#[test]
fn torchmetrics_mode_reproduces_every_reference_case() {
    let file = reference::read_reference_json("ece_cases.json");
    let cases = file["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let num_bins = case["n_bins"].as_u64().unwrap() as usize;
        let outputs = case_outputs(case);
        let bins =
            ReliabilityBins::from_outputs(&outputs, num_bins, Binning::TorchMetrics).unwrap();

        assert_close(
            bins.ece,
            case["ece_l1"].as_f64().unwrap(),
            1e-6,
            &format!("{name} ECE"),
        );
        assert_close(
            bins.mce,
            case["mce_max"].as_f64().unwrap(),
            1e-6,
            &format!("{name} MCE"),
        );
        assert_close(
            bins.rms,
            case["rmsce_l2"].as_f64().unwrap(),
            1e-6,
            &format!("{name} RMS"),
        );

        let expected = &case["bins_torchmetrics"];
        let counts = floats(&expected["count_bin"]);
        assert_eq!(bins.bins.len(), counts.len(), "{name}: number of bins");
        for (b, bin) in bins.bins.iter().enumerate() {
            let what = format!("{name} bin {b}");
            assert_eq!(bin.count as f64, counts[b], "{what} count");
            assert_close(bin.accuracy, floats(&expected["acc_bin"])[b], 1e-6, &what);
            assert_close(
                bin.confidence,
                floats(&expected["conf_bin"])[b],
                1e-6,
                &what,
            );
            assert_close(
                bin.proportion,
                floats(&expected["prop_bin"])[b],
                1e-6,
                &what,
            );
        }

        let (confidences, _) = outputs.confidences_and_hits();
        for (i, index) in expected["bin_index"].as_array().unwrap().iter().enumerate() {
            let ours = Binning::TorchMetrics
                .bin_index(confidences[i], num_bins)
                .unwrap();
            assert_eq!(
                ours as u64,
                index.as_u64().unwrap(),
                "{name} sample {i} bin"
            );
        }
    }
}

/// The float32 `torch.linspace(0, 1, 16)` edges listed in the reference file's metadata.
#[test]
fn torchmetrics_edges_equal_torch_linspace() {
    let file = reference::read_reference_json("ece_cases.json");
    let expected = floats(&file["meta"]["bin_boundaries_float32_linspace"]);
    let edges = torchmetrics_bin_edges(15);
    assert_eq!(edges.len(), expected.len());
    for (edge, want) in edges.iter().zip(&expected) {
        // The file stores the float32 edges as doubles; compare them as float32, bit for bit.
        assert_eq!(
            edge.to_bits(),
            (*want as f32).to_bits(),
            "edge {edge} vs {want}"
        );
    }
}

/// Our own equal-width rule against the reference's independent float64 computation (edges
/// k/15, closed on the left). The rules differ only for a confidence on an edge (ours puts it
/// in the bin below) and for a confidence of 1 (ours: the top bin; theirs: an extra bin), so
/// such samples are compared after mapping, and the ECE/MCE only when a case has none.
#[test]
fn equal_width_mode_agrees_with_the_independent_float64_computation() {
    let file = reference::read_reference_json("ece_cases.json");
    for case in file["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let num_bins = case["n_bins"].as_u64().unwrap() as usize;
        let outputs = case_outputs(case);
        let (confidences, _) = outputs.confidences_and_hits();
        let independent = &case["independent_f64"];

        let mut on_edge = false;
        for (i, theirs) in independent["bin_index"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let c = f64::from(confidences[i]);
            let scaled = c * num_bins as f64;
            let edge = (scaled - scaled.round()).abs() < 1e-5;
            on_edge |= edge;
            let ours = Binning::EqualWidth
                .bin_index(confidences[i], num_bins)
                .unwrap();
            let theirs = theirs.as_u64().unwrap() as usize;
            let expected = if edge {
                scaled.round() as usize
            } else {
                theirs + 1
            };
            assert_eq!(
                ours + 1,
                expected.clamp(1, num_bins),
                "{name} sample {i} (conf {c})"
            );
        }
        if !on_edge {
            let bins = ReliabilityBins::from_outputs(&outputs, num_bins, Binning::EqualWidth);
            let bins = bins.unwrap();
            let ece = independent["ece_l1"].as_f64().unwrap();
            assert_close(bins.ece, ece, 1e-9, &format!("{name} ECE"));
            let mce = independent["mce_max"].as_f64().unwrap();
            assert_close(bins.mce, mce, 1e-9, &format!("{name} MCE"));
        }
    }
}

/// The 10 samples of 3 classes worked out by hand (exact arithmetic, 15 equal-width bins
/// closed on the right; adaptive ECE with 5 bins of 2; T from minimising the NLL of
/// softmax(ln p / T)).
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
fn hand_worked_case_gives_the_hand_computed_figures() {
    let outputs = hand_case();
    let config = CalibrationConfig::new().with_adaptive_bins(5);
    let report = config.compute(&outputs).unwrap();
    assert_close(report.ece, 0.298, 1e-6, "ECE");
    assert_close(report.mce, 0.70, 1e-6, "MCE");
    assert_close(report.rms, 0.372093, 1e-6, "RMS");
    assert_close(report.nll, 0.887885, 1e-6, "NLL");
    assert_close(report.brier, 0.5516, 1e-6, "Brier");
    assert_close(report.adaptive_ece, 0.148, 1e-6, "equal-mass ECE");
    assert_eq!(report.adaptive_bins, 5);
    assert_close(report.classwise_ece, 0.280, 1e-6, "classwise ECE");

    // The figures the report gathers are the same as the standalone functions give.
    assert_close(
        negative_log_likelihood(&outputs),
        report.nll,
        0.0,
        "NLL function",
    );
    assert_close(brier_score(&outputs), report.brier, 0.0, "Brier function");
    let classwise = classwise_calibration_error(&outputs, 15, Binning::EqualWidth).unwrap();
    assert_eq!(classwise.per_class.len(), 3);

    let fit = fit_temperature(&outputs, &config).unwrap();
    assert!(!fit.at_bound);
    assert_close(fit.temperature, 1.36614, 5e-6, "temperature");
    assert_close(fit.nll_before, 0.887885, 1e-6, "NLL before");
    assert_close(fit.nll_after, 0.867111, 1e-6, "NLL after");
    assert_close(fit.ece_before, 0.298, 1e-6, "ECE before");
    assert_close(fit.ece_after, 0.231825, 1e-6, "ECE after");

    // Applying the fit to the same scores gives the fitted NLL back.
    let scaled = EvalOutputs::new(fit.apply(outputs.scores()), outputs.labels().to_vec()).unwrap();
    assert_close(
        negative_log_likelihood(&scaled),
        fit.nll_after,
        1e-6,
        "NLL of scaled",
    );
}

#[test]
fn the_fitted_temperature_is_a_minimum_of_the_nll() {
    let outputs = hand_case();
    let fit = fit_temperature(&outputs, &CalibrationConfig::new()).unwrap();
    for factor in [0.99, 1.01] {
        let scaled = supcon_eval::scale_scores(outputs.scores(), fit.temperature * factor);
        let nearby = EvalOutputs::new(scaled.unwrap(), outputs.labels().to_vec()).unwrap();
        assert!(negative_log_likelihood(&nearby) > fit.nll_after);
    }
}

/// torchmetrics' mode and ours agree on the hand case, which has no confidence on an edge.
#[test]
fn both_equal_width_rules_agree_away_from_the_edges() {
    let outputs = hand_case();
    let ours = ReliabilityBins::from_outputs(&outputs, 15, Binning::EqualWidth).unwrap();
    let theirs = ReliabilityBins::from_outputs(&outputs, 15, Binning::TorchMetrics).unwrap();
    assert_close(ours.ece, theirs.ece, 1e-6, "ECE");
    assert_close(ours.mce, theirs.mce, 1e-6, "MCE");
    assert_eq!(theirs.bins.len(), 16);
    assert_eq!(theirs.bins[15].count, 0);
}

#[test]
fn the_report_round_trips_through_json() {
    let report = CalibrationConfig::new().compute(&hand_case()).unwrap();
    let json = serde_json::to_string(&report).unwrap();
    let back: CalibrationReport = serde_json::from_str(&json).unwrap();
    // serde_json's default float parser may be off by one unit in the last place.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-15 * b.abs().max(1.0);
    assert!(close(back.ece, report.ece) && close(back.nll, report.nll));
    assert_eq!(back.reliability.bins.len(), report.reliability.bins.len());
    for (a, b) in back.reliability.bins.iter().zip(&report.reliability.bins) {
        assert_eq!(a.count, b.count);
        assert!(close(a.accuracy, b.accuracy) && close(a.confidence, b.confidence));
    }
    let value: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["reliability"]["bins"].as_array().unwrap().len(), 15);
    assert_eq!(value["reliability"]["binning"], "EqualWidth");
}
