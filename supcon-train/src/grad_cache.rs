//! Gradient caching: SupCon steps on batches far larger than fit in memory at once.
//!
//! A batch of `N` rows (all views of all samples) is processed in chunks of `C` rows:
//!
//! 1. every chunk is embedded and only the embeddings `[N, D]` are kept (each chunk's graph is
//!    dropped as soon as its embeddings are read);
//! 2. the loss and its gradient with respect to all `N` embeddings are computed once, in row
//!    blocks when asked ([`SupConLoss::forward_blocked`]), so the `N x N` similarities never
//!    need to exist whole;
//! 3. every chunk is embedded again, this time with its graph, and back-propagated with its
//!    slice `G_c` of that gradient through the surrogate `sum(z_c * G_c)`, whose gradient with
//!    respect to the parameters is exactly the chunk's share of the full-batch gradient;
//! 4. the chunk gradients are summed; the caller steps the optimiser once.
//!
//! Peak memory is one chunk's activations plus the `[N, D]` embeddings (and one block of
//! similarities), independent of `N`.
//!
//! # BatchNorm
//! BatchNorm normalises each chunk with that chunk's own statistics, in both passes, so the
//! result equals a one-shot step whose encoder sees the batch chunk by chunk; this is what
//! per-device BatchNorm does in multi-device training (the paper's TPU runs used per-replica
//! statistics too). The running statistics are updated by both passes, so each chunk enters
//! them twice.

