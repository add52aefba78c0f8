//! End-to-end training on the synthetic shapes set with a tiny encoder: stage 1 (SupCon,
//! SimCLR, joint), stage 2 and the cross-entropy baseline.

mod common;

use burn::module::Module;
use burn::prelude::*;
use common::{constant_lr, synthetic, tiny_data, tiny_encoder, SIZE};
use supcon_data::Split;
use supcon_models::{ClassifierModel, ClassifierModelConfig, SupConModelConfig};
use supcon_train::{
    read_metrics, train_cross_entropy, train_linear_probe, train_supcon, Augmentation,
    ContrastiveMethod, CrossEntropyTrainingConfig, EpochMetrics, LinearProbeConfig,
    MetricsRecord, SupConTrainingConfig, TrainOptions, CLASSIFIER_MODEL_FILE, CONFIG_FILE,
    CROSS_ENTROPY_MODEL_FILE, ENCODER_FILE, JOINT_CLASSIFIER_FILE, METRICS_FILE,
    SUPCON_MODEL_FILE,
};

fn epochs_of(dir: &std::path::Path) -> Vec<EpochMetrics> {
    read_metrics(&dir.join(METRICS_FILE))
        .unwrap()
        .into_iter()
        .filter_map(|record| match record {
            MetricsRecord::Epoch(epoch) => Some(epoch),
            MetricsRecord::Step(_) => None,
        })
        .collect()
}

fn stage1_config(epochs: usize) -> SupConTrainingConfig {
    SupConTrainingConfig::new(SupConModelConfig::new(tiny_encoder()), epochs, 16)
        .with_data(tiny_data())
        .with_schedule(constant_lr(0.1))
        .with_seed(3)
}

/// SupCon on 4 classes x 16 images (4 steps per epoch): the mean loss of the last of 6 epochs
/// is below that of the first, the run records its config and metrics and writes the models.
#[test]
fn supcon_stage_lowers_the_loss_and_writes_its_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let train = synthetic(4, 16, Split::Train);
    let config = stage1_config(6);
    let outcome = train_supcon(&config, dir.path(), &train, &Device::flex(), &TrainOptions::quiet())
        .unwrap();

    let epochs = epochs_of(dir.path());
    assert_eq!(epochs.len(), 6);
    let (first, last) = (epochs[0].loss, epochs[5].loss);
    assert!(last < first, "SupCon loss did not fall: {first} -> {last}");
    assert!(outcome.summary.completed);
    assert_eq!(outcome.summary.steps, 24);

    let recorded: SupConTrainingConfig =
        serde_json::from_slice(&std::fs::read(dir.path().join(CONFIG_FILE)).unwrap()).unwrap();
    assert_eq!(
        serde_json::to_value(&recorded).unwrap(),
        serde_json::to_value(&config).unwrap()
    );
    for file in [SUPCON_MODEL_FILE, ENCODER_FILE] {
        assert!(dir.path().join(file).is_file(), "{file} missing");
    }
    let step_lines = read_metrics(&dir.path().join(METRICS_FILE))
        .unwrap()
        .into_iter()
        .filter(|r| matches!(r, MetricsRecord::Step(_)))
        .count();
    assert_eq!(step_lines, 24);
}

/// SimCLR (no labels) with the joint stop-gradient classifier: both losses are finite, the
/// classifier's training accuracy is reported, and the joint classifier model is written.
#[test]
fn simclr_with_joint_classifier_trains_both_parts() {
    let dir = tempfile::tempdir().unwrap();
    let train = synthetic(4, 8, Split::Train);
    let config = stage1_config(2)
        .with_method(ContrastiveMethod::SimClr)
        .with_joint_classifier(true);
    let outcome = train_supcon(&config, dir.path(), &train, &Device::flex(), &TrainOptions::quiet())
        .unwrap();
    let last = outcome.summary.last_epoch.unwrap();
    assert!(last.loss.is_finite());
    let classifier_loss = last.classifier_loss.expect("joint mode reports the classifier loss");
    assert!(classifier_loss.is_finite() && classifier_loss < last.loss);
    assert!(last.train_acc.is_some());

    let joint = outcome.joint_classifier.expect("joint mode returns the classifier");
    assert_eq!(joint.classifier.num_classes(), 4);
    assert!(dir.path().join(JOINT_CLASSIFIER_FILE).is_file());
}

