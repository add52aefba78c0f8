//! The command line: subcommands and their options (each doc comment is its `--help`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The supcon-rs runner: reproduce the paper, evaluate robustness, corrupt images, benchmark,
/// and run the CI checks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, propagate_version = true)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reproduce the paper's study on one dataset: train the cross-entropy baseline, SupCon
    /// stage 1 (encoder + projection head) and stage 2 (linear classifier on the frozen
    /// encoder), evaluate both models (top-1, top-5, ECE with reliability diagrams, error under
    /// the 19 corruptions x 5 severities) and write `<out>/report.md`, `<out>/report.json` and
    /// `<out>/plots/*.png`.
    ///
    /// Re-running the same command resumes every stage from its last checkpoint; finished stages
    /// and evaluations are skipped.
    ///
    /// Examples:
    ///   cargo xtask reproduce                       (synthetic data, about 8 minutes on 2 cores)
    ///   cargo xtask reproduce cifar10 --data ~/data/cifar-10-batches-bin
    ///   cargo xtask reproduce cifar10 --data DIR --preset quick --set supcon.loss.temperature=0.5
    #[command(verbatim_doc_comment)]
    Reproduce(ReproduceArgs),
    /// Run the evaluation suite alone on a trained classifier: clean top-1/top-5, calibration
    /// (ECE, reliability diagram) and error under every corruption and severity (CE, mCE and
    /// relative mCE on ImageNet).
    ///
    /// The checkpoint is either a classifier exported by `reproduce`
    /// (`<out>/cross_entropy/model.safetensors`, `<out>/linear/model.safetensors`; the run's
    /// `config.json` gives the architecture and normalisation) or a torchvision ResNet
    /// `state_dict` saved as safetensors (`--arch resnet50`, ImageNet normalisation).
    #[command(verbatim_doc_comment)]
    Robustness(RobustnessArgs),
    /// Write corrupted copies of images in the ImageNet-C layout
    /// (`<output>/<corruption>/<severity>/<class>/<file>`, JPEG quality 85), or corrupt one
    /// image into one file (`--input a.png --output b.png --corruptions fog --severities 3`).
    #[command(verbatim_doc_comment)]
    Corrupt(CorruptArgs),
    /// Run the crates' benchmarks at their fixed sizes and collect their figures, with the
    /// machine's description, into one JSON file (`runs/bench/bench-<timestamp>.json`), so that
    /// later runs can be compared (`--compare FILE`).
    #[command(verbatim_doc_comment)]
    Bench(BenchArgs),
    /// Run the checks CI runs, cheapest first: `cargo fmt --check`, `cargo clippy` (warnings
    /// are errors) and `cargo test --workspace`.
    Ci(CiArgs),
}

/// The datasets `reproduce` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DatasetName {
    /// The built-in procedurally drawn dataset (no download).
    Synthetic,
    /// CIFAR-10 in its binary format (`data_batch_1.bin` .. `test_batch.bin`).
    Cifar10,
    /// CIFAR-100 in its binary format (`train.bin`, `test.bin`).
    Cifar100,
    /// ImageNet (ILSVRC-2012) as class folders under `train/` and `val/`.
    Imagenet,
    /// Any image-folder dataset with `train/` and `val/` class folders.
    Folder,
}

impl DatasetName {
    /// The name used for presets (`configs/<name>.json`) and the default output folder.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Synthetic => "synthetic",
            Self::Cifar10 => "cifar10",
            Self::Cifar100 => "cifar100",
            Self::Imagenet => "imagenet",
            Self::Folder => "folder",
        }
    }
}

/// The compute device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceChoice {
    /// Burn's `flex` CPU backend (the default; multi-threaded, SIMD).
    Cpu,
    /// Burn's `ndarray` CPU backend (much slower than `cpu` for convolutions).
    Ndarray,
    /// Any GPU through wgpu (Vulkan, Metal, DX12); needs the `wgpu` feature.
    Wgpu,
    /// An NVIDIA GPU through CUDA; needs the `cuda` feature.
    Cuda,
}

/// Which recipe `reproduce` starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PresetChoice {
    /// The paper's hyper-parameters for the dataset (`configs/<dataset>.json`).
    Paper,
    /// The short schedule of the synthetic study on any dataset (`configs/quick.json`).
    Quick,
}

