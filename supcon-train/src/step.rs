//! Single optimiser steps of each training mode, shared by the loops and the benchmark.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLoss;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use supcon_core::{views_to_features, Positives, SupConLoss};
use supcon_models::{ClassifierModel, LinearClassifier, ResNet, SupConModel};

/// Stage-1 joint training: the SupCon model plus a linear classifier that sees the encoder's
/// features through a stop-gradient, so its cross-entropy loss does not shape the encoder (the
/// joint mode of the paper's TensorFlow code).
#[derive(Module, Debug)]
pub struct JointModel {
    /// Encoder and projection head, trained with the contrastive loss.
    pub model: SupConModel,
    /// Classifier on the detached encoder features, trained with cross-entropy.
    pub classifier: LinearClassifier,
}

impl JointModel {
    /// The encoder with the jointly trained classifier: a complete image classifier.
    pub fn into_classifier_model(self) -> ClassifierModel {
        ClassifierModel {
            encoder: self.model.encoder,
            classifier: self.classifier,
        }
    }
}

/// The losses of one step, read back from the device.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLoss {
    /// The value that was minimised (for joint training, contrastive plus classifier loss).
    pub total: f64,
    /// The classifier's cross-entropy in joint training.
    pub classifier: Option<f64>,
    /// The number of correctly classified rows, where the step has a classifier.
    pub correct: Option<usize>,
}

impl StepLoss {
    fn finite(&self) -> bool {
        self.total.is_finite() && self.classifier.is_none_or(f64::is_finite)
    }

    /// The first non-finite value (total first).
    fn bad_value(&self) -> f64 {
        if !self.total.is_finite() {
            self.total
        } else {
            self.classifier.unwrap_or(f64::NAN)
        }
    }
}

/// A step whose loss was NaN or infinite; no update was applied.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NonFinite {
    /// The offending loss value.
    pub value: f64,
}

/// Backward pass and optimiser update, or nothing if the loss is not finite.
fn apply<M: Module>(
    model: M,
    optimizer: &mut ModuleOptimizer,
    objective: Tensor<1>,
    loss: StepLoss,
    lr: f64,
) -> Result<(M, StepLoss), NonFinite> {
    if !loss.finite() {
        return Err(NonFinite {
            value: loss.bad_value(),
        });
    }
    let grads = GradientsParams::from_grads(objective.backward(), &model);
    Ok((optimizer.step(lr, model, grads), loss))
}

fn scalar(tensor: Tensor<1>) -> f64 {
    tensor.into_scalar::<f32>() as f64
}

fn count_correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> usize {
    let predicted = logits.argmax(1).squeeze_dim::<1>(1);
    predicted.equal(labels).int().sum().into_scalar::<i64>() as usize
}

/// One stage-1 step: embed the view-major batch, regroup `[V * B, D] -> [B, V, D]`, apply the
/// contrastive loss, back-propagate and update with learning rate `lr`.
///
/// # Shapes
/// - `images`: `[V * B, 3, H, W]`, view-major (row `v * B + i` is view `v` of sample `i`)
///
/// # Errors
/// [`NonFinite`] when the loss is NaN or infinite; the model is then returned unchanged inside
/// no value (the caller stops the run).
pub fn supcon_step(
    model: SupConModel,
    optimizer: &mut ModuleOptimizer,
    loss: &SupConLoss,
    images: Tensor<4>,
    positives: Positives,
    views: usize,
    lr: f64,
) -> Result<(SupConModel, StepLoss), NonFinite> {
    let embeddings = model.forward(images);
    let objective = loss.forward(views_to_features(embeddings, views), positives);
    let value = StepLoss {
        total: scalar(objective.clone()),
        classifier: None,
        correct: None,
    };
    apply(model, optimizer, objective, value, lr)
}

/// One joint stage-1 step: the contrastive loss on the head's embeddings (with `positives`)
/// plus cross-entropy of the classifier on the detached encoder features of every view
/// (`labels` repeated per view).
///
/// # Shapes
/// - `images`: `[V * B, 3, H, W]`, view-major
/// - `labels`: `[B]`
///
/// # Errors
/// [`NonFinite`] when either loss is NaN or infinite.
pub fn joint_step(
    model: JointModel,
    optimizer: &mut ModuleOptimizer,
    loss: &SupConLoss,
    cross_entropy: &CrossEntropyLoss,
    images: Tensor<4>,
    positives: Positives,
    labels: Tensor<1, Int>,
    views: usize,
    lr: f64,
) -> Result<(JointModel, StepLoss), NonFinite> {
    let features = model.model.encoder.forward(images);
    let embeddings = model.model.head.forward(features.clone());
    let contrastive = loss.forward(views_to_features(embeddings, views), positives);
    // [B] -> [V * B], matching the view-major rows.
    let repeated = labels.repeat_dim(0, views);
    let logits = model.classifier.forward(features.detach());
    let classification = cross_entropy.forward(logits.clone(), repeated.clone());

    let value = StepLoss {
        total: scalar(contrastive.clone()) + scalar(classification.clone()),
        classifier: Some(scalar(classification.clone())),
        correct: Some(count_correct(logits.detach(), repeated)),
    };
    apply(model, optimizer, contrastive + classification, value, lr)
}

/// One cross-entropy step of an encoder + linear classifier trained end to end.
///
/// # Shapes
/// - `images`: `[B, 3, H, W]`
/// - `labels`: `[B]`
///
/// # Errors
/// [`NonFinite`] when the loss is NaN or infinite.
pub fn cross_entropy_step(
    model: ClassifierModel,
    optimizer: &mut ModuleOptimizer,
    cross_entropy: &CrossEntropyLoss,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    lr: f64,
) -> Result<(ClassifierModel, StepLoss), NonFinite> {
    let logits = model.forward(images);
    let objective = cross_entropy.forward(logits.clone(), labels.clone());
    let value = StepLoss {
        total: scalar(objective.clone()),
        classifier: None,
        correct: Some(count_correct(logits.detach(), labels)),
    };
    apply(model, optimizer, objective, value, lr)
}

/// Encoder features without an autodiff graph, in evaluation mode (BatchNorm uses its running
/// statistics), moved back onto `device` (an autodiff device for training a classifier on them).
///
/// `frozen` must come from [`Module::valid`] on the encoder.
///
/// # Shapes
/// - `images`: `[N, 3, H, W]`
/// - output: `[N, feature_dim]`
pub fn frozen_features(frozen: &ResNet, images: Tensor<4>, device: &Device) -> Tensor<2> {
    let images = images.to_device(&device.clone().without_autodiff());
    let features = frozen.forward(images);
    if device.is_autodiff() {
        features.autodiff()
    } else {
        features
    }
}

/// One stage-2 step: cross-entropy of the linear classifier on precomputed frozen features.
///
/// # Shapes
/// - `features`: `[B, feature_dim]` on the autodiff device
/// - `labels`: `[B]`
///
/// # Errors
/// [`NonFinite`] when the loss is NaN or infinite.
pub fn linear_probe_step(
    classifier: LinearClassifier,
    optimizer: &mut ModuleOptimizer,
    cross_entropy: &CrossEntropyLoss,
    features: Tensor<2>,
    labels: Tensor<1, Int>,
    lr: f64,
) -> Result<(LinearClassifier, StepLoss), NonFinite> {
    let logits = classifier.forward(features);
    let objective = cross_entropy.forward(logits.clone(), labels.clone());
    let value = StepLoss {
        total: scalar(objective.clone()),
        classifier: None,
        correct: Some(count_correct(logits.detach(), labels)),
    };
    apply(classifier, optimizer, objective, value, lr)
}
