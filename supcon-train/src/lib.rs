//! Training for supervised contrastive learning (Khosla et al., "Supervised Contrastive
//! Learning", NeurIPS 2020, arXiv:2004.11362) on [Burn](https://burn.dev): the two stages of
//! the paper, the cross-entropy baseline and the joint mode of its TensorFlow code, with the
//! optimisers, schedules and resumable checkpoints they need.
//!
//! - [`train_supcon`]: stage 1, SupCon (or SimCLR) on an encoder + projection head, `V` views
//!   per image; with `joint_classifier`, a stop-gradient linear classifier trained alongside.
//! - [`train_linear_probe`]: stage 2, a linear classifier on the frozen encoder, validated
//!   every epoch, best and last kept.
//! - [`train_cross_entropy`]: the baseline, encoder + linear classifier end to end.
//! - Optimisers: [`MomentumSgdConfig`] (PyTorch semantics), [`LarsConfig`], and Burn's RMSProp
//!   through [`OptimizerConfig`]; [`LrScheduleConfig`]: per-step warm-up, then cosine or step
//!   decay, optional batch/256 scaling.
//!
//! Each training function works in a stage directory: `config.json` (the full configuration),
//! `metrics.jsonl` (one JSON object per step and per epoch: `step`, `epoch`, `loss`, `lr`,
//! `images_per_sec`, `val_acc`, ...), `checkpoints/` (written atomically, the last K kept) and
//! the final model files. Calling it again with the same directory resumes from the newest
//! checkpoint, mid-epoch included; on the CPU backend the final weights are bit-identical to an
//! uninterrupted run. A NaN or infinite loss stops the run with [`TrainError::NonFiniteLoss`]
//! naming the step, leaving the last good checkpoint in place.
//!
//! # Example
//! Stage 1 then stage 2 on a small synthetic set with a tiny encoder:
//! ```
//! use burn::prelude::*;
//! use supcon_data::{Split, SyntheticConfig};
//! use supcon_models::{ResNetConfig, SupConModelConfig};
//! use supcon_train::{
//!     train_linear_probe, train_supcon, DataConfig, LabeledDataset, LinearProbeConfig,
//!     SupConTrainingConfig, TrainOptions,
//! };
//!
//! let synthetic = SyntheticConfig::new()
//!     .with_num_classes(2)
//!     .with_samples_per_class(4)
//!     .with_image_size(8);
//! let train = LabeledDataset::new(synthetic.init(Split::Train)?);
//! let data = DataConfig::new().with_image_size(8);
//!
//! let encoder = ResNetConfig::resnet18_cifar().with_width_multiplier(1.0 / 16.0);
//! let stage1 = SupConTrainingConfig::new(SupConModelConfig::new(encoder), 1, 4)
//!     .with_data(data.clone());
//! let run = tempfile::tempdir()?;
//! let device = Device::flex();
//! let options = TrainOptions::quiet();
//! let supcon = train_supcon(&stage1, &run.path().join("supcon"), &train, &device, &options)?;
//! assert!(supcon.summary.completed);
//!
//! let stage2 = LinearProbeConfig::new(1, 4).with_data(data);
//! let probe = train_linear_probe(
//!     &stage2,
//!     &run.path().join("linear"),
//!     &supcon.model.encoder,
//!     &train,
//!     Some(&train),
//!     &device,
//!     &options,
//! )?;
//! assert!(probe.summary.last_epoch.unwrap().val_acc.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checkpoint;
mod config;
mod contrastive;
mod cross_entropy;
mod data;
mod data_parallel;
mod driver;
mod error;
mod evaluate;
mod grad_cache;
mod lars;
mod linear_probe;
mod metrics;
mod optimizer;
mod options;
mod schedule;
mod session;
mod step;

pub use checkpoint::{
    open as open_checkpoint, write_atomically, Checkpoint, CheckpointStore, EpochSums,
    TrainingPosition, CHECKPOINT_FORMAT_VERSION, MANIFEST_FILE,
};
pub use config::{
    CheckpointConfig, ContrastiveMethod, CrossEntropyTrainingConfig, LinearProbeConfig,
    SupConTrainingConfig,
};
pub use contrastive::{
    train_supcon, SupConOutcome, ENCODER_FILE, JOINT_CLASSIFIER_FILE, SUPCON_MODEL_FILE,
    SUPCON_STAGE,
};
pub use cross_entropy::{
    train_cross_entropy, CrossEntropyOutcome, BEST_CROSS_ENTROPY_MODEL_FILE,
    CROSS_ENTROPY_MODEL_FILE, CROSS_ENTROPY_STAGE,
};
pub use data::{Augmentation, DataConfig, ImageDataset, LabeledDataset};
pub use data_parallel::{supcon_step_data_parallel, Shard};
pub use driver::TrainSummary;
pub use error::{Result, TrainError};
pub use grad_cache::{supcon_step_cached, CachedStep};
pub use lars::{Lars, LarsConfig, LarsState};
pub use linear_probe::{
    train_linear_probe, LinearProbeOutcome, BEST_CLASSIFIER_FILE, CLASSIFIER_FILE,
    CLASSIFIER_MODEL_FILE, LINEAR_PROBE_STAGE,
};
pub use metrics::{read_metrics, EpochMetrics, MetricsRecord, MetricsWriter, StepMetrics};
pub use optimizer::{MomentumSgdConfig, OptimizerConfig};
pub use options::{MetricsObserver, TrainOptions};
pub use schedule::{LrDecay, LrSchedule, LrScheduleConfig};
pub use session::{CHECKPOINT_DIR, CONFIG_FILE, METRICS_FILE, SUMMARY_FILE};
pub use step::{
    cross_entropy_step, frozen_features, joint_step, linear_probe_step, supcon_step, JointModel,
    NonFinite, StepLoss,
};
