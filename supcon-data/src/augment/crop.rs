//! Geometric transforms: random resized crop, horizontal flip, and the evaluation resize + centre
//! crop.

use burn::config::Config;
use image::RgbImage;
use rand::RngExt;

use super::resize::{center_crop, hflip_mut, resize_shorter_side, resized_crop, CropBox};
use super::Transform;
use crate::seed::AugmentRng;

/// Options of [`RandomResizedCrop`].
#[derive(Config, Debug)]
pub struct RandomResizedCropConfig {
    /// Output side in pixels (square output).
    pub size: u32,
    /// Range of the crop area as a fraction of the image area.
    #[config(default = "(0.08, 1.0)")]
    pub scale: (f64, f64),
    /// Range of the crop aspect ratio (width / height), sampled log-uniformly.
    #[config(default = "(0.75, 4.0 / 3.0)")]
    pub ratio: (f64, f64),
    /// Widen the resampling filter when downscaling (torchvision's default).
    #[config(default = true)]
    pub antialias: bool,
}

impl RandomResizedCropConfig {
    /// Builds the transform.
    ///
    /// # Panics
    /// When the size is zero or a range is empty or not positive.
    pub fn init(&self) -> RandomResizedCrop {
        assert!(self.size > 0, "crop size must be positive");
        assert!(
            0.0 < self.scale.0 && self.scale.0 <= self.scale.1,
            "crop scale range must satisfy 0 < min <= max, got {:?}",
            self.scale
        );
        assert!(
            0.0 < self.ratio.0 && self.ratio.0 <= self.ratio.1,
            "crop ratio range must satisfy 0 < min <= max, got {:?}",
            self.ratio
        );
        RandomResizedCrop {
            size: self.size,
            scale: self.scale,
            log_ratio: (self.ratio.0.ln(), self.ratio.1.ln()),
            ratio: self.ratio,
            antialias: self.antialias,
        }
    }
}

/// Crops a random area and aspect ratio, then resizes it to `size` x `size` (bilinear), as
/// torchvision's `RandomResizedCrop`.
///
/// Sampling: up to 10 attempts draw an area fraction uniformly from `scale` and an aspect ratio
/// log-uniformly from `ratio`, giving `w = round(sqrt(area * ratio))` and
/// `h = round(sqrt(area / ratio))`; the first that fits is placed uniformly at random. If none
/// fits, the largest centred crop whose aspect ratio lies in `ratio` is used. Images smaller
/// than `size` are thus upscaled, never padded.
#[derive(Debug, Clone)]
pub struct RandomResizedCrop {
    size: u32,
    scale: (f64, f64),
    ratio: (f64, f64),
    log_ratio: (f64, f64),
    antialias: bool,
}

/// A uniform draw from `[low, high)`, or `low` when the range is a single point.
fn uniform(rng: &mut AugmentRng, low: f64, high: f64) -> f64 {
    if low < high {
        rng.random_range(low..high)
    } else {
        low
    }
}

impl RandomResizedCrop {
    /// Draws the crop box for an image of `width` x `height`.
    pub fn sample_box(&self, width: u32, height: u32, rng: &mut AugmentRng) -> CropBox {
        let area = (width as f64) * (height as f64);
        for _ in 0..10 {
            let target_area = area * uniform(rng, self.scale.0, self.scale.1);
            let aspect = uniform(rng, self.log_ratio.0, self.log_ratio.1).exp();
            // Python's round() is half-to-even.
            let w = (target_area * aspect).sqrt().round_ties_even() as u32;
            let h = (target_area / aspect).sqrt().round_ties_even() as u32;
            if 0 < w && w <= width && 0 < h && h <= height {
                let top = rng.random_range(0..=height - h);
                let left = rng.random_range(0..=width - w);
                return CropBox {
                    top,
                    left,
                    height: h,
                    width: w,
                };
            }
        }
        // Fallback: the whole image, trimmed to the nearest allowed aspect ratio.
        let in_ratio = width as f64 / height as f64;
        let (w, h) = if in_ratio < self.ratio.0 {
            (
                width,
                ((width as f64 / self.ratio.0).round_ties_even() as u32).clamp(1, height),
            )
        } else if in_ratio > self.ratio.1 {
            (
                ((height as f64 * self.ratio.1).round_ties_even() as u32).clamp(1, width),
                height,
            )
        } else {
            (width, height)
        };
        CropBox {
            top: (height - h) / 2,
            left: (width - w) / 2,
            height: h,
            width: w,
        }
    }
}

