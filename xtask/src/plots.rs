//! The report's figures (PNG): training curves, reliability diagrams, error and ECE under
//! corruption.

use std::path::Path;

use anyhow::{Context, Result};
use supcon_eval::{plot_lines, plot_reliability_diagram};
use supcon_train::{read_metrics, MetricsRecord, METRICS_FILE};

use crate::config::StudyConfig;
use crate::evaluate::Evaluation;
use crate::report::ModelResults;
use crate::reproduce::{CROSS_ENTROPY_DIR, LINEAR_DIR, SUPCON_DIR};
use crate::run_dir::RunDir;

const SIZE: (u32, u32) = (800, 500);

/// One epoch's `(epoch, loss, val_acc, train_acc)`.
type EpochPoint = (f64, f64, Option<f64>, Option<f64>);

/// Per-epoch points of a stage, from its `metrics.jsonl`.
fn epoch_curves(dir: &Path) -> Vec<EpochPoint> {
    let Ok(records) = read_metrics(&dir.join(METRICS_FILE)) else {
        return Vec::new();
    };
    let mut epochs: Vec<EpochPoint> = Vec::new();
    for record in records {
        if let MetricsRecord::Epoch(e) = record {
            // A resumed run may repeat an epoch line; the later one wins.
            epochs.retain(|(x, ..)| *x != (e.epoch + 1) as f64);
            epochs.push(((e.epoch + 1) as f64, e.loss, e.val_acc, e.train_acc));
        }
    }
    epochs.sort_by(|a, b| a.0.total_cmp(&b.0));
    epochs
}

