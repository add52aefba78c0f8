//! Blur corruptions: defocus, glass, motion, zoom and Gaussian blur.

use image::RgbImage;
use rand::rngs::StdRng;
use rand::RngExt;

use super::buffer::FloatImage;
use super::filter::{self, Border};

/// The anti-aliased disk of the defocus blur, `size x size` (row-major): the indicator of
/// `X^2 + Y^2 <= radius^2` on the grid -8..=8 (-r..=r beyond radius 8), normalised to sum 1,
/// then smoothed by a 3x3 (5x5 beyond radius 8) Gaussian of sigma `alias_sigma` with mirrored
/// borders, as OpenCV's `GaussianBlur` does to the kernel array itself.
pub(super) fn defocus_kernel(radius: f64, alias_sigma: f64) -> (Vec<f32>, usize) {
    let (half, gaussian_size) = if radius <= 8.0 {
        (8, 3)
    } else {
        (radius as isize, 5)
    };
    let size = (2 * half + 1) as usize;
    let mut disk: Vec<f32> = (-half..=half)
        .flat_map(|y| {
            (-half..=half).map(move |x| ((x * x + y * y) as f64 <= radius * radius) as u8 as f32)
        })
        .collect();
    let total: f32 = disk.iter().sum();
    disk.iter_mut().for_each(|v| *v /= total);

    // OpenCV's Gaussian kernel for a given size: exp(-(i - (size-1)/2)^2 / (2 sigma^2)).
    let centre = (gaussian_size - 1) as f64 / 2.0;
    let weights: Vec<f64> = (0..gaussian_size)
        .map(|i| (-(i as f64 - centre).powi(2) / (2.0 * alias_sigma * alias_sigma)).exp())
        .collect();
    let sum: f64 = weights.iter().sum();
    let gaussian: Vec<f32> = weights.iter().map(|w| (w / sum) as f32).collect();

    let disk = FloatImage::from_vec(size, size, 1, disk);
    let smoothed = filter::separable_filter(&disk, &gaussian, &gaussian, Border::Mirror);
    (smoothed.data, size)
}

/// Convolution of x in [0, 1] with [`defocus_kernel`] (mirrored borders), clipped.
pub(super) fn defocus_blur(image: &RgbImage, radius: f64, alias_sigma: f64) -> RgbImage {
    let (kernel, size) = defocus_kernel(radius, alias_sigma);
    let x = FloatImage::from_rgb_unit(image);
    filter::filter_2d(&x, &kernel, size, Border::Mirror).to_rgb_unit()
}

/// Glass blur: `uint8(gaussian(x, sigma) * 255)`, then `iterations` passes in which each pixel
/// (h, w), visited from the bottom-right corner upwards and leftwards over
/// `max_delta + 1..=side - max_delta`, takes the value of the pixel `(h + dy, w + dx)` with
/// dx, dy uniform in `-max_delta..max_delta` (the reference's tuple "swap" of numpy views
/// copies one way only), then another Gaussian blur.
pub(super) fn glass_blur(
    image: &RgbImage,
    sigma: f64,
    max_delta: usize,
    iterations: usize,
    rng: &mut StdRng,
) -> RgbImage {
    let blurred = filter::gaussian_blur(
        &FloatImage::from_rgb_unit(image),
        sigma,
        4.0,
        Border::Nearest,
    );
    let mut pixels: Vec<u8> = blurred.data.iter().map(|&v| (v * 255.0) as u8).collect();

    let (width, height) = (image.width() as usize, image.height() as usize);
    let delta = max_delta as i64;
    for _ in 0..iterations {
        for h in (max_delta + 1..=height - max_delta).rev() {
            for w in (max_delta + 1..=width - max_delta).rev() {
                let dx = rng.random_range(-delta..delta);
                let dy = rng.random_range(-delta..delta);
                let source = ((h as i64 + dy) as usize * width + (w as i64 + dx) as usize) * 3;
                let target = (h * width + w) * 3;
                pixels.copy_within(source..source + 3, target);
            }
        }
    }

    let shuffled = FloatImage::from_vec(
        width,
        height,
        3,
        pixels.iter().map(|&v| f32::from(v) / 255.0).collect(),
    );
    filter::gaussian_blur(&shuffled, sigma, 4.0, Border::Nearest).to_rgb_unit()
}

/// ImageMagick's motion blur of the 8-bit image at an angle uniform in [-45, 45) degrees.
pub(super) fn motion_blur(image: &RgbImage, radius: f64, sigma: f64, rng: &mut StdRng) -> RgbImage {
    let angle = rng.random_range(-45.0..45.0);
    let x = FloatImage::from_rgb_levels(image);
    filter::motion_blur(&x, radius, sigma, angle).to_rgb_levels()
}

/// The zoom factors of the reference's `np.arange(1, stop, step)`: numpy fills
/// `1 + i * ((1 + step) - 1)`, so the factors carry that rounding.
pub(super) fn zoom_factors(step: f64, count: usize) -> Vec<f64> {
    let delta = (1.0 + step) - 1.0;
    (0..count).map(|i| 1.0 + i as f64 * delta).collect()
}

/// `(x + sum_z clipped_zoom(x, z)) / (count + 1)` over the zoom factors.
pub(super) fn zoom_blur(image: &RgbImage, step: f64, count: usize) -> RgbImage {
    let x = FloatImage::from_rgb_unit(image);
    let mut sum = x.clone();
    for zoom in zoom_factors(step, count) {
        let zoomed = filter::clipped_zoom(&x, zoom);
        sum.data
            .iter_mut()
            .zip(&zoomed.data)
            .for_each(|(s, z)| *s += z);
    }
    let scale = 1.0 / (count + 1) as f32;
    sum.data.iter_mut().for_each(|v| *v *= scale);
    sum.to_rgb_unit()
}

/// `skimage.filters.gaussian(x, sigma)` per channel (edge samples repeated, truncate 4).
pub(super) fn gaussian_blur(image: &RgbImage, sigma: f64) -> RgbImage {
    filter::gaussian_blur(
        &FloatImage::from_rgb_unit(image),
        sigma,
        4.0,
        Border::Nearest,
    )
    .to_rgb_unit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_lists_have_the_reference_lengths_and_ends() {
        // Lengths and last values of np.arange(1, 1.11, .01) and np.arange(1, 1.31, .03).
        let s1 = zoom_factors(0.01, 12);
        assert!((s1[11] - 1.11).abs() < 1e-12);
        let s5 = zoom_factors(0.03, 11);
        assert!((s5[10] - 1.30).abs() < 1e-12);
        assert_eq!(s1[0], 1.0);
    }

    #[test]
    fn defocus_kernel_sums_to_one_and_is_symmetric() {
        // Away from the grid border the smoothing keeps the unit sum; a disk that touches the
        // border (radius 10 on -10..=10) gains weight from the mirrored border, as OpenCV's
        // blur of the kernel array does in the reference.
        for (radius, alias, touches_border) in
            [(3.0, 0.1, false), (0.3, 0.4, false), (10.0, 0.5, true)]
        {
            let (kernel, size) = defocus_kernel(radius, alias);
            assert_eq!(size, if radius <= 8.0 { 17 } else { 21 });
            let sum: f32 = kernel.iter().sum();
            if touches_border {
                assert!(sum > 1.0 && sum < 1.05, "{sum}");
            } else {
                assert!((sum - 1.0).abs() < 1e-5, "{sum}");
            }
            assert!((kernel[0] - kernel[size * size - 1]).abs() < 1e-9);
        }
    }
}
