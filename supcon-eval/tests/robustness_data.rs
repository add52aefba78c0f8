//! Readers of pre-generated corruption data, the ImageNet-C folder writer, and the evaluation
//! driver on a small model.

use std::path::Path;

use burn::data::dataset::{Dataset, InMemDataset};
use burn::prelude::*;
use image::{Rgb, RgbImage};
use supcon_eval::corruption::{Corruption, CorruptionContext, Severity};
use supcon_eval::robustness::{
    encode_npy_u8, evaluate_cifar_c, evaluate_imagenet_c, evaluate_robustness, read_npy_u8,
    write_corrupted_folder, CifarC, CorruptFolderConfig, ImageNetCFolder, Normaliser,
    Normalization, RobustnessConfig, RobustnessError,
};
use supcon_eval::ImageClassifier;

/// Classifies an image as bright (class 1) or dark (class 0) by its mean normalised value.
struct BrightnessModel;

impl ImageClassifier for BrightnessModel {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        let [n, _, _, _] = images.dims();
        let mean = images.mean_dims(&[1, 2, 3]).reshape([n, 1]);
        Tensor::cat(vec![mean.clone().mul_scalar(-4.0), mean.mul_scalar(4.0)], 1)
    }

    fn num_classes(&self) -> usize {
        2
    }
}

/// Dark images labelled 0 and bright ones labelled 1, with some texture.
fn toy_images(count: usize, size: u32) -> Vec<(RgbImage, usize)> {
    (0..count)
        .map(|i| {
            let label = i % 2;
            let base = if label == 1 { 200u8 } else { 40 };
            let image = RgbImage::from_fn(size, size, |x, y| {
                let t = ((x * 7 + y * 3 + i as u32) % 16) as u8;
                Rgb([base + t, base + t / 2, base])
            });
            (image, label)
        })
        .collect()
}

fn write_npy(path: &Path, shape: &[usize], data: &[u8]) {
    std::fs::write(path, encode_npy_u8(shape, data)).unwrap();
}

#[test]
fn cifar_c_files_are_read_severity_major_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    // 5 severities x 2 images of 4x4: pixel values encode the row index.
    let rows = 10;
    let data: Vec<u8> = (0..rows)
        .flat_map(|r| std::iter::repeat_n(r as u8 * 10, 48))
        .collect();
    write_npy(&dir.path().join("fog.npy"), &[rows, 4, 4, 3], &data);
    write_npy(
        &dir.path().join("labels.npy"),
        &[rows],
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );

    let cifar = CifarC::open(dir.path()).unwrap();
    assert_eq!(cifar.images_per_severity(), 2);
    let fog = cifar.corruption(Corruption::Fog).unwrap();
    let cell = fog.severity(Severity::new(3).unwrap());
    assert_eq!(cell.len(), 2);
    // Severity 3 holds rows 4 and 5.
    let (image, label) = cell.get(1).unwrap();
    assert_eq!((image.get_pixel(0, 0)[0], label), (50, 5));
    assert!(cell.get(2).is_err());

    // A truncated file: the error names the file and both sizes.
    let bytes = encode_npy_u8(&[rows, 4, 4, 3], &data);
    std::fs::write(dir.path().join("snow.npy"), &bytes[..bytes.len() - 7]).unwrap();
    let err = cifar.corruption(Corruption::Snow).unwrap_err().to_string();
    assert!(
        err.contains("snow.npy") && err.contains("480") && err.contains("473"),
        "{err}"
    );
    // A wrong shape (labels do not match).
    write_npy(&dir.path().join("frost.npy"), &[5, 4, 4, 3], &data[..240]);
    assert!(matches!(
        cifar.corruption(Corruption::Frost),
        Err(RobustnessError::NpyShape { .. })
    ));
    // Not a .npy file at all.
    std::fs::write(dir.path().join("contrast.npy"), b"PK\x03\x04 zip archive").unwrap();
    assert!(matches!(
        cifar.corruption(Corruption::Contrast),
        Err(RobustnessError::NpyMagic { .. })
    ));
    assert!(matches!(
        read_npy_u8(dir.path().join("absent.npy")),
        Err(RobustnessError::Io { .. })
    ));
}

#[test]
fn writer_produces_an_imagenet_c_tree_and_resumes() {
    let source = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    for (i, (image, label)) in toy_images(4, 24).into_iter().enumerate() {
        let dir = source.path().join(format!("class{label}"));
        std::fs::create_dir_all(&dir).unwrap();
        image.save(dir.join(format!("img{i}.png"))).unwrap();
    }
    std::fs::write(source.path().join("class0/broken.png"), b"not a png").unwrap();

    let config = CorruptFolderConfig {
        corruptions: vec![Corruption::GaussianNoise, Corruption::Contrast],
        severities: vec![Severity::new(1).unwrap(), Severity::new(5).unwrap()],
        seed: 3,
        ..CorruptFolderConfig::default()
    };
    let context = CorruptionContext::cifar();
    let first = write_corrupted_folder(source.path(), output.path(), &context, &config).unwrap();
    assert_eq!((first.images, first.written, first.skipped), (5, 16, 0));
    assert_eq!(first.failed.len(), 1);
    assert!(first.failed[0].0.ends_with("broken.png"));
    assert!(!first.approximate);

    let file = output.path().join("gaussian_noise/5/class1/img1.jpg");
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(
        image::load_from_memory(&bytes)
            .unwrap()
            .to_rgb8()
            .dimensions(),
        (24, 24)
    );

    // Resume: nothing to do; then one deleted file is rewritten with the same bytes.
    let again = write_corrupted_folder(source.path(), output.path(), &context, &config).unwrap();
    assert_eq!((again.written, again.skipped), (0, 16));
    std::fs::remove_file(&file).unwrap();
    let resumed = write_corrupted_folder(source.path(), output.path(), &context, &config).unwrap();
    assert_eq!((resumed.written, resumed.skipped), (1, 15));
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    // No temporary files are left behind.
    let leftovers = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    assert_eq!(leftovers, 0);

    // The reader sees the tree the writer made.
    let tree = ImageNetCFolder::open(output.path()).unwrap();
    assert_eq!(tree.classes(), ["class0", "class1"]);
    assert_eq!(tree.cells().len(), 4);
    let cell = tree
        .cell(Corruption::Contrast, Severity::new(1).unwrap())
        .unwrap();
    assert_eq!(cell.len(), 4);
    let labels: Vec<usize> = (0..4).map(|i| cell.get(i).unwrap().1).collect();
    assert_eq!(labels, vec![0, 0, 1, 1]);
    assert!(matches!(
        tree.cell(Corruption::Fog, Severity::new(1).unwrap()),
        Err(RobustnessError::MissingCell { .. })
    ));
}

