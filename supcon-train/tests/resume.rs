//! Runs that survive: exact resume mid-epoch and after a lost checkpoint, NaN handling, and
//! clear errors for incompatible or damaged checkpoints.

mod common;

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;
use common::{assert_bit_identical, synthetic, tiny_data, tiny_encoder};
use supcon_data::Split;
use supcon_models::SupConModelConfig;
use supcon_train::{
    open_checkpoint, read_metrics, train_supcon, CheckpointConfig, CheckpointStore, LrDecay,
    LrScheduleConfig, MetricsRecord, OptimizerConfig, StepMetrics, SupConTrainingConfig,
    TrainError, TrainOptions, CHECKPOINT_DIR, METRICS_FILE,
};

/// 2 classes x 12 images in batches of 8: 3 steps per epoch, 3 epochs, with momentum and a
/// warm-up so that optimiser state and schedule position both matter.
fn config() -> SupConTrainingConfig {
    SupConTrainingConfig::new(SupConModelConfig::new(tiny_encoder()), 3, 8)
        .with_data(tiny_data())
        .with_schedule(LrScheduleConfig::new(0.2).with_warmup_epochs(1.0))
        .with_optimizer(OptimizerConfig::sgd(1e-3))
        .with_seed(11)
        .with_checkpoint(CheckpointConfig::new().with_keep_last(3))
}

fn steps(dir: &Path) -> Vec<StepMetrics> {
    read_metrics(&dir.join(METRICS_FILE))
        .unwrap()
        .into_iter()
        .filter_map(|r| match r {
            MetricsRecord::Step(step) => Some(step),
            MetricsRecord::Epoch(_) => None,
        })
        .collect()
}

/// The epoch lines' mean losses, as bits.
fn epoch_losses(dir: &Path) -> Vec<(usize, u64)> {
    read_metrics(&dir.join(METRICS_FILE))
        .unwrap()
        .into_iter()
        .filter_map(|r| match r {
            MetricsRecord::Epoch(epoch) => Some((epoch.epoch, epoch.loss.to_bits())),
            MetricsRecord::Step(_) => None,
        })
        .collect()
}

fn losses(dir: &Path) -> Vec<(usize, u64)> {
    steps(dir)
        .iter()
        .map(|s| (s.step, s.loss.to_bits()))
        .collect()
}

/// An uninterrupted run against (a) a run stopped at step 4 (in the middle of epoch 1) and
/// resumed, and (b) a run stopped at step 5 whose mid-epoch checkpoint is then lost, as if the
/// process had been killed, so it resumes from the end of epoch 0 and replays. All three end
/// with bit-identical weights and BatchNorm statistics, and the same per-step losses in
/// `metrics.jsonl`, each step recorded once; the interrupted epoch's mean loss is exact too.
#[test]
fn interrupted_runs_resume_to_bit_identical_weights() {
    let device = Device::flex();
    let train = synthetic(2, 12, Split::Train);
    let quiet = TrainOptions::quiet();

    let reference_dir = tempfile::tempdir().unwrap();
    let reference = train_supcon(&config(), reference_dir.path(), &train, &device, &quiet).unwrap();
    assert_eq!(reference.summary.steps, 9);

    // (a) stop mid-epoch, resume.
    let resumed_dir = tempfile::tempdir().unwrap();
    let stopped = train_supcon(
        &config(),
        resumed_dir.path(),
        &train,
        &device,
        &quiet.clone().with_max_steps(4),
    )
    .unwrap();
    assert!(!stopped.summary.completed);
    assert_eq!(stopped.summary.steps, 4);
    let resumed = train_supcon(&config(), resumed_dir.path(), &train, &device, &quiet).unwrap();
    assert!(resumed.summary.completed);
    assert_bit_identical(&reference.model, &resumed.model);
    assert_eq!(losses(reference_dir.path()), losses(resumed_dir.path()));
    // The epoch that was interrupted reports the mean over all its steps, not only those run
    // after the resume.
    assert_eq!(
        epoch_losses(reference_dir.path()),
        epoch_losses(resumed_dir.path())
    );

    // (b) lose the newest (mid-epoch) checkpoint, resume from the epoch boundary.
    let killed_dir = tempfile::tempdir().unwrap();
    train_supcon(
        &config(),
        killed_dir.path(),
        &train,
        &device,
        &quiet.clone().with_max_steps(5),
    )
    .unwrap();
    let store = CheckpointStore::new(killed_dir.path().join(CHECKPOINT_DIR), 3);
    let newest = store.list().unwrap().pop().unwrap();
    assert!(newest.ends_with("step-0000000005"), "{}", newest.display());
    std::fs::remove_dir_all(&newest).unwrap();
    assert_eq!(store.latest().unwrap().unwrap().position.step, 3);
    let replayed = train_supcon(&config(), killed_dir.path(), &train, &device, &quiet).unwrap();
    assert_bit_identical(&reference.model, &replayed.model);
    assert_eq!(losses(reference_dir.path()), losses(killed_dir.path()));

    // A finished stage is not retrained: it returns the recorded summary.
    let again = train_supcon(&config(), reference_dir.path(), &train, &device, &quiet).unwrap();
    assert_bit_identical(&reference.model, &again.model);
    assert_eq!(again.summary.last_epoch, reference.summary.last_epoch);
}

