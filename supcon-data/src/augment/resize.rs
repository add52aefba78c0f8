//! Bilinear resizing, cropping and flipping of RGB images, matching torchvision's tensor path.
//!
//! The resampler reproduces `torch.nn.functional.interpolate(mode="bilinear",
//! align_corners=False)` in float32 followed by round-half-to-even: without antialiasing each
//! output pixel reads the two nearest input pixels along each axis; with antialiasing (the
//! torchvision default) a downscale by a factor `s > 1` widens the triangle filter to a support of
//! `s` input pixels on each side (the filter PIL uses), which matters for downscaling and changes
//! nothing for upscaling.

use image::RgbImage;

/// A crop rectangle in pixels: `top`/`left` corner, `height` x `width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropBox {
    /// First row.
    pub top: u32,
    /// First column.
    pub left: u32,
    /// Number of rows.
    pub height: u32,
    /// Number of columns.
    pub width: u32,
}

/// Per-output-pixel taps along one axis: the first input index, the number of taps and the
/// normalised weights (`stride` slots per output pixel).
struct AxisWeights {
    starts: Vec<usize>,
    counts: Vec<usize>,
    stride: usize,
    weights: Vec<f32>,
}

/// Resampling weights for `in_size` -> `out_size` along one axis.
///
/// Without antialiasing, or when upscaling: source coordinate
/// `c = max(scale * (o + 0.5) - 0.5, 0)` with `scale = in / out`, taps at `floor(c)` and the next
/// pixel (clamped to the image) with weights `1 - f` and `f`, where `f = c - floor(c)`.
/// With antialiasing and `scale > 1`: centre `scale * (o + 0.5)`, taps from
/// `trunc(centre - scale + 0.5)` to `trunc(centre + scale + 0.5)` (clamped), weights
/// `max(0, 1 - |j - centre + 0.5| / scale)` normalised to sum 1.
fn axis_weights(in_size: usize, out_size: usize, antialias: bool) -> AxisWeights {
    let scale = in_size as f64 / out_size as f64;
    if antialias && scale > 1.0 {
        let stride = (scale.ceil() as usize) * 2 + 1;
        let mut starts = Vec::with_capacity(out_size);
        let mut counts = Vec::with_capacity(out_size);
        let mut weights = vec![0.0f32; out_size * stride];
        let mut values = vec![0.0f64; stride];
        for o in 0..out_size {
            let centre = scale * (o as f64 + 0.5);
            // C-style truncation towards zero, as the reference casts to int64.
            let min = ((centre - scale + 0.5) as i64).max(0) as usize;
            let max = ((centre + scale + 0.5) as i64).min(in_size as i64) as usize;
            let count = (max - min).min(stride);
            let mut total = 0.0f64;
            for (j, value) in values[..count].iter_mut().enumerate() {
                let x = (j as f64 + min as f64 - centre + 0.5) / scale;
                *value = (1.0 - x.abs()).max(0.0);
                total += *value;
            }
            for (w, value) in weights[o * stride..].iter_mut().zip(&values[..count]) {
                *w = if total != 0.0 {
                    (value / total) as f32
                } else {
                    0.0
                };
            }
            starts.push(min);
            counts.push(count);
        }
        AxisWeights {
            starts,
            counts,
            stride,
            weights,
        }
    } else {
        let mut starts = Vec::with_capacity(out_size);
        let mut counts = Vec::with_capacity(out_size);
        let mut weights = vec![0.0f32; out_size * 2];
        let scale = scale as f32;
        for o in 0..out_size {
            let source = (scale * (o as f32 + 0.5) - 0.5).max(0.0);
            let index = (source as usize).min(in_size - 1);
            let fraction = source - index as f32;
            starts.push(index);
            if index + 1 < in_size {
                counts.push(2);
                weights[o * 2] = 1.0 - fraction;
                weights[o * 2 + 1] = fraction;
            } else {
                // At the last pixel both taps read the same pixel: one tap of weight one.
                counts.push(1);
                weights[o * 2] = 1.0;
            }
        }
        AxisWeights {
            starts,
            counts,
            stride: 2,
            weights,
        }
    }
}

impl AxisWeights {
    /// The first input index and the weights of output pixel `o`.
    #[inline]
    fn taps(&self, o: usize) -> (usize, &[f32]) {
        let offset = o * self.stride;
        (
            self.starts[o],
            &self.weights[offset..offset + self.counts[o]],
        )
    }
}