/// Draws every figure into `<out>/plots/` and returns their paths relative to the run folder.
///
/// # Errors
/// When a figure cannot be drawn or written.
pub fn write_plots(
    run: &RunDir,
    supcon: &Evaluation,
    baseline: Option<&Evaluation>,
    config: &StudyConfig,
) -> Result<Vec<String>> {
    std::fs::create_dir_all(run.path("plots"))
        .with_context(|| format!("cannot create {}", run.path("plots").display()))?;
    let mut written = Vec::new();
    let mut draw = |name: &str, result: Result<(), supcon_eval::EvalError>| -> Result<()> {
        match result {
            Ok(()) => {
                written.push(format!("plots/{name}"));
                Ok(())
            }
            // A series with no finite point (e.g. no corruption evaluated) has nothing to show.
            Err(supcon_eval::EvalError::NothingToPlot { .. }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot draw plots/{name}")),
        }
    };
    let path = |name: &str| run.path(&format!("plots/{name}"));

    // Training curves.
    let supcon_curve = epoch_curves(&run.path(SUPCON_DIR));
    let ce_curve = epoch_curves(&run.path(CROSS_ENTROPY_DIR));
    let linear_curve = epoch_curves(&run.path(LINEAR_DIR));
    let pick = |curve: &[EpochPoint], f: fn(&EpochPoint) -> Option<f64>| {
        curve
            .iter()
            .filter_map(|p| f(p).map(|y| (p.0, y)))
            .collect::<Vec<_>>()
    };
    let mut supcon_series = vec![("SupCon".to_string(), pick(&supcon_curve, |p| Some(p.1)))];
    // The value of embeddings collapsed to one point, so that a run stuck there shows at a
    // glance (stage 1 drops incomplete batches, so every batch has this many anchors).
    let anchors = config.supcon.batch_size * config.supcon.views;
    if let Some(collapse) = config.supcon.loss.collapse_value(anchors) {
        supcon_series.push((
            format!("collapsed to one point, (t / t_b) ln({anchors} - 1) = {collapse:.3}"),
            // One point per epoch, so that the legend avoids the line as it avoids the curve.
            supcon_curve.iter().map(|p| (p.0, collapse)).collect(),
        ));
    }
    draw(
        "supcon_loss.png",
        plot_lines(
            path("supcon_loss.png"),
            "SupCon stage 1: training loss",
            "epoch",
            "SupCon loss",
            &supcon_series,
            SIZE,
        ),
    )?;
    let mut loss_series = vec![(
        "SupCon stage 2 (linear classifier)",
        pick(&linear_curve, |p| Some(p.1)),
    )];
    let mut accuracy_series = vec![
        ("SupCon stage 2, test", pick(&linear_curve, |p| p.2)),
        ("SupCon stage 2, train", pick(&linear_curve, |p| p.3)),
    ];
    if baseline.is_some() {
        loss_series.push(("cross-entropy baseline", pick(&ce_curve, |p| Some(p.1))));
        accuracy_series.push(("cross-entropy, test", pick(&ce_curve, |p| p.2)));
        accuracy_series.push(("cross-entropy, train", pick(&ce_curve, |p| p.3)));
    }
    draw(
        "classifier_loss.png",
        plot_lines(
            path("classifier_loss.png"),
            "Classifier training loss (cross-entropy)",
            "epoch",
            "loss",
            &loss_series,
            SIZE,
        ),
    )?;
    draw(
        "accuracy.png",
        plot_lines(
            path("accuracy.png"),
            "Top-1 accuracy during training",
            "epoch",
            "accuracy",
            &accuracy_series,
            SIZE,
        ),
    )?;

    let mut models: Vec<(&str, &str, &Evaluation)> = vec![("supcon", "SupCon", supcon)];
    if let Some(b) = baseline {
        models.push(("cross_entropy", "Cross-entropy", b));
    }
    written.extend(evaluation_plots(
        &run.path("plots"),
        "plots",
        &models,
        &config.evaluation.severities,
    )?);
    Ok(written)
}

/// Draws the evaluation figures of one or more models into `dir` (reliability diagrams, error
/// and ECE against severity, error per corruption and severity) and returns their names
/// prefixed with `prefix/`. `models` holds (file stem, title, evaluation).
///
/// # Errors
/// When a figure cannot be drawn or written.
pub fn evaluation_plots(
    dir: &Path,
    prefix: &str,
    models: &[(&str, &str, &Evaluation)],
    severities: &[u8],
) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    let mut draw = |name: &str, result: Result<(), supcon_eval::EvalError>| -> Result<()> {
        match result {
            Ok(()) => {
                written.push(format!("{prefix}/{name}"));
                Ok(())
            }
            Err(supcon_eval::EvalError::NothingToPlot { .. }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot draw {prefix}/{name}")),
        }
    };
    let path = |name: &str| dir.join(name);
    // Reliability diagrams on clean data.
    for (file, title, evaluation) in models {
        let name = format!("reliability_{file}.png");
        draw(
            &name,
            plot_reliability_diagram(path(&name), &evaluation.reliability, title, (600, 600)),
        )?;
    }

    // Error and ECE against severity (severity 0 = clean), both models.
    let against_severity = |clean: f64, values: &[f64]| {
        std::iter::once((0.0, clean))
            .chain(
                severities
                    .iter()
                    .zip(values)
                    .map(|(s, v)| (f64::from(*s), *v)),
            )
            .collect::<Vec<_>>()
    };
    if models
        .iter()
        .any(|(_, _, e)| !e.results.corruptions.is_empty())
    {
        let series = |f: fn(&ModelResults) -> (f64, &[f64])| {
            models
                .iter()
                .map(|(_, title, e)| {
                    let (clean, values) = f(&e.results);
                    (title.to_string(), against_severity(clean, values))
                })
                .collect::<Vec<_>>()
        };
        draw(
            "error_by_severity.png",
            plot_lines(
                path("error_by_severity.png"),
                "Top-1 error by corruption severity (0 = clean; mean over corruptions)",
                "severity",
                "top-1 error",
                &series(|r| (1.0 - r.top1, &r.error_by_severity)),
                SIZE,
            ),
        )?;
        draw(
            "ece_by_severity.png",
            plot_lines(
                path("ece_by_severity.png"),
                "Calibration under shift: ECE by severity (0 = clean)",
                "severity",
                "ECE",
                &series(|r| (r.ece, &r.ece_by_severity)),
                SIZE,
            ),
        )?;
        // One line per corruption, per model.
        for (file, title, evaluation) in models {
            let name = format!("corruption_error_{file}.png");
            let series: Vec<(String, Vec<(f64, f64)>)> = evaluation
                .results
                .corruptions
                .iter()
                .map(|(corruption, result)| {
                    let points = severities
                        .iter()
                        .zip(&result.error)
                        .map(|(s, e)| (f64::from(*s), *e));
                    (corruption.clone(), points.collect())
                })
                .collect();
            draw(
                &name,
                plot_lines(
                    path(&name),
                    &format!("{title}: top-1 error by corruption and severity"),
                    "severity",
                    "top-1 error",
                    &series,
                    (900, 650),
                ),
            )?;
        }
    }
    Ok(written)
}
