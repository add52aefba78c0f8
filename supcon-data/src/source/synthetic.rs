//! A built-in synthetic dataset: procedurally drawn shapes on textured backgrounds.
//!
//! Each class is a shape family (disk, square, triangle, ring, cross, star, crescent, hexagon,
//! dumbbell, L). Everything else varies at random and carries no class information: the hue,
//! saturation and brightness of the foreground and background, position, scale, rotation, a
//! mild stretch, shading, a background grating and gradient, a distracting stroke of any colour,
//! and pixel noise. So colour, position and orientation cues are useless; the class is the
//! outline, which a small CNN learns and which survives SupCon's crops, flips, colour jitter and
//! greyscale.
//!
//! One regularity is kept on purpose: the shape is lit, brighter than its background, and the
//! colours are muted (saturation below [`MAX_SATURATION`]), as objects under a light often are.
//! With fully random colours and polarity, a randomly initialised encoder's features carry no
//! class signal at all (same-class and cross-class cosine similarities are equal), and SupCon
//! then collapses every embedding to one point within the first epoch, a fixed point it never
//! leaves; the cross-entropy loss has no such fixed point. With lit, muted shapes the SupCon
//! loss leaves the collapse value after a few epochs and a linear probe on the encoder reaches
//! over 90% on 5 classes.
//!
//! Images are drawn in [`Dataset::get`] from a seed derived from (dataset seed, split, index),
//! so nothing is stored and a dataset of any size opens instantly; drawing one 32 px image takes
//! a few microseconds.

use std::f32::consts::{PI, TAU};

use burn::config::Config;
use burn::data::dataset::{Dataset, DatasetError};
use image::RgbImage;
use rand::RngExt;
use rand_distr::StandardNormal;

use crate::augment::color::hsv_to_rgb;
use crate::seed::{mix_seed, rng_from_seed, AugmentRng};
use crate::{DataError, ImageSource, LabeledImage, Split};

/// The shape families, one per class, in label order.
pub const SYNTHETIC_CLASSES: [&str; 10] = [
    "disk", "square", "triangle", "ring", "cross", "star", "crescent", "hexagon", "dumbbell", "ell",
];

/// Options of a [`SyntheticDataset`].
#[derive(Config, Debug)]
pub struct SyntheticConfig {
    /// Number of classes, 2 to 10 (the first shape families of [`SYNTHETIC_CLASSES`]).
    #[config(default = 10)]
    pub num_classes: usize,
    /// Samples of each class in each split.
    #[config(default = 500)]
    pub samples_per_class: usize,
    /// Side of the square images in pixels (at least 8).
    #[config(default = 32)]
    pub image_size: u32,
    /// Seed of the dataset; the train and test splits derive distinct seeds from it.
    #[config(default = 0)]
    pub seed: u64,
}

impl SyntheticConfig {
    /// Opens one split.
    ///
    /// # Errors
    /// [`DataError::InvalidConfig`] when a field is outside its documented range.
    pub fn init(&self, split: Split) -> Result<SyntheticDataset, DataError> {
        SyntheticDataset::new(self.clone(), split)
    }
}

/// The synthetic dataset: `num_classes * samples_per_class` images per split; sample `i` has
/// label `i % num_classes`.
#[derive(Debug, Clone)]
pub struct SyntheticDataset {
    config: SyntheticConfig,
    split_seed: u64,
    class_names: Vec<String>,
}

impl SyntheticDataset {
    /// Opens one split of the dataset described by `config`.
    ///
    /// # Errors
    /// [`DataError::InvalidConfig`] when a field is outside its documented range.
    pub fn new(config: SyntheticConfig, split: Split) -> Result<Self, DataError> {
        if !(2..=SYNTHETIC_CLASSES.len()).contains(&config.num_classes) {
            return Err(DataError::InvalidConfig(format!(
                "synthetic num_classes must be 2..={}, got {}",
                SYNTHETIC_CLASSES.len(),
                config.num_classes
            )));
        }
        if config.image_size < 8 {
            return Err(DataError::InvalidConfig(format!(
                "synthetic image_size must be at least 8, got {}",
                config.image_size
            )));
        }
        if config.samples_per_class == 0 {
            return Err(DataError::InvalidConfig(
                "synthetic samples_per_class is 0".into(),
            ));
        }
        let split_tag = match split {
            Split::Train => 0x0074_7261_696e,
            Split::Test => 0x7465_7374,
        };
        let split_seed = mix_seed(&[config.seed, split_tag]);
        let class_names = SYNTHETIC_CLASSES[..config.num_classes]
            .iter()
            .map(|s| s.to_string())
            .collect();
        Ok(Self {
            config,
            split_seed,
            class_names,
        })
    }

