//! The random corruptions: noise statistics, blur geometry, pixels changed, severity
//! ordering, determinism, sizes, and frost with the benchmark's textures.

#[path = "../../tests/src/reference.rs"]
mod reference;

use std::path::PathBuf;

use image::{Rgb, RgbImage};
use supcon_eval::corruption::{
    corrupt, imagenet_crop, Corruption, CorruptionContext, CorruptionParams, FrostTextures,
    Severity,
};

fn severity(level: u8) -> Severity {
    Severity::new(level).unwrap()
}

fn astronaut() -> RgbImage {
    image::open(reference::reference_path("imagenet_c/astronaut224.png"))
        .unwrap()
        .to_rgb8()
}

/// Mean absolute difference in grey levels.
fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    let sum: u64 = a
        .iter()
        .zip(b.iter())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

/// Mean and standard deviation of `(out - in) / 255` over all elements.
fn change_stats(input: &RgbImage, output: &RgbImage) -> (f64, f64) {
    let d: Vec<f64> = input
        .iter()
        .zip(output.iter())
        .map(|(a, b)| (f64::from(*b) - f64::from(*a)) / 255.0)
        .collect();
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let var = d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d.len() as f64;
    (mean, var.sqrt())
}

/// The benchmark's frost textures: `$SUPCON_FROST_DIR`, else `../shared/data/frost` next to
/// the repository when present.
fn frost_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SUPCON_FROST_DIR") {
        return Some(PathBuf::from(dir));
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/frost");
    dir.is_dir().then_some(dir)
}