use burn::module::{ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use supcon_core::{views_to_features, Positives, SupConLoss};
use supcon_models::SupConModel;

/// Result of a gradient-cached forward and backward pass.
#[derive(Debug)]
pub struct CachedStep {
    /// The loss of the whole batch.
    pub loss: f32,
    /// The parameter gradients of the whole batch, summed over the chunks.
    pub gradients: GradientsParams,
}

/// Computes the SupCon loss of a whole batch and the parameter gradients, `chunk_rows` image
/// rows at a time; see the module documentation.
///
/// `images` are view-major (`v * B + i` is view `v` of sample `i`) on the model's (autodiff)
/// device. `block_rows` bounds the anchors per block of the loss computation (`None`: one
/// block).
///
/// # Shapes
/// - `images`: `[V * B, 3, H, W]`
///
/// # Panics
/// When `chunk_rows` is 0 or `views` does not divide the number of rows.
pub fn supcon_step_cached(
    model: &SupConModel,
    loss: &SupConLoss,
    images: Tensor<4>,
    positives: Positives,
    views: usize,
    chunk_rows: usize,
    block_rows: Option<usize>,
) -> CachedStep {
    assert!(
        chunk_rows > 0,
        "the gradient-cache chunk must hold at least one row, got 0"
    );
    let [rows, _, _, _] = images.dims();
    assert!(
        views > 0 && rows % views == 0,
        "{rows} image rows cannot be split into {views} views of equal size"
    );

    // Pass 1: embeddings of every chunk, without recording any graph. The parameters stop
    // requiring gradients in this copy, so nothing is tracked, while the inputs stay on the
    // autodiff device so that BatchNorm still normalises with the chunk's statistics.
    // (Burn creates parameters lazily, and a copy of a parameter not yet created shares its
    // settings with the original, so every parameter is created first.)
    initialize_parameters(model);
    let untracked = model.clone().no_grad();
    let mut embeddings = Vec::new();
    let mut start = 0;
    while start < rows {
        let len = chunk_rows.min(rows - start);
        let chunk = images.clone().narrow(0, start, len).detach();
        embeddings.push(untracked.forward(chunk).without_autodiff());
        start += len;
    }
    let embeddings = Tensor::cat(embeddings, 0); // [N, D]

    // The loss and its gradient with respect to the embeddings, once.
    let features = views_to_features(embeddings, views);
    let (value, feature_grad) = match block_rows {
        Some(block) => loss.forward_blocked(features, positives, block),
        None => {
            let leaf = features.autodiff().require_grad();
            let value = loss.forward(leaf.clone(), autodiff_positives(positives));
            let gradients = value.backward();
            let grad = leaf
                .grad(&gradients)
                .expect("the features take part in the loss");
            (value.without_autodiff(), grad.without_autodiff())
        }
    };
    // [B, V, D] -> [V, B, D] -> [N, D], back to the row order of the images.
    let [batch, _, dim] = feature_grad.dims();
    let row_grad = feature_grad.swap_dims(0, 1).reshape([views * batch, dim]);

    // Pass 2: each chunk again with its graph, back-propagated with its slice of the gradient.
    let device = images.device();
    let mut accumulator = GradientsAccumulator::<SupConModel>::new();
    let mut start = 0;
    while start < rows {
        let len = chunk_rows.min(rows - start);
        let chunk = images.clone().narrow(0, start, len);
        let upstream = row_grad
            .clone()
            .narrow(0, start, len)
            .to_device(&device)
            .autodiff();
        let surrogate = (model.forward(chunk) * upstream.detach()).sum();
        let gradients = GradientsParams::from_grads(surrogate.backward(), model);
        accumulator.accumulate(model, gradients);
        start += len;
    }

    CachedStep {
        loss: value.into_scalar::<f32>(),
        gradients: accumulator.grads(),
    }
}

/// Forces the creation of every lazily initialised parameter of `model`.
fn initialize_parameters(model: &SupConModel) {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    model.visit(&mut Touch);
}

fn autodiff_positives(positives: Positives) -> Positives {
    match positives {
        Positives::Labels(labels) => Positives::Labels(labels.autodiff()),
        Positives::Mask(mask) => Positives::Mask(mask.autodiff()),
        Positives::None => Positives::None,
    }
}

/// Every parameter gradient of `model`, flattened in module order (test helper).
#[cfg(test)]
pub(crate) fn flat_gradients(model: &SupConModel, mut gradients: GradientsParams) -> Vec<f32> {
    struct Collect<'a> {
        grads: &'a mut GradientsParams,
        out: Vec<f32>,
    }
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                self.out
                    .extend(g.to_data().convert::<f32>().try_to_vec::<f32>().unwrap());
            }
        }
    }
    let mut visitor = Collect {
        grads: &mut gradients,
        out: Vec::new(),
    };
    model.visit(&mut visitor);
    visitor.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use supcon_core::SupConLossConfig;
    use supcon_models::{ResNetConfig, SupConModelConfig};

    /// A ResNet-18 (CIFAR stem) at 1/16 width with a 16-d head.
    fn tiny_model(device: &Device) -> SupConModel {
        let encoder = ResNetConfig::resnet18_cifar().with_width_multiplier(0.0625);
        SupConModelConfig::new(encoder)
            .with_projection_dim(16)
            .init(device)
    }

    #[test]
    fn cached_gradient_equals_the_one_shot_gradient() {
        // A batch of 64 rows (32 samples x 2 views) in chunks of 16. The reference is the same
        // computation in one graph: the encoder run chunk by chunk (so BatchNorm sees the same
        // chunks), the embeddings concatenated, the loss, one backward pass.
        let device = Device::flex().autodiff();
        device.seed(3);
        let model = tiny_model(&device);
        let (samples, views, chunk) = (32, 2, 16);
        let images = Tensor::<4>::random(
            [samples * views, 3, 8, 8],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let labels: Vec<i64> = (0..samples as i64).map(|i| i % 5).collect();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [samples]), &device);
        let loss = SupConLossConfig::new().with_temperature(0.1).init();

        // The cached steps run first, on a model whose lazily created parameters do not exist
        // yet, then the one-shot reference.
        let cached: Vec<(Option<usize>, CachedStep)> = [None, Some(24)]
            .into_iter()
            .map(|block_rows| {
                let step = supcon_step_cached(
                    &model,
                    &loss,
                    images.clone(),
                    Positives::Labels(labels.clone()),
                    views,
                    chunk,
                    block_rows,
                );
                (block_rows, step)
            })
            .collect();
        let chunks: Vec<Tensor<2>> = (0..samples * views / chunk)
            .map(|c| model.forward(images.clone().narrow(0, c * chunk, chunk)))
            .collect();
        let one_shot = loss.forward(
            views_to_features(Tensor::cat(chunks, 0), views),
            Positives::Labels(labels.clone()),
        );
        let one_shot_value: f32 = one_shot.clone().into_scalar();
        let one_shot_grads = flat_gradients(
            &model,
            GradientsParams::from_grads(one_shot.backward(), &model),
        );

        for (block_rows, cached) in cached {
            assert!(
                (cached.loss - one_shot_value).abs() <= 1e-5 * one_shot_value.abs(),
                "{block_rows:?}: loss {} vs {one_shot_value}",
                cached.loss
            );
            let cached_grads = flat_gradients(&model, cached.gradients);
            assert_eq!(cached_grads.len(), one_shot_grads.len());
            assert!(
                cached_grads.len() > 10_000,
                "every parameter has a gradient"
            );
            let scale = one_shot_grads.iter().fold(0f32, |m, g| m.max(g.abs()));
            for (k, (a, b)) in cached_grads.iter().zip(&one_shot_grads).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-4 * b.abs() + 1e-5 * scale,
                    "{block_rows:?}: gradient element {k}: cached {a} vs one-shot {b}"
                );
            }
        }
    }
}
