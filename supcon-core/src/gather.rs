//! Gathering the embeddings of several devices so that every anchor sees the global batch.

use burn::prelude::*;
use burn::tensor::distributed::{all_reduce, ReduceOperation};

/// Concatenates per-device features along the batch axis onto `device`, keeping the autodiff
/// graph: the gradient of a loss on the gathered features flows back to each shard on its own
/// device. This is the in-process form of data-parallel contrastive training (one model copy
/// per device, one thread or one loop driving them): compute each device's `[b_k, V, D]`
/// features, gather, compute the loss once on the global batch, back-propagate.
///
/// # Shapes
/// - `shards`: `[b_k, ...]` each, equal in every axis but the first
/// - output: `[sum_k b_k, ...]`
///
/// # Panics
/// When `shards` is empty.
pub fn gather_to_device<const D: usize>(shards: Vec<Tensor<D>>, device: &Device) -> Tensor<D> {
    assert!(!shards.is_empty(), "cannot gather an empty list of shards");
    let moved = shards
        .into_iter()
        .map(|shard| shard.to_device(device))
        .collect();
    Tensor::cat(moved, 0)
}

/// The same gathering for processes or threads that each own one device and meet through
/// Burn's collective `all_reduce`: every rank places its `[b, ...]` shard in its slot of a
/// zero tensor `[world * b, ...]` and the ranks sum. Burn differentiates through `all_reduce`
/// (its backward is an all-reduce of the gradients), so with every rank computing the same
/// global loss each shard receives the sum over ranks of that loss's gradient, as the usual
/// `GatherLayer` of multi-GPU SupCon code does; average the parameter gradients across ranks
/// (`ReduceOperation::Mean`) as data-parallel training does.
///
/// Requires a [`burn::tensor::distributed::DistributedContext`] over `devices` to be alive and
/// a backend with collectives (Burn 0.22: the CubeCL backends, CUDA through NCCL; not flex or
/// ndarray).
///
/// # Shapes
/// - `local`: `[b, ...]`, the same `b` on every rank
/// - output: `[devices.len() * b, ...]`, rank `r`'s rows at `r * b..(r + 1) * b`
///
/// # Panics
/// When `rank` is not an index into `devices`.
pub fn all_gather<const D: usize>(
    local: Tensor<D>,
    rank: usize,
    devices: Vec<Device>,
) -> Tensor<D> {
    let world = devices.len();
    assert!(
        rank < world,
        "rank {rank} is out of range for {world} devices"
    );
    let device = local.device();
    let shape = local.shape();
    let slots: Vec<Tensor<D>> = (0..world)
        .map(|r| {
            if r == rank {
                local.clone()
            } else {
                Tensor::zeros(shape.clone(), &device)
            }
        })
        .collect();
    all_reduce(Tensor::cat(slots, 0), ReduceOperation::Sum, devices).resolve()
}