/// Options of `reproduce`.
#[derive(Clone, Debug, Args)]
pub struct ReproduceArgs {
    /// The dataset.
    #[arg(value_enum, default_value_t = DatasetName::Synthetic)]
    pub dataset: DatasetName,
    /// The dataset's folder (CIFAR binary files, or `train/` and `val/` class folders).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// A preset JSON file to use instead of `configs/<dataset>.json`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Start from the paper's recipe or from the quick schedule.
    #[arg(long, value_enum, default_value_t = PresetChoice::Paper)]
    pub preset: PresetChoice,
    /// Override one preset value by its dotted key, e.g. `--set supcon.loss.temperature=0.5`
    /// (repeatable; the value is JSON, or a plain string).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Epochs of every training stage (shorthand for the three `<stage>.epochs` keys).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Batch size of every training stage (shorthand for the three `<stage>.batch_size` keys).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// The compute device.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// The run folder [default: runs/<dataset>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The run's seed (data order, augmentation, initialisation, corruptions).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Train and evaluate only the SupCon model.
    #[arg(long)]
    pub skip_baseline: bool,
    /// The benchmark's frost texture images (frost1.png .. frost6.jpg); without it frost uses a
    /// procedural texture and its results are marked approximate.
    #[arg(long, value_name = "DIR")]
    pub frost_dir: Option<PathBuf>,
    /// Pre-generated corrupted test data (an ImageNet-C tree, or CIFAR-10-C/100-C `.npy` files)
    /// instead of corrupting the test set on the fly.
    #[arg(long, value_name = "DIR")]
    pub corrupted_data: Option<PathBuf>,
}

/// Options of `robustness`.
#[derive(Clone, Debug, Args)]
pub struct RobustnessArgs {
    /// The classifier (safetensors): exported by `reproduce`, or torchvision weights.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// The test images: a class-folder tree, or a CIFAR binary folder with `--dataset cifar10`.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// How to read `--data` and which resolution and corruption parameters to use.
    #[arg(long, value_enum, default_value_t = DatasetName::Imagenet)]
    pub dataset: DatasetName,
    /// The architecture of a safetensors checkpoint (resnet18, resnet34, resnet50, resnet101,
    /// resnet152, resnet200; append `_cifar` for the CIFAR stem).
    #[arg(long, default_value = "resnet50")]
    pub arch: String,
    /// Width multiplier of a safetensors checkpoint's ResNet.
    #[arg(long, default_value_t = 1.0)]
    pub width: f64,
    /// Pre-generated corrupted data instead of corrupting on the fly.
    #[arg(long, value_name = "DIR")]
    pub corrupted_data: Option<PathBuf>,
    /// Frost textures (see `reproduce --help`).
    #[arg(long, value_name = "DIR")]
    pub frost_dir: Option<PathBuf>,
    /// Corruptions to run (comma separated names) [default: all 19].
    #[arg(long, value_delimiter = ',')]
    pub corruptions: Vec<String>,
    /// Severities to run (comma separated, 1-5) [default: 1,2,3,4,5].
    #[arg(long, value_delimiter = ',')]
    pub severities: Vec<u8>,
    /// Evaluate at most this many test images (a deterministic subset).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Images per evaluation batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// The compute device.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// Where the results (robustness.json, robustness.md, plots/) go.
    #[arg(long, value_name = "DIR", default_value = "runs/robustness")]
    pub out: PathBuf,
    /// Seed of the random corruptions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Options of `corrupt`.
#[derive(Clone, Debug, Args)]
pub struct CorruptArgs {
    /// A class-folder tree (`<class>/<file>`) or one image.
    #[arg(long, value_name = "DIR|FILE")]
    pub input: PathBuf,
    /// The output tree, or the output image when `--input` is a file.
    #[arg(long, value_name = "DIR|FILE")]
    pub output: PathBuf,
    /// Corruptions (comma separated names) [default: all 19].
    #[arg(long, value_delimiter = ',')]
    pub corruptions: Vec<String>,
    /// Severities (comma separated, 1-5) [default: 1,2,3,4,5].
    #[arg(long, value_delimiter = ',')]
    pub severities: Vec<u8>,
    /// The corruption parameters: `imagenet` (224 px, images are resized to 256 and
    /// centre-cropped to 224 first) or `cifar` (32 px).
    #[arg(long, value_enum, default_value_t = Resolution::Imagenet)]
    pub resolution: Resolution,
    /// Frost textures (see `reproduce --help`).
    #[arg(long, value_name = "DIR")]
    pub frost_dir: Option<PathBuf>,
    /// Seed of the random corruptions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// The parameter set of the corruptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Resolution {
    /// ImageNet-C's parameters at 224 px.
    Imagenet,
    /// CIFAR-10-C's parameters at 32 px.
    Cifar,
}

/// Options of `bench`.
#[derive(Clone, Debug, Args)]
pub struct BenchArgs {
    /// Run only the benchmarks whose `<crate>/<bench>` name contains one of these
    /// (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Timed repetitions per benchmark (passed as SUPCON_BENCH_STEPS).
    #[arg(long)]
    pub steps: Option<usize>,
    /// The folder of the collected JSON files.
    #[arg(long, value_name = "DIR", default_value = "runs/bench")]
    pub out: PathBuf,
    /// An earlier bench JSON file to compare against (default: the newest one in `--out`).
    #[arg(long, value_name = "FILE")]
    pub compare: Option<PathBuf>,
}

/// Options of `ci`.
#[derive(Clone, Debug, Args)]
pub struct CiArgs {
    /// Stop after formatting and clippy (no tests).
    #[arg(long)]
    pub no_tests: bool,
}