impl Transform for RandomResizedCrop {
    fn apply(&self, image: RgbImage, rng: &mut AugmentRng) -> RgbImage {
        let crop = self.sample_box(image.width(), image.height(), rng);
        resized_crop(&image, crop, self.size, self.size, self.antialias)
    }
}

/// Mirrors left to right with probability `probability` (0.5 in torchvision).
#[derive(Debug, Clone)]
pub struct RandomHorizontalFlip {
    probability: f64,
}

impl RandomHorizontalFlip {
    /// A flip applied with probability `probability`.
    ///
    /// # Panics
    /// When `probability` is outside [0, 1].
    pub fn new(probability: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&probability),
            "flip probability {probability} not in [0, 1]"
        );
        Self { probability }
    }
}

impl Default for RandomHorizontalFlip {
    fn default() -> Self {
        Self::new(0.5)
    }
}

impl Transform for RandomHorizontalFlip {
    fn apply(&self, mut image: RgbImage, rng: &mut AugmentRng) -> RgbImage {
        if rng.random::<f64>() < self.probability {
            hflip_mut(&mut image);
        }
        image
    }
}

/// The evaluation transform: resize the shorter side to `resize` pixels (bilinear, antialiased),
/// then crop the centre `crop` x `crop`, as `Resize(resize)` + `CenterCrop(crop)`. An image
/// smaller than `resize` is upscaled; a `crop` larger than the resized image pads with black, as
/// torchvision does. Deterministic: the generator is not used.
#[derive(Debug, Clone)]
pub struct ResizeCenterCrop {
    resize: u32,
    crop: u32,
}

impl ResizeCenterCrop {
    /// Resize the shorter side to `resize`, then crop `crop` x `crop` (224/256 is the ImageNet
    /// convention: `new(256, 224)`).
    ///
    /// # Panics
    /// When a size is zero.
    pub fn new(resize: u32, crop: u32) -> Self {
        assert!(
            resize > 0 && crop > 0,
            "resize {resize} and crop {crop} must be positive"
        );
        Self { resize, crop }
    }
}

impl Transform for ResizeCenterCrop {
    fn apply(&self, image: RgbImage, _rng: &mut AugmentRng) -> RgbImage {
        let resized = if image.width().min(image.height()) == self.resize {
            image
        } else {
            resize_shorter_side(&image, self.resize, true)
        };
        if resized.width() == self.crop && resized.height() == self.crop {
            resized
        } else {
            center_crop(&resized, self.crop, self.crop)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_from_seed;

    #[test]
    fn sampled_boxes_fit_and_respect_the_ranges() {
        let crop = RandomResizedCropConfig::new(32)
            .with_scale((0.2, 1.0))
            .init();
        let mut rng = rng_from_seed(3);
        for _ in 0..2000 {
            let b = crop.sample_box(40, 30, &mut rng);
            assert!(b.left + b.width <= 40 && b.top + b.height <= 30, "{b:?}");
            let fraction = (b.width * b.height) as f64 / 1200.0;
            // Rounding w and h moves the area by at most about one row and column.
            assert!(fraction > 0.2 - 0.08 && fraction <= 1.0, "{b:?}");
        }
    }

    #[test]
    fn impossible_ratios_fall_back_to_a_centred_crop() {
        // A 100x10 image cannot hold a crop of ratio <= 4/3 covering >= 90% of it, so all 10
        // attempts fail and the fallback trims the width to round(10 * 4/3) = 13, centred.
        let crop = RandomResizedCropConfig::new(8)
            .with_scale((0.9, 1.0))
            .init();
        let b = crop.sample_box(100, 10, &mut rng_from_seed(0));
        assert_eq!(
            b,
            CropBox {
                top: 0,
                left: 43,
                height: 10,
                width: 13
            }
        );
    }

    #[test]
    fn small_images_are_upscaled_to_the_crop_size() {
        let crop = RandomResizedCropConfig::new(32).init();
        let out = crop.apply(RgbImage::new(5, 7), &mut rng_from_seed(1));
        assert_eq!((out.width(), out.height()), (32, 32));
        let eval = ResizeCenterCrop::new(36, 32).apply(RgbImage::new(5, 7), &mut rng_from_seed(1));
        assert_eq!((eval.width(), eval.height()), (32, 32));
    }
}
