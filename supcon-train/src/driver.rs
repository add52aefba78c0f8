//! The epoch/step loop every stage runs: schedule, steps, metrics, validation, checkpoints,
//! stopping and resuming.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use supcon_data::{Batch, MultiViewLoader};

use crate::checkpoint::{Checkpoint, EpochSums, TrainingPosition};
use crate::error::{Result, TrainError};
use crate::metrics::{EpochMetrics, StepMetrics};
use crate::schedule::LrSchedule;
use crate::session::{
    load_module_bytes, load_optimizer_bytes, module_bytes, save_module_file, Session, SUMMARY_FILE,
};
use crate::step::{NonFinite, StepLoss};

/// The payload file names inside a checkpoint.
pub(crate) const MODEL_FILE: &str = "model.bpk";
pub(crate) const OPTIMIZER_FILE: &str = "optimizer.bpk";

/// What a training stage does at each step and after each epoch.
pub(crate) trait Stage {
    /// The module the optimiser updates.
    type Model: Module;

    /// One optimiser step on `batch` at learning rate `lr`.
    fn step(
        &self,
        model: Self::Model,
        optimizer: &mut ModuleOptimizer,
        batch: Batch,
        lr: f64,
    ) -> std::result::Result<(Self::Model, StepLoss), NonFinite>;

    /// Validation accuracy after an epoch, when the stage validates.
    fn validate(&self, _model: &Self::Model) -> Result<Option<f64>> {
        Ok(None)
    }

    /// The file (in the stage directory) that receives the model with the best validation
    /// accuracy, when the stage keeps one.
    fn best_file(&self) -> Option<&'static str> {
        None
    }
}

/// How a stage's run ended and what it reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
    /// The stage (`supcon`, `linear_probe`, `cross_entropy`).
    pub stage: String,
    /// Whether every epoch was trained (false when the call stopped at `max_steps`).
    pub completed: bool,
    /// Epochs completed.
    pub epochs: usize,
    /// Optimiser steps completed.
    pub steps: usize,
    /// The metrics of the last completed epoch, if one completed.
    pub last_epoch: Option<EpochMetrics>,
    /// The best validation accuracy over the run, where the stage validates.
    pub best_val_acc: Option<f64>,
    /// The epoch (0-based) that reached it.
    pub best_epoch: Option<usize>,
    /// Wall-clock seconds of this call.
    pub seconds: f64,
}

/// The loop's result: the trained module and the summary.
pub(crate) struct Finished<M> {
    pub model: M,
    pub summary: TrainSummary,
}

/// Everything the loop needs besides the stage.
pub(crate) struct Driver<'a> {
    pub session: &'a mut Session,
    pub loader: &'a MultiViewLoader,
    pub schedule: &'a LrSchedule,
    pub epochs: usize,
    pub device: &'a Device,
}

/// Restores a module and optimiser from a checkpoint.
pub(crate) fn restore<M: Module>(
    checkpoint: &Checkpoint,
    model: M,
    optimizer: ModuleOptimizer,
) -> Result<(M, ModuleOptimizer)> {
    let model = load_module_bytes(
        model,
        checkpoint.read(MODEL_FILE)?,
        &checkpoint.path.join(MODEL_FILE),
    )?;
    let optimizer = load_optimizer_bytes(
        optimizer,
        checkpoint.read(OPTIMIZER_FILE)?,
        &checkpoint.path.join(OPTIMIZER_FILE),
    )?;
    Ok((model, optimizer))
}

impl EpochSums {
    fn add(&mut self, loss: &StepLoss, rows: usize) {
        self.steps += 1;
        self.loss_bits = (f64::from_bits(self.loss_bits) + loss.total).to_bits();
        if let Some(value) = loss.classifier {
            let sum = self.classifier_loss_bits.map_or(0.0, f64::from_bits) + value;
            self.classifier_loss_bits = Some(sum.to_bits());
        }
        if let Some(correct) = loss.correct {
            *self.correct.get_or_insert(0) += correct;
            self.rows += rows;
        }
    }

    fn mean(&self, bits: u64) -> f64 {
        f64::from_bits(bits) / self.steps.max(1) as f64
    }
}

