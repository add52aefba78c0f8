//! End to end: `cargo xtask reproduce` on the synthetic data at the size of `configs/tiny.json`
//! (16 px images of 4 classes, a ResNet-18 at 1/16 width, two epochs per stage, two corruptions
//! at two severities), in-process. Checks that every report file exists and every number of
//! `report.json` is finite and in range, then that a second run resumes everything from the
//! run folder.

use std::path::Path;

use clap::Parser;
use serde_json::Value;
use xtask::report::numbers;

fn reproduce(out: &Path) {
    let config = xtask::config::configs_dir().join("tiny.json");
    let cli = xtask::Cli::parse_from([
        "xtask".as_ref(),
        "reproduce".as_ref(),
        "synthetic".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    xtask::run(cli).unwrap_or_else(|e| panic!("reproduce failed: {e:#}"));
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The keys of `report.json` that hold fractions in [0, 1], as path prefixes of
/// [`numbers`]' output.
fn is_fraction(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("results.") else {
        return false;
    };
    // Every result field is a fraction except the NLL (nats), the image count and, on
    // ImageNet only, mCE relative to AlexNet (which may exceed 1).
    !(rest.ends_with(".nll")
        || rest.ends_with(".test_images")
        || rest.ends_with(".mce")
        || rest.ends_with(".relative_mce")
        || rest.ends_with(".relative_corruption_error"))
}

#[test]
fn reproduce_synthetic_writes_a_complete_report_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    reproduce(&out);

    // Every file the report promises.
    for file in [
        "config.json",
        "report.md",
        "report.json",
        "eval/supcon.json",
        "eval/cross_entropy.json",
        "cross_entropy/model.safetensors",
        "linear/model.safetensors",
        "supcon/metrics.jsonl",
    ] {
        let path = out.join(file);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 0, "{} is missing or empty", path.display());
    }
    let report = read_json(&out.join("report.json"));
    let plots: Vec<&str> = report["plots"]
        .as_array()
        .expect("report.json lists its plots")
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for expected in [
        "plots/supcon_loss.png",
        "plots/classifier_loss.png",
        "plots/accuracy.png",
        "plots/reliability_supcon.png",
        "plots/reliability_cross_entropy.png",
        "plots/error_by_severity.png",
        "plots/ece_by_severity.png",
        "plots/corruption_error_supcon.png",
        "plots/corruption_error_cross_entropy.png",
    ] {
        assert!(plots.contains(&expected), "{expected} not in {plots:?}");
    }
    for plot in &plots {
        let image = image::open(out.join(plot)).unwrap_or_else(|e| panic!("{plot}: {e}"));
        assert!(
            image.width() >= 200 && image.height() >= 200,
            "{plot} is {}x{}",
            image.width(),
            image.height()
        );
    }
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    for section in [
        "## Results",
        "## Error under corruption",
        "### Calibration under shift",
        "## Stages",
    ] {
        assert!(markdown.contains(section), "report.md lacks {section}");
    }
    assert!(
        markdown.contains("publishes no numbers"),
        "synthetic has no paper numbers"
    );

    // The schema's required results, and every number finite and in range.
    for model in ["supcon", "cross_entropy"] {
        let results = &report["results"][model];
        for key in ["top1", "top5", "ece", "mean_corruption_error"] {
            let value = results[key]
                .as_f64()
                .unwrap_or_else(|| panic!("results.{model}.{key} missing"));
            assert!(
                (0.0..=1.0).contains(&value),
                "results.{model}.{key} = {value}"
            );
        }
        assert!(results["mce"].is_null(), "mCE is defined on ImageNet only");
        let corruptions = results["corruptions"].as_object().unwrap();
        assert_eq!(
            corruptions.len(),
            2,
            "the tiny preset evaluates two corruptions"
        );
        for (name, cell) in corruptions {
            assert_eq!(
                cell["error"].as_array().unwrap().len(),
                2,
                "{name}: two severities"
            );
        }
    }
    let all = numbers(&report);
    assert!(all.len() > 50, "report.json holds {} numbers", all.len());
    for (path, value) in &all {
        assert!(value.is_finite(), "{path} = {value}");
        if is_fraction(path) {
            assert!(
                (0.0..=1.0).contains(value),
                "{path} = {value} is not a fraction"
            );
        }
    }
    assert!(report["paper"].is_null());
    assert_eq!(report["corruption_data"]["images"], 8);
    let stages: Vec<&str> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "cross_entropy",
            "supcon",
            "linear",
            "evaluate_supcon",
            "evaluate_cross_entropy"
        ]
    );

    // A second run resumes: every stage and evaluation is found finished, results unchanged.
    reproduce(&out);
    let again = read_json(&out.join("report.json"));
    for stage in again["stages"].as_array().unwrap() {
        assert_eq!(stage["status"], "cached", "{stage}");
    }
    assert_eq!(again["results"], report["results"]);

    // `robustness` on the exported SupCon classifier reads the architecture from the run's
    // config and measures the same clean accuracy on the same test set.
    let robustness_out = dir.path().join("robustness");
    let checkpoint = out.join("linear/model.safetensors");
    let cli = xtask::Cli::parse_from([
        "xtask".as_ref(),
        "robustness".as_ref(),
        "--checkpoint".as_ref(),
        checkpoint.as_os_str(),
        "--data".as_ref(),
        dir.path().as_os_str(),
        "--dataset".as_ref(),
        "synthetic".as_ref(),
        "--corruptions".as_ref(),
        "contrast".as_ref(),
        "--severities".as_ref(),
        "2".as_ref(),
        "--out".as_ref(),
        robustness_out.as_os_str(),
    ]);
    xtask::run(cli).unwrap_or_else(|e| panic!("robustness failed: {e:#}"));
    let robustness = read_json(&robustness_out.join("robustness.json"));
    assert_eq!(
        robustness["results"]["top1"],
        report["results"]["supcon"]["top1"]
    );
    assert_eq!(
        robustness["results"]["corruptions"]["contrast"]["error"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(robustness_out.join("robustness.md").is_file());
}
