//! Top-1 accuracy of a classifier over an evaluation loader.

use burn::prelude::*;
use supcon_data::MultiViewLoader;

use crate::error::Result;

/// The fraction of images whose highest logit is their label, over one pass of `loader`
/// (which must yield every image once: no shuffle, no dropped batch).
///
/// `logits` maps a batch of images `[N, 3, H, W]` on `device` to logits `[N, classes]`; it
/// should run the model in evaluation mode (after [`Module::valid`](burn::module::Module::valid)).
pub(crate) fn top1_accuracy(
    loader: &MultiViewLoader,
    device: &Device,
    mut logits: impl FnMut(Tensor<4>) -> Tensor<2>,
) -> Result<f64> {
    let mut correct = 0usize;
    let mut total = 0usize;
    for batch in loader.iter_epoch(0, 0, device) {
        let batch = batch?;
        let predicted = logits(batch.images).argmax(1).squeeze_dim::<1>(1);
        correct += predicted
            .equal(batch.labels)
            .int()
            .sum()
            .into_scalar::<i64>() as usize;
        total += batch.indices.len();
    }
    Ok(correct as f64 / total.max(1) as f64)
}
