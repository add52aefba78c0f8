//! The study's configuration: the preset JSON files under `configs/`, overrides, validation.
//!
//! A preset holds every hyper-parameter of the three training stages and of the evaluation.
//! The optimiser, schedule, loss and synthetic-data sections are the library crates' own Burn
//! configs (`OptimizerConfig`, `LrScheduleConfig`, `SupConLossConfig`, `SyntheticConfig`), so a
//! preset reads like the code that runs it. Loading goes:
//!
//! ```text
//! configs/<dataset>.json  (or --config FILE)
//!   -> deep-merged with configs/quick.json        (--preset quick)
//!   -> --epochs / --batch-size / --seed
//!   -> --set key=value ...                        (dotted keys, in order)
//!   -> typed StudyConfig -> validate()            (every range error names its key)
//! ```
//!
//! Every key of the input must exist in the typed configuration: a misspelt key is an error
//! that names it and lists the valid ones, never silently ignored.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use supcon_core::SupConLossConfig;
use supcon_data::SyntheticConfig;
use supcon_eval::corruption::Corruption;
use supcon_train::{
    Augmentation, CheckpointConfig, ContrastiveMethod, LrDecay, LrScheduleConfig, OptimizerConfig,
};

use crate::cli::{DatasetName, PresetChoice, ReproduceArgs};
use crate::overrides::{apply_override, leaf_keys};

/// The complete configuration of one `reproduce` run (written to `<out>/config.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyConfig {
    /// The preset's name (`cifar10`, `synthetic`, ...).
    pub name: String,
    /// Where the recipe comes from (paper section, reference code, or "tuned here").
    pub source: String,
    /// The run's seed: initialisation, data order, augmentation, corruptions.
    pub seed: u64,
    /// Input resolution, normalisation and subsets.
    pub data: DataSection,
    /// The encoder and the projection head.
    pub model: ModelSection,
    /// Stage 1: SupCon on encoder + projection head.
    pub supcon: SupConSection,
    /// Stage 2: a linear classifier on the frozen encoder.
    pub linear: StageSection,
    /// The baseline: encoder + linear classifier trained end to end with cross-entropy.
    pub cross_entropy: CrossEntropySection,
    /// When checkpoints are written (all stages).
    pub checkpoint: CheckpointConfig,
    /// What the evaluation measures.
    pub evaluation: EvaluationSection,
}

/// Input resolution, normalisation and subsets.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Side of the (square) training and test images, in pixels.
    pub image_size: u32,
    /// Per-channel mean used for normalisation (RGB, on [0, 1] pixels).
    pub mean: [f64; 3],
    /// Per-channel standard deviation used for normalisation.
    pub std: [f64; 3],
    /// Use at most this many training images (an evenly spaced deterministic subset).
    pub train_limit: Option<usize>,
    /// Use at most this many test images.
    pub test_limit: Option<usize>,
    /// Loader threads (0: one per core).
    pub num_workers: usize,
    /// The built-in dataset's shape (used by `reproduce synthetic` only).
    pub synthetic: Option<SyntheticConfig>,
}

/// The encoder and the projection head.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// ResNet depth: 18, 34, 50, 101, 152 or 200.
    pub depth: usize,
    /// The stem: `cifar` (3x3 stride 1, no pool) or `imagenet` (7x7 stride 2 + max-pool).
    pub stem: StemName,
    /// Channel width multiplier (1 = the paper's networks).
    pub width_multiplier: f64,
    /// Zero-initialise the last BatchNorm of each residual branch.
    pub zero_init_residual: bool,
    /// Projection head: `mlp` (d -> d -> out, ReLU) or `linear` (d -> out).
    pub head: HeadName,
    /// Output size of the projection head (128 in the paper).
    pub projection_dim: usize,
}

/// The ResNet stem, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StemName {
    /// 3x3 stride 1, no max-pool (32 px inputs).
    Cifar,
    /// 7x7 stride 2 + 3x3 max-pool (224 px inputs).
    Imagenet,
}

/// The projection head, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadName {
    /// Two layers with a ReLU between them.
    Mlp,
    /// One linear layer.
    Linear,
}

