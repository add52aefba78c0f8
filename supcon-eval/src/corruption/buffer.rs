//! A floating-point image buffer, the working format of every corruption.

use image::RgbImage;

/// An interleaved `f32` image: the value of channel `c` at column `x` and row `y` is
/// `data[(y * width + x) * channels + c]`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FloatImage {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub data: Vec<f32>,
}

impl FloatImage {
    /// A zero image.
    pub fn zeros(width: usize, height: usize, channels: usize) -> Self {
        Self {
            width,
            height,
            channels,
            data: vec![0.0; width * height * channels],
        }
    }

    /// Wraps a buffer; its length must be `width * height * channels`.
    pub fn from_vec(width: usize, height: usize, channels: usize, data: Vec<f32>) -> Self {
        assert_eq!(
            data.len(),
            width * height * channels,
            "buffer of {} values for a {width}x{height}x{channels} image",
            data.len()
        );
        Self {
            width,
            height,
            channels,
            data,
        }
    }

    /// The image scaled to [0, 1] (`x / 255`), as most corruptions of the benchmark take it.
    pub fn from_rgb_unit(image: &RgbImage) -> Self {
        let data = image
            .as_raw()
            .iter()
            .map(|&v| f32::from(v) / 255.0)
            .collect();
        Self::from_vec(image.width() as usize, image.height() as usize, 3, data)
    }

    /// The image in grey levels 0..=255 as floats.
    pub fn from_rgb_levels(image: &RgbImage) -> Self {
        let data = image.as_raw().iter().map(|&v| f32::from(v)).collect();
        Self::from_vec(image.width() as usize, image.height() as usize, 3, data)
    }

    /// `uint8(clip(x, 0, 1) * 255)`: clips to [0, 1], scales and truncates as numpy's cast does.
    pub fn to_rgb_unit(&self) -> RgbImage {
        self.to_rgb_with(|v| (v.clamp(0.0, 1.0) * 255.0) as u8)
    }

    /// `uint8(clip(x, 0, 255))`: clips grey levels and truncates.
    pub fn to_rgb_levels(&self) -> RgbImage {
        self.to_rgb_with(|v| v.clamp(0.0, 255.0) as u8)
    }

    fn to_rgb_with(&self, cast: impl Fn(f32) -> u8) -> RgbImage {
        assert_eq!(
            self.channels, 3,
            "an RGB image needs 3 channels, not {}",
            self.channels
        );
        // NaN casts to 0, as numpy's cast does on common platforms.
        let data = self.data.iter().map(|&v| cast(v)).collect();
        RgbImage::from_raw(self.width as u32, self.height as u32, data)
            .expect("buffer length matches the image size")
    }

    /// The number of pixels.
    pub fn pixels(&self) -> usize {
        self.width * self.height
    }

    /// OpenCV's RGB-to-grey weights (0.299, 0.587, 0.114) applied to every pixel.
    pub fn luma(&self) -> Vec<f32> {
        assert_eq!(
            self.channels, 3,
            "grey conversion needs 3 channels, not {}",
            self.channels
        );
        self.data
            .chunks_exact(3)
            .map(|p| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2])
            .collect()
    }
}
