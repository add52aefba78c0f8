//! The multi-view loader: parallel decoding and augmentation into view-major batches.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use burn::config::Config;
use burn::data::dataset::Dataset;
use burn::prelude::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rayon::prelude::*;

use crate::augment::multi_view::MultiView;
use crate::seed::{rng_from_seed, sample_seed, shuffle_seed};
use crate::{DataError, LabeledImage};

/// Options of a [`MultiViewLoader`].
#[derive(Config, Debug)]
pub struct LoaderConfig {
    /// Samples per batch (B); each contributes `num_views` rows to the image tensor.
    pub batch_size: usize,
    /// The run seed: with the epoch and the sample index it fixes every random draw.
    #[config(default = 0)]
    pub seed: u64,
    /// Shuffle the sample order each epoch (from the run seed and the epoch).
    #[config(default = true)]
    pub shuffle: bool,
    /// Drop the last, incomplete batch of an epoch.
    #[config(default = true)]
    pub drop_last: bool,
    /// Batches prepared ahead on a background thread; 0 prepares each batch on demand.
    #[config(default = 2)]
    pub prefetch_batches: usize,
    /// Worker threads for decoding and augmentation; `None` uses rayon's global pool (all
    /// cores).
    pub num_threads: Option<usize>,
}

/// A batch on the host, before it is moved to a device.
#[derive(Debug, Clone)]
pub struct HostBatch {
    /// Normalised images, view-major `[num_views * batch, 3, height, width]`, row-major.
    pub images: Vec<f32>,
    /// One label per sample.
    pub labels: Vec<i64>,
    /// The dataset index of each sample.
    pub indices: Vec<usize>,
    /// Views per sample (V).
    pub num_views: usize,
    /// View height in pixels.
    pub height: usize,
    /// View width in pixels.
    pub width: usize,
}

impl HostBatch {
    /// The number of samples (B).
    pub fn batch_size(&self) -> usize {
        self.indices.len()
    }

    /// Moves the batch to `device`.
    pub fn to_device(self, device: &Device) -> Batch {
        let rows = self.num_views * self.batch_size();
        let shape = [rows, 3, self.height, self.width];
        let images = Tensor::<4>::from_data(TensorData::new(self.images, shape), device);
        let batch = self.labels.len();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(self.labels, [batch]), device);
        Batch {
            images,
            labels,
            indices: self.indices,
            num_views: self.num_views,
        }
    }
}

/// A batch of multi-view samples on a device.
///
/// # Shapes
/// - `images`: `[V * B, 3, H, W]`, **view-major**: row `v * B + i` is view `v` of sample `i`.
///   Embeddings `[V * B, D]` become the `[B, V, D]` a SupCon loss takes with
///   `.reshape([V, B, D]).swap_dims(0, 1)`.
/// - `labels`: `[B]`, one class index per sample.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Normalised views, view-major `[V * B, 3, H, W]`.
    pub images: Tensor<4>,
    /// Class labels `[B]`.
    pub labels: Tensor<1, Int>,
    /// The dataset index of each sample, in batch order.
    pub indices: Vec<usize>,
    /// Views per sample (V).
    pub num_views: usize,
}

impl Batch {
    /// The number of samples (B).
    pub fn batch_size(&self) -> usize {
        self.indices.len()
    }
}

/// Everything a worker needs to build batches; shared with the prefetch thread.
struct LoaderCore {
    dataset: Arc<dyn Dataset<LabeledImage>>,
    transform: MultiView,
    config: LoaderConfig,
    pool: Option<rayon::ThreadPool>,
}

/// Loads multi-view batches: decodes and augments the samples of each batch in parallel and
/// stacks their views view-major (see [`Batch`]).
///
/// Reproducible and resumable: the order of epoch `e` is a shuffle seeded by (run seed, `e`),
/// and the views of sample `i` in epoch `e` come from a generator seeded by (run seed, `e`,
/// `i`), so batch `k` of an epoch is the same whether the epoch starts at batch 0 or at `k`, on
/// any number of threads.
///
/// Memory stays bounded: at most `prefetch_batches` finished batches wait in a queue, plus the
/// one being built; the dataset itself is never loaded in full by the loader.
pub struct MultiViewLoader {
    core: Arc<LoaderCore>,
}

impl std::fmt::Debug for MultiViewLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiViewLoader")
            .field("len", &self.core.dataset.len())
            .field("transform", &self.core.transform)
            .field("config", &self.core.config)
            .finish()
    }
}