/// Crops `crop` out of `image` and resizes it to `width` x `height` with bilinear
/// interpolation, as torchvision's `F.resized_crop(img, top, left, height, width, [h, w],
/// BILINEAR, antialias)` on a uint8 tensor.
///
/// # Panics
/// When the crop box leaves the image or any size is zero.
pub fn resized_crop(
    image: &RgbImage,
    crop: CropBox,
    width: u32,
    height: u32,
    antialias: bool,
) -> RgbImage {
    assert!(
        width > 0 && height > 0,
        "resize to {width}x{height}: sizes must be positive"
    );
    assert!(
        crop.width > 0
            && crop.height > 0
            && crop.left + crop.width <= image.width()
            && crop.top + crop.height <= image.height(),
        "crop {crop:?} does not fit in a {}x{} image",
        image.width(),
        image.height()
    );
    if crop.width == width && crop.height == height {
        return crop_image(image, crop);
    }
    let horizontal = axis_weights(crop.width as usize, width as usize, antialias);
    let vertical = axis_weights(crop.height as usize, height as usize, antialias);
    let (out_width, out_height) = (width as usize, height as usize);
    let in_stride = image.width() as usize * 3;
    let source = image.as_raw();

    // Horizontal pass (first, as the reference does) over the crop's rows, into float32.
    let row_len = out_width * 3;
    let mut temp = vec![0.0f32; crop.height as usize * row_len];
    for (y, out_row) in temp.chunks_exact_mut(row_len).enumerate() {
        let row_start = (crop.top as usize + y) * in_stride + crop.left as usize * 3;
        let row = &source[row_start..row_start + crop.width as usize * 3];
        for x in 0..out_width {
            let (start, weights) = horizontal.taps(x);
            let pixels = &row[start * 3..(start + weights.len()) * 3];
            let (mut r, mut g, mut b) = (0.0f32, 0.0f32, 0.0f32);
            for (&w, p) in weights.iter().zip(pixels.chunks_exact(3)) {
                r += w * p[0] as f32;
                g += w * p[1] as f32;
                b += w * p[2] as f32;
            }
            out_row[x * 3] = r;
            out_row[x * 3 + 1] = g;
            out_row[x * 3 + 2] = b;
        }
    }

    // Vertical pass: each output row is a weighted sum of whole temporary rows.
    let mut out = vec![0u8; out_height * row_len];
    let mut accumulator = vec![0.0f32; row_len];
    for (y, out_row) in out.chunks_exact_mut(row_len).enumerate() {
        accumulator.iter_mut().for_each(|v| *v = 0.0);
        let (start, weights) = vertical.taps(y);
        for (t, &w) in weights.iter().enumerate() {
            if w == 0.0 {
                continue;
            }
            let row = &temp[(start + t) * row_len..(start + t + 1) * row_len];
            for (a, &v) in accumulator.iter_mut().zip(row) {
                *a += w * v;
            }
        }
        for (o, &v) in out_row.iter_mut().zip(&accumulator) {
            *o = round_to_u8(v);
        }
    }
    RgbImage::from_raw(width, height, out).expect("buffer matches the output size")
}

/// Resizes the whole image to `width` x `height` (bilinear, see [`resized_crop`]).
///
/// # Panics
/// When a size is zero.
pub fn resize(image: &RgbImage, width: u32, height: u32, antialias: bool) -> RgbImage {
    let full = CropBox {
        top: 0,
        left: 0,
        height: image.height(),
        width: image.width(),
    };
    resized_crop(image, full, width, height, antialias)
}

/// The output size of torchvision's `resize(img, size)` with an integer `size`: the shorter
/// side becomes `size` and the longer `int(size * long / short)`. Returns `(width, height)`.
pub fn shorter_side_size(width: u32, height: u32, size: u32) -> (u32, u32) {
    let (short, long) = if width <= height {
        (width, height)
    } else {
        (height, width)
    };
    let new_long = (size as f64 * long as f64 / short as f64) as u32;
    if width <= height {
        (size, new_long)
    } else {
        (new_long, size)
    }
}

/// Resizes so that the shorter side is `size` pixels, keeping the aspect ratio (bilinear).
pub fn resize_shorter_side(image: &RgbImage, size: u32, antialias: bool) -> RgbImage {
    let (width, height) = shorter_side_size(image.width(), image.height(), size);
    resize(image, width, height, antialias)
}

/// Copies `crop` out of `image`.
///
/// # Panics
/// When the crop box leaves the image.
pub fn crop_image(image: &RgbImage, crop: CropBox) -> RgbImage {
    assert!(
        crop.left + crop.width <= image.width() && crop.top + crop.height <= image.height(),
        "crop {crop:?} does not fit in a {}x{} image",
        image.width(),
        image.height()
    );
    let stride = image.width() as usize * 3;
    let mut out = Vec::with_capacity((crop.width * crop.height * 3) as usize);
    for y in crop.top..crop.top + crop.height {
        let start = y as usize * stride + crop.left as usize * 3;
        out.extend_from_slice(&image.as_raw()[start..start + crop.width as usize * 3]);
    }
    RgbImage::from_raw(crop.width, crop.height, out).expect("buffer matches the crop size")
}

/// Python's `int(round(x / 2))` for a non-negative integer `x` (round half to even).
fn half_rounded_even(x: u32) -> u32 {
    let floor = x / 2;
    if x % 2 == 1 && floor % 2 == 1 {
        floor + 1
    } else {
        floor
    }
}

