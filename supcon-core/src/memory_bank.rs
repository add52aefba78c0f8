//! A cross-batch memory of past embeddings that serve as extra contrast samples.

use burn::prelude::*;

use crate::supcon::{ContrastMode, SupConLoss};

/// Configuration of [`MemoryBank`].
#[derive(Config, Debug)]
pub struct MemoryBankConfig {
    /// How many past embeddings (rows, i.e. views) are kept.
    pub capacity: usize,
}

impl MemoryBankConfig {
    /// Builds an empty memory.
    ///
    /// # Panics
    /// When the capacity is 0.
    pub fn init(&self) -> MemoryBank {
        assert!(
            self.capacity > 0,
            "a memory bank needs a capacity of at least 1, got 0"
        );
        MemoryBank {
            capacity: self.capacity,
            embeddings: None,
            labels: None,
        }
    }
}

/// A first-in-first-out memory of the last `capacity` embeddings with their labels, for users
/// whose batch cannot grow: every anchor of the current batch is also contrasted with the
/// remembered embeddings of earlier batches (positives when their label matches, negatives
/// otherwise). Remembered embeddings are detached: no gradient flows into past batches.
///
/// With an empty memory the loss equals [`SupConLoss::forward`] with labels.
#[derive(Clone, Debug)]
pub struct MemoryBank {
    capacity: usize,
    embeddings: Option<Tensor<2>>,
    labels: Option<Tensor<1, Int>>,
}

impl MemoryBank {
    /// The number of embeddings held now.
    pub fn len(&self) -> usize {
        self.embeddings.as_ref().map_or(0, |e| e.dims()[0])
    }

    /// Whether the memory holds nothing yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest number of embeddings kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forgets every remembered embedding.
    pub fn clear(&mut self) {
        self.embeddings = None;
        self.labels = None;
    }

    /// The loss of the current batch against itself and the memory, then remembers the batch.
    ///
    /// The contrast set is the batch's views (view-major, as in [`SupConLoss`]) followed by the
    /// memory; self pairs are excluded; the loss's summation, denominator, contrast mode and
    /// temperatures apply unchanged. After the loss is computed the batch's detached views enter
    /// the memory and the oldest rows beyond the capacity leave it.
    ///
    /// # Shapes
    /// - `features`: `[B, V, D]`, L2-normalised along `D`
    /// - `labels`: `[B]`
    /// - output: `[1]`
    ///
    /// # Panics
    /// When the labels do not match the batch, or the embedding size differs from the memory's.
    pub fn forward(
        &mut self,
        loss: &SupConLoss,
        features: Tensor<3>,
        labels: Tensor<1, Int>,
    ) -> Tensor<1> {
        let [batch, views, dim] = features.dims();
        assert!(
            batch > 0 && views > 0,
            "features must be non-empty, got shape {:?}",
            features.dims()
        );
        assert_eq!(
            labels.dims(),
            [batch],
            "memory bank labels must have one entry per sample: {} labels for a batch of {batch}",
            labels.dims()[0]
        );
        if let Some(memory) = &self.embeddings {
            assert_eq!(
                memory.dims()[1],
                dim,
                "embedding size {dim} differs from the memory's {}",
                memory.dims()[1]
            );
        }
        let device = features.device();

        // Current views, view-major: [B, V, D] -> [V * B, D]; labels tiled to match.
        let current = features.swap_dims(0, 1).reshape([views * batch, dim]);
        let current_labels = labels.repeat(&[views]);
        let (contrast, contrast_labels) = match (&self.embeddings, &self.labels) {
            (Some(memory), Some(memory_labels)) => (
                Tensor::cat(vec![current.clone(), memory.clone().to_device(&device)], 0),
                Tensor::cat(
                    vec![
                        current_labels.clone(),
                        memory_labels.clone().to_device(&device),
                    ],
                    0,
                ),
            ),
            _ => (current.clone(), current_labels.clone()),
        };
        let contrast_len = contrast.dims()[0];

        let anchors_len = match loss.config().contrast_mode {
            ContrastMode::AllViews => views * batch,
            ContrastMode::OneView => batch,
        };
        let anchors = current.clone().narrow(0, 0, anchors_len);
        let anchor_labels = current_labels.clone().narrow(0, 0, anchors_len);

        let rows = anchor_labels
            .reshape([anchors_len, 1])
            .expand([anchors_len, contrast_len]);
        let cols = contrast_labels
            .clone()
            .reshape([1, contrast_len])
            .expand([anchors_len, contrast_len]);
        let same = rows.equal(cols).float();
        let not_self =
            Tensor::<2, Bool>::diag_mask([anchors_len, contrast_len], 0, &device).float();
        let positive = same.clone() * not_self.clone();
        let negatives = (same.neg() + 1.0) * not_self;
        let value = loss
            .losses_from_masks(anchors, contrast.clone(), positive, negatives)
            .mean();

        // The memory is stored newest first, so keeping the leading rows drops the oldest.
        let kept = contrast_len.min(self.capacity);
        self.embeddings = Some(contrast.detach().narrow(0, 0, kept));
        self.labels = Some(contrast_labels.narrow(0, 0, kept));
        value
    }
}
