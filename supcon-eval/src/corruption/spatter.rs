//! Spatter: water drops (a tinted, edge-shaded liquid layer) or mud splashes.

use image::RgbImage;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

use super::buffer::FloatImage;
use super::filter::{self, map_index, Border};
use super::CorruptionParams;

/// OpenCV's `Canny(image, low, high)` with a 3x3 Sobel aperture and the L1 gradient norm:
/// non-maximum suppression along the quantised gradient direction, then hysteresis from the
/// pixels above `high` through 8-connected pixels above `low`. Returns 255 on edges, 0 elsewhere.
fn canny(image: &[u8], width: usize, height: usize, low: i32, high: i32) -> Vec<u8> {
    let at = |x: isize, y: isize| {
        i32::from(
            image[map_index(y, height, Border::Nearest) * width
                + map_index(x, width, Border::Nearest)],
        )
    };
    let mut dx = vec![0i32; width * height];
    let mut dy = vec![0i32; width * height];
    let mut magnitude = vec![0i32; width * height];
    for y in 0..height as isize {
        for x in 0..width as isize {
            let gx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2 * at(x - 1, y)
                - at(x - 1, y + 1);
            let gy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2 * at(x, y - 1)
                - at(x + 1, y - 1);
            let i = y as usize * width + x as usize;
            dx[i] = gx;
            dy[i] = gy;
            magnitude[i] = gx.abs() + gy.abs();
        }
    }
    let mag = |x: isize, y: isize| {
        if x < 0 || y < 0 || x >= width as isize || y >= height as isize {
            0
        } else {
            magnitude[y as usize * width + x as usize]
        }
    };

    // 0: not an edge, 1: weak candidate, 2: strong edge.
    const TAN_22_5: f64 = 0.414_213_562_373_095_03;
    let mut state = vec![0u8; width * height];
    let mut stack = Vec::new();
    for y in 0..height as isize {
        for x in 0..width as isize {
            let i = y as usize * width + x as usize;
            let m = magnitude[i];
            if m <= low {
                continue;
            }
            let (ax, ay) = (f64::from(dx[i].abs()), f64::from(dy[i].abs()));
            let is_max = if ay < ax * TAN_22_5 {
                m > mag(x - 1, y) && m >= mag(x + 1, y)
            } else if ay > ax * (1.0 / TAN_22_5) {
                m > mag(x, y - 1) && m >= mag(x, y + 1)
            } else {
                let s = if (dx[i] ^ dy[i]) < 0 { -1 } else { 1 };
                m > mag(x - s, y - 1) && m > mag(x + s, y + 1)
            };
            if is_max {
                if m > high {
                    state[i] = 2;
                    stack.push(i);
                } else {
                    state[i] = 1;
                }
            }
        }
    }
    while let Some(i) = stack.pop() {
        let (x, y) = ((i % width) as isize, (i / width) as isize);
        for ny in y - 1..=y + 1 {
            for nx in x - 1..=x + 1 {
                if nx < 0 || ny < 0 || nx >= width as isize || ny >= height as isize {
                    continue;
                }
                let j = ny as usize * width + nx as usize;
                if state[j] == 1 {
                    state[j] = 2;
                    stack.push(j);
                }
            }
        }
    }
    state
        .iter()
        .map(|&s| if s == 2 { 255 } else { 0 })
        .collect()
}

