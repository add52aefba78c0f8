//! Save/load round trips (Burn records and safetensors) and the errors of loading a file that
//! does not fit the model.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::Distribution;
use safetensors::{Dtype, SafeTensors};
use supcon_models::checkpoint::sync_running_statistics;
use supcon_models::{
    ClassifierModel, ClassifierModelConfig, HeadKind, LoadOptions, ModelError, ResNetConfig,
    SupConModel, SupConModelConfig,
};

fn small_encoder() -> ResNetConfig {
    ResNetConfig::resnet18_cifar().with_width_multiplier(0.125)
}

fn images(device: &Device) -> Tensor<4> {
    Tensor::<4>::random([2, 3, 8, 8], Distribution::Normal(0.0, 1.0), device)
}

fn values(tensor: Tensor<2>) -> Vec<f32> {
    tensor.into_data().try_to_vec().unwrap()
}

/// A classifier whose batch norms have non-trivial running statistics: two training-mode
/// forward passes on an autodiff device move them away from (0, 1).
fn trained_classifier() -> ClassifierModel {
    let device = Device::flex().autodiff();
    let model = ClassifierModelConfig::new(small_encoder(), 5).init(&device);
    for _ in 0..2 {
        let _ = model.forward(images(&device).add_scalar(0.5));
    }
    model
}

#[test]
fn burn_record_round_trip_restores_weights_and_running_statistics() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("classifier.bpk");
    let model = trained_classifier();
    // Burn holds the last running-statistics update back until the statistics are read.
    sync_running_statistics(&model);
    model.clone().save_file(&path).unwrap();

    let device = Device::flex();
    let fresh = ClassifierModelConfig::new(small_encoder(), 5).init(&device);
    let loaded = fresh.load_file(&path);
    let x = images(&device);
    assert_eq!(
        values(model.valid().forward(x.clone())),
        values(loaded.valid().forward(x))
    );
}

#[test]
fn safetensors_round_trips_give_identical_outputs() {
    let directory = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let x = images(&device);
    let model = trained_classifier().valid();
    let expected = values(model.forward(x.clone()));
    let fresh = || ClassifierModelConfig::new(small_encoder(), 5).init(&device);

    let path = directory.path().join("classifier.safetensors");
    model.save_safetensors(&path).unwrap();
    let loaded = fresh()
        .load_safetensors(&path, &LoadOptions::strict())
        .unwrap();
    assert_eq!(values(loaded.valid().forward(x.clone())), expected);

    let path = directory.path().join("torchvision.safetensors");
    model.save_torchvision(&path).unwrap();
    let loaded = fresh()
        .load_torchvision(&path, &LoadOptions::strict())
        .unwrap();
    assert_eq!(values(loaded.valid().forward(x.clone())), expected);

    let path = directory.path().join("encoder.safetensors");
    model.encoder.save_safetensors(&path).unwrap();
    let encoder = small_encoder()
        .init(&device)
        .load_safetensors(&path, &LoadOptions::strict());
    let expected_features = values(model.features(x.clone()));
    assert_eq!(
        values(encoder.unwrap().valid().forward(x.clone())),
        expected_features
    );

    for head in [HeadKind::Mlp, HeadKind::Linear] {
        let config = SupConModelConfig::new(small_encoder())
            .with_head(head)
            .with_projection_dim(8);
        let model = config.init(&device);
        let path = directory.path().join("supcon.safetensors");
        model.save_safetensors(&path).unwrap();
        let loaded: SupConModel = config
            .init(&device)
            .load_safetensors(&path, &LoadOptions::strict())
            .unwrap();
        assert_eq!(
            values(loaded.valid().forward(x.clone())),
            values(model.valid().forward(x.clone()))
        );
    }
}