/// Stage 1.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupConSection {
    /// `SupCon` (labels define the positives) or `SimClr` (only the other views do).
    pub method: ContrastiveMethod,
    /// Training epochs.
    pub epochs: usize,
    /// Images per step (each seen in `views` views).
    pub batch_size: usize,
    /// Augmented views per image.
    pub views: usize,
    /// The loss (temperature, base temperature, summation, ...).
    pub loss: SupConLossConfig,
    /// The augmentation of each view.
    pub augmentation: Augmentation,
    /// The optimiser.
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    pub schedule: LrScheduleConfig,
}

/// Stage 2 (and the shape shared by every supervised stage).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSection {
    /// Training epochs.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// The training augmentation.
    pub augmentation: Augmentation,
    /// The optimiser.
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    pub schedule: LrScheduleConfig,
}

/// The cross-entropy baseline.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossEntropySection {
    /// Training epochs.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Label smoothing in [0, 1) (0: plain cross-entropy).
    pub label_smoothing: f64,
    /// The training augmentation.
    pub augmentation: Augmentation,
    /// The optimiser.
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    pub schedule: LrScheduleConfig,
}

/// What the evaluation measures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationSection {
    /// Images per evaluation batch.
    pub batch_size: usize,
    /// Equal-width bins of the ECE and the reliability diagrams (15 in the literature).
    pub calibration_bins: usize,
    /// The corruptions to evaluate (ImageNet-C names; empty: none).
    pub corruptions: Vec<Corruption>,
    /// The severities to evaluate (1-5).
    pub severities: Vec<u8>,
    /// Corrupt only this many test images (an evenly spaced subset; `null`: all).
    pub corruption_images: Option<usize>,
}

