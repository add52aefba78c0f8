//! The configurations of the training stages, as Burn configs that serialise to JSON.

use burn::config::Config;
use supcon_core::SupConLossConfig;
use supcon_models::{ResNetConfig, SupConModelConfig};

use crate::data::{Augmentation, DataConfig};
use crate::optimizer::OptimizerConfig;
use crate::schedule::LrScheduleConfig;

/// When checkpoints are written and how many are kept.
///
/// These settings do not change what a run computes, so a run may resume under other values.
#[derive(Config, Debug)]
pub struct CheckpointConfig {
    /// Write a checkpoint after every this many epochs (and always after the last one).
    #[config(default = 1)]
    pub every_epochs: usize,
    /// Also write one every this many optimiser steps (for long epochs).
    #[config(default = "None")]
    pub every_steps: Option<usize>,
    /// How many of the newest checkpoints to keep.
    #[config(default = 2)]
    pub keep_last: usize,
}

/// Which positives the contrastive stage uses.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ContrastiveMethod {
    /// Supervised contrastive: samples of the same class are positives.
    SupCon,
    /// SimCLR: only the other views of the same image are positives; labels are not used.
    SimClr,
}

/// Stage 1: contrastive training of an encoder and a projection head on `views` augmented
/// views of each image (SupCon, or SimCLR without labels), optionally with a jointly trained
/// stop-gradient classifier.
///
/// The defaults follow the paper's CIFAR setting in its PyTorch code (temperature 0.1,
/// SGD with momentum 0.9 and weight decay 1e-4, base rate 0.5 with cosine decay, two views).
#[derive(Config, Debug)]
pub struct SupConTrainingConfig {
    /// Encoder and projection head.
    pub model: SupConModelConfig,
    /// Number of epochs.
    pub epochs: usize,
    /// Images per batch (each contributes `views` rows).
    pub batch_size: usize,
    /// SupCon or SimCLR.
    #[config(default = "ContrastiveMethod::SupCon")]
    pub method: ContrastiveMethod,
    /// The contrastive loss (temperature, base temperature, summation, contrast mode).
    #[config(default = "SupConLossConfig::new()")]
    pub loss: SupConLossConfig,
    /// Augmented views per image.
    #[config(default = 2)]
    pub views: usize,
    /// The optimiser.
    #[config(default = "OptimizerConfig::sgd(1e-4)")]
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    #[config(default = "LrScheduleConfig::new(0.5)")]
    pub schedule: LrScheduleConfig,
    /// Also train a linear classifier on the detached encoder features with cross-entropy in
    /// the same run (the joint mode of the TensorFlow code). Needs labels.
    #[config(default = false)]
    pub joint_classifier: bool,
    /// Image size, augmentation of every view and normalisation.
    #[config(default = "DataConfig::new()")]
    pub data: DataConfig,
    /// The seed of the run: initial weights, data order and every augmentation derive from it.
    #[config(default = 0)]
    pub seed: u64,
    /// Checkpoint frequency and retention.
    #[config(default = "CheckpointConfig::new()")]
    pub checkpoint: CheckpointConfig,
}

/// Stage 2: a linear classifier trained with cross-entropy on the features of a frozen encoder
/// (evaluation-mode BatchNorm, no gradient), validated every epoch.
///
/// The defaults follow the paper's PyTorch code (SGD momentum 0.9 without weight decay, base
/// rate 0.1 with cosine decay, random resized crops and flips).
#[derive(Config, Debug)]
pub struct LinearProbeConfig {
    /// Number of epochs.
    pub epochs: usize,
    /// Images per batch.
    pub batch_size: usize,
    /// The optimiser.
    #[config(default = "OptimizerConfig::sgd(0.0)")]
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    #[config(default = "LrScheduleConfig::new(0.1)")]
    pub schedule: LrScheduleConfig,
    /// Image size, training augmentation (crop and flip by default) and normalisation; the
    /// normalisation must be the one the encoder was trained with.
    #[config(
        default = "DataConfig::new().with_augmentation(Augmentation::CropFlip { min_scale: 0.2 })"
    )]
    pub data: DataConfig,
    /// Images per batch when computing validation accuracy.
    #[config(default = 256)]
    pub eval_batch_size: usize,
    /// The seed of the run.
    #[config(default = 0)]
    pub seed: u64,
    /// Checkpoint frequency and retention.
    #[config(default = "CheckpointConfig::new()")]
    pub checkpoint: CheckpointConfig,
}

/// The cross-entropy baseline: an encoder and a linear classifier trained end to end, validated
/// every epoch.
///
/// The defaults follow the paper's PyTorch code (SGD momentum 0.9, weight decay 1e-4, base
/// rate 0.2 with cosine decay).
#[derive(Config, Debug)]
pub struct CrossEntropyTrainingConfig {
    /// The encoder (the classifier is sized to the dataset's classes).
    pub encoder: ResNetConfig,
    /// Number of epochs.
    pub epochs: usize,
    /// Images per batch.
    pub batch_size: usize,
    /// Label smoothing `α` (targets become `(1 - α) one_hot + α / classes`); `None` for none.
    #[config(default = "None")]
    pub label_smoothing: Option<f32>,
    /// The optimiser.
    #[config(default = "OptimizerConfig::sgd(1e-4)")]
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    #[config(default = "LrScheduleConfig::new(0.2)")]
    pub schedule: LrScheduleConfig,
    /// Image size, training augmentation and normalisation.
    #[config(default = "DataConfig::new()")]
    pub data: DataConfig,
    /// Images per batch when computing validation accuracy.
    #[config(default = 256)]
    pub eval_batch_size: usize,
    /// The seed of the run.
    #[config(default = 0)]
    pub seed: u64,
    /// Checkpoint frequency and retention.
    #[config(default = "CheckpointConfig::new()")]
    pub checkpoint: CheckpointConfig,
}