impl LoaderConfig {
    /// Builds a loader over `dataset` with `transform`.
    ///
    /// # Errors
    /// As [`MultiViewLoader::new`].
    pub fn init(
        &self,
        dataset: Arc<dyn Dataset<LabeledImage>>,
        transform: MultiView,
    ) -> Result<MultiViewLoader, DataError> {
        MultiViewLoader::new(dataset, transform, self.clone())
    }
}

impl MultiViewLoader {
    /// A loader over `dataset` that draws views with `transform`.
    ///
    /// # Errors
    /// [`DataError::InvalidConfig`] for a batch size of zero or a thread count of zero,
    /// [`DataError::Empty`] when the dataset is empty.
    pub fn new(
        dataset: Arc<dyn Dataset<LabeledImage>>,
        transform: MultiView,
        config: LoaderConfig,
    ) -> Result<Self, DataError> {
        if config.batch_size == 0 {
            return Err(DataError::InvalidConfig("loader batch_size is 0".into()));
        }
        if dataset.is_empty() {
            return Err(DataError::Empty {
                what: "the loader's dataset".into(),
            });
        }
        let pool = match config.num_threads {
            Some(0) => return Err(DataError::InvalidConfig("loader num_threads is 0".into())),
            Some(threads) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("supcon-data-{i}"))
                    .build()
                    .map_err(|e| DataError::InvalidConfig(format!("thread pool: {e}")))?,
            ),
            None => None,
        };
        Ok(Self {
            core: Arc::new(LoaderCore {
                dataset,
                transform,
                config,
                pool,
            }),
        })
    }

    /// The number of samples in the dataset.
    pub fn num_samples(&self) -> usize {
        self.core.dataset.len()
    }

    /// The number of batches per epoch (the last, incomplete one counts unless `drop_last`).
    pub fn num_batches(&self) -> usize {
        let (n, b) = (self.num_samples(), self.core.config.batch_size);
        if self.core.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LoaderConfig {
        &self.core.config
    }

    /// The sample order of `epoch`.
    pub fn epoch_order(&self, epoch: usize) -> Vec<usize> {
        self.core.epoch_order(epoch)
    }

    /// Builds batch `batch` of `epoch` on the calling thread (using the worker pool), without
    /// prefetching.
    ///
    /// # Errors
    /// A source error, wrapped in [`DataError::Source`] with the sample index, or
    /// [`DataError::ViewSizeMismatch`] when views differ in size.
    ///
    /// # Panics
    /// When `batch >= num_batches()`.
    pub fn load_batch(&self, epoch: usize, batch: usize) -> Result<HostBatch, DataError> {
        assert!(
            batch < self.num_batches(),
            "batch {batch} of {} batches",
            self.num_batches()
        );
        let order = self.core.epoch_order(epoch);
        self.core.build(epoch, &order, batch)
    }

    /// Iterates over the batches of `epoch` from `start_batch` on, as host batches.
    ///
    /// # Panics
    /// When `start_batch > num_batches()`.
    pub fn iter_epoch_host(&self, epoch: usize, start_batch: usize) -> HostBatchIter {
        let end = self.num_batches();
        assert!(
            start_batch <= end,
            "start batch {start_batch} beyond the {end} batches"
        );
        let order = Arc::new(self.core.epoch_order(epoch));
        let prefetch = self.core.config.prefetch_batches;
        if prefetch == 0 {
            return HostBatchIter {
                source: Source::OnDemand {
                    core: self.core.clone(),
                    order,
                    epoch,
                },
                next: start_batch,
                end,
            };
        }
        let (sender, receiver) = sync_channel(prefetch);
        let core = self.core.clone();
        let handle = std::thread::Builder::new()
            .name("supcon-data-prefetch".into())
            .spawn(move || {
                for batch in start_batch..end {
                    let result = core.build(epoch, &order, batch);
                    let failed = result.is_err();
                    // The receiver is gone when the iterator was dropped: stop early.
                    if sender.send(result).is_err() || failed {
                        break;
                    }
                }
            })
            .expect("spawn the prefetch thread");
        HostBatchIter {
            source: Source::Prefetch {
                receiver,
                handle: Some(handle),
            },
            next: start_batch,
            end,
        }
    }

    /// Iterates over the batches of `epoch` from `start_batch` on, moved to `device`.
    ///
    /// # Panics
    /// When `start_batch > num_batches()`.
    pub fn iter_epoch(&self, epoch: usize, start_batch: usize, device: &Device) -> EpochIter {
        EpochIter {
            inner: self.iter_epoch_host(epoch, start_batch),
            device: device.clone(),
        }
    }
}

