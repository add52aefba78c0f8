//! Invariants of the augmentations over random images, sizes and seeds: shapes and value ranges
//! are kept, the same seed gives the same image, different seeds give different views.

use image::RgbImage;
use proptest::prelude::*;
use supcon_data::seed::rng_from_seed;
use supcon_data::{AugmentOp, Interpolation, MultiView, Normalize, Preset, Transform};

/// A random-looking but reproducible image of `width` x `height`.
fn textured(width: u32, height: u32, salt: u64) -> RgbImage {
    let mut rng = rng_from_seed(salt);
    let mut pixels = vec![0u8; (width * height * 3) as usize];
    for (i, v) in pixels.iter_mut().enumerate() {
        let smooth = ((i / 3) as u32 % width * 7 + (i / 3) as u32 / width * 5) as u8;
        *v = smooth.wrapping_add((rand::Rng::next_u32(&mut rng) % 64) as u8);
    }
    RgbImage::from_raw(width, height, pixels).unwrap()
}

fn preset_strategy() -> impl Strategy<Value = Preset> {
    proptest::sample::select(Preset::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn presets_give_the_requested_size_and_repeat_under_a_seed(
        preset in preset_strategy(),
        width in 5u32..80,
        height in 5u32..80,
        size in 8u32..40,
        seed in any::<u64>(),
    ) {
        let image = textured(width, height, seed ^ 1);
        let pipeline = preset.build(size);
        let a = pipeline.apply(image.clone(), &mut rng_from_seed(seed));
        let b = pipeline.apply(image, &mut rng_from_seed(seed));
        prop_assert_eq!(a.dimensions(), (size, size));
        prop_assert_eq!(a, b);
    }

    #[test]
    fn different_seeds_give_different_views(
        preset in preset_strategy().prop_filter("random presets", |p| p.is_training()),
        seed in any::<u64>(),
    ) {
        // Among four seeds at least two views differ (a coincidence of all four is practically
        // impossible for a random pipeline on a textured image).
        let image = textured(48, 40, 7);
        let pipeline = preset.build(24);
        let outputs: Vec<RgbImage> = (0..4)
            .map(|k| pipeline.apply(image.clone(), &mut rng_from_seed(seed.wrapping_add(k))))
            .collect();
        prop_assert!(outputs.iter().any(|o| *o != outputs[0]));
    }

    #[test]
    fn normalised_views_stay_in_the_normalised_range(
        seed in any::<u64>(),
        num_views in 1usize..4,
    ) {
        let normalize = Normalize::cifar10();
        let transform = MultiView::new(Preset::CifarSupCon.build(16), num_views, normalize.clone());
        let views = transform.views(&textured(32, 32, seed), &mut rng_from_seed(seed));
        prop_assert_eq!(views.len(), num_views);
        let (mean, std) = (normalize.mean(), normalize.std());
        for view in &views {
            let planar = normalize.to_planar(view);
            prop_assert_eq!(planar.len(), 3 * 16 * 16);
            for (k, value) in planar.iter().enumerate() {
                let c = k / 256;
                let (low, high) = ((0.0 - mean[c]) / std[c], (1.0 - mean[c]) / std[c]);
                prop_assert!(*value >= low - 1e-6 && *value <= high + 1e-6);
            }
        }
    }

    #[test]
    fn every_operation_keeps_the_shape(
        op in proptest::sample::select(AugmentOp::ALL.to_vec()),
        magnitude in -0.9f64..0.9,
        width in 1u32..40,
        height in 1u32..40,
        bilinear in any::<bool>(),
    ) {
        let image = textured(width, height, 3);
        let magnitude = match op {
            AugmentOp::Posterize => 4.0,
            AugmentOp::Solarize => 128.0,
            AugmentOp::Rotate | AugmentOp::TranslateX | AugmentOp::TranslateY => magnitude * 30.0,
            _ => magnitude,
        };
        let interpolation = if bilinear { Interpolation::Bilinear } else { Interpolation::Nearest };
        let out = supcon_data::functional::apply_op(image, op, magnitude, interpolation, None);
        prop_assert_eq!(out.dimensions(), (width, height));
    }
}
