//! Stage 1: contrastive training of encoder + projection head (SupCon or SimCLR), optionally
//! with a jointly trained stop-gradient classifier.

use std::path::Path;

use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use supcon_core::{Positives, SupConLoss};
use supcon_data::Batch;
use supcon_models::{ClassifierModel, LinearClassifierConfig, SupConModel};

use crate::config::{ContrastiveMethod, SupConTrainingConfig};
use crate::data::{train_loader, LabeledDataset};
use crate::driver::{finish_summary, restore, Driver, Stage, TrainSummary};
use crate::error::{Result, TrainError};
use crate::options::TrainOptions;
use crate::session::{save_module_file, seeded_init, Session};
use crate::step::{joint_step, supcon_step, JointModel, NonFinite, StepLoss};

/// The name of the stage in checkpoints and metrics.
pub const SUPCON_STAGE: &str = "supcon";
/// The trained [`SupConModel`] (encoder + head), in the stage directory.
pub const SUPCON_MODEL_FILE: &str = "supcon_model.bpk";
/// The trained encoder alone, in the stage directory (what stage 2 needs).
pub const ENCODER_FILE: &str = "encoder.bpk";
/// In joint mode, the encoder with the jointly trained classifier ([`ClassifierModel`]).
pub const JOINT_CLASSIFIER_FILE: &str = "joint_classifier_model.bpk";

/// The result of [`train_supcon`].
#[derive(Debug)]
pub struct SupConOutcome {
    /// The encoder and projection head, on the training device.
    pub model: SupConModel,
    /// In joint mode, the encoder with the stop-gradient classifier trained alongside.
    pub joint_classifier: Option<ClassifierModel>,
    /// How the run went.
    pub summary: TrainSummary,
}

struct Contrastive {
    loss: SupConLoss,
    views: usize,
    method: ContrastiveMethod,
}

impl Stage for Contrastive {
    type Model = SupConModel;

    fn step(
        &self,
        model: SupConModel,
        optimizer: &mut ModuleOptimizer,
        batch: Batch,
        lr: f64,
    ) -> std::result::Result<(SupConModel, StepLoss), NonFinite> {
        let positives = match self.method {
            ContrastiveMethod::SupCon => Positives::Labels(batch.labels),
            ContrastiveMethod::SimClr => Positives::None,
        };
        supcon_step(
            model,
            optimizer,
            &self.loss,
            batch.images,
            positives,
            self.views,
            lr,
        )
    }
}

struct Joint {
    contrastive: Contrastive,
    cross_entropy: CrossEntropyLoss,
}

impl Stage for Joint {
    type Model = JointModel;

    fn step(
        &self,
        model: JointModel,
        optimizer: &mut ModuleOptimizer,
        batch: Batch,
        lr: f64,
    ) -> std::result::Result<(JointModel, StepLoss), NonFinite> {
        let c = &self.contrastive;
        let positives = match c.method {
            ContrastiveMethod::SupCon => Positives::Labels(batch.labels.clone()),
            ContrastiveMethod::SimClr => Positives::None,
        };
        joint_step(
            model,
            optimizer,
            &c.loss,
            &self.cross_entropy,
            batch.images,
            positives,
            batch.labels,
            c.views,
            lr,
        )
    }
}

