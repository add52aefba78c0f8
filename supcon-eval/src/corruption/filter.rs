//! Filtering and resampling primitives shared by the corruptions: separable and 2-D
//! convolution with the border rules of scipy and OpenCV, the zoom of `scipy.ndimage`, the
//! motion-blur kernel of ImageMagick and the resampling of Pillow.

use image::RgbImage;

use super::buffer::FloatImage;

/// How a filter reads outside the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Border {
    /// Repeat the edge value (`aaa|abcd|ddd`): scipy's `nearest`, OpenCV's `BORDER_REPLICATE`.
    Nearest,
    /// Half-sample symmetric (`dcba|abcd|dcba`): scipy's `reflect`, OpenCV's `BORDER_REFLECT`.
    Reflect,
    /// Whole-sample symmetric (`dcb|abcd|cba`): scipy's `mirror`, OpenCV's `BORDER_REFLECT_101`.
    Mirror,
}

/// Maps a possibly out-of-range index into `0..n` under `border`.
#[inline]
pub(crate) fn map_index(i: isize, n: usize, border: Border) -> usize {
    let n = n as isize;
    if (0..n).contains(&i) {
        return i as usize;
    }
    let mapped = match border {
        Border::Nearest => i.clamp(0, n - 1),
        Border::Reflect => {
            let m = i.rem_euclid(2 * n);
            if m < n {
                m
            } else {
                2 * n - 1 - m
            }
        }
        Border::Mirror => {
            if n == 1 {
                0
            } else {
                let period = 2 * n - 2;
                let m = i.rem_euclid(period);
                if m < n {
                    m
                } else {
                    period - m
                }
            }
        }
    };
    mapped as usize
}

/// scipy's 1-D Gaussian kernel: radius `int(truncate * sigma + 0.5)`, weights
/// `exp(-x^2 / (2 sigma^2))` for x in -radius..=radius, normalised to sum 1.
pub(crate) fn gaussian_kernel(sigma: f64, truncate: f64) -> Vec<f32> {
    let radius = (truncate * sigma + 0.5) as isize;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 * (x * x) as f64 / (sigma * sigma)).exp())
        .collect();
    let sum: f64 = weights.iter().sum();
    weights.iter().map(|w| (w / sum) as f32).collect()
}

/// `skimage.filters.gaussian` / `scipy.ndimage.gaussian_filter` over the two spatial axes
/// of every channel (the channel axis is not blurred). A `sigma` of 0 leaves the image as is.
pub(crate) fn gaussian_blur(
    image: &FloatImage,
    sigma: f64,
    truncate: f64,
    border: Border,
) -> FloatImage {
    if sigma <= 1e-15 {
        return image.clone();
    }
    let kernel = gaussian_kernel(sigma, truncate);
    separable_filter(image, &kernel, &kernel, border)
}

/// Correlates every channel with `row_kernel` along x, then with `column_kernel` along y.
/// Kernels have odd lengths and are centred.
pub(crate) fn separable_filter(
    image: &FloatImage,
    row_kernel: &[f32],
    column_kernel: &[f32],
    border: Border,
) -> FloatImage {
    let rows = filter_rows(image, row_kernel, border);
    filter_columns(&rows, column_kernel, border)
}

/// For each output index, the folded weights over the input indices `0..n` (a dense n x n
/// matrix, row-major). Used when the kernel is longer than the signal, where reflection
/// would visit the same sample several times.
fn folded_weights(kernel: &[f32], n: usize, border: Border) -> Vec<f32> {
    let radius = (kernel.len() / 2) as isize;
    let mut matrix = vec![0.0f32; n * n];
    for i in 0..n {
        for (k, &w) in kernel.iter().enumerate() {
            let j = map_index(i as isize + k as isize - radius, n, border);
            matrix[i * n + j] += w;
        }
    }
    matrix
}

