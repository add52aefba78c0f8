//! Feature-map shapes through every stage for both stems, and the initialisation options.
//!
//! Expected sizes are worked by hand from the layer definitions: a k x k convolution or pool
//! with stride s and padding p maps a side of n to floor((n + 2p - k) / s) + 1.

use burn::prelude::*;
use supcon_models::{BlockKind, ResNetConfig, ResidualBlock, Stem, SupConModelConfig};

fn dims(tensor: &Tensor<4>) -> [usize; 4] {
    tensor.dims()
}

#[test]
fn imagenet_stem_quarters_the_image_and_stages_halve_it() {
    let device = Device::flex();
    // Width 1/8: 8 stem channels, stage widths 8, 16, 32, 64.
    let config = ResNetConfig::resnet18().with_width_multiplier(0.125);
    let model = config.init(&device).valid();
    let images = Tensor::<4>::zeros([2, 3, 32, 32], &device);
    let maps = model.forward_stages(images.clone());
    // 32 -conv 7x7/2 p3-> 16 -pool 3x3/2 p1-> 8; stages: 8, 4, 2, 1.
    assert_eq!(dims(&maps.stem), [2, 8, 8, 8]);
    assert_eq!(dims(&maps.stages[0]), [2, 8, 8, 8]);
    assert_eq!(dims(&maps.stages[1]), [2, 16, 4, 4]);
    assert_eq!(dims(&maps.stages[2]), [2, 32, 2, 2]);
    assert_eq!(dims(&maps.stages[3]), [2, 64, 1, 1]);
    assert_eq!(model.forward(images).dims(), [2, 64]);
    assert_eq!(model.feature_dim(), 64);

    // Odd sides round as in PyTorch: 33 -> 17 -> 9; stages 9, 5, 3, 2.
    let maps = model.forward_stages(Tensor::<4>::zeros([1, 3, 33, 33], &device));
    assert_eq!(dims(&maps.stem), [1, 8, 9, 9]);
    assert_eq!(dims(&maps.stages[1]), [1, 16, 5, 5]);
    assert_eq!(dims(&maps.stages[2]), [1, 32, 3, 3]);
    assert_eq!(dims(&maps.stages[3]), [1, 64, 2, 2]);
}

#[test]
fn cifar_stem_keeps_the_resolution_and_bottlenecks_expand_four_times() {
    let device = Device::flex();
    let config = ResNetConfig::new(BlockKind::Bottleneck, [1, 2, 1, 1])
        .with_stem(Stem::Cifar)
        .with_width_multiplier(0.125);
    assert_eq!(config.stage_channels(0), 32);
    let model = config.init(&device).valid();
    let images = Tensor::<4>::zeros([3, 3, 16, 16], &device);
    let maps = model.forward_stages(images.clone());
    // 16 -conv 3x3/1 p1-> 16, no pool; stages: 16, 8, 4, 2 with 4 x (8, 16, 32, 64) channels.
    assert_eq!(dims(&maps.stem), [3, 8, 16, 16]);
    assert_eq!(dims(&maps.stages[0]), [3, 32, 16, 16]);
    assert_eq!(dims(&maps.stages[1]), [3, 64, 8, 8]);
    assert_eq!(dims(&maps.stages[2]), [3, 128, 4, 4]);
    assert_eq!(dims(&maps.stages[3]), [3, 256, 2, 2]);
    assert_eq!(model.forward(images).dims(), [3, 256]);
    assert_eq!(model.layer2.len(), 2);
}

#[test]
fn bottleneck_puts_the_stride_on_the_three_by_three_convolution() {
    let config =
        ResNetConfig::new(BlockKind::Bottleneck, [1, 1, 1, 1]).with_width_multiplier(0.125);
    let model = config.init(&Device::flex());
    let ResidualBlock::Bottleneck(block) = &model.layer2[0] else {
        panic!("a bottleneck network has bottleneck blocks");
    };
    assert_eq!(block.conv1.stride, [1, 1]);
    assert_eq!(block.conv2.stride, [2, 2]);
    assert_eq!(block.conv3.stride, [1, 1]);
    let (downsample, _) = block
        .downsample
        .as_ref()
        .expect("stride 2 needs a projection");
    assert_eq!(downsample.stride, [2, 2]);
    // The first block of stage 1 changes 8 -> 32 channels at stride 1: it projects too.
    let ResidualBlock::Bottleneck(first) = &model.layer1[0] else {
        unreachable!()
    };
    assert!(first.downsample.is_some());
}

