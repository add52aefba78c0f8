//! The multi-view transform: V independent augmentations of one image.

use std::sync::Arc;

use image::RgbImage;

use super::normalize::Normalize;
use super::Transform;
use crate::seed::AugmentRng;

/// Draws `num_views` independent views of an image through the same pipeline, then normalises
/// them. The views are drawn in order from one generator, so (image, generator state) fixes all
/// of them while each view gets fresh random parameters.
#[derive(Debug, Clone)]
pub struct MultiView {
    pipeline: Arc<dyn Transform>,
    num_views: usize,
    normalize: Normalize,
}

impl MultiView {
    /// `num_views` views through `pipeline`, normalised by `normalize`. One view with an
    /// evaluation pipeline is the usual test-time transform.
    ///
    /// # Panics
    /// When `num_views` is zero.
    pub fn new(pipeline: impl Transform + 'static, num_views: usize, normalize: Normalize) -> Self {
        assert!(
            num_views > 0,
            "a multi-view transform needs at least one view"
        );
        Self {
            pipeline: Arc::new(pipeline),
            num_views,
            normalize,
        }
    }

    /// Like [`MultiView::new`] with a shared pipeline.
    ///
    /// # Panics
    /// When `num_views` is zero.
    pub fn from_shared(
        pipeline: Arc<dyn Transform>,
        num_views: usize,
        normalize: Normalize,
    ) -> Self {
        assert!(
            num_views > 0,
            "a multi-view transform needs at least one view"
        );
        Self {
            pipeline,
            num_views,
            normalize,
        }
    }

    /// The number of views per image.
    pub fn num_views(&self) -> usize {
        self.num_views
    }

    /// The normalisation applied to every view.
    pub fn normalize(&self) -> &Normalize {
        &self.normalize
    }

    /// The pipeline applied to every view.
    pub fn pipeline(&self) -> &Arc<dyn Transform> {
        &self.pipeline
    }

    /// The augmented views of `image` as 8-bit images (before normalisation).
    pub fn views(&self, image: &RgbImage, rng: &mut AugmentRng) -> Vec<RgbImage> {
        (0..self.num_views)
            .map(|_| self.pipeline.apply(image.clone(), rng))
            .collect()
    }
}
