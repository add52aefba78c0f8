//! `cargo xtask reproduce`: the paper's study on one dataset, from data to report.
//!
//! Stages, each resumable and skipped once finished:
//! 1. `cross_entropy`: the baseline (encoder + linear classifier, end to end);
//! 2. `supcon`: stage 1 (encoder + projection head, SupCon loss);
//! 3. `linear`: stage 2 (linear classifier on the frozen stage-1 encoder);
//! 4. evaluation of both classifiers (cached in `eval/<model>.json`);
//! 5. the report (`report.md`, `report.json`, `plots/`), always rewritten.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use burn::prelude::*;
use supcon_models::{
    ClassifierModel, ClassifierModelConfig, HeadKind, ResNet, ResNetConfig, Stem, SupConModelConfig,
};
use supcon_train::{
    train_cross_entropy, train_linear_probe, train_supcon, CrossEntropyTrainingConfig, DataConfig,
    LabeledDataset, LinearProbeConfig, SupConTrainingConfig, TrainOptions, CLASSIFIER_MODEL_FILE,
    CROSS_ENTROPY_MODEL_FILE, ENCODER_FILE, SUMMARY_FILE,
};

use crate::cli::{DatasetName, ReproduceArgs, Resolution};
use crate::config::{HeadName, StemName, StudyConfig};
use crate::datasets::{self, Source};
use crate::device::{describe_device, select_device};
use crate::evaluate::{evaluate, Classifier, CorruptedData, EvalSetup, Evaluation};
use crate::hardware::{utc_timestamp, Hardware};
use crate::plots::write_plots;
use crate::report::{
    paper_numbers, CorruptionData, Report, Results, StageTiming, REPORT_SCHEMA_VERSION,
};
use crate::run_dir::{write_atomically, write_json, RunDir};

/// The stage folders inside the run folder.
pub const CROSS_ENTROPY_DIR: &str = "cross_entropy";
/// Stage 1's folder.
pub const SUPCON_DIR: &str = "supcon";
/// Stage 2's folder.
pub const LINEAR_DIR: &str = "linear";
/// The exported classifiers (safetensors, PyTorch-style names), for `robustness`.
pub const EXPORTED_MODEL_FILE: &str = "model.safetensors";

