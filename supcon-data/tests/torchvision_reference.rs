//! Deterministic operations against torchvision's outputs in `reference/augment/`.
//!
//! The test is driven by `reference/augment/manifest.json`: every listed file is rebuilt from its
//! input by interpreting its `steps` (torchvision calls as structured data), so files added to
//! the folder later are tested without new code. Expected images come from torchvision 0.29's
//! uint8 tensor path (see the folder's README); an image must match within a mean absolute
//! difference of 1 grey level.

#[path = "../../tests/src/reference.rs"]
mod reference;

use image::RgbImage;
use serde_json::Value;
use supcon_data::augment::auto_augment::apply_op;
use supcon_data::functional::{
    adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation, adjust_sharpness, affine,
    autocontrast, center_crop, crop_image, equalize, gaussian_blur, grayscale, hflip, invert,
    posterize, resize, resize_shorter_side, resized_crop, rotate, solarize, vflip,
};
use supcon_data::{AugmentOp, CropBox, Interpolation, Normalize};

/// The largest mean absolute difference, in grey levels, that counts as a match.
const MAX_MEAN_ABS_DIFF: f64 = 1.0;
/// Tolerance for normalised float outputs (the same float32 formula on both sides).
const MAX_FLOAT_DIFF: f32 = 1e-5;

/// An intermediate result while interpreting steps.
enum Stage {
    /// A uint8 image.
    Image(RgbImage),
    /// `to_tensor` was applied: the image is waiting for an optional `normalize`.
    Tensor(RgbImage),
    /// Planar `[3, H, W]` float32 values.
    Planar(Vec<f32>, [usize; 3]),
}

fn number(step: &Value, key: &str) -> f64 {
    step[key]
        .as_f64()
        .unwrap_or_else(|| panic!("step {step} lacks number {key:?}"))
}

fn integer(step: &Value, key: &str) -> u32 {
    number(step, key) as u32
}

/// A `[a, b]` pair or a single number repeated.
fn pair(value: &Value) -> [f64; 2] {
    match value {
        Value::Array(items) => {
            let item = |i: usize| items[i].as_f64().expect("numeric pair");
            [item(0), item(items.len().min(2) - 1)]
        }
        Value::Number(n) => [n.as_f64().unwrap(); 2],
        other => panic!("expected a number or a pair, got {other}"),
    }
}

fn interpolation(step: &Value) -> Interpolation {
    match step["interpolation"].as_str().unwrap_or("nearest") {
        "nearest" => Interpolation::Nearest,
        "bilinear" => Interpolation::Bilinear,
        other => panic!("interpolation {other:?} is not implemented"),
    }
}

fn fill(step: &Value) -> Option<[f32; 3]> {
    match &step["fill"] {
        Value::Null => None,
        Value::Number(n) => Some([n.as_f64().unwrap() as f32; 3]),
        Value::Array(items) => {
            let values: Vec<f32> = items.iter().map(|v| v.as_f64().unwrap() as f32).collect();
            Some(if values.len() == 1 {
                [values[0]; 3]
            } else {
                [values[0], values[1], values[2]]
            })
        }
        other => panic!("unsupported fill {other}"),
    }
}

fn bilinear_antialias(step: &Value) -> bool {
    assert_eq!(
        step["interpolation"].as_str().unwrap_or("bilinear"),
        "bilinear",
        "only bilinear resizing is implemented: {step}"
    );
    step["antialias"].as_bool().unwrap_or(true)
}