/// Stage 2 on the encoder of a short stage 1: the classifier on frozen features reaches a
/// validation accuracy well above the 25 % chance level of 4 balanced classes, and the encoder
/// is left untouched.
#[test]
fn linear_probe_reaches_clearly_above_chance_accuracy() {
    let run = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let train = synthetic(4, 32, Split::Train);
    let valid = synthetic(4, 32, Split::Test);
    let stage1 = train_supcon(
        &stage1_config(4),
        &run.path().join("supcon"),
        &train,
        &device,
        &TrainOptions::quiet(),
    )
    .unwrap();
    let encoder = stage1.model.encoder;
    let before = common::tensors(&encoder);

    let config = LinearProbeConfig::new(15, 16)
        .with_data(tiny_data().with_augmentation(Augmentation::CropFlip { min_scale: 0.5 }))
        .with_schedule(supcon_train::LrScheduleConfig::new(0.5))
        .with_seed(5);
    let dir = run.path().join("linear");
    let probe =
        train_linear_probe(&config, &dir, &encoder, &train, Some(&valid), &device, &TrainOptions::quiet())
            .unwrap();

    let best = probe.summary.best_val_acc.unwrap();
    let last = probe.summary.last_epoch.as_ref().unwrap().val_acc.unwrap();
    assert!(best >= last);
    assert!(last > 0.45, "linear probe accuracy {last} is not clearly above chance (0.25)");
    assert!(probe.best_classifier.is_some());
    assert_eq!(common::tensors(&probe.model.encoder), before, "the frozen encoder changed");
    assert!(dir.join(CLASSIFIER_MODEL_FILE).is_file());

    // The written classifier model reproduces the validation accuracy of the last epoch.
    let eval_device = device.clone();
    let loaded: ClassifierModel = ClassifierModelConfig::new(tiny_encoder(), 4)
        .init(&eval_device)
        .load_file(dir.join(CLASSIFIER_MODEL_FILE));
    assert_eq!(common::tensors(&loaded), common::tensors(&probe.model));
}

/// The cross-entropy baseline with label smoothing: the loss falls, the training accuracy
/// ends above chance and a validation accuracy is recorded every epoch.
#[test]
fn cross_entropy_baseline_trains() {
    let dir = tempfile::tempdir().unwrap();
    let train = synthetic(4, 16, Split::Train);
    let valid = synthetic(4, 8, Split::Test);
    let config = CrossEntropyTrainingConfig::new(tiny_encoder(), 6, 16)
        .with_data(tiny_data())
        .with_label_smoothing(Some(0.1))
        .with_schedule(constant_lr(0.05))
        .with_seed(1);
    let outcome = train_cross_entropy(
        &config,
        dir.path(),
        &train,
        Some(&valid),
        &Device::flex(),
        &TrainOptions::quiet(),
    )
    .unwrap();

    let epochs = epochs_of(dir.path());
    assert_eq!(epochs.len(), 6);
    assert!(epochs.iter().all(|e| e.val_acc.is_some()));
    assert!(
        epochs[5].loss < epochs[0].loss,
        "cross-entropy did not fall: {} -> {}",
        epochs[0].loss,
        epochs[5].loss
    );
    assert!(epochs[5].train_acc.unwrap() > 0.3);
    assert!(dir.path().join(CROSS_ENTROPY_MODEL_FILE).is_file());
    assert_eq!(outcome.model.classifier.num_classes(), 4);
    let logits = outcome
        .model
        .valid()
        .forward(Tensor::<4>::zeros([2, 3, SIZE as usize, SIZE as usize], &Device::flex()));
    assert_eq!(logits.dims(), [2, 4]);
}