/// From epoch 1 on the learning rate is 1e28 (a step decay with factor 1e29): the loss
/// explodes, the run stops with an error naming the step, and the checkpoint of epoch 0 stays
/// the newest one, intact and loadable with finite weights.
#[test]
fn a_diverging_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint() {
    let device = Device::flex();
    let train = synthetic(2, 12, Split::Train);
    let dir = tempfile::tempdir().unwrap();
    let config = config().with_schedule(LrScheduleConfig::new(0.1).with_decay(LrDecay::Step {
        milestones: vec![1],
        factor: 1e29,
    }));
    let error =
        train_supcon(&config, dir.path(), &train, &device, &TrainOptions::quiet()).unwrap_err();
    let TrainError::NonFiniteLoss {
        step,
        epoch,
        ref last_checkpoint,
        ..
    } = error
    else {
        panic!("expected a non-finite loss error, got {error}");
    };
    assert!(
        step > 3 && epoch >= 1,
        "diverged at step {step} (epoch {epoch})"
    );
    assert!(
        error.to_string().contains(&format!("step {step}")),
        "{error}"
    );
    let last = last_checkpoint.clone().expect("epoch 0 was checkpointed");
    assert!(last.ends_with("step-0000000003"), "{}", last.display());

    let checkpoint = open_checkpoint(&last).unwrap();
    assert_eq!(checkpoint.position.step, 3);
    let model = SupConModelConfig::new(tiny_encoder())
        .init(&device)
        .load_file(last.join("model.bpk"));
    assert!(common::all_finite(&model));
}

/// Resuming with another temperature or another training set is refused, naming the
/// checkpoint and the setting; changing only the checkpoint retention is allowed.
#[test]
fn a_checkpoint_of_another_config_is_refused() {
    let device = Device::flex();
    let train = synthetic(2, 8, Split::Train);
    let dir = tempfile::tempdir().unwrap();
    let quiet = TrainOptions::quiet();
    let mut base = config();
    base.epochs = 1;
    train_supcon(
        &base,
        dir.path(),
        &train,
        &device,
        &quiet.clone().with_max_steps(1),
    )
    .unwrap();

    let mut other = base.clone();
    other.loss.temperature = 0.5;
    let message = train_supcon(&other, dir.path(), &train, &device, &quiet)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("step-0000000001") && message.contains("loss.temperature"),
        "{message}"
    );

    let other_data = synthetic(2, 10, Split::Train);
    let message = train_supcon(&base, dir.path(), &other_data, &device, &quiet)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("train_images: checkpoint has 16, config has 20"),
        "{message}"
    );

    let relaxed = base.with_checkpoint(CheckpointConfig::new().with_keep_last(1));
    train_supcon(&relaxed, dir.path(), &train, &device, &quiet).unwrap();
}

/// A damaged model file in the only checkpoint is a clear error that names the file.
#[test]
fn a_damaged_checkpoint_is_reported_by_file() {
    let device = Device::flex();
    let train = synthetic(2, 8, Split::Train);
    let dir = tempfile::tempdir().unwrap();
    let mut base = config();
    base.epochs = 1;
    let quiet = TrainOptions::quiet();
    train_supcon(
        &base,
        dir.path(),
        &train,
        &device,
        &quiet.clone().with_max_steps(1),
    )
    .unwrap();

    let store = CheckpointStore::new(dir.path().join(CHECKPOINT_DIR), 3);
    let only = store.list().unwrap().pop().unwrap();
    let model = only.join("model.bpk");
    let mut bytes = std::fs::read(&model).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&model, bytes).unwrap();

    let message = train_supcon(&base, dir.path(), &train, &device, &quiet)
        .unwrap_err()
        .to_string();
    assert!(message.contains(&model.display().to_string()), "{message}");
}
