//! The multi-view loader: layout, reproducibility, resumption and error propagation.

use std::sync::Arc;

use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::Device;
use supcon_data::seed::{rng_from_seed, sample_seed};
use supcon_data::{
    DataError, LabeledImage, LoaderConfig, MultiView, MultiViewLoader, Normalize, Preset, Split,
    SyntheticConfig,
};

fn synthetic(samples_per_class: usize) -> Arc<dyn Dataset<LabeledImage>> {
    let config = SyntheticConfig::new()
        .with_num_classes(3)
        .with_samples_per_class(samples_per_class)
        .with_image_size(20);
    Arc::new(config.init(Split::Train).unwrap())
}

fn views(num_views: usize) -> MultiView {
    MultiView::new(
        Preset::CifarSupCon.build(16),
        num_views,
        Normalize::cifar10(),
    )
}

fn loader(config: LoaderConfig, num_views: usize) -> MultiViewLoader {
    config.init(synthetic(5), views(num_views)).unwrap()
}

#[test]
fn batches_are_view_major_and_each_view_is_reproducible_from_its_seed() {
    // 15 samples, batches of 4, 3 views.
    let config = LoaderConfig::new(4).with_seed(11).with_drop_last(false);
    let loader = loader(config, 3);
    assert_eq!(loader.num_batches(), 4);
    let dataset = synthetic(5);
    let transform = views(3);

    let batch = loader.load_batch(2, 1).unwrap();
    assert_eq!(
        (
            batch.num_views,
            batch.batch_size(),
            batch.height,
            batch.width
        ),
        (3, 4, 16, 16)
    );
    assert_eq!(batch.indices, loader.epoch_order(2)[4..8]);
    let row = 3 * 16 * 16;
    for (i, &index) in batch.indices.iter().enumerate() {
        let item = dataset.get(index).unwrap();
        assert_eq!(batch.labels[i], item.label as i64);
        // Rebuild the sample's views from (run seed, epoch, index) alone.
        let mut rng = rng_from_seed(sample_seed(11, 2, index as u64));
        for (v, view) in transform.views(&item.image, &mut rng).iter().enumerate() {
            let expected = transform.normalize().to_planar(view);
            let start = (v * 4 + i) * row;
            assert_eq!(
                &batch.images[start..start + row],
                &expected[..],
                "view {v} of sample {i}"
            );
        }
    }
}

#[test]
fn epochs_reshuffle_and_resume_mid_epoch_identically() {
    let loader = loader(LoaderConfig::new(3).with_seed(5), 2);
    let (first, second) = (loader.epoch_order(0), loader.epoch_order(1));
    assert_ne!(first, second, "the order must change between epochs");
    let mut sorted = first.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..15).collect::<Vec<_>>());

    let full: Vec<_> = loader.iter_epoch_host(1, 0).map(Result::unwrap).collect();
    assert_eq!(full.len(), 5);
    let resumed: Vec<_> = loader.iter_epoch_host(1, 3).map(Result::unwrap).collect();
    assert_eq!(resumed.len(), 2);
    for (a, b) in full[3..].iter().zip(&resumed) {
        assert_eq!(a.indices, b.indices);
        assert_eq!(a.images, b.images);
    }
    // Another epoch gives other views of the same sample.
    let other = loader.load_batch(0, 0).unwrap();
    assert_ne!(other.images, full[0].images);
}

#[test]
fn thread_count_and_prefetch_do_not_change_the_data() {
    let base = LoaderConfig::new(4).with_seed(3);
    let one = loader(
        base.clone()
            .with_num_threads(Some(1))
            .with_prefetch_batches(0),
        2,
    );
    let many = loader(base.with_num_threads(Some(3)).with_prefetch_batches(3), 2);
    let a: Vec<_> = one.iter_epoch_host(0, 0).map(Result::unwrap).collect();
    let b: Vec<_> = many.iter_epoch_host(0, 0).map(Result::unwrap).collect();
    assert_eq!(a.len(), 3);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.images, y.images);
        assert_eq!(x.labels, y.labels);
    }
}

