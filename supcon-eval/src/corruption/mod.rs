//! The ImageNet-C / CIFAR-10-C corruptions (Hendrycks & Dietterich, ICLR 2019), implemented
//! natively: 15 benchmark corruptions and 4 extras, each at severities 1 to 5.
//!
//! ```
//! use image::RgbImage;
//! use supcon_eval::corruption::{corrupt, Corruption, CorruptionContext, Severity};
//!
//! let image = RgbImage::from_pixel(32, 32, image::Rgb([120, 80, 200]));
//! let context = CorruptionContext::cifar();
//! let severity = Severity::new(3)?;
//! let noisy = corrupt(&image, Corruption::GaussianNoise, severity, 7, &context)?;
//! assert_eq!(noisy.dimensions(), (32, 32));
//! // The same seed gives the same image.
//! assert_eq!(noisy, corrupt(&image, Corruption::GaussianNoise, severity, 7, &context)?);
//! # Ok::<(), supcon_eval::corruption::CorruptionError>(())
//! ```

mod blur;
mod buffer;
mod digital;
mod elastic;
mod filter;
mod frost;
mod noise;
mod params;
mod spatter;
mod weather;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use image::RgbImage;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

pub(crate) use digital::encode_jpeg;
pub use frost::{FrostTextures, FROST_FILE_NAMES};
pub use params::CorruptionParams;

/// Errors of the corruption functions.
#[derive(Debug, thiserror::Error)]
pub enum CorruptionError {
    /// A severity outside 1..=5.
    #[error("severity {0} is outside 1..=5")]
    InvalidSeverity(u8),
    /// A name that is not one of the 19 corruptions.
    #[error(
        "unknown corruption `{0}`; expected one of the ImageNet-C folder names \
         (e.g. `gaussian_noise`)"
    )]
    UnknownCorruption(String),
    /// An image with no pixels, or too small for the corruption.
    #[error(
        "a {width}x{height} image is too small for {corruption} \
         (needs at least {minimum}x{minimum})"
    )]
    ImageTooSmall {
        /// The corruption.
        corruption: Corruption,
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
        /// Smallest side that works.
        minimum: u32,
    },
    /// A frost texture that cannot be read.
    #[error("cannot read frost texture {path}: {source}")]
    FrostTexture {
        /// The file.
        path: PathBuf,
        /// The decoding error.
        source: image::ImageError,
    },
    /// A frost texture smaller than the crop the corruption takes from it.
    #[error(
        "frost texture {name} is {width}x{height} after scaling, \
         smaller than the {crop}x{crop} crop"
    )]
    FrostTextureTooSmall {
        /// The texture's file name.
        name: String,
        /// Width after scaling.
        width: usize,
        /// Height after scaling.
        height: usize,
        /// Side of the crop.
        crop: usize,
    },
    /// JPEG encoding or decoding failed.
    #[error("JPEG round trip failed: {0}")]
    Jpeg(#[source] image::ImageError),
}

/// One of the 19 corruptions; the serde and display names are the ImageNet-C folder names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Corruption {
    /// Additive Gaussian noise.
    GaussianNoise,
    /// Poisson (photon) noise.
    ShotNoise,
    /// Salt-and-pepper noise.
    ImpulseNoise,
    /// Blur by an out-of-focus disk.
    DefocusBlur,
    /// Frosted-glass blur (blur, local pixel shuffle, blur).
    GlassBlur,
    /// Camera-shake blur along a random direction.
    MotionBlur,
    /// Blur by zooming towards the centre.
    ZoomBlur,
    /// Falling snow.
    Snow,
    /// Frost on a window (blended texture).
    Frost,
    /// Fog (plasma fractal).
    Fog,
    /// Brightness increase in HSV.
    Brightness,
    /// Contrast decrease.
    Contrast,
    /// Elastic (local) deformation.
    ElasticTransform,
    /// Down- and up-sampling.
    Pixelate,
    /// JPEG artefacts.
    JpegCompression,
    /// Multiplicative noise (extra, not in mCE).
    SpeckleNoise,
    /// Gaussian blur (extra, not in mCE).
    GaussianBlur,
    /// Water or mud drops (extra, not in mCE).
    Spatter,
    /// Saturation change (extra, not in mCE).
    Saturate,
}

