//! The deterministic corruptions against the outputs of the reference `imagenet-c` package.

#[path = "../../tests/src/reference.rs"]
mod reference;

use image::RgbImage;
use supcon_eval::corruption::{corrupt, Corruption, CorruptionContext, Severity};

/// Mean absolute difference, in grey levels, between two images of one size.
fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .iter()
        .zip(b.iter())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

/// Tolerance for JPEG: the reference used Pillow's libjpeg to encode (4:2:0 chroma, IJG tables)
/// and decode; we encode with the same choices (jpeg-encoder) and decode with zune-jpeg (through
/// `image`), which upsamples chroma and rounds differently. Measured on astronaut224.png: mean
/// absolute differences of 1.59, 1.79 and 1.27 grey levels at severities 1, 3 and 5 (qualities
/// 25, 15, 7); a 4:4:4 encoder (the `image` crate's) gave 3.5, 4.3 and 5.0. The bound leaves a
/// small margin above the largest measured value.
const JPEG_TOLERANCE: f64 = 2.0;

/// Tolerance of the exactly reproduced corruptions: 1 grey level (float rounding at the
/// 8-bit truncation moves a few values by one level).
const TOLERANCE: f64 = 1.0;

fn reference_files() -> Vec<(Corruption, Severity, std::path::PathBuf)> {
    let dir = reference::reference_path("imagenet_c");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("list the reference folder") {
        let path = entry.expect("a directory entry").path();
        let Some(stem) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if path.extension().and_then(|e| e.to_str()) != Some("png") {
            continue;
        }
        let Some((name, level)) = stem.rsplit_once("_s") else {
            continue;
        };
        let (Ok(corruption), Ok(level)) = (name.parse::<Corruption>(), level.parse::<u8>()) else {
            continue;
        };
        files.push((
            corruption,
            Severity::new(level).expect("severity 1-5 in the file name"),
            path,
        ));
    }
    files.sort();
    files
}

#[test]
fn every_reference_output_is_matched() {
    // Origin: reference/imagenet_c/<corruption>_s<severity>.png, written by the imagenet-c
    // 0.0.3 package from astronaut224.png (see reference/imagenet_c/README.md).
    let input = image::open(reference::reference_path("imagenet_c/astronaut224.png"))
        .expect("decode astronaut224.png")
        .to_rgb8();
    let files = reference_files();
    assert!(
        files.len() >= 24,
        "expected at least 24 reference outputs, found {}",
        files.len()
    );

    let context = CorruptionContext::imagenet();
    let mut failures = Vec::new();
    for (corruption, severity, path) in files {
        let expected = image::open(&path)
            .expect("decode a reference output")
            .to_rgb8();
        let actual = corrupt(&input, corruption, severity, 0, &context).expect("corrupt");
        if corruption.is_random() {
            // Random noise cannot be matched pixel for pixel: compare the strength instead,
            // the mean absolute change from the input, within 20 %.
            let (ours, theirs) = (
                mean_abs_diff(&actual, &input),
                mean_abs_diff(&expected, &input),
            );
            println!("{corruption} s{severity}: change {ours:.2} vs reference {theirs:.2}");
            if (ours - theirs).abs() > 0.2 * theirs {
                failures.push(format!(
                    "{corruption} s{severity}: change {ours:.2} vs {theirs:.2}"
                ));
            }
            continue;
        }
        let tolerance = if corruption == Corruption::JpegCompression {
            JPEG_TOLERANCE
        } else {
            TOLERANCE
        };
        let difference = mean_abs_diff(&actual, &expected);
        println!(
            "{corruption} s{severity}: mean |difference| {difference:.4} (tolerance {tolerance})"
        );
        if difference > tolerance {
            failures.push(format!(
                "{corruption} s{severity}: {difference:.4} > {tolerance}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "outputs differ from the reference: {failures:#?}"
    );
}
