//! The published parameters of every corruption at every severity, for 224 px ImageNet-C and
//! 32 px CIFAR-10-C.

use serde::{Deserialize, Serialize};

use super::{Corruption, Resolution, Severity};

/// The parameters of one corruption at one severity, as the benchmark's generation scripts
/// set them. Values are on the scale the algorithm uses: pixel values in [0, 1] unless a field
/// says grey levels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "corruption", rename_all = "snake_case")]
pub enum CorruptionParams {
    /// `clip(x + N(0, std))` per element.
    GaussianNoise {
        /// Standard deviation of the additive noise.
        std: f64,
    },
    /// `clip(Poisson(x * rate) / rate)` per element.
    ShotNoise {
        /// Photon count of a white pixel (smaller is noisier).
        rate: f64,
    },
    /// Salt and pepper: a fraction `amount` of the elements set to 0 or 1 with equal odds.
    ImpulseNoise {
        /// Fraction of elements replaced.
        amount: f64,
    },
    /// `clip(x + x * N(0, std))` per element.
    SpeckleNoise {
        /// Standard deviation of the multiplicative noise.
        std: f64,
    },
    /// Convolution with an anti-aliased disk.
    DefocusBlur {
        /// Disk radius in pixels.
        radius: f64,
        /// Sigma of the 3x3 (5x5 beyond radius 8) Gaussian that smooths the disk.
        alias_sigma: f64,
    },
    /// Gaussian blur, local pixel shuffling, Gaussian blur.
    GlassBlur {
        /// Sigma of both Gaussian blurs.
        sigma: f64,
        /// Largest displacement of the shuffle, in pixels.
        max_delta: usize,
        /// Number of shuffle passes.
        iterations: usize,
    },
    /// ImageMagick's one-sided motion blur at a random angle in [-45, 45) degrees.
    MotionBlur {
        /// Kernel radius in pixels (the kernel has `2 ceil(radius) + 1` taps).
        radius: f64,
        /// Sigma of the kernel's Gaussian falloff.
        sigma: f64,
    },
    /// Average of the image with centre zooms `1 + i * step`, i = 0..count.
    ZoomBlur {
        /// Step between zoom factors.
        step: f64,
        /// Number of zoom factors (the first is 1, so the original counts twice).
        count: usize,
    },
    /// `skimage.filters.gaussian` with this sigma.
    GaussianBlur {
        /// Standard deviation in pixels.
        sigma: f64,
    },
    /// A thresholded, zoomed, motion-blurred noise layer added with its 180-degree rotation.
    Snow {
        /// Mean of the snow noise.
        mean: f64,
        /// Standard deviation of the snow noise.
        std: f64,
        /// Zoom applied to the noise layer.
        zoom: f64,
        /// Noise values below this are cleared.
        threshold: f64,
        /// Motion-blur radius of the flakes.
        blur_radius: f64,
        /// Motion-blur sigma of the flakes.
        blur_sigma: f64,
        /// Weight of the image against its whitened copy.
        blend: f64,
    },
    /// `clip(image_weight * x + frost_weight * frost)` in grey levels.
    Frost {
        /// Weight of the image.
        image_weight: f64,
        /// Weight of the frost texture.
        frost_weight: f64,
        /// Scale applied to the frost textures before cropping (0.2 for 32 px).
        texture_scale: f64,
    },
    /// Plasma-fractal fog.
    Fog {
        /// Weight of the fog layer.
        strength: f64,
        /// Factor dividing the fractal's roughness at each level.
        wibble_decay: f64,
    },
    /// HSV value shift: `V = clip(V + delta)`.
    Brightness {
        /// Added to the value channel.
        delta: f64,
    },
    /// `(x - mean) * factor + mean` per channel.
    Contrast {
        /// Contrast factor.
        factor: f64,
    },
    /// HSV saturation change: `S = clip(S * scale + offset)`.
    Saturate {
        /// Multiplies the saturation.
        scale: f64,
        /// Added to the saturation.
        offset: f64,
    },
    /// Random affine warp followed by a smoothed random displacement field.
    ElasticTransform {
        /// Displacement scale in pixels.
        alpha: f64,
        /// Smoothing sigma of the displacement field.
        sigma: f64,
        /// Largest jitter of the affine control points, in pixels.
        affine: f64,
    },
    /// Box-filter down-sampling to `side` pixels and back.
    Pixelate {
        /// Size factor.
        factor: f64,
    },
    /// JPEG encoding and decoding.
    JpegCompression {
        /// JPEG quality (1-100).
        quality: u8,
    },
    /// Water (`mud == false`) or mud drops.
    Spatter {
        /// Mean of the liquid noise.
        mean: f64,
        /// Standard deviation of the liquid noise.
        std: f64,
        /// Smoothing sigma of the liquid noise.
        sigma: f64,
        /// Liquid values below this are cleared.
        threshold: f64,
        /// Water: strength of the tint; mud: sigma of the mud mask blur.
        intensity: f64,
        /// Mud instead of water.
        mud: bool,
    },
}

