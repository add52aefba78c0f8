//! The linear classifier put on top of an encoder's features.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

/// Configuration of a [`LinearClassifier`].
#[derive(Config, Debug)]
pub struct LinearClassifierConfig {
    /// Size of the features it takes.
    pub input_dim: usize,
    /// Number of classes.
    pub num_classes: usize,
}

impl LinearClassifierConfig {
    /// Builds the classifier on `device`, with PyTorch's default `Linear` initialisation
    /// (weights and bias uniform in `[-1/sqrt(input_dim), 1/sqrt(input_dim)]`).
    ///
    /// # Panics
    /// When `input_dim` or `num_classes` is zero.
    pub fn init(&self, device: &Device) -> LinearClassifier {
        assert!(
            self.input_dim > 0 && self.num_classes > 0,
            "a linear classifier needs positive sizes, got {} features and {} classes",
            self.input_dim,
            self.num_classes
        );
        LinearClassifier {
            fc: LinearConfig::new(self.input_dim, self.num_classes).init(device),
        }
    }
}

/// Logits `y = h W + b` from features `h`.
///
/// The layer is named `fc` as in torchvision's ResNet and the SupCon reference code, so its
/// tensors are `fc.weight` and `fc.bias` in safetensors files.
#[derive(Module, Debug)]
pub struct LinearClassifier {
    /// The linear layer; Burn stores its weight as `[input_dim, num_classes]`.
    pub fc: Linear,
}

impl LinearClassifier {
    /// Size of the features it takes.
    pub fn input_dim(&self) -> usize {
        self.fc.weight.lazy_shape().dims::<2>()[0]
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.fc.weight.lazy_shape().dims::<2>()[1]
    }

    /// Computes the logits.
    ///
    /// # Shapes
    /// - `features`: `[N, input_dim]`
    /// - output: `[N, num_classes]`
    pub fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        self.fc.forward(features)
    }
}
