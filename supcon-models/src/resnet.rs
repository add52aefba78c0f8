//! The ResNet v1 encoder (He et al., 2016) as torchvision builds it, with two stems and a width
//! multiplier.

use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::block::{BlockKind, BlockSettings, ResidualBlock};
use crate::error::ModelError;

/// The first layers of the network, before the four stages.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Stem {
    /// 7x7 convolution with stride 2 and padding 3, batch norm, ReLU, then a 3x3 max-pool with
    /// stride 2 and padding 1: a 224 px image reaches the first stage at 56 px. For ImageNet.
    ImageNet,
    /// 3x3 convolution with stride 1 and padding 1, batch norm, ReLU, and no pooling: a 32 px
    /// image reaches the first stage at 32 px. For CIFAR, as in the SupCon reference code.
    Cifar,
}

/// Configuration of a [`ResNet`] encoder.
///
/// The named constructors give the architectures of the paper (block counts from He et al.,
/// Table 1; ResNet-200 from He et al., "Identity Mappings in Deep Residual Networks"):
///
/// | constructor | blocks | stages | feature dim (width 1) |
/// | --- | --- | --- | --- |
/// | `resnet18` | basic | 2, 2, 2, 2 | 512 |
/// | `resnet34` | basic | 3, 4, 6, 3 | 512 |
/// | `resnet50` | bottleneck | 3, 4, 6, 3 | 2048 |
/// | `resnet101` | bottleneck | 3, 4, 23, 3 | 2048 |
/// | `resnet152` | bottleneck | 3, 8, 36, 3 | 2048 |
/// | `resnet200` | bottleneck | 3, 24, 36, 3 | 2048 |
///
/// each with an ImageNet stem, and the same with `_cifar` for the CIFAR stem.
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// Basic blocks or bottlenecks.
    pub block: BlockKind,
    /// Number of blocks in each of the four stages (any positive counts).
    pub blocks_per_stage: [usize; 4],
    /// The stem.
    #[config(default = "Stem::ImageNet")]
    pub stem: Stem,
    /// Multiplies every channel count: the stem has `round(64 m)` channels and stage `s`
    /// (0-based) has width `round(64 m 2^s)`, its blocks emitting that times the expansion.
    #[config(default = 1.0)]
    pub width_multiplier: f64,
    /// Initialise the weight (gamma) of the last batch norm of every block to zero, so that
    /// each residual branch starts as the identity (Goyal et al., 2017; torchvision's
    /// `zero_init_residual`).
    #[config(default = false)]
    pub zero_init_residual: bool,
    /// Initialise convolutions as torchvision does (normal, std = sqrt(2 / fan_out) with
    /// fan_out = out_channels x kernel area). When false, Burn's default is used, which equals
    /// PyTorch's default `Conv2d` initialisation. Batch norms always start at weight 1, bias 0.
    #[config(default = true)]
    pub torchvision_init: bool,
}

impl ResNetConfig {
    /// ResNet-18 with the ImageNet stem.
    pub fn resnet18() -> Self {
        Self::new(BlockKind::Basic, [2, 2, 2, 2])
    }

    /// ResNet-34 with the ImageNet stem.
    pub fn resnet34() -> Self {
        Self::new(BlockKind::Basic, [3, 4, 6, 3])
    }