#[test]
fn supcon_embeddings_have_unit_norm() {
    let device = Device::flex();
    let encoder = ResNetConfig::resnet18_cifar().with_width_multiplier(0.125);
    let model = SupConModelConfig::new(encoder)
        .with_projection_dim(16)
        .init(&device)
        .valid();
    let images = Tensor::<4>::random([4, 3, 8, 8], burn::tensor::Distribution::Default, &device);
    let embeddings = model.forward(images);
    assert_eq!(embeddings.dims(), [4, 16]);
    let norms: Vec<f32> = embeddings
        .square()
        .sum_dim(1)
        .sqrt()
        .into_data()
        .try_to_vec()
        .unwrap();
    for norm in norms {
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
}

#[test]
fn zero_init_residual_zeroes_the_last_batch_norm_of_every_block() {
    let device = Device::flex();
    for config in [
        ResNetConfig::resnet18().with_width_multiplier(0.125),
        ResNetConfig::new(BlockKind::Bottleneck, [1, 1, 1, 1]).with_width_multiplier(0.125),
    ] {
        let model = config.with_zero_init_residual(true).init(&device);
        for block in model
            .layer1
            .iter()
            .chain(&model.layer2)
            .chain(&model.layer3)
            .chain(&model.layer4)
        {
            let (last, first) = match block {
                ResidualBlock::Basic(b) => (&b.bn2, &b.bn1),
                ResidualBlock::Bottleneck(b) => (&b.bn3, &b.bn1),
            };
            let last: Vec<f32> = last.gamma.val().into_data().try_to_vec().unwrap();
            assert!(last.iter().all(|&g| g == 0.0));
            let first: Vec<f32> = first.gamma.val().into_data().try_to_vec().unwrap();
            assert!(first.iter().all(|&g| g == 1.0));
        }
    }
}

#[test]
fn torchvision_init_draws_convolutions_with_std_sqrt_two_over_fan_out() {
    // torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu"), std = sqrt(2 / fan_out)
    // with fan_out = out_channels * 3 * 3. Stage 4 of ResNet-18: 512 x 512 x 3 x 3 weights,
    // std = sqrt(2 / 4608) = 0.02083. With 2.4 M draws the sample std is within 0.2 %.
    let model = ResNetConfig::resnet18().init(&Device::flex());
    let ResidualBlock::Basic(block) = &model.layer4[1] else {
        unreachable!()
    };
    let weights: Vec<f32> = block.conv1.weight.val().into_data().try_to_vec().unwrap();
    let n = weights.len() as f64;
    let mean = weights.iter().map(|&w| w as f64).sum::<f64>() / n;
    let var = weights
        .iter()
        .map(|&w| (w as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    let expected = (2.0f64 / 4608.0).sqrt();
    assert!(mean.abs() < 1e-4, "mean {mean}");
    assert!(
        (var.sqrt() / expected - 1.0).abs() < 0.01,
        "std {} vs {expected}",
        var.sqrt()
    );

    // Without it: PyTorch's default, uniform with bound 1 / sqrt(fan_in), std = bound / sqrt(3).
    let model = ResNetConfig::resnet18()
        .with_torchvision_init(false)
        .init(&Device::flex());
    let ResidualBlock::Basic(block) = &model.layer4[1] else {
        unreachable!()
    };
    let weights: Vec<f32> = block.conv1.weight.val().into_data().try_to_vec().unwrap();
    let bound = 1.0 / (4608.0f32).sqrt();
    assert!(weights.iter().all(|w| w.abs() <= bound));
}

#[test]
fn unsupported_depth_is_an_error_naming_it() {
    let error = ResNetConfig::from_depth(42).unwrap_err();
    assert!(error.to_string().contains("42"), "{error}");
}

#[test]
#[should_panic(expected = "got 1 channel(s)")]
fn images_without_three_channels_are_rejected() {
    let device = Device::flex();
    let model = ResNetConfig::resnet18_cifar()
        .with_width_multiplier(0.125)
        .init(&device);
    model.forward(Tensor::<4>::zeros([1, 1, 8, 8], &device));
}