/// OpenCV's `distanceTransform(DIST_L2, 5)`: the 5x5 chamfer distance (costs 1, 1.4, 2.1969)
/// from every non-zero pixel to the nearest zero pixel; pixels with no zero pixel anywhere get
/// a large value.
fn distance_transform(mask: &[u8], width: usize, height: usize) -> Vec<f32> {
    const A: f32 = 1.0;
    const B: f32 = 1.4;
    const C: f32 = 2.1969;
    const FAR: f32 = 1.0e6;
    let mut d: Vec<f32> = mask
        .iter()
        .map(|&v| if v == 0 { 0.0 } else { FAR })
        .collect();
    let forward = [
        (-1, 0, A),
        (0, -1, A),
        (-1, -1, B),
        (1, -1, B),
        (-2, -1, C),
        (2, -1, C),
        (-1, -2, C),
        (1, -2, C),
    ];
    let relax = |d: &mut Vec<f32>, x: usize, y: usize, offsets: &[(isize, isize, f32)]| {
        let i = y * width + x;
        if d[i] == 0.0 {
            return;
        }
        let mut best = d[i];
        for &(ox, oy, cost) in offsets {
            let (nx, ny) = (x as isize + ox, y as isize + oy);
            if nx >= 0 && ny >= 0 && nx < width as isize && ny < height as isize {
                best = best.min(d[ny as usize * width + nx as usize] + cost);
            }
        }
        d[i] = best;
    };
    for y in 0..height {
        for x in 0..width {
            relax(&mut d, x, y, &forward);
        }
    }
    let backward: Vec<(isize, isize, f32)> =
        forward.iter().map(|&(ox, oy, c)| (-ox, -oy, c)).collect();
    for y in (0..height).rev() {
        for x in (0..width).rev() {
            relax(&mut d, x, y, &backward);
        }
    }
    d
}

/// OpenCV's `equalizeHist`: the cumulative histogram from the first occupied level, scaled to
/// 0..=255 and rounded.
fn equalize_histogram(image: &[u8]) -> Vec<u8> {
    let mut histogram = [0usize; 256];
    image.iter().for_each(|&v| histogram[usize::from(v)] += 1);
    let first = histogram.iter().position(|&h| h > 0).unwrap_or(0);
    if histogram[first] == image.len() {
        return vec![first as u8; image.len()];
    }
    let scale = 255.0 / (image.len() - histogram[first]) as f32;
    let mut lut = [0u8; 256];
    let mut sum = 0;
    for level in first + 1..256 {
        sum += histogram[level];
        lut[level] = (sum as f32 * scale).round().clamp(0.0, 255.0) as u8;
    }
    image.iter().map(|&v| lut[usize::from(v)]).collect()
}

/// A 3x3 box mean with mirrored borders (OpenCV's `blur(.., (3, 3))`).
fn box_blur_3x3(values: &[f32], width: usize, height: usize) -> Vec<f32> {
    let image = FloatImage::from_vec(width, height, 1, values.to_vec());
    filter::filter_2d(&image, &[1.0 / 9.0; 9], 3, Border::Mirror).data
}

