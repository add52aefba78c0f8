//! Colour adjustments on 8-bit RGB images, matching torchvision's uint8 tensor path.
//!
//! Blends compute `f * image + (1 - f) * other` in float32, clamp to 0..=255 and truncate to
//! uint8 (a cast, not a rounding), as torchvision's `_blend` does. Each function has an in-place
//! `_mut` form that the random transforms use to avoid copies.

use image::RgbImage;

/// ITU-R 601 luma weights as torchvision writes them: `0.2989 r + 0.587 g + 0.114 b`.
const LUMA: [f32; 3] = [0.2989, 0.587, 0.114];

/// The grey level of one pixel: `(0.2989 r + 0.587 g) + 0.114 b` in float32, truncated.
#[inline]
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    (LUMA[0] * r as f32 + LUMA[1] * g as f32 + LUMA[2] * b as f32) as u8
}

/// `f * x + (1 - f) * other` in float32, clamped and truncated to uint8.
#[inline]
fn blend(x: u8, other: f32, factor: f32, complement: f32) -> u8 {
    (factor * x as f32 + complement * other).clamp(0.0, 255.0) as u8
}

/// The two blend coefficients as torchvision forms them: `f` and `1 - f` computed in double
/// precision, each then rounded to float32.
#[inline]
fn coefficients(factor: f64) -> (f32, f32) {
    (factor as f32, (1.0 - factor) as f32)
}

/// Scales every value by `factor` (0 gives black, 1 the original), as `F.adjust_brightness`.
///
/// # Panics
/// When `factor` is negative.
pub fn adjust_brightness_mut(image: &mut RgbImage, factor: f64) {
    assert!(
        factor >= 0.0,
        "brightness factor must be non-negative, got {factor}"
    );
    let (f, _) = coefficients(factor);
    // A pure function of the value: tabulate the 256 results (same float32 formula).
    let table: [u8; 256] = std::array::from_fn(|v| (f * v as f32).clamp(0.0, 255.0) as u8);
    image.iter_mut().for_each(|v| *v = table[*v as usize]);
}

/// Copying form of [`adjust_brightness_mut`].
pub fn adjust_brightness(image: &RgbImage, factor: f64) -> RgbImage {
    let mut out = image.clone();
    adjust_brightness_mut(&mut out, factor);
    out
}

/// The mean grey level of the image (the grey image truncated to uint8, then averaged), the
/// pivot of [`adjust_contrast`].
pub fn mean_luma(image: &RgbImage) -> f32 {
    let total: u64 = image
        .pixels()
        .map(|p| luma(p.0[0], p.0[1], p.0[2]) as u64)
        .sum();
    (total as f64 / (image.width() as f64 * image.height() as f64)) as f32
}

/// Blends with the image's mean grey level (0 gives flat grey, 1 the original), as
/// `F.adjust_contrast`.
///
/// # Panics
/// When `factor` is negative.
pub fn adjust_contrast_mut(image: &mut RgbImage, factor: f64) {
    assert!(
        factor >= 0.0,
        "contrast factor must be non-negative, got {factor}"
    );
    let mean = mean_luma(image);
    let (f, g) = coefficients(factor);
    let table: [u8; 256] = std::array::from_fn(|v| blend(v as u8, mean, f, g));
    image.iter_mut().for_each(|v| *v = table[*v as usize]);
}

/// Copying form of [`adjust_contrast_mut`].
pub fn adjust_contrast(image: &RgbImage, factor: f64) -> RgbImage {
    let mut out = image.clone();
    adjust_contrast_mut(&mut out, factor);
    out
}

/// Blends each pixel with its own grey level (0 gives greyscale, 1 the original, 2 doubles the
/// saturation), as `F.adjust_saturation`.
///
/// # Panics
/// When `factor` is negative.
pub fn adjust_saturation_mut(image: &mut RgbImage, factor: f64) {
    assert!(
        factor >= 0.0,
        "saturation factor must be non-negative, got {factor}"
    );
    let (f, g) = coefficients(factor);
    for_each_pixel_planar(image, |r, gr, b| {
        let grey = luma_f32(r, gr, b);
        (
            blend_f32(r, grey, f, g),
            blend_f32(gr, grey, f, g),
            blend_f32(b, grey, f, g),
        )
    });
}

/// Copying form of [`adjust_saturation_mut`].
pub fn adjust_saturation(image: &RgbImage, factor: f64) -> RgbImage {
    let mut out = image.clone();
    adjust_saturation_mut(&mut out, factor);
    out
}

/// Replaces every pixel by its grey level in all three channels, as
/// `F.rgb_to_grayscale(img, num_output_channels=3)`.
pub fn grayscale_mut(image: &mut RgbImage) {
    for p in image.chunks_exact_mut(3) {
        let grey = luma(p[0], p[1], p[2]);
        p.fill(grey);
    }
}

