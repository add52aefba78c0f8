//! Contrastive losses for [Burn](https://burn.dev): the supervised contrastive loss of Khosla et
//! al., "Supervised Contrastive Learning" (NeurIPS 2020, arXiv:2004.11362), with the options of
//! both official implementations, and SimCLR's NT-Xent loss as its unsupervised special case.
//!
//! The loss takes L2-normalised embeddings shaped `[batch, views, dim]` and labels (or an
//! explicit positive mask, or nothing for SimCLR):
//!
//! ```
//! use burn::prelude::*;
//! use supcon_core::{Positives, SupConLossConfig};
//!
//! let device = Device::flex();
//! // Two samples of class 0 and one of class 1, two views each, 2-d embeddings.
//! let features = Tensor::<3>::from_data(
//!     [
//!         [[1.0, 0.0], [0.8, 0.6]],
//!         [[0.6, 0.8], [1.0, 0.0]],
//!         [[0.0, 1.0], [-0.6, 0.8]],
//!     ],
//!     &device,
//! );
//! let labels = Tensor::<1, Int>::from_data([0, 0, 1], &device);
//!
//! let loss = SupConLossConfig::new().with_temperature(0.1).init();
//! let value: f32 = loss.forward(features, Positives::Labels(labels)).into_scalar();
//! assert!(value.is_finite() && value > 0.0);
//! ```
//!
//! The number of dimensions is part of the tensor type, so a `[N, D]` embedding matrix does
//! not compile where `[B, V, D]` is expected; [`views_to_features`] turns the view-major
//! `[V * B, D]` output of an encoder into `[B, V, D]`:
//!
//! ```compile_fail
//! use burn::prelude::*;
//! use supcon_core::{Positives, SupConLossConfig};
//! let device = Device::flex();
//! let flat = Tensor::<2>::zeros([4, 8], &device);
//! SupConLossConfig::new().init().forward(flat, Positives::None);
//! ```

mod gather;
mod layout;
mod memory_bank;
mod supcon;

pub use gather::{all_gather, gather_to_device};
pub use layout::views_to_features;
pub use memory_bank::{MemoryBank, MemoryBankConfig};
pub use supcon::{
    AnchorLosses, ContrastMode, Denominator, Positives, Summation, SupConLoss, SupConLossConfig,
};
