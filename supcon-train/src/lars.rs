//! LARS: SGD with momentum and a layer-wise trust ratio, as used for large-batch ImageNet runs.

use burn::config::Config;
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

/// Configuration of [`Lars`] (You et al., "Large Batch Training of Convolutional Networks",
/// arXiv 1708.03888), with the update rule of the SimCLR/SupCon TensorFlow code.
///
/// For a parameter `w` with gradient `g`, learning rate `lr`, momentum `m`, weight decay `λ`,
/// trust coefficient `η` and velocity `v` (zero before the first step):
///
/// ```text
/// g'    = g + λ w                                  (weight decay, adapted parameters only)
/// trust = η ‖w‖ / ‖g'‖   if ‖w‖ > 0 and ‖g'‖ > 0, otherwise 1   (adapted parameters only)
/// v     = m v + lr · trust · g'
/// w     = w - v                                    (or w - (m v + lr · trust · g') with Nesterov)
/// ```
///
/// `‖·‖` is the L2 norm over the whole parameter tensor. Parameters of rank 1 (BatchNorm scales
/// and shifts, biases) are neither decayed nor adapted: their update is plain momentum SGD,
/// which is how the reference code treats the parameters whose names contain
/// `batch_normalization` or `bias`.
///
/// The learning rate sits inside the velocity ("classic" momentum), so a change of learning rate
/// takes effect gradually, as in the reference code.
#[derive(Config, Debug)]
pub struct LarsConfig {
    /// Momentum factor `m`.
    #[config(default = 0.9)]
    pub momentum: f64,
    /// Weight decay `λ` (L2 penalty added to the gradient of parameters of rank 2 or more).
    #[config(default = 1e-6)]
    pub weight_decay: f64,
    /// Trust coefficient `η`.
    #[config(default = 0.001)]
    pub trust_coefficient: f64,
    /// Nesterov momentum.
    #[config(default = false)]
    pub nesterov: bool,
}

impl LarsConfig {
    /// The per-parameter optimiser, to wrap in a [`ModuleOptimizer`] or use in a parameter group.
    ///
    /// # Panics
    /// When the momentum is outside `[0, 1)`, or the weight decay or trust coefficient is negative
    /// or not finite.
    pub fn build(&self) -> Lars {
        assert!(
            (0.0..1.0).contains(&self.momentum),
            "LARS momentum must lie in [0, 1), got {}",
            self.momentum
        );
        assert!(
            self.weight_decay.is_finite() && self.weight_decay >= 0.0,
            "LARS weight decay must be finite and >= 0, got {}",
            self.weight_decay
        );
        assert!(
            self.trust_coefficient.is_finite() && self.trust_coefficient > 0.0,
            "LARS trust coefficient must be finite and > 0, got {}",
            self.trust_coefficient
        );
        Lars {
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            trust_coefficient: self.trust_coefficient,
            nesterov: self.nesterov,
        }
    }

    /// The optimiser for a whole module.
    ///
    /// # Panics
    /// As [`build`](Self::build).
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }
}

/// The LARS optimiser for one parameter tensor; see [`LarsConfig`] for the update rule.
#[derive(Clone, Debug)]
pub struct Lars {
    momentum: f64,
    weight_decay: f64,
    trust_coefficient: f64,
    nesterov: bool,
}

/// The state LARS keeps for one parameter: its velocity `v`.
#[derive(Clone, Debug)]
pub struct LarsState<const D: usize> {
    /// Velocity (learning rate included), same shape as the parameter.
    pub velocity: Tensor<D>,
}

impl<const D: usize> RecordState for LarsState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "velocity", self.velocity.clone().into_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let data = src.take_tensor(prefix, "velocity")?;
        if data.rank() != D {
            return None;
        }
        Some(Self {
            velocity: Tensor::from_data(data, device),
        })
    }
}