#[test]
fn supcon_files_use_the_reference_code_names() {
    let directory = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let path = directory.path().join("supcon.safetensors");
    let model = SupConModelConfig::new(small_encoder())
        .with_projection_dim(8)
        .init(&device);
    model.save_safetensors(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    // SupConResNet: encoder = resnet, head = Sequential(Linear(64, 64), ReLU, Linear(64, 8)).
    assert_eq!(file.tensor("head.0.weight").unwrap().shape(), [64, 64]);
    assert_eq!(file.tensor("head.2.weight").unwrap().shape(), [8, 64]);
    assert_eq!(file.tensor("head.2.bias").unwrap().shape(), [8]);
    assert_eq!(
        file.tensor("encoder.conv1.weight").unwrap().shape(),
        [8, 3, 3, 3]
    );
    let counter = file
        .tensor("encoder.layer2.0.downsample.1.num_batches_tracked")
        .unwrap();
    assert_eq!((counter.dtype(), counter.shape()), (Dtype::I64, &[][..]));
}

/// Writes a copy of `source` after `edit` has changed its list of (name, dtype, shape, bytes).
fn rewrite(
    source: &Path,
    target: PathBuf,
    edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>),
) -> PathBuf {
    let bytes = std::fs::read(source).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<_> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            (
                name,
                view.dtype(),
                view.shape().to_vec(),
                view.data().to_vec(),
            )
        })
        .collect();
    edit(&mut tensors);
    let views: Vec<_> = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            (
                name.clone(),
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &target).unwrap();
    target
}

struct Fixture {
    _directory: tempfile::TempDir,
    directory: PathBuf,
    file: PathBuf,
}

fn fixture() -> Fixture {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("model.safetensors");
    let model = ClassifierModelConfig::new(small_encoder(), 5).init(&Device::flex());
    model.save_torchvision(&file).unwrap();
    Fixture {
        directory: directory.path().to_path_buf(),
        _directory: directory,
        file,
    }
}

fn load(path: &Path, options: &LoadOptions) -> Result<ClassifierModel, ModelError> {
    ClassifierModelConfig::new(small_encoder(), 5)
        .init(&Device::flex())
        .load_torchvision(path, options)
}

#[test]
fn a_missing_tensor_is_an_error_naming_it() {
    let fixture = fixture();
    let path = rewrite(
        &fixture.file,
        fixture.directory.join("missing.safetensors"),
        |tensors| {
            tensors.retain(|(name, ..)| name != "layer3.1.bn2.running_mean");
        },
    );
    let error = load(&path, &LoadOptions::strict()).unwrap_err();
    let ModelError::MissingTensors { names, .. } = &error else {
        panic!("expected missing tensors, got {error}");
    };
    assert_eq!(names, &["layer3.1.bn2.running_mean"]);
    let message = error.to_string();
    assert!(
        message.contains("layer3.1.bn2.running_mean") && message.contains("missing.safetensors")
    );

    // Allowed: the rest loads and the missing buffer keeps its initial value.
    assert!(load(&path, &LoadOptions::partial()).is_ok());
}

#[test]
fn a_wrong_shape_is_an_error_naming_the_tensor_and_both_shapes() {
    let fixture = fixture();
    let path = rewrite(
        &fixture.file,
        fixture.directory.join("shape.safetensors"),
        |tensors| {
            let conv = tensors
                .iter_mut()
                .find(|(name, ..)| name == "layer2.0.conv1.weight")
                .unwrap();
            // [16, 8, 3, 3] stored as [16, 8, 9, 1]: same size, other shape.
            conv.2 = vec![16, 8, 9, 1];
        },
    );
    let error = load(&path, &LoadOptions::partial()).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ModelError::ShapeMismatch { .. }),
        "{message}"
    );
    assert!(message.contains("layer2.0.conv1.weight"), "{message}");
    assert!(
        message.contains("[16, 8, 9, 1]") && message.contains("[16, 8, 3, 3]"),
        "{message}"
    );

    // A classifier for another number of classes: PyTorch's [out, in] layout in the message.
    let wrong_classes = ClassifierModelConfig::new(small_encoder(), 7).init(&Device::flex());
    let error = wrong_classes
        .load_torchvision(&fixture.file, &LoadOptions::strict())
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("`fc.weight`")
            && message.contains("[5, 64]")
            && message.contains("[7, 64]"),
        "{message}"
    );
}