/// Runs the study and returns the run folder.
///
/// # Errors
/// A bad configuration, a missing dataset or device, an unwritable output folder (all before
/// any training), or a failed stage.
pub fn run_reproduce(args: &ReproduceArgs) -> Result<PathBuf> {
    let started = Instant::now();
    let config = crate::config::resolve(args)?;
    let device = select_device(args.device)?;
    let splits = datasets::open(
        args.dataset,
        args.data.as_deref(),
        config.data.synthetic.as_ref(),
        config.seed,
    )?;
    let corrupted = match &args.corrupted_data {
        Some(dir) => CorruptedData::open(dir)?,
        None => CorruptedData::Generate(crate::corrupt::context(
            corruption_resolution(&config),
            args.frost_dir.as_deref(),
        )?),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(args.dataset.as_str()));
    let run = RunDir::create(&out)?;
    run.record_config(&config.to_json())?;
    log::info!(
        "reproduce {} (preset `{}`) in {} on {}",
        args.dataset.as_str(),
        config.name,
        out.display(),
        describe_device(args.device)
    );

    let train_source = datasets::subset(splits.train, config.data.train_limit);
    let test_source = datasets::subset(splits.test, config.data.test_limit);
    let num_classes = train_source.num_classes();
    let train = labeled(&train_source);
    let test = labeled(&test_source);
    let options = TrainOptions {
        progress: std::io::stderr().is_terminal(),
        loader_threads: (config.data.num_workers > 0).then_some(config.data.num_workers),
        ..TrainOptions::default()
    };
    let mut stages = Vec::new();

    // 1. The cross-entropy baseline.
    let encoder = encoder_config(&config)?;
    let baseline = if args.skip_baseline {
        stages.push(StageTiming {
            stage: "cross_entropy".into(),
            status: "skipped".into(),
            wall_s: 0.0,
        });
        None
    } else {
        let dir = run.path(CROSS_ENTROPY_DIR);
        let status = stage_status(&dir);
        let start = Instant::now();
        let model = if status == "cached" {
            load_classifier(
                &encoder,
                num_classes,
                &dir.join(CROSS_ENTROPY_MODEL_FILE),
                &device,
            )?
        } else {
            train_cross_entropy(
                &cross_entropy_config(&config)?,
                &dir,
                &train,
                Some(&test),
                &device,
                &options,
            )
            .context("the cross-entropy baseline failed")?
            .model
        };
        finish_stage(&run, &mut stages, "cross_entropy", status, start)?;
        export(&model, &dir, status)?;
        Some(model)
    };

    // 2. SupCon stage 1. Stage 2 takes the encoder from its file, so that a first run and a
    // resumed one start stage 2 from the very same bytes.
    let supcon_dir = run.path(SUPCON_DIR);
    let linear_dir = run.path(LINEAR_DIR);
    let status = stage_status(&supcon_dir);
    let linear_status = stage_status(&linear_dir);
    let start = Instant::now();
    if status != "cached" {
        train_supcon(
            &supcon_config(&config)?,
            &supcon_dir,
            &train,
            &device,
            &options,
        )
        .context("SupCon stage 1 failed")?;
    }
    finish_stage(&run, &mut stages, "supcon", status, start)?;

    // 3. Stage 2: the linear classifier on the frozen encoder.
    let start = Instant::now();
    let linear = if linear_status == "cached" {
        load_classifier(
            &encoder,
            num_classes,
            &linear_dir.join(CLASSIFIER_MODEL_FILE),
            &device,
        )?
    } else {
        let frozen = load_encoder(&encoder, &supcon_dir.join(ENCODER_FILE), &device)?;
        train_linear_probe(
            &linear_config(&config),
            &linear_dir,
            &frozen,
            &train,
            Some(&test),
            &device,
            &options,
        )
        .context("SupCon stage 2 (linear classifier) failed")?
        .model
    };
    finish_stage(&run, &mut stages, "linear", linear_status, start)?;
    export(&linear, &linear_dir, linear_status)?;

    // 4. Evaluation of both classifiers.
    let corruption_subset =
        datasets::subset(test_source.clone(), config.evaluation.corruption_images);
    let setup = EvalSetup {
        test: test_source.clone(),
        corruption_subset: corruption_subset.clone(),
        data: &config.data,
        settings: &config.evaluation,
        corrupted: &corrupted,
        imagenet_normaliser: args.dataset == DatasetName::Imagenet,
        seed: config.seed,
        progress: options.progress,
    };
    let eval_device = device.clone();
    let supcon_eval = evaluate_cached(
        &run,
        "supcon",
        &run.path(LINEAR_DIR).join(EXPORTED_MODEL_FILE),
        || Classifier::new(linear.clone(), num_classes),
        &setup,
        &eval_device,
        &mut stages,
    )?;
    let baseline_eval = match baseline {
        Some(model) => Some(evaluate_cached(
            &run,
            "cross_entropy",
            &run.path(CROSS_ENTROPY_DIR).join(EXPORTED_MODEL_FILE),
            || Classifier::new(model.clone(), num_classes),
            &setup,
            &eval_device,
            &mut stages,
        )?),
        None => None,
    };

    // 5. The report.
    let mut supcon_results = supcon_eval.results.clone();
    if let (Some(ours), Some(theirs)) = (
        supcon_results.mean_corruption_error,
        baseline_eval
            .as_ref()
            .and_then(|b| b.results.mean_corruption_error),
    ) {
        supcon_results.relative_corruption_error = (theirs > 0.0).then(|| ours / theirs);
    }
    let plots = write_plots(&run, &supcon_eval, baseline_eval.as_ref(), &config)?;
    let approximate: Vec<String> = config
        .evaluation
        .corruptions
        .iter()
        .filter(|c| corrupted.is_approximate(**c))
        .map(|c| c.name().to_string())
        .collect();
    let report = Report {
        schema_version: REPORT_SCHEMA_VERSION,
        dataset: args.dataset.as_str().to_string(),
        created: utc_timestamp(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        config: config.to_json(),
        hardware: Hardware::detect(),
        device: describe_device(args.device).to_string(),
        stages,
        results: Results {
            supcon: supcon_results,
            cross_entropy: baseline_eval.map(|b| b.results),
        },
        paper: paper_numbers(args.dataset, config.model.depth),
        corruption_data: CorruptionData {
            source: corrupted.describe(),
            images: if config.evaluation.corruptions.is_empty() {
                0
            } else {
                corruption_subset.len()
            },
            corruptions: config
                .evaluation
                .corruptions
                .iter()
                .map(|c| c.name().to_string())
                .collect(),
            severities: config.evaluation.severities.clone(),
            approximate,
        },
        plots,
    };
    write_json(&run.path("report.json"), &report)?;
    write_atomically(&run.path("report.md"), report.to_markdown().as_bytes())?;
    log::info!(
        "top-1: SupCon {:.2}%, cross-entropy {}; report in {} ({:.0} s)",
        100.0 * report.results.supcon.top1,
        report
            .results
            .cross_entropy
            .as_ref()
            .map_or("skipped".to_string(), |c| format!("{:.2}%", 100.0 * c.top1)),
        run.path("report.md").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(out)
}

/// The corruption parameters for the dataset's resolution.
fn corruption_resolution(config: &StudyConfig) -> Resolution {
    if config.data.image_size >= 64 {
        Resolution::Imagenet
    } else {
        Resolution::Cifar
    }
}

fn labeled(source: &Source) -> LabeledDataset {
    LabeledDataset::from_dataset(
        std::sync::Arc::new(datasets::AsDataset(source.clone())),
        source.num_classes(),
    )
}

/// `cached` (finished earlier), `resumed` (checkpoints exist) or `ran`.
fn stage_status(dir: &Path) -> &'static str {
    if dir.join(SUMMARY_FILE).is_file() {
        "cached"
    } else if dir.join(supcon_train::CHECKPOINT_DIR).is_dir() {
        "resumed"
    } else {
        "ran"
    }
}

fn finish_stage(
    run: &RunDir,
    stages: &mut Vec<StageTiming>,
    stage: &str,
    status: &str,
    start: Instant,
) -> Result<()> {
    if status != "cached" {
        run.add_time(stage, start.elapsed().as_secs_f64())?;
    }
    let wall_s = run.timings().seconds.get(stage).copied().unwrap_or(0.0);
    stages.push(StageTiming {
        stage: stage.into(),
        status: status.into(),
        wall_s,
    });
    Ok(())
}

/// Loads a finished stage's classifier from its Burn record file.
fn load_classifier(
    encoder: &ResNetConfig,
    num_classes: usize,
    path: &Path,
    device: &Device,
) -> Result<ClassifierModel> {
    ClassifierModelConfig::new(encoder.clone(), num_classes)
        .init(device)
        .try_load_file(path)
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot load the finished stage's model {}: {e:?}",
                path.display()
            )
        })
}