#[test]
fn every_cell_keeps_size_and_is_deterministic_on_both_paths() {
    let imagenet = astronaut();
    let cifar = imagenet_crop(&imagenet);
    let cifar = image::imageops::resize(&cifar, 32, 32, image::imageops::FilterType::Triangle);
    for (context, image) in [
        (CorruptionContext::imagenet(), &imagenet),
        (CorruptionContext::cifar(), &cifar),
    ] {
        for corruption in Corruption::ALL {
            for s in Severity::ALL {
                let a = corrupt(image, corruption, s, 11, &context).unwrap();
                let b = corrupt(image, corruption, s, 11, &context).unwrap();
                assert_eq!(a.dimensions(), image.dimensions(), "{corruption} s{s}");
                assert!(a == b, "{corruption} s{s}: same seed, different images");
                if corruption.is_random() {
                    let c = corrupt(image, corruption, s, 12, &context).unwrap();
                    // CIFAR elastic severity 1 has alpha 0 and only a small affine jitter,
                    // which can round to the same image; everything else must change.
                    if !(corruption == Corruption::ElasticTransform && image.width() == 32) {
                        assert!(
                            a != c,
                            "{corruption} s{s}: seeds 11 and 12 gave the same image"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn imagenet_path_crops_other_sizes_to_224() {
    let image = RgbImage::from_fn(320, 240, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let out = corrupt(
        &image,
        Corruption::Fog,
        severity(2),
        0,
        &CorruptionContext::imagenet(),
    )
    .unwrap();
    assert_eq!(out.dimensions(), (224, 224));
}

#[test]
fn additive_noises_have_the_published_standard_deviation() {
    // On mid grey (128/255 = 0.502) clipping is negligible at severities 1-3:
    // Gaussian: std c; shot: std sqrt(x / rate); speckle: std x * c.
    let grey = RgbImage::from_pixel(224, 224, Rgb([128, 128, 128]));
    let x = 128.0 / 255.0;
    let context = CorruptionContext::imagenet();
    for level in 1..=3 {
        let s = severity(level);
        for corruption in [
            Corruption::GaussianNoise,
            Corruption::ShotNoise,
            Corruption::SpeckleNoise,
        ] {
            let expected = match context.params(corruption, s) {
                CorruptionParams::GaussianNoise { std } => std,
                CorruptionParams::ShotNoise { rate } => (x / rate).sqrt(),
                CorruptionParams::SpeckleNoise { std } => x * std,
                other => unreachable!("{other:?}"),
            };
            let out = corrupt(&grey, corruption, s, 5, &context).unwrap();
            let (mean, std) = change_stats(&grey, &out);
            assert!(
                (std - expected).abs() < 0.03 * expected,
                "{corruption} s{s}: std {std} vs {expected}"
            );
            // Truncation to 8 bits lowers values by half a level on average.
            assert!(mean.abs() < 0.004, "{corruption} s{s}: mean change {mean}");
        }
    }
}

#[test]
fn impulse_noise_flips_the_published_fraction_half_salt_half_pepper() {
    let grey = RgbImage::from_pixel(224, 224, Rgb([128, 128, 128]));
    let context = CorruptionContext::imagenet();
    for s in Severity::ALL {
        let CorruptionParams::ImpulseNoise { amount } = context.params(Corruption::ImpulseNoise, s)
        else {
            unreachable!()
        };
        let out = corrupt(&grey, Corruption::ImpulseNoise, s, 3, &context).unwrap();
        let n = out.as_raw().len() as f64;
        let salt = out.iter().filter(|&&v| v == 255).count() as f64 / n;
        let pepper = out.iter().filter(|&&v| v == 0).count() as f64 / n;
        assert!(out.iter().all(|&v| v == 0 || v == 128 || v == 255));
        assert!(
            (salt + pepper - amount).abs() < 0.005,
            "s{s}: changed {} vs {amount}",
            salt + pepper
        );
        assert!(
            (salt - pepper).abs() < 0.01,
            "s{s}: salt {salt} pepper {pepper}"
        );
    }
}

#[test]
fn motion_blur_smears_a_dot_along_a_one_sided_ray() {
    // A white dot on black: output pixel p = sum_i w_i in(p + offset_i), so the dot lights the
    // pixels at dot - offset_i. The weighted centroid of the smear sits at distance
    // sum_i w_i i from the dot (w_i = exp(-i^2 / 2 sigma^2), normalised, i < 2 ceil(r) + 1),
    // on the side opposite to the angle (in [-45, 45] degrees): x decreases, |dy| <= |dx|.
    let mut image = RgbImage::new(224, 224);
    image.put_pixel(150, 112, Rgb([255, 255, 255]));
    let context = CorruptionContext::imagenet();
    for level in [1u8, 3, 5] {
        let CorruptionParams::MotionBlur { radius, sigma } =
            context.params(Corruption::MotionBlur, severity(level))
        else {
            unreachable!()
        };
        let taps = 2 * radius.ceil() as usize + 1;
        let w: Vec<f64> = (0..taps)
            .map(|i| (-((i * i) as f64) / (2.0 * sigma * sigma)).exp())
            .collect();
        let expected =
            w.iter().enumerate().map(|(i, w)| i as f64 * w).sum::<f64>() / w.iter().sum::<f64>();

        for seed in 0..4 {
            let out = corrupt(
                &image,
                Corruption::MotionBlur,
                severity(level),
                seed,
                &context,
            )
            .unwrap();
            let (mut total, mut cx, mut cy) = (0.0, 0.0, 0.0);
            for (x, y, p) in out.enumerate_pixels() {
                let v = f64::from(p[0]);
                total += v;
                cx += v * (f64::from(x) - 150.0);
                cy += v * (f64::from(y) - 112.0);
            }
            let (cx, cy) = (cx / total, cy / total);
            let distance = (cx * cx + cy * cy).sqrt();
            assert!(
                (distance - expected).abs() < 0.1 * expected + 0.3,
                "s{level} seed {seed}: {distance} vs {expected}"
            );
            assert!(
                cx < 0.0 && cy.abs() <= cx.abs() + 0.5,
                "s{level} seed {seed}: centroid ({cx}, {cy})"
            );
        }
    }
}

#[test]
fn glass_blur_softens_more_with_severity() {
    // Mean absolute difference between horizontal neighbours falls as the blur grows.
    let image = astronaut();
    let sharpness = |img: &RgbImage| {
        let (w, h) = img.dimensions();
        let mut sum = 0u64;
        for y in 0..h {
            for x in 0..w - 1 {
                sum += u64::from(img.get_pixel(x, y)[1].abs_diff(img.get_pixel(x + 1, y)[1]));
            }
        }
        sum as f64 / f64::from(h * (w - 1))
    };
    let context = CorruptionContext::imagenet();
    let original = sharpness(&image);
    let s1 = sharpness(&corrupt(&image, Corruption::GlassBlur, severity(1), 0, &context).unwrap());
    let s5 = sharpness(&corrupt(&image, Corruption::GlassBlur, severity(5), 0, &context).unwrap());
    assert!(
        s1 < original && s5 < s1,
        "sharpness {original} -> s1 {s1} -> s5 {s5}"
    );
}

#[test]
fn more_severe_is_further_from_the_input() {
    // Mean absolute change from the input, averaged over two seeds, must grow from severity 1
    // to 3 to 5 for the corruptions whose published parameters grow monotonically. (Frost
    // lowers the image weight and raises the texture weight, so its change from the input
    // need not grow; snow, elastic, spatter and saturate change their mechanism across
    // severities.)
    let image = astronaut();
    let context = CorruptionContext::imagenet();
    let monotone = [
        Corruption::GaussianNoise,
        Corruption::ShotNoise,
        Corruption::ImpulseNoise,
        Corruption::SpeckleNoise,
        Corruption::DefocusBlur,
        Corruption::GlassBlur,
        Corruption::MotionBlur,
        Corruption::ZoomBlur,
        Corruption::GaussianBlur,
        Corruption::Fog,
        Corruption::Brightness,
        Corruption::Contrast,
        Corruption::Pixelate,
        Corruption::JpegCompression,
    ];
    for corruption in monotone {
        let change = |level: u8| {
            (0..2)
                .map(|seed| {
                    mean_abs_diff(
                        &image,
                        &corrupt(&image, corruption, severity(level), seed, &context).unwrap(),
                    )
                })
                .sum::<f64>()
                / 2.0
        };
        let (s1, s3, s5) = (change(1), change(3), change(5));
        assert!(
            0.0 < s1 && s1 < s3 && s3 < s5,
            "{corruption}: {s1:.2} {s3:.2} {s5:.2}"
        );
    }
}

#[test]
fn weather_and_spatter_change_what_they_should() {
    let image = astronaut();
    let context = CorruptionContext::imagenet();
    let mean =
        |img: &RgbImage| img.iter().map(|&v| f64::from(v)).sum::<f64>() / img.as_raw().len() as f64;
    let changed = |a: &RgbImage, b: &RgbImage| {
        a.pixels().zip(b.pixels()).filter(|(p, q)| p != q).count() as f64
            / f64::from(a.width() * a.height())
    };
    for s in Severity::ALL {
        // Snow whitens: the mean rises, and most pixels change.
        let snow = corrupt(&image, Corruption::Snow, s, 1, &context).unwrap();
        assert!(mean(&snow) > mean(&image) + 5.0, "snow s{s}");
        assert!(changed(&image, &snow) > 0.5, "snow s{s}");
        // Spatter leaves most of the image alone but marks some of it.
        let spatter = corrupt(&image, Corruption::Spatter, s, 1, &context).unwrap();
        let fraction = changed(&image, &spatter);
        assert!(
            fraction > 0.002 && fraction < 0.9,
            "spatter s{s}: {fraction}"
        );
        // The elastic warp moves pixels but keeps the colour content: mean within 3 levels.
        let elastic = corrupt(&image, Corruption::ElasticTransform, s, 1, &context).unwrap();
        assert!((mean(&elastic) - mean(&image)).abs() < 3.0, "elastic s{s}");
        assert!(mean_abs_diff(&elastic, &image) > 1.0, "elastic s{s}");
    }
}

#[test]
fn frost_blends_a_crop_of_a_benchmark_texture() {
    let Some(dir) = frost_dir() else {
        println!(
            "skipped: no frost textures (set SUPCON_FROST_DIR or provide ../shared/data/frost)"
        );
        return;
    };
    let textures: Vec<RgbImage> = supcon_eval::corruption::FROST_FILE_NAMES
        .iter()
        .map(|name| image::open(dir.join(name)).unwrap().to_rgb8())
        .collect();
    let context = CorruptionContext::imagenet().with_frost(FrostTextures::load_dir(&dir).unwrap());
    assert!(!context.is_approximate(Corruption::Frost));
    assert!(CorruptionContext::imagenet().is_approximate(Corruption::Frost));

    // On a black image, severity 1 gives uint8(0.4 * frost): find the output's top-left 6x6
    // patch in one of the five textures at some offset (an exact, independent check of the
    // texture reading and the crop).
    let black = RgbImage::new(224, 224);
    for seed in 0..3 {
        let out = corrupt(&black, Corruption::Frost, severity(1), seed, &context).unwrap();
        let scaled = |v: u8| (0.4f32 * f32::from(v)) as u8;
        let found = textures.iter().any(|t| {
            (0..t.height() - 224).any(|top| {
                (0..t.width() - 224).any(|left| {
                    (0..6).all(|dy| {
                        (0..6).all(|dx| {
                            let p = t.get_pixel(left + dx, top + dy);
                            let q = out.get_pixel(dx, dy);
                            (0..3).all(|c| scaled(p[c]).abs_diff(q[c]) <= 1)
                        })
                    })
                })
            })
        });
        assert!(
            found,
            "seed {seed}: the frost patch is not a crop of any texture"
        );
    }

    // The procedural stand-in has about the brightness of the real textures (within 35 %).
    let real: f64 = (0..4)
        .map(|seed| corrupt(&black, Corruption::Frost, severity(3), seed, &context).unwrap())
        .map(|o| o.iter().map(|&v| f64::from(v)).sum::<f64>() / o.as_raw().len() as f64)
        .sum::<f64>()
        / 4.0;
    let procedural: f64 = (0..4)
        .map(|seed| {
            corrupt(
                &black,
                Corruption::Frost,
                severity(3),
                seed,
                &CorruptionContext::imagenet(),
            )
            .unwrap()
        })
        .map(|o| o.iter().map(|&v| f64::from(v)).sum::<f64>() / o.as_raw().len() as f64)
        .sum::<f64>()
        / 4.0;
    println!("frost s3 on black: real textures mean {real:.1}, procedural {procedural:.1}");
    assert!(
        (procedural - real).abs() < 0.35 * real,
        "procedural {procedural} vs real {real}"
    );

    // CIFAR scale: textures shrunk by 0.2 still hold a 32x32 crop.
    let cifar = CorruptionContext::cifar().with_frost(FrostTextures::load_dir(&dir).unwrap());
    let small = RgbImage::new(32, 32);
    for s in Severity::ALL {
        corrupt(&small, Corruption::Frost, s, 0, &cifar).unwrap();
    }
}

#[test]
fn missing_frost_textures_are_reported_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let err = FrostTextures::load_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("frost1.png"), "{err}");
}