/// Copying form of [`grayscale_mut`].
pub fn grayscale(image: &RgbImage) -> RgbImage {
    let mut out = image.clone();
    grayscale_mut(&mut out);
    out
}

/// Rotates the hue by `factor` turns (in -0.5..=0.5), as `F.adjust_hue`: RGB / 255 -> HSV in
/// float32, `h = (h + factor) mod 1`, back to RGB, then `trunc(x * 255.999)`.
///
/// # Panics
/// When `factor` is outside -0.5..=0.5.
pub fn adjust_hue_mut(image: &mut RgbImage, factor: f64) {
    assert!(
        (-0.5..=0.5).contains(&factor),
        "hue factor must be in [-0.5, 0.5], got {factor}"
    );
    let shift = factor as f32;
    for_each_pixel_planar(image, |r, g, b| {
        let [r, g, b] = shift_hue_unit(r / 255.0, g / 255.0, b / 255.0, shift);
        (r * 255.999, g * 255.999, b * 255.999)
    });
}

/// Pixels per block of [`for_each_pixel_planar`].
const BLOCK: usize = 64;

/// Applies `f` to every pixel, passing the channel values as floats (0..=255) and storing the
/// returned floats (in 0..256) back as bytes, truncated.
///
/// Pixels go through in blocks of [`BLOCK`], de-interleaved into three arrays, so that a
/// branch-free `f` runs on whole vectors (it must avoid float-to-integer casts and library
/// calls such as `floor`, which stop vectorisation on baseline x86-64).
#[inline(always)]
fn for_each_pixel_planar(image: &mut RgbImage, f: impl Fn(f32, f32, f32) -> (f32, f32, f32)) {
    let mut red = [0.0f32; BLOCK];
    let mut green = [0.0f32; BLOCK];
    let mut blue = [0.0f32; BLOCK];
    for block in image.chunks_mut(BLOCK * 3) {
        let n = block.len() / 3;
        for (i, p) in block.chunks_exact(3).enumerate() {
            red[i] = p[0] as f32;
            green[i] = p[1] as f32;
            blue[i] = p[2] as f32;
        }
        for i in 0..BLOCK {
            (red[i], green[i], blue[i]) = f(red[i], green[i], blue[i]);
        }
        for (i, p) in block.chunks_exact_mut(3).enumerate().take(n) {
            p[0] = red[i] as u8;
            p[1] = green[i] as u8;
            p[2] = blue[i] as u8;
        }
    }
}

/// `floor(x)` for `0 <= x < 2^22` with float operations only: round to an integer by adding and
/// removing 2^23, then step down if that rounded up.
#[inline(always)]
fn floor_small(x: f32) -> f32 {
    const SHIFT: f32 = 8_388_608.0;
    let rounded = (x + SHIFT) - SHIFT;
    if rounded > x {
        rounded - 1.0
    } else {
        rounded
    }
}

/// [`luma`] on float inputs, returning the truncated grey level as a float.
#[inline(always)]
fn luma_f32(r: f32, g: f32, b: f32) -> f32 {
    floor_small(LUMA[0] * r + LUMA[1] * g + LUMA[2] * b)
}

/// [`blend`] before truncation (the caller truncates when storing).
#[inline(always)]
fn blend_f32(x: f32, other: f32, factor: f32, complement: f32) -> f32 {
    (factor * x + complement * other).clamp(0.0, 255.0)
}

/// Copying form of [`adjust_hue_mut`].
pub fn adjust_hue(image: &RgbImage, factor: f64) -> RgbImage {
    let mut out = image.clone();
    adjust_hue_mut(&mut out, factor);
    out
}