#[test]
fn drop_last_controls_the_final_partial_batch() {
    let keep = loader(LoaderConfig::new(4).with_drop_last(false), 1);
    let sizes: Vec<usize> = keep
        .iter_epoch_host(0, 0)
        .map(|b| b.unwrap().batch_size())
        .collect();
    assert_eq!(sizes, [4, 4, 4, 3]);
    let drop = loader(LoaderConfig::new(4), 1);
    assert_eq!(drop.num_batches(), 3);
}

#[test]
fn device_batches_hold_the_host_values() {
    let loader = loader(LoaderConfig::new(2).with_seed(9), 2);
    let host = loader.load_batch(0, 0).unwrap();
    let device = Device::flex();
    let batch = loader.iter_epoch(0, 0, &device).next().unwrap().unwrap();
    assert_eq!(batch.images.dims(), [4, 3, 16, 16]);
    assert_eq!(batch.labels.dims(), [2]);
    let values: Vec<f32> = batch.images.into_data().try_into_vec::<f32>().unwrap();
    assert_eq!(values, host.images);
    let labels: Vec<i64> = batch.labels.into_data().try_into_vec_as::<i64>().unwrap();
    assert_eq!(labels, host.labels);
}

/// A source whose sample 5 fails.
struct Failing;

impl Dataset<LabeledImage> for Failing {
    fn get(&self, index: usize) -> Result<LabeledImage, DatasetError> {
        if index == 5 {
            return Err(DataError::InvalidConfig("sample five is broken".into()).into());
        }
        Ok(LabeledImage {
            image: image::RgbImage::new(16, 16),
            label: 0,
        })
    }
    fn len(&self) -> usize {
        8
    }
}

#[test]
fn source_errors_propagate_with_the_sample_index_and_end_the_epoch() {
    let config = LoaderConfig::new(2).with_shuffle(false);
    let loader = config.init(Arc::new(Failing), views(2)).unwrap();
    let results: Vec<_> = loader.iter_epoch_host(0, 0).collect();
    // Batches (0, 1) and (2, 3) load; (4, 5) fails; the epoch then ends.
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[1].is_ok());
    let error = results[2].as_ref().unwrap_err();
    assert!(
        matches!(error, DataError::Source { index: 5, .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("sample five is broken"),
        "{error}"
    );
}

#[test]
fn invalid_configurations_are_rejected() {
    let error = LoaderConfig::new(0)
        .init(synthetic(1), views(1))
        .unwrap_err();
    assert!(error.to_string().contains("batch_size"), "{error}");
    let error = LoaderConfig::new(2)
        .with_num_threads(Some(0))
        .init(synthetic(1), views(1))
        .unwrap_err();
    assert!(error.to_string().contains("num_threads"), "{error}");
}

#[test]
fn views_of_different_sizes_cannot_share_a_batch() {
    // A pipeline without a fixed-size crop passes the dataset's sizes through.
    struct TwoSizes;
    impl Dataset<LabeledImage> for TwoSizes {
        fn get(&self, index: usize) -> Result<LabeledImage, DatasetError> {
            let side = 8 + index as u32;
            Ok(LabeledImage {
                image: image::RgbImage::new(side, side),
                label: 0,
            })
        }
        fn len(&self) -> usize {
            2
        }
    }
    let transform = MultiView::new(supcon_data::Compose::new(), 1, Normalize::symmetric());
    let loader = LoaderConfig::new(2)
        .with_shuffle(false)
        .init(Arc::new(TwoSizes), transform);
    let error = loader.unwrap().load_batch(0, 0).unwrap_err();
    assert!(
        matches!(error, DataError::ViewSizeMismatch { index: 1, .. }),
        "{error}"
    );
}
