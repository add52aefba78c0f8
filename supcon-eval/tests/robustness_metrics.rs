//! CE, mCE and relative mCE with known answers, and the aggregation of per-cell calibration.

use supcon_eval::corruption::{Corruption, Severity};
use supcon_eval::robustness::{
    alexnet_errors, BaselineErrors, CellResult, CleanResult, Normaliser, RobustnessError,
    RobustnessReport, ALEXNET_CLEAN_ERROR,
};

fn cells(error: impl Fn(Corruption, Severity) -> f64) -> Vec<CellResult> {
    Corruption::ALL
        .into_iter()
        .flat_map(|c| Severity::ALL.into_iter().map(move |s| (c, s)))
        .map(|(corruption, severity)| CellResult {
            corruption,
            severity,
            error: error(corruption, severity),
            ece: Some(0.01 * f64::from(severity.get())),
            nll: Some(f64::from(severity.get())),
            num_samples: 100,
            approximate: false,
        })
        .collect()
}

fn clean(error: f64) -> CleanResult {
    CleanResult {
        error,
        ece: Some(0.02),
        nll: Some(0.9),
        num_samples: 100,
    }
}

#[test]
fn alexnet_table_averages_match_the_published_normalisers() {
    // Origin: the "avg" column of the README's AlexNet table (augmix's ALEXNET_ERR).
    let averages = [
        0.886428, 0.894468, 0.922640, 0.819880, 0.826268, 0.785948, 0.798360, 0.866816, 0.826572,
        0.819324, 0.564592, 0.853204, 0.646056, 0.717840, 0.606500, 0.845388, 0.787108, 0.717512,
        0.658248,
    ];
    for (corruption, average) in Corruption::ALL.into_iter().zip(averages) {
        let mean = alexnet_errors(corruption).iter().sum::<f64>() / 5.0;
        assert!(
            (mean - average).abs() < 1e-9,
            "{corruption}: {mean} vs {average}"
        );
    }
}

#[test]
fn alexnet_errors_give_mce_100_and_halved_errors_give_50() {
    // Known answers from the benchmark's definition: CE_c = sum_s E / sum_s E_AlexNet.
    let same = RobustnessReport::compute(
        clean(ALEXNET_CLEAN_ERROR),
        cells(|c, s| alexnet_errors(c)[s.index()]),
        &Normaliser::alexnet(),
    )
    .unwrap();
    assert!((same.mce.unwrap() - 100.0).abs() < 1e-9);
    assert!((same.relative_mce.unwrap() - 100.0).abs() < 1e-9);

    let half = RobustnessReport::compute(
        clean(ALEXNET_CLEAN_ERROR / 2.0),
        cells(|c, s| alexnet_errors(c)[s.index()] / 2.0),
        &Normaliser::alexnet(),
    )
    .unwrap();
    assert!((half.mce.unwrap() - 50.0).abs() < 1e-9);
    // sum (E/2 - clean/2) / sum (E - clean) = 1/2.
    assert!((half.relative_mce.unwrap() - 50.0).abs() < 1e-9);
    for summary in &half.corruptions {
        assert!(
            (summary.ce.unwrap() - 50.0).abs() < 1e-9,
            "{:?}",
            summary.corruption
        );
    }
}

#[test]
fn extras_are_reported_but_left_out_of_mce() {
    // The 4 extras at 100 % error must not move mCE away from 100.
    let report = RobustnessReport::compute(
        clean(ALEXNET_CLEAN_ERROR),
        cells(|c, s| {
            if c.is_benchmark() {
                alexnet_errors(c)[s.index()]
            } else {
                1.0
            }
        }),
        &Normaliser::alexnet(),
    )
    .unwrap();
    assert!((report.mce.unwrap() - 100.0).abs() < 1e-9);
    let saturate = report.corruption(Corruption::Saturate).unwrap();
    assert!(!saturate.in_mce);
    // CE of saturate = 5 / (5 * 0.658248) = 151.9 %.
    assert!((saturate.ce.unwrap() - 100.0 / 0.658248).abs() < 1e-6);
    assert_eq!(report.corruptions.len(), 19);
}

