//! Tone operations of AutoAugment and RandAugment (posterize, solarize, invert, autocontrast,
//! equalize, sharpness), matching torchvision's uint8 tensor path.

use image::RgbImage;

use super::resize::round_to_u8;

/// Keeps the `bits` most significant bits of every value (`x & !(2^(8 - bits) - 1)`), as
/// `F.posterize`.
///
/// # Panics
/// When `bits > 8`.
pub fn posterize_mut(image: &mut RgbImage, bits: u8) {
    assert!(bits <= 8, "posterize keeps 0..=8 bits, got {bits}");
    let mask = if bits == 0 { 0 } else { 0xFFu8 << (8 - bits) };
    image.iter_mut().for_each(|v| *v &= mask);
}

/// Inverts every value at or above `threshold` (`255 - x` where `x >= threshold`), as
/// `F.solarize`.
pub fn solarize_mut(image: &mut RgbImage, threshold: f64) {
    image.iter_mut().for_each(|v| {
        if *v as f64 >= threshold {
            *v = 255 - *v;
        }
    });
}

/// `255 - x` for every value, as `F.invert`.
pub fn invert_mut(image: &mut RgbImage) {
    image.iter_mut().for_each(|v| *v = 255 - *v);
}

/// Stretches each channel to the full range: `(x - min) * 255 / (max - min)` in float32,
/// truncated; a constant channel is left as it is. As `F.autocontrast`.
pub fn autocontrast_mut(image: &mut RgbImage) {
    for c in 0..3 {
        let values = image.iter().skip(c).step_by(3);
        let (min, max) = values.fold((255u8, 0u8), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        if min == max {
            continue;
        }
        let minimum = min as f32;
        let scale = 255.0f32 / (max as f32 - minimum);
        let lut: Vec<u8> = (0..=255u8)
            .map(|v| ((v as f32 - minimum) * scale).clamp(0.0, 255.0) as u8)
            .collect();
        image
            .iter_mut()
            .skip(c)
            .step_by(3)
            .for_each(|v| *v = lut[*v as usize]);
    }
}

/// Equalises the histogram of each channel, as `F.equalize`: with `step` the sum of the
/// non-empty histogram bins except the last non-empty one, integer-divided by 255, the value `v`
/// maps to `(cumsum(hist)[v - 1] + step / 2) / step` (0 for `v = 0`), clamped to 255; a channel
/// with `step == 0` is left as it is.
pub fn equalize_mut(image: &mut RgbImage) {
    for c in 0..3 {
        let mut histogram = [0u64; 256];
        image
            .iter()
            .skip(c)
            .step_by(3)
            .for_each(|&v| histogram[v as usize] += 1);
        let last_nonzero = histogram.iter().rposition(|&n| n > 0).unwrap_or(0);
        let step = (histogram.iter().sum::<u64>() - histogram[last_nonzero]) / 255;
        if step == 0 {
            continue;
        }
        let mut lut = [0u8; 256];
        let mut cumulative = 0u64;
        for v in 0..256 {
            // The table is shifted right by one: entry v holds the value computed for v - 1.
            lut[v] = ((cumulative + step / 2) / step).min(255) as u8;
            cumulative += histogram[v];
        }
        lut[0] = 0;
        image
            .iter_mut()
            .skip(c)
            .step_by(3)
            .for_each(|v| *v = lut[*v as usize]);
    }
}

/// Blends with a smoothed copy (`factor` 0 gives the smoothed image, 1 the original, 2 sharpens),
/// as `F.adjust_sharpness`. The smoothed copy is the 3x3 kernel `[[1,1,1],[1,5,1],[1,1,1]] / 13`
/// rounded to uint8 inside the image and the original on the one-pixel border; images of width
/// or height at most 2 are returned unchanged.
///
/// # Panics
/// When `factor` is negative.
pub fn adjust_sharpness_mut(image: &mut RgbImage, factor: f64) {
    assert!(
        factor >= 0.0,
        "sharpness factor must be non-negative, got {factor}"
    );
    let (width, height) = (image.width() as usize, image.height() as usize);
    if width <= 2 || height <= 2 {
        return;
    }
    let original = image.as_raw().clone();
    let stride = width * 3;
    let (edge, centre) = (1.0f32 / 13.0, 5.0f32 / 13.0);
    let (f, g) = (factor as f32, (1.0 - factor) as f32);
    let out = image.as_mut();
    for y in 1..height - 1 {
        for x in 1..width - 1 {
            for c in 0..3 {
                let at =
                    |dy: usize, dx: usize| original[(y + dy - 1) * stride + (x + dx - 1) * 3 + c];
                let mut sum = 0.0f32;
                for dy in 0..3 {
                    for dx in 0..3 {
                        let weight = if dy == 1 && dx == 1 { centre } else { edge };
                        sum += weight * at(dy, dx) as f32;
                    }
                }
                let smooth = round_to_u8(sum) as f32;
                let i = y * stride + x * 3 + c;
                out[i] = (f * original[i] as f32 + g * smooth).clamp(0.0, 255.0) as u8;
            }
        }
    }
    // On the border the smoothed copy equals the original, so the blend is f*x + (1-f)*x.
    for y in 0..height {
        for x in 0..width {
            if y == 0 || x == 0 || y == height - 1 || x == width - 1 {
                for c in 0..3 {
                    let i = y * stride + x * 3 + c;
                    let v = original[i] as f32;
                    out[i] = (f * v + g * v).clamp(0.0, 255.0) as u8;
                }
            }
        }
    }
}

/// Copying form of [`posterize_mut`].
pub fn posterize(image: &RgbImage, bits: u8) -> RgbImage {
    let mut out = image.clone();
    posterize_mut(&mut out, bits);
    out
}

/// Copying form of [`solarize_mut`].
pub fn solarize(image: &RgbImage, threshold: f64) -> RgbImage {
    let mut out = image.clone();
    solarize_mut(&mut out, threshold);
    out
}

/// Copying form of [`invert_mut`].
pub fn invert(image: &RgbImage) -> RgbImage {
    let mut out = image.clone();
    invert_mut(&mut out);
    out
}

/// Copying form of [`autocontrast_mut`].
pub fn autocontrast(image: &RgbImage) -> RgbImage {
    let mut out = image.clone();
    autocontrast_mut(&mut out);
    out
}

/// Copying form of [`equalize_mut`].
pub fn equalize(image: &RgbImage) -> RgbImage {
    let mut out = image.clone();
    equalize_mut(&mut out);
    out
}

/// Copying form of [`adjust_sharpness_mut`].
pub fn adjust_sharpness(image: &RgbImage, factor: f64) -> RgbImage {
    let mut out = image.clone();
    adjust_sharpness_mut(&mut out, factor);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp() -> RgbImage {
        RgbImage::from_fn(16, 16, |x, y| {
            image::Rgb([(x * 16 + y) as u8, 40 + x as u8, 200])
        })
    }

    #[test]
    fn posterize_and_solarize_by_hand() {
        let mut image = RgbImage::from_raw(1, 1, vec![0b1011_0111, 141, 142]).unwrap();
        posterize_mut(&mut image, 3);
        assert_eq!(image.as_raw(), &[0b1010_0000, 128, 128]);
        let mut image = RgbImage::from_raw(1, 1, vec![10, 141, 142]).unwrap();
        solarize_mut(&mut image, 141.666);
        assert_eq!(image.as_raw(), &[10, 141, 113]);
    }

    #[test]
    fn equalize_of_a_uniform_ramp_is_identity() {
        // The red channel holds each value 0..=255 once: step = 255 // 255 = 1 and the table maps
        // v to cumsum[v - 1] = v, so equalising changes nothing. The constant blue channel has
        // step 0 and is left unchanged.
        let image = ramp();
        let out = equalize(&image);
        for (a, b) in image.pixels().zip(out.pixels()) {
            assert_eq!(a.0[0], b.0[0]);
            assert_eq!(b.0[2], 200);
        }
    }

    #[test]
    fn autocontrast_stretches_to_full_range() {
        let out = autocontrast(&ramp());
        let green: Vec<u8> = out.pixels().map(|p| p.0[1]).collect();
        assert_eq!(*green.iter().min().unwrap(), 0);
        assert_eq!(*green.iter().max().unwrap(), 255);
        assert!(
            out.pixels().all(|p| p.0[2] == 200),
            "a constant channel stays unchanged"
        );
    }

    #[test]
    fn sharpness_of_one_and_invert_twice_are_identity() {
        let image = ramp();
        assert_eq!(adjust_sharpness(&image, 1.0), image);
        assert_eq!(invert(&invert(&image)), image);
    }
}
