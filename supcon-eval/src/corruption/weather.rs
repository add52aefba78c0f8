//! Weather corruptions: snow and fog (with the plasma fractal that makes the fog).

use image::RgbImage;
use rand::rngs::StdRng;
use rand::RngExt;
use rand_distr::{Distribution, Normal};

use super::buffer::FloatImage;
use super::filter;
use super::CorruptionParams;

/// The benchmark's diamond-square plasma fractal on a `size x size` grid (a power of two),
/// normalised to [0, 1], row-major.
///
/// Starting from a zero corner with step `size`, each level fills the square centres with the
/// mean of their four corners and the diamond centres with the mean of their four neighbours
/// (indices wrap around), each plus `wibble * U(-wibble, wibble)`; then the step halves and
/// `wibble` (100 at first) is divided by `wibble_decay`. The noise scale is `wibble^2`, as in
/// the reference.
pub(super) fn plasma_fractal(size: usize, wibble_decay: f64, rng: &mut StdRng) -> Vec<f64> {
    assert!(
        size.is_power_of_two(),
        "plasma fractal size {size} is not a power of two"
    );
    let mut map = vec![0.0f64; size * size];
    let at = |i: usize, j: usize| i * size + j;
    let mut step = size;
    let mut wibble = 100.0f64;
    let noise = |rng: &mut StdRng, wibble: f64| wibble * rng.random_range(-wibble..wibble);

    while step >= 2 {
        let half = step / 2;
        let k = size / step;
        // Squares: centre = mean of the four corners (wrapping).
        let mut centres = vec![0.0f64; k * k];
        for i in 0..k {
            for j in 0..k {
                let corner = |a: usize, b: usize| map[at((a % k) * step, (b % k) * step)];
                let sum = corner(i, j) + corner(i + 1, j) + corner(i, j + 1) + corner(i + 1, j + 1);
                centres[i * k + j] = sum / 4.0 + noise(rng, wibble);
            }
        }
        for i in 0..k {
            for j in 0..k {
                map[at(i * step + half, j * step + half)] = centres[i * k + j];
            }
        }

        // Diamonds: the points between corners along rows, then along columns.
        let centre =
            |map: &[f64], i: usize, j: usize| map[at((i % k) * step + half, (j % k) * step + half)];
        let corner = |map: &[f64], i: usize, j: usize| map[at((i % k) * step, (j % k) * step)];
        let mut row_points = vec![0.0f64; k * k];
        for i in 0..k {
            for j in 0..k {
                let sum = centre(&map, i, j)
                    + centre(&map, i + k - 1, j)
                    + corner(&map, i, j)
                    + corner(&map, i, j + 1);
                row_points[i * k + j] = sum / 4.0 + noise(rng, wibble);
            }
        }
        let mut column_points = vec![0.0f64; k * k];
        for i in 0..k {
            for j in 0..k {
                let sum = centre(&map, i, j)
                    + centre(&map, i, j + k - 1)
                    + corner(&map, i, j)
                    + corner(&map, i + 1, j);
                column_points[i * k + j] = sum / 4.0 + noise(rng, wibble);
            }
        }
        for i in 0..k {
            for j in 0..k {
                map[at(i * step, j * step + half)] = row_points[i * k + j];
                map[at(i * step + half, j * step)] = column_points[i * k + j];
            }
        }

        step /= 2;
        wibble /= wibble_decay;
    }

    let min = map.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = map.iter().map(|v| v - min).fold(0.0, f64::max);
    map.iter()
        .map(|v| if max > 0.0 { (v - min) / max } else { 0.0 })
        .collect()
}

/// Fog: with m the image maximum, `clip((x + strength * plasma) * m / (m + strength))`, the
/// fractal grid being the next power of two above the image side, cropped to the image.
pub(super) fn fog(
    image: &RgbImage,
    strength: f64,
    wibble_decay: f64,
    rng: &mut StdRng,
) -> RgbImage {
    let mut x = FloatImage::from_rgb_unit(image);
    let size = x.width.max(x.height).next_power_of_two();
    let plasma = plasma_fractal(size, wibble_decay, rng);
    let max = x.data.iter().cloned().fold(0.0f32, f32::max) as f64;
    let scale = (max / (max + strength)) as f32;
    for y in 0..x.height {
        for xx in 0..x.width {
            let fog = (strength * plasma[y * size + xx]) as f32;
            let p = (y * x.width + xx) * 3;
            for c in 0..3 {
                x.data[p + c] = (x.data[p + c] + fog) * scale;
            }
        }
    }
    x.to_rgb_unit()
}

/// Snow: a noise layer N(mean, std) is zoomed, thresholded, quantised to 8 bits and
/// motion-blurred at an angle in [-135, -45) degrees; the image is blended towards a brightened
/// grey copy, then the layer and its 180-degree rotation are added.
pub(super) fn snow(image: &RgbImage, params: &CorruptionParams, rng: &mut StdRng) -> RgbImage {
    let CorruptionParams::Snow {
        mean,
        std,
        zoom,
        threshold,
        blur_radius,
        blur_sigma,
        blend,
    } = *params
    else {
        unreachable!("snow called with {params:?}")
    };
    let mut x = FloatImage::from_rgb_unit(image);
    let (width, height) = (x.width, x.height);

    let normal = Normal::new(mean, std).expect("a finite positive standard deviation");
    let layer: Vec<f32> = (0..width * height)
        .map(|_| normal.sample(rng) as f32)
        .collect();
    let layer = filter::clipped_zoom(&FloatImage::from_vec(width, height, 1, layer), zoom);
    let levels: Vec<f32> = layer
        .data
        .iter()
        .map(|&v| {
            let v = if f64::from(v) < threshold { 0.0 } else { v };
            ((v.clamp(0.0, 1.0) * 255.0) as u8) as f32
        })
        .collect();
    let angle = rng.random_range(-135.0..-45.0);
    let flakes = filter::motion_blur(
        &FloatImage::from_vec(width, height, 1, levels),
        blur_radius,
        blur_sigma,
        angle,
    );

    let grey = x.luma();
    let blend = blend as f32;
    for (i, p) in x.data.chunks_exact_mut(3).enumerate() {
        let whitened = grey[i] * 1.5 + 0.5;
        let snow = (flakes.data[i] + flakes.data[width * height - 1 - i]) / 255.0;
        for v in p.iter_mut() {
            *v = blend * *v + (1.0 - blend) * v.max(whitened) + snow;
        }
    }
    x.to_rgb_unit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn plasma_is_normalised_and_rough_decay_is_rougher() {
        let mut rng = StdRng::seed_from_u64(3);
        let smooth = plasma_fractal(64, 3.0, &mut rng);
        let rough = plasma_fractal(64, 1.4, &mut rng);
        for map in [&smooth, &rough] {
            let min = map.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = map.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            assert!(min.abs() < 1e-12 && (max - 1.0).abs() < 1e-12);
        }
        // Mean absolute difference between horizontal neighbours.
        let roughness = |m: &[f64]| {
            (0..64 * 63)
                .map(|i| (m[i / 63 * 64 + i % 63] - m[i / 63 * 64 + i % 63 + 1]).abs())
                .sum::<f64>()
        };
        assert!(roughness(&rough) > roughness(&smooth));
    }
}