fn filter_rows(image: &FloatImage, kernel: &[f32], border: Border) -> FloatImage {
    let (width, height, channels) = (image.width, image.height, image.channels);
    let radius = kernel.len() / 2;
    let row_len = width * channels;
    let mut out = FloatImage::zeros(width, height, channels);

    if kernel.len() > width {
        let matrix = folded_weights(kernel, width, border);
        for y in 0..height {
            let src = &image.data[y * row_len..(y + 1) * row_len];
            let dst = &mut out.data[y * row_len..(y + 1) * row_len];
            for x in 0..width {
                let weights = &matrix[x * width..(x + 1) * width];
                for c in 0..channels {
                    dst[x * channels + c] = weights
                        .iter()
                        .enumerate()
                        .map(|(j, w)| w * src[j * channels + c])
                        .sum();
                }
            }
        }
        return out;
    }

    // Pad each row once, then accumulate one shifted copy per tap (vectorises well).
    let mut padded = vec![0.0f32; (width + 2 * radius) * channels];
    for y in 0..height {
        let src = &image.data[y * row_len..(y + 1) * row_len];
        for p in 0..width + 2 * radius {
            let x = map_index(p as isize - radius as isize, width, border);
            padded[p * channels..(p + 1) * channels]
                .copy_from_slice(&src[x * channels..(x + 1) * channels]);
        }
        let dst = &mut out.data[y * row_len..(y + 1) * row_len];
        for (k, &w) in kernel.iter().enumerate() {
            let shifted = &padded[k * channels..k * channels + row_len];
            for (d, s) in dst.iter_mut().zip(shifted) {
                *d += w * s;
            }
        }
    }
    out
}

fn filter_columns(image: &FloatImage, kernel: &[f32], border: Border) -> FloatImage {
    let (width, height, channels) = (image.width, image.height, image.channels);
    let radius = (kernel.len() / 2) as isize;
    let row_len = width * channels;
    let mut out = FloatImage::zeros(width, height, channels);

    let matrix = (kernel.len() > height).then(|| folded_weights(kernel, height, border));
    for y in 0..height {
        let dst = &mut out.data[y * row_len..(y + 1) * row_len];
        let mut accumulate = |source_row: usize, w: f32| {
            let src = &image.data[source_row * row_len..(source_row + 1) * row_len];
            for (d, s) in dst.iter_mut().zip(src) {
                *d += w * s;
            }
        };
        match &matrix {
            Some(matrix) => {
                for (j, &w) in matrix[y * height..(y + 1) * height].iter().enumerate() {
                    if w != 0.0 {
                        accumulate(j, w);
                    }
                }
            }
            None => {
                for (k, &w) in kernel.iter().enumerate() {
                    accumulate(
                        map_index(y as isize + k as isize - radius, height, border),
                        w,
                    );
                }
            }
        }
    }
    out
}

/// Correlates every channel with a square 2-D kernel (`size x size`, row-major, centred), as
/// OpenCV's `filter2D` does.
pub(crate) fn filter_2d(
    image: &FloatImage,
    kernel: &[f32],
    size: usize,
    border: Border,
) -> FloatImage {
    assert_eq!(
        kernel.len(),
        size * size,
        "a {size}x{size} kernel needs {} weights",
        size * size
    );
    let (width, height, channels) = (image.width, image.height, image.channels);
    let radius = size / 2;
    let padded_width = width + 2 * radius;
    let padded_row = padded_width * channels;
    let row_len = width * channels;

    // Pad once on all sides; then each output row is a sum of shifted padded rows.
    let mut padded = vec![0.0f32; padded_row * (height + 2 * radius)];
    for py in 0..height + 2 * radius {
        let y = map_index(py as isize - radius as isize, height, border);
        for px in 0..padded_width {
            let x = map_index(px as isize - radius as isize, width, border);
            let src = (y * width + x) * channels;
            let dst = py * padded_row + px * channels;
            padded[dst..dst + channels].copy_from_slice(&image.data[src..src + channels]);
        }
    }

    let mut out = FloatImage::zeros(width, height, channels);
    for y in 0..height {
        let dst = &mut out.data[y * row_len..(y + 1) * row_len];
        for ky in 0..size {
            let row = &padded[(y + ky) * padded_row..(y + ky + 1) * padded_row];
            for kx in 0..size {
                let w = kernel[ky * size + kx];
                if w == 0.0 {
                    continue;
                }
                let shifted = &row[kx * channels..kx * channels + row_len];
                for (d, s) in dst.iter_mut().zip(shifted) {
                    *d += w * s;
                }
            }
        }
    }
    out
}

/// Python's `round` on a non-negative float: halves go to the even neighbour.
pub(crate) fn round_half_even(value: f64) -> f64 {
    let rounded = value.round();
    if (value - value.trunc()).abs() == 0.5 && rounded % 2.0 != 0.0 {
        rounded - value.signum()
    } else {
        rounded
    }
}

