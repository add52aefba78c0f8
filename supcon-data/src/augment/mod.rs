//! Augmentations on 8-bit RGB images: the [`Transform`] trait, composition, and the operations.
//!
//! Deterministic operations (functions such as [`resize::resized_crop`] or
//! [`color::adjust_hue`]) reproduce torchvision's uint8 tensor code path; random transforms
//! (types such as [`crop::RandomResizedCrop`]) draw their parameters as torchvision does, from
//! the generator they are given.

pub mod affine;
pub mod auto_augment;
pub mod blur;
pub mod color;
pub mod color_jitter;
pub mod crop;
pub mod multi_view;
pub mod normalize;
pub mod presets;
pub mod resize;
pub mod tone;

use std::fmt::Debug;
use std::sync::Arc;

use image::RgbImage;
use rand::RngExt;

use crate::seed::AugmentRng;

/// One image-to-image augmentation. Every random draw comes from `rng`, so the same generator
/// state gives the same output.
pub trait Transform: Send + Sync + Debug {
    /// Transforms `image`, drawing any random parameters from `rng`.
    fn apply(&self, image: RgbImage, rng: &mut AugmentRng) -> RgbImage;
}

impl<T: Transform + ?Sized> Transform for Arc<T> {
    fn apply(&self, image: RgbImage, rng: &mut AugmentRng) -> RgbImage {
        self.as_ref().apply(image, rng)
    }
}

impl<T: Transform + ?Sized> Transform for Box<T> {
    fn apply(&self, image: RgbImage, rng: &mut AugmentRng) -> RgbImage {
        self.as_ref().apply(image, rng)
    }
}

/// Applies its transforms in order.
#[derive(Debug, Clone, Default)]
pub struct Compose {
    transforms: Vec<Arc<dyn Transform>>,
}

impl Compose {
    /// An empty pipeline (the identity).
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a transform.
    pub fn then(mut self, transform: impl Transform + 'static) -> Self {
        self.transforms.push(Arc::new(transform));
        self
    }

    /// Appends `transform`, applied with probability `probability`.
    pub fn then_maybe(self, probability: f64, transform: impl Transform + 'static) -> Self {
        self.then(RandomApply::new(probability, transform))
    }

    /// Appends every transform of `other`.
    pub fn extend(mut self, other: Compose) -> Self {
        self.transforms.extend(other.transforms);
        self
    }

    /// The number of transforms.
    pub fn len(&self) -> usize {
        self.transforms.len()
    }

    /// Whether the pipeline is empty (the identity).
    pub fn is_empty(&self) -> bool {
        self.transforms.is_empty()
    }
}

impl Transform for Compose {
    fn apply(&self, image: RgbImage, rng: &mut AugmentRng) -> RgbImage {
        self.transforms
            .iter()
            .fold(image, |image, t| t.apply(image, rng))
    }
}

/// Applies a transform with a given probability, as torchvision's `RandomApply`: one uniform
/// draw decides, and the transform's own draws happen only when it runs.
#[derive(Debug, Clone)]
pub struct RandomApply<T> {
    probability: f64,
    transform: T,
}

impl<T: Transform> RandomApply<T> {
    /// Wraps `transform`.
    ///
    /// # Panics
    /// When `probability` is outside [0, 1].
    pub fn new(probability: f64, transform: T) -> Self {
        assert!(
            (0.0..=1.0).contains(&probability),
            "probability must be in [0, 1], got {probability}"
        );
        Self {
            probability,
            transform,
        }
    }
}

impl<T: Transform> Transform for RandomApply<T> {
    fn apply(&self, image: RgbImage, rng: &mut AugmentRng) -> RgbImage {
        if rng.random::<f64>() < self.probability {
            self.transform.apply(image, rng)
        } else {
            image
        }
    }
}
