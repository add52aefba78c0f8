//! The study's report: `report.json` (schema below) and `report.md`.
//!
//! Every accuracy, error and calibration figure is a fraction in [0, 1]; `mce` and
//! `relative_mce` are fractions of AlexNet's errors (1.0 = AlexNet) and may exceed 1 for a
//! model worse than AlexNet.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cli::DatasetName;
use crate::hardware::Hardware;

/// The version of the `report.json` layout; bumped when a field changes meaning.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// `report.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The dataset (`synthetic`, `cifar10`, `cifar100`, `imagenet`, `folder`).
    pub dataset: String,
    /// When the report was written (UTC, ISO 8601).
    pub created: String,
    /// The command line that produced it.
    pub command: String,
    /// The full configuration of the run (as in `config.json`).
    pub config: Value,
    /// The machine.
    pub hardware: Hardware,
    /// The compute device.
    pub device: String,
    /// One entry per training stage and per evaluation, in the order they run.
    pub stages: Vec<StageTiming>,
    /// The measured results.
    pub results: Results,
    /// The paper's published numbers for this dataset, when it has any.
    pub paper: Option<PaperNumbers>,
    /// How the corrupted test data was made.
    pub corruption_data: CorruptionData,
    /// The plots, relative to the run folder.
    pub plots: Vec<String>,
}

/// The measured results of both models.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// SupCon stage 1 + linear classifier (stage 2).
    pub supcon: ModelResults,
    /// The cross-entropy baseline; `null` with `--skip-baseline`.
    pub cross_entropy: Option<ModelResults>,
}

/// The evaluation of one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelResults {
    /// Clean top-1 accuracy.
    pub top1: f64,
    /// Clean top-5 accuracy (top-k with k = the number of classes when there are fewer than 5).
    pub top5: f64,
    /// Expected calibration error on clean data (equal-width bins, `evaluation.calibration_bins`).
    pub ece: f64,
    /// Mean negative log-likelihood on clean data (nats; not a fraction).
    pub nll: f64,
    /// Clean test images evaluated.
    pub test_images: usize,
    /// The mean top-1 error over every evaluated corruption and severity (`null` when no
    /// corruption was evaluated).
    pub mean_corruption_error: Option<f64>,
    /// The mean corruption error divided by the cross-entropy baseline's (both fractions; only
    /// for the SupCon model when the baseline was evaluated).
    pub relative_corruption_error: Option<f64>,
    /// ImageNet only: mCE, the mean over the 15 benchmark corruptions of the error summed over
    /// severities divided by AlexNet's.
    pub mce: Option<f64>,
    /// ImageNet only: relative mCE, the same with errors taken relative to the clean error.
    pub relative_mce: Option<f64>,
    /// Per corruption: the error and the ECE at each evaluated severity.
    pub corruptions: BTreeMap<String, CorruptionResult>,
    /// Per evaluated severity (in `corruption_data.severities` order): the mean error over the
    /// corruptions.
    pub error_by_severity: Vec<f64>,
    /// Per evaluated severity: the mean ECE over the corruptions.
    pub ece_by_severity: Vec<f64>,
}

/// One corruption's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorruptionResult {
    /// Top-1 error at each evaluated severity.
    pub error: Vec<f64>,
    /// ECE at each evaluated severity.
    pub ece: Vec<f64>,
    /// Mean error over the severities.
    pub mean_error: f64,
    /// Whether the corruption used an approximation (frost without the benchmark's textures).
    pub approximate: bool,
}

/// Wall time of one stage in this run folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageTiming {
    /// `cross_entropy`, `supcon`, `linear`, `evaluate_supcon`, `evaluate_cross_entropy`.
    pub stage: String,
    /// `ran`, `resumed`, `cached` (finished by an earlier invocation) or `skipped`.
    pub status: String,
    /// Seconds spent on the stage, summed over every invocation that worked on it.
    pub wall_s: f64,
}

/// How the corrupted data was obtained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorruptionData {
    /// `generated` (on the fly from the test set) or the pre-generated folder's path.
    pub source: String,
    /// Test images corrupted (per corruption and severity).
    pub images: usize,
    /// The corruptions evaluated.
    pub corruptions: Vec<String>,
    /// The severities evaluated.
    pub severities: Vec<u8>,
    /// Corruptions computed with an approximation (frost without `--frost-dir`).
    pub approximate: Vec<String>,
}

/// Published numbers of the paper for one dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaperNumbers {
    /// Where the numbers come from.
    pub source: String,
    /// The architecture they were measured with.
    pub architecture: String,
    /// SupCon's numbers.
    pub supcon: PaperModel,
    /// The cross-entropy baseline's numbers.
    pub cross_entropy: PaperModel,
}

/// Published numbers of one model (fractions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaperModel {
    /// Top-1 accuracy.
    pub top1: Option<f64>,
    /// ImageNet-C mCE.
    pub mce: Option<f64>,
}

