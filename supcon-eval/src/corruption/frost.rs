//! Frost: the benchmark's frost textures (or a procedural stand-in) blended into the image.

use std::path::Path;
use std::sync::OnceLock;

use image::RgbImage;
use rand::rngs::StdRng;
use rand::RngExt;

use super::buffer::FloatImage;
use super::filter::{self, Border};
use super::weather::plasma_fractal;
use super::CorruptionError;

/// The textures the benchmark draws from (`randint(5)`: frost6.jpg is shipped but never used).
pub const FROST_FILE_NAMES: [&str; 5] = [
    "frost1.png",
    "frost2.png",
    "frost3.png",
    "frost4.jpg",
    "frost5.jpg",
];

/// The benchmark's frost textures, decoded to 8-bit RGB (PNG alpha dropped).
#[derive(Clone, Debug)]
pub struct FrostTextures {
    textures: Vec<(String, RgbImage)>,
    /// The textures scaled for 32 px images (computed once, on first use).
    scaled: OnceLock<(f64, Vec<FloatImage>)>,
}

impl FrostTextures {
    /// Reads the five textures named in [`FROST_FILE_NAMES`] from `dir` (the
    /// `ImageNet-C/create_c/` folder of the benchmark's repository).
    ///
    /// # Errors
    /// [`CorruptionError::FrostTexture`] naming the first file that is missing or undecodable.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, CorruptionError> {
        let textures = FROST_FILE_NAMES
            .iter()
            .map(|name| {
                let path = dir.as_ref().join(name);
                let image = image::open(&path).map_err(|source| CorruptionError::FrostTexture {
                    path: path.clone(),
                    source,
                })?;
                Ok((name.to_string(), image.to_rgb8()))
            })
            .collect::<Result<Vec<_>, CorruptionError>>()?;
        Ok(Self {
            textures,
            scaled: OnceLock::new(),
        })
    }

    /// Uses already decoded textures (at least one), drawn from uniformly.
    ///
    /// # Panics
    /// If `textures` is empty.
    pub fn from_images(textures: Vec<(String, RgbImage)>) -> Self {
        assert!(!textures.is_empty(), "frost needs at least one texture");
        Self {
            textures,
            scaled: OnceLock::new(),
        }
    }

    /// The number of textures.
    pub fn len(&self) -> usize {
        self.textures.len()
    }

    /// Always false (construction requires a texture).
    pub fn is_empty(&self) -> bool {
        self.textures.is_empty()
    }

    /// Texture `index` in grey levels, scaled by `scale` with OpenCV-style bilinear resizing.
    fn scaled(&self, index: usize, scale: f64) -> FloatImage {
        let resize = |image: &RgbImage| {
            let image = FloatImage::from_rgb_levels(image);
            let w = (image.width as f64 * scale).round() as usize;
            let h = (image.height as f64 * scale).round() as usize;
            filter::bilinear_resize(&image, w.max(1), h.max(1))
        };
        let (cached_scale, cached) = self.scaled.get_or_init(|| {
            (
                scale,
                self.textures.iter().map(|(_, t)| resize(t)).collect(),
            )
        });
        if *cached_scale == scale {
            cached[index].clone()
        } else {
            resize(&self.textures[index].1)
        }
    }
}

/// The top-left corner of a random `width x height` crop of a `texture_width x
/// texture_height` texture, rows drawn first as in the reference (`randint(0, size - crop)`,
/// which needs size > crop).
fn crop_origin(
    name: &str,
    texture_width: usize,
    texture_height: usize,
    width: usize,
    height: usize,
    rng: &mut StdRng,
) -> Result<(usize, usize), CorruptionError> {
    if texture_height <= height || texture_width <= width {
        return Err(CorruptionError::FrostTextureTooSmall {
            name: name.to_string(),
            width: texture_width,
            height: texture_height,
            crop: width.max(height),
        });
    }
    let top = rng.random_range(0..texture_height - height);
    let left = rng.random_range(0..texture_width - width);
    Ok((top, left))
}

/// A random `width x height` crop of `texture` (grey levels).
fn crop_texture(
    name: &str,
    texture: &FloatImage,
    width: usize,
    height: usize,
    rng: &mut StdRng,
) -> Result<FloatImage, CorruptionError> {
    let (top, left) = crop_origin(name, texture.width, texture.height, width, height, rng)?;
    let mut crop = FloatImage::zeros(width, height, 3);
    for y in 0..height {
        let src = ((top + y) * texture.width + left) * 3;
        crop.data[y * width * 3..(y + 1) * width * 3]
            .copy_from_slice(&texture.data[src..src + width * 3]);
    }
    Ok(crop)
}

