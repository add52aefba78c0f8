//! Data-parallel SupCon steps over several devices of one process.
//!
//! Each device gets its own copy of the model ([`Module::fork`]) and its shard of the batch;
//! the shards' embeddings are gathered onto the main device
//! ([`supcon_core::gather_to_device`]) so that every anchor is contrasted against the global
//! batch, as the paper's TPU runs did; one backward pass sends each shard its part of the
//! gradient, and the replicas' parameter gradients are summed on the main device, where the
//! caller steps the optimiser once. BatchNorm normalises each shard with its own statistics
//! (per-device BatchNorm).
//!
//! For processes or threads that each own one device, use [`supcon_core::all_gather`] on the
//! embeddings and average the parameter gradients with Burn's `all_reduce`.

use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use supcon_core::{gather_to_device, views_to_features, Positives, SupConLoss};
use supcon_models::SupConModel;

use crate::grad_cache::CachedStep;

/// One shard of a data-parallel batch: its images (view-major within the shard,
/// `[V * b, 3, H, W]`), its labels `[b]` and the device that processes it.
#[derive(Clone, Debug)]
pub struct Shard {
    /// The shard's images, view-major (`v * b + i` is view `v` of sample `i`).
    pub images: Tensor<4>,
    /// The shard's labels.
    pub labels: Tensor<1, Int>,
    /// The device that embeds the shard.
    pub device: Device,
}

/// Computes the SupCon loss of the union of `shards` and the parameter gradients of `model`
/// (summed over the devices, on the model's device). The loss sees the shards' samples in
/// shard order.
///
/// # Panics
/// When `shards` is empty or a shard's rows are not `views` times its labels.
pub fn supcon_step_data_parallel(
    model: &SupConModel,
    loss: &SupConLoss,
    shards: Vec<Shard>,
    views: usize,
) -> CachedStep {
    assert!(
        !shards.is_empty(),
        "a data-parallel step needs at least one shard"
    );
    let main = model
        .devices()
        .first()
        .cloned()
        .expect("the model has parameters");

    // Each device: its replica and its shard's features [b, V, D].
    let mut replicas = Vec::with_capacity(shards.len());
    let mut features = Vec::with_capacity(shards.len());
    let mut labels = Vec::with_capacity(shards.len());
    for shard in shards {
        let [rows, _, _, _] = shard.images.dims();
        let [samples] = shard.labels.dims();
        assert_eq!(
            rows,
            views * samples,
            "a shard holds {rows} image rows for {samples} labels and {views} views"
        );
        let replica = model.clone().fork(&shard.device);
        let images = shard.images.to_device(&shard.device);
        features.push(views_to_features(replica.forward(images), views));
        labels.push(shard.labels.to_device(&main));
        replicas.push(replica);
    }

    // The global batch on the main device, one loss, one backward pass.
    let gathered = gather_to_device(features, &main);
    let value = loss.forward(gathered, Positives::Labels(Tensor::cat(labels, 0)));
    let mut gradients = value.backward();

    // Sum the replicas' gradients on the main device.
    let mut accumulator = GradientsAccumulator::<SupConModel>::new();
    for replica in &replicas {
        let replica_grads =
            GradientsParams::from_module(&mut gradients, replica).to_device(&main, model);
        accumulator.accumulate(model, replica_grads);
    }
    CachedStep {
        loss: value.into_scalar::<f32>(),
        gradients: accumulator.grads(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grad_cache::flat_gradients;
    use burn::tensor::Distribution;
    use supcon_core::SupConLossConfig;
    use supcon_models::{ResNetConfig, SupConModelConfig};

    /// Two shards (3 and 5 samples, 2 views) on two device handles against the same
    /// computation in one graph on one device, the encoder run shard by shard (so BatchNorm sees
    /// the same rows): equal loss and parameter gradients.
    #[test]
    fn data_parallel_gradient_equals_the_single_device_gradient() {
        let device = Device::flex().autodiff();
        device.seed(8);
        let encoder = ResNetConfig::resnet18_cifar().with_width_multiplier(0.0625);
        let model = SupConModelConfig::new(encoder)
            .with_projection_dim(8)
            .init(&device);
        let loss = SupConLossConfig::new().init();
        let views = 2;
        let sizes = [3usize, 5];
        let images: Vec<Tensor<4>> = sizes
            .iter()
            .map(|&b| {
                Tensor::random(
                    [views * b, 3, 8, 8],
                    Distribution::Normal(0.0, 1.0),
                    &device,
                )
            })
            .collect();
        let labels: Vec<Tensor<1, Int>> = [vec![0i64, 1, 2], vec![2, 1, 0, 0, 1]]
            .into_iter()
            .map(|l| Tensor::from_data(TensorData::new(l.clone(), [l.len()]), &device))
            .collect();

        let shards = images
            .iter()
            .zip(&labels)
            .map(|(images, labels)| Shard {
                images: images.clone(),
                labels: labels.clone(),
                device: Device::flex().autodiff(),
            })
            .collect();
        let parallel = supcon_step_data_parallel(&model, &loss, shards, views);

        let features: Vec<Tensor<3>> = images
            .iter()
            .map(|images| views_to_features(model.forward(images.clone()), views))
            .collect();
        let reference = loss.forward(
            Tensor::cat(features, 0),
            Positives::Labels(Tensor::cat(labels, 0)),
        );
        let reference_value: f32 = reference.clone().into_scalar();
        let reference_grads = flat_gradients(
            &model,
            GradientsParams::from_grads(reference.backward(), &model),
        );

        assert!((parallel.loss - reference_value).abs() <= 1e-5 * reference_value.abs());
        let parallel_grads = flat_gradients(&model, parallel.gradients);
        assert_eq!(parallel_grads.len(), reference_grads.len());
        assert!(
            parallel_grads.len() > 1000,
            "every parameter has a gradient"
        );
        let scale = reference_grads.iter().fold(0f32, |m, g| m.max(g.abs()));
        for (k, (a, b)) in parallel_grads.iter().zip(&reference_grads).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * b.abs() + 1e-5 * scale,
                "gradient element {k}: data-parallel {a} vs single-device {b}"
            );
        }
    }
}
