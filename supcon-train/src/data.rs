//! The training and evaluation data settings of a stage, and the loaders built from them.

use std::sync::Arc;

use burn::config::Config;
use burn::data::dataset::Dataset;
use supcon_data::{
    Compose, ImageSource, LabeledImage, LoaderConfig, MultiView, MultiViewLoader, Normalize,
    Preset, RandomHorizontalFlip, RandomResizedCropConfig,
};

use crate::error::{Result, TrainError};

/// A dataset of labelled images, as the training functions take it.
pub type ImageDataset = Arc<dyn Dataset<LabeledImage>>;

/// Labelled images and the number of classes their labels index.
#[derive(Clone)]
pub struct LabeledDataset {
    /// The images; every label lies in `0..num_classes`.
    pub images: ImageDataset,
    /// The number of classes.
    pub num_classes: usize,
}

impl LabeledDataset {
    /// Wraps an image source (CIFAR, an image folder, the synthetic set, ...).
    pub fn new(source: impl ImageSource + 'static) -> Self {
        let num_classes = source.num_classes();
        Self {
            images: Arc::new(source),
            num_classes,
        }
    }

    /// Wraps any dataset of labelled images with a class count.
    pub fn from_dataset(images: ImageDataset, num_classes: usize) -> Self {
        Self {
            images,
            num_classes,
        }
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }
}

impl std::fmt::Debug for LabeledDataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabeledDataset")
            .field("len", &self.images.len())
            .field("num_classes", &self.num_classes)
            .finish()
    }
}

/// The training augmentation of a stage.
#[derive(Config, Debug)]
pub enum Augmentation {
    /// A named pipeline of the paper (SupCon/SimCLR views, AutoAugment, RandAugment, ...).
    Preset(Preset),
    /// Random resized crop with area scale in `[min_scale, 1]` and a horizontal flip: the
    /// training transform of the linear classifier in the paper's PyTorch code (min scale 0.2).
    CropFlip {
        /// The smallest crop area as a fraction of the image.
        min_scale: f64,
    },
}

impl Augmentation {
    /// The pipeline for `image_size` x `image_size` outputs.
    fn build(&self, image_size: u32) -> Compose {
        match self {
            Self::Preset(preset) => preset.build(image_size),
            Self::CropFlip { min_scale } => Compose::new()
                .then(
                    RandomResizedCropConfig::new(image_size)
                        .with_scale((*min_scale, 1.0))
                        .init(),
                )
                .then(RandomHorizontalFlip::new(0.5)),
        }
    }
}

/// Image size, augmentation and normalisation of a stage's data.
#[derive(Config, Debug)]
pub struct DataConfig {
    /// Side of the square training and evaluation images, in pixels (32 for CIFAR, 224 for
    /// ImageNet).
    #[config(default = 32)]
    pub image_size: u32,
    /// The training augmentation (every view draws its own parameters).
    #[config(default = "Augmentation::Preset(Preset::CifarSupCon)")]
    pub augmentation: Augmentation,
    /// Per-channel mean subtracted after scaling pixels to 0..1.
    #[config(default = "[0.5, 0.5, 0.5]")]
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by after the mean.
    #[config(default = "[0.5, 0.5, 0.5]")]
    pub std: [f32; 3],
}

impl DataConfig {
    /// The CIFAR-10 statistics of the paper's PyTorch code.
    pub fn cifar10() -> Self {
        let n = Normalize::cifar10();
        Self::new().with_mean(n.mean()).with_std(n.std())
    }

    /// The CIFAR-100 statistics of the paper's PyTorch code.
    pub fn cifar100() -> Self {
        let n = Normalize::cifar100();
        Self::new().with_mean(n.mean()).with_std(n.std())
    }

    /// ImageNet statistics at 224 px with SimCLR's augmentation.
    pub fn imagenet() -> Self {
        let n = Normalize::imagenet();
        Self::new()
            .with_image_size(224)
            .with_augmentation(Augmentation::Preset(Preset::SimAugment))
            .with_mean(n.mean())
            .with_std(n.std())
    }

    fn normalize(&self) -> Normalize {
        Normalize::new(self.mean, self.std)
    }
}

/// The shuffled, augmented training loader: `views` views per image, incomplete last batch
/// dropped.
pub(crate) fn train_loader(
    data: &DataConfig,
    dataset: ImageDataset,
    views: usize,
    batch_size: usize,
    seed: u64,
    threads: Option<usize>,
) -> Result<MultiViewLoader> {
    if dataset.len() < batch_size {
        return Err(TrainError::Config(format!(
            "the training set holds {} images, fewer than one batch of {batch_size}",
            dataset.len()
        )));
    }
    let transform = MultiView::new(
        data.augmentation.build(data.image_size),
        views,
        data.normalize(),
    );
    let loader = LoaderConfig::new(batch_size)
        .with_seed(seed)
        .with_num_threads(threads)
        .init(dataset, transform)?;
    Ok(loader)
}

/// The evaluation loader: one centre view per image, in dataset order, every image once.
pub(crate) fn eval_loader(
    data: &DataConfig,
    dataset: ImageDataset,
    batch_size: usize,
    threads: Option<usize>,
) -> Result<MultiViewLoader> {
    let transform = MultiView::new(Preset::Eval.build(data.image_size), 1, data.normalize());
    let loader = LoaderConfig::new(batch_size)
        .with_shuffle(false)
        .with_drop_last(false)
        .with_num_threads(threads)
        .init(dataset, transform)?;
    Ok(loader)
}
