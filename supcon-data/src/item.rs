//! The sample type every source yields, and the class metadata every source reports.

use burn::data::dataset::Dataset;
use image::RgbImage;

/// One decoded image and its class index.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledImage {
    /// The image, 8-bit RGB (grayscale, 16-bit and alpha inputs are converted on load).
    pub image: RgbImage,
    /// The class index, in `0..num_classes()` of the source it came from.
    pub label: usize,
}

/// A labelled image source: a Burn [`Dataset`] that also knows its classes.
pub trait ImageSource: Dataset<LabeledImage> {
    /// The number of classes; every label is below it.
    fn num_classes(&self) -> usize {
        self.class_names().len()
    }

    /// The class names, indexed by label.
    fn class_names(&self) -> &[String];
}

/// Which half of a dataset to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Split {
    /// The training split.
    Train,
    /// The held-out test split.
    Test,
}
