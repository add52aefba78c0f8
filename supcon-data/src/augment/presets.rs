//! Named augmentation pipelines: those of the SupCon paper and its reference code.

use std::fmt;
use std::str::FromStr;

use super::auto_augment::{AutoAugment, RandAugmentConfig};
use super::blur::GaussianBlurConfig;
use super::color_jitter::{ColorJitterConfig, RandomGrayscale};
use super::crop::{RandomHorizontalFlip, RandomResizedCropConfig, ResizeCenterCrop};
use super::Compose;
use crate::DataError;

/// The named pipelines. Every training preset starts with a random resized crop to the output
/// size and a horizontal flip; all of them produce `image_size` x `image_size` images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Preset {
    /// `cifar_supcon`: the CIFAR pipeline of the PyTorch SupCon reference: crop with scale
    /// 0.2-1, flip, colour jitter 0.4/0.4/0.4/0.1 with p 0.8, greyscale with p 0.2.
    CifarSupCon,
    /// `sim_augment`: SimCLR's ImageNet pipeline: crop with scale 0.08-1, flip, colour jitter
    /// 0.8/0.8/0.8/0.2 with p 0.8, greyscale with p 0.2, Gaussian blur (kernel 10% of the side,
    /// sigma 0.1-2) with p 0.5.
    SimAugment,
    /// `auto_augment`: crop (scale 0.08-1), flip, AutoAugment's ImageNet policy.
    AutoAugment,
    /// `rand_augment`: crop (scale 0.08-1), flip, RandAugment with 2 operations at magnitude 9.
    RandAugment,
    /// `stacked_rand_augment`: the SupCon paper's Stacked RandAugment: `sim_augment` followed by
    /// RandAugment with 2 operations at magnitude 9.
    StackedRandAugment,
    /// `eval`: resize the shorter side, then centre crop (256 -> 224 for 224 px, the 0.875
    /// ratio for sides of 64 px or more; a plain resize for smaller sides such as CIFAR's).
    Eval,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 6] = [
        Preset::CifarSupCon,
        Preset::SimAugment,
        Preset::AutoAugment,
        Preset::RandAugment,
        Preset::StackedRandAugment,
        Preset::Eval,
    ];

    /// The name accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Preset::CifarSupCon => "cifar_supcon",
            Preset::SimAugment => "sim_augment",
            Preset::AutoAugment => "auto_augment",
            Preset::RandAugment => "rand_augment",
            Preset::StackedRandAugment => "stacked_rand_augment",
            Preset::Eval => "eval",
        }
    }

    /// Whether the preset is random (a training augmentation).
    pub fn is_training(self) -> bool {
        self != Preset::Eval
    }

    /// Builds the pipeline for square outputs of side `image_size`.
    ///
    /// # Panics
    /// When `image_size` is zero.
    pub fn build(self, image_size: u32) -> Compose {
        assert!(image_size > 0, "preset image size must be positive");
        let crop = |min_scale: f64| {
            Compose::new()
                .then(
                    RandomResizedCropConfig::new(image_size)
                        .with_scale((min_scale, 1.0))
                        .init(),
                )
                .then(RandomHorizontalFlip::new(0.5))
        };
        let rand_augment = || RandAugmentConfig::new().init();
        match self {
            Preset::CifarSupCon => crop(0.2)
                .then_maybe(0.8, ColorJitterConfig::simclr(0.5).init())
                .then(RandomGrayscale::new(0.2)),
            Preset::SimAugment => sim_augment(image_size),
            Preset::AutoAugment => crop(0.08).then(AutoAugment::imagenet()),
            Preset::RandAugment => crop(0.08).then(rand_augment()),
            Preset::StackedRandAugment => sim_augment(image_size).then(rand_augment()),
            Preset::Eval => {
                let resize = if image_size >= 64 {
                    (image_size as f64 / 0.875).round() as u32
                } else {
                    image_size
                };
                Compose::new().then(ResizeCenterCrop::new(resize, image_size))
            }
        }
    }
}

/// SimCLR's ImageNet pipeline at side `image_size`.
fn sim_augment(image_size: u32) -> Compose {
    Compose::new()
        .then(RandomResizedCropConfig::new(image_size).init())
        .then(RandomHorizontalFlip::new(0.5))
        .then_maybe(0.8, ColorJitterConfig::simclr(1.0).init())
        .then(RandomGrayscale::new(0.2))
        .then_maybe(0.5, GaussianBlurConfig::simclr(image_size).init())
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = DataError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| DataError::UnknownPreset {
                name: name.to_string(),
                known: Preset::ALL.map(Preset::name).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::Transform;
    use crate::seed::rng_from_seed;

    #[test]
    fn every_preset_builds_and_outputs_its_size() {
        let image = image::RgbImage::from_fn(50, 40, |x, y| image::Rgb([x as u8, y as u8, 100]));
        for preset in Preset::ALL {
            assert_eq!(preset.name().parse::<Preset>().unwrap(), preset);
            let out = preset.build(24).apply(image.clone(), &mut rng_from_seed(2));
            assert_eq!((out.width(), out.height()), (24, 24), "{preset}");
        }
    }

    #[test]
    fn unknown_names_list_the_known_presets() {
        let error = "simclr".parse::<Preset>().unwrap_err().to_string();
        assert!(
            error.contains("cifar_supcon") && error.contains("stacked_rand_augment"),
            "{error}"
        );
    }

    #[test]
    fn eval_at_224_resizes_to_256_then_crops() {
        // 500x375 -> shorter side 256 (341x256) -> centre 224x224.
        let image = image::RgbImage::new(500, 375);
        let out = Preset::Eval.build(224).apply(image, &mut rng_from_seed(0));
        assert_eq!((out.width(), out.height()), (224, 224));
    }
}
