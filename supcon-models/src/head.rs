//! The projection head of SupCon: an MLP or a linear map followed by L2 normalisation.

use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;

/// The shape of a [`ProjectionHead`].
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum HeadKind {
    /// `Linear(d, d) -> ReLU -> Linear(d, out)`: the head of the paper and of its reference
    /// code.
    Mlp,
    /// `Linear(d, out)`.
    Linear,
}

/// Configuration of a [`ProjectionHead`].
#[derive(Config, Debug)]
pub struct ProjectionHeadConfig {
    /// Size `d` of the encoder features it takes.
    pub input_dim: usize,
    /// Size of the embedding it returns (128 in the paper).
    #[config(default = 128)]
    pub output_dim: usize,
    /// MLP or linear.
    #[config(default = "HeadKind::Mlp")]
    pub kind: HeadKind,
}

impl ProjectionHeadConfig {
    /// Builds the head on `device`, with PyTorch's default `Linear` initialisation.
    ///
    /// # Panics
    /// When `input_dim` or `output_dim` is zero.
    pub fn init(&self, device: &Device) -> ProjectionHead {
        assert!(
            self.input_dim > 0 && self.output_dim > 0,
            "projection head sizes must be positive, got {} -> {}",
            self.input_dim,
            self.output_dim
        );
        match self.kind {
            HeadKind::Mlp => ProjectionHead::Mlp((
                LinearConfig::new(self.input_dim, self.input_dim).init(device),
                Relu,
                LinearConfig::new(self.input_dim, self.output_dim).init(device),
            )),
            HeadKind::Linear => ProjectionHead::Linear(
                LinearConfig::new(self.input_dim, self.output_dim).init(device),
            ),
        }
    }
}

/// Maps encoder features to unit-length embeddings: `z = g(h) / max(||g(h)||_2, 1e-12)`, with
/// `h` the features and `g` the MLP or linear map.
///
/// The MLP is stored as the triple `(hidden, ReLU, output)` so that its parameter paths are
/// `0.weight` and `2.weight`, the indices of PyTorch's `nn.Sequential`.
#[derive(Module, Debug)]
pub enum ProjectionHead {
    /// `(Linear(d, d), ReLU, Linear(d, out))`.
    Mlp((Linear, Relu, Linear)),
    /// `Linear(d, out)`.
    Linear(Linear),
}

impl ProjectionHead {
    /// Size of the embeddings it returns.
    pub fn output_dim(&self) -> usize {
        let output = match self {
            ProjectionHead::Mlp((_, _, output)) => output,
            ProjectionHead::Linear(output) => output,
        };
        output.weight.lazy_shape().dims::<2>()[1]
    }

    /// Projects and normalises.
    ///
    /// # Shapes
    /// - `features`: `[N, d]`
    /// - output: `[N, out]`, every row of unit L2 norm (a zero row stays zero)
    pub fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        let projected = match self {
            ProjectionHead::Mlp((hidden, relu, output)) => {
                output.forward(relu.forward(hidden.forward(features)))
            }
            ProjectionHead::Linear(output) => output.forward(features),
        };
        l2_normalize(projected)
    }
}

/// Divides each row by its L2 norm, clamped below at 1e-12 (as `torch.nn.functional.normalize`
/// does).
///
/// The clamp is applied to the squared norm (at 1e-24) so that the gradient of an all-zero row
/// is zero rather than NaN.
///
/// # Shapes
/// - `x`: `[N, D]`, output: `[N, D]`
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().square().sum_dim(1).clamp_min(1e-24).sqrt();
    x / norm
}