/// The paper's numbers for a dataset and encoder depth, or `None` where it published none.
pub fn paper_numbers(dataset: DatasetName, depth: usize) -> Option<PaperNumbers> {
    let source =
        "Khosla et al., Supervised Contrastive Learning, NeurIPS 2020 (arXiv:2004.11362), \
                  the tables of top-1 accuracy and of ImageNet-C mCE";
    let model = |top1: f64, mce: Option<f64>| PaperModel {
        top1: Some(top1),
        mce,
    };
    let (architecture, supcon, cross_entropy) = match dataset {
        DatasetName::Cifar10 => ("ResNet-50", model(0.960, None), model(0.950, None)),
        DatasetName::Cifar100 => ("ResNet-50", model(0.765, None), model(0.753, None)),
        DatasetName::Imagenet if depth == 200 => (
            "ResNet-200",
            model(0.814, None),
            PaperModel {
                top1: None,
                mce: None,
            },
        ),
        DatasetName::Imagenet => (
            "ResNet-50",
            model(0.787, Some(0.672)),
            model(0.782, Some(0.684)),
        ),
        DatasetName::Synthetic | DatasetName::Folder => return None,
    };
    Some(PaperNumbers {
        source: source.to_string(),
        architecture: architecture.to_string(),
        supcon,
        cross_entropy,
    })
}

