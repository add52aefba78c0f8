//! Parameter and buffer counts against PyTorch's, for every architecture listed in
//! `reference/param_counts.json` (torchvision 0.29.2 and the SupCon reference code's
//! `networks/resnet_big.py`; see reference/README.md).

#[path = "../../tests/src/reference.rs"]
mod reference;

use burn::prelude::*;
use serde_json::Value;
use supcon_models::{
    num_buffers, num_parameters, ClassifierModelConfig, LinearClassifierConfig, ResNetConfig, Stem,
    SupConModelConfig,
};

fn depth_of(name: &str) -> usize {
    name.strip_prefix("resnet")
        .and_then(|depth| depth.parse().ok())
        .unwrap_or_else(|| panic!("reference entry `{name}` is not of the form resnet<depth>"))
}

fn count(entry: &Value, field: &str, name: &str) -> usize {
    entry[field]
        .as_u64()
        .unwrap_or_else(|| panic!("reference entry `{name}` has no integer `{field}`")) as usize
}

#[test]
fn torchvision_imagenet_models_have_torchvision_counts() {
    let reference = reference::read_reference_json("param_counts.json");
    let models = reference["torchvision"]
        .as_object()
        .expect("a `torchvision` object");
    assert!(!models.is_empty());
    let device = Device::flex();
    for (name, entry) in models {
        let encoder = ResNetConfig::from_depth(depth_of(name)).unwrap();
        let model = ClassifierModelConfig::new(encoder, 1000).init(&device);

        assert_eq!(
            num_parameters(&model),
            count(entry, "total_with_fc1000", name),
            "{name} with fc1000"
        );
        assert_eq!(
            num_parameters(&model.classifier),
            count(entry, "fc1000", name),
            "{name} fc"
        );
        assert_eq!(
            num_parameters(&model.encoder),
            count(entry, "encoder_without_fc", name),
            "{name} encoder"
        );
        assert_eq!(
            model.encoder.feature_dim(),
            count(entry, "fc_in_features", name),
            "{name}"
        );
        assert_eq!(
            num_buffers(&model),
            count(entry, "buffers_numel", name),
            "{name} buffers"
        );
    }
}

#[test]
fn cifar_supcon_models_have_the_reference_code_counts() {
    let reference = reference::read_reference_json("param_counts.json");
    let models = reference["hobbitlong_supcon_resnet"]
        .as_object()
        .expect("a `hobbitlong_supcon_resnet` object");
    assert!(!models.is_empty());
    let device = Device::flex();
    for (name, entry) in models {
        let encoder = ResNetConfig::from_depth(depth_of(name))
            .unwrap()
            .with_stem(Stem::Cifar);
        let model = SupConModelConfig::new(encoder.clone()).init(&device);
        let feature_dim = model.encoder.feature_dim();
        assert_eq!(feature_dim, count(entry, "dim_in", name), "{name}");
        assert_eq!(
            num_parameters(&model.encoder),
            count(entry, "encoder", name),
            "{name}"
        );
        assert_eq!(
            num_buffers(&model.encoder),
            count(entry, "encoder_buffers_numel", name)
        );
        assert_eq!(
            num_parameters(&model.head),
            count(entry, "head_mlp_128", name),
            "{name}"
        );
        assert_eq!(
            num_parameters(&model),
            count(entry, "total", name),
            "{name} total"
        );

        let linear = LinearClassifierConfig::new(feature_dim, 10).init(&device);
        assert_eq!(
            num_parameters(&linear),
            count(entry, "linear_classifier_10", name)
        );
        let cross_entropy = ClassifierModelConfig::new(encoder, 10).init(&device);
        assert_eq!(
            num_parameters(&cross_entropy),
            count(entry, "supce_resnet_10_total", name),
            "{name} SupCE"
        );

        // The reference ran `SupConResNet` on a [2, 3, 32, 32] input.
        let shape: Vec<usize> = entry["forward_output_shape_32x32"]
            .as_array()
            .expect("forward_output_shape_32x32")
            .iter()
            .map(|dim| dim.as_u64().unwrap() as usize)
            .collect();
        let images = Tensor::<4>::zeros([shape[0], 3, 32, 32], &device);
        let embeddings = model.valid().forward(images);
        assert_eq!(embeddings.dims().to_vec(), shape, "{name} output shape");
    }
}

#[test]
fn burn_num_params_adds_the_running_statistics() {
    // Burn's count includes running mean and variance (2 C per batch norm of C channels);
    // PyTorch's buffers add one counter per batch norm: 20 batch norms in a ResNet-18.
    let encoder = ResNetConfig::resnet18().init(&Device::flex());
    assert_eq!(
        encoder.num_params(),
        num_parameters(&encoder) + num_buffers(&encoder) - 20
    );
}

#[test]
fn resnet200_adds_sixteen_stage_two_bottlenecks_to_resnet152() {
    let device = Device::flex();
    // ResNet-200 [3, 24, 36, 3]: no torchvision constructor; its count is that of ResNet-152
    // plus 16 more stage-2 bottlenecks (each 128 -> 128 -> 512 channels: 1x1 512x128, 3x3
    // 128x128, 1x1 128x512 convolutions and batch norms over 128, 128, 512 channels).
    let per_block = 512 * 128 + 9 * 128 * 128 + 128 * 512 + 2 * (128 + 128 + 512);
    let resnet152 = num_parameters(&ResNetConfig::resnet152().init(&device));
    let resnet200 = num_parameters(&ResNetConfig::resnet200().init(&device));
    assert_eq!(resnet200, resnet152 + 16 * per_block);

    // The width multiplier scales every channel count, so the feature size too.
    let narrow = ResNetConfig::resnet18()
        .with_width_multiplier(0.5)
        .init(&device);
    assert_eq!(narrow.feature_dim(), 256);
    let wide = ResNetConfig::resnet50()
        .with_width_multiplier(2.0)
        .init(&device);
    assert_eq!(wide.feature_dim(), 4096);
}