/// Spatter. A liquid layer N(mean, std) is smoothed (sigma) and cleared below `threshold`.
///
/// Water: edges of the 8-bit layer (Canny 50/150) give a distance map (chamfer, truncated at
/// 20, box-blurred, histogram-equalised, embossed, box-blurred) that shades the layer; the
/// shaded layer, normalised to a maximum of `intensity`, adds pale turquoise (175, 238, 238).
///
/// Mud: the mask `layer > threshold` is blurred (sigma = `intensity`) and cleared below 0.8;
/// the image is mixed towards brown (63, 42, 20) by that mask.
pub(super) fn spatter(image: &RgbImage, params: &CorruptionParams, rng: &mut StdRng) -> RgbImage {
    let CorruptionParams::Spatter {
        mean,
        std,
        sigma,
        threshold,
        intensity,
        mud,
    } = *params
    else {
        unreachable!("spatter called with {params:?}")
    };
    let mut x = FloatImage::from_rgb_unit(image);
    let (width, height) = (x.width, x.height);

    let normal = Normal::new(mean, std).expect("a finite positive standard deviation");
    let liquid: Vec<f32> = (0..width * height)
        .map(|_| normal.sample(rng) as f32)
        .collect();
    let mut liquid = filter::gaussian_blur(
        &FloatImage::from_vec(width, height, 1, liquid),
        sigma,
        4.0,
        Border::Nearest,
    )
    .data;
    let threshold = threshold as f32;
    liquid
        .iter_mut()
        .filter(|v| **v < threshold)
        .for_each(|v| *v = 0.0);

    if !mud {
        let layer: Vec<u8> = liquid.iter().map(|&v| (v * 255.0) as u8).collect();
        let edges = canny(&layer, width, height, 50, 150);
        let inverted: Vec<u8> = edges.iter().map(|&e| 255 - e).collect();
        let distance: Vec<f32> = distance_transform(&inverted, width, height)
            .into_iter()
            .map(|d| d.min(20.0))
            .collect();
        let distance: Vec<u8> = box_blur_3x3(&distance, width, height)
            .iter()
            .map(|&v| v as u8)
            .collect();
        let distance = equalize_histogram(&distance);
        let emboss = [-2.0, -1.0, 0.0, -1.0, 1.0, 1.0, 0.0, 1.0, 2.0];
        let distance_f: Vec<f32> = distance.iter().map(|&v| f32::from(v)).collect();
        let embossed = filter::filter_2d(
            &FloatImage::from_vec(width, height, 1, distance_f),
            &emboss,
            3,
            Border::Mirror,
        );
        let embossed: Vec<f32> = embossed
            .data
            .iter()
            .map(|v| v.round_ties_even().clamp(0.0, 255.0))
            .collect();
        let shading: Vec<f32> = box_blur_3x3(&embossed, width, height)
            .iter()
            .map(|v| v.round_ties_even())
            .collect();

        let mut shaded: Vec<f32> = layer
            .iter()
            .zip(&shading)
            .map(|(&l, &s)| f32::from(l) * s)
            .collect();
        let max = shaded.iter().cloned().fold(0.0f32, f32::max);
        // NOTE: the reference divides by the maximum even when it is 0 (no liquid), which
        // gives NaN; here such an image is left without spatter.
        let scale = if max > 0.0 {
            intensity as f32 / max
        } else {
            0.0
        };
        shaded.iter_mut().for_each(|v| *v *= scale);
        let colour = [175.0 / 255.0, 238.0 / 255.0, 238.0 / 255.0];
        for (p, m) in x.data.chunks_exact_mut(3).zip(&shaded) {
            for c in 0..3 {
                p[c] += m * colour[c];
            }
        }
    } else {
        let mask: Vec<f32> = liquid
            .iter()
            .map(|&v| (v > threshold) as u8 as f32)
            .collect();
        let mut mask = filter::gaussian_blur(
            &FloatImage::from_vec(width, height, 1, mask),
            intensity,
            4.0,
            Border::Nearest,
        )
        .data;
        mask.iter_mut().filter(|v| **v < 0.8).for_each(|v| *v = 0.0);
        let colour = [63.0 / 255.0, 42.0 / 255.0, 20.0 / 255.0];
        for (p, m) in x.data.chunks_exact_mut(3).zip(&mask) {
            for c in 0..3 {
                p[c] = p[c] * (1.0 - m) + colour[c] * m;
            }
        }
    }
    x.to_rgb_unit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chamfer_distance_grows_away_from_zero() {
        // One zero pixel at the left of a 5x1 row: distances 0, 1, 2, 3, 4.
        let d = distance_transform(&[0, 1, 1, 1, 1], 5, 1);
        assert_eq!(d, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        // Diagonal neighbour costs 1.4 (OpenCV's 5x5 mask).
        let d = distance_transform(&[0, 1, 1, 1], 2, 2);
        assert!((d[3] - 1.4).abs() < 1e-6);
    }

    #[test]
    fn canny_finds_a_vertical_step() {
        let (w, h) = (8, 6);
        let image: Vec<u8> = (0..w * h)
            .map(|i| if i % w < 4 { 0 } else { 200 })
            .collect();
        let edges = canny(&image, w, h, 50, 150);
        for y in 0..h {
            let row = &edges[y * w..(y + 1) * w];
            assert_eq!(
                row.iter().filter(|&&e| e == 255).count(),
                1,
                "row {y}: {row:?}"
            );
        }
    }

    #[test]
    fn equalisation_spreads_levels() {
        let out = equalize_histogram(&[10, 10, 20, 30]);
        assert_eq!(out, vec![0, 0, 128, 255]);
    }
}
