//! Residual blocks of ResNet v1: the basic block (ResNet-18/34) and the bottleneck (ResNet-50+).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// The kind of residual block a ResNet stacks.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// Two 3x3 convolutions; output channels = stage width (expansion 1). ResNet-18 and -34.
    Basic,
    /// 1x1 reduce, 3x3, 1x1 expand; output channels = 4 x stage width. ResNet-50 and deeper.
    Bottleneck,
}

impl BlockKind {
    /// How many times wider a block's output is than its stage width (1 or 4).
    pub fn expansion(self) -> usize {
        match self {
            BlockKind::Basic => 1,
            BlockKind::Bottleneck => 4,
        }
    }
}

/// The shortcut of a block whose input and output shapes differ: a 1x1 convolution with the
/// block's stride (no bias) followed by batch normalisation.
///
/// A tuple rather than a named struct so that the parameter paths read `downsample.0.weight` and
/// `downsample.1.running_mean`, exactly torchvision's `nn.Sequential` keys.
pub type Downsample = (Conv2d, BatchNorm);

/// ResNet's basic block: `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`.
#[derive(Module, Debug)]
pub struct BasicBlock {
    /// 3x3 convolution carrying the block's stride.
    pub conv1: Conv2d,
    /// Batch norm after `conv1`.
    pub bn1: BatchNorm,
    /// 3x3 convolution, stride 1.
    pub conv2: Conv2d,
    /// Batch norm after `conv2`: the last of the block (zero-initialised on request).
    pub bn2: BatchNorm,
    /// Projection shortcut, present when the stride is not 1 or the channel count changes.
    pub downsample: Option<Downsample>,
}

/// ResNet's bottleneck block:
/// `relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))))) + shortcut(x))`.
///
/// The stride sits on the 3x3 convolution `conv2`, as torchvision places it (the form often
/// called ResNet v1.5); the original paper put it on the first 1x1 convolution.
#[derive(Module, Debug)]
pub struct Bottleneck {
    /// 1x1 convolution reducing to the stage width.
    pub conv1: Conv2d,
    /// Batch norm after `conv1`.
    pub bn1: BatchNorm,
    /// 3x3 convolution carrying the block's stride (v1.5 placement).
    pub conv2: Conv2d,
    /// Batch norm after `conv2`.
    pub bn2: BatchNorm,
    /// 1x1 convolution expanding to 4 x the stage width.
    pub conv3: Conv2d,
    /// Batch norm after `conv3`: the last of the block (zero-initialised on request).
    pub bn3: BatchNorm,
    /// Projection shortcut, present when the stride is not 1 or the channel count changes.
    pub downsample: Option<Downsample>,
}

/// One residual block of either kind.
///
/// The variant name does not appear in safetensors tensor names (`layer1.0.conv1.weight`).
// The bottleneck variant is larger, but a network holds blocks of one kind only, and Burn's
// `Module` is not implemented for `Box`.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ResidualBlock {
    /// A [`BasicBlock`].
    Basic(BasicBlock),
    /// A [`Bottleneck`].
    Bottleneck(Bottleneck),
}

/// How a block's layers are built; shared by every block of one network.
#[derive(Clone, Debug)]
pub(crate) struct BlockSettings {
    pub kind: BlockKind,
    pub torchvision_init: bool,
    pub zero_init_residual: bool,
}

impl BlockSettings {
    /// A bias-free convolution with "same" padding for odd kernels.
    pub(crate) fn conv(
        &self,
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        device: &Device,
    ) -> Conv2d {
        let pad = kernel / 2;
        let config = Conv2dConfig::new(channels, [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_bias(false);
        // torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu"), i.e.
        // std = sqrt(2 / (out_channels * k * k)). Otherwise Burn's default, which is PyTorch's
        // default Conv2d initialisation (uniform, bound 1 / sqrt(in_channels * k * k)).
        let config = match self.torchvision_init {
            true => config.with_initializer(Initializer::KaimingNormal {
                gain: std::f64::consts::SQRT_2,
                fan_out_only: true,
            }),
            false => config,
        };
        config.init(device)
    }

    /// A batch norm with weight 1 and bias 0, or weight 0 when it ends a residual branch and
    /// `zero_init_residual` is set (so the block starts as the identity).
    fn batch_norm(&self, channels: usize, last_of_block: bool, device: &Device) -> BatchNorm {
        let mut norm = BatchNormConfig::new(channels).init(device);
        if last_of_block && self.zero_init_residual {
            norm.gamma = Initializer::Zeros.init([channels], device);
        }
        norm
    }

    /// Builds one block taking `in_channels` to `width * expansion` channels.
    pub(crate) fn block(
        &self,
        in_channels: usize,
        width: usize,
        stride: usize,
        device: &Device,
    ) -> ResidualBlock {
        let out_channels = width * self.kind.expansion();
        let downsample = (stride != 1 || in_channels != out_channels).then(|| {
            (
                self.conv([in_channels, out_channels], 1, stride, device),
                self.batch_norm(out_channels, false, device),
            )
        });
        match self.kind {
            BlockKind::Basic => ResidualBlock::Basic(BasicBlock {
                conv1: self.conv([in_channels, width], 3, stride, device),
                bn1: self.batch_norm(width, false, device),
                conv2: self.conv([width, width], 3, 1, device),
                bn2: self.batch_norm(width, true, device),
                downsample,
            }),
            BlockKind::Bottleneck => ResidualBlock::Bottleneck(Bottleneck {
                conv1: self.conv([in_channels, width], 1, 1, device),
                bn1: self.batch_norm(width, false, device),
                // ResNet v1.5: the stride is applied here, on the 3x3 convolution.
                conv2: self.conv([width, width], 3, stride, device),
                bn2: self.batch_norm(width, false, device),
                conv3: self.conv([width, out_channels], 1, 1, device),
                bn3: self.batch_norm(out_channels, true, device),
                downsample,
            }),
        }
    }
}

fn shortcut(downsample: &Option<Downsample>, input: Tensor<4>) -> Tensor<4> {
    match downsample {
        Some((conv, norm)) => norm.forward(conv.forward(input)),
        None => input,
    }
}

impl BasicBlock {
    /// Applies the block.
    ///
    /// # Shapes
    /// - `input`: `[N, C_in, H, W]`
    /// - output: `[N, C_out, H / s, W / s]` (s the stride, rounded up)
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let identity = shortcut(&self.downsample, input.clone());
        let x = relu(self.bn1.forward(self.conv1.forward(input)));
        let x = self.bn2.forward(self.conv2.forward(x));
        relu(x + identity)
    }
}

impl Bottleneck {
    /// Applies the block.
    ///
    /// # Shapes
    /// - `input`: `[N, C_in, H, W]`
    /// - output: `[N, 4 * width, H / s, W / s]` (s the stride, rounded up)
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let identity = shortcut(&self.downsample, input.clone());
        let x = relu(self.bn1.forward(self.conv1.forward(input)));
        let x = relu(self.bn2.forward(self.conv2.forward(x)));
        let x = self.bn3.forward(self.conv3.forward(x));
        relu(x + identity)
    }
}

impl ResidualBlock {
    /// Applies the block (see [`BasicBlock::forward`] and [`Bottleneck::forward`]).
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        match self {
            ResidualBlock::Basic(block) => block.forward(input),
            ResidualBlock::Bottleneck(block) => block.forward(input),
        }
    }
}