    /// ResNet-50 with the ImageNet stem.
    pub fn resnet50() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 4, 6, 3])
    }

    /// ResNet-101 with the ImageNet stem.
    pub fn resnet101() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 4, 23, 3])
    }

    /// ResNet-152 with the ImageNet stem.
    pub fn resnet152() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 8, 36, 3])
    }

    /// ResNet-200 with the ImageNet stem (the deepest encoder of the SupCon paper).
    pub fn resnet200() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 24, 36, 3])
    }

    /// ResNet-18 with the CIFAR stem.
    pub fn resnet18_cifar() -> Self {
        Self::resnet18().with_stem(Stem::Cifar)
    }

    /// ResNet-34 with the CIFAR stem.
    pub fn resnet34_cifar() -> Self {
        Self::resnet34().with_stem(Stem::Cifar)
    }

    /// ResNet-50 with the CIFAR stem.
    pub fn resnet50_cifar() -> Self {
        Self::resnet50().with_stem(Stem::Cifar)
    }

    /// ResNet-101 with the CIFAR stem.
    pub fn resnet101_cifar() -> Self {
        Self::resnet101().with_stem(Stem::Cifar)
    }

    /// ResNet-152 with the CIFAR stem.
    pub fn resnet152_cifar() -> Self {
        Self::resnet152().with_stem(Stem::Cifar)
    }

    /// ResNet-200 with the CIFAR stem.
    pub fn resnet200_cifar() -> Self {
        Self::resnet200().with_stem(Stem::Cifar)
    }

    /// The standard architecture of the given depth (18, 34, 50, 101, 152 or 200) with the
    /// ImageNet stem.
    ///
    /// # Errors
    /// [`ModelError::UnsupportedDepth`] for any other depth.
    pub fn from_depth(depth: usize) -> Result<Self, ModelError> {
        match depth {
            18 => Ok(Self::resnet18()),
            34 => Ok(Self::resnet34()),
            50 => Ok(Self::resnet50()),
            101 => Ok(Self::resnet101()),
            152 => Ok(Self::resnet152()),
            200 => Ok(Self::resnet200()),
            _ => Err(ModelError::UnsupportedDepth(depth)),
        }
    }

    /// Channels after the stem: `round(64 m)`.
    pub fn stem_channels(&self) -> usize {
        self.scaled(64)
    }

    /// Width of stage `stage` (0-based): `round(64 m 2^stage)`.
    ///
    /// # Panics
    /// When `stage > 3`.
    pub fn stage_width(&self, stage: usize) -> usize {
        assert!(stage < 4, "a ResNet has stages 0 to 3, got stage {stage}");
        self.scaled(64 << stage)
    }

    /// Output channels of stage `stage` (0-based): its width times the block expansion.
    ///
    /// # Panics
    /// When `stage > 3`.
    pub fn stage_channels(&self, stage: usize) -> usize {
        self.stage_width(stage) * self.block.expansion()
    }

    /// Size of the pooled feature vector: the output channels of the last stage (512 for
    /// ResNet-18/34 and 2048 for ResNet-50 and deeper at width 1).
    pub fn feature_dim(&self) -> usize {
        self.stage_channels(3)
    }

    fn scaled(&self, channels: usize) -> usize {
        ((channels as f64 * self.width_multiplier).round() as usize).max(1)
    }

    /// Builds the encoder on `device`.
    ///
    /// # Panics
    /// When `width_multiplier` is not finite and positive or a stage has no block.
    pub fn init(&self, device: &Device) -> ResNet {
        assert!(
            self.width_multiplier.is_finite() && self.width_multiplier > 0.0,
            "width_multiplier must be finite and positive, got {}",
            self.width_multiplier
        );
        assert!(
            self.blocks_per_stage.iter().all(|&count| count > 0),
            "every stage needs at least one block, got {:?}",
            self.blocks_per_stage
        );
        let settings = BlockSettings {
            kind: self.block,
            torchvision_init: self.torchvision_init,
            zero_init_residual: self.zero_init_residual,
        };

        // Stem.
        let stem_channels = self.stem_channels();
        let (conv1, maxpool) = match self.stem {
            Stem::ImageNet => {
                let pool = MaxPool2dConfig::new([3, 3])
                    .with_strides([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init();
                (settings.conv([3, stem_channels], 7, 2, device), Some(pool))
            }
            // NOTE: departs from the ImageNet ResNet on purpose: 32 px images would be 8 px
            // after a stride-2 convolution and a max-pool.
            Stem::Cifar => (settings.conv([3, stem_channels], 3, 1, device), None),
        };
        let bn1 = BatchNormConfig::new(stem_channels).init(device);

        // Stages: the first keeps the resolution, the others halve it in their first block.
        let mut in_channels = stem_channels;
        let mut stages: Vec<Vec<ResidualBlock>> = Vec::with_capacity(4);
        for (stage, &count) in self.blocks_per_stage.iter().enumerate() {
            let width = self.stage_width(stage);
            let first_stride = if stage == 0 { 1 } else { 2 };
            let blocks = (0..count)
                .map(|index| {
                    let stride = if index == 0 { first_stride } else { 1 };
                    let block = settings.block(in_channels, width, stride, device);
                    in_channels = width * self.block.expansion();
                    block
                })
                .collect();
            stages.push(blocks);
        }
        let [layer1, layer2, layer3, layer4]: [Vec<ResidualBlock>; 4] =
            stages.try_into().expect("four stages were built");

        ResNet {
            conv1,
            bn1,
            maxpool,
            layer1,
            layer2,
            layer3,
            layer4,
            feature_dim: in_channels,
        }
    }
}

/// A ResNet v1 encoder: stem, four stages of residual blocks, global average pooling.
///
/// Field names follow torchvision's `ResNet`, so parameter paths are its `state_dict` keys
/// (`conv1.weight`, `layer2.0.downsample.0.weight`, ...). There is no `fc`: the classifier is a
/// separate module ([`crate::LinearClassifier`]). Batch norm uses batch statistics when the
/// input lives on an autodiff device and the module is in training mode; call
/// [`Module::valid`] for evaluation with running statistics.
#[derive(Module, Debug)]
pub struct ResNet {
    /// Stem convolution (7x7 stride 2, or 3x3 stride 1 for the CIFAR stem).
    pub conv1: Conv2d,
    /// Stem batch norm.
    pub bn1: BatchNorm,
    /// Stem max-pool (ImageNet stem only).
    pub maxpool: Option<MaxPool2d>,
    /// Stage 1 (stride 1).
    pub layer1: Vec<ResidualBlock>,
    /// Stage 2 (stride 2).
    pub layer2: Vec<ResidualBlock>,
    /// Stage 3 (stride 2).
    pub layer3: Vec<ResidualBlock>,
    /// Stage 4 (stride 2).
    pub layer4: Vec<ResidualBlock>,
    feature_dim: usize,
}

/// The feature maps after the stem and after each stage, for inspection and dense tasks.
#[derive(Debug, Clone)]
pub struct StageFeatures {
    /// After the stem: `[N, C0, H / 4, W / 4]` (ImageNet stem) or `[N, C0, H, W]` (CIFAR).
    pub stem: Tensor<4>,
    /// After stages 1 to 4; each of stages 2 to 4 halves the resolution.
    pub stages: [Tensor<4>; 4],
}

impl ResNet {
    /// Size of the pooled feature vector returned by [`forward`](Self::forward).
    pub fn feature_dim(&self) -> usize {
        self.feature_dim
    }

    /// Applies the stem.
    ///
    /// # Shapes
    /// - `images`: `[N, 3, H, W]`
    /// - output: `[N, C0, ceil(H / 4), ceil(W / 4)]` for the ImageNet stem, `[N, C0, H, W]` for
    ///   the CIFAR stem
    pub fn forward_stem(&self, images: Tensor<4>) -> Tensor<4> {
        let x = relu(self.bn1.forward(self.conv1.forward(images)));
        match &self.maxpool {
            Some(pool) => pool.forward(x),
            None => x,
        }
    }

    /// Runs the network up to the last stage and returns every intermediate feature map.
    ///
    /// # Shapes
    /// - `images`: `[N, 3, H, W]`
    /// - `stages[s]`: `[N, C_s, H_s, W_s]` with `C_s` from [`ResNetConfig::stage_channels`]
    pub fn forward_stages(&self, images: Tensor<4>) -> StageFeatures {
        let stem = self.forward_stem(images);
        let s1 = run_stage(&self.layer1, stem.clone());
        let s2 = run_stage(&self.layer2, s1.clone());
        let s3 = run_stage(&self.layer3, s2.clone());
        let s4 = run_stage(&self.layer4, s3.clone());
        StageFeatures {
            stem,
            stages: [s1, s2, s3, s4],
        }
    }

    /// Encodes images into pooled feature vectors.
    ///
    /// # Shapes
    /// - `images`: `[N, 3, H, W]`, normalised per channel
    /// - output: `[N, feature_dim]`
    ///
    /// # Panics
    /// When `images` does not have 3 channels.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let [_, channels, _, _] = images.dims();
        assert_eq!(
            channels, 3,
            "ResNet expects images shaped [N, 3, H, W], got {channels} channel(s)"
        );
        let x = self.forward_stem(images);
        let x = run_stage(&self.layer1, x);
        let x = run_stage(&self.layer2, x);
        let x = run_stage(&self.layer3, x);
        let x = run_stage(&self.layer4, x);
        global_average_pool(x)
    }
}

fn run_stage(blocks: &[ResidualBlock], input: Tensor<4>) -> Tensor<4> {
    blocks.iter().fold(input, |x, block| block.forward(x))
}

/// Mean over the spatial positions: `[N, C, H, W] -> [N, C]`.
fn global_average_pool(x: Tensor<4>) -> Tensor<2> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c])
}
