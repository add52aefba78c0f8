//! AutoAugment (ImageNet policy) and RandAugment, with torchvision's operations and magnitude
//! bins.

use std::fmt;
use std::str::FromStr;

use burn::config::Config;
use image::RgbImage;
use rand::RngExt;

use super::affine::{affine, rotate, Interpolation};
use super::color::{adjust_brightness_mut, adjust_contrast_mut, adjust_saturation_mut};
use super::tone::{
    adjust_sharpness_mut, autocontrast_mut, equalize_mut, invert_mut, posterize_mut, solarize_mut,
};
use super::Transform;
use crate::seed::AugmentRng;
use crate::DataError;

/// The image operations of AutoAugment and RandAugment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AugmentOp {
    /// No change.
    Identity,
    /// Horizontal shear: output `(x, y)` samples input `(x + m y, y)`, origin at the top-left.
    ShearX,
    /// Vertical shear: output `(x, y)` samples input `(x, y + m x)`.
    ShearY,
    /// Horizontal shift by `trunc(m)` pixels.
    TranslateX,
    /// Vertical shift by `trunc(m)` pixels.
    TranslateY,
    /// Counter-clockwise rotation by `m` degrees about the centre.
    Rotate,
    /// Brightness factor `1 + m`.
    Brightness,
    /// Saturation factor `1 + m` (PIL's "Color").
    Color,
    /// Contrast factor `1 + m`.
    Contrast,
    /// Sharpness factor `1 + m`.
    Sharpness,
    /// Keep `trunc(m)` bits.
    Posterize,
    /// Invert values at or above `m` (0..255 scale).
    Solarize,
    /// Stretch each channel to the full range.
    AutoContrast,
    /// Equalise each channel's histogram.
    Equalize,
    /// `255 - x`.
    Invert,
}

impl AugmentOp {
    /// Every operation, in declaration order.
    pub const ALL: [AugmentOp; 15] = [
        AugmentOp::Identity,
        AugmentOp::ShearX,
        AugmentOp::ShearY,
        AugmentOp::TranslateX,
        AugmentOp::TranslateY,
        AugmentOp::Rotate,
        AugmentOp::Brightness,
        AugmentOp::Color,
        AugmentOp::Contrast,
        AugmentOp::Sharpness,
        AugmentOp::Posterize,
        AugmentOp::Solarize,
        AugmentOp::AutoContrast,
        AugmentOp::Equalize,
        AugmentOp::Invert,
    ];

    /// The name torchvision uses (`"ShearX"`, `"AutoContrast"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            AugmentOp::Identity => "Identity",
            AugmentOp::ShearX => "ShearX",
            AugmentOp::ShearY => "ShearY",
            AugmentOp::TranslateX => "TranslateX",
            AugmentOp::TranslateY => "TranslateY",
            AugmentOp::Rotate => "Rotate",
            AugmentOp::Brightness => "Brightness",
            AugmentOp::Color => "Color",
            AugmentOp::Contrast => "Contrast",
            AugmentOp::Sharpness => "Sharpness",
            AugmentOp::Posterize => "Posterize",
            AugmentOp::Solarize => "Solarize",
            AugmentOp::AutoContrast => "AutoContrast",
            AugmentOp::Equalize => "Equalize",
            AugmentOp::Invert => "Invert",
        }
    }

    /// Whether a random sign applies to the magnitude (the geometric and enhance operations).
    pub fn is_signed(self) -> bool {
        matches!(
            self,
            AugmentOp::ShearX
                | AugmentOp::ShearY
                | AugmentOp::TranslateX
                | AugmentOp::TranslateY
                | AugmentOp::Rotate
                | AugmentOp::Brightness
                | AugmentOp::Color
                | AugmentOp::Contrast
                | AugmentOp::Sharpness
        )
    }

    /// The magnitude of bin `bin` out of `num_bins` for an image of `width` x `height`, before
    /// any sign: torchvision's `_augmentation_space`. Shear spans 0..0.3, translation
    /// 0..150/331 of the side, rotation 0..30 degrees, the enhance factors 0..0.9, posterize
    /// `8 - round(bin / ((num_bins - 1) / 4))` bits, solarize 255..0; the rest have none.
    ///
    /// # Panics
    /// When `bin >= num_bins` or `num_bins < 2`.
    pub fn magnitude(self, bin: usize, num_bins: usize, width: u32, height: u32) -> f64 {
        assert!(
            num_bins >= 2 && bin < num_bins,
            "bin {bin} of {num_bins} magnitude bins"
        );
        // torch.linspace(start, end, n)[bin], computed in float32 as torch does.
        let linspace = |start: f64, end: f64| -> f64 {
            let step = (end as f32 - start as f32) / (num_bins - 1) as f32;
            let value = if bin < num_bins / 2 {
                start as f32 + step * bin as f32
            } else {
                end as f32 - step * (num_bins - 1 - bin) as f32
            };
            value as f64
        };
        match self {
            AugmentOp::ShearX | AugmentOp::ShearY => linspace(0.0, 0.3),
            AugmentOp::TranslateX => linspace(0.0, 150.0 / 331.0 * width as f64),
            AugmentOp::TranslateY => linspace(0.0, 150.0 / 331.0 * height as f64),
            AugmentOp::Rotate => linspace(0.0, 30.0),
            AugmentOp::Brightness
            | AugmentOp::Color
            | AugmentOp::Contrast
            | AugmentOp::Sharpness => linspace(0.0, 0.9),
            AugmentOp::Posterize => {
                let ratio = bin as f32 / ((num_bins - 1) as f32 / 4.0);
                8.0 - ratio.round_ties_even() as f64
            }
            AugmentOp::Solarize => linspace(255.0, 0.0),
            AugmentOp::Identity
            | AugmentOp::AutoContrast
            | AugmentOp::Equalize
            | AugmentOp::Invert => 0.0,
        }
    }
}