/// Loads stage 1's encoder from its Burn record file.
fn load_encoder(encoder: &ResNetConfig, path: &Path, device: &Device) -> Result<ResNet> {
    encoder
        .init(device)
        .try_load_file(path)
        .map_err(|e| anyhow::anyhow!("cannot load the SupCon encoder {}: {e:?}", path.display()))
}

/// Writes a classifier as safetensors next to its stage's files, unless a finished stage
/// already exported it (its cached evaluation stays valid).
fn export(model: &ClassifierModel, dir: &Path, status: &str) -> Result<()> {
    let path = dir.join(EXPORTED_MODEL_FILE);
    if status == "cached" && path.is_file() {
        return Ok(());
    }
    // Written under a temporary name first, so an interruption never leaves a partial file
    // that a later run would take as finished.
    let partial = dir.join(format!("{EXPORTED_MODEL_FILE}.tmp"));
    model
        .save_safetensors(&partial)
        .with_context(|| format!("cannot export the classifier to {}", partial.display()))?;
    std::fs::rename(&partial, &path)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), path.display()))
}

/// A file's size and modification time, to tell a retrained model from the evaluated one.
fn fingerprint(path: &Path) -> Option<String> {
    let metadata = std::fs::metadata(path).ok()?;
    let modified = metadata
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!(
        "{} bytes, modified {}",
        metadata.len(),
        modified.as_nanos()
    ))
}

