//! The trait through which any Burn model is evaluated.

use burn::tensor::Tensor;

/// An image classifier: normalised images in, class logits out.
///
/// Implement it for any Burn model to run this crate's accuracy, calibration and corruption
/// evaluations on it. The model is evaluated as given: put it in inference mode (a device
/// without autodiff, batch norm in eval mode) before calling.
pub trait ImageClassifier {
    /// Class logits (unnormalised scores) of a batch of images.
    ///
    /// # Shapes
    /// - `images`: `[N, 3, H, W]`, f32, normalised as the model expects (per-channel mean and
    ///   standard deviation of its training data).
    /// - returns: `[N, C]` with `C = self.num_classes()`.
    fn logits(&self, images: Tensor<4>) -> Tensor<2>;

    /// The number of classes `C`.
    fn num_classes(&self) -> usize;
}

impl<M: ImageClassifier + ?Sized> ImageClassifier for &M {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        (**self).logits(images)
    }

    fn num_classes(&self) -> usize {
        (**self).num_classes()
    }
}

impl ImageClassifier for supcon_models::ClassifierModel {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }

    fn num_classes(&self) -> usize {
        self.classifier.num_classes()
    }
}