impl fmt::Display for AugmentOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AugmentOp {
    type Err = DataError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        AugmentOp::ALL
            .into_iter()
            .find(|op| op.name() == name)
            .ok_or_else(|| {
                let known: Vec<_> = AugmentOp::ALL.iter().map(|op| op.name()).collect();
                DataError::InvalidConfig(format!(
                    "unknown augmentation operation {name:?}; known: {}",
                    known.join(", ")
                ))
            })
    }
}

/// Applies one operation at a signed magnitude, as torchvision's `_apply_op(img, name,
/// magnitude, interpolation, fill)`.
pub fn apply_op(
    image: RgbImage,
    op: AugmentOp,
    magnitude: f64,
    interpolation: Interpolation,
    fill: Option<[f32; 3]>,
) -> RgbImage {
    let mut image = image;
    match op {
        AugmentOp::Identity => {}
        AugmentOp::ShearX | AugmentOp::ShearY => {
            // torchvision shears by atan(m) degrees about the top-left corner, so the inverse
            // map is (x + m y, y) or (x, y + m x).
            let angle = magnitude.atan().to_degrees();
            let shear = if op == AugmentOp::ShearX {
                [angle, 0.0]
            } else {
                [0.0, angle]
            };
            let corner = Some([0.0, 0.0]);
            image = affine(
                &image,
                0.0,
                [0.0, 0.0],
                1.0,
                shear,
                interpolation,
                fill,
                corner,
            );
        }
        AugmentOp::TranslateX | AugmentOp::TranslateY => {
            let shift = magnitude.trunc();
            let translate = if op == AugmentOp::TranslateX {
                [shift, 0.0]
            } else {
                [0.0, shift]
            };
            image = affine(
                &image,
                0.0,
                translate,
                1.0,
                [0.0, 0.0],
                interpolation,
                fill,
                None,
            );
        }
        AugmentOp::Rotate => image = rotate(&image, magnitude, interpolation, fill),
        AugmentOp::Brightness => adjust_brightness_mut(&mut image, 1.0 + magnitude),
        AugmentOp::Color => adjust_saturation_mut(&mut image, 1.0 + magnitude),
        AugmentOp::Contrast => adjust_contrast_mut(&mut image, 1.0 + magnitude),
        AugmentOp::Sharpness => adjust_sharpness_mut(&mut image, 1.0 + magnitude),
        AugmentOp::Posterize => posterize_mut(&mut image, magnitude.trunc().clamp(0.0, 8.0) as u8),
        AugmentOp::Solarize => solarize_mut(&mut image, magnitude),
        AugmentOp::AutoContrast => autocontrast_mut(&mut image),
        AugmentOp::Equalize => equalize_mut(&mut image),
        AugmentOp::Invert => invert_mut(&mut image),
    }
    image
}

