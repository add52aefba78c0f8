//! Noise corruptions: Gaussian, shot (Poisson), impulse (salt and pepper) and speckle.

use image::RgbImage;
use rand::rngs::StdRng;
use rand::RngExt;
use rand_distr::{Distribution, Poisson, StandardNormal};

use super::buffer::FloatImage;

/// `uint8(clip(x + N(0, std), 0, 1) * 255)` with x in [0, 1].
pub(super) fn gaussian_noise(image: &RgbImage, std: f64, rng: &mut StdRng) -> RgbImage {
    let mut x = FloatImage::from_rgb_unit(image);
    let std = std as f32;
    for v in &mut x.data {
        let z: f32 = StandardNormal.sample(rng);
        *v += std * z;
    }
    x.to_rgb_unit()
}

/// `uint8(clip(Poisson(x * rate) / rate, 0, 1) * 255)` with x in [0, 1].
pub(super) fn shot_noise(image: &RgbImage, rate: f64, rng: &mut StdRng) -> RgbImage {
    // Inputs are 8-bit, so there are only 256 distinct Poisson means.
    let distributions: Vec<Option<Poisson<f64>>> = (0..=255u32)
        .map(|level| {
            let mean = f64::from(level) / 255.0 * rate;
            (mean > 0.0).then(|| Poisson::new(mean).expect("a finite positive Poisson mean"))
        })
        .collect();
    let mut x = FloatImage::zeros(image.width() as usize, image.height() as usize, 3);
    for (v, &level) in x.data.iter_mut().zip(image.as_raw()) {
        let count = match &distributions[usize::from(level)] {
            Some(poisson) => poisson.sample(rng),
            None => 0.0,
        };
        *v = (count / rate) as f32;
    }
    x.to_rgb_unit()
}

/// Salt and pepper on every element independently: with probability `amount` the element is
/// replaced, by 1 or 0 with equal odds (skimage's `random_noise(mode='s&p')`).
pub(super) fn impulse_noise(image: &RgbImage, amount: f64, rng: &mut StdRng) -> RgbImage {
    let mut out = image.clone();
    for v in out.iter_mut() {
        let flipped = rng.random::<f64>() <= amount;
        let salted = rng.random::<f64>() <= 0.5;
        if flipped {
            *v = if salted { 255 } else { 0 };
        }
    }
    out
}

/// `uint8(clip(x + x * N(0, std), 0, 1) * 255)` with x in [0, 1].
pub(super) fn speckle_noise(image: &RgbImage, std: f64, rng: &mut StdRng) -> RgbImage {
    let mut x = FloatImage::from_rgb_unit(image);
    let std = std as f32;
    for v in &mut x.data {
        let z: f32 = StandardNormal.sample(rng);
        *v += *v * std * z;
    }
    x.to_rgb_unit()
}
