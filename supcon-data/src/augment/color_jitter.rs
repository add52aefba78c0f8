//! Random colour distortion: torchvision's `ColorJitter` and `RandomGrayscale`.

use burn::config::Config;
use image::RgbImage;
use rand::seq::SliceRandom;
use rand::RngExt;

use super::color::{
    adjust_brightness_mut, adjust_contrast_mut, adjust_hue_mut, adjust_saturation_mut,
    grayscale_mut,
};
use super::Transform;
use crate::seed::AugmentRng;

/// Options of [`ColorJitter`]. A strength `s` gives factors drawn from `[max(0, 1 - s), 1 + s]`
/// for brightness, contrast and saturation, and a hue shift from `[-h, h]` turns; 0 disables an
/// adjustment.
#[derive(Config, Debug)]
pub struct ColorJitterConfig {
    /// Brightness strength.
    pub brightness: f64,
    /// Contrast strength.
    pub contrast: f64,
    /// Saturation strength.
    pub saturation: f64,
    /// Hue strength in turns, at most 0.5.
    pub hue: f64,
}

impl ColorJitterConfig {
    /// SimCLR's jitter at colour strength `s`: (0.8 s, 0.8 s, 0.8 s, 0.2 s). `s = 0.5` gives
    /// the 0.4/0.4/0.4/0.1 of the SupCon CIFAR pipeline, `s = 1` SimCLR's ImageNet setting.
    pub fn simclr(strength: f64) -> Self {
        Self::new(
            0.8 * strength,
            0.8 * strength,
            0.8 * strength,
            0.2 * strength,
        )
    }

    /// Builds the transform.
    ///
    /// # Panics
    /// When a strength is negative or the hue strength exceeds 0.5.
    pub fn init(&self) -> ColorJitter {
        for (name, value) in [
            ("brightness", self.brightness),
            ("contrast", self.contrast),
            ("saturation", self.saturation),
            ("hue", self.hue),
        ] {
            assert!(
                value >= 0.0,
                "colour jitter {name} must be non-negative, got {value}"
            );
        }
        assert!(
            self.hue <= 0.5,
            "colour jitter hue must be at most 0.5, got {}",
            self.hue
        );
        let range = |s: f64| (s > 0.0).then_some(((1.0 - s).max(0.0), 1.0 + s));
        ColorJitter {
            brightness: range(self.brightness),
            contrast: range(self.contrast),
            saturation: range(self.saturation),
            hue: (self.hue > 0.0).then_some((-self.hue, self.hue)),
        }
    }
}

/// Adjusts brightness, contrast, saturation and hue by random factors, in a random order, as
/// torchvision's `ColorJitter`: first a permutation of the four adjustments is drawn, then the
/// factors (brightness, contrast, saturation, hue), then the adjustments run in the drawn order.
#[derive(Debug, Clone)]
pub struct ColorJitter {
    brightness: Option<(f64, f64)>,
    contrast: Option<(f64, f64)>,
    saturation: Option<(f64, f64)>,
    hue: Option<(f64, f64)>,
}

impl Transform for ColorJitter {
    fn apply(&self, mut image: RgbImage, rng: &mut AugmentRng) -> RgbImage {
        let mut order = [0usize, 1, 2, 3];
        order.shuffle(rng);
        let mut draw = |range: Option<(f64, f64)>| {
            range.map(|(low, high)| {
                if low < high {
                    rng.random_range(low..high)
                } else {
                    low
                }
            })
        };
        let factors = [
            draw(self.brightness),
            draw(self.contrast),
            draw(self.saturation),
            draw(self.hue),
        ];
        for adjustment in order {
            let Some(factor) = factors[adjustment] else {
                continue;
            };
            match adjustment {
                0 => adjust_brightness_mut(&mut image, factor),
                1 => adjust_contrast_mut(&mut image, factor),
                2 => adjust_saturation_mut(&mut image, factor),
                _ => adjust_hue_mut(&mut image, factor),
            }
        }
        image
    }
}

/// Converts to greyscale (kept as three channels) with probability `probability`, as
/// torchvision's `RandomGrayscale` (0.1 there; SimCLR and SupCon use 0.2).
#[derive(Debug, Clone)]
pub struct RandomGrayscale {
    probability: f64,
}

impl RandomGrayscale {
    /// A conversion applied with probability `probability`.
    ///
    /// # Panics
    /// When `probability` is outside [0, 1].
    pub fn new(probability: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&probability),
            "probability {probability} not in [0, 1]"
        );
        Self { probability }
    }
}

impl Transform for RandomGrayscale {
    fn apply(&self, mut image: RgbImage, rng: &mut AugmentRng) -> RgbImage {
        if rng.random::<f64>() < self.probability {
            grayscale_mut(&mut image);
        }
        image
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_from_seed;

    #[test]
    fn simclr_strength_half_is_the_supcon_cifar_jitter() {
        let config = ColorJitterConfig::simclr(0.5);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(config.brightness, 0.4) && close(config.contrast, 0.4));
        assert!(close(config.saturation, 0.4) && close(config.hue, 0.1));
    }

    #[test]
    fn zero_strength_is_identity() {
        let jitter = ColorJitterConfig::new(0.0, 0.0, 0.0, 0.0).init();
        let image = RgbImage::from_fn(4, 4, |x, y| image::Rgb([x as u8 * 60, y as u8 * 60, 9]));
        assert_eq!(jitter.apply(image.clone(), &mut rng_from_seed(5)), image);
    }

    #[test]
    fn grayscale_with_probability_one_equalises_channels() {
        let image = RgbImage::from_fn(4, 4, |x, y| image::Rgb([x as u8 * 60, y as u8 * 60, 9]));
        let out = RandomGrayscale::new(1.0).apply(image, &mut rng_from_seed(5));
        assert!(out.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]));
    }
}