impl Corruption {
    /// The 15 corruptions of the benchmark (averaged by mCE), in the benchmark's order.
    pub const BENCHMARK: [Corruption; 15] = [
        Corruption::GaussianNoise,
        Corruption::ShotNoise,
        Corruption::ImpulseNoise,
        Corruption::DefocusBlur,
        Corruption::GlassBlur,
        Corruption::MotionBlur,
        Corruption::ZoomBlur,
        Corruption::Snow,
        Corruption::Frost,
        Corruption::Fog,
        Corruption::Brightness,
        Corruption::Contrast,
        Corruption::ElasticTransform,
        Corruption::Pixelate,
        Corruption::JpegCompression,
    ];

    /// The 4 extra corruptions (held out of mCE).
    pub const EXTRA: [Corruption; 4] = [
        Corruption::SpeckleNoise,
        Corruption::GaussianBlur,
        Corruption::Spatter,
        Corruption::Saturate,
    ];

    /// All 19: the benchmark ones, then the extras.
    pub const ALL: [Corruption; 19] = [
        Corruption::GaussianNoise,
        Corruption::ShotNoise,
        Corruption::ImpulseNoise,
        Corruption::DefocusBlur,
        Corruption::GlassBlur,
        Corruption::MotionBlur,
        Corruption::ZoomBlur,
        Corruption::Snow,
        Corruption::Frost,
        Corruption::Fog,
        Corruption::Brightness,
        Corruption::Contrast,
        Corruption::ElasticTransform,
        Corruption::Pixelate,
        Corruption::JpegCompression,
        Corruption::SpeckleNoise,
        Corruption::GaussianBlur,
        Corruption::Spatter,
        Corruption::Saturate,
    ];

    /// The ImageNet-C folder name, e.g. `gaussian_noise`.
    pub fn name(self) -> &'static str {
        match self {
            Corruption::GaussianNoise => "gaussian_noise",
            Corruption::ShotNoise => "shot_noise",
            Corruption::ImpulseNoise => "impulse_noise",
            Corruption::DefocusBlur => "defocus_blur",
            Corruption::GlassBlur => "glass_blur",
            Corruption::MotionBlur => "motion_blur",
            Corruption::ZoomBlur => "zoom_blur",
            Corruption::Snow => "snow",
            Corruption::Frost => "frost",
            Corruption::Fog => "fog",
            Corruption::Brightness => "brightness",
            Corruption::Contrast => "contrast",
            Corruption::ElasticTransform => "elastic_transform",
            Corruption::Pixelate => "pixelate",
            Corruption::JpegCompression => "jpeg_compression",
            Corruption::SpeckleNoise => "speckle_noise",
            Corruption::GaussianBlur => "gaussian_blur",
            Corruption::Spatter => "spatter",
            Corruption::Saturate => "saturate",
        }
    }

    /// Whether mCE averages this corruption (the 15 benchmark ones).
    pub fn is_benchmark(self) -> bool {
        !Self::EXTRA.contains(&self)
    }

    /// Whether the output depends on the seed (false for the 8 deterministic corruptions).
    pub fn is_random(self) -> bool {
        !matches!(
            self,
            Corruption::DefocusBlur
                | Corruption::ZoomBlur
                | Corruption::GaussianBlur
                | Corruption::Brightness
                | Corruption::Contrast
                | Corruption::Saturate
                | Corruption::Pixelate
                | Corruption::JpegCompression
        )
    }

    /// Position in [`Corruption::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Corruption {
    type Err = CorruptionError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Corruption::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| CorruptionError::UnknownCorruption(name.to_string()))
    }
}

/// A severity level, 1 (mildest) to 5; serialises as the number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Severity(u8);

impl Severity {
    /// Severities 1 to 5.
    pub const ALL: [Severity; 5] = [
        Severity(1),
        Severity(2),
        Severity(3),
        Severity(4),
        Severity(5),
    ];

    /// # Errors
    /// [`CorruptionError::InvalidSeverity`] outside 1..=5.
    pub fn new(level: u8) -> Result<Self, CorruptionError> {
        if (1..=5).contains(&level) {
            Ok(Severity(level))
        } else {
            Err(CorruptionError::InvalidSeverity(level))
        }
    }

    /// The level, 1 to 5.
    pub fn get(self) -> u8 {
        self.0
    }

    /// The level minus one, 0 to 4.
    pub fn index(self) -> usize {
        usize::from(self.0 - 1)
    }
}

impl TryFrom<u8> for Severity {
    type Error = CorruptionError;

    fn try_from(level: u8) -> Result<Self, Self::Error> {
        Severity::new(level)
    }
}

