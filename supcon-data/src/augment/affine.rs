//! Affine warps (rotation, shear, translation, scale), matching torchvision's tensor path.
//!
//! torchvision builds the inverse affine matrix, samples the input at each output pixel centre
//! with `grid_sample(align_corners=False, padding_mode="zeros")` in float32 and rounds half to
//! even. Coordinates below are continuous with the origin at the image centre and pixel centres
//! at half-integers.

use image::RgbImage;

use super::resize::round_to_u8;

/// How a warp reads the input between pixel centres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Interpolation {
    /// The nearest pixel (ties to even), AutoAugment's and RandAugment's default.
    Nearest,
    /// Bilinear interpolation of the four nearest pixels.
    Bilinear,
}

/// torchvision's `_get_inverse_affine_matrix`: the 2x3 matrix that maps an output point to the
/// input point it samples, for a forward transform that rotates by `angle` degrees (clockwise in
/// image coordinates, as `F.affine`), shears by `shear` degrees, scales by `scale` and translates
/// by `translate` pixels, about `center` (relative to the image centre).
pub fn inverse_affine_matrix(
    center: [f64; 2],
    angle: f64,
    translate: [f64; 2],
    scale: f64,
    shear: [f64; 2],
) -> [f64; 6] {
    let rotation = angle.to_radians();
    let shear_x = shear[0].to_radians();
    let shear_y = shear[1].to_radians();
    let [cx, cy] = center;
    let [tx, ty] = translate;

    // Rotation-scale-shear without the scale: [[a, b], [c, d]], determinant 1.
    let a = (rotation - shear_y).cos() / shear_y.cos();
    let b = -(rotation - shear_y).cos() * shear_x.tan() / shear_y.cos() - rotation.sin();
    let c = (rotation - shear_y).sin() / shear_y.cos();
    let d = -(rotation - shear_y).sin() * shear_x.tan() / shear_y.cos() + rotation.cos();

    // Its inverse, divided by the scale, then the centre and translation undone around it.
    let mut m = [d, -b, 0.0, -c, a, 0.0].map(|v| v / scale);
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
    m[2] += cx;
    m[5] += cy;
    m
}

/// Warps `image` by the inverse affine `matrix` (output point -> input point, origin at the image
/// centre), as torchvision's `_apply_grid_transform`. Pixels that sample outside the input are
/// black, or `fill` when given (for bilinear sampling the fill is blended by the in-bounds
/// weight, as torchvision does).
pub fn warp_affine(
    image: &RgbImage,
    matrix: [f64; 6],
    interpolation: Interpolation,
    fill: Option<[f32; 3]>,
) -> RgbImage {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let (w, h) = (width as f32, height as f32);
    // The reference divides the transposed matrix by (w / 2, h / 2) to reach normalised grid
    // coordinates, then grid_sample maps them back with ((g + 1) * size - 1) / 2.
    let theta = matrix.map(|v| v as f32);
    let (half_w, half_h) = (0.5 * w, 0.5 * h);
    let rx = [theta[0] / half_w, theta[1] / half_w, theta[2] / half_w];
    let ry = [theta[3] / half_h, theta[4] / half_h, theta[5] / half_h];
    let source = image.as_raw();
    let mut out = vec![0u8; width * height * 3];

    for row in 0..height {
        let base_y = -h * 0.5 + 0.5 + row as f32;
        for col in 0..width {
            let base_x = -w * 0.5 + 0.5 + col as f32;
            let grid_x = base_x * rx[0] + base_y * rx[1] + rx[2];
            let grid_y = base_x * ry[0] + base_y * ry[1] + ry[2];
            let ix = ((grid_x + 1.0) * w - 1.0) / 2.0;
            let iy = ((grid_y + 1.0) * h - 1.0) / 2.0;
            let at = (row * width + col) * 3;
            let pixel = &mut out[at..at + 3];
            match interpolation {
                Interpolation::Nearest => {
                    let (x, y) = (ix.round_ties_even(), iy.round_ties_even());
                    if x >= 0.0 && y >= 0.0 && x < w && y < h {
                        let i = (y as usize * width + x as usize) * 3;
                        pixel.copy_from_slice(&source[i..i + 3]);
                    } else if let Some(fill) = fill {
                        for c in 0..3 {
                            pixel[c] = round_to_u8(fill[c]);
                        }
                    }
                }
                Interpolation::Bilinear => {
                    let (x0, y0) = (ix.floor(), iy.floor());
                    let (fx, fy) = (ix - x0, iy - y0);
                    let mut value = [0.0f32; 3];
                    let mut mask = 0.0f32;
                    for (dy, wy) in [(0.0, 1.0 - fy), (1.0, fy)] {
                        for (dx, wx) in [(0.0, 1.0 - fx), (1.0, fx)] {
                            let (x, y) = (x0 + dx, y0 + dy);
                            if x >= 0.0 && y >= 0.0 && x < w && y < h {
                                let i = (y as usize * width + x as usize) * 3;
                                let weight = wx * wy;
                                mask += weight;
                                for c in 0..3 {
                                    value[c] += weight * source[i + c] as f32;
                                }
                            }
                        }
                    }
                    for c in 0..3 {
                        let v = match fill {
                            Some(fill) => value[c] * mask + (1.0 - mask) * fill[c],
                            None => value[c],
                        };
                        pixel[c] = round_to_u8(v);
                    }
                }
            }
        }
    }
    RgbImage::from_raw(image.width(), image.height(), out).expect("same size as the input")
}