#[test]
fn an_unexpected_tensor_is_an_error_unless_allowed() {
    let fixture = fixture();
    let path = rewrite(
        &fixture.file,
        fixture.directory.join("extra.safetensors"),
        |tensors| {
            tensors.push(("extra.weight".into(), Dtype::F32, vec![2], vec![0; 8]));
            tensors.push((
                "fc.num_batches_tracked".into(),
                Dtype::I64,
                vec![],
                vec![0; 8],
            ));
        },
    );
    let error = load(&path, &LoadOptions::strict()).unwrap_err();
    let ModelError::UnexpectedTensors { names, .. } = &error else {
        panic!("expected unexpected tensors, got {error}");
    };
    assert_eq!(names, &["extra.weight", "fc.num_batches_tracked"]);
    let options = LoadOptions {
        allow_unexpected: true,
        ..LoadOptions::strict()
    };
    assert!(load(&path, &options).is_ok());
}

#[test]
fn half_precision_loads_and_integer_weights_are_rejected() {
    let fixture = fixture();
    let to_f16 = |data: &[u8]| -> Vec<u8> {
        data.chunks_exact(4)
            .flat_map(|c| {
                let value = f32::from_le_bytes(c.try_into().unwrap());
                burn::tensor::f16::from_f32(value).to_bits().to_le_bytes()
            })
            .collect()
    };
    let path = rewrite(
        &fixture.file,
        fixture.directory.join("f16.safetensors"),
        |tensors| {
            for (_, dtype, _, data) in tensors.iter_mut().filter(|t| t.1 == Dtype::F32) {
                *data = to_f16(data);
                *dtype = Dtype::F16;
            }
        },
    );
    assert!(load(&path, &LoadOptions::strict()).is_ok());

    let path = rewrite(
        &fixture.file,
        fixture.directory.join("i32.safetensors"),
        |tensors| {
            let bias = tensors
                .iter_mut()
                .find(|(name, ..)| name == "fc.bias")
                .unwrap();
            bias.1 = Dtype::I32;
        },
    );
    let error = load(&path, &LoadOptions::strict()).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ModelError::UnsupportedDtype { .. }),
        "{message}"
    );
    assert!(
        message.contains("`fc.bias`") && message.contains("I32"),
        "{message}"
    );
}

#[test]
fn a_file_with_other_prefixes_reports_missing_tensors() {
    // A SupCon-layout file (`encoder.conv1.weight`) read as torchvision layout (`conv1.weight`).
    let fixture = fixture();
    let model = ClassifierModelConfig::new(small_encoder(), 5).init(&Device::flex());
    let path = fixture.directory.join("ours.safetensors");
    model.save_safetensors(&path).unwrap();
    let message = load(&path, &LoadOptions::strict()).unwrap_err().to_string();
    assert!(
        message.contains("`conv1.weight`") && message.contains("more"),
        "{message}"
    );
}

#[test]
fn unreadable_and_corrupt_files_are_errors_naming_the_file() {
    let fixture = fixture();
    let absent = fixture.directory.join("absent.safetensors");
    let message = load(&absent, &LoadOptions::strict())
        .unwrap_err()
        .to_string();
    assert!(message.contains("absent.safetensors"), "{message}");

    let corrupt = fixture.directory.join("corrupt.safetensors");
    let bytes = std::fs::read(&fixture.file).unwrap();
    std::fs::write(&corrupt, &bytes[..bytes.len() / 2]).unwrap();
    let error = load(&corrupt, &LoadOptions::strict()).unwrap_err();
    assert!(matches!(error, ModelError::InvalidFile { .. }), "{error}");
    assert!(error.to_string().contains("corrupt.safetensors"));
}