impl From<Severity> for u8 {
    fn from(severity: Severity) -> u8 {
        severity.0
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which published parameter set to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Resolution {
    /// ImageNet-C: images are brought to 224x224 (shorter side resized to 256, centre crop
    /// 224) before corrupting.
    ImageNet224,
    /// CIFAR-10-C: parameters for 32x32 images; images are corrupted at their own size.
    Cifar32,
}

/// What a corruption needs besides the image: the parameter set and the frost textures.
#[derive(Clone, Debug)]
pub struct CorruptionContext {
    /// The parameter set.
    pub resolution: Resolution,
    /// The benchmark's frost textures; `None` falls back to a procedural texture, and results
    /// of [`Corruption::Frost`] are then approximate.
    pub frost: Option<FrostTextures>,
}

impl CorruptionContext {
    /// ImageNet-C parameters, procedural frost.
    pub fn imagenet() -> Self {
        Self {
            resolution: Resolution::ImageNet224,
            frost: None,
        }
    }

    /// CIFAR-10-C parameters, procedural frost.
    pub fn cifar() -> Self {
        Self {
            resolution: Resolution::Cifar32,
            frost: None,
        }
    }

    /// Uses the benchmark's frost textures.
    pub fn with_frost(mut self, textures: FrostTextures) -> Self {
        self.frost = Some(textures);
        self
    }

    /// Whether `corruption` departs from the benchmark in this context: true only for frost
    /// without the benchmark's textures.
    pub fn is_approximate(&self, corruption: Corruption) -> bool {
        corruption == Corruption::Frost && self.frost.is_none()
    }

    /// The parameters of `corruption` at `severity` in this context.
    pub fn params(&self, corruption: Corruption, severity: Severity) -> CorruptionParams {
        CorruptionParams::new(corruption, severity, self.resolution)
    }
}

/// The seed of the random stream of one (seed, corruption, severity): splitmix64 finalisation
/// of the three, so that neighbouring seeds and cells draw unrelated noise.
pub(crate) fn cell_rng(seed: u64, corruption: Corruption, severity: Severity) -> StdRng {
    let mut z = seed
        ^ (corruption.index() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(severity.get()).wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    StdRng::seed_from_u64(z ^ (z >> 31))
}

/// Brings an image to the benchmark's 224x224 input: the shorter side resized to 256 with
/// Pillow's antialiased bilinear filter, then the central 224x224 crop (torchvision's
/// `Resize(256)` and `CenterCrop(224)`). A 224x224 image is returned unchanged.
pub fn imagenet_crop(image: &RgbImage) -> RgbImage {
    const RESIZE: u32 = 256;
    const CROP: u32 = 224;
    let (width, height) = image.dimensions();
    if (width, height) == (CROP, CROP) {
        return image.clone();
    }
    // torchvision: the long side becomes int(256 * long / short).
    let (new_width, new_height) = if width <= height {
        (
            RESIZE,
            (RESIZE as u64 * height as u64 / width as u64) as u32,
        )
    } else {
        (
            (RESIZE as u64 * width as u64 / height as u64) as u32,
            RESIZE,
        )
    };
    let resized = filter::pil_resize(image, new_width, new_height, filter::PilFilter::Bilinear);
    let left = filter::round_half_even(f64::from(new_width - CROP) / 2.0) as u32;
    let top = filter::round_half_even(f64::from(new_height - CROP) / 2.0) as u32;
    image::imageops::crop_imm(&resized, left, top, CROP, CROP).to_image()
}

/// Applies `corruption` at `severity` to `image`, with the parameters and frost textures of
/// `context`. Random corruptions draw from a generator seeded by (`seed`, corruption,
/// severity): the same arguments give the same image.
///
/// On the ImageNet path an image that is not 224x224 is first brought to 224x224 with
/// [`imagenet_crop`]; the CIFAR path corrupts the image at its own size. The output has the
/// size of the (cropped) input.
///
/// # Errors
/// [`CorruptionError::ImageTooSmall`] for an image with a side below 4 pixels (below
/// `2 * max_delta + 2` for glass blur), [`CorruptionError::FrostTextureTooSmall`] when a frost
/// texture is smaller than the image, [`CorruptionError::Jpeg`] if the JPEG codec fails.
pub fn corrupt(
    image: &RgbImage,
    corruption: Corruption,
    severity: Severity,
    seed: u64,
    context: &CorruptionContext,
) -> Result<RgbImage, CorruptionError> {
    let cropped;
    let image = if context.resolution == Resolution::ImageNet224 && image.dimensions() != (224, 224)
    {
        cropped = imagenet_crop(image);
        &cropped
    } else {
        image
    };
    let (width, height) = image.dimensions();
    if width.min(height) < 4 {
        return Err(CorruptionError::ImageTooSmall {
            corruption,
            width,
            height,
            minimum: 4,
        });
    }

    let mut rng = cell_rng(seed, corruption, severity);
    let params = context.params(corruption, severity);
    use CorruptionParams as P;
    let output = match params {
        P::GaussianNoise { std } => noise::gaussian_noise(image, std, &mut rng),
        P::ShotNoise { rate } => noise::shot_noise(image, rate, &mut rng),
        P::ImpulseNoise { amount } => noise::impulse_noise(image, amount, &mut rng),
        P::SpeckleNoise { std } => noise::speckle_noise(image, std, &mut rng),
        P::DefocusBlur {
            radius,
            alias_sigma,
        } => blur::defocus_blur(image, radius, alias_sigma),
        P::GlassBlur {
            sigma,
            max_delta,
            iterations,
        } => {
            let minimum = 2 * max_delta as u32 + 2;
            if width.min(height) < minimum {
                return Err(CorruptionError::ImageTooSmall {
                    corruption,
                    width,
                    height,
                    minimum,
                });
            }
            blur::glass_blur(image, sigma, max_delta, iterations, &mut rng)
        }
        P::MotionBlur { radius, sigma } => blur::motion_blur(image, radius, sigma, &mut rng),
        P::ZoomBlur { step, count } => blur::zoom_blur(image, step, count),
        P::GaussianBlur { sigma } => blur::gaussian_blur(image, sigma),
        P::Snow { .. } => weather::snow(image, &params, &mut rng),
        P::Frost {
            image_weight,
            frost_weight,
            texture_scale,
        } => frost::frost(
            image,
            image_weight,
            frost_weight,
            texture_scale,
            context.frost.as_ref(),
            &mut rng,
        )?,
        P::Fog {
            strength,
            wibble_decay,
        } => weather::fog(image, strength, wibble_decay, &mut rng),
        P::Brightness { delta } => digital::brightness(image, delta),
        P::Contrast { factor } => digital::contrast(image, factor),
        P::Saturate { scale, offset } => digital::saturate(image, scale, offset),
        P::ElasticTransform {
            alpha,
            sigma,
            affine,
        } => elastic::elastic_transform(image, alpha, sigma, affine, &mut rng),
        P::Pixelate { factor } => digital::pixelate(image, factor),
        P::JpegCompression { quality } => digital::jpeg_compression(image, quality)?,
        P::Spatter { .. } => spatter::spatter(image, &params, &mut rng),
    };
    debug_assert_eq!(output.dimensions(), image.dimensions());
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_lists_partition() {
        for c in Corruption::ALL {
            assert_eq!(c.name().parse::<Corruption>().unwrap(), c);
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.name())
            );
            assert_eq!(Corruption::ALL[c.index()], c);
            assert_eq!(c.is_benchmark(), Corruption::BENCHMARK.contains(&c));
        }
        assert!("fog2".parse::<Corruption>().is_err());
    }

    #[test]
    fn severity_is_validated_everywhere() {
        assert!(Severity::new(0).is_err());
        assert!(Severity::new(6).is_err());
        assert_eq!(Severity::new(5).unwrap().index(), 4);
        assert!(serde_json::from_str::<Severity>("7").is_err());
        assert_eq!(
            serde_json::from_str::<Severity>("2").unwrap(),
            Severity::new(2).unwrap()
        );
    }

    #[test]
    fn imagenet_crop_resizes_shorter_side_then_crops_centre() {
        // A 300x512 image: 256x436 after the resize, a 224x224 centre crop.
        let image = RgbImage::from_fn(300, 512, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
        });
        let out = imagenet_crop(&image);
        assert_eq!(out.dimensions(), (224, 224));
        assert_eq!(out.get_pixel(0, 0)[2], 7);
    }

    #[test]
    fn tiny_images_are_rejected_with_the_size() {
        let image = RgbImage::new(3, 3);
        let err = corrupt(
            &image,
            Corruption::Fog,
            Severity::ALL[0],
            0,
            &CorruptionContext::cifar(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("3x3"), "{err}");
    }
}
