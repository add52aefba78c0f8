//! Conversion of an RGB image to a normalised planar float32 array.

use image::RgbImage;

/// Per-channel normalisation `(x / 255 - mean) / std` into planar `[3, H, W]` float32, as
/// torchvision's `ToTensor` followed by `Normalize(mean, std)`.
///
/// Each channel's 256 possible outputs are tabulated once, so conversion is one table lookup per
/// value and gives the same float32 results as computing the formula in float32.
#[derive(Debug, Clone)]
pub struct Normalize {
    mean: [f32; 3],
    std: [f32; 3],
    table: Vec<[f32; 256]>,
}

impl Normalize {
    /// Normalisation by `mean` and `std` (on the 0..1 scale).
    ///
    /// # Panics
    /// When a standard deviation is not positive.
    pub fn new(mean: [f32; 3], std: [f32; 3]) -> Self {
        assert!(
            std.iter().all(|&s| s > 0.0),
            "normalisation std must be positive, got {std:?}"
        );
        let table = (0..3)
            .map(|c| {
                let mut row = [0.0f32; 256];
                for (v, out) in row.iter_mut().enumerate() {
                    *out = (v as f32 / 255.0 - mean[c]) / std[c];
                }
                row
            })
            .collect();
        Self { mean, std, table }
    }

    /// CIFAR-10 statistics as the SupCon reference code uses them.
    pub fn cifar10() -> Self {
        Self::new([0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010])
    }

    /// CIFAR-100 statistics as the SupCon reference code uses them.
    pub fn cifar100() -> Self {
        Self::new([0.5071, 0.4867, 0.4408], [0.2675, 0.2565, 0.2761])
    }

    /// ImageNet statistics (torchvision's pretrained-model convention).
    pub fn imagenet() -> Self {
        Self::new([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    }

    /// Maps 0..255 to -1..1 (mean 0.5, std 0.5): a neutral choice for the synthetic data.
    pub fn symmetric() -> Self {
        Self::new([0.5; 3], [0.5; 3])
    }

    /// The channel means.
    pub fn mean(&self) -> [f32; 3] {
        self.mean
    }

    /// The channel standard deviations.
    pub fn std(&self) -> [f32; 3] {
        self.std
    }

    /// Writes `image` as planar `[3, H, W]` into `out`.
    ///
    /// # Panics
    /// When `out.len() != 3 * H * W`.
    pub fn write_planar(&self, image: &RgbImage, out: &mut [f32]) {
        let plane = image.width() as usize * image.height() as usize;
        assert_eq!(
            out.len(),
            3 * plane,
            "output holds {} values but a {}x{} image needs {}",
            out.len(),
            image.width(),
            image.height(),
            3 * plane
        );
        let (red, rest) = out.split_at_mut(plane);
        let (green, blue) = rest.split_at_mut(plane);
        let [t_red, t_green, t_blue] = [&self.table[0], &self.table[1], &self.table[2]];
        for (i, p) in image.as_raw().chunks_exact(3).enumerate() {
            red[i] = t_red[p[0] as usize];
            green[i] = t_green[p[1] as usize];
            blue[i] = t_blue[p[2] as usize];
        }
    }

    /// `image` as a new planar `[3, H, W]` vector.
    pub fn to_planar(&self, image: &RgbImage) -> Vec<f32> {
        let mut out = vec![0.0; 3 * image.width() as usize * image.height() as usize];
        self.write_planar(image, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_formula() {
        let normalize = Normalize::new([0.5, 0.25, 0.0], [0.5, 0.25, 1.0]);
        let image = RgbImage::from_raw(2, 1, vec![0, 255, 51, 255, 0, 102]).unwrap();
        let out = normalize.to_planar(&image);
        // Planar: red (0, 255), green (255, 0), blue (51, 102).
        let expected = [-1.0, 1.0, 3.0, -1.0, 0.2, 0.4];
        for (a, b) in out.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{out:?}");
        }
    }
}
