//! Loading torchvision weights reproduces PyTorch's outputs.
//!
//! `reference/resnet/` holds torchvision models with 10 classes (their `state_dict` as
//! safetensors, floats in F16), a fixed input and the logits and pooled features PyTorch
//! computed from it in eval mode (running statistics) and train mode (batch statistics);
//! reference/resnet/README.md gives the procedure. Each model listed in
//! `resnet_expected.json` is checked within 1e-4 absolute, the file's float32-vs-float64
//! deviations being at most 2.2e-5.

#[path = "../../tests/src/reference.rs"]
mod reference;

use std::path::Path;

use burn::prelude::*;
use safetensors::SafeTensors;
use serde_json::Value;
use supcon_models::{
    num_buffers, num_parameters, BlockKind, ClassifierModel, ClassifierModelConfig, LoadOptions,
    ResNetConfig, SafetensorsWriter,
};

const TOLERANCE: f32 = 1e-4;

/// Reads a little-endian float32 C-order `.npy` file (format versions 1 to 3).
fn read_npy_f32(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[..6],
        b"\x93NUMPY",
        "{} is not a .npy file",
        path.display()
    );
    let (header_len, header_start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(&bytes[header_start..header_start + header_len]).unwrap();
    assert!(
        header.contains("'descr': '<f4'"),
        "{}: not float32: {header}",
        path.display()
    );
    assert!(
        header.contains("'fortran_order': False"),
        "{}: not C order",
        path.display()
    );
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next());
    let shape: Vec<usize> = shape_text
        .unwrap_or_else(|| panic!("{}: no shape in {header}", path.display()))
        .split(',')
        .filter(|dim| !dim.trim().is_empty())
        .map(|dim| dim.trim().parse().unwrap())
        .collect();
    let data = &bytes[header_start + header_len..];
    let values: Vec<f32> = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(
        values.len(),
        shape.iter().product::<usize>(),
        "{}",
        path.display()
    );
    (shape, values)
}

/// The architecture named by the reference's `constructor` field: either
/// `torchvision.models.resnetN(weights=None, num_classes=K)` or
/// `torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, [a, b, c, d],
/// num_classes=K)`.
fn config_of(constructor: &str) -> ClassifierModelConfig {
    let num_classes: usize = constructor
        .split("num_classes=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no num_classes in `{constructor}`"));
    let encoder = if let Some(list) = constructor.split('[').nth(1) {
        let counts: Vec<usize> = list
            .split(']')
            .next()
            .unwrap()
            .split(',')
            .map(|count| count.trim().parse().unwrap())
            .collect();
        let block = match constructor.contains("Bottleneck") {
            true => BlockKind::Bottleneck,
            false => BlockKind::Basic,
        };
        ResNetConfig::new(block, counts.try_into().expect("four stages"))
    } else {
        let depth = constructor
            .split("models.resnet")
            .nth(1)
            .and_then(|rest| rest.split('(').next())
            .and_then(|digits| digits.parse().ok())
            .unwrap_or_else(|| panic!("cannot read a depth from `{constructor}`"));
        ResNetConfig::from_depth(depth).unwrap()
    };
    ClassifierModelConfig::new(encoder, num_classes)
}

