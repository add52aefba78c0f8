//! A Burn model evaluated end to end through `ImageClassifier`.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::prelude::*;
use supcon_data::{Normalize, ResizeCenterCrop, Split, SyntheticConfig};
use supcon_eval::{
    collect_outputs, evaluate_dataset, evaluate_labeled_images, AccuracyReport, EvalError,
    ImageClassifier, LabeledBatch, LabeledImageBatcher,
};
use supcon_models::{ClassifierModelConfig, ResNetConfig};

/// Scores class `k` by the mean of channel `k` (3 classes): an image whose brightest channel is
/// `k` is predicted as class `k`.
struct ChannelMeans;

impl ImageClassifier for ChannelMeans {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        let [n, c, h, w] = images.dims();
        // [N, 3, H, W] -> [N, 3, H * W] -> mean over pixels -> [N, 3]
        images.reshape([n, c, h * w]).mean_dim(2).reshape([n, c]) * 10.0
    }

    fn num_classes(&self) -> usize {
        3
    }
}

/// An image item: the brightest channel and the label.
#[derive(Clone, Debug)]
struct Item {
    bright: usize,
    label: usize,
}

struct ItemBatcher;

impl Batcher<Item, LabeledBatch> for ItemBatcher {
    fn batch(&self, items: Vec<Item>, device: &Device) -> LabeledBatch {
        let (h, w) = (4, 4);
        let mut values = Vec::new();
        for item in &items {
            for channel in 0..3 {
                let v = if channel == item.bright { 1.0f32 } else { 0.0 };
                values.extend(std::iter::repeat_n(v, h * w));
            }
        }
        let data = TensorData::new(values, [items.len(), 3, h, w]);
        LabeledBatch {
            images: Tensor::from_data(data, device),
            labels: items.iter().map(|i| i.label).collect(),
        }
    }
}

#[test]
fn a_dataset_is_evaluated_in_batches_in_order() {
    let device = Device::flex();
    // Seven images: six predicted right, the last (bright channel 2, label 0) wrong.
    let items: Vec<Item> = [(0, 0), (1, 1), (2, 2), (0, 0), (1, 1), (2, 2), (2, 0)]
        .into_iter()
        .map(|(bright, label)| Item { bright, label })
        .collect();
    let dataset = InMemDataset::new(items);
    let outputs = evaluate_dataset(&ChannelMeans, &dataset, &ItemBatcher, 3, &device).unwrap();
    assert_eq!(outputs.num_samples(), 7);
    assert_eq!(outputs.labels(), &[0, 1, 2, 0, 1, 2, 0]);
    let report = AccuracyReport::compute(&outputs);
    assert!((report.top1 - 6.0 / 7.0).abs() < 1e-12);
    assert_eq!(report.confusion_matrix.get(0, 2), 1);
    assert!(outputs.scores().logits().is_some());
}

/// A model that claims 4 classes but returns 3 columns.
struct WrongWidth;

impl ImageClassifier for WrongWidth {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        ChannelMeans.logits(images)
    }

    fn num_classes(&self) -> usize {
        4
    }
}

#[test]
fn logits_of_the_wrong_shape_are_an_error() {
    let device = Device::flex();
    let batch = ItemBatcher.batch(
        vec![
            Item {
                bright: 0,
                label: 0
            };
            2
        ],
        &device,
    );
    let error = collect_outputs(&WrongWidth, [batch]).unwrap_err();
    assert!(matches!(error, EvalError::LogitShape { .. }), "{error}");
    assert!(
        error.to_string().contains("[2, 3], expected [2, 4]"),
        "{error}"
    );
}

#[test]
fn no_batches_is_an_error() {
    let error = collect_outputs(&ChannelMeans, Vec::<LabeledBatch>::new()).unwrap_err();
    assert!(matches!(error, EvalError::Empty { .. }), "{error}");
}

/// A tiny ResNet classifier over the synthetic set: the batched evaluation (batches of 4, the
/// last one partial, images resized from 12 to 8 px) gives the logits of one forward pass over
/// all images, in dataset order.
#[test]
fn a_classifier_model_is_evaluated_on_a_data_source() {
    let device = Device::flex();
    let encoder = ResNetConfig {
        blocks_per_stage: [1, 1, 1, 1],
        ..ResNetConfig::resnet18_cifar().with_width_multiplier(0.125)
    };
    let model = ClassifierModelConfig::new(encoder, 3).init(&device);
    assert_eq!(model.num_classes(), 3);
    let config = SyntheticConfig::new()
        .with_num_classes(3)
        .with_samples_per_class(2);
    let dataset = config.with_image_size(12).init(Split::Test).unwrap();

    let batcher = LabeledImageBatcher::new(Normalize::symmetric())
        .with_transform(ResizeCenterCrop::new(8, 8));
    let outputs = evaluate_labeled_images(&model, &dataset, &batcher, 4, &device).unwrap();
    assert_eq!(outputs.num_samples(), 6);
    assert_eq!(outputs.labels(), &[0, 1, 2, 0, 1, 2]);

    let items = (0..6)
        .map(|i| burn::data::dataset::Dataset::get(&dataset, i).unwrap())
        .collect();
    let all = batcher.batch(items, &device);
    assert_eq!(all.images.dims(), [6, 3, 8, 8]);
    let expected: Vec<f32> = model.logits(all.images).try_into_vec_as().unwrap();
    let actual = outputs.scores().logits().unwrap();
    for (a, e) in actual.iter().zip(&expected) {
        assert!((a - e).abs() < 1e-4 * e.abs().max(1.0), "{a} vs {e}");
    }
}