/// One step of an AutoAugment sub-policy: an operation, its probability and its magnitude bin
/// (out of 10; `None` for operations without a magnitude).
type PolicyStep = (AugmentOp, f64, Option<usize>);

/// The 25 two-step sub-policies AutoAugment learned on ImageNet (Cubuk et al. 2019), as
/// torchvision lists them.
const IMAGENET_POLICY: [[PolicyStep; 2]; 25] = {
    use AugmentOp::*;
    [
        [(Posterize, 0.4, Some(8)), (Rotate, 0.6, Some(9))],
        [(Solarize, 0.6, Some(5)), (AutoContrast, 0.6, None)],
        [(Equalize, 0.8, None), (Equalize, 0.6, None)],
        [(Posterize, 0.6, Some(7)), (Posterize, 0.6, Some(6))],
        [(Equalize, 0.4, None), (Solarize, 0.2, Some(4))],
        [(Equalize, 0.4, None), (Rotate, 0.8, Some(8))],
        [(Solarize, 0.6, Some(3)), (Equalize, 0.6, None)],
        [(Posterize, 0.8, Some(5)), (Equalize, 1.0, None)],
        [(Rotate, 0.2, Some(3)), (Solarize, 0.6, Some(8))],
        [(Equalize, 0.6, None), (Posterize, 0.4, Some(6))],
        [(Rotate, 0.8, Some(8)), (Color, 0.4, Some(0))],
        [(Rotate, 0.4, Some(9)), (Equalize, 0.6, None)],
        [(Equalize, 0.0, None), (Equalize, 0.8, None)],
        [(Invert, 0.6, None), (Equalize, 1.0, None)],
        [(Color, 0.6, Some(4)), (Contrast, 1.0, Some(8))],
        [(Rotate, 0.8, Some(8)), (Color, 1.0, Some(2))],
        [(Color, 0.8, Some(8)), (Solarize, 0.8, Some(7))],
        [(Sharpness, 0.4, Some(7)), (Invert, 0.6, None)],
        [(ShearX, 0.6, Some(5)), (Equalize, 1.0, None)],
        [(Color, 0.4, Some(0)), (Equalize, 0.6, None)],
        [(Equalize, 0.4, None), (Solarize, 0.2, Some(4))],
        [(Solarize, 0.6, Some(5)), (AutoContrast, 0.6, None)],
        [(Invert, 0.6, None), (Equalize, 1.0, None)],
        [(Color, 0.6, Some(4)), (Contrast, 1.0, Some(8))],
        [(Equalize, 0.8, None), (Equalize, 0.6, None)],
    ]
};

/// AutoAugment with the ImageNet policy, as torchvision's `AutoAugment()`: draw one of the 25
/// sub-policies, then run each of its two steps with the step's probability, at the magnitude of
/// its bin (10 bins) with a random sign for signed operations. Geometric operations use nearest
/// interpolation and fill with black.
#[derive(Debug, Clone)]
pub struct AutoAugment {
    interpolation: Interpolation,
    fill: Option<[f32; 3]>,
}

impl AutoAugment {
    /// The ImageNet policy with torchvision's defaults (nearest, black fill).
    pub fn imagenet() -> Self {
        Self {
            interpolation: Interpolation::Nearest,
            fill: None,
        }
    }

    /// Uses `interpolation` and `fill` for the geometric operations.
    pub fn with_geometry(mut self, interpolation: Interpolation, fill: Option<[f32; 3]>) -> Self {
        self.interpolation = interpolation;
        self.fill = fill;
        self
    }
}

impl Transform for AutoAugment {
    fn apply(&self, mut image: RgbImage, rng: &mut AugmentRng) -> RgbImage {
        let policy = &IMAGENET_POLICY[rng.random_range(0..IMAGENET_POLICY.len())];
        let probabilities: [f64; 2] = [rng.random(), rng.random()];
        let negative: [bool; 2] = [rng.random(), rng.random()];
        let (width, height) = (image.width(), image.height());
        for (i, &(op, probability, bin)) in policy.iter().enumerate() {
            if probabilities[i] <= probability {
                let mut magnitude = bin.map_or(0.0, |b| op.magnitude(b, 10, width, height));
                if op.is_signed() && negative[i] {
                    magnitude = -magnitude;
                }
                image = apply_op(image, op, magnitude, self.interpolation, self.fill);
            }
        }
        image
    }
}

