//! Safetensors save and load for the models of this crate, with PyTorch-compatible names.
//!
//! - [`ResNet`]: torchvision's keys, `conv1.weight`, `bn1.running_mean`,
//!   `layer1.0.conv1.weight`, `layer2.0.downsample.0.weight`, ...
//! - [`LinearClassifier`]: `fc.weight`, `fc.bias`.
//! - [`SupConModel`]: `encoder.*` and `head.0.*`, `head.2.*` (MLP) or `head.*` (linear), the
//!   names of the SupCon reference code's `SupConResNet`.
//! - [`ClassifierModel`]: `encoder.*` and `classifier.fc.*`; or torchvision's `conv1.weight`,
//!   ..., `fc.weight` through [`ClassifierModel::save_torchvision`] and
//!   [`ClassifierModel::load_torchvision`].
//!
//! Burn's own record files need nothing from here but [`sync_running_statistics`]: every model
//! is a Burn [`Module`](burn::module::Module), so `model.save_file(path)` and
//! `model.load_file(path)` work as for any Burn module.

use std::path::Path;

use burn::module::Module;

use crate::classifier::LinearClassifier;
use crate::error::ModelError;
use crate::model::{ClassifierModel, SupConModel};
use crate::resnet::ResNet;
use crate::state_dict::{LoadOptions, SafetensorsReader, SafetensorsWriter};

/// Makes the batch norm running statistics stored in `module` those of its last forward pass.
///
/// Burn 0.22 keeps the latest running-statistics update of a batch norm aside until the
/// statistics are next read by a forward pass, [`Module::valid`] or [`Module::train`]. A record
/// taken right after a training step ([`Module::save_file`], [`Module::into_record`]) would
/// therefore hold the statistics of one step earlier. Call this before writing a Burn record;
/// the safetensors writers of this crate do it themselves. Initialises lazily initialised
/// parameters.
///
/// ```
/// use burn::prelude::*;
/// use supcon_models::{checkpoint::sync_running_statistics, ResNetConfig};
///
/// let device = Device::flex().autodiff();
/// let encoder = ResNetConfig::resnet18_cifar().with_width_multiplier(0.125).init(&device);
/// encoder.forward(Tensor::<4>::ones([2, 3, 8, 8], &device));
/// sync_running_statistics(&encoder);
/// let path = std::env::temp_dir().join("supcon-models-sync-example.bpk");
/// encoder.save_file(&path).unwrap();
/// # std::fs::remove_file(&path).ok();
/// ```
pub fn sync_running_statistics<M: Module>(module: &M) {
    let _ = module.valid();
}

impl ResNet {
    /// Writes the encoder with torchvision's key names (no prefix, no `fc`).
    ///
    /// # Errors
    /// [`ModelError::Write`] naming the file.
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let mut writer = SafetensorsWriter::new();
        writer.add(self, "");
        writer.write(path)
    }

    /// Loads the encoder from a file with torchvision's key names.
    ///
    /// A torchvision classifier's file also holds `fc.weight` and `fc.bias`: load it with
    /// `allow_unexpected`, or as a [`ClassifierModel`] with
    /// [`ClassifierModel::load_torchvision`].
    ///
    /// # Errors
    /// See [`SafetensorsReader`]: every error names the file and the tensor.
    pub fn load_safetensors(
        self,
        path: impl AsRef<Path>,
        options: &LoadOptions,
    ) -> Result<Self, ModelError> {
        let mut reader = SafetensorsReader::open(path, options.clone())?;
        let encoder = reader.load(self, "")?;
        reader.finish()?;
        Ok(encoder)
    }
}

impl LinearClassifier {
    /// Writes `fc.weight` (`[num_classes, input_dim]`, PyTorch's layout) and `fc.bias`.
    ///
    /// # Errors
    /// [`ModelError::Write`] naming the file.
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let mut writer = SafetensorsWriter::new();
        writer.add(self, "");
        writer.write(path)
    }

    /// Loads `fc.weight` and `fc.bias`.
    ///
    /// # Errors
    /// See [`SafetensorsReader`].
    pub fn load_safetensors(
        self,
        path: impl AsRef<Path>,
        options: &LoadOptions,
    ) -> Result<Self, ModelError> {
        let mut reader = SafetensorsReader::open(path, options.clone())?;
        let classifier = reader.load(self, "")?;
        reader.finish()?;
        Ok(classifier)
    }
}

