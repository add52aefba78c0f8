//! Gaussian blur, as torchvision's `F.gaussian_blur`, and SimCLR's random blur.

use burn::config::Config;
use image::RgbImage;
use rand::RngExt;

use super::resize::round_to_u8;
use super::Transform;
use crate::seed::AugmentRng;

/// The normalised 1-D Gaussian kernel of torchvision: `exp(-0.5 (x / sigma)^2)` at
/// `x = -(k - 1) / 2 ..= (k - 1) / 2` in unit steps, divided by its sum (float32).
///
/// # Panics
/// When `size` is even or zero, or `sigma` is not positive.
pub fn gaussian_kernel(size: usize, sigma: f32) -> Vec<f32> {
    assert!(
        size % 2 == 1,
        "Gaussian kernel size must be odd and positive, got {size}"
    );
    assert!(sigma > 0.0, "Gaussian sigma must be positive, got {sigma}");
    let half = (size - 1) as f32 * 0.5;
    let pdf: Vec<f32> = (0..size)
        .map(|i| {
            let x = (i as f32 - half) / sigma;
            (-0.5 * x * x).exp()
        })
        .collect();
    let total: f32 = pdf.iter().sum();
    pdf.into_iter().map(|v| v / total).collect()
}

/// Index `i` (possibly outside `0..n`) reflected into the image without repeating the edge
/// pixel (`-1 -> 1`, `n -> n - 2`), as `torch.nn.functional.pad(mode="reflect")`; repeated for
/// kernels wider than the image.
fn reflect(mut i: isize, n: isize) -> usize {
    if n == 1 {
        return 0;
    }
    loop {
        if i < 0 {
            i = -i;
        } else if i >= n {
            i = 2 * (n - 1) - i;
        } else {
            return i as usize;
        }
    }
}

/// Weights below this are skipped when blurring: a kernel of at most 255 taps then moves a
/// value by less than 0.07 grey levels (far less for SimCLR's 23 taps), while a narrow Gaussian in
/// a wide kernel costs a handful of taps instead of all of them.
const NEGLIGIBLE_WEIGHT: f32 = 1e-6;

/// The range of kernel taps whose weight is not negligible.
fn significant_taps(kernel: &[f32]) -> std::ops::Range<usize> {
    let first = kernel
        .iter()
        .position(|&w| w >= NEGLIGIBLE_WEIGHT)
        .unwrap_or(0);
    let last = kernel
        .iter()
        .rposition(|&w| w >= NEGLIGIBLE_WEIGHT)
        .unwrap_or(kernel.len() - 1);
    first..last + 1
}

/// Blurs with a separable Gaussian of `kernel_width` x `kernel_height` taps and standard
/// deviations `sigma_x`, `sigma_y`, reflect padding, float32 accumulation and round half to even,
/// as `F.gaussian_blur(img, [kernel_width, kernel_height], [sigma_x, sigma_y])`. Taps with a
/// normalised weight below 1e-6 are skipped (see `NEGLIGIBLE_WEIGHT`).
///
/// # Panics
/// When a kernel size is even or a sigma is not positive.
pub fn gaussian_blur(
    image: &RgbImage,
    kernel_width: usize,
    kernel_height: usize,
    sigma_x: f32,
    sigma_y: f32,
) -> RgbImage {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let kernel_x = gaussian_kernel(kernel_width, sigma_x);
    let kernel_y = gaussian_kernel(kernel_height, sigma_y);
    let (half_x, half_y) = (kernel_width / 2, kernel_height / 2);
    let stride = width * 3;
    let source = image.as_raw();

    // Horizontal pass into float32. Each row is padded once; then each tap is one
    // multiply-add over the whole row, which the compiler vectorises.
    let mut temp = vec![0.0f32; height * stride];
    let mut padded = vec![0.0f32; (width + 2 * half_x) * 3];
    for (y, out_row) in temp.chunks_exact_mut(stride).enumerate() {
        let row = &source[y * stride..(y + 1) * stride];
        for (p, chunk) in padded.chunks_exact_mut(3).enumerate() {
            let x = reflect(p as isize - half_x as isize, width as isize);
            chunk.copy_from_slice(&[
                row[x * 3] as f32,
                row[x * 3 + 1] as f32,
                row[x * 3 + 2] as f32,
            ]);
        }
        for t in significant_taps(&kernel_x) {
            let w = kernel_x[t];
            for (o, &v) in out_row.iter_mut().zip(&padded[t * 3..t * 3 + stride]) {
                *o += w * v;
            }
        }
    }

    // Vertical pass: each output row is a weighted sum of reflected temporary rows.
    let mut out = vec![0u8; height * stride];
    let mut accumulator = vec![0.0f32; stride];
    for (y, out_row) in out.chunks_exact_mut(stride).enumerate() {
        accumulator.iter_mut().for_each(|v| *v = 0.0);
        for t in significant_taps(&kernel_y) {
            let w = kernel_y[t];
            let source_row = reflect(y as isize + t as isize - half_y as isize, height as isize);
            let row = &temp[source_row * stride..(source_row + 1) * stride];
            for (a, &v) in accumulator.iter_mut().zip(row) {
                *a += w * v;
            }
        }
        for (o, &v) in out_row.iter_mut().zip(&accumulator) {
            *o = round_to_u8(v);
        }
    }
    RgbImage::from_raw(image.width(), image.height(), out).expect("same size as the input")
}

