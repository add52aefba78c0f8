//! The optimisers a run can choose: momentum SGD (PyTorch semantics), LARS and RMSProp.

use burn::config::Config;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{ModuleOptimizer, RmsPropConfig, SgdConfig};

use crate::lars::LarsConfig;

/// Stochastic gradient descent with momentum and L2 weight decay, with PyTorch's semantics
/// (`torch.optim.SGD` with dampening 0):
///
/// ```text
/// g' = g + λ w;   v = m v + g'  (v = g' at the first step);   w = w - lr · (g' + m v if Nesterov else v)
/// ```
///
/// with gradient `g`, weights `w`, weight decay `λ`, momentum `m` and velocity `v`. Weight decay
/// applies to every parameter, BatchNorm and biases included, as in the paper's PyTorch code.
#[derive(Config, Debug)]
pub struct MomentumSgdConfig {
    /// Momentum factor `m` (0 for plain SGD).
    #[config(default = 0.9)]
    pub momentum: f64,
    /// Nesterov momentum.
    #[config(default = false)]
    pub nesterov: bool,
    /// Weight decay `λ`.
    #[config(default = 1e-4)]
    pub weight_decay: f64,
}

impl MomentumSgdConfig {
    /// The optimiser for a whole module.
    ///
    /// # Panics
    /// When the momentum is outside `[0, 1)`, the weight decay is negative or not finite, or
    /// Nesterov momentum is asked for without momentum.
    pub fn init(&self) -> ModuleOptimizer {
        assert!(
            (0.0..1.0).contains(&self.momentum),
            "SGD momentum must lie in [0, 1), got {}",
            self.momentum
        );
        assert!(
            self.weight_decay.is_finite() && self.weight_decay >= 0.0,
            "SGD weight decay must be finite and >= 0, got {}",
            self.weight_decay
        );
        assert!(
            !self.nesterov || self.momentum > 0.0,
            "Nesterov SGD needs a momentum > 0"
        );
        // Burn's momentum defaults to a dampening of 0.1; PyTorch (and the paper) use 0.
        let momentum = (self.momentum > 0.0).then(|| {
            MomentumConfig::new()
                .with_momentum(self.momentum)
                .with_dampening(0.0)
                .with_nesterov(self.nesterov)
        });
        let weight_decay =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        SgdConfig::new()
            .with_momentum(momentum)
            .with_weight_decay(weight_decay)
            .init()
    }
}

/// The optimiser of a training stage.
#[derive(Config, Debug)]
pub enum OptimizerConfig {
    /// Momentum SGD, the paper's choice for CIFAR and for the cross-entropy baseline.
    Sgd(MomentumSgdConfig),
    /// LARS, the paper's choice for large-batch ImageNet runs.
    Lars(LarsConfig),
    /// Burn's RMSProp (the ImageNet linear classifier of the TensorFlow code uses it).
    RmsProp(RmsPropConfig),
}

impl OptimizerConfig {
    /// Momentum SGD with momentum 0.9, no Nesterov and the given weight decay.
    pub fn sgd(weight_decay: f64) -> Self {
        Self::Sgd(MomentumSgdConfig::new().with_weight_decay(weight_decay))
    }

    /// LARS with momentum 0.9, trust coefficient 0.001 and the given weight decay.
    pub fn lars(weight_decay: f64) -> Self {
        Self::Lars(LarsConfig::new().with_weight_decay(weight_decay))
    }

    /// The optimiser for a whole module.
    ///
    /// # Panics
    /// When the chosen optimiser's settings are out of range (see each config's `init`).
    pub fn init(&self) -> ModuleOptimizer {
        match self {
            Self::Sgd(config) => config.init(),
            Self::Lars(config) => config.init(),
            Self::RmsProp(config) => config.init(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::{Module, Param};
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, Tensor, TensorData};

    #[derive(Module, Debug)]
    struct Scalar {
        w: Param<Tensor<1>>,
    }

    /// Three steps of `torch.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.5)` on
    /// loss = 2 w with w0 = 1, worked by hand (PyTorch's update rule, dampening 0):
    /// g' = 2 + 0.5 w; step 1: g' = 2.5, v = 2.5, w = 0.75;
    /// step 2: g' = 2.375, v = 0.9 * 2.5 + 2.375 = 4.625, w = 0.2875;
    /// step 3: g' = 2.14375, v = 0.9 * 4.625 + 2.14375 = 6.30625, w = -0.343125.
    #[test]
    fn sgd_follows_pytorch_semantics() {
        let device = Device::flex().autodiff();
        let mut module = Scalar {
            w: Param::from_data(TensorData::new(vec![1.0f32], [1]), &device),
        };
        let mut optim =
            OptimizerConfig::Sgd(MomentumSgdConfig::new().with_weight_decay(0.5)).init();
        let mut trace = Vec::new();
        for _ in 0..3 {
            let loss = module.w.val().mul_scalar(2.0).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &module);
            module = optim.step(0.1, module, grads);
            trace.push(module.w.val().into_data().try_to_vec::<f32>().unwrap()[0]);
        }
        for (got, want) in trace.iter().zip([0.75f32, 0.2875, -0.343125]) {
            assert!(
                (got - want).abs() < 1e-6,
                "SGD trace {trace:?}, expected {want}"
            );
        }
    }

    #[test]
    fn optimizer_config_round_trips_through_json() {
        for config in [OptimizerConfig::sgd(5e-4), OptimizerConfig::lars(1e-6)] {
            let json = serde_json::to_string(&config).unwrap();
            let back: OptimizerConfig = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_string(&back).unwrap(), json);
        }
    }
}