impl LoaderCore {
    fn epoch_order(&self, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if self.config.shuffle {
            order.shuffle(&mut rng_from_seed(shuffle_seed(
                self.config.seed,
                epoch as u64,
            )));
        }
        order
    }

    /// Builds batch `batch` of `epoch` given the epoch's order.
    fn build(&self, epoch: usize, order: &[usize], batch: usize) -> Result<HostBatch, DataError> {
        let size = self.config.batch_size;
        let indices = order[batch * size..((batch + 1) * size).min(order.len())].to_vec();
        let run = || -> Result<Vec<(Vec<image::RgbImage>, usize)>, DataError> {
            indices
                .par_iter()
                .map(|&index| {
                    let item = self
                        .dataset
                        .get(index)
                        .map_err(|source| DataError::Source { index, source })?;
                    let seed = sample_seed(self.config.seed, epoch as u64, index as u64);
                    let views = self.transform.views(&item.image, &mut rng_from_seed(seed));
                    Ok((views, item.label))
                })
                .collect()
        };
        let samples = match &self.pool {
            Some(pool) => pool.install(run)?,
            None => run()?,
        };

        // Stack view-major: view v of sample i goes to row v * B + i.
        let (width, height) = {
            let first = &samples[0].0[0];
            (first.width(), first.height())
        };
        let (batch_len, views) = (indices.len(), self.transform.num_views());
        let row = 3 * width as usize * height as usize;
        let mut images = vec![0.0f32; views * batch_len * row];
        for (i, (sample_views, _)) in samples.iter().enumerate() {
            for view in sample_views {
                if (view.width(), view.height()) != (width, height) {
                    return Err(DataError::ViewSizeMismatch {
                        index: indices[i],
                        actual_width: view.width(),
                        actual_height: view.height(),
                        expected_width: width,
                        expected_height: height,
                    });
                }
            }
        }
        let normalize = self.transform.normalize();
        let fill = |(chunk_index, chunk): (usize, &mut [f32])| {
            let (v, i) = (chunk_index / batch_len, chunk_index % batch_len);
            normalize.write_planar(&samples[i].0[v], chunk);
        };
        match &self.pool {
            Some(pool) => pool.install(|| images.par_chunks_mut(row).enumerate().for_each(fill)),
            None => images.par_chunks_mut(row).enumerate().for_each(fill),
        }
        let labels = samples.iter().map(|(_, label)| *label as i64).collect();
        Ok(HostBatch {
            images,
            labels,
            indices,
            num_views: views,
            height: height as usize,
            width: width as usize,
        })
    }
}

enum Source {
    OnDemand {
        core: Arc<LoaderCore>,
        order: Arc<Vec<usize>>,
        epoch: usize,
    },
    Prefetch {
        receiver: Receiver<Result<HostBatch, DataError>>,
        handle: Option<JoinHandle<()>>,
    },
}

/// Iterator over the host batches of one epoch; see [`MultiViewLoader::iter_epoch_host`].
/// After an error it ends.
pub struct HostBatchIter {
    source: Source,
    next: usize,
    end: usize,
}

impl HostBatchIter {
    /// The index (within the epoch) of the batch the next call returns.
    pub fn next_batch_index(&self) -> usize {
        self.next
    }
}

impl Iterator for HostBatchIter {
    type Item = Result<HostBatch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let result = match &mut self.source {
            Source::OnDemand { core, order, epoch } => core.build(*epoch, order, self.next),
            Source::Prefetch { receiver, .. } => receiver.recv().ok()?,
        };
        self.next = if result.is_ok() {
            self.next + 1
        } else {
            self.end
        };
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.end - self.next;
        (left, Some(left))
    }
}

impl Drop for HostBatchIter {
    fn drop(&mut self) {
        if let Source::Prefetch { receiver, handle } = &mut self.source {
            // Dropping the receiver makes the worker's next send fail, so it stops after the
            // batch in progress; drain what is queued first so that send does not block.
            while receiver.try_recv().is_ok() {}
            let (_, dead) = sync_channel(0);
            drop(std::mem::replace(receiver, dead));
            if let Some(handle) = handle.take() {
                let _ = handle.join();
            }
        }
    }
}

/// Iterator over the device batches of one epoch; see [`MultiViewLoader::iter_epoch`].
pub struct EpochIter {
    inner: HostBatchIter,
    device: Device,
}

impl EpochIter {
    /// The index (within the epoch) of the batch the next call returns.
    pub fn next_batch_index(&self) -> usize {
        self.inner.next_batch_index()
    }
}

impl Iterator for EpochIter {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner
            .next()
            .map(|result| result.map(|batch| batch.to_device(&self.device)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