/// Evaluates a model, or reuses `eval/<name>.json` when it was computed with the same settings
/// on the same model file.
fn evaluate_cached(
    run: &RunDir,
    name: &str,
    model_file: &Path,
    model: impl FnOnce() -> Classifier,
    setup: &EvalSetup<'_>,
    device: &Device,
    stages: &mut Vec<StageTiming>,
) -> Result<Evaluation> {
    let stage = format!("evaluate_{name}");
    let path = run.path(&format!("eval/{name}.json"));
    let fingerprint = fingerprint(model_file);
    let cached: Option<Evaluation> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    if let Some(cached) = cached {
        if &cached.settings == setup.settings
            && cached.corruption_source == setup.corrupted.describe()
            && cached.model_fingerprint == fingerprint
        {
            log::info!("{stage}: using the cached results in {}", path.display());
            let wall_s = run.timings().seconds.get(&stage).copied().unwrap_or(0.0);
            stages.push(StageTiming {
                stage,
                status: "cached".into(),
                wall_s,
            });
            return Ok(cached);
        }
    }
    log::info!(
        "{stage}: clean test set, then {} corruption cells",
        setup.settings.corruptions.len() * setup.settings.severities.len()
    );
    let start = Instant::now();
    let mut evaluation =
        evaluate(&model(), setup, device).with_context(|| format!("{stage} failed"))?;
    evaluation.model_fingerprint = fingerprint;
    std::fs::create_dir_all(run.path("eval"))?;
    write_json(&path, &evaluation)?;
    // Evaluation restarts from scratch when interrupted, so its time is this call's.
    let seconds = start.elapsed().as_secs_f64();
    let mut timings = run.timings();
    timings.seconds.insert(stage.clone(), seconds);
    write_json(&run.path("timings.json"), &timings)?;
    stages.push(StageTiming {
        stage,
        status: "ran".into(),
        wall_s: seconds,
    });
    Ok(evaluation)
}

/// The encoder of the study.
///
/// # Errors
/// A depth the models crate does not build.
pub fn encoder_config(config: &StudyConfig) -> Result<ResNetConfig> {
    let model = &config.model;
    let stem = match model.stem {
        StemName::Cifar => Stem::Cifar,
        StemName::Imagenet => Stem::ImageNet,
    };
    Ok(ResNetConfig::from_depth(model.depth)?
        .with_stem(stem)
        .with_width_multiplier(model.width_multiplier)
        .with_zero_init_residual(model.zero_init_residual))
}

fn data_config(config: &StudyConfig, augmentation: &supcon_train::Augmentation) -> DataConfig {
    DataConfig::new()
        .with_image_size(config.data.image_size)
        .with_augmentation(augmentation.clone())
        .with_mean(config.data.mean.map(|v| v as f32))
        .with_std(config.data.std.map(|v| v as f32))
}

fn supcon_config(config: &StudyConfig) -> Result<SupConTrainingConfig> {
    let s = &config.supcon;
    let head = match config.model.head {
        HeadName::Mlp => HeadKind::Mlp,
        HeadName::Linear => HeadKind::Linear,
    };
    let model = SupConModelConfig::new(encoder_config(config)?)
        .with_head(head)
        .with_projection_dim(config.model.projection_dim);
    Ok(SupConTrainingConfig::new(model, s.epochs, s.batch_size)
        .with_method(s.method)
        .with_loss(s.loss.clone())
        .with_views(s.views)
        .with_optimizer(s.optimizer.clone())
        .with_schedule(s.schedule.clone())
        .with_data(data_config(config, &s.augmentation))
        .with_seed(config.seed)
        .with_checkpoint(config.checkpoint.clone()))
}

fn linear_config(config: &StudyConfig) -> LinearProbeConfig {
    let l = &config.linear;
    LinearProbeConfig::new(l.epochs, l.batch_size)
        .with_optimizer(l.optimizer.clone())
        .with_schedule(l.schedule.clone())
        .with_data(data_config(config, &l.augmentation))
        .with_eval_batch_size(config.evaluation.batch_size)
        .with_seed(config.seed)
        .with_checkpoint(config.checkpoint.clone())
}

fn cross_entropy_config(config: &StudyConfig) -> Result<CrossEntropyTrainingConfig> {
    let c = &config.cross_entropy;
    Ok(
        CrossEntropyTrainingConfig::new(encoder_config(config)?, c.epochs, c.batch_size)
            .with_label_smoothing((c.label_smoothing > 0.0).then_some(c.label_smoothing as f32))
            .with_optimizer(c.optimizer.clone())
            .with_schedule(c.schedule.clone())
            .with_data(data_config(config, &c.augmentation))
            .with_eval_batch_size(config.evaluation.batch_size)
            .with_seed(config.seed)
            .with_checkpoint(config.checkpoint.clone()),
    )
}
