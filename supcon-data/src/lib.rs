//! Datasets, SimCLR/SupCon augmentations and a multi-view loader for Burn.
//!
//! - **Sources** implement Burn's [`Dataset`](burn::data::dataset::Dataset) of
//!   [`LabeledImage`] and report their classes through [`ImageSource`]: CIFAR-10/100 binary files
//!   ([`CifarDataset`]), `root/<class>/<image>` trees ([`ImageFolder`]) and a built-in synthetic
//!   set of drawn shapes ([`SyntheticDataset`]).
//! - **Augmentations** work on 8-bit RGB images, take their random generator explicitly, and
//!   reproduce torchvision's tensor implementations for the deterministic operations (see
//!   [`functional`]). [`Preset`] names the pipelines of the SupCon paper.
//! - **The loader** ([`MultiViewLoader`]) decodes and augments in parallel and yields view-major
//!   batches `[V * B, 3, H, W]`; every random draw derives from (run seed, epoch, sample index),
//!   so runs are reproducible and resume mid-epoch.
//!
//! # Example
//!
//! Two SupCon views of each synthetic image, in batches of 8:
//!
//! ```
//! use std::sync::Arc;
//! use burn::prelude::*;
//! use supcon_data::{
//!     ImageSource, LoaderConfig, MultiView, Normalize, Preset, Split, SyntheticConfig,
//! };
//!
//! let dataset = SyntheticConfig::new()
//!     .with_num_classes(4)
//!     .with_samples_per_class(8)
//!     .with_image_size(32)
//!     .init(Split::Train)?;
//! assert_eq!(dataset.num_classes(), 4);
//!
//! let views = MultiView::new(Preset::CifarSupCon.build(32), 2, Normalize::symmetric());
//! let loader = LoaderConfig::new(8).with_seed(42).init(Arc::new(dataset), views)?;
//! assert_eq!(loader.num_batches(), 4);
//!
//! let device = Device::flex();
//! let batch = loader.iter_epoch(0, 0, &device).next().unwrap()?;
//! // Row v * 8 + i holds view v of sample i.
//! assert_eq!(batch.images.dims(), [16, 3, 32, 32]);
//! assert_eq!(batch.labels.dims(), [8]);
//! # Ok::<(), supcon_data::DataError>(())
//! ```

pub mod augment;
mod error;
mod item;
pub mod loader;
pub mod seed;
pub mod source;

/// The deterministic image operations, named as in `torchvision.transforms.functional`.
pub mod functional {
    pub use crate::augment::affine::{affine, inverse_affine_matrix, rotate, warp_affine};
    pub use crate::augment::auto_augment::apply_op;
    pub use crate::augment::blur::{gaussian_blur, gaussian_kernel};
    pub use crate::augment::color::{
        adjust_brightness, adjust_brightness_mut, adjust_contrast, adjust_contrast_mut, adjust_hue,
        adjust_hue_mut, adjust_saturation, adjust_saturation_mut, grayscale, grayscale_mut,
        hsv_to_rgb, luma, mean_luma,
    };
    pub use crate::augment::resize::{
        center_crop, crop_image, hflip, hflip_mut, resize, resize_shorter_side, resized_crop,
        shorter_side_size, vflip, vflip_mut,
    };
    pub use crate::augment::tone::{
        adjust_sharpness, adjust_sharpness_mut, autocontrast, autocontrast_mut, equalize,
        equalize_mut, invert, invert_mut, posterize, posterize_mut, solarize, solarize_mut,
    };
}

pub use augment::affine::Interpolation;
pub use augment::auto_augment::{
    AugmentOp, AutoAugment, RandAugment, RandAugmentConfig, RAND_AUGMENT_OPS,
};
pub use augment::blur::{GaussianBlur, GaussianBlurConfig};
pub use augment::color_jitter::{ColorJitter, ColorJitterConfig, RandomGrayscale};
pub use augment::crop::{
    RandomHorizontalFlip, RandomResizedCrop, RandomResizedCropConfig, ResizeCenterCrop,
};
pub use augment::multi_view::MultiView;
pub use augment::normalize::Normalize;
pub use augment::presets::Preset;
pub use augment::resize::CropBox;
pub use augment::{Compose, RandomApply, Transform};
pub use error::DataError;
pub use item::{ImageSource, LabeledImage, Split};
pub use loader::{Batch, EpochIter, HostBatch, HostBatchIter, LoaderConfig, MultiViewLoader};
pub use seed::AugmentRng;
pub use source::cifar::{
    Cifar100Labels, CifarDataset, SizeCheck, CIFAR100_COARSE_CLASSES, CIFAR100_FINE_CLASSES,
    CIFAR10_CLASSES,
};
pub use source::decode::{decode_rgb, IMAGE_EXTENSIONS};
pub use source::image_folder::{CorruptImagePolicy, ImageFolder, ImageFolderConfig};
pub use source::synthetic::{SyntheticConfig, SyntheticDataset, SYNTHETIC_CLASSES};