/// One pixel (channels in 0..=1) through torchvision's `_rgb2hsv`, hue shift and `_hsv2rgb`,
/// written without branches so that it vectorises; returns channels in 0..=1.
#[inline(always)]
fn shift_hue_unit(r: f32, g: f32, b: f32, shift: f32) -> [f32; 3] {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let equal = max == min;
    let chroma = max - min;
    let saturation = chroma / if equal { 1.0 } else { max };
    let divisor = if equal { 1.0 } else { chroma };
    let rc = (max - r) / divisor;
    let gc = (max - g) / divisor;
    let bc = (max - b) / divisor;
    let from_green = if max == g {
        2.0 + rc - bc
    } else {
        4.0 + gc - rc
    };
    let hue = if max == r { bc - gc } else { from_green };
    // fmod(h / 6 + 1, 1): the argument lies in [5/6, 2), so one conditional subtraction is
    // exact. Then Python's (h + shift) % 1 for h + shift in (-0.5, 1.5).
    let hue = hue / 6.0 + 1.0;
    let hue = if hue >= 1.0 { hue - 1.0 } else { hue };
    let hue = hue + shift;
    let hue = if hue < 0.0 {
        hue + 1.0
    } else if hue >= 1.0 {
        hue - 1.0
    } else {
        hue
    };

    let value = max;
    let scaled = hue * 6.0;
    // floor(scaled) for scaled in [0, 6], and the sector index modulo 6, as floats.
    let sector = floor_small(scaled);
    let fraction = scaled - sector;
    let sector = if sector >= 6.0 { sector - 6.0 } else { sector };
    let p = (value * (1.0 - saturation)).clamp(0.0, 1.0);
    let q = (value * (1.0 - saturation * fraction)).clamp(0.0, 1.0);
    let t = (value * (1.0 - saturation * (1.0 - fraction))).clamp(0.0, 1.0);
    // Sector k selects (r, g, b) from [v q p p t v], [t v v q p p], [p p t v v q].
    let red = if sector == 0.0 || sector == 5.0 {
        value
    } else if sector == 1.0 {
        q
    } else if sector == 4.0 {
        t
    } else {
        p
    };
    let green = if sector == 1.0 || sector == 2.0 {
        value
    } else if sector == 0.0 {
        t
    } else if sector == 3.0 {
        q
    } else {
        p
    };
    let blue = if sector == 3.0 || sector == 4.0 {
        value
    } else if sector == 2.0 {
        t
    } else if sector == 5.0 {
        q
    } else {
        p
    };
    [red, green, blue]
}

/// HSV to RGB, every component in `[0, 1]` (a hue outside it wraps around), as skimage's
/// `hsv2rgb` computes it for one pixel.
pub fn hsv_to_rgb(hue: f32, saturation: f32, value: f32) -> [f32; 3] {
    let h = (hue * 6.0).rem_euclid(6.0);
    let sector = h.floor();
    let f = h - sector;
    let p = value * (1.0 - saturation);
    let q = value * (1.0 - saturation * f);
    let t = value * (1.0 - saturation * (1.0 - f));
    match sector as u8 {
        0 => [value, t, p],
        1 => [q, value, p],
        2 => [p, value, t],
        3 => [p, q, value],
        4 => [t, p, value],
        _ => [value, p, q],
    }
}

/// One 8-bit pixel through [`shift_hue_unit`], truncated back to 8 bits as torchvision does
/// (`x * 255.999`).
#[cfg(test)]
fn shift_hue(pixel: [u8; 3], shift: f32) -> [u8; 3] {
    let [r, g, b] = pixel.map(|v| v as f32 / 255.0);
    shift_hue_unit(r, g, b, shift).map(|x| (x * 255.999) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_conversion_matches_hand_computed_colours() {
        let cases: [((f32, f32, f32), [f32; 3]); 6] = [
            ((0.0, 1.0, 1.0), [1.0, 0.0, 0.0]),
            ((1.0 / 3.0, 1.0, 1.0), [0.0, 1.0, 0.0]),
            ((2.0 / 3.0, 0.5, 0.8), [0.4, 0.4, 0.8]),
            // Hue 0.1 is 0.6 of the way from red to yellow: green = v (1 - s (1 - 0.6)).
            ((0.1, 0.5, 0.6), [0.6, 0.48, 0.3]),
            ((0.5, 0.0, 0.3), [0.3, 0.3, 0.3]),
            ((1.0, 1.0, 0.5), [0.5, 0.0, 0.0]),
        ];
        for ((h, s, v), expected) in cases {
            let rgb = hsv_to_rgb(h, s, v);
            for c in 0..3 {
                assert!(
                    (rgb[c] - expected[c]).abs() < 1e-5,
                    "hsv({h}, {s}, {v}) = {rgb:?}, expected {expected:?}"
                );
            }
        }
    }

    #[test]
    fn luma_truncates_like_torchvision() {
        // 0.2989 * 255 + 0.587 * 255 + 0.114 * 255 = 254.97 -> 254 (truncated, not rounded).
        assert_eq!(luma(255, 255, 255), 254);
        assert_eq!(luma(100, 0, 0), 29);
    }

    #[test]
    fn hue_shift_of_a_full_turn_fraction_cycles_primaries() {
        // Pure red shifted by 1/3 turn is pure green, by -1/3 pure blue (255 * 255.999 / 255
        // truncates to 255).
        assert_eq!(shift_hue([255, 0, 0], 1.0 / 3.0), [0, 255, 0]);
        assert_eq!(shift_hue([255, 0, 0], -1.0 / 3.0), [0, 0, 255]);
        // Greys have no hue and stay put.
        assert_eq!(shift_hue([77, 77, 77], 0.25), [77, 77, 77]);
    }

    #[test]
    fn factor_one_is_identity() {
        let image = RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8 * 30, y as u8 * 50, 99]));
        assert_eq!(adjust_brightness(&image, 1.0), image);
        assert_eq!(adjust_contrast(&image, 1.0), image);
        assert_eq!(adjust_saturation(&image, 1.0), image);
    }
}