/// Every number in a JSON document with its dotted path, for range checks.
pub fn numbers(value: &Value) -> Vec<(String, f64)> {
    fn walk(prefix: String, value: &Value, out: &mut Vec<(String, f64)>) {
        match value {
            Value::Number(n) => out.push((prefix, n.as_f64().unwrap_or(f64::NAN))),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(format!("{prefix}[{i}]"), item, out);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(path, item, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(String::new(), value, &mut out);
    out
}

/// A fraction as a percentage with two decimals, or `-`.
fn pct(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{:.2}", 100.0 * v))
}

impl Report {
    /// The Markdown report.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let r = &self.results;
        let ce = r.cross_entropy.as_ref();
        let paper = self.paper.as_ref();
        let name = self.config["name"].as_str().unwrap_or(&self.dataset);
        let _ = writeln!(
            md,
            "# SupCon vs cross-entropy on `{}` (preset `{name}`)\n",
            self.dataset
        );
        let _ = writeln!(md, "Written {} by `{}`.\n", self.created, self.command);
        let _ = writeln!(md, "- Machine: {}", self.hardware.summary());
        let _ = writeln!(md, "- Device: {}", self.device);
        let model = &self.config["model"];
        let _ = writeln!(
            md,
            "- Encoder: ResNet-{} ({} stem, width x{}), {} px images\n",
            model["depth"],
            model["stem"].as_str().unwrap_or("?"),
            model["width_multiplier"],
            self.config["data"]["image_size"]
        );

        md.push_str("## Results\n\nPercentages; lower is better for errors and ECE.\n\n");
        let mut header = "| metric | SupCon | cross-entropy |".to_string();
        let mut rule = "| --- | ---: | ---: |".to_string();
        if let Some(p) = paper {
            let _ = write!(
                header,
                " paper SupCon ({0}) | paper cross-entropy ({0}) |",
                p.architecture
            );
            rule.push_str(" ---: | ---: |");
        }
        let _ = writeln!(md, "{header}\n{rule}");
        let row = |md: &mut String,
                   metric: &str,
                   ours: fn(&ModelResults) -> Option<f64>,
                   theirs: Option<(Option<f64>, Option<f64>)>| {
            let _ = write!(
                md,
                "| {metric} | {} | {} |",
                pct(ours(&r.supcon)),
                pct(ce.and_then(ours))
            );
            if paper.is_some() {
                let (s, c) = theirs.unwrap_or((None, None));
                let _ = write!(md, " {} | {} |", pct(s), pct(c));
            }
            md.push('\n');
        };
        row(
            &mut md,
            "top-1 accuracy",
            |m| Some(m.top1),
            paper.map(|p| (p.supcon.top1, p.cross_entropy.top1)),
        );
        row(&mut md, "top-5 accuracy", |m| Some(m.top5), None);
        row(&mut md, "ECE (clean)", |m| Some(m.ece), None);
        row(
            &mut md,
            "mean corruption error",
            |m| m.mean_corruption_error,
            None,
        );
        row(
            &mut md,
            "mean corruption error relative to cross-entropy",
            |m| m.relative_corruption_error,
            None,
        );
        if r.supcon.mce.is_some() {
            row(
                &mut md,
                "mCE (AlexNet = 100)",
                |m| m.mce,
                paper.map(|p| (p.supcon.mce, p.cross_entropy.mce)),
            );
            row(&mut md, "relative mCE", |m| m.relative_mce, None);
        }
        if let Some(classes) = self.num_classes().filter(|&c| c <= 5) {
            let _ = writeln!(
                md,
                "\nWith {classes} classes, top-5 accuracy is 100% by definition."
            );
        }
        let _ = writeln!(
            md,
            "\nNLL (clean, nats): SupCon {:.4}{}.",
            r.supcon.nll,
            ce.map(|c| format!(", cross-entropy {:.4}", c.nll))
                .unwrap_or_default()
        );
        match paper {
            Some(p) => {
                let _ = writeln!(md, "\nPaper numbers: {} ({}).", p.source, p.architecture);
            }
            None => {
                let _ = writeln!(md, "\nThe paper publishes no numbers for this dataset.");
            }
        }
        if ce.is_none() {
            md.push_str("\nThe cross-entropy baseline was skipped (`--skip-baseline`).\n");
        }

        let data = &self.corruption_data;
        if !data.corruptions.is_empty() {
            let _ = writeln!(
                md,
                "\n## Error under corruption\n\nTop-1 error (%) on {} test images per cell ({}), \
                 severities {:?}.\n",
                data.images, data.source, data.severities
            );
            let severities: Vec<String> = data.severities.iter().map(|s| format!("s{s}")).collect();
            let _ = writeln!(
                md,
                "| corruption | SupCon {} | SupCon mean | CE mean |",
                severities.join(" / ")
            );
            md.push_str("| --- | --- | ---: | ---: |\n");
            for (corruption, result) in &r.supcon.corruptions {
                let cells: Vec<String> = result
                    .error
                    .iter()
                    .map(|e| format!("{:.1}", 100.0 * e))
                    .collect();
                let baseline = ce
                    .and_then(|c| c.corruptions.get(corruption))
                    .map(|c| c.mean_error);
                let mark = if result.approximate {
                    " (approximate)"
                } else {
                    ""
                };
                let _ = writeln!(
                    md,
                    "| {corruption}{mark} | {} | {} | {} |",
                    cells.join(" / "),
                    pct(Some(result.mean_error)),
                    pct(baseline)
                );
            }
            md.push_str("\n### Calibration under shift\n\n| severity | SupCon error | SupCon ECE | CE error | CE ECE |\n| ---: | ---: | ---: | ---: | ---: |\n");
            for (i, severity) in data.severities.iter().enumerate() {
                let get = |v: &Vec<f64>| v.get(i).copied();
                let _ = writeln!(
                    md,
                    "| {severity} | {} | {} | {} | {} |",
                    pct(get(&r.supcon.error_by_severity)),
                    pct(get(&r.supcon.ece_by_severity)),
                    pct(ce.and_then(|c| get(&c.error_by_severity))),
                    pct(ce.and_then(|c| get(&c.ece_by_severity)))
                );
            }
            if !data.approximate.is_empty() {
                let _ = writeln!(
                    md,
                    "\nApproximate: {} (procedural frost texture; pass `--frost-dir` \
                    with the benchmark's frost images for the exact corruption).",
                    data.approximate.join(", ")
                );
            }
        }

        md.push_str("\n## Stages\n\n| stage | status | wall time |\n| --- | --- | ---: |\n");
        for stage in &self.stages {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                stage.stage,
                stage.status,
                format_duration(stage.wall_s)
            );
        }
        let total: f64 = self.stages.iter().map(|s| s.wall_s).sum();
        let _ = writeln!(md, "| total | | {} |", format_duration(total));

        if !self.plots.is_empty() {
            md.push_str("\n## Plots\n\n");
            for plot in &self.plots {
                let _ = writeln!(md, "![{plot}]({plot})");
            }
        }
        md.push_str(
            "\n## Configuration\n\nThe full configuration is in `config.json` and in \
                     `report.json` under `config`.\n\n",
        );
        if let Some(source) = self.config["source"].as_str() {
            let _ = writeln!(md, "Recipe: {source}");
        }
        md
    }
}

impl Report {
    /// The number of classes, where the configuration states it (the synthetic data).
    fn num_classes(&self) -> Option<u64> {
        self.config
            .pointer("/data/synthetic/num_classes")
            .and_then(Value::as_u64)
    }
}

/// `1 h 02 min`, `3 min 05 s` or `4.2 s`.
pub fn format_duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{} min {:02} s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{} h {:02} min",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_numbers_exist_for_cifar_and_imagenet_only() {
        assert_eq!(
            paper_numbers(DatasetName::Cifar10, 50).unwrap().supcon.top1,
            Some(0.960)
        );
        assert_eq!(
            paper_numbers(DatasetName::Cifar100, 50)
                .unwrap()
                .cross_entropy
                .top1,
            Some(0.753)
        );
        let imagenet = paper_numbers(DatasetName::Imagenet, 50).unwrap();
        assert_eq!(
            (imagenet.supcon.mce, imagenet.cross_entropy.mce),
            (Some(0.672), Some(0.684))
        );
        assert!(paper_numbers(DatasetName::Synthetic, 18).is_none());
        assert!(paper_numbers(DatasetName::Folder, 50).is_none());
    }

    #[test]
    fn numbers_lists_every_number_with_its_path() {
        let value = serde_json::json!({"a": {"b": [1, 2.5]}, "c": "x", "d": null});
        assert_eq!(
            numbers(&value),
            [("a.b[0]".to_string(), 1.0), ("a.b[1]".to_string(), 2.5)]
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(4.24), "4.2 s");
        assert_eq!(format_duration(185.0), "3 min 05 s");
        assert_eq!(format_duration(3720.0), "1 h 02 min");
    }
}