/// Trains stage 1 in the stage directory `dir`, resuming from its newest checkpoint if there
/// is one.
///
/// Every batch holds `config.views` augmented views of `config.batch_size` images, view-major;
/// the embeddings `[V * B, D]` are regrouped to `[B, V, D]` for the loss, with the labels as
/// positives (SupCon) or none (SimCLR). With `joint_classifier`, a linear classifier is trained
/// at the same time with cross-entropy on the detached encoder features.
///
/// `dir` receives `config.json`, `metrics.jsonl`, `checkpoints/`, and at the end
/// [`SUPCON_MODEL_FILE`], [`ENCODER_FILE`] (and [`JOINT_CLASSIFIER_FILE`]) and `summary.json`.
/// Calling again with the same directory resumes (mid-epoch too); on the CPU backend the
/// result is bit-identical to an uninterrupted run. A finished stage is not retrained.
///
/// `device` is used with autodiff enabled.
///
/// # Errors
/// [`TrainError::NonFiniteLoss`] naming the step when the loss becomes NaN or infinite (the
/// last good checkpoint stays in place); [`TrainError::IncompatibleCheckpoint`] when `dir`
/// holds a run of another configuration; [`TrainError::CorruptCheckpoint`] when no checkpoint
/// is intact; [`TrainError::Config`] for a dataset smaller than a batch or invalid settings;
/// [`TrainError::Data`] and [`TrainError::Io`] for data and file errors.
///
/// # Example
/// ```no_run
/// use burn::prelude::*;
/// use supcon_data::{Split, SyntheticConfig};
/// use supcon_models::{ResNetConfig, SupConModelConfig};
/// use supcon_train::{train_supcon, LabeledDataset, SupConTrainingConfig, TrainOptions};
///
/// let train = LabeledDataset::new(SyntheticConfig::new().init(Split::Train)?);
/// let model = SupConModelConfig::new(ResNetConfig::resnet18_cifar());
/// let config = SupConTrainingConfig::new(model, 10, 64);
/// let outcome = train_supcon(
///     &config,
///     "runs/demo/supcon".as_ref(),
///     &train,
///     &Device::flex(),
///     &TrainOptions::default(),
/// )?;
/// println!("final loss {:?}", outcome.summary.last_epoch.map(|e| e.loss));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn train_supcon(
    config: &SupConTrainingConfig,
    dir: &Path,
    train: &LabeledDataset,
    device: &Device,
    options: &TrainOptions,
) -> Result<SupConOutcome> {
    validate(config)?;
    let device = device.clone().autodiff();
    let (mut session, resume) = Session::open(
        SUPCON_STAGE,
        dir,
        config,
        train,
        &config.checkpoint,
        options,
    )?;
    let loader = train_loader(
        &config.data,
        train.images.clone(),
        config.views,
        config.batch_size,
        config.seed,
        options.loader_threads,
    )?;
    let schedule = config
        .schedule
        .init(config.epochs, loader.num_batches(), config.batch_size);
    let contrastive = Contrastive {
        loss: config.loss.init(),
        views: config.views,
        method: config.method,
    };
    let mut optimizer = config.optimizer.init();
    let mut driver = Driver {
        session: &mut session,
        loader: &loader,
        schedule: &schedule,
        epochs: config.epochs,
        device: &device,
    };

    let (model, joint_classifier, summary) = if config.joint_classifier {
        let mut model = seeded_init(&device, config.seed, || {
            let model = config.model.init(&device);
            let features = model.encoder.feature_dim();
            JointModel {
                model,
                classifier: LinearClassifierConfig::new(features, train.num_classes).init(&device),
            }
        });
        let mut position = driver.session.start_position(config.seed);
        if let Some(checkpoint) = &resume {
            (model, optimizer) = restore(checkpoint, model, optimizer)?;
            position = checkpoint.position.clone();
        }
        let stage = Joint {
            contrastive,
            cross_entropy: CrossEntropyLossConfig::new().init(&device),
        };
        let finished = driver.run(&stage, model, &mut optimizer, position)?;
        let joint = finished.model;
        (
            joint.model.clone(),
            Some(joint.into_classifier_model()),
            finished.summary,
        )
    } else {
        let mut model = seeded_init(&device, config.seed, || config.model.init(&device));
        let mut position = driver.session.start_position(config.seed);
        if let Some(checkpoint) = &resume {
            (model, optimizer) = restore(checkpoint, model, optimizer)?;
            position = checkpoint.position.clone();
        }
        let finished = driver.run(&contrastive, model, &mut optimizer, position)?;
        (finished.model, None, finished.summary)
    };

    if summary.completed {
        save_module_file(&model, &dir.join(SUPCON_MODEL_FILE))?;
        save_module_file(&model.encoder, &dir.join(ENCODER_FILE))?;
        if let Some(classifier) = &joint_classifier {
            save_module_file(classifier, &dir.join(JOINT_CLASSIFIER_FILE))?;
        }
    }
    let summary = finish_summary(dir, summary)?;
    Ok(SupConOutcome {
        model,
        joint_classifier,
        summary,
    })
}

fn validate(config: &SupConTrainingConfig) -> Result<()> {
    if config.views == 0 {
        return Err(TrainError::Config("stage 1 needs at least one view".into()));
    }
    if config.method == ContrastiveMethod::SimClr && config.views < 2 {
        return Err(TrainError::Config(format!(
            "SimCLR needs at least two views per image (its only positives), got {}",
            config.views
        )));
    }
    if config.epochs == 0 || config.batch_size == 0 {
        return Err(TrainError::Config(format!(
            "epochs ({}) and batch size ({}) must be positive",
            config.epochs, config.batch_size
        )));
    }
    if !(config.loss.temperature.is_finite() && config.loss.temperature > 0.0) {
        return Err(TrainError::Config(format!(
            "the temperature must be finite and > 0, got {}",
            config.loss.temperature
        )));
    }
    Ok(())
}