/// Linear-interpolation taps along one axis: output index `o` reads
/// `(1 - frac) * in[lower] + frac * in[upper]`.
#[derive(Clone, Copy, Debug)]
struct Tap {
    lower: usize,
    upper: usize,
    frac: f32,
}

/// The taps of the benchmark's `clipped_zoom` along one axis of length `n`: crop the central
/// `ceil(n / zoom)` samples, zoom them with `scipy.ndimage.zoom(order=1)` (corner-aligned:
/// input = output * (crop - 1) / (zoomed - 1), zoomed = round(crop * zoom)), then keep the
/// central `n` samples.
fn clipped_zoom_taps(n: usize, zoom: f64) -> Vec<Tap> {
    let crop = (n as f64 / zoom).ceil() as usize;
    let crop = crop.clamp(1, n);
    let top = (n - crop) / 2;
    let zoomed = round_half_even(crop as f64 * zoom) as usize;
    let trim = zoomed.saturating_sub(n) / 2;
    let scale = if zoomed > 1 {
        (crop - 1) as f64 / (zoomed - 1) as f64
    } else {
        0.0
    };
    (0..n)
        .map(|o| {
            let coordinate = ((o + trim) as f64 * scale).clamp(0.0, (crop - 1) as f64);
            let lower = coordinate.floor() as usize;
            let upper = (lower + 1).min(crop - 1);
            Tap {
                lower: top + lower,
                upper: top + upper,
                frac: (coordinate - lower as f64) as f32,
            }
        })
        .collect()
}

/// The benchmark's `clipped_zoom`: zooms into the centre of the image by `zoom` (>= 1) with
/// bilinear interpolation and keeps the original size.
pub(crate) fn clipped_zoom(image: &FloatImage, zoom: f64) -> FloatImage {
    let (width, height, channels) = (image.width, image.height, image.channels);
    let x_taps = clipped_zoom_taps(width, zoom);
    let y_taps = clipped_zoom_taps(height, zoom);
    let row_len = width * channels;

    // Horizontal pass over the rows that the vertical pass reads.
    let first_row = y_taps.iter().map(|t| t.lower).min().unwrap_or(0);
    let last_row = y_taps.iter().map(|t| t.upper).max().unwrap_or(0);
    let mut rows = vec![0.0f32; (last_row + 1 - first_row) * row_len];
    for y in first_row..=last_row {
        let src = &image.data[y * row_len..(y + 1) * row_len];
        let dst = &mut rows[(y - first_row) * row_len..(y - first_row + 1) * row_len];
        for (x, tap) in x_taps.iter().enumerate() {
            for c in 0..channels {
                let a = src[tap.lower * channels + c];
                let b = src[tap.upper * channels + c];
                dst[x * channels + c] = a + tap.frac * (b - a);
            }
        }
    }

    let mut out = FloatImage::zeros(width, height, channels);
    for (y, tap) in y_taps.iter().enumerate() {
        let a = &rows[(tap.lower - first_row) * row_len..(tap.lower - first_row + 1) * row_len];
        let b = &rows[(tap.upper - first_row) * row_len..(tap.upper - first_row + 1) * row_len];
        let dst = &mut out.data[y * row_len..(y + 1) * row_len];
        for ((d, a), b) in dst.iter_mut().zip(a).zip(b) {
            *d = a + tap.frac * (b - a);
        }
    }
    out
}

/// ImageMagick 6's motion blur (`MotionBlurImage`): a one-sided kernel of
/// `width = 2 ceil(radius) + 1` taps with weights `exp(-i^2 / (2 sigma^2))` (i = 0..width,
/// normalised), tap i reading the pixel at `(x + round(i cos angle), y + round(i sin angle))`
/// with edge pixels repeated outside the image. Values are rounded to grey levels, as writing
/// the result to an 8-bit PNG does.
pub(crate) fn motion_blur(
    image: &FloatImage,
    radius: f64,
    sigma: f64,
    angle_degrees: f64,
) -> FloatImage {
    let taps = 2 * radius.ceil() as usize + 1;
    let weights: Vec<f64> = (0..taps)
        .map(|i| (-((i * i) as f64) / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = weights.iter().sum();
    let angle = angle_degrees.to_radians();
    // IM rounds with ceil(v - 0.5).
    let offsets: Vec<(isize, isize, f32)> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let dx = (i as f64 * angle.cos() - 0.5).ceil() as isize;
            let dy = (i as f64 * angle.sin() - 0.5).ceil() as isize;
            (dx, dy, (w / sum) as f32)
        })
        .collect();

    let (width, height, channels) = (image.width, image.height, image.channels);
    let mut out = FloatImage::zeros(width, height, channels);
    for y in 0..height {
        for x in 0..width {
            let dst = (y * width + x) * channels;
            for &(dx, dy, w) in &offsets {
                let sx = (x as isize + dx).clamp(0, width as isize - 1) as usize;
                let sy = (y as isize + dy).clamp(0, height as isize - 1) as usize;
                let src = (sy * width + sx) * channels;
                for c in 0..channels {
                    out.data[dst + c] += w * image.data[src + c];
                }
            }
            for c in 0..channels {
                let v = &mut out.data[dst + c];
                *v = v.round();
            }
        }
    }
    out
}