/// Applies one manifest step.
fn apply(stage: Stage, step: &Value) -> Stage {
    let op = step["op"]
        .as_str()
        .unwrap_or_else(|| panic!("step without op: {step}"));
    let image = match stage {
        Stage::Image(image) => image,
        Stage::Tensor(image) if op == "normalize" => {
            let mean = step["mean"].as_array().expect("mean list");
            let std = step["std"].as_array().expect("std list");
            let get = |v: &Vec<Value>| [0, 1, 2].map(|c| v[c].as_f64().unwrap() as f32);
            let shape = [3, image.height() as usize, image.width() as usize];
            return Stage::Planar(Normalize::new(get(mean), get(std)).to_planar(&image), shape);
        }
        _ => panic!("step {op:?} after to_tensor is not supported"),
    };
    let out = match op {
        "resized_crop" => {
            let crop = CropBox {
                top: integer(step, "top"),
                left: integer(step, "left"),
                height: integer(step, "height"),
                width: integer(step, "width"),
            };
            let [h, w] = pair(&step["size"]);
            resized_crop(&image, crop, w as u32, h as u32, bilinear_antialias(step))
        }
        "resize" => {
            let antialias = bilinear_antialias(step);
            match &step["size"] {
                Value::Number(n) => {
                    resize_shorter_side(&image, n.as_u64().unwrap() as u32, antialias)
                }
                Value::Array(items) if items.len() == 1 => {
                    resize_shorter_side(&image, items[0].as_u64().unwrap() as u32, antialias)
                }
                size => {
                    let [h, w] = pair(size);
                    resize(&image, w as u32, h as u32, antialias)
                }
            }
        }
        "center_crop" => {
            let [h, w] = pair(&step["size"]);
            center_crop(&image, w as u32, h as u32)
        }
        "crop" => crop_image(
            &image,
            CropBox {
                top: integer(step, "top"),
                left: integer(step, "left"),
                height: integer(step, "height"),
                width: integer(step, "width"),
            },
        ),
        "hflip" => hflip(&image),
        "vflip" => vflip(&image),
        "adjust_brightness" => adjust_brightness(&image, number(step, "factor")),
        "adjust_contrast" => adjust_contrast(&image, number(step, "factor")),
        "adjust_saturation" => adjust_saturation(&image, number(step, "factor")),
        "adjust_hue" => adjust_hue(&image, number(step, "factor")),
        "adjust_sharpness" => adjust_sharpness(&image, number(step, "factor")),
        // A one-channel output is stored as a grey PNG, which decodes to the same RGB.
        "rgb_to_grayscale" => grayscale(&image),
        "gaussian_blur" => {
            let [kx, ky] = pair(&step["kernel_size"]);
            let sigma = if step["sigma"].is_null() {
                // torchvision's default: 0.3 * ((k - 1) * 0.5 - 1) + 0.8.
                [kx, ky].map(|k| 0.3 * ((k - 1.0) * 0.5 - 1.0) + 0.8)
            } else {
                pair(&step["sigma"])
            };
            gaussian_blur(
                &image,
                kx as usize,
                ky as usize,
                sigma[0] as f32,
                sigma[1] as f32,
            )
        }
        "autocontrast" => autocontrast(&image),
        "equalize" => equalize(&image),
        "invert" => invert(&image),
        "posterize" => posterize(&image, integer(step, "bits") as u8),
        "solarize" => solarize(&image, number(step, "threshold")),
        "rotate" => {
            assert!(
                !step["expand"].as_bool().unwrap_or(false),
                "expand=True is not implemented"
            );
            assert!(
                step["center"].is_null(),
                "rotation about a custom centre: {step}"
            );
            rotate(
                &image,
                number(step, "angle"),
                interpolation(step),
                fill(step),
            )
        }
        "affine" => {
            let center = (!step["center"].is_null()).then(|| pair(&step["center"]));
            affine(
                &image,
                number(step, "angle"),
                pair(&step["translate"]),
                number(step, "scale"),
                pair(&step["shear"]),
                interpolation(step),
                fill(step),
                center,
            )
        }
        "autoaugment" => {
            let name = step["name"]
                .as_str()
                .expect("autoaugment step names its operation");
            let op: AugmentOp = name.parse().unwrap_or_else(|e| panic!("{e}"));
            apply_op(
                image,
                op,
                number(step, "magnitude"),
                interpolation(step),
                fill(step),
            )
        }
        "to_tensor" => return Stage::Tensor(image),
        other => panic!("manifest step {other:?} is not implemented by this test: {step}"),
    };
    Stage::Image(out)
}

/// Reads a little-endian float32 `.npy` file: (values, shape).
fn read_npy_f32(bytes: &[u8]) -> (Vec<f32>, Vec<usize>) {
    assert_eq!(&bytes[..6], b"\x93NUMPY", "not a .npy file");
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).unwrap();
    assert!(
        header.contains("'descr': '<f4'"),
        "only little-endian float32 is supported: {header}"
    );
    assert!(header.contains("'fortran_order': False"), "{header}");
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let shape: Vec<usize> = shape_text
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let values = bytes[start + header_len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    (values, shape)
}

fn load_png(relative: &str) -> RgbImage {
    let path = reference::reference_path(relative);
    image::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_rgb8()
}

#[test]
fn every_manifest_entry_matches_torchvision() {
    let manifest = reference::read_reference_json("augment/manifest.json");
    let files = manifest["files"].as_array().expect("manifest lists files");
    assert!(!files.is_empty(), "the manifest lists no files");

    let mut failures = Vec::new();
    for entry in files {
        let file = entry["file"].as_str().expect("entry names its file");
        let input = load_png(&format!("augment/{}", entry["input"].as_str().unwrap()));
        let steps = entry["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("{file} has no steps"));
        let result = steps.iter().fold(Stage::Image(input), apply);

        match result {
            Stage::Image(actual) | Stage::Tensor(actual) => {
                let expected = load_png(&format!("augment/{file}"));
                if actual.dimensions() != expected.dimensions() {
                    failures.push(format!(
                        "{file}: size {:?}, torchvision {:?}",
                        actual.dimensions(),
                        expected.dimensions()
                    ));
                    continue;
                }
                let diffs: Vec<u32> = actual
                    .as_raw()
                    .iter()
                    .zip(expected.as_raw())
                    .map(|(&a, &b)| (a as i32 - b as i32).unsigned_abs())
                    .collect();
                let mean = diffs.iter().map(|&d| d as f64).sum::<f64>() / diffs.len() as f64;
                let max = diffs.iter().max().copied().unwrap_or(0);
                let differing = diffs.iter().filter(|&&d| d > 0).count();
                println!("{file}: mean |diff| {mean:.4}, max {max}, {differing} values differ");
                if mean > MAX_MEAN_ABS_DIFF {
                    failures.push(format!(
                        "{file}: mean |diff| {mean:.3} > {MAX_MEAN_ABS_DIFF}"
                    ));
                }
            }
            Stage::Planar(actual, shape) => {
                let bytes =
                    std::fs::read(reference::reference_path(&format!("augment/{file}"))).unwrap();
                let (expected, expected_shape) = read_npy_f32(&bytes);
                if expected_shape != shape {
                    failures.push(format!(
                        "{file}: shape {shape:?}, expected {expected_shape:?}"
                    ));
                    continue;
                }
                let max = actual
                    .iter()
                    .zip(&expected)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                println!("{file}: max |diff| {max:e}");
                if max > MAX_FLOAT_DIFF {
                    failures.push(format!("{file}: max |diff| {max:e} > {MAX_FLOAT_DIFF:e}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "mismatches against torchvision:\n{}",
        failures.join("\n")
    );
}
