//! `cargo xtask robustness`: the evaluation suite alone, on a trained classifier.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use supcon_data::{Cifar100Labels, CifarDataset, ImageFolderConfig, Split};
use supcon_models::{ClassifierModelConfig, LoadOptions, ResNetConfig, Stem};

use crate::cli::{DatasetName, Resolution, RobustnessArgs};
use crate::config::{load_file, DataSection, EvaluationSection};
use crate::datasets::{layout_help, subset, Source};
use crate::device::select_device;
use crate::evaluate::{evaluate, Classifier, CorruptedData, EvalSetup};
use crate::plots::evaluation_plots;
use crate::report::{format_duration, numbers};
use crate::run_dir::{write_atomically, write_json, RunDir};

/// The architecture named by `--arch`: `resnet18` .. `resnet200`, `_cifar` for the CIFAR stem.
///
/// # Errors
/// An unknown name.
pub fn parse_arch(arch: &str, width: f64) -> Result<ResNetConfig> {
    let (name, stem) = match arch.strip_suffix("_cifar") {
        Some(name) => (name, Stem::Cifar),
        None => (arch, Stem::ImageNet),
    };
    let depth: usize = name
        .strip_prefix("resnet")
        .and_then(|d| d.parse().ok())
        .with_context(|| format!("unknown architecture `{arch}`; use resnet18, resnet34, resnet50, resnet101, resnet152 or resnet200 (append _cifar for the CIFAR stem)"))?;
    Ok(ResNetConfig::from_depth(depth)?
        .with_stem(stem)
        .with_width_multiplier(width))
}

/// The number of classes of a classifier file: the rows of `fc.weight` or
/// `classifier.fc.weight` (PyTorch's `[out, in]` layout).
///
/// # Errors
/// When the file cannot be read, is not safetensors, or has no classifier weight.
pub fn classifier_classes(path: &Path) -> Result<(usize, bool)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    // `deserialize` checks every tensor against the file's length, so the count below is
    // backed by data and cannot size a classifier larger than the file.
    let tensors = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| anyhow::anyhow!("{} is not a safetensors file: {e:?}", path.display()))?;
    for (key, ours) in [("classifier.fc.weight", true), ("fc.weight", false)] {
        if let Ok(view) = tensors.tensor(key) {
            return match view.shape() {
                &[classes, features] if classes > 0 && features > 0 => Ok((classes, ours)),
                shape => bail!(
                    "{}: `{key}` has shape {shape:?}, expected [classes, features]",
                    path.display()
                ),
            };
        }
    }
    bail!(
        "{} holds no classifier (neither `fc.weight` nor `classifier.fc.weight`); give a \
         classifier saved by `reproduce` or a torchvision ResNet state_dict",
        path.display()
    )
}

