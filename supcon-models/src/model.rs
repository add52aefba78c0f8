//! The two networks of the paper: encoder + projection head (SupCon, SimCLR) and encoder +
//! linear classifier (cross-entropy baseline, linear evaluation).

use burn::prelude::*;

use crate::classifier::{LinearClassifier, LinearClassifierConfig};
use crate::head::{HeadKind, ProjectionHead, ProjectionHeadConfig};
use crate::resnet::{ResNet, ResNetConfig};

/// Configuration of a [`SupConModel`].
#[derive(Config, Debug)]
pub struct SupConModelConfig {
    /// The encoder.
    pub encoder: ResNetConfig,
    /// Size of the normalised embedding (128 in the paper).
    #[config(default = 128)]
    pub projection_dim: usize,
    /// MLP (the paper's choice) or linear head.
    #[config(default = "HeadKind::Mlp")]
    pub head: HeadKind,
}

impl SupConModelConfig {
    /// Builds the encoder and a head sized to its features.
    pub fn init(&self, device: &Device) -> SupConModel {
        let encoder = self.encoder.init(device);
        let head = ProjectionHeadConfig::new(encoder.feature_dim())
            .with_output_dim(self.projection_dim)
            .with_kind(self.head)
            .init(device);
        SupConModel { encoder, head }
    }
}

/// Encoder followed by a projection head; trained with the supervised contrastive loss.
///
/// After training, the head is dropped and [`features`](Self::features) (the encoder output)
/// feeds a [`LinearClassifier`].
#[derive(Module, Debug)]
pub struct SupConModel {
    /// The ResNet encoder.
    pub encoder: ResNet,
    /// The projection head.
    pub head: ProjectionHead,
}

impl SupConModel {
    /// L2-normalised embeddings.
    ///
    /// # Shapes
    /// - `images`: `[N, 3, H, W]`; for several views, view-major (`v * B + i`)
    /// - output: `[N, projection_dim]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.encoder.forward(images))
    }

    /// Encoder features, before the head.
    ///
    /// # Shapes
    /// - `images`: `[N, 3, H, W]`
    /// - output: `[N, feature_dim]`
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        self.encoder.forward(images)
    }
}

/// Configuration of a [`ClassifierModel`].
#[derive(Config, Debug)]
pub struct ClassifierModelConfig {
    /// The encoder.
    pub encoder: ResNetConfig,
    /// Number of classes.
    pub num_classes: usize,
}

impl ClassifierModelConfig {
    /// Builds the encoder and a linear classifier sized to its features.
    pub fn init(&self, device: &Device) -> ClassifierModel {
        let encoder = self.encoder.init(device);
        let classifier =
            LinearClassifierConfig::new(encoder.feature_dim(), self.num_classes).init(device);
        ClassifierModel {
            encoder,
            classifier,
        }
    }
}

/// Encoder followed by a linear classifier: the cross-entropy baseline when trained end to
/// end, and the stage-2 model of SupCon when the encoder is frozen.
#[derive(Module, Debug)]
pub struct ClassifierModel {
    /// The ResNet encoder.
    pub encoder: ResNet,
    /// The linear classifier.
    pub classifier: LinearClassifier,
}

impl ClassifierModel {
    /// Puts a new classifier for `num_classes` classes on `encoder` (for example the encoder of
    /// a trained [`SupConModel`]).
    pub fn from_encoder(encoder: ResNet, num_classes: usize, device: &Device) -> Self {
        let classifier =
            LinearClassifierConfig::new(encoder.feature_dim(), num_classes).init(device);
        Self {
            encoder,
            classifier,
        }
    }

    /// Class logits.
    ///
    /// # Shapes
    /// - `images`: `[N, 3, H, W]`
    /// - output: `[N, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.classifier.forward(self.encoder.forward(images))
    }

    /// Encoder features, before the classifier.
    ///
    /// # Shapes
    /// - `images`: `[N, 3, H, W]`
    /// - output: `[N, feature_dim]`
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        self.encoder.forward(images)
    }
}
