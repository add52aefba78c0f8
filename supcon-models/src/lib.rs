//! ResNet encoders, projection heads and linear classifiers for supervised contrastive learning
//! (Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020, arXiv:2004.11362) on
//! [Burn](https://burn.dev).
//!
//! # What is here
//! - [`ResNet`]: ResNet v1 as torchvision builds it (stride on the 3x3 convolution of the
//!   bottleneck, the "v1.5" form) at depths 18, 34, 50, 101, 152 and 200 or any block counts,
//!   with a width multiplier, an ImageNet stem (7x7 stride 2 + max-pool) or a CIFAR stem (3x3
//!   stride 1, no pool), torchvision's initialisation and optional zero-initialised residual
//!   branches. It returns pooled features `[N, feature_dim]` (512 for ResNet-18/34, 2048 for
//!   ResNet-50 and deeper, at width 1); [`ResNet::forward_stages`] returns every stage's map.
//! - [`ProjectionHead`]: MLP `d -> d -> 128` with ReLU, or linear `d -> 128`, whose output is
//!   L2-normalised.
//! - [`LinearClassifier`], [`SupConModel`] (encoder + head, stage 1) and [`ClassifierModel`]
//!   (encoder + classifier: the cross-entropy baseline and stage 2).
//! - Weight files: Burn records through [`Module::save_file`](burn::module::Module::save_file) /
//!   [`Module::load_file`](burn::module::Module::load_file), and
//!   safetensors files named like PyTorch `state_dict` keys ([`checkpoint`] lists the names),
//!   so torchvision and SupCon reference-code weights load here and ours load in PyTorch. A
//!   missing, unexpected or mis-shaped tensor is a [`ModelError`] that names it.
//! - [`num_parameters`] / [`num_buffers`]: counts as PyTorch reports them (Burn's
//!   [`Module::num_params`](burn::module::Module::num_params) also counts batch norm running
//!   statistics).
//!
//! Parameter counts equal torchvision's and the SupCon reference code's for every depth, and
//! loading torchvision weights reproduces PyTorch's logits and features in both evaluation and
//! training mode (see the crate's tests).
//!
//! # Example
//! ```
//! use burn::prelude::*;
//! use supcon_models::{ClassifierModel, ResNetConfig, SupConModelConfig};
//!
//! let device = Device::flex();
//! // A CIFAR ResNet-18 at 1/8 width (8 stem channels, 64 features) to keep the example fast;
//! // `ResNetConfig::resnet50()` gives the paper's ImageNet encoder.
//! let encoder = ResNetConfig::resnet18_cifar().with_width_multiplier(0.125);
//! let model = SupConModelConfig::new(encoder).init(&device);
//! assert_eq!(model.encoder.feature_dim(), 64);
//!
//! // Two views of two images, view-major: rows 0..2 are view 0, rows 2..4 view 1.
//! let images = Tensor::<4>::random([4, 3, 16, 16], burn::tensor::Distribution::Default, &device);
//! let embeddings = model.valid().forward(images.clone());
//! assert_eq!(embeddings.dims(), [4, 128]);
//! let norms: Vec<f32> = embeddings.square().sum_dim(1).sqrt().into_data().try_to_vec().unwrap();
//! assert!(norms.iter().all(|norm| (norm - 1.0).abs() < 1e-5));
//!
//! // Stage 2: a 10-class linear classifier on the trained encoder.
//! let classifier = ClassifierModel::from_encoder(model.encoder, 10, &device);
//! assert_eq!(classifier.valid().forward(images).dims(), [4, 10]);
//! ```
//!
//! Batch norm follows Burn's rule: batch statistics when the input lives on an autodiff device
//! (`Device::flex().autodiff()`) and the module is in training mode, running statistics
//! otherwise, for example after [`Module::valid`](burn::module::Module::valid).

pub mod checkpoint;

mod block;
mod classifier;
mod error;
mod head;
mod model;
mod params;
mod resnet;
mod state_dict;

pub use block::{BasicBlock, BlockKind, Bottleneck, Downsample, ResidualBlock};
pub use classifier::{LinearClassifier, LinearClassifierConfig};
pub use error::ModelError;
pub use head::{l2_normalize, HeadKind, ProjectionHead, ProjectionHeadConfig};
pub use model::{ClassifierModel, ClassifierModelConfig, SupConModel, SupConModelConfig};
pub use params::{num_buffers, num_parameters};
pub use resnet::{ResNet, ResNetConfig, StageFeatures, Stem};
pub use state_dict::{LoadOptions, SafetensorsReader, SafetensorsWriter};