/// The operations RandAugment draws from, in torchvision's order (all but `Invert`).
pub const RAND_AUGMENT_OPS: [AugmentOp; 14] = [
    AugmentOp::Identity,
    AugmentOp::ShearX,
    AugmentOp::ShearY,
    AugmentOp::TranslateX,
    AugmentOp::TranslateY,
    AugmentOp::Rotate,
    AugmentOp::Brightness,
    AugmentOp::Color,
    AugmentOp::Contrast,
    AugmentOp::Sharpness,
    AugmentOp::Posterize,
    AugmentOp::Solarize,
    AugmentOp::AutoContrast,
    AugmentOp::Equalize,
];

/// Options of [`RandAugment`] (torchvision's defaults: 2 operations at magnitude 9 of 31 bins).
#[derive(Config, Debug)]
pub struct RandAugmentConfig {
    /// Operations applied per image (N).
    #[config(default = 2)]
    pub num_ops: usize,
    /// Magnitude bin (M), below `num_magnitude_bins`.
    #[config(default = 9)]
    pub magnitude: usize,
    /// Number of magnitude bins.
    #[config(default = 31)]
    pub num_magnitude_bins: usize,
}

impl RandAugmentConfig {
    /// Builds the transform (nearest interpolation, black fill).
    ///
    /// # Panics
    /// When the magnitude is not below the number of bins or there are fewer than 2 bins.
    pub fn init(&self) -> RandAugment {
        assert!(
            self.num_magnitude_bins >= 2 && self.magnitude < self.num_magnitude_bins,
            "RandAugment magnitude {} must be below num_magnitude_bins {} (at least 2)",
            self.magnitude,
            self.num_magnitude_bins
        );
        RandAugment {
            num_ops: self.num_ops,
            magnitude: self.magnitude,
            num_bins: self.num_magnitude_bins,
            interpolation: Interpolation::Nearest,
            fill: None,
        }
    }
}

/// RandAugment (Cubuk et al. 2020), as torchvision's `RandAugment`: `num_ops` times, draw an
/// operation uniformly from [`RAND_AUGMENT_OPS`] and apply it at the fixed magnitude bin, with a
/// random sign for signed operations.
#[derive(Debug, Clone)]
pub struct RandAugment {
    num_ops: usize,
    magnitude: usize,
    num_bins: usize,
    interpolation: Interpolation,
    fill: Option<[f32; 3]>,
}

impl Transform for RandAugment {
    fn apply(&self, mut image: RgbImage, rng: &mut AugmentRng) -> RgbImage {
        for _ in 0..self.num_ops {
            let op = RAND_AUGMENT_OPS[rng.random_range(0..RAND_AUGMENT_OPS.len())];
            let (width, height) = (image.width(), image.height());
            let mut magnitude = op.magnitude(self.magnitude, self.num_bins, width, height);
            if op.is_signed() && rng.random::<bool>() {
                magnitude = -magnitude;
            }
            image = apply_op(image, op, magnitude, self.interpolation, self.fill);
        }
        image
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitude_bins_match_torchvision() {
        // Values of torchvision's _augmentation_space(10, (H, W)), as the reference manifest
        // records them: Solarize bin 4 = float(torch.linspace(255, 0, 10)[4]) = 141.66665649414062.
        assert_eq!(
            AugmentOp::Solarize.magnitude(4, 10, 256, 256),
            141.666_656_494_140_62
        );
        let posterize: Vec<f64> = (0..10)
            .map(|b| AugmentOp::Posterize.magnitude(b, 10, 32, 32))
            .collect();
        assert_eq!(
            posterize,
            [8.0, 8.0, 7.0, 7.0, 6.0, 6.0, 5.0, 5.0, 4.0, 4.0]
        );
        assert!((AugmentOp::Rotate.magnitude(9, 10, 32, 32) - 30.0).abs() < 1e-6);
        assert!((AugmentOp::TranslateX.magnitude(9, 10, 331, 10) - 150.0).abs() < 1e-4);
        assert!((AugmentOp::ShearX.magnitude(9, 31, 32, 32) - 0.09).abs() < 1e-6);
    }

    #[test]
    fn names_round_trip() {
        for op in AugmentOp::ALL {
            assert_eq!(op.name().parse::<AugmentOp>().unwrap(), op);
        }
        assert!("Sheer".parse::<AugmentOp>().is_err());
    }
}