/// A procedural frost texture of `width x height` in grey levels: a rough plasma fractal for
/// the frosted haze plus blurred random ice needles, tinted pale blue. Its brightness and
/// contrast are set near those of the benchmark's textures (mean about 150 grey levels over the
/// crops drawn), but its structure is only an approximation of real frost.
fn procedural_texture(width: usize, height: usize, rng: &mut StdRng) -> FloatImage {
    let size = width.max(height).next_power_of_two();
    let haze = plasma_fractal(size, 1.6, rng);

    // Ice needles: short straight strokes at random angles, brighter at their root.
    let mut needles = FloatImage::zeros(width, height, 1);
    let count = (width * height) / 40;
    let longest = (width.min(height) as f64 / 6.0).max(2.0);
    for _ in 0..count {
        let (mut x, mut y) = (
            rng.random_range(0.0..width as f64),
            rng.random_range(0.0..height as f64),
        );
        let angle: f64 = rng.random_range(0.0..std::f64::consts::TAU);
        let length = rng.random_range(1.0..longest);
        let strength = rng.random_range(0.15..0.6f32);
        let steps = length.ceil() as usize;
        for step in 0..steps {
            let (ix, iy) = (x as isize, y as isize);
            if ix < 0 || iy < 0 || ix >= width as isize || iy >= height as isize {
                break;
            }
            let fade = 1.0 - step as f32 / steps as f32;
            needles.data[iy as usize * width + ix as usize] += strength * fade;
            x += angle.cos();
            y += angle.sin();
        }
    }
    let needles = filter::gaussian_blur(&needles, 0.7, 4.0, Border::Mirror);

    let tint = [0.86f32, 0.94, 1.0];
    let mut texture = FloatImage::zeros(width, height, 3);
    for y in 0..height {
        for x in 0..width {
            let h = haze[y * size + x] as f32;
            let t = (0.35 + 0.45 * h + needles.data[y * width + x]).clamp(0.0, 1.0);
            for c in 0..3 {
                texture.data[(y * width + x) * 3 + c] = 255.0 * t * tint[c];
            }
        }
    }
    texture
}

/// Frost: `clip(image_weight * x + frost_weight * frost, 0, 255)` in grey levels, with a random
/// crop of a randomly chosen texture (procedural when `textures` is `None`).
pub(super) fn frost(
    image: &RgbImage,
    image_weight: f64,
    frost_weight: f64,
    texture_scale: f64,
    textures: Option<&FrostTextures>,
    rng: &mut StdRng,
) -> Result<RgbImage, CorruptionError> {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let frost = match textures {
        Some(textures) => {
            let index = rng.random_range(0..textures.len());
            let name = &textures.textures[index].0;
            if texture_scale == 1.0 {
                let texture = &textures.textures[index].1;
                let (tw, th) = (texture.width() as usize, texture.height() as usize);
                let (top, left) = crop_origin(name, tw, th, width, height, rng)?;
                let crop = image::imageops::crop_imm(
                    texture,
                    left as u32,
                    top as u32,
                    width as u32,
                    height as u32,
                );
                FloatImage::from_rgb_levels(&crop.to_image())
            } else {
                crop_texture(
                    name,
                    &textures.scaled(index, texture_scale),
                    width,
                    height,
                    rng,
                )?
            }
        }
        None => {
            // Generated at the texture's native scale, then scaled as the real ones are.
            let native_width = ((width + 2) as f64 / texture_scale).ceil() as usize;
            let native_height = ((height + 2) as f64 / texture_scale).ceil() as usize;
            let mut texture = procedural_texture(native_width, native_height, rng);
            if texture_scale != 1.0 {
                let w = (native_width as f64 * texture_scale).round() as usize;
                let h = (native_height as f64 * texture_scale).round() as usize;
                texture = filter::bilinear_resize(&texture, w, h);
            }
            crop_texture("procedural", &texture, width, height, rng)?
        }
    };
    let mut x = FloatImage::from_rgb_levels(image);
    let (a, b) = (image_weight as f32, frost_weight as f32);
    x.data
        .iter_mut()
        .zip(&frost.data)
        .for_each(|(v, f)| *v = a * *v + b * f);
    Ok(x.to_rgb_levels())
}
