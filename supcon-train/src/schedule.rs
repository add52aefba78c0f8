//! The learning-rate schedule: linear warm-up per iteration, then cosine, step or no decay.

use burn::config::Config;

/// What the learning rate does after the warm-up.
#[derive(Config, Debug)]
pub enum LrDecay {
    /// Half-cosine from the peak rate down to `final_factor * peak` at the last step.
    Cosine {
        /// The final learning rate as a fraction of the peak (0 in the TensorFlow code; the
        /// PyTorch code of the paper ends at 0.001 of the peak).
        final_factor: f64,
    },
    /// Multiply the rate by `factor` at the start of each listed epoch.
    Step {
        /// Epochs (0-based) at whose first step the rate is multiplied by `factor`.
        milestones: Vec<usize>,
        /// The multiplier applied at each milestone (e.g. 0.1).
        factor: f64,
    },
    /// Keep the peak rate until the end.
    Constant,
}

/// The learning-rate schedule, evaluated per iteration by [`LrSchedule::learning_rate`].
///
/// With peak rate `p = base_learning_rate * (batch_size / 256 if scale_with_batch else 1)`,
/// `W` warm-up steps, `T` total steps and step `s` (0-based):
///
/// ```text
/// warm-up  (s < W):  lr = p * (s + 1) / W
/// cosine   (s >= W): lr = p * (f + (1 - f) * (1 + cos(π (s - W) / (T - W))) / 2)
/// step     (s >= W): lr = p * factor^(number of milestones m with m * steps_per_epoch <= s)
/// constant (s >= W): lr = p
/// ```
///
/// where `f` is the cosine's `final_factor`. The warm-up ends at the peak rate on its last step,
/// and its first step already has a non-zero rate.
///
/// Burn's own schedulers reject a rate above 1, which LARS with batch scaling needs, and keep
/// a hidden counter; this one is a pure function of the step, so a resumed run only needs the
/// step number.
#[derive(Config, Debug)]
pub struct LrScheduleConfig {
    /// The base learning rate (before batch scaling).
    pub base_learning_rate: f64,
    /// Multiply the base rate by `batch_size / 256` (the linear scaling rule).
    #[config(default = false)]
    pub scale_with_batch: bool,
    /// Length of the linear warm-up, in epochs (fractions allowed; 0 for none).
    #[config(default = 0.0)]
    pub warmup_epochs: f64,
    /// What follows the warm-up.
    #[config(default = "LrDecay::Cosine { final_factor: 0.0 }")]
    pub decay: LrDecay,
}

/// A [`LrScheduleConfig`] resolved for one run: the step counts and the peak rate are fixed.
#[derive(Clone, Debug, PartialEq)]
pub struct LrSchedule {
    peak: f64,
    warmup_steps: usize,
    total_steps: usize,
    steps_per_epoch: usize,
    decay: ResolvedDecay,
}

#[derive(Clone, Debug, PartialEq)]
enum ResolvedDecay {
    Cosine {
        final_factor: f64,
    },
    Step {
        milestone_steps: Vec<usize>,
        factor: f64,
    },
    Constant,
}

impl LrScheduleConfig {
    /// Resolves the schedule for a run of `epochs` epochs of `steps_per_epoch` steps at
    /// `batch_size` samples per step.
    ///
    /// # Panics
    /// When the base rate is not finite and positive, the warm-up is negative or longer than the
    /// run, `steps_per_epoch` or `epochs` is 0, or a cosine final factor lies outside `[0, 1]`.
    pub fn init(&self, epochs: usize, steps_per_epoch: usize, batch_size: usize) -> LrSchedule {
        assert!(
            self.base_learning_rate.is_finite() && self.base_learning_rate > 0.0,
            "the base learning rate must be finite and > 0, got {}",
            self.base_learning_rate
        );
        assert!(
            epochs > 0 && steps_per_epoch > 0,
            "a schedule needs at least one epoch and one step per epoch, got {epochs} epochs of \
             {steps_per_epoch} steps"
        );
        assert!(
            self.warmup_epochs >= 0.0 && self.warmup_epochs <= epochs as f64,
            "the warm-up ({} epochs) must lie between 0 and the run's length ({epochs} epochs)",
            self.warmup_epochs
        );
        let scale = if self.scale_with_batch {
            batch_size as f64 / 256.0
        } else {
            1.0
        };
        let total_steps = epochs * steps_per_epoch;
        let warmup_steps = (self.warmup_epochs * steps_per_epoch as f64).round() as usize;
        let decay = match &self.decay {
            LrDecay::Cosine { final_factor } => {
                assert!(
                    (0.0..=1.0).contains(final_factor),
                    "the cosine final factor must lie in [0, 1], got {final_factor}"
                );
                ResolvedDecay::Cosine {
                    final_factor: *final_factor,
                }
            }
            LrDecay::Step { milestones, factor } => ResolvedDecay::Step {
                milestone_steps: milestones.iter().map(|m| m * steps_per_epoch).collect(),
                factor: *factor,
            },
            LrDecay::Constant => ResolvedDecay::Constant,
        };
        LrSchedule {
            peak: self.base_learning_rate * scale,
            warmup_steps: warmup_steps.min(total_steps),
            total_steps,
            steps_per_epoch,
            decay,
        }
    }
}