    /// Draws sample `index`.
    ///
    /// # Panics
    /// When `index >= len()`.
    pub fn draw(&self, index: usize) -> LabeledImage {
        assert!(
            index < self.len(),
            "synthetic index {index} out of range 0..{}",
            self.len()
        );
        let label = index % self.config.num_classes;
        let mut rng = rng_from_seed(mix_seed(&[self.split_seed, index as u64]));
        let image = draw_image(self.config.image_size, label, &mut rng);
        LabeledImage { image, label }
    }
}

impl Dataset<LabeledImage> for SyntheticDataset {
    fn get(&self, index: usize) -> Result<LabeledImage, DatasetError> {
        Ok(self.draw(index))
    }

    fn len(&self) -> usize {
        self.config.num_classes * self.config.samples_per_class
    }
}

impl ImageSource for SyntheticDataset {
    fn class_names(&self) -> &[String] {
        &self.class_names
    }
}

/// Signed distance (negative inside) from `(x, y)` to shape `class`, in units of the shape
/// radius.
fn shape_distance(class: usize, x: f32, y: f32) -> f32 {
    match class {
        0 => length(x, y) - 0.9,
        1 => box_distance(x, y, 0.75, 0.75),
        2 => triangle_distance(x, y, 0.95),
        3 => (length(x, y) - 0.68).abs() - 0.24,
        4 => box_distance(x, y, 0.95, 0.3).min(box_distance(x, y, 0.3, 0.95)),
        5 => {
            // Five points: the boundary radius falls linearly from 1 at a point to 0.42 midway.
            let angle = y.atan2(x);
            let phase = (angle * 5.0 / TAU).rem_euclid(1.0);
            let spike = (phase - 0.5).abs() * 2.0;
            (length(x, y) - (0.42 + 0.58 * spike)) * 0.7
        }
        6 => (length(x, y) - 0.9).max(0.72 - length(x - 0.5, y)),
        7 => {
            let (ax, ay) = (x.abs(), y.abs());
            (ax * 0.866_025_4 + ay * 0.5).max(ay) - 0.82
        }
        8 => (length(x - 0.52, y) - 0.42)
            .min(length(x + 0.52, y) - 0.42)
            .min(box_distance(x, y, 0.5, 0.12)),
        _ => box_distance(x + 0.4, y, 0.25, 0.9).min(box_distance(x - 0.1, y - 0.65, 0.75, 0.25)),
    }
}

fn length(x: f32, y: f32) -> f32 {
    (x * x + y * y).sqrt()
}

/// Signed distance to an axis-aligned box of half-sizes `(half_width, half_height)`.
fn box_distance(x: f32, y: f32, half_width: f32, half_height: f32) -> f32 {
    let qx = x.abs() - half_width;
    let qy = y.abs() - half_height;
    length(qx.max(0.0), qy.max(0.0)) + qx.max(qy).min(0.0)
}

/// Signed distance to an equilateral triangle of half-side `r`, centred, pointing up (-y).
fn triangle_distance(x: f32, y: f32, r: f32) -> f32 {
    let k = 3f32.sqrt();
    let mut px = x.abs() - r;
    let mut py = -y + r / k;
    if px + k * py > 0.0 {
        (px, py) = ((px - k * py) * 0.5, (-k * px - py) * 0.5);
    }
    px -= px.clamp(-2.0 * r, 0.0);
    -length(px, py) * py.signum()
}

/// Distance to the segment from `a` to `b`.
fn segment_distance(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (pax, pay) = (p.0 - a.0, p.1 - a.1);
    let (bax, bay) = (b.0 - a.0, b.1 - a.1);
    let t = ((pax * bax + pay * bay) / (bax * bax + bay * bay).max(1e-6)).clamp(0.0, 1.0);
    length(pax - bax * t, pay - bay * t)
}

