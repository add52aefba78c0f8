//! Elastic transform: a random affine warp, then a smoothed random displacement field.

use image::RgbImage;
use rand::rngs::StdRng;
use rand::RngExt;

use super::buffer::FloatImage;
use super::filter::{self, map_index, Border};

/// Bilinear sample of every channel of `image` at column `x`, row `y`, reading outside the
/// image under `border`.
fn sample_bilinear(image: &FloatImage, x: f64, y: f64, border: Border, out: &mut [f32]) {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = ((x - x0) as f32, (y - y0) as f32);
    let (x0, y0) = (x0 as isize, y0 as isize);
    let xs = [
        map_index(x0, image.width, border),
        map_index(x0 + 1, image.width, border),
    ];
    let ys = [
        map_index(y0, image.height, border),
        map_index(y0 + 1, image.height, border),
    ];
    let c = image.channels;
    let at = |yy: usize, xx: usize, ch: usize| image.data[(yy * image.width + xx) * c + ch];
    for (ch, o) in out.iter_mut().enumerate().take(c) {
        let top = at(ys[0], xs[0], ch) + fx * (at(ys[0], xs[1], ch) - at(ys[0], xs[0], ch));
        let bottom = at(ys[1], xs[0], ch) + fx * (at(ys[1], xs[1], ch) - at(ys[1], xs[0], ch));
        *o = top + fy * (bottom - top);
    }
}

/// The 2x3 affine matrix mapping the three `from` points onto the three `to` points (OpenCV's
/// `getAffineTransform`), or `None` when the points are collinear.
fn affine_from_points(from: [[f64; 2]; 3], to: [[f64; 2]; 3]) -> Option<[[f64; 3]; 2]> {
    // Rows (x, y, 1); solve S m = u for each output coordinate by Cramer's rule.
    let det3 = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let s = [
        [from[0][0], from[0][1], 1.0],
        [from[1][0], from[1][1], 1.0],
        [from[2][0], from[2][1], 1.0],
    ];
    let det = det3(s);
    if det.abs() < 1e-12 {
        return None;
    }
    let mut m = [[0.0; 3]; 2];
    for (row, out) in m.iter_mut().enumerate() {
        for (col, value) in out.iter_mut().enumerate() {
            let mut replaced = s;
            for i in 0..3 {
                replaced[i][col] = to[i][row];
            }
            *value = det3(replaced) / det;
        }
    }
    Some(m)
}

/// Elastic transform: control points at the centre +- side/3 are jittered by
/// `U(-affine, affine)` and the image is warped by the affine map between them (bilinear,
/// mirrored borders, as OpenCV's `warpAffine`); then each pixel (x, y) reads the warped image
/// at `(x + dx, y + dy)` (bilinear, half-sample-symmetric borders) where dx and dy are
/// `U(-1, 1)` fields smoothed by a Gaussian of `sigma` (truncate 3, reflected borders) and
/// scaled by `alpha`.
pub(super) fn elastic_transform(
    image: &RgbImage,
    alpha: f64,
    sigma: f64,
    affine: f64,
    rng: &mut StdRng,
) -> RgbImage {
    let x = FloatImage::from_rgb_unit(image);
    let (width, height) = (x.width, x.height);

    // The reference builds the points from (height // 2, width // 2) and hands them to OpenCV
    // as (x, y); the two agree on square images.
    let centre = [(height / 2) as f64, (width / 2) as f64];
    let square = (width.min(height) / 3) as f64;
    let from = [
        [centre[0] + square, centre[1] + square],
        [centre[0] + square, centre[1] - square],
        [centre[0] - square, centre[1] - square],
    ];
    let mut to = from;
    for point in &mut to {
        for v in point.iter_mut() {
            *v += if affine > 0.0 {
                rng.random_range(-affine..affine)
            } else {
                0.0
            };
        }
    }
    let warped = match affine_from_points(from, to).and_then(invert_affine) {
        Some(inverse) => {
            let mut warped = FloatImage::zeros(width, height, 3);
            for yy in 0..height {
                for xx in 0..width {
                    let (fx, fy) = (xx as f64, yy as f64);
                    let sx = inverse[0][0] * fx + inverse[0][1] * fy + inverse[0][2];
                    let sy = inverse[1][0] * fx + inverse[1][1] * fy + inverse[1][2];
                    let p = (yy * width + xx) * 3;
                    sample_bilinear(&x, sx, sy, Border::Mirror, &mut warped.data[p..p + 3]);
                }
            }
            warped
        }
        None => x,
    };

    let mut field = || {
        let noise: Vec<f32> = (0..width * height)
            .map(|_| rng.random_range(-1.0..1.0f32))
            .collect();
        let smoothed = filter::gaussian_blur(
            &FloatImage::from_vec(width, height, 1, noise),
            sigma,
            3.0,
            Border::Reflect,
        );
        smoothed
            .data
            .into_iter()
            .map(|v| v * alpha as f32)
            .collect::<Vec<f32>>()
    };
    let dx = field();
    let dy = field();

    let mut out = FloatImage::zeros(width, height, 3);
    for yy in 0..height {
        for xx in 0..width {
            let i = yy * width + xx;
            let (sx, sy) = (xx as f64 + f64::from(dx[i]), yy as f64 + f64::from(dy[i]));
            sample_bilinear(
                &warped,
                sx,
                sy,
                Border::Reflect,
                &mut out.data[i * 3..i * 3 + 3],
            );
        }
    }
    out.to_rgb_unit()
}

/// The inverse of a 2x3 affine map, or `None` when singular.
fn invert_affine(m: [[f64; 3]; 2]) -> Option<[[f64; 3]; 2]> {
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    if det.abs() < 1e-12 {
        return None;
    }
    let (a, b, c, d) = (m[1][1] / det, -m[0][1] / det, -m[1][0] / det, m[0][0] / det);
    Some([
        [a, b, -(a * m[0][2] + b * m[1][2])],
        [c, d, -(c * m[0][2] + d * m[1][2])],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_maps_the_points_and_inverts() {
        // Hand-made map: u = 2x + 1, v = y - 3.
        let from = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]];
        let to = [[1.0, -3.0], [3.0, -3.0], [1.0, -2.0]];
        let m = affine_from_points(from, to).unwrap();
        let expected = [[2.0, 0.0, 1.0], [0.0, 1.0, -3.0]];
        for r in 0..2 {
            for c in 0..3 {
                assert!((m[r][c] - expected[r][c]).abs() < 1e-12, "{m:?}");
            }
        }
        let inverse = invert_affine(m).unwrap();
        assert!((inverse[0][0] - 0.5).abs() < 1e-12 && (inverse[0][2] + 0.5).abs() < 1e-12);
    }
}