impl CorruptionParams {
    /// The parameters the benchmark uses for `corruption` at `severity` and `resolution`.
    pub fn new(corruption: Corruption, severity: Severity, resolution: Resolution) -> Self {
        let s = severity.index();
        let imagenet = resolution == Resolution::ImageNet224;
        let pick = |imagenet_values: [f64; 5], cifar_values: [f64; 5]| {
            if imagenet {
                imagenet_values[s]
            } else {
                cifar_values[s]
            }
        };
        match corruption {
            Corruption::GaussianNoise => Self::GaussianNoise {
                std: pick(
                    [0.08, 0.12, 0.18, 0.26, 0.38],
                    [0.04, 0.06, 0.08, 0.09, 0.10],
                ),
            },
            Corruption::ShotNoise => Self::ShotNoise {
                rate: pick(
                    [60.0, 25.0, 12.0, 5.0, 3.0],
                    [500.0, 250.0, 100.0, 75.0, 50.0],
                ),
            },
            Corruption::ImpulseNoise => Self::ImpulseNoise {
                amount: pick(
                    [0.03, 0.06, 0.09, 0.17, 0.27],
                    [0.01, 0.02, 0.03, 0.05, 0.07],
                ),
            },
            Corruption::SpeckleNoise => Self::SpeckleNoise {
                std: pick([0.15, 0.2, 0.35, 0.45, 0.6], [0.06, 0.1, 0.12, 0.16, 0.2]),
            },
            Corruption::DefocusBlur => {
                let (radius, alias_sigma) = if imagenet {
                    [(3.0, 0.1), (4.0, 0.5), (6.0, 0.5), (8.0, 0.5), (10.0, 0.5)][s]
                } else {
                    [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1.0, 0.2), (1.5, 0.1)][s]
                };
                Self::DefocusBlur {
                    radius,
                    alias_sigma,
                }
            }
            Corruption::GlassBlur => {
                let (sigma, max_delta, iterations) = if imagenet {
                    [
                        (0.7, 1, 2),
                        (0.9, 2, 1),
                        (1.0, 2, 3),
                        (1.1, 3, 2),
                        (1.5, 4, 2),
                    ][s]
                } else {
                    [
                        (0.05, 1, 1),
                        (0.25, 1, 1),
                        (0.4, 1, 1),
                        (0.25, 1, 2),
                        (0.4, 1, 2),
                    ][s]
                };
                Self::GlassBlur {
                    sigma,
                    max_delta,
                    iterations,
                }
            }
            Corruption::MotionBlur => {
                let (radius, sigma) = if imagenet {
                    [
                        (10.0, 3.0),
                        (15.0, 5.0),
                        (15.0, 8.0),
                        (15.0, 12.0),
                        (20.0, 15.0),
                    ][s]
                } else {
                    [(6.0, 1.0), (6.0, 1.5), (6.0, 2.0), (8.0, 2.0), (9.0, 2.5)][s]
                };
                Self::MotionBlur { radius, sigma }
            }
            Corruption::ZoomBlur => {
                // Lengths of the reference's `np.arange(1, stop, step)` lists, float rounding
                // included (1.11 is reached at ImageNet severity 1).
                let (step, count) = if imagenet {
                    [(0.01, 12), (0.01, 16), (0.02, 11), (0.02, 13), (0.03, 11)][s]
                } else {
                    [(0.01, 7), (0.01, 12), (0.01, 16), (0.01, 21), (0.01, 26)][s]
                };
                Self::ZoomBlur { step, count }
            }
            Corruption::GaussianBlur => Self::GaussianBlur {
                sigma: pick([1.0, 2.0, 3.0, 4.0, 6.0], [0.4, 0.6, 0.7, 0.8, 1.0]),
            },
            Corruption::Snow => {
                let (mean, std, zoom, threshold, blur_radius, blur_sigma, blend) = if imagenet {
                    [
                        (0.1, 0.3, 3.0, 0.5, 10.0, 4.0, 0.8),
                        (0.2, 0.3, 2.0, 0.5, 12.0, 4.0, 0.7),
                        (0.55, 0.3, 4.0, 0.9, 12.0, 8.0, 0.7),
                        (0.55, 0.3, 4.5, 0.85, 12.0, 8.0, 0.65),
                        (0.55, 0.3, 2.5, 0.85, 12.0, 12.0, 0.55),
                    ][s]
                } else {
                    [
                        (0.1, 0.2, 1.0, 0.6, 8.0, 3.0, 0.95),
                        (0.1, 0.2, 1.0, 0.5, 10.0, 4.0, 0.9),
                        (0.15, 0.3, 1.75, 0.55, 10.0, 4.0, 0.9),
                        (0.25, 0.3, 2.25, 0.6, 12.0, 6.0, 0.85),
                        (0.3, 0.3, 1.25, 0.65, 14.0, 12.0, 0.8),
                    ][s]
                };
                Self::Snow {
                    mean,
                    std,
                    zoom,
                    threshold,
                    blur_radius,
                    blur_sigma,
                    blend,
                }
            }
            Corruption::Frost => {
                let (image_weight, frost_weight) = if imagenet {
                    [(1.0, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)][s]
                } else {
                    [
                        (1.0, 0.2),
                        (1.0, 0.3),
                        (0.9, 0.4),
                        (0.85, 0.4),
                        (0.75, 0.45),
                    ][s]
                };
                let texture_scale = if imagenet { 1.0 } else { 0.2 };
                Self::Frost {
                    image_weight,
                    frost_weight,
                    texture_scale,
                }
            }
            Corruption::Fog => {
                let (strength, wibble_decay) = if imagenet {
                    [(1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)][s]
                } else {
                    [(0.2, 3.0), (0.5, 3.0), (0.75, 2.5), (1.0, 2.0), (1.5, 1.75)][s]
                };
                Self::Fog {
                    strength,
                    wibble_decay,
                }
            }
            Corruption::Brightness => Self::Brightness {
                delta: pick([0.1, 0.2, 0.3, 0.4, 0.5], [0.05, 0.1, 0.15, 0.2, 0.3]),
            },
            Corruption::Contrast => Self::Contrast {
                factor: pick([0.4, 0.3, 0.2, 0.1, 0.05], [0.75, 0.5, 0.4, 0.3, 0.15]),
            },
            Corruption::Saturate => {
                let (scale, offset) = if imagenet {
                    [(0.3, 0.0), (0.1, 0.0), (2.0, 0.0), (5.0, 0.1), (20.0, 0.2)][s]
                } else {
                    [(0.3, 0.0), (0.1, 0.0), (1.5, 0.0), (2.0, 0.1), (2.5, 0.2)][s]
                };
                Self::Saturate { scale, offset }
            }
            Corruption::ElasticTransform => {
                // NOTE: the ImageNet values are 244 (not 224) times the published fractions,
                // as in the reference code that generated ImageNet-C.
                let (alpha, sigma, affine) = if imagenet {
                    let f = [
                        (2.0, 0.7, 0.1),
                        (2.0, 0.08, 0.2),
                        (0.05, 0.01, 0.02),
                        (0.07, 0.01, 0.02),
                        (0.12, 0.01, 0.02),
                    ][s];
                    (244.0 * f.0, 244.0 * f.1, 244.0 * f.2)
                } else {
                    let f = [
                        (0.0, 0.0, 0.08),
                        (0.05, 0.2, 0.07),
                        (0.08, 0.06, 0.06),
                        (0.1, 0.04, 0.05),
                        (0.1, 0.03, 0.03),
                    ][s];
                    (32.0 * f.0, 32.0 * f.1, 32.0 * f.2)
                };
                Self::ElasticTransform {
                    alpha,
                    sigma,
                    affine,
                }
            }
            Corruption::Pixelate => Self::Pixelate {
                factor: pick([0.6, 0.5, 0.4, 0.3, 0.25], [0.95, 0.9, 0.85, 0.75, 0.65]),
            },
            Corruption::JpegCompression => Self::JpegCompression {
                quality: if imagenet {
                    [25, 18, 15, 10, 7][s]
                } else {
                    [80, 65, 58, 50, 40][s]
                },
            },
            Corruption::Spatter => {
                let (mean, std, sigma, threshold, intensity, mode) = if imagenet {
                    [
                        (0.65, 0.3, 4.0, 0.69, 0.6, 0),
                        (0.65, 0.3, 3.0, 0.68, 0.6, 0),
                        (0.65, 0.3, 2.0, 0.68, 0.5, 0),
                        (0.65, 0.3, 1.0, 0.65, 1.5, 1),
                        (0.67, 0.4, 1.0, 0.65, 1.5, 1),
                    ][s]
                } else {
                    [
                        (0.62, 0.1, 0.7, 0.7, 0.5, 0),
                        (0.65, 0.1, 0.8, 0.7, 0.5, 0),
                        (0.65, 0.3, 1.0, 0.69, 0.5, 0),
                        (0.65, 0.1, 0.7, 0.69, 0.6, 1),
                        (0.65, 0.1, 0.5, 0.68, 0.6, 1),
                    ][s]
                };
                Self::Spatter {
                    mean,
                    std,
                    sigma,
                    threshold,
                    intensity,
                    mud: mode == 1,
                }
            }
        }
    }
}