impl Lars {
    /// The L2 norm of a whole tensor, as a one-element tensor.
    fn norm<const D: usize>(tensor: Tensor<D>) -> Tensor<1> {
        tensor.square().sum().sqrt()
    }
}

impl Optimizer for Lars {
    type State<const D: usize> = LarsState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        // Rank-1 parameters (BatchNorm, biases) skip both decay and adaptation.
        let adapted = D > 1;

        let grad = if adapted && self.weight_decay != 0.0 {
            grad + tensor.clone().mul_scalar(self.weight_decay)
        } else {
            grad
        };

        // scaled = lr * trust * g', with the trust ratio kept on the device (no host sync).
        let scaled = if adapted {
            let weight_norm = Self::norm(tensor.clone());
            let grad_norm = Self::norm(grad.clone());
            let valid = weight_norm
                .clone()
                .greater_scalar(0.0)
                .bool_and(grad_norm.clone().greater_scalar(0.0));
            // Divide by a clamped norm so that 0 / 0 is never formed, then mask.
            let ratio = weight_norm
                .div(grad_norm.clamp_min(f32::MIN_POSITIVE))
                .mul_scalar(self.trust_coefficient);
            let trust = ratio.ones_like().mask_where(valid, ratio);
            grad.mul(trust.mul_scalar(lr).unsqueeze::<D>())
        } else {
            grad.mul_scalar(lr)
        };

        let velocity = match state {
            Some(state) => state.velocity.mul_scalar(self.momentum) + scaled.clone(),
            None => scaled.clone(),
        };
        let update = if self.nesterov {
            velocity.clone().mul_scalar(self.momentum) + scaled
        } else {
            velocity.clone()
        };