fn expected_matrix(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .expect("a matrix")
        .iter()
        .flat_map(|row| row.as_array().expect("a row").iter())
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

fn assert_close(actual: Tensor<2>, expected: &Value, what: &str) {
    let expected = expected_matrix(expected);
    let actual: Vec<f32> = actual.into_data().convert::<f32>().try_to_vec().unwrap();
    assert_eq!(actual.len(), expected.len(), "{what}: size");
    let (index, deviation) = actual
        .iter()
        .zip(&expected)
        .map(|(a, e)| (a - e).abs())
        .enumerate()
        .fold(
            (0, 0.0f32),
            |best, (i, d)| if d > best.1 { (i, d) } else { best },
        );
    eprintln!("{what}: max |ours - PyTorch| = {deviation:.2e}");
    assert!(
        deviation <= TOLERANCE,
        "{what}: |ours - PyTorch| = {deviation} at flat index {index} ({} vs {}) > {TOLERANCE}",
        actual[index],
        expected[index]
    );
}

fn load(entry: &Value, device: &Device) -> ClassifierModel {
    let file = entry["safetensors"].as_str().unwrap();
    let path = reference::reference_path(&format!("resnet/{file}"));
    config_of(entry["constructor"].as_str().unwrap())
        .init(device)
        .load_torchvision(&path, &LoadOptions::strict())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn input(device: &Device) -> Tensor<4> {
    let expected = reference::read_reference_json("resnet/resnet_expected.json");
    let file = expected["input"]["file"].as_str().unwrap();
    let (shape, values) = read_npy_f32(&reference::reference_path(&format!("resnet/{file}")));
    let shape: [usize; 4] = shape.try_into().expect("an NCHW input");
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn models() -> Vec<(String, Value)> {
    let expected = reference::read_reference_json("resnet/resnet_expected.json");
    let models = expected["models"]
        .as_object()
        .expect("a `models` object")
        .clone();
    assert!(!models.is_empty());
    models.into_iter().collect()
}

/// Compares logits and pooled features with PyTorch's for `mode` ("eval" or "train").
fn check(model: &ClassifierModel, images: &Tensor<4>, name: &str, entry: &Value, mode: &str) {
    let expected = &entry[mode];
    let what = format!("{name} {mode}");
    assert_close(
        model.forward(images.clone()),
        &expected["logits"],
        &format!("{what} logits"),
    );
    assert_close(
        model.features(images.clone()),
        &expected["features"],
        &format!("{what} features"),
    );
}

#[test]
fn eval_mode_matches_pytorch_with_running_statistics() {
    let device = Device::flex();
    let images = input(&device);
    for (name, entry) in models() {
        check(
            &load(&entry, &device).valid(),
            &images,
            &name,
            &entry,
            "eval",
        );
    }
}

#[test]
fn train_mode_matches_pytorch_with_batch_statistics() {
    // On an autodiff device with training flags on, batch norm uses the batch statistics.
    let device = Device::flex().autodiff();
    let images = input(&device);
    for (name, entry) in models() {
        check(&load(&entry, &device), &images, &name, &entry, "train");
    }
}

#[test]
fn tensor_names_shapes_and_counts_match_the_torchvision_state_dict() {
    let device = Device::flex();
    for (name, entry) in models() {
        let model = config_of(entry["constructor"].as_str().unwrap()).init(&device);
        assert_eq!(
            num_parameters(&model) as u64,
            entry["param_count"].as_u64().unwrap()
        );
        assert_eq!(
            num_buffers(&model) as u64,
            entry["buffer_count"].as_u64().unwrap()
        );
        assert_eq!(
            model.encoder.feature_dim() as u64,
            entry["feature_dim"].as_u64().unwrap()
        );

        let mut writer = SafetensorsWriter::new();
        writer.add(&model.encoder, "");
        writer.add(&model.classifier, "");
        let ours: Vec<(String, Vec<usize>)> = writer
            .entries()
            .map(|(key, shape)| (key.to_string(), shape.to_vec()))
            .collect();
        let theirs: Vec<(String, Vec<usize>)> = entry["state_dict"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let key = item[0].as_str().unwrap().to_string();
                let shape = item[1].as_array().unwrap();
                (
                    key,
                    shape.iter().map(|d| d.as_u64().unwrap() as usize).collect(),
                )
            })
            .collect();
        assert_eq!(ours, theirs, "{name}: state_dict keys, shapes and order");
    }
}

#[test]
fn saving_loaded_torchvision_weights_gives_back_the_same_values() {
    let device = Device::flex();
    let directory = tempfile::tempdir().unwrap();
    for (name, entry) in models() {
        let model = load(&entry, &device);
        let copy = directory.path().join(format!("{name}.safetensors"));
        model.save_torchvision(&copy).unwrap();

        let file = entry["safetensors"].as_str().unwrap();
        let original = std::fs::read(reference::reference_path(&format!("resnet/{file}"))).unwrap();
        let written = std::fs::read(&copy).unwrap();
        let original = SafeTensors::deserialize(&original).unwrap();
        let written = SafeTensors::deserialize(&written).unwrap();
        let mut names = original.names();
        names.sort();
        let mut written_names = written.names();
        written_names.sort();
        assert_eq!(names, written_names, "{name}");

        for key in names {
            let (a, b) = (original.tensor(key).unwrap(), written.tensor(key).unwrap());
            assert_eq!(a.shape(), b.shape(), "{key}");
            if key.ends_with("num_batches_tracked") {
                continue;
            }
            // F16 in the reference, F32 in ours: every F16 value is exact in F32.
            assert_eq!(a.dtype(), safetensors::Dtype::F16);
            assert_eq!(b.dtype(), safetensors::Dtype::F32);
            let a = a
                .data()
                .chunks_exact(2)
                .map(|c| burn::tensor::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32());
            let b = b
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()));
            assert!(a.eq(b), "{name}: values of {key} changed");
        }
    }
}