/// The resampling filters of Pillow used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PilFilter {
    /// `Image.BOX`: support 0.5.
    Box,
    /// `Image.BILINEAR`: a triangle of support 1.
    Bilinear,
}

impl PilFilter {
    fn support(self) -> f64 {
        match self {
            PilFilter::Box => 0.5,
            PilFilter::Bilinear => 1.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        match self {
            PilFilter::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            PilFilter::Bilinear => {
                let x = x.abs();
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
        }
    }
}

/// Pillow's fixed-point precision for 8-bit resampling.
const PIL_PRECISION_BITS: u32 = 32 - 8 - 2;

/// Pillow's per-output-pixel coefficients for resampling `in_size` samples to `out_size`
/// (antialiased when shrinking): for each output, the first input and the fixed-point weights.
fn pil_coefficients(in_size: usize, out_size: usize, filter: PilFilter) -> Vec<(usize, Vec<i64>)> {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = filter.support() * filter_scale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let xmin = ((center - support + 0.5) as isize).max(0) as usize;
            let xmax = ((center + support + 0.5) as isize).min(in_size as isize) as usize;
            let weights: Vec<f64> = (xmin..xmax)
                .map(|x| filter.weight((x as f64 - center + 0.5) / filter_scale))
                .collect();
            let total: f64 = weights.iter().sum();
            let fixed = weights
                .iter()
                .map(|w| {
                    let w = if total != 0.0 { w / total } else { 0.0 };
                    let scaled = w * (1i64 << PIL_PRECISION_BITS) as f64;
                    if scaled < 0.0 {
                        (scaled - 0.5) as i64
                    } else {
                        (scaled + 0.5) as i64
                    }
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

fn pil_clip(sum: i64) -> u8 {
    (sum >> PIL_PRECISION_BITS).clamp(0, 255) as u8
}

/// `PIL.Image.resize((width, height), filter)` on an 8-bit RGB image: a horizontal pass, then
/// a vertical pass, each in Pillow's fixed-point arithmetic with an 8-bit intermediate.
pub(crate) fn pil_resize(image: &RgbImage, width: u32, height: u32, filter: PilFilter) -> RgbImage {
    let (in_width, in_height) = (image.width() as usize, image.height() as usize);
    let (out_width, out_height) = (width as usize, height as usize);
    let half = 1i64 << (PIL_PRECISION_BITS - 1);

    let horizontal = if out_width != in_width {
        let coefficients = pil_coefficients(in_width, out_width, filter);
        let src = image.as_raw();
        let mut data = vec![0u8; out_width * in_height * 3];
        for y in 0..in_height {
            for (x, (xmin, weights)) in coefficients.iter().enumerate() {
                for c in 0..3 {
                    let mut sum = half;
                    for (k, w) in weights.iter().enumerate() {
                        sum += i64::from(src[(y * in_width + xmin + k) * 3 + c]) * w;
                    }
                    data[(y * out_width + x) * 3 + c] = pil_clip(sum);
                }
            }
        }
        RgbImage::from_raw(width, in_height as u32, data).expect("sizes match")
    } else {
        image.clone()
    };

    if out_height == in_height {
        return horizontal;
    }
    let coefficients = pil_coefficients(in_height, out_height, filter);
    let src = horizontal.as_raw();
    let row_len = out_width * 3;
    let mut data = vec![0u8; row_len * out_height];
    for (y, (ymin, weights)) in coefficients.iter().enumerate() {
        for i in 0..row_len {
            let mut sum = half;
            for (k, w) in weights.iter().enumerate() {
                sum += i64::from(src[(ymin + k) * row_len + i]) * w;
            }
            data[y * row_len + i] = pil_clip(sum);
        }
    }
    RgbImage::from_raw(width, height, data).expect("sizes match")
}

/// OpenCV's `resize(INTER_LINEAR)`: half-pixel-centred bilinear interpolation without
/// antialiasing, edge samples repeated.
pub(crate) fn bilinear_resize(image: &FloatImage, width: usize, height: usize) -> FloatImage {
    let taps = |n_in: usize, n_out: usize| -> Vec<Tap> {
        let scale = n_in as f64 / n_out as f64;
        (0..n_out)
            .map(|o| {
                let coordinate = ((o as f64 + 0.5) * scale - 0.5).max(0.0);
                let lower = (coordinate.floor() as usize).min(n_in - 1);
                let upper = (lower + 1).min(n_in - 1);
                Tap {
                    lower,
                    upper,
                    frac: (coordinate - lower as f64).min(1.0) as f32,
                }
            })
            .collect()
    };
    let x_taps = taps(image.width, width);
    let y_taps = taps(image.height, height);
    let channels = image.channels;
    let mut out = FloatImage::zeros(width, height, channels);
    for (y, ty) in y_taps.iter().enumerate() {
        for (x, tx) in x_taps.iter().enumerate() {
            for c in 0..channels {
                let at = |yy: usize, xx: usize| image.data[(yy * image.width + xx) * channels + c];
                let top = at(ty.lower, tx.lower)
                    + tx.frac * (at(ty.lower, tx.upper) - at(ty.lower, tx.lower));
                let bottom = at(ty.upper, tx.lower)
                    + tx.frac * (at(ty.upper, tx.upper) - at(ty.upper, tx.lower));
                out.data[(y * width + x) * channels + c] = top + ty.frac * (bottom - top);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn border_rules_match_scipy_modes() {
        // scipy.ndimage mode docs: nearest aaaa|abcd|dddd, reflect dcba|abcd|dcba,
        // mirror dcb|abcd|cba.
        let n = 4;
        let at = |b| (-3..7).map(|i| map_index(i, n, b)).collect::<Vec<_>>();
        assert_eq!(at(Border::Nearest), [0, 0, 0, 0, 1, 2, 3, 3, 3, 3]);
        assert_eq!(at(Border::Reflect), [2, 1, 0, 0, 1, 2, 3, 3, 2, 1]);
        assert_eq!(at(Border::Mirror), [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
    }

    #[test]
    fn gaussian_kernel_has_scipy_radius_and_unit_sum() {
        // radius = int(4 * 1.5 + 0.5) = 6 -> 13 taps.
        let kernel = gaussian_kernel(1.5, 4.0);
        assert_eq!(kernel.len(), 13);
        assert!((kernel.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(kernel[6] > kernel[5] && (kernel[5] - kernel[7]).abs() < 1e-9);
    }

    #[test]
    fn long_kernels_fold_onto_short_signals() {
        // A kernel much longer than the image must still preserve a constant image.
        let image = FloatImage::from_vec(5, 3, 1, vec![0.25; 15]);
        let out = gaussian_blur(&image, 10.0, 3.0, Border::Reflect);
        assert!(
            out.data.iter().all(|v| (v - 0.25).abs() < 1e-5),
            "{:?}",
            out.data
        );
    }

    #[test]
    fn clipped_zoom_of_one_is_identity() {
        let data: Vec<f32> = (0..48).map(|v| v as f32).collect();
        let image = FloatImage::from_vec(4, 4, 3, data);
        assert_eq!(clipped_zoom(&image, 1.0), image);
    }

    #[test]
    fn python_rounding_sends_halves_to_even() {
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(3.5), 4.0);
        assert_eq!(round_half_even(224.4), 224.0);
    }

    #[test]
    fn pil_box_halving_averages_pairs() {
        // Box filter halving a 4x1 row: output = rounded mean of each pair.
        let image =
            RgbImage::from_raw(4, 1, vec![0, 0, 0, 10, 10, 10, 20, 20, 20, 31, 31, 31]).unwrap();
        let out = pil_resize(&image, 2, 1, PilFilter::Box);
        assert_eq!(out.as_raw(), &[5, 5, 5, 26, 26, 26]);
    }

    #[test]
    fn motion_blur_with_tiny_sigma_is_identity() {
        let data: Vec<f32> = (0..27).map(|v| v as f32).collect();
        let image = FloatImage::from_vec(3, 3, 3, data);
        let out = motion_blur(&image, 2.0, 0.01, 30.0);
        assert_eq!(out, image);
    }
}
