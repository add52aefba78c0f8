//! Digital corruptions: brightness, contrast, saturate (in HSV), pixelate and JPEG.

use image::RgbImage;
use supcon_data::functional::hsv_to_rgb;

use super::buffer::FloatImage;
use super::filter::{self, PilFilter};
use super::CorruptionError;

/// skimage's `rgb2hsv` of one pixel in [0, 1]: hue in [0, 1), saturation and value in [0, 1].
/// When several channels share the maximum, the last of red, green, blue decides the hue.
fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let value = r.max(g).max(b);
    let delta = value - r.min(g).min(b);
    if delta == 0.0 {
        return (0.0, 0.0, value);
    }
    let saturation = delta / value;
    let hue = if b == value {
        4.0 + (r - g) / delta
    } else if g == value {
        2.0 + (b - r) / delta
    } else {
        (g - b) / delta
    };
    ((hue / 6.0).rem_euclid(1.0), saturation, value)
}

/// Applies `change` to the (h, s, v) of every pixel of x in [0, 1] and converts back.
fn map_hsv(image: &RgbImage, change: impl Fn(f32, f32, f32) -> (f32, f32, f32)) -> RgbImage {
    let mut x = FloatImage::from_rgb_unit(image);
    for p in x.data.chunks_exact_mut(3) {
        let (h, s, v) = rgb_to_hsv(p[0], p[1], p[2]);
        let (h, s, v) = change(h, s, v);
        p.copy_from_slice(&hsv_to_rgb(h, s, v));
    }
    x.to_rgb_unit()
}

/// HSV value shift: `V = clip(V + delta, 0, 1)`.
pub(super) fn brightness(image: &RgbImage, delta: f64) -> RgbImage {
    let delta = delta as f32;
    map_hsv(image, |h, s, v| (h, s, (v + delta).clamp(0.0, 1.0)))
}

/// HSV saturation change: `S = clip(S * scale + offset, 0, 1)`.
pub(super) fn saturate(image: &RgbImage, scale: f64, offset: f64) -> RgbImage {
    let (scale, offset) = (scale as f32, offset as f32);
    map_hsv(image, |h, s, v| {
        (h, (s * scale + offset).clamp(0.0, 1.0), v)
    })
}

/// `(x - mean) * factor + mean` with the mean of each channel over the image, x in [0, 1].
pub(super) fn contrast(image: &RgbImage, factor: f64) -> RgbImage {
    let mut x = FloatImage::from_rgb_unit(image);
    let mut means = [0.0f64; 3];
    for p in x.data.chunks_exact(3) {
        for c in 0..3 {
            means[c] += f64::from(p[c]);
        }
    }
    let means = means.map(|m| (m / x.pixels() as f64) as f32);
    let factor = factor as f32;
    for p in x.data.chunks_exact_mut(3) {
        for c in 0..3 {
            p[c] = (p[c] - means[c]) * factor + means[c];
        }
    }
    x.to_rgb_unit()
}

/// Pillow's box-filter resize to `int(side * factor)` and back.
pub(super) fn pixelate(image: &RgbImage, factor: f64) -> RgbImage {
    let (width, height) = image.dimensions();
    let small_width = ((f64::from(width) * factor) as u32).max(1);
    let small_height = ((f64::from(height) * factor) as u32).max(1);
    let small = filter::pil_resize(image, small_width, small_height, PilFilter::Box);
    filter::pil_resize(&small, width, height, PilFilter::Box)
}

/// Encodes an image as a baseline JPEG at `quality` with 4:2:0 chroma subsampling and the
/// standard (IJG) quantisation tables, as libjpeg does under Pillow's defaults.
pub(crate) fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, image::ImageError> {
    let mut bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, quality.clamp(1, 100));
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    let (width, height) = image.dimensions();
    let too_large = || {
        image::ImageError::Limits(image::error::LimitError::from_kind(
            image::error::LimitErrorKind::DimensionError,
        ))
    };
    let (width, height) = (
        u16::try_from(width).map_err(|_| too_large())?,
        u16::try_from(height).map_err(|_| too_large())?,
    );
    encoder
        .encode(image.as_raw(), width, height, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| {
            image::ImageError::Encoding(image::error::EncodingError::new(
                image::error::ImageFormatHint::Exact(image::ImageFormat::Jpeg),
                e,
            ))
        })?;
    Ok(bytes)
}

/// JPEG compression at `quality`: encode, then decode.
// NOTE: the reference used Pillow's libjpeg for both steps; the encoder here makes the same
// choices (4:2:0, IJG tables) but the decoder (zune-jpeg, via `image`) upsamples chroma and
// rounds differently, so outputs differ by about 1.5 grey levels on average (the integration
// tests state the measured difference).
pub(super) fn jpeg_compression(image: &RgbImage, quality: u8) -> Result<RgbImage, CorruptionError> {
    let bytes = encode_jpeg(image, quality).map_err(CorruptionError::Jpeg)?;
    let decoded = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
        .map_err(CorruptionError::Jpeg)?;
    Ok(decoded.to_rgb8())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_round_trip_recovers_rgb() {
        for (r, g, b) in [
            (0.2, 0.5, 0.9),
            (1.0, 0.0, 0.0),
            (0.3, 0.3, 0.3),
            (0.9, 0.9, 0.1),
        ] {
            let (h, s, v) = rgb_to_hsv(r, g, b);
            let [r2, g2, b2] = hsv_to_rgb(h, s, v);
            assert!((r - r2).abs() < 1e-6 && (g - g2).abs() < 1e-6 && (b - b2).abs() < 1e-6);
        }
        // Pure green: hue 1/3 (skimage gives 0.3333).
        assert!((rgb_to_hsv(0.0, 1.0, 0.0).0 - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn contrast_of_one_keeps_the_image() {
        let image = RgbImage::from_fn(8, 8, |x, y| {
            image::Rgb([(x * 30) as u8, (y * 30) as u8, 200])
        });
        let out = contrast(&image, 1.0);
        let max_diff = image
            .iter()
            .zip(out.iter())
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(max_diff <= 1, "{max_diff}");
    }
}