#[test]
fn driver_reports_every_cell_reproducibly() {
    let device = Device::flex();
    let dataset = InMemDataset::new(toy_images(12, 32));
    let config = RobustnessConfig {
        corruptions: vec![
            Corruption::GaussianNoise,
            Corruption::Contrast,
            Corruption::Frost,
        ],
        batch_size: 5,
        ..RobustnessConfig::new(Normalization::CIFAR10)
    };
    let context = CorruptionContext::cifar();
    let report = evaluate_robustness(
        &BrightnessModel,
        &dataset,
        &context,
        &config,
        &Normaliser::None,
        &device,
    )
    .unwrap();

    // The brightness rule separates the clean images perfectly.
    assert_eq!(report.clean.error, 0.0);
    assert_eq!(report.clean.num_samples, 12);
    assert_eq!(report.cells.len(), 15);
    for cell in &report.cells {
        assert_eq!(cell.num_samples, 12);
        assert!((0.0..=1.0).contains(&cell.error));
        assert!(cell.ece.is_some() && cell.nll.unwrap() > 0.0);
        assert_eq!(cell.approximate, cell.corruption == Corruption::Frost);
    }
    assert!(report.approximate);
    assert!(report.mean_ece_per_severity.iter().all(Option::is_some));

    let again = evaluate_robustness(
        &BrightnessModel,
        &dataset,
        &context,
        &config,
        &Normaliser::None,
        &device,
    )
    .unwrap();
    assert_eq!(again, report);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["cells"].as_array().unwrap().len(), 15);
}

#[test]
fn pregenerated_data_is_evaluated_like_generated_data() {
    let device = Device::flex();
    let images = toy_images(4, 32);
    let clean = InMemDataset::new(images.clone());
    let config = RobustnessConfig {
        corruptions: vec![Corruption::Brightness],
        ..RobustnessConfig::new(Normalization::CIFAR10)
    };

    // CIFAR-10-C files holding the clean images at every severity: every cell has the clean
    // error (0) and the same ECE as the clean set.
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..5)
        .flat_map(|_| images.iter().flat_map(|(i, _)| i.as_raw().clone()))
        .collect();
    let labels: Vec<u8> = (0..5)
        .flat_map(|_| images.iter().map(|(_, l)| *l as u8))
        .collect();
    write_npy(&dir.path().join("brightness.npy"), &[20, 32, 32, 3], &data);
    write_npy(&dir.path().join("labels.npy"), &[20], &labels);
    let cifar = CifarC::open(dir.path()).unwrap();
    let report = evaluate_cifar_c(
        &BrightnessModel,
        &clean,
        &cifar,
        &config,
        &Normaliser::None,
        &device,
    )
    .unwrap();
    assert_eq!(report.cells.len(), 5);
    for cell in &report.cells {
        assert_eq!(cell.error, 0.0);
        assert!((cell.ece.unwrap() - report.clean.ece.unwrap()).abs() < 1e-9);
    }

    // An ImageNet-C tree written by the writer, evaluated from disk.
    let source = tempfile::tempdir().unwrap();
    for (i, (image, label)) in images.iter().enumerate() {
        let dir = source.path().join(format!("c{label}"));
        std::fs::create_dir_all(&dir).unwrap();
        image.save(dir.join(format!("{i}.png"))).unwrap();
    }
    let tree_dir = tempfile::tempdir().unwrap();
    let writer_config = CorruptFolderConfig {
        corruptions: vec![Corruption::Brightness],
        ..Default::default()
    };
    write_corrupted_folder(
        source.path(),
        tree_dir.path(),
        &CorruptionContext::cifar(),
        &writer_config,
    )
    .unwrap();
    let tree = ImageNetCFolder::open(tree_dir.path()).unwrap();
    let report = evaluate_imagenet_c(
        &BrightnessModel,
        &clean,
        &tree,
        &config,
        &Normaliser::None,
        &device,
    );
    // The clean set is cropped to 224 on the ImageNet path while the tree holds 32 px files:
    // the driver accepts both sizes because each batch is one size.
    let report = report.unwrap();
    assert_eq!(report.cells.len(), 5);
    assert!(report.cells.iter().all(|c| c.num_samples == 4));
}
