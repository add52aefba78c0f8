//! Decoding image files of any supported format into 8-bit RGB.

use std::path::Path;

use image::{DynamicImage, ImageReader, RgbImage};

use crate::DataError;

/// The file extensions (lower case) read as images: those torchvision's ImageFolder accepts that
/// the `image` crate decodes here.
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "bmp", "webp"];

/// Whether `path` has one of [`IMAGE_EXTENSIONS`], compared case-insensitively.
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| {
            IMAGE_EXTENSIONS
                .iter()
                .any(|known| ext.eq_ignore_ascii_case(known))
        })
}

/// Reads and decodes one image file into 8-bit RGB.
///
/// Grayscale is replicated to three channels, 16-bit samples are scaled to 8 bits and an alpha
/// channel is dropped (the colour channels are kept as stored, as `PIL.Image.convert("RGB")`
/// does). The format is guessed from the content, so a PNG named `.jpg` still loads.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read, [`DataError::DecodeImage`] when its content is
/// not a complete image.
pub fn decode_rgb(path: &Path) -> Result<RgbImage, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?;
    let image = reader.decode().map_err(|source| DataError::DecodeImage {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(to_rgb8(image))
}

/// Converts any decoded image to 8-bit RGB without copying when it already is.
pub fn to_rgb8(image: DynamicImage) -> RgbImage {
    match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.into_rgb8(),
    }
}