/// Runs the suite and writes `robustness.json`, `robustness.md` and plots into `--out`.
///
/// # Errors
/// An unreadable checkpoint, a missing dataset, or a failed evaluation.
pub fn run_robustness(args: &RobustnessArgs) -> Result<PathBuf> {
    let device = select_device(args.device)?;
    if !args.checkpoint.is_file() {
        bail!(
            "the checkpoint {} does not exist",
            args.checkpoint.display()
        );
    }
    // A classifier exported by `reproduce` sits in <run>/<stage>/; its config names the
    // architecture, resolution and normalisation.
    let run_config = args
        .checkpoint
        .parent()
        .and_then(Path::parent)
        .map(|run| run.join("config.json"))
        .filter(|p| p.is_file())
        .map(|p| load_file(&p))
        .transpose()?;
    let (encoder, data) = match &run_config {
        Some(config) => (
            crate::reproduce::encoder_config(config)?,
            config.data.clone(),
        ),
        None => (
            parse_arch(&args.arch, args.width)?,
            default_data(args.dataset),
        ),
    };
    let (num_classes, ours) = classifier_classes(&args.checkpoint)?;
    let model = ClassifierModelConfig::new(encoder, num_classes).init(&device);
    let model = if ours {
        model.load_safetensors(&args.checkpoint, &LoadOptions::strict())
    } else {
        model.load_torchvision(&args.checkpoint, &LoadOptions::strict())
    }
    .with_context(|| format!("cannot load {}", args.checkpoint.display()))?;

    let test = subset(
        open_test(args.dataset, &args.data, data.synthetic.as_ref())?,
        args.limit,
    );
    if test.num_classes() != num_classes {
        bail!(
            "the model has {num_classes} classes but {} has {}",
            args.data.display(),
            test.num_classes()
        );
    }
    let corrupted = match &args.corrupted_data {
        Some(dir) => CorruptedData::open(dir)?,
        None => {
            let resolution = if data.image_size >= 64 {
                Resolution::Imagenet
            } else {
                Resolution::Cifar
            };
            CorruptedData::Generate(crate::corrupt::context(
                resolution,
                args.frost_dir.as_deref(),
            )?)
        }
    };
    let severities = if args.severities.is_empty() {
        vec![1, 2, 3, 4, 5]
    } else {
        args.severities.clone()
    };
    let settings = EvaluationSection {
        batch_size: args.batch_size,
        calibration_bins: 15,
        corruptions: crate::corrupt::parse_corruptions(&args.corruptions)?,
        severities: severities.clone(),
        corruption_images: None,
    };
    crate::corrupt::parse_severities(&severities)?;

    let out = RunDir::create(&args.out)?;
    let setup = EvalSetup {
        test: test.clone(),
        corruption_subset: test.clone(),
        data: &data,
        settings: &settings,
        corrupted: &corrupted,
        imagenet_normaliser: args.dataset == DatasetName::Imagenet,
        seed: args.seed,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let start = std::time::Instant::now();
    let evaluation = evaluate(&Classifier::new(model, num_classes), &setup, &device)?;
    let seconds = start.elapsed().as_secs_f64();
    write_json(&out.path("robustness.json"), &evaluation)?;
    let plots = evaluation_plots(
        &out.path("plots"),
        "plots",
        &[("model", "Model", &evaluation)],
        &severities,
    )?;

    let r = &evaluation.results;
    let mut md = format!(
        "# Robustness of `{}`\n\nTest data: {} ({} images), corruptions: {}, {} in {}.\n\n",
        args.checkpoint.display(),
        args.data.display(),
        r.test_images,
        evaluation.corruption_source,
        if corrupted.is_approximate(supcon_eval::corruption::Corruption::Frost) {
            "frost approximate"
        } else {
            "exact"
        },
        format_duration(seconds),
    );
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}", 100.0 * v));
    let _ = writeln!(md, "| metric | value (%) |\n| --- | ---: |");
    let _ = writeln!(md, "| top-1 accuracy | {} |", pct(Some(r.top1)));
    let _ = writeln!(md, "| top-5 accuracy | {} |", pct(Some(r.top5)));
    let _ = writeln!(md, "| ECE (clean, 15 bins) | {} |", pct(Some(r.ece)));
    let _ = writeln!(
        md,
        "| mean corruption error | {} |",
        pct(r.mean_corruption_error)
    );
    let _ = writeln!(md, "| mCE (AlexNet = 100) | {} |", pct(r.mce));
    let _ = writeln!(md, "| relative mCE | {} |", pct(r.relative_mce));
    let _ = writeln!(
        md,
        "\n| corruption | error by severity {:?} (%) | mean (%) |\n| --- | --- | ---: |",
        severities
    );
    for (name, c) in &r.corruptions {
        let cells: Vec<String> = c
            .error
            .iter()
            .map(|e| format!("{:.1}", 100.0 * e))
            .collect();
        let _ = writeln!(
            md,
            "| {name} | {} | {:.2} |",
            cells.join(" / "),
            100.0 * c.mean_error
        );
    }
    for plot in &plots {
        let _ = writeln!(md, "\n![{plot}]({plot})");
    }
    write_atomically(&out.path("robustness.md"), md.as_bytes())?;
    // The JSON must hold only finite numbers (NaN would not even serialise); say so if not.
    let value = serde_json::to_value(&evaluation)?;
    if let Some((key, v)) = numbers(&value).into_iter().find(|(_, v)| !v.is_finite()) {
        log::warn!("robustness.json: {key} = {v}");
    }
    println!("{}", md);
    Ok(out.root().to_path_buf())
}

/// Resolution and normalisation for a checkpoint that does not come from `reproduce`.
fn default_data(dataset: DatasetName) -> DataSection {
    let (image_size, mean, std) = match dataset {
        DatasetName::Cifar10 => (32, [0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010]),
        DatasetName::Cifar100 => (32, [0.5071, 0.4867, 0.4408], [0.2675, 0.2565, 0.2761]),
        DatasetName::Synthetic => (32, [0.5; 3], [0.25; 3]),
        DatasetName::Imagenet | DatasetName::Folder => {
            (224, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        }
    };
    DataSection {
        image_size,
        mean,
        std,
        train_limit: None,
        test_limit: None,
        num_workers: 0,
        synthetic: None,
    }
}

/// The test split: CIFAR binary files, or a class-folder tree (`DIR/val/` when present, else
/// `DIR` itself).
fn open_test(
    dataset: DatasetName,
    dir: &Path,
    synthetic: Option<&supcon_data::SyntheticConfig>,
) -> Result<Source> {
    let hint = || format!("cannot open the test data: {}", layout_help(dataset));
    Ok(match dataset {
        DatasetName::Synthetic => {
            let config = synthetic
                .cloned()
                .unwrap_or_else(supcon_data::SyntheticConfig::new);
            Arc::new(config.init(Split::Test)?)
        }
        DatasetName::Cifar10 => {
            Arc::new(CifarDataset::cifar10(dir, Split::Test).with_context(hint)?)
        }
        DatasetName::Cifar100 => Arc::new(
            CifarDataset::cifar100(dir, Split::Test, Cifar100Labels::Fine).with_context(hint)?,
        ),
        DatasetName::Imagenet | DatasetName::Folder => {
            let root = if dir.join("val").is_dir() {
                dir.join("val")
            } else {
                dir.to_path_buf()
            };
            Arc::new(ImageFolderConfig::new(root).init().with_context(hint)?)
        }
    })
}