        (tensor - update, Some(LarsState { velocity }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        LarsState {
            velocity: state.velocity.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::{Module, Param};
    use burn::optim::GradientsParams;
    use burn::tensor::TensorData;

    /// A module with one matrix (adapted) and one vector (not adapted).
    #[derive(Module, Debug)]
    struct Pair {
        matrix: Param<Tensor<2>>,
        vector: Param<Tensor<1>>,
    }

    fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
        tensor.into_data().try_to_vec::<f32>().unwrap()
    }

    fn assert_close(actual: &[f32], expected: &[f64], what: &str) {
        assert_eq!(actual.len(), expected.len(), "{what}: length");
        for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
            assert!(
                (a as f64 - e).abs() <= 1e-6 * (1.0 + e.abs()),
                "{what}[{i}]: got {a}, expected {e}"
            );
        }
    }

    /// Two LARS steps on a 2x2 matrix and a 2-vector, checked against values worked out by hand
    /// from the update rule in the `LarsConfig` docs (momentum 0.9, weight decay 0.1,
    /// trust coefficient 0.001, lr 2).
    ///
    /// Matrix w = [[3, 0], [0, 4]] (‖w‖ = 5), gradient g = [[0.3, 0.4], [0, 0]] at both steps.
    /// Step 1: g' = g + 0.1 w = [[0.6, 0.4], [0, 0.4]], ‖g'‖ = sqrt(0.36+0.16+0.16) = sqrt(0.68);
    ///   trust = 0.001 * 5 / sqrt(0.68) = 0.0060633906; v = 2 * trust * g'; w1 = w - v.
    /// Step 2: recomputed from w1 the same way; v2 = 0.9 v + 2 trust2 g2'; w2 = w1 - v2.
    /// Vector u = [1, -2], gradient [0.5, 0.5]: plain momentum SGD, no decay:
    ///   u1 = u - 2 * 0.5 = [0, -3]; v2 = 0.9 * 1 + 1 = 1.9; u2 = u1 - 1.9 = [-1.9, -4.9].
    #[test]
    fn lars_matches_hand_computation_for_two_steps() {
        let device = Device::flex().autodiff();
        let mut module = Pair {
            matrix: Param::from_data(
                TensorData::new(vec![3.0f32, 0.0, 0.0, 4.0], [2, 2]),
                &device,
            ),
            vector: Param::from_data(TensorData::new(vec![1.0f32, -2.0], [2]), &device),
        };
        let mut optim = LarsConfig::new()
            .with_momentum(0.9)
            .with_weight_decay(0.1)
            .with_trust_coefficient(0.001)
            .init();

        // Loss whose gradient is exactly g for the matrix and [0.5, 0.5] for the vector.
        let grad_matrix = Tensor::<2>::from_data(
            TensorData::new(vec![0.3f32, 0.4, 0.0, 0.0], [2, 2]),
            &device.clone().without_autodiff(),
        );
        let mut expected_w = [3.0f64, 0.0, 0.0, 4.0];
        let mut velocity = [0.0f64; 4];
        let g = [0.3f64, 0.4, 0.0, 0.0];
        for step in 0..2 {
            let loss = module
                .matrix
                .val()
                .mul(grad_matrix.clone().autodiff())
                .sum()
                + module.vector.val().sum().mul_scalar(0.5);
            let grads = GradientsParams::from_grads(loss.backward(), &module);
            module = optim.step(2.0, module, grads);

            // Hand computation in f64.
            let decayed: Vec<f64> = (0..4).map(|i| g[i] + 0.1 * expected_w[i]).collect();
            let w_norm = expected_w.iter().map(|x| x * x).sum::<f64>().sqrt();
            let g_norm = decayed.iter().map(|x| x * x).sum::<f64>().sqrt();
            let trust = 0.001 * w_norm / g_norm;
            for i in 0..4 {
                velocity[i] = 0.9 * velocity[i] + 2.0 * trust * decayed[i];
                expected_w[i] -= velocity[i];
            }
            assert_close(
                &values(module.matrix.val()),
                &expected_w,
                &format!("matrix step {step}"),
            );
        }
        // First-step trust ratio written out: 0.005 / sqrt(0.68).
        assert!((0.005f64 / 0.68f64.sqrt() - 0.006_063_390_6).abs() < 1e-9);
        assert_close(&values(module.vector.val()), &[-1.9, -4.9], "vector");
    }

    /// A zero weight tensor has no defined trust ratio; LARS falls back to 1 (plain SGD).
    #[test]
    fn zero_weights_use_a_trust_ratio_of_one() {
        let device = Device::flex();
        let lars = LarsConfig::new().with_weight_decay(0.0).build();
        let w = Tensor::<2>::zeros([2, 2], &device);
        let g = Tensor::<2>::ones([2, 2], &device);
        let (w, _) = lars.step(0.5, w, g, None);
        assert_close(&values(w), &[-0.5; 4], "zero weights");
    }

    #[test]
    fn lars_state_survives_a_byte_round_trip() {
        let device = Device::flex().autodiff();
        let module = Pair {
            matrix: Param::from_data(
                TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]),
                &device,
            ),
            vector: Param::from_data(TensorData::new(vec![1.0f32, -1.0], [2]), &device),
        };
        let grads_of = |m: &Pair| {
            let loss = m.matrix.val().powi_scalar(2).sum() + m.vector.val().sum();
            GradientsParams::from_grads(loss.backward(), m)
        };
        let mut original = LarsConfig::new().init();
        let module = original.step(0.1, module.clone(), grads_of(&module));
        let bytes = original.into_bytes().unwrap();
        let mut restored = LarsConfig::new().init().from_bytes(bytes).unwrap();

        let a = original.step(0.1, module.clone(), grads_of(&module));
        let b = restored.step(0.1, module.clone(), grads_of(&module));
        assert_eq!(values(a.matrix.val()), values(b.matrix.val()));
        assert_eq!(values(a.vector.val()), values(b.vector.val()));
    }

    #[test]
    #[should_panic(expected = "momentum must lie in [0, 1)")]
    fn momentum_of_one_is_rejected() {
        LarsConfig::new().with_momentum(1.0).build();
    }
}