/// Options of [`GaussianBlur`].
#[derive(Config, Debug)]
pub struct GaussianBlurConfig {
    /// Kernel size in pixels (odd). SimCLR uses about 10% of the image side, made odd.
    pub kernel_size: usize,
    /// Range the standard deviation is drawn from, uniformly.
    #[config(default = "(0.1, 2.0)")]
    pub sigma: (f32, f32),
}

impl GaussianBlurConfig {
    /// The SimCLR blur for images of side `image_size`: kernel `0.1 * side` made odd
    /// (23 px at 224), sigma in [0.1, 2].
    pub fn simclr(image_size: u32) -> Self {
        Self::new(((image_size as f32 * 0.1) as usize) | 1)
    }

    /// Builds the transform.
    ///
    /// # Panics
    /// When the kernel size is even or the sigma range is not positive and ordered.
    pub fn init(&self) -> GaussianBlur {
        assert!(
            self.kernel_size % 2 == 1,
            "blur kernel must be odd, got {}",
            self.kernel_size
        );
        assert!(
            0.0 < self.sigma.0 && self.sigma.0 <= self.sigma.1,
            "blur sigma range must satisfy 0 < min <= max, got {:?}",
            self.sigma
        );
        GaussianBlur {
            kernel_size: self.kernel_size,
            sigma: self.sigma,
        }
    }
}

/// Blurs with a square Gaussian kernel whose sigma is drawn uniformly per call, as
/// torchvision's `GaussianBlur` transform.
#[derive(Debug, Clone)]
pub struct GaussianBlur {
    kernel_size: usize,
    sigma: (f32, f32),
}

impl Transform for GaussianBlur {
    fn apply(&self, image: RgbImage, rng: &mut AugmentRng) -> RgbImage {
        let sigma = if self.sigma.0 < self.sigma.1 {
            rng.random_range(self.sigma.0..self.sigma.1)
        } else {
            self.sigma.0
        };
        gaussian_blur(&image, self.kernel_size, self.kernel_size, sigma, sigma)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_skips_the_edge_pixel() {
        assert_eq!(reflect(-1, 5), 1);
        assert_eq!(reflect(-2, 5), 2);
        assert_eq!(reflect(5, 5), 3);
        assert_eq!(reflect(7, 3), 1);
    }

    #[test]
    fn kernel_is_symmetric_and_sums_to_one() {
        let kernel = gaussian_kernel(9, 1.7);
        let sum: f32 = kernel.iter().sum();
        assert!((sum - 1.0).abs() < 1e-6);
        for i in 0..4 {
            assert!((kernel[i] - kernel[8 - i]).abs() < 1e-7);
        }
        // Hand computation: exp(-0.5 * (4 / 1.7)^2) / exp(0) = 0.0628 relative to the centre.
        assert!((kernel[0] / kernel[4] - 0.062_77).abs() < 1e-4);
    }

    #[test]
    fn blur_keeps_a_constant_image() {
        let image = RgbImage::from_pixel(6, 4, image::Rgb([12, 130, 251]));
        assert_eq!(gaussian_blur(&image, 23, 23, 2.0, 2.0), image);
    }
}