/// Affine transform about `center` (pixel coordinates from the top-left corner; the image
/// centre when `None`), as `F.affine(img, angle, translate, scale, shear, interpolation, fill,
/// center)`. `angle` and `shear` are in degrees.
///
/// # Panics
/// When `scale` is not positive.
pub fn affine(
    image: &RgbImage,
    angle: f64,
    translate: [f64; 2],
    scale: f64,
    shear: [f64; 2],
    interpolation: Interpolation,
    fill: Option<[f32; 3]>,
    center: Option<[f64; 2]>,
) -> RgbImage {
    assert!(scale > 0.0, "affine scale must be positive, got {scale}");
    let center = match center {
        Some([x, y]) => [
            x - image.width() as f64 * 0.5,
            y - image.height() as f64 * 0.5,
        ],
        None => [0.0, 0.0],
    };
    let matrix = inverse_affine_matrix(center, angle, translate, scale, shear);
    warp_affine(image, matrix, interpolation, fill)
}

/// Rotates counter-clockwise by `angle` degrees about the image centre, keeping the size, as
/// `F.rotate(img, angle, interpolation, expand=False, fill=fill)`.
pub fn rotate(
    image: &RgbImage,
    angle: f64,
    interpolation: Interpolation,
    fill: Option<[f32; 3]>,
) -> RgbImage {
    // torchvision's rotate and affine turn in opposite directions.
    let matrix = inverse_affine_matrix([0.0, 0.0], -angle, [0.0, 0.0], 1.0, [0.0, 0.0]);
    warp_affine(image, matrix, interpolation, fill)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7]))
    }

    #[test]
    fn identity_matrix_keeps_the_image() {
        let image = numbered(9, 6);
        for interpolation in [Interpolation::Nearest, Interpolation::Bilinear] {
            let out = affine(
                &image,
                0.0,
                [0.0; 2],
                1.0,
                [0.0; 2],
                interpolation,
                None,
                None,
            );
            assert_eq!(out, image);
        }
    }

    #[test]
    fn translation_moves_content_and_fills_the_gap() {
        // Output (x, y) samples input (x - 2, y): column 2 shows column 0, columns 0-1 are fill.
        let image = numbered(8, 4);
        let fill = Some([128.0; 3]);
        let out = affine(
            &image,
            0.0,
            [2.0, 0.0],
            1.0,
            [0.0; 2],
            Interpolation::Nearest,
            fill,
            None,
        );
        assert_eq!(out.get_pixel(2, 3).0, [0, 3, 7]);
        assert_eq!(out.get_pixel(1, 0).0, [128, 128, 128]);
    }

    #[test]
    fn quarter_turn_maps_corners_counter_clockwise() {
        // Rotating a square image by 90 degrees counter-clockwise moves the top-right pixel to
        // the top-left.
        let image = numbered(5, 5);
        let out = rotate(&image, 90.0, Interpolation::Nearest, None);
        assert_eq!(out.get_pixel(0, 0).0, [4, 0, 7]);
        assert_eq!(out.get_pixel(2, 2).0, [2, 2, 7]);
    }
}
