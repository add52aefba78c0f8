//! Running a model over labelled images and collecting its outputs on the host.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::prelude::{Device, TensorData};
use burn::tensor::Tensor;
use rayon::prelude::*;
use supcon_data::{seed::rng_from_seed, LabeledImage, Normalize, Transform};

use crate::{ClassScores, EvalError, EvalOutputs, ImageClassifier};

/// A batch of normalised images with their labels, as a [`Batcher`] for [`evaluate_dataset`]
/// produces it.
#[derive(Debug, Clone)]
pub struct LabeledBatch {
    /// Images `[B, 3, H, W]`, normalised as the model expects.
    pub images: Tensor<4>,
    /// One class index per image.
    pub labels: Vec<usize>,
}

/// Runs `model` over batches and gathers logits and labels into [`EvalOutputs`].
///
/// # Shapes
/// Each batch: images `[B, 3, H, W]` with `B = labels.len()`; the model must return `[B, C]`
/// with `C = model.num_classes()`.
///
/// # Errors
/// [`EvalError::LogitShape`] when the model returns another shape, [`EvalError::Readback`]
/// when the logits cannot be read, [`EvalError::Empty`] when there are no batches, and the
/// errors of [`ClassScores::from_logits`] and [`EvalOutputs::new`] (a NaN logit, a label out of
/// range).
pub fn collect_outputs<M, I>(model: &M, batches: I) -> Result<EvalOutputs, EvalError>
where
    M: ImageClassifier + ?Sized,
    I: IntoIterator<Item = LabeledBatch>,
{
    let num_classes = model.num_classes();
    let (mut logits, mut labels) = (Vec::new(), Vec::new());
    for (index, batch) in batches.into_iter().enumerate() {
        let batch_logits = model.logits(batch.images);
        let expected = vec![batch.labels.len(), num_classes];
        if batch_logits.dims().to_vec() != expected {
            return Err(EvalError::LogitShape {
                actual: batch_logits.dims().to_vec(),
                expected,
            });
        }
        let values = batch_logits
            .try_into_vec_as::<f32>()
            .map_err(|e| EvalError::Readback(e.to_string()))?;
        logits.extend(values);
        labels.extend(batch.labels);
        log::debug!("evaluated batch {index}: {} samples so far", labels.len());
    }
    if labels.is_empty() {
        return Err(EvalError::Empty {
            what: "the batch sequence",
        });
    }
    EvalOutputs::new(ClassScores::from_logits(logits, num_classes)?, labels)
}

/// Evaluates `model` on every item of `dataset`, in order, `batch_size` items at a time.
///
/// `batcher` turns items into a [`LabeledBatch`] on `device`: it decodes, resizes and
/// normalises the images as the model expects.
///
/// # Errors
/// [`EvalError::Dataset`] when an item cannot be loaded, and those of [`collect_outputs`].
///
/// # Panics
/// When `batch_size` is 0.
pub fn evaluate_dataset<M, T, D, B>(
    model: &M,
    dataset: &D,
    batcher: &B,
    batch_size: usize,
    device: &Device,
) -> Result<EvalOutputs, EvalError>
where
    M: ImageClassifier + ?Sized,
    D: Dataset<T> + ?Sized,
    B: Batcher<T, LabeledBatch>,
{
    assert!(
        batch_size > 0,
        "the evaluation batch size must be positive, got 0"
    );
    let len = dataset.len();
    let mut first_error = None;
    let batches = (0..len.div_ceil(batch_size)).map_while(|b| {
        let range = b * batch_size..((b + 1) * batch_size).min(len);
        let mut items = Vec::with_capacity(range.len());
        for index in range {
            match dataset.get(index) {
                Ok(item) => items.push(item),
                Err(e) => {
                    first_error = Some(EvalError::Dataset {
                        index,
                        message: e.to_string(),
                    });
                    return None;
                }
            }
        }
        Some(batcher.batch(items, device))
    });
    let outputs = collect_outputs(model, batches);
    match first_error {
        Some(error) => Err(error),
        None => outputs,
    }
}

/// Turns [`LabeledImage`]s into a [`LabeledBatch`]: a deterministic transform (resize and
/// crop, for instance), then per-channel normalisation, images processed in parallel.
#[derive(Debug, Clone)]
pub struct LabeledImageBatcher {
    transform: Option<Arc<dyn Transform>>,
    normalize: Normalize,
}

impl LabeledImageBatcher {
    /// Normalises the images as they are; they must all have the same size.
    pub fn new(normalize: Normalize) -> Self {
        Self {
            transform: None,
            normalize,
        }
    }

    /// Applies `transform` to every image before normalising it, for example
    /// `ResizeCenterCrop::new(256, 224)`. Evaluation transforms are deterministic; should a
    /// random one be given, every image draws from a generator seeded with 0.
    pub fn with_transform(mut self, transform: impl Transform + 'static) -> Self {
        self.transform = Some(Arc::new(transform));
        self
    }
}

impl Batcher<LabeledImage, LabeledBatch> for LabeledImageBatcher {
    /// # Panics
    /// When the images (after the transform) differ in size: give a transform that fixes it.
    fn batch(&self, items: Vec<LabeledImage>, device: &Device) -> LabeledBatch {
        let labels: Vec<usize> = items.iter().map(|item| item.label).collect();
        let images: Vec<image::RgbImage> = items
            .into_par_iter()
            .map(|item| match &self.transform {
                Some(transform) => transform.apply(item.image, &mut rng_from_seed(0)),
                None => item.image,
            })
            .collect();
        let (width, height) = images.first().map_or((0, 0), |image| image.dimensions());
        if let Some(i) = images
            .iter()
            .position(|image| image.dimensions() != (width, height))
        {
            panic!(
                "image {i} of the batch is {}x{} but image 0 is {width}x{height}: give the \
                 batcher a transform that makes every image the same size",
                images[i].width(),
                images[i].height()
            );
        }

        // [B] images of [3, H, W] -> one planar buffer [B, 3, H, W]
        let plane = 3 * width as usize * height as usize;
        let mut values = vec![0.0f32; images.len() * plane];
        values
            .par_chunks_mut(plane.max(1))
            .zip(images.par_iter())
            .for_each(|(out, image)| self.normalize.write_planar(image, out));
        let shape = [images.len(), 3, height as usize, width as usize];
        LabeledBatch {
            images: Tensor::from_data(TensorData::new(values, shape), device),
            labels,
        }
    }
}

/// Evaluates `model` on every image of `dataset` (any `supcon-data` source), `batch_size`
/// images at a time, after `batcher`'s transform and normalisation.
///
/// # Errors
/// Those of [`evaluate_dataset`].
///
/// # Panics
/// When `batch_size` is 0, or images of one batch differ in size after the transform.
pub fn evaluate_labeled_images<M, D>(
    model: &M,
    dataset: &D,
    batcher: &LabeledImageBatcher,
    batch_size: usize,
    device: &Device,
) -> Result<EvalOutputs, EvalError>
where
    M: ImageClassifier + ?Sized,
    D: Dataset<LabeledImage> + ?Sized,
{
    let outputs = evaluate_dataset(model, dataset, batcher, batch_size, device)?;
    log::info!("evaluated {} images", outputs.num_samples());
    Ok(outputs)
}