impl SupConModel {
    /// Writes encoder and head under `encoder.` and `head.`, the names of the SupCon reference
    /// code's `SupConResNet`.
    ///
    /// # Errors
    /// [`ModelError::Write`] naming the file.
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let mut writer = SafetensorsWriter::new();
        writer.add(&self.encoder, "encoder.");
        writer.add(&self.head, "head.");
        writer.write(path)
    }

    /// Loads encoder and head from `encoder.*` and `head.*`.
    ///
    /// # Errors
    /// See [`SafetensorsReader`].
    pub fn load_safetensors(
        self,
        path: impl AsRef<Path>,
        options: &LoadOptions,
    ) -> Result<Self, ModelError> {
        let mut reader = SafetensorsReader::open(path, options.clone())?;
        let encoder = reader.load(self.encoder, "encoder.")?;
        let head = reader.load(self.head, "head.")?;
        reader.finish()?;
        Ok(Self { encoder, head })
    }
}

impl ClassifierModel {
    /// Writes encoder and classifier under `encoder.` and `classifier.` (so the classifier's
    /// tensors are `classifier.fc.weight` and `classifier.fc.bias`).
    ///
    /// # Errors
    /// [`ModelError::Write`] naming the file.
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        self.write_with_prefixes(path, "encoder.", "classifier.")
    }

    /// Loads a file written by [`save_safetensors`](Self::save_safetensors).
    ///
    /// # Errors
    /// See [`SafetensorsReader`].
    pub fn load_safetensors(
        self,
        path: impl AsRef<Path>,
        options: &LoadOptions,
    ) -> Result<Self, ModelError> {
        self.read_with_prefixes(path, options, "encoder.", "classifier.")
    }

    /// Writes the model as torchvision's `ResNet` names it: `conv1.weight`, ...,
    /// `fc.weight`, `fc.bias`. `torchvision.models.resnet50().load_state_dict(
    /// safetensors.torch.load_file(path))` reads it back (for a standard architecture and
    /// width 1 with the ImageNet stem).
    ///
    /// # Errors
    /// [`ModelError::Write`] naming the file.
    pub fn save_torchvision(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        self.write_with_prefixes(path, "", "")
    }

    /// Loads a torchvision classifier's `state_dict` saved as safetensors, for example an
    /// ImageNet checkpoint converted in Python with
    /// `safetensors.torch.save_file(torchvision.models.resnet50(weights="IMAGENET1K_V1")
    /// .state_dict(), "resnet50.safetensors")`. The model must have the same architecture and
    /// number of classes (1000 for ImageNet).
    ///
    /// # Errors
    /// See [`SafetensorsReader`]; a different class count is a
    /// [`ModelError::ShapeMismatch`] on `fc.weight`.
    pub fn load_torchvision(
        self,
        path: impl AsRef<Path>,
        options: &LoadOptions,
    ) -> Result<Self, ModelError> {
        self.read_with_prefixes(path, options, "", "")
    }

    fn write_with_prefixes(
        &self,
        path: impl AsRef<Path>,
        encoder_prefix: &str,
        classifier_prefix: &str,
    ) -> Result<(), ModelError> {
        let mut writer = SafetensorsWriter::new();
        writer.add(&self.encoder, encoder_prefix);
        writer.add(&self.classifier, classifier_prefix);
        writer.write(path)
    }

    fn read_with_prefixes(
        self,
        path: impl AsRef<Path>,
        options: &LoadOptions,
        encoder_prefix: &str,
        classifier_prefix: &str,
    ) -> Result<Self, ModelError> {
        let mut reader = SafetensorsReader::open(path, options.clone())?;
        let encoder = reader.load(self.encoder, encoder_prefix)?;
        let classifier = reader.load(self.classifier, classifier_prefix)?;
        reader.finish()?;
        Ok(Self {
            encoder,
            classifier,
        })
    }
}