#[test]
fn a_hand_computed_case() {
    // Gaussian noise errors 0.5 at every severity, clean error 0.2:
    // CE = 100 * 2.5 / (5 * 0.886428) = 56.406; relative CE =
    // 100 * (2.5 - 1.0) / (4.43214 - 5 * 0.4348) = 100 * 1.5 / 2.25814 = 66.43.
    let report = RobustnessReport::compute(
        clean(0.2),
        cells(|c, s| {
            if c == Corruption::GaussianNoise {
                0.5
            } else {
                alexnet_errors(c)[s.index()]
            }
        }),
        &Normaliser::alexnet(),
    )
    .unwrap();
    let noise = report.corruption(Corruption::GaussianNoise).unwrap();
    assert!((noise.ce.unwrap() - 56.4062).abs() < 1e-3, "{:?}", noise.ce);
    assert!(
        (noise.relative_ce.unwrap() - 66.4264).abs() < 1e-3,
        "{:?}",
        noise.relative_ce
    );
    // Mean ECE per severity: every cell at severity s has ECE 0.01 s.
    for s in Severity::ALL {
        let mean = report.mean_ece_per_severity[s.index()].unwrap();
        assert!((mean - 0.01 * f64::from(s.get())).abs() < 1e-12);
    }
}

#[test]
fn unnormalised_and_baseline_model_reports() {
    let all = cells(|_, s| 0.1 * f64::from(s.get()));
    let report = RobustnessReport::compute(clean(0.05), all.clone(), &Normaliser::None).unwrap();
    assert!(report.mce.is_none() && report.relative_mce.is_none());
    // Mean over severities of 0.1 s = 0.3.
    assert!((report.mean_corruption_error - 0.3).abs() < 1e-12);
    assert_eq!(report.normaliser, "none");

    // Against itself as the baseline every CE is 100; against a model with double the
    // errors, 50.
    let baseline = BaselineErrors::from_report("cross_entropy", &report);
    let own = RobustnessReport::compute(clean(0.05), all.clone(), &Normaliser::Baseline(baseline))
        .unwrap();
    assert!((own.mce.unwrap() - 100.0).abs() < 1e-9);
    let doubled = RobustnessReport::compute(
        clean(0.1),
        cells(|_, s| 0.2 * f64::from(s.get())),
        &Normaliser::None,
    )
    .unwrap();
    let baseline = BaselineErrors::from_report("cross_entropy", &doubled);
    let half =
        RobustnessReport::compute(clean(0.05), all, &Normaliser::Baseline(baseline)).unwrap();
    assert!((half.mce.unwrap() - 50.0).abs() < 1e-9);
    assert_eq!(half.normaliser, "cross_entropy");
}

#[test]
fn incomplete_or_invalid_inputs() {
    // A missing benchmark corruption leaves mCE undefined but keeps the rest.
    let partial: Vec<CellResult> = cells(|c, s| alexnet_errors(c)[s.index()])
        .into_iter()
        .filter(|c| c.corruption != Corruption::Fog)
        .collect();
    let report = RobustnessReport::compute(clean(0.4), partial, &Normaliser::alexnet()).unwrap();
    assert!(report.mce.is_none());
    assert!(report.corruption(Corruption::Snow).unwrap().ce.is_some());

    // Percentages passed as fractions are refused, naming the cell.
    let mut wrong = cells(|_, _| 0.5);
    wrong[3].error = 55.0;
    let err = RobustnessReport::compute(clean(0.4), wrong, &Normaliser::alexnet()).unwrap_err();
    assert!(matches!(err, RobustnessError::InvalidError { .. }));
    assert!(
        err.to_string().contains("gaussian_noise severity 4"),
        "{err}"
    );

    let mut twice = cells(|_, _| 0.5);
    twice.push(twice[0].clone());
    assert!(matches!(
        RobustnessReport::compute(clean(0.4), twice, &Normaliser::alexnet()),
        Err(RobustnessError::DuplicateCell { .. })
    ));
}

#[test]
fn approximate_cells_mark_the_report_and_json_round_trips() {
    let mut all = cells(|c, s| alexnet_errors(c)[s.index()]);
    for cell in all.iter_mut().filter(|c| c.corruption == Corruption::Frost) {
        cell.approximate = true;
    }
    let report = RobustnessReport::compute(clean(0.4), all, &Normaliser::alexnet()).unwrap();
    assert!(report.approximate);
    assert!(report.corruption(Corruption::Frost).unwrap().approximate);
    assert!(!report.corruption(Corruption::Fog).unwrap().approximate);
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"frost\"") && json.contains("\"approximate\":true"));
    // serde_json parses floats to within an ulp, so compare values with a tolerance.
    let back: RobustnessReport = serde_json::from_str(&json).unwrap();
    assert!((back.mce.unwrap() - report.mce.unwrap()).abs() < 1e-9);
    assert_eq!(back.cells.len(), report.cells.len());
    for (a, b) in back.cells.iter().zip(&report.cells) {
        assert_eq!(
            (a.corruption, a.severity, a.approximate),
            (b.corruption, b.severity, b.approximate)
        );
        assert!((a.error - b.error).abs() < 1e-12);
    }
}
