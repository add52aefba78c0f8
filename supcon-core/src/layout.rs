//! Conversions between the encoder's view-major batch layout and the loss's feature layout.

use burn::prelude::*;

/// Regroups view-major embeddings `[V * B, D]` (row `v * B + i` is view `v` of sample `i`, the
/// layout of the multi-view loader) into the `[B, V, D]` features the loss takes.
///
/// # Shapes
/// - `embeddings`: `[V * B, D]`
/// - output: `[B, V, D]`
///
/// # Panics
/// When `views` is 0 or does not divide the number of rows.
pub fn views_to_features(embeddings: Tensor<2>, views: usize) -> Tensor<3> {
    let [rows, dim] = embeddings.dims();
    assert!(views > 0, "the number of views must be at least 1, got 0");
    assert!(
        rows % views == 0,
        "{rows} embedding rows cannot be split into {views} views of equal size"
    );
    // [V * B, D] -> [V, B, D] -> [B, V, D]
    embeddings
        .reshape([views, rows / views, dim])
        .swap_dims(0, 1)
}