/// A configuration value outside its allowed range.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    /// The dotted key.
    pub key: String,
    /// The value found.
    pub value: String,
    /// The allowed range, in words.
    pub allowed: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` = {} is out of range: {}",
            self.key, self.value, self.allowed
        )
    }
}

impl std::error::Error for ConfigError {}

impl StudyConfig {
    /// Checks every value against its allowed range.
    ///
    /// # Errors
    /// The first value out of range, naming its key and the allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut check = Checker::default();
        let d = &self.data;
        check.range("data.image_size", d.image_size as f64, 8.0, 4096.0);
        for (i, s) in d.std.iter().enumerate() {
            check.positive(&format!("data.std[{i}]"), *s);
        }
        check.at_least_opt("data.train_limit", d.train_limit, 1);
        check.at_least_opt("data.test_limit", d.test_limit, 1);
        if let Some(s) = &d.synthetic {
            check.range(
                "data.synthetic.num_classes",
                s.num_classes as f64,
                2.0,
                10.0,
            );
            check.at_least("data.synthetic.samples_per_class", s.samples_per_class, 1);
            check.range(
                "data.synthetic.image_size",
                s.image_size as f64,
                8.0,
                4096.0,
            );
        }

        let m = &self.model;
        if ![18, 34, 50, 101, 152, 200].contains(&m.depth) {
            check.fail("model.depth", m.depth, "one of 18, 34, 50, 101, 152, 200");
        }
        check.range("model.width_multiplier", m.width_multiplier, 1e-3, 16.0);
        check.at_least("model.projection_dim", m.projection_dim, 1);

        let s = &self.supcon;
        check.at_least("supcon.epochs", s.epochs, 1);
        check.at_least("supcon.batch_size", s.batch_size, 2);
        check.range("supcon.views", s.views as f64, 1.0, 16.0);
        check.positive("supcon.loss.temperature", s.loss.temperature);
        check.positive("supcon.loss.base_temperature", s.loss.base_temperature);
        if let Some(cap) = s.loss.max_positives {
            if cap == 0 || cap % s.views != 0 {
                check.fail(
                    "supcon.loss.max_positives",
                    cap,
                    "a positive multiple of supcon.views",
                );
            }
        }
        check.augmentation("supcon.augmentation", &s.augmentation);
        check.optimizer("supcon.optimizer", &s.optimizer);
        check.schedule("supcon", &s.schedule, s.epochs);

        let l = &self.linear;
        check.at_least("linear.epochs", l.epochs, 1);
        check.at_least("linear.batch_size", l.batch_size, 1);
        check.augmentation("linear.augmentation", &l.augmentation);
        check.optimizer("linear.optimizer", &l.optimizer);
        check.schedule("linear", &l.schedule, l.epochs);

        let c = &self.cross_entropy;
        check.at_least("cross_entropy.epochs", c.epochs, 1);
        check.at_least("cross_entropy.batch_size", c.batch_size, 1);
        if !(0.0..1.0).contains(&c.label_smoothing) {
            check.fail(
                "cross_entropy.label_smoothing",
                c.label_smoothing,
                "0 <= value < 1",
            );
        }
        check.augmentation("cross_entropy.augmentation", &c.augmentation);
        check.optimizer("cross_entropy.optimizer", &c.optimizer);
        check.schedule("cross_entropy", &c.schedule, c.epochs);

        check.at_least("checkpoint.every_epochs", self.checkpoint.every_epochs, 1);
        check.at_least("checkpoint.keep_last", self.checkpoint.keep_last, 1);
        check.at_least_opt("checkpoint.every_steps", self.checkpoint.every_steps, 1);

        let e = &self.evaluation;
        check.at_least("evaluation.batch_size", e.batch_size, 1);
        check.range(
            "evaluation.calibration_bins",
            e.calibration_bins as f64,
            1.0,
            1000.0,
        );
        if e.severities.is_empty() && !e.corruptions.is_empty() {
            check.fail(
                "evaluation.severities",
                "[]",
                "at least one of 1, 2, 3, 4, 5",
            );
        }
        for &severity in &e.severities {
            if !(1..=5).contains(&severity) {
                check.fail("evaluation.severities", severity, "each severity in 1..=5");
            }
        }
        check.at_least_opt("evaluation.corruption_images", e.corruption_images, 1);
        check.finish()
    }

    /// The configuration as JSON (every key present).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("the study config serialises")
    }
}

/// Collects the first range error.
#[derive(Default)]
struct Checker {
    error: Option<ConfigError>,
}

impl Checker {
    fn fail(&mut self, key: &str, value: impl std::fmt::Display, allowed: &str) {
        self.error.get_or_insert(ConfigError {
            key: key.to_string(),
            value: value.to_string(),
            allowed: allowed.to_string(),
        });
    }

    fn range(&mut self, key: &str, value: f64, low: f64, high: f64) {
        if !(value.is_finite() && value >= low && value <= high) {
            self.fail(key, value, &format!("{low} <= value <= {high}"));
        }
    }

    fn positive(&mut self, key: &str, value: f64) {
        if !(value.is_finite() && value > 0.0) {
            self.fail(key, value, "finite and > 0");
        }
    }

    fn at_least(&mut self, key: &str, value: usize, low: usize) {
        if value < low {
            self.fail(key, value, &format!("an integer >= {low}"));
        }
    }

    fn at_least_opt(&mut self, key: &str, value: Option<usize>, low: usize) {
        if let Some(value) = value {
            self.at_least(key, value, low);
        }
    }

    fn augmentation(&mut self, key: &str, augmentation: &Augmentation) {
        if let Augmentation::CropFlip { min_scale } = augmentation {
            self.range(&format!("{key}.CropFlip.min_scale"), *min_scale, 1e-3, 1.0);
        }
    }

    fn optimizer(&mut self, key: &str, optimizer: &OptimizerConfig) {
        match optimizer {
            OptimizerConfig::Sgd(sgd) => {
                self.range(&format!("{key}.Sgd.momentum"), sgd.momentum, 0.0, 0.999_999);
                self.range(
                    &format!("{key}.Sgd.weight_decay"),
                    sgd.weight_decay,
                    0.0,
                    1.0,
                );
                if sgd.nesterov && sgd.momentum == 0.0 {
                    self.fail(
                        &format!("{key}.Sgd.nesterov"),
                        true,
                        "false when momentum is 0",
                    );
                }
            }
            OptimizerConfig::Lars(lars) => {
                self.range(
                    &format!("{key}.Lars.momentum"),
                    lars.momentum,
                    0.0,
                    0.999_999,
                );
                self.range(
                    &format!("{key}.Lars.weight_decay"),
                    lars.weight_decay,
                    0.0,
                    1.0,
                );
                self.positive(
                    &format!("{key}.Lars.trust_coefficient"),
                    lars.trust_coefficient,
                );
            }
            OptimizerConfig::RmsProp(_) => {}
        }
    }

    fn schedule(&mut self, stage: &str, schedule: &LrScheduleConfig, epochs: usize) {
        let key = format!("{stage}.schedule");
        self.positive(
            &format!("{key}.base_learning_rate"),
            schedule.base_learning_rate,
        );
        self.range(
            &format!("{key}.warmup_epochs"),
            schedule.warmup_epochs,
            0.0,
            epochs as f64,
        );
        match &schedule.decay {
            LrDecay::Cosine { final_factor } => {
                self.range(
                    &format!("{key}.decay.Cosine.final_factor"),
                    *final_factor,
                    0.0,
                    1.0,
                );
            }
            LrDecay::Step { factor, .. } => {
                self.range(&format!("{key}.decay.Step.factor"), *factor, 0.0, 1.0);
            }
            LrDecay::Constant => {}
        }
    }

    fn finish(self) -> Result<(), ConfigError> {
        self.error.map_or(Ok(()), Err)
    }
}

/// The folder of the preset files: `configs/` at the workspace root.
pub fn configs_dir() -> PathBuf {
    workspace_root().join("configs")
}

/// The workspace root (the folder above this crate).
///
/// `cargo run` passes the crate's folder at run time, which is preferred over the one compiled
/// in: a binary built in one clone and reused from a shared target folder by another must work
/// on the clone that ran it.
pub fn workspace_root() -> PathBuf {
    let root_of = |manifest_dir: &Path| {
        manifest_dir
            .parent()
            .filter(|root| root.join("xtask").join("Cargo.toml").is_file())
            .map(Path::to_path_buf)
    };
    std::env::var_os("CARGO_MANIFEST_DIR")
        .and_then(|dir| root_of(Path::new(&dir)))
        .or_else(|| root_of(Path::new(env!("CARGO_MANIFEST_DIR"))))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The presets compiled into the binary, used when `configs/` is not on disk.
const EMBEDDED: [(&str, &str); 8] = [
    ("synthetic", include_str!("../../configs/synthetic.json")),
    ("cifar10", include_str!("../../configs/cifar10.json")),
    ("cifar100", include_str!("../../configs/cifar100.json")),
    ("imagenet", include_str!("../../configs/imagenet.json")),
    (
        "imagenet_resnet200",
        include_str!("../../configs/imagenet_resnet200.json"),
    ),
    ("folder", include_str!("../../configs/folder.json")),
    ("quick", include_str!("../../configs/quick.json")),
    ("tiny", include_str!("../../configs/tiny.json")),
];

/// The JSON text of a named preset: `configs/<name>.json` when present on disk (so edits take
/// effect without rebuilding), otherwise the copy compiled into the binary.
///
/// # Errors
/// When the name is not a preset.
pub fn preset_text(name: &str) -> Result<(PathBuf, String)> {
    let path = configs_dir().join(format!("{name}.json"));
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok((path, text));
    }
    match EMBEDDED.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => Ok((path, text.to_string())),
        None => {
            let names: Vec<_> = EMBEDDED.iter().map(|(n, _)| *n).collect();
            bail!(
                "no preset named `{name}`; the presets are {}",
                names.join(", ")
            )
        }
    }
}

/// Parses JSON text, naming the file in the error.
fn parse_json(path: &Path, text: &str) -> Result<Value> {
    serde_json::from_str(text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// Deep-merges `overlay` into `base`: objects merge key by key, anything else replaces.
///
/// # Errors
/// When the overlay holds a key the base lacks (`origin` names the overlay in the message).
pub fn merge(base: &mut Value, overlay: &Value, origin: &str) -> Result<()> {
    fn walk(
        base: &mut Value,
        overlay: &Value,
        prefix: &str,
        origin: &str,
        root: &Value,
    ) -> Result<()> {
        match (base, overlay) {
            // An enum (externally tagged, `{"Variant": {...}}`) is replaced whole, so that an
            // overlay may pick another variant.
            (slot @ Value::Object(_), Value::Object(o))
                if is_enum(slot) || o.keys().any(|k| is_variant(k)) =>
            {
                *slot = Value::Object(o.clone());
                Ok(())
            }
            (Value::Object(b), Value::Object(o)) => {
                for (key, value) in o {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    match b.get_mut(key) {
                        Some(slot) => walk(slot, value, &path, origin, root)?,
                        None => bail!(
                            "{origin}: unknown configuration key `{path}`; valid keys are:\n  {}",
                            leaf_keys(root).join("\n  ")
                        ),
                    }
                }
                Ok(())
            }
            (slot, value) => {
                *slot = value.clone();
                Ok(())
            }
        }
    }
    let root = base.clone();
    walk(base, overlay, "", origin, &root)
}

/// Whether a key names an enum variant (Burn configs serialise variants in `UpperCamelCase`).
fn is_variant(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_uppercase())
}

/// Whether a JSON object is an externally tagged enum value: one key, a variant name.
fn is_enum(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|map| map.len() == 1 && map.keys().all(|k| is_variant(k)))
}

/// Turns JSON into a [`StudyConfig`], checking that it has no key the config lacks.
///
/// # Errors
/// On a JSON shape that does not fit (a missing or mistyped field, an unknown variant), or a
/// key that the typed configuration does not know.
pub fn from_json(value: &Value, origin: &str) -> Result<StudyConfig> {
    let config: StudyConfig =
        serde_json::from_value(value.clone()).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
    // Burn's config structs ignore unknown fields; compare the key sets to catch typos there.
    let known = leaf_keys(&config.to_json());
    for key in leaf_keys(value) {
        let covered = known
            .iter()
            .any(|k| k == &key || k.starts_with(&format!("{key}.")));
        if !covered {
            bail!(
                "{origin}: unknown configuration key `{key}`; valid keys are:\n  {}",
                known.join("\n  ")
            );
        }
    }
    Ok(config)
}

/// Loads and checks a preset file (for `--config FILE`).
///
/// # Errors
/// When it cannot be read or parsed, or does not validate.
pub fn load_file(path: &Path) -> Result<StudyConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    let config = from_json(&parse_json(path, &text)?, &path.display().to_string())?;
    config
        .validate()
        .with_context(|| format!("in {}", path.display()))?;
    Ok(config)
}

/// The configuration of a `reproduce` run: preset, quick overlay, shorthands and `--set`
/// overrides, validated.
///
/// # Errors
/// An unreadable or malformed preset, an unknown key, a value of the wrong type, or a value out
/// of range, each naming the key.
pub fn resolve(args: &ReproduceArgs) -> Result<StudyConfig> {
    let (origin, mut value) = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the config file {}", path.display()))?;
            (path.display().to_string(), parse_json(path, &text)?)
        }
        None => {
            let (path, text) = preset_text(args.dataset.as_str())?;
            (path.display().to_string(), parse_json(&path, &text)?)
        }
    };
    // Normalise through the typed config so that every key exists before overlays apply.
    value = from_json(&value, &origin)?.to_json();

    if args.preset == PresetChoice::Quick {
        let (path, text) = preset_text("quick")?;
        let overlay = parse_json(&path, &text)?;
        merge(&mut value, &overlay, &path.display().to_string())?;
        if args.dataset != DatasetName::Synthetic {
            // The quick schedule keeps the dataset's own resolution and classes.
            value["data"]["synthetic"] = Value::Null;
        }
    }

    if let Some(epochs) = args.epochs {
        for stage in ["supcon", "linear", "cross_entropy"] {
            rescale_epochs(&mut value[stage], epochs);
        }
    }
    if let Some(batch_size) = args.batch_size {
        for stage in ["supcon", "linear", "cross_entropy"] {
            value[stage]["batch_size"] = batch_size.into();
        }
    }
    if let Some(seed) = args.seed {
        value["seed"] = seed.into();
    }
    for assignment in &args.overrides {
        apply_override(&mut value, assignment).map_err(anyhow::Error::new)?;
        from_json(&value, &format!("--set {assignment}"))?;
    }

    let config = from_json(&value, &origin)?;
    config.validate()?;
    Ok(config)
}

/// Sets a stage's epochs and keeps the schedule's shape: warm-up and step milestones scale with
/// the new length.
fn rescale_epochs(stage: &mut Value, epochs: usize) {
    let old = stage["epochs"].as_u64().unwrap_or(1).max(1) as f64;
    let ratio = epochs as f64 / old;
    stage["epochs"] = epochs.into();
    let schedule = &mut stage["schedule"];
    if let Some(warmup) = schedule["warmup_epochs"].as_f64() {
        schedule["warmup_epochs"] = (warmup * ratio).into();
    }
    // `pointer_mut`, not indexing: indexing a missing key would insert it.
    if let Some(milestones) = schedule
        .pointer_mut("/decay/Step/milestones")
        .and_then(Value::as_array_mut)
    {
        for m in milestones.iter_mut() {
            let scaled = (m.as_f64().unwrap_or(0.0) * ratio).round() as u64;
            *m = scaled.into();
        }
    }
}

/// The keys whose values differ between two configurations (dotted), for resume checks.
pub fn differences(old: &Value, new: &Value) -> Vec<String> {
    let mut keys = leaf_keys(old);
    keys.extend(leaf_keys(new));
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|key| {
            let pointer = format!("/{}", key.replace('.', "/"));
            old.pointer(&pointer) != new.pointer(&pointer)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> ReproduceArgs {
        let cli = crate::cli::Cli::parse_from(["xtask", "reproduce"].iter().chain(extra));
        match cli.command {
            crate::cli::Command::Reproduce(args) => args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn every_preset_loads_and_validates() {
        for (name, text) in EMBEDDED {
            let value: Value = serde_json::from_str(text).unwrap();
            if name == "quick" {
                // An overlay: it must merge into every dataset preset.
                for base in ["synthetic", "cifar10", "imagenet", "folder"] {
                    resolve(&args(&[base, "--preset", "quick"]))
                        .unwrap_or_else(|e| panic!("quick on {base}: {e:#}"));
                }
                continue;
            }
            let config = from_json(&value, name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            config.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                config.name, name,
                "the preset's name field matches its file"
            );
        }
    }

    #[test]
    fn shorthands_and_overrides_apply_in_order() {
        let config = resolve(&args(&[
            "cifar10",
            "--epochs",
            "100",
            "--batch-size",
            "64",
            "--seed",
            "7",
            "--set",
            "supcon.loss.temperature=0.5",
            "--set",
            "linear.epochs=3",
        ]))
        .unwrap();
        assert_eq!(config.supcon.epochs, 100);
        assert_eq!(config.linear.epochs, 3);
        assert_eq!(config.cross_entropy.batch_size, 64);
        assert_eq!(config.seed, 7);
        assert!((config.supcon.loss.temperature - 0.5).abs() < 1e-12);
        // 1000 epochs with 10 of warm-up, cut to 100: 1 epoch of warm-up.
        assert!((config.supcon.schedule.warmup_epochs - 1.0).abs() < 1e-9);
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        let err = resolve(&args(&["--set", "supcon.loss.temperature=0"])).unwrap_err();
        assert!(
            err.to_string().contains("`supcon.loss.temperature` = 0"),
            "{err:#}"
        );
        let err = resolve(&args(&["--set", "evaluation.severities=[6]"])).unwrap_err();
        assert!(err.to_string().contains("evaluation.severities"), "{err:#}");
        let err = resolve(&args(&["--set", "model.depth=19"])).unwrap_err();
        assert!(err.to_string().contains("one of 18, 34, 50"), "{err:#}");
    }

    #[test]
    fn a_typo_inside_a_burn_config_is_an_unknown_key() {
        let (_, text) = preset_text("synthetic").unwrap();
        let mut value: Value = serde_json::from_str(&text).unwrap();
        value["supcon"]["schedule"]["warmup_epoch"] = 1.0.into();
        let err = from_json(&value, "test").unwrap_err();
        assert!(
            err.to_string().contains("`supcon.schedule.warmup_epoch`"),
            "{err:#}"
        );
    }

    #[test]
    fn differences_lists_changed_keys() {
        let a = serde_json::json!({"a": {"b": 1, "c": 2}});
        let b = serde_json::json!({"a": {"b": 1, "c": 3}});
        assert_eq!(differences(&a, &b), ["a.c"]);
    }
}
