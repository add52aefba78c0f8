//! Run-time options of a training call that are not part of the recorded configuration.

use std::fmt;
use std::sync::Arc;

use crate::metrics::MetricsRecord;

/// A callback that sees every metrics record as it is written.
pub type MetricsObserver = Arc<dyn Fn(&MetricsRecord) + Send + Sync>;

/// How a training call behaves, without changing what it computes: progress display, metric
/// callbacks, and an optional early stop. None of these is recorded in `config.json`, so a run
/// may be resumed with other options.
#[derive(Clone)]
pub struct TrainOptions {
    /// Show an indicatif progress bar per epoch (loss, learning rate, images/s, ETA).
    pub progress: bool,
    /// Write a step line to `metrics.jsonl` every this many steps (epoch lines are always
    /// written). Must be at least 1.
    pub metrics_every: usize,
    /// Stop once the run has completed this many optimiser steps in total, after writing a
    /// checkpoint there; a later call with the same run directory continues from it. Used to
    /// split a run into pieces and by the resume tests.
    pub max_steps: Option<usize>,
    /// Called with every metrics record (step lines only every `metrics_every` steps).
    pub observer: Option<MetricsObserver>,
    /// Threads that decode and augment images (`None`: rayon's global pool). The batches are
    /// the same for every count.
    pub loader_threads: Option<usize>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            progress: true,
            metrics_every: 10,
            max_steps: None,
            observer: None,
            loader_threads: None,
        }
    }
}

impl TrainOptions {
    /// Options for tests and library use: no progress bar, a step line at every step.
    pub fn quiet() -> Self {
        Self {
            progress: false,
            metrics_every: 1,
            ..Self::default()
        }
    }

    /// Sets [`max_steps`](Self::max_steps).
    pub fn with_max_steps(mut self, max_steps: usize) -> Self {
        self.max_steps = Some(max_steps);
        self
    }

    /// Sets [`observer`](Self::observer).
    pub fn with_observer(
        mut self,
        observer: impl Fn(&MetricsRecord) + Send + Sync + 'static,
    ) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Sets [`progress`](Self::progress).
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }
}

impl fmt::Debug for TrainOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrainOptions")
            .field("progress", &self.progress)
            .field("metrics_every", &self.metrics_every)
            .field("max_steps", &self.max_steps)
            .field(
                "observer",
                &self.observer.as_ref().map(|_| "Fn(&MetricsRecord)"),
            )
            .field("loader_threads", &self.loader_threads)
            .finish()
    }
}