impl LrSchedule {
    /// The learning rate of step `step` (0-based, counted over the whole run). Steps past the
    /// end keep the last step's rate.
    pub fn learning_rate(&self, step: usize) -> f64 {
        let step = step.min(self.total_steps.saturating_sub(1));
        if step < self.warmup_steps {
            return self.peak * (step + 1) as f64 / self.warmup_steps as f64;
        }
        match &self.decay {
            ResolvedDecay::Cosine { final_factor } => {
                let span = (self.total_steps - self.warmup_steps) as f64;
                let progress = (step - self.warmup_steps) as f64 / span;
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                self.peak * (final_factor + (1.0 - final_factor) * cosine)
            }
            ResolvedDecay::Step {
                milestone_steps,
                factor,
            } => {
                let passed = milestone_steps.iter().filter(|&&m| m <= step).count();
                self.peak * factor.powi(passed as i32)
            }
            ResolvedDecay::Constant => self.peak,
        }
    }

    /// The peak rate (the base rate after batch scaling).
    pub fn peak(&self) -> f64 {
        self.peak
    }

    /// The number of steps of the whole run.
    pub fn total_steps(&self) -> usize {
        self.total_steps
    }

    /// The number of warm-up steps.
    pub fn warmup_steps(&self) -> usize {
        self.warmup_steps
    }

    /// The number of steps per epoch the schedule was resolved for.
    pub fn steps_per_epoch(&self) -> usize {
        self.steps_per_epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() <= 1e-12 * (1.0 + expected.abs()),
            "got {actual}, expected {expected}"
        );
    }

    /// 4 epochs of 10 steps, 1 epoch of warm-up, peak 0.5 * 512 / 256 = 1.0, cosine to 0.
    /// Hand values: warm-up 0.1, 0.2, ..., 1.0 at steps 0..9; then cos over 30 steps:
    /// step 10 -> 1.0, step 25 -> (1 + cos(π/2)) / 2 = 0.5, step 39 -> (1 + cos(29π/30)) / 2.
    #[test]
    fn warmup_then_cosine_matches_hand_values() {
        let schedule = LrScheduleConfig::new(0.5)
            .with_scale_with_batch(true)
            .with_warmup_epochs(1.0)
            .init(4, 10, 512);
        assert_close(schedule.peak(), 1.0);
        assert_close(schedule.learning_rate(0), 0.1);
        assert_close(schedule.learning_rate(4), 0.5);
        assert_close(schedule.learning_rate(9), 1.0);
        assert_close(schedule.learning_rate(10), 1.0);
        assert_close(schedule.learning_rate(25), 0.5);
        let last = 0.5 * (1.0 + (29.0 * std::f64::consts::PI / 30.0).cos());
        assert_close(schedule.learning_rate(39), last);
        assert_close(schedule.learning_rate(1000), last);
    }

    /// Cosine with a floor: f = 0.001 and no warm-up; at the midpoint of 100 steps the rate is
    /// 0.1 * (0.001 + 0.999 * 0.5) = 0.05005.
    #[test]
    fn cosine_floor_is_respected() {
        let schedule = LrScheduleConfig::new(0.1)
            .with_decay(LrDecay::Cosine {
                final_factor: 0.001,
            })
            .init(10, 10, 64);
        assert_close(schedule.learning_rate(0), 0.1);
        assert_close(schedule.learning_rate(50), 0.05005);
    }

    /// Step decay at epochs 2 and 3 by 0.1, 5 steps per epoch: 0.2 up to step 9, 0.02 for steps
    /// 10..14, 0.002 from step 15.
    #[test]
    fn step_decay_multiplies_at_each_milestone() {
        let schedule = LrScheduleConfig::new(0.2)
            .with_decay(LrDecay::Step {
                milestones: vec![2, 3],
                factor: 0.1,
            })
            .init(4, 5, 64);
        assert_close(schedule.learning_rate(9), 0.2);
        assert_close(schedule.learning_rate(10), 0.02);
        assert_close(schedule.learning_rate(14), 0.02);
        assert_close(schedule.learning_rate(15), 0.002);
    }

    #[test]
    fn rates_above_one_are_allowed() {
        let schedule = LrScheduleConfig::new(4.8)
            .with_decay(LrDecay::Constant)
            .init(1, 3, 256);
        assert_close(schedule.learning_rate(2), 4.8);
    }

    #[test]
    fn config_round_trips_through_json() {
        let config = LrScheduleConfig::new(0.3).with_decay(LrDecay::Step {
            milestones: vec![30, 60],
            factor: 0.1,
        });
        let json = serde_json::to_string(&config).unwrap();
        let back: LrScheduleConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back.init(90, 7, 128),
            config.init(90, 7, 128),
            "schedule changed through {json}"
        );
    }

    #[test]
    #[should_panic(expected = "warm-up (5 epochs)")]
    fn warmup_longer_than_the_run_is_rejected() {
        LrScheduleConfig::new(0.1)
            .with_warmup_epochs(5.0)
            .init(2, 10, 64);
    }
}