impl Driver<'_> {
    fn save<M: Module>(
        &mut self,
        position: &TrainingPosition,
        model: &M,
        optimizer: &ModuleOptimizer,
    ) -> Result<()> {
        let model_bytes = module_bytes(model)?;
        let optimizer_bytes = optimizer
            .into_bytes()
            .map_err(|e| TrainError::Format(format!("cannot serialise the optimiser: {e}")))?;
        self.session.save_checkpoint(
            position,
            &[
                (MODEL_FILE, &model_bytes),
                (OPTIMIZER_FILE, &optimizer_bytes),
            ],
        )
    }

    /// Trains from `position` to the end (or to `max_steps`), checkpointing as configured.
    pub(crate) fn run<S: Stage>(
        &mut self,
        stage: &S,
        mut model: S::Model,
        optimizer: &mut ModuleOptimizer,
        mut position: TrainingPosition,
    ) -> Result<Finished<S::Model>> {
        let started = Instant::now();
        let steps_per_epoch = self.loader.num_batches();
        let mut last_epoch = None;

        while position.epoch < self.epochs {
            let epoch = position.epoch;
            self.session
                .begin_epoch(epoch, self.epochs, steps_per_epoch, position.batch);
            // A resumed epoch continues the sums its checkpoint recorded.
            let mut sums = if position.batch > 0 {
                position.epoch_sums.clone()
            } else {
                EpochSums::default()
            };
            let mut lr = self.schedule.learning_rate(position.step);
            let mut tick = Instant::now();

            let batches = self.loader.iter_epoch(epoch, position.batch, self.device);
            for batch in batches {
                let batch = batch?;
                let size = batch.batch_size();
                let rows = batch.images.dims()[0];
                lr = self.schedule.learning_rate(position.step);
                let (next, loss) = match stage.step(model, optimizer, batch, lr) {
                    Ok(result) => result,
                    Err(NonFinite { value }) => {
                        return Err(self.session.non_finite(
                            position.step,
                            epoch,
                            position.batch,
                            value,
                        ));
                    }
                };
                model = next;
                sums.add(&loss, rows);
                position.epoch_sums = sums.clone();

                let now = Instant::now();
                let images_per_sec = size as f64 / (now - tick).as_secs_f64().max(1e-9);
                tick = now;
                self.session.count_images(size);
                self.session.record_step(StepMetrics {
                    stage: self.session.stage.to_string(),
                    step: position.step,
                    epoch,
                    batch: position.batch,
                    loss: loss.total,
                    classifier_loss: loss.classifier,
                    lr,
                    images_per_sec,
                })?;
                position.step += 1;
                position.batch += 1;

                let epoch_done = position.batch == steps_per_epoch;
                let stop = self.session.stop_requested(position.step);
                if !epoch_done && (stop || self.session.checkpoint_due_after_step(position.step)) {
                    self.save(&position, &model, optimizer)?;
                    if stop {
                        self.session.flush()?;
                        log::info!(
                            "{}: stopped at step {} as asked; re-run to resume",
                            self.session.stage,
                            position.step
                        );
                        return Ok(Finished {
                            model,
                            summary: self.summary(&position, false, last_epoch, started),
                        });
                    }
                }
            }

            // End of the epoch: validate, keep the best, record, checkpoint.
            let val_acc = stage.validate(&model)?;
            if let Some(accuracy) = val_acc {
                if position
                    .best_val_accuracy
                    .is_none_or(|best| accuracy > best)
                {
                    position.best_val_accuracy = Some(accuracy);
                    position.best_epoch = Some(epoch);
                    if let Some(file) = stage.best_file() {
                        save_module_file(&model, &self.session.dir.join(file))?;
                    }
                }
            }
            position.epoch += 1;
            position.batch = 0;
            position.epoch_sums = EpochSums::default();
            let metrics = EpochMetrics {
                stage: self.session.stage.to_string(),
                epoch,
                step: position.step,
                loss: sums.mean(sums.loss_bits),
                classifier_loss: sums.classifier_loss_bits.map(|l| sums.mean(l)),
                train_acc: sums.correct.map(|c| c as f64 / sums.rows.max(1) as f64),
                lr,
                images_per_sec: self.session.epoch_throughput(),
                val_acc,
                seconds: self.session.epoch_seconds(),
            };
            self.session.record_epoch(metrics.clone())?;
            last_epoch = Some(metrics);

            let stop = self.session.stop_requested(position.step) && position.epoch < self.epochs;
            if stop
                || self.session.checkpoint_due_after_epoch(epoch, self.epochs)
                || self.session.checkpoint_due_after_step(position.step)
            {
                self.save(&position, &model, optimizer)?;
            }
            if stop {
                self.session.flush()?;
                return Ok(Finished {
                    model,
                    summary: self.summary(&position, false, last_epoch, started),
                });
            }
        }

        self.session.flush()?;
        Ok(Finished {
            model,
            summary: self.summary(&position, true, last_epoch, started),
        })
    }

    fn summary(
        &self,
        position: &TrainingPosition,
        completed: bool,
        last_epoch: Option<EpochMetrics>,
        started: Instant,
    ) -> TrainSummary {
        TrainSummary {
            stage: self.session.stage.to_string(),
            completed,
            epochs: position.epoch,
            steps: position.step,
            last_epoch,
            best_val_acc: position.best_val_accuracy,
            best_epoch: position.best_epoch,
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}

/// Writes the summary of a finished stage; when a re-run finds the stage already finished it
/// returns the recorded summary (with this call's seconds) instead of the empty one.
pub(crate) fn finish_summary(dir: &Path, mut summary: TrainSummary) -> Result<TrainSummary> {
    let path = dir.join(SUMMARY_FILE);
    if summary.completed && summary.last_epoch.is_none() {
        // Nothing was trained in this call: the stage had already finished.
        if let Ok(text) = std::fs::read(&path) {
            if let Ok(recorded) = serde_json::from_slice::<TrainSummary>(&text) {
                summary = TrainSummary {
                    seconds: summary.seconds,
                    ..recorded
                };
            }
        }
    }
    if summary.completed {
        let json = serde_json::to_vec_pretty(&summary).expect("a summary always serialises");
        crate::checkpoint::write_atomically(&path, &json)?;
    }
    Ok(summary)
}
