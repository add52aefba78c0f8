//! Stage 2: a linear classifier trained on the features of a frozen encoder.

use std::path::Path;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use supcon_data::{Batch, MultiViewLoader};
use supcon_models::{ClassifierModel, LinearClassifier, LinearClassifierConfig, ResNet};

use crate::checkpoint::fnv1a64;
use crate::config::LinearProbeConfig;
use crate::data::{eval_loader, train_loader, LabeledDataset};
use crate::driver::{finish_summary, restore, Driver, Stage, TrainSummary};
use crate::error::{Result, TrainError};
use crate::evaluate::top1_accuracy;
use crate::options::TrainOptions;
use crate::session::{load_module_bytes, save_module_file, seeded_init, Session};
use crate::step::{frozen_features, linear_probe_step, NonFinite, StepLoss};

/// The name of the stage in checkpoints and metrics.
pub const LINEAR_PROBE_STAGE: &str = "linear_probe";
/// The classifier after the last epoch, in the stage directory.
pub const CLASSIFIER_FILE: &str = "classifier.bpk";
/// The classifier of the epoch with the best validation accuracy, in the stage directory.
pub const BEST_CLASSIFIER_FILE: &str = "best_classifier.bpk";
/// The frozen encoder with the last classifier ([`ClassifierModel`]), in the stage directory.
pub const CLASSIFIER_MODEL_FILE: &str = "classifier_model.bpk";

/// The result of [`train_linear_probe`].
#[derive(Debug)]
pub struct LinearProbeOutcome {
    /// The frozen encoder with the classifier of the last epoch.
    pub model: ClassifierModel,
    /// The classifier of the epoch with the best validation accuracy, when validated.
    pub best_classifier: Option<LinearClassifier>,
    /// How the run went (`best_val_acc`, `last_epoch.val_acc`).
    pub summary: TrainSummary,
}

struct LinearProbe {
    frozen: ResNet,
    cross_entropy: CrossEntropyLoss,
    device: Device,
    eval: Option<MultiViewLoader>,
}

impl Stage for LinearProbe {
    type Model = LinearClassifier;

    fn step(
        &self,
        classifier: LinearClassifier,
        optimizer: &mut ModuleOptimizer,
        batch: Batch,
        lr: f64,
    ) -> std::result::Result<(LinearClassifier, StepLoss), NonFinite> {
        let features = frozen_features(&self.frozen, batch.images, &self.device);
        linear_probe_step(
            classifier,
            optimizer,
            &self.cross_entropy,
            features,
            batch.labels,
            lr,
        )
    }

    fn validate(&self, classifier: &LinearClassifier) -> Result<Option<f64>> {
        let Some(loader) = &self.eval else {
            return Ok(None);
        };
        let classifier = classifier.valid();
        let device = self.device.clone().without_autodiff();
        let accuracy = top1_accuracy(loader, &device, |images| {
            classifier.forward(self.frozen.forward(images))
        })?;
        Ok(Some(accuracy))
    }

    fn best_file(&self) -> Option<&'static str> {
        Some(BEST_CLASSIFIER_FILE)
    }
}

/// Trains a linear classifier on the frozen `encoder` in the stage directory `dir`, resuming
/// from its newest checkpoint if there is one.
///
/// The encoder runs in evaluation mode (BatchNorm uses its running statistics) without an
/// autodiff graph; only the classifier `feature_dim -> num_classes` is trained, with
/// cross-entropy. After every epoch the top-1 accuracy on `valid` (centre view, every image
/// once) is computed and the best classifier is kept in [`BEST_CLASSIFIER_FILE`].
///
/// `dir` receives `config.json` (with a fingerprint of the encoder's weights, checked on
/// resume), `metrics.jsonl`, `checkpoints/`, and at the end [`CLASSIFIER_FILE`],
/// [`CLASSIFIER_MODEL_FILE`] and `summary.json`. Resuming needs the same encoder.
///
/// # Errors
/// As [`train_supcon`](crate::train_supcon); also [`TrainError::Config`] when `valid` has
/// another number of classes than `train`, and [`TrainError::IncompatibleCheckpoint`] when the
/// checkpoint was trained on another encoder.
pub fn train_linear_probe(
    config: &LinearProbeConfig,
    dir: &Path,
    encoder: &ResNet,
    train: &LabeledDataset,
    valid: Option<&LabeledDataset>,
    device: &Device,
    options: &TrainOptions,
) -> Result<LinearProbeOutcome> {
    if config.epochs == 0 || config.batch_size == 0 {
        return Err(TrainError::Config(format!(
            "epochs ({}) and batch size ({}) must be positive",
            config.epochs, config.batch_size
        )));
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
    let frozen = encoder.valid();

    // The recorded config carries the encoder's fingerprint, so a resume with another encoder
    // is refused.
    let mut recorded = serde_json::to_value(config).expect("a Config always serialises");
    recorded["frozen_encoder_fnv1a64"] = format!("{:016x}", values_fingerprint(encoder)).into();
    let (mut session, resume) = Session::open_json(
        LINEAR_PROBE_STAGE,
        dir,
        recorded,
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

    let mut classifier = seeded_init(&device, config.seed, || {
        LinearClassifierConfig::new(encoder.feature_dim(), train.num_classes).init(&device)
    });
    let mut optimizer = config.optimizer.init();
    let mut position = session.start_position(config.seed);
    if let Some(checkpoint) = &resume {
        (classifier, optimizer) = restore(checkpoint, classifier, optimizer)?;
        position = checkpoint.position.clone();
    }

    let stage = LinearProbe {
        frozen,
        cross_entropy: CrossEntropyLossConfig::new().init(&device),
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
    let finished = driver.run(&stage, classifier, &mut optimizer, position)?;

    let classifier = finished.model;
    let model = ClassifierModel {
        encoder: encoder.clone(),
        classifier: classifier.clone(),
    };
    let best_path = dir.join(BEST_CLASSIFIER_FILE);
    let best_classifier = match (&stage.eval, best_path.is_file()) {
        (Some(_), true) => {
            let bytes = std::fs::read(&best_path).map_err(|e| TrainError::io(&best_path, e))?;
            Some(load_module_bytes(classifier.clone(), bytes, &best_path)?)
        }
        _ => None,
    };
    if finished.summary.completed {
        save_module_file(&classifier, &dir.join(CLASSIFIER_FILE))?;
        save_module_file(&model, &dir.join(CLASSIFIER_MODEL_FILE))?;
    }
    let summary = finish_summary(dir, finished.summary)?;
    Ok(LinearProbeOutcome {
        model,
        best_classifier,
        summary,
    })
}

/// FNV-1a 64 of a module's tensor values (running statistics brought up to date), in visiting
/// order. Not of its record bytes: those carry parameter ids, which differ between two
/// processes holding the same weights, so a resumed run would not recognise its encoder.
fn values_fingerprint<M: Module>(module: &M) -> u64 {
    struct Values(Vec<u8>);
    impl burn::module::ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            self.0.extend_from_slice(param.val().into_data().as_bytes());
        }
    }
    let synced = module.valid();
    let mut values = Values(Vec::new());
    synced.visit(&mut values);
    fnv1a64(&values.0)
}
