//! The cross-entropy baseline: encoder + linear classifier trained end to end.

use std::path::Path;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use supcon_data::{Batch, MultiViewLoader};
use supcon_models::{ClassifierModel, ClassifierModelConfig};

use crate::config::CrossEntropyTrainingConfig;
use crate::data::{eval_loader, train_loader, LabeledDataset};
use crate::driver::{finish_summary, restore, Driver, Stage, TrainSummary};
use crate::error::{Result, TrainError};
use crate::evaluate::top1_accuracy;
use crate::options::TrainOptions;
use crate::session::{save_module_file, seeded_init, Session};
use crate::step::{cross_entropy_step, NonFinite, StepLoss};

/// The name of the stage in checkpoints and metrics.
pub const CROSS_ENTROPY_STAGE: &str = "cross_entropy";
/// The model after the last epoch, in the stage directory.
pub const CROSS_ENTROPY_MODEL_FILE: &str = "classifier_model.bpk";
/// The model of the epoch with the best validation accuracy, in the stage directory.
pub const BEST_CROSS_ENTROPY_MODEL_FILE: &str = "best_classifier_model.bpk";

/// The result of [`train_cross_entropy`].
#[derive(Debug)]
pub struct CrossEntropyOutcome {
    /// The encoder and classifier after the last epoch, on the training device.
    pub model: ClassifierModel,
    /// How the run went.
    pub summary: TrainSummary,
}

struct CrossEntropy {
    cross_entropy: CrossEntropyLoss,
    device: Device,
    eval: Option<MultiViewLoader>,
}

impl Stage for CrossEntropy {
    type Model = ClassifierModel;

    fn step(
        &self,
        model: ClassifierModel,
        optimizer: &mut ModuleOptimizer,
        batch: Batch,
        lr: f64,
    ) -> std::result::Result<(ClassifierModel, StepLoss), NonFinite> {
        cross_entropy_step(
            model,
            optimizer,
            &self.cross_entropy,
            batch.images,
            batch.labels,
            lr,
        )
    }

    fn validate(&self, model: &ClassifierModel) -> Result<Option<f64>> {
        let Some(loader) = &self.eval else {
            return Ok(None);
        };
        let model = model.valid();
        let device = self.device.clone().without_autodiff();
        Ok(Some(top1_accuracy(loader, &device, |images| {
            model.forward(images)
        })?))
    }

    fn best_file(&self) -> Option<&'static str> {
        Some(BEST_CROSS_ENTROPY_MODEL_FILE)
    }
}

/// Trains the cross-entropy baseline (encoder + linear classifier, end to end, optional label
/// smoothing) in the stage directory `dir`, resuming from its newest checkpoint if there is
/// one. After every epoch the top-1 accuracy on `valid` is computed and the best model is kept
/// in [`BEST_CROSS_ENTROPY_MODEL_FILE`].
///
/// `dir` receives `config.json`, `metrics.jsonl`, `checkpoints/`, and at the end
/// [`CROSS_ENTROPY_MODEL_FILE`] and `summary.json`.
///
/// # Errors
/// As [`train_supcon`](crate::train_supcon); also [`TrainError::Config`] for a label smoothing
/// outside `[0, 1)` or a validation set with another number of classes.
pub fn train_cross_entropy(
    config: &CrossEntropyTrainingConfig,
    dir: &Path,
    train: &LabeledDataset,
    valid: Option<&LabeledDataset>,
    device: &Device,
    options: &TrainOptions,
) -> Result<CrossEntropyOutcome> {
    if config.epochs == 0 || config.batch_size == 0 {
        return Err(TrainError::Config(format!(
            "epochs ({}) and batch size ({}) must be positive",
            config.epochs, config.batch_size
        )));
    }
    if let Some(alpha) = config.label_smoothing {
        if !(0.0..1.0).contains(&alpha) {
            return Err(TrainError::Config(format!(
                "label smoothing must lie in [0, 1), got {alpha}"
            )));
        }
    }
    if let Some(valid) = valid {
        if valid.num_classes != train.num_classes {
            return Err(TrainError::Config(format!(
                "the validation set has {} classes, the training set {}",
                valid.num_classes, train.num_classes
            )));
        }
    }
    let device = device.clone().autodiff();
    let (mut session, resume) = Session::open(
        CROSS_ENTROPY_STAGE,
        dir,
        config,
        train,
        &config.checkpoint,
        options,
    )?;
    let loader = train_loader(
        &config.data,
        train.images.clone(),
        1,
        config.batch_size,
        config.seed,
        options.loader_threads,
    )?;
    let eval = valid
        .map(|valid| {
            eval_loader(
                &config.data,
                valid.images.clone(),
                config.eval_batch_size,
                options.loader_threads,
            )
        })
        .transpose()?;
    let schedule = config
        .schedule
        .init(config.epochs, loader.num_batches(), config.batch_size);

    let mut model = seeded_init(&device, config.seed, || {
        ClassifierModelConfig::new(config.encoder.clone(), train.num_classes).init(&device)
    });
    let mut optimizer = config.optimizer.init();
    let mut position = session.start_position(config.seed);
    if let Some(checkpoint) = &resume {
        (model, optimizer) = restore(checkpoint, model, optimizer)?;
        position = checkpoint.position.clone();
    }

    let stage = CrossEntropy {
        cross_entropy: CrossEntropyLossConfig::new()
            .with_smoothing(config.label_smoothing.filter(|&alpha| alpha > 0.0))
            .init(&device),
        device: device.clone(),
        eval,
    };
    let mut driver = Driver {
        session: &mut session,
        loader: &loader,
        schedule: &schedule,
        epochs: config.epochs,
        device: &device,
    };
    let finished = driver.run(&stage, model, &mut optimizer, position)?;
    if finished.summary.completed {
        save_module_file(&finished.model, &dir.join(CROSS_ENTROPY_MODEL_FILE))?;
    }
    let summary = finish_summary(dir, finished.summary)?;
    Ok(CrossEntropyOutcome {
        model: finished.model,
        summary,
    })
}