/// Crops the centre `width` x `height`, as torchvision's `center_crop`: offsets are
/// `round((H - h) / 2)` and `round((W - w) / 2)` (half to even). A crop larger than the image
/// first pads it with black on each side (`(w - W) // 2` left, the rest right), as torchvision
/// does.
pub fn center_crop(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    let image = if width > image.width() || height > image.height() {
        let pad_left = width.saturating_sub(image.width()) / 2;
        let pad_top = height.saturating_sub(image.height()) / 2;
        let new_width = image.width().max(width);
        let new_height = image.height().max(height);
        let mut padded = RgbImage::new(new_width, new_height);
        image::imageops::replace(&mut padded, image, pad_left as i64, pad_top as i64);
        std::borrow::Cow::Owned(padded)
    } else {
        std::borrow::Cow::Borrowed(image)
    };
    let top = half_rounded_even(image.height() - height);
    let left = half_rounded_even(image.width() - width);
    crop_image(
        &image,
        CropBox {
            top,
            left,
            height,
            width,
        },
    )
}

/// Mirrors the image left to right, in place.
pub fn hflip_mut(image: &mut RgbImage) {
    let width = image.width() as usize;
    for row in image.chunks_exact_mut(width * 3) {
        for x in 0..width / 2 {
            let (a, b) = (x * 3, (width - 1 - x) * 3);
            for c in 0..3 {
                row.swap(a + c, b + c);
            }
        }
    }
}

/// Mirrors the image left to right, as torchvision's `F.hflip`.
pub fn hflip(image: &RgbImage) -> RgbImage {
    let mut out = image.clone();
    hflip_mut(&mut out);
    out
}

/// Mirrors the image top to bottom, in place.
pub fn vflip_mut(image: &mut RgbImage) {
    let (stride, height) = (image.width() as usize * 3, image.height() as usize);
    let buffer: &mut [u8] = image.as_mut();
    for y in 0..height / 2 {
        let (top, bottom) = buffer.split_at_mut((height - 1 - y) * stride);
        top[y * stride..(y + 1) * stride].swap_with_slice(&mut bottom[..stride]);
    }
}

/// Mirrors the image top to bottom, as torchvision's `F.vflip`.
pub fn vflip(image: &RgbImage) -> RgbImage {
    let mut out = image.clone();
    vflip_mut(&mut out);
    out
}

/// Rounds half to even and saturates to 0..=255, as `torch.round` then a uint8 cast of an
/// in-range value.
#[inline]
pub(crate) fn round_to_u8(value: f32) -> u8 {
    value.round_ties_even().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorter_side_size_follows_torchvision() {
        // torchvision: resize(img of H=375, W=500, 256)
        //   -> [256, int(256 * 500 / 375)] = [256, 341].
        assert_eq!(shorter_side_size(500, 375, 256), (341, 256));
        assert_eq!(shorter_side_size(375, 500, 256), (256, 341));
        assert_eq!(shorter_side_size(96, 96, 72), (72, 72));
    }

    #[test]
    fn centre_offsets_round_half_to_even() {
        // Python: round(2.5) == 2, round(3.5) == 4.
        assert_eq!(half_rounded_even(5), 2);
        assert_eq!(half_rounded_even(7), 4);
        assert_eq!(half_rounded_even(8), 4);
    }

    #[test]
    fn resize_of_a_constant_image_is_constant() {
        let image = RgbImage::from_pixel(37, 23, image::Rgb([10, 200, 77]));
        for antialias in [false, true] {
            for (w, h) in [(5, 4), (64, 50), (37, 23), (11, 40)] {
                let out = resize(&image, w, h, antialias);
                assert!(
                    out.pixels().all(|p| p.0 == [10, 200, 77]),
                    "{w}x{h} aa={antialias}"
                );
            }
        }
    }

    #[test]
    fn downscale_by_two_without_antialias_averages_pixel_pairs() {
        // Hand computation: in 4 -> out 2, scale 2, source coords 0.5 and 2.5: the means of
        // columns (0, 1) and (2, 3).
        let row: Vec<u8> = [0u8, 100, 50, 250]
            .iter()
            .flat_map(|&v| [v, v, v])
            .collect();
        let image = RgbImage::from_raw(4, 1, row).unwrap();
        let out = resize(&image, 2, 1, false);
        assert_eq!(out.get_pixel(0, 0).0[0], 50);
        assert_eq!(out.get_pixel(1, 0).0[0], 150);
    }

    #[test]
    fn centre_crop_larger_than_the_image_pads_with_black() {
        let image = RgbImage::from_pixel(2, 2, image::Rgb([9, 9, 9]));
        let out = center_crop(&image, 4, 3);
        assert_eq!((out.width(), out.height()), (4, 3));
        assert_eq!(out.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(out.get_pixel(1, 0).0, [9, 9, 9]);
        assert_eq!(out.get_pixel(3, 2).0, [0, 0, 0]);
    }

    #[test]
    fn flips_twice_are_identity() {
        let image = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8, y as u8, (x * y) as u8]));
        let flipped = hflip(&image);
        assert_eq!(flipped.get_pixel(0, 1).0, [4, 1, 4]);
        assert_eq!(hflip(&flipped), image);
        let flipped = vflip(&image);
        assert_eq!(flipped.get_pixel(1, 0).0, [1, 2, 2]);
        assert_eq!(vflip(&flipped), image);
    }
}