/// Largest saturation (HSV) of the background and foreground colours.
pub const MAX_SATURATION: f32 = 0.35;
/// Range of the background's brightness (HSV value).
const BACKGROUND_VALUE: std::ops::Range<f32> = 0.10..0.35;
/// Range of the foreground's brightness (HSV value), above every background.
const FOREGROUND_VALUE: std::ops::Range<f32> = 0.65..0.90;
const _: () = assert!(BACKGROUND_VALUE.end < FOREGROUND_VALUE.start);

fn random_colour(rng: &mut AugmentRng) -> [f32; 3] {
    [
        rng.random::<f32>(),
        rng.random::<f32>(),
        rng.random::<f32>(),
    ]
}

/// A colour of uniformly random hue, saturation below [`MAX_SATURATION`] and brightness in
/// `value`.
fn muted_colour(rng: &mut AugmentRng, value: std::ops::Range<f32>) -> [f32; 3] {
    let hue = rng.random::<f32>();
    let saturation = rng.random_range(0.0..MAX_SATURATION);
    let value = rng.random_range(value);
    hsv_to_rgb(hue, saturation, value)
}

/// Draws one image of class `class` with all nuisance factors taken from `rng`.
fn draw_image(size: u32, class: usize, rng: &mut AugmentRng) -> RgbImage {
    let side = size as f32;

    // Background: a dim colour, blended towards a second one by a sinusoidal grating, plus a
    // linear brightness gradient.
    let background = muted_colour(rng, BACKGROUND_VALUE);
    let background_alt = muted_colour(rng, BACKGROUND_VALUE);
    let grating_amount = rng.random_range(0.0..0.6f32);
    let grating_frequency = rng.random_range(1.0..5.0f32) * TAU / side;
    let grating_angle = rng.random_range(0.0..PI);
    let grating_phase = rng.random_range(0.0..TAU);
    let (grating_dx, grating_dy) = (grating_angle.cos(), grating_angle.sin());
    let gradient_amount = rng.random_range(0.0..0.35f32) / side;
    let gradient_angle = rng.random_range(0.0..TAU);
    let (gradient_dx, gradient_dy) = (gradient_angle.cos(), gradient_angle.sin());

    // Foreground: a bright colour, so it always stands out from the background.
    let foreground = muted_colour(rng, FOREGROUND_VALUE);
    let shading = rng.random_range(-0.25..0.25f32);

    // Placement: radius, centre, rotation and a mild anisotropic stretch.
    let radius = rng.random_range(0.24..0.42f32) * side;
    let margin = radius * 0.8;
    let centre_x = rng.random_range(margin..(side - margin).max(margin + 1e-3));
    let centre_y = rng.random_range(margin..(side - margin).max(margin + 1e-3));
    let rotation = rng.random_range(0.0..TAU);
    let (sin_r, cos_r) = rotation.sin_cos();
    let stretch = rng.random_range(0.85..1.15f32);

    // A distracting stroke that belongs to no class, present in 60% of the images.
    let stroke = rng.random_bool(0.6).then(|| {
        let length = rng.random_range(0.15..0.35f32) * side;
        let angle = rng.random_range(0.0..TAU);
        let a = (rng.random_range(0.0..side), rng.random_range(0.0..side));
        let b = (a.0 + length * angle.cos(), a.1 + length * angle.sin());
        let half_width = rng.random_range(0.02..0.05f32) * side;
        (a, b, half_width.max(0.6), random_colour(rng))
    });
    let noise_sigma = rng.random_range(0.0..0.06f32);

    let mut pixels = Vec::with_capacity((size * size * 3) as usize);
    for row in 0..size {
        let y = row as f32 + 0.5;
        for col in 0..size {
            let x = col as f32 + 0.5;
            let wave = 0.5
                + 0.5
                    * ((x * grating_dx + y * grating_dy) * grating_frequency + grating_phase).sin();
            let t = grating_amount * wave;
            let gradient =
                gradient_amount * ((x - side / 2.0) * gradient_dx + (y - side / 2.0) * gradient_dy);
            let mut colour = [0.0f32; 3];
            for c in 0..3 {
                colour[c] = background[c] + t * (background_alt[c] - background[c]) + gradient;
            }

            if let Some((a, b, half_width, stroke_colour)) = stroke {
                let coverage = (half_width + 0.5 - segment_distance((x, y), a, b)).clamp(0.0, 1.0);
                for c in 0..3 {
                    colour[c] += coverage * (stroke_colour[c] - colour[c]);
                }
            }

            // Shape-local coordinates: undo translation, rotation, stretch and scale.
            let (dx, dy) = (x - centre_x, y - centre_y);
            let local_x = (cos_r * dx + sin_r * dy) / (radius * stretch);
            let local_y = (-sin_r * dx + cos_r * dy) * stretch / radius;
            let distance_px = shape_distance(class, local_x, local_y) * radius;
            let coverage = (0.5 - distance_px).clamp(0.0, 1.0);
            if coverage > 0.0 {
                let shade = 1.0 + shading * local_x.clamp(-1.0, 1.0);
                for c in 0..3 {
                    colour[c] += coverage * (foreground[c] * shade - colour[c]);
                }
            }

            for value in colour {
                let noise: f32 = rng.sample(StandardNormal);
                let v = (value + noise_sigma * noise).clamp(0.0, 1.0);
                pixels.push((v * 255.0).round() as u8);
            }
        }
    }
    RgbImage::from_raw(size, size, pixels).expect("buffer holds size*size*3 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_centres_are_inside_and_far_corners_outside() {
        // Every shape covers a point near its centre (the ring and crescent away from it) and
        // none reaches the corner of its bounding square.
        for class in 0..SYNTHETIC_CLASSES.len() {
            let inside = match class {
                3 => (0.68, 0.0),
                6 => (-0.6, 0.0),
                8 => (0.52, 0.0),
                9 => (-0.4, 0.0),
                _ => (0.0, 0.0),
            };
            assert!(
                shape_distance(class, inside.0, inside.1) < 0.0,
                "class {class}"
            );
            assert!(shape_distance(class, 1.2, 1.2) > 0.0, "class {class}");
        }
    }

    #[test]
    fn shapes_differ_in_coverage_of_a_grid() {
        // Distinct classes must draw distinct masks, or the labels would be unlearnable.
        let masks: Vec<Vec<bool>> = (0..SYNTHETIC_CLASSES.len())
            .map(|class| {
                (0..400)
                    .map(|i| {
                        let (x, y) = ((i % 20) as f32 / 10.0 - 0.95, (i / 20) as f32 / 10.0 - 0.95);
                        shape_distance(class, x, y) < 0.0
                    })
                    .collect()
            })
            .collect();
        for a in 0..masks.len() {
            for b in a + 1..masks.len() {
                let differing = masks[a]
                    .iter()
                    .zip(&masks[b])
                    .filter(|(p, q)| p != q)
                    .count();
                assert!(
                    differing > 20,
                    "classes {a} and {b} differ on {differing} of 400 points"
                );
            }
        }
    }

    #[test]
    fn foreground_colours_are_muted_and_brighter_than_every_background() {
        let mut rng = rng_from_seed(7);
        for _ in 0..1000 {
            for (range, colour) in [
                (BACKGROUND_VALUE, muted_colour(&mut rng, BACKGROUND_VALUE)),
                (FOREGROUND_VALUE, muted_colour(&mut rng, FOREGROUND_VALUE)),
            ] {
                let max = colour.iter().copied().fold(f32::MIN, f32::max);
                let min = colour.iter().copied().fold(f32::MAX, f32::min);
                assert!(
                    range.contains(&max),
                    "{colour:?} outside value range {range:?}"
                );
                assert!(
                    (max - min) / max <= MAX_SATURATION,
                    "{colour:?} too saturated"
                );
            }
        }
    }

    #[test]
    fn invalid_sizes_are_rejected() {
        let error = SyntheticConfig::new()
            .with_num_classes(11)
            .init(Split::Train)
            .unwrap_err();
        assert!(error.to_string().contains("num_classes"), "{error}");
        let error = SyntheticConfig::new()
            .with_image_size(4)
            .init(Split::Train)
            .unwrap_err();
        assert!(error.to_string().contains("image_size"), "{error}");
    }
}
