//! Hostile inputs: every reader of untrusted bytes runs on mutated copies of valid files and must
//! return a value or an error naming the file, never panic, hang or allocate without bound; and
//! hostile configurations are refused, naming the key and its allowed range, before any work.
//!
//! Each target runs `SUPCON_FUZZ_SECONDS` seconds (default 3) after replaying its seeds and the
//! committed inputs under `tests/fuzz-regressions/<target>/`. A longer run of one target:
//! `SUPCON_FUZZ_SECONDS=600 cargo test -p supcon-tests --test fuzz -- --nocapture png`.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::module::Module;
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use image::{DynamicImage, ImageFormat, RgbImage};
use serde_json::Value;
use supcon_data::{
    decode_rgb, CifarDataset, CorruptImagePolicy, ImageFolderConfig, SizeCheck, Split,
};
use supcon_eval::corruption::{Corruption, Severity};
use supcon_eval::robustness::{encode_npy_u8, CifarC, ImageNetCFolder};
use supcon_models::{
    ClassifierModel, LinearClassifier, LinearClassifierConfig, LoadOptions, ResNet, ResNetConfig,
};
use supcon_tests::fuzz::{self, CountingAllocator, Rejected, Target};
use supcon_tests::mutate::{Field, Mutator};
use supcon_train::{open_checkpoint, read_metrics, CheckpointStore, TrainingPosition};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocation bound of one execution for readers of small files: far above what any valid seed
/// needs (a few MiB), far below what a size field taken on trust would ask for.
const SMALL_FILE_BOUND: usize = 256 << 20;

/// Allocation bound for image decoding: the `image` crate's default limit (512 MiB per image)
/// plus slack; a header may claim a large image and the decoder reserves it before reading.
const IMAGE_BOUND: usize = 640 << 20;

fn file_error(error: impl std::fmt::Display) -> Rejected {
    Rejected::File(error.to_string())
}

fn item_error(error: impl std::fmt::Display) -> Rejected {
    Rejected::Item(error.to_string())
}

fn target(
    name: &'static str,
    dir: &Path,
    file_name: &str,
    seeds: Vec<Vec<u8>>,
    mutator: Mutator,
    memory_limit: usize,
    check: impl Fn(&Path) -> Result<(), Rejected> + Send + Sync + 'static,
) -> Target {
    Target {
        name,
        seeds,
        mutator,
        dir: dir.to_path_buf(),
        file_name: file_name.to_string(),
        must_name: None,
        memory_limit,
        check: Arc::new(check),
    }
}

fn run(target: &Target) {
    let report = fuzz::run(target, fuzz::seconds_per_target());
    assert!(report.executions >= target.seeds.len());
}

// ---------------------------------------------------------------------------------------------
// Seed inputs.

/// A 13x9 RGB gradient (odd sizes catch stride bugs).
fn test_image() -> RgbImage {
    RgbImage::from_fn(13, 9, |x, y| {
        image::Rgb([(x * 19) as u8, (y * 27) as u8, (x * y) as u8])
    })
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, format)
        .expect("the seed image encodes");
    bytes.into_inner()
}

fn png_seeds() -> Vec<Vec<u8>> {
    let rgb = DynamicImage::ImageRgb8(test_image());
    [
        rgb.clone(),
        DynamicImage::ImageRgba8(rgb.to_rgba8()),
        DynamicImage::ImageLuma8(rgb.to_luma8()),
        DynamicImage::ImageRgb16(rgb.to_rgb16()),
    ]
    .iter()
    .map(|image| encode(image, ImageFormat::Png))
    .collect()
}

/// The IHDR width and height of a PNG (big-endian, after the 8-byte signature and the chunk's
/// length and type).
fn png_fields() -> Vec<Field> {
    vec![
        Field::be(8, 4),
        Field::be(16, 4),
        Field::be(20, 4),
        Field::le(24, 1),
        Field::le(25, 1),
    ]
}

fn jpeg_seed() -> Vec<u8> {
    encode(&DynamicImage::ImageRgb8(test_image()), ImageFormat::Jpeg)
}

/// The frame header of a JPEG: segment length, precision, height, width and component count
/// after the SOF marker.
fn jpeg_fields(bytes: &[u8]) -> Vec<Field> {
    let sof = bytes
        .windows(2)
        .position(|w| w[0] == 0xff && (w[1] == 0xc0 || w[1] == 0xc2))
        .expect("the seed JPEG has a frame header");
    vec![
        Field::be(sof + 2, 2),
        Field::be(sof + 4, 1),
        Field::be(sof + 5, 2),
        Field::be(sof + 7, 2),
        Field::be(sof + 9, 1),
    ]
}

fn bmp_seed() -> Vec<u8> {
    encode(&DynamicImage::ImageRgb8(test_image()), ImageFormat::Bmp)
}

/// File size, data offset, header size, width, height, planes, bits per pixel, compression.
fn bmp_fields() -> Vec<Field> {
    vec![
        Field::le(2, 4),
        Field::le(10, 4),
        Field::le(14, 4),
        Field::le(18, 4),
        Field::le(22, 4),
        Field::le(26, 2),
        Field::le(28, 2),
        Field::le(30, 4),
    ]
}

fn webp_seed() -> Vec<u8> {
    encode(&DynamicImage::ImageRgb8(test_image()), ImageFormat::WebP)
}

/// The RIFF size, the first chunk's size and the packed lossless width and height.
fn webp_fields() -> Vec<Field> {
    vec![Field::le(4, 4), Field::le(16, 4), Field::le(21, 4)]
}

/// `records` CIFAR records of `record_size` bytes with labels below `classes`.
fn cifar_records(records: usize, record_size: usize, classes: u8) -> Vec<u8> {
    (0..records * record_size)
        .map(|i| {
            let offset = i % record_size;
            if offset < record_size - 3072 {
                ((i / record_size) as u8 * 3 + offset as u8) % classes
            } else {
                (i * 7) as u8
            }
        })
        .collect()
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("supcon-fuzz-")
        .tempdir()
        .expect("a temporary folder")
}

fn device() -> Device {
    Device::flex()
}

/// A ResNet-18 (CIFAR stem) at 1/16 width: 4 stem channels, the full layout of tensors.
fn tiny_resnet() -> ResNet {
    ResNetConfig::resnet18_cifar()
        .with_width_multiplier(1.0 / 16.0)
        .init(&device())
}

// ---------------------------------------------------------------------------------------------
// Datasets.

fn cifar_target(name: &'static str, hundred: bool) -> (tempfile::TempDir, Target) {
    let dir = temp_dir();
    let (file, record_size, classes) = if hundred {
        ("test.bin", 3074, 20)
    } else {
        ("test_batch.bin", 3073, 10)
    };
    let seeds = vec![
        cifar_records(3, record_size, classes),
        cifar_records(1, record_size, 1),
    ];
    let fields = (0..3)
        .flat_map(|r| [Field::le(r * record_size, 1)])
        .collect();
    let root = dir.path().to_path_buf();
    let target = target(
        name,
        dir.path(),
        file,
        seeds,
        Mutator::binary(fields),
        SMALL_FILE_BOUND,
        {
            move |_path| {
                let dataset = if hundred {
                    CifarDataset::cifar100_with(
                        &root,
                        Split::Test,
                        supcon_data::Cifar100Labels::Fine,
                        SizeCheck::WholeRecords,
                    )
                } else {
                    CifarDataset::cifar10_with(&root, Split::Test, SizeCheck::WholeRecords)
                }
                .map_err(file_error)?;
                for index in 0..burn::data::dataset::Dataset::len(&dataset) {
                    let item =
                        burn::data::dataset::Dataset::get(&dataset, index).map_err(item_error)?;
                    assert_eq!(item.image.dimensions(), (32, 32));
                }
                Ok(())
            }
        },
    );
    (dir, target)
}

#[test]
fn fuzz_cifar10_binary() {
    let (_dir, target) = cifar_target("cifar10_binary", false);
    run(&target);
}

#[test]
fn fuzz_cifar100_binary() {
    let (_dir, target) = cifar_target("cifar100_binary", true);
    run(&target);
}

fn decode_target(name: &'static str, file: &str, seeds: Vec<Vec<u8>>, fields: Vec<Field>) {
    let dir = temp_dir();
    let target = target(
        name,
        dir.path(),
        file,
        seeds,
        Mutator::binary(fields),
        IMAGE_BOUND,
        |path| decode_rgb(path).map(|_| ()).map_err(file_error),
    );
    run(&target);
}

#[test]
fn fuzz_png_decoding() {
    decode_target("png", "image.png", png_seeds(), png_fields());
}

#[test]
fn fuzz_jpeg_decoding() {
    let seed = jpeg_seed();
    let fields = jpeg_fields(&seed);
    decode_target("jpeg", "image.jpg", vec![seed], fields);
}

#[test]
fn fuzz_bmp_decoding() {
    decode_target("bmp", "image.bmp", vec![bmp_seed()], bmp_fields());
}

#[test]
fn fuzz_webp_decoding() {
    decode_target("webp", "image.webp", vec![webp_seed()], webp_fields());
}

/// The ImageFolder path end to end: scanning, verification and `get`, with a mutated image
/// among valid ones and the policy that turns a bad file into an error.
#[test]
fn fuzz_image_folder() {
    let dir = temp_dir();
    let root = dir.path().to_path_buf();
    for class in ["cat", "dog"] {
        std::fs::create_dir_all(root.join(class)).unwrap();
    }
    std::fs::write(root.join("dog/valid.png"), &png_seeds()[0]).unwrap();
    let mut seeds = png_seeds();
    seeds.push(jpeg_seed());
    let mut fields = png_fields();
    fields.extend(jpeg_fields(&jpeg_seed()));
    let folder = root.clone();
    let target = target(
        "image_folder",
        &root.join("cat"),
        "fuzzed.png",
        seeds,
        Mutator::binary(fields),
        IMAGE_BOUND,
        move |_path| {
            let config = ImageFolderConfig::new(folder.clone())
                .with_corrupt_images(CorruptImagePolicy::Error)
                .with_verify(true);
            let images = config.init().map_err(file_error)?;
            for index in 0..burn::data::dataset::Dataset::len(&images) {
                burn::data::dataset::Dataset::get(&images, index).map_err(file_error)?;
            }
            Ok(())
        },
    );
    run(&target);
}

// ---------------------------------------------------------------------------------------------
// Corrupted test sets.

/// A CIFAR-10-C folder of two images per severity: `labels.npy` `[10]` and
/// `gaussian_noise.npy` `[10, 4, 4, 3]`.
fn cifar_c_folder(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let labels: Vec<u8> = (0..10).map(|i| i % 10).collect();
    let labels = encode_npy_u8(&[10], &labels);
    let pixels: Vec<u8> = (0..10 * 4 * 4 * 3).map(|i| (i * 13) as u8).collect();
    let images = encode_npy_u8(&[10, 4, 4, 3], &pixels);
    std::fs::write(dir.join("labels.npy"), &labels).unwrap();
    std::fs::write(dir.join("gaussian_noise.npy"), &images).unwrap();
    (labels, images)
}

/// A version-2 `.npy` file (4-byte header length) holding the same array.
fn npy_version2(version1: &[u8]) -> Vec<u8> {
    let header_len = u16::from_le_bytes([version1[8], version1[9]]) as usize;
    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
    bytes.extend((header_len as u32).to_le_bytes());
    bytes.extend(&version1[10..]);
    bytes
}

fn read_cifar_c(dir: &Path) -> Result<(), Rejected> {
    let folder = CifarC::open(dir).map_err(file_error)?;
    let corruption = folder
        .corruption(Corruption::GaussianNoise)
        .map_err(file_error)?;
    for severity in Severity::ALL {
        let cell = corruption.severity(severity);
        for index in 0..burn::data::dataset::Dataset::len(&cell) {
            burn::data::dataset::Dataset::get(&cell, index).map_err(item_error)?;
        }
    }
    Ok(())
}

#[test]
fn fuzz_cifar_c_images_npy() {
    let dir = temp_dir();
    let (_, images) = cifar_c_folder(dir.path());
    let seeds = vec![images.clone(), npy_version2(&images)];
    let fields = vec![Field::le(6, 1), Field::le(8, 2), Field::le(8, 4)];
    let root = dir.path().to_path_buf();
    let mut mutator = Mutator::binary(fields);
    mutator.text = true;
    let target = target(
        "cifar_c_images_npy",
        dir.path(),
        "gaussian_noise.npy",
        seeds,
        mutator,
        SMALL_FILE_BOUND,
        move |_path| read_cifar_c(&root),
    );
    run(&target);
}

#[test]
fn fuzz_cifar_c_labels_npy() {
    let dir = temp_dir();
    let (labels, _) = cifar_c_folder(dir.path());
    let seeds = vec![labels.clone(), npy_version2(&labels)];
    let mut mutator = Mutator::binary(vec![Field::le(6, 1), Field::le(8, 2), Field::le(8, 4)]);
    mutator.text = true;
    let root = dir.path().to_path_buf();
    let target = target(
        "cifar_c_labels_npy",
        dir.path(),
        "labels.npy",
        seeds,
        mutator,
        SMALL_FILE_BOUND,
        move |_path| read_cifar_c(&root),
    );
    run(&target);
}

fn read_imagenet_c(root: &Path) -> Result<(), Rejected> {
    let tree = ImageNetCFolder::open(root).map_err(file_error)?;
    for &(corruption, severity) in tree.cells() {
        let cell = tree.cell(corruption, severity).map_err(file_error)?;
        for index in 0..burn::data::dataset::Dataset::len(&cell) {
            burn::data::dataset::Dataset::get(&cell, index).map_err(file_error)?;
        }
    }
    Ok(())
}

/// An ImageNet-C tree with one mutated JPEG among valid ones.
#[test]
fn fuzz_imagenet_c_tree_images() {
    let dir = temp_dir();
    let root = dir.path().to_path_buf();
    let cell = root.join("gaussian_noise").join("3");
    for class in ["n01440764", "n01443537"] {
        std::fs::create_dir_all(cell.join(class)).unwrap();
        std::fs::create_dir_all(root.join("contrast/1").join(class)).unwrap();
        std::fs::write(
            root.join("contrast/1").join(class).join("a.JPEG"),
            jpeg_seed(),
        )
        .unwrap();
    }
    std::fs::write(cell.join("n01443537/b.JPEG"), jpeg_seed()).unwrap();
    let seed = jpeg_seed();
    let fields = jpeg_fields(&seed);
    let tree = root.clone();
    let target = target(
        "imagenet_c_tree",
        &cell.join("n01440764"),
        "ILSVRC2012_val_00000001.JPEG",
        vec![seed, png_seeds()[0].clone()],
        Mutator::binary(fields),
        IMAGE_BOUND,
        move |_path| read_imagenet_c(&tree),
    );
    run(&target);
}

/// Tree shapes a user's disk may hold: severities outside 1..=5, files where folders belong,
/// an empty cell, a class that only one cell has, a non-image file, a dangling symbolic link.
/// Each is read as a value or an error naming the path, never a panic.
#[test]
fn odd_imagenet_c_trees_are_read_or_refused_by_path() {
    let dir = temp_dir();
    let root = dir.path();
    let jpeg = jpeg_seed();
    let write = |relative: &str, bytes: &[u8]| {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    write("gaussian_noise/1/cat/a.jpg", &jpeg);
    write("gaussian_noise/6/cat/a.jpg", &jpeg);
    write("gaussian_noise/0/cat/a.jpg", &jpeg);
    write("gaussian_noise/99999999999999999999/cat/a.jpg", &jpeg);
    write("not_a_corruption/1/cat/a.jpg", &jpeg);
    write("contrast/2", b"a file where a severity folder belongs");
    std::fs::create_dir_all(root.join("fog/3")).unwrap();
    write("frost/4/cat/notes.txt", b"not an image");
    std::os::unix::fs::symlink(
        root.join("nowhere"),
        root.join("gaussian_noise/1/cat/link.jpg"),
    )
    .unwrap();

    let tree = ImageNetCFolder::open(root).unwrap();
    let cells: Vec<(Corruption, u8)> = tree.cells().iter().map(|(c, s)| (*c, s.get())).collect();
    // Only severities 1..=5 with class folders count; `fog/3` is empty, `contrast/2` a file.
    assert_eq!(
        cells,
        [(Corruption::GaussianNoise, 1), (Corruption::Frost, 4)]
    );
    let error = read_imagenet_c(root).unwrap_err();
    let Rejected::File(message) = error else {
        unreachable!()
    };
    assert!(message.contains(&root.display().to_string()), "{message}");

    // A class folder the first cell does not have is refused by path.
    write("glass_blur/5/dog/a.jpg", &jpeg);
    let tree = ImageNetCFolder::open(root).unwrap();
    let severity = Severity::new(5).unwrap();
    let error = tree
        .cell(Corruption::GlassBlur, severity)
        .unwrap_err()
        .to_string();
    assert!(error.contains("glass_blur/5/dog"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Model weights and checkpoints.

#[test]
fn fuzz_safetensors_resnet() {
    let dir = temp_dir();
    let path = dir.path().join("encoder.safetensors");
    let model = tiny_resnet();
    model.save_safetensors(&path).unwrap();
    let seed = std::fs::read(&path).unwrap();
    let mut mutator = Mutator::binary(vec![Field::le(0, 8), Field::le(0, 4)]);
    mutator.text = true; // the header is JSON
    let target = target(
        "safetensors_resnet",
        dir.path(),
        "encoder.safetensors",
        vec![seed],
        mutator,
        SMALL_FILE_BOUND,
        move |path| {
            model
                .clone()
                .load_safetensors(path, &LoadOptions::strict())
                .map(|_| ())
                .map_err(file_error)
        },
    );
    run(&target);
}

/// The first look `cargo xtask robustness` takes at a weight file: its class count.
#[test]
fn fuzz_safetensors_class_count() {
    let dir = temp_dir();
    let path = dir.path().join("model.safetensors");
    let classifier = ClassifierModel::from_encoder(tiny_resnet(), 10, &device());
    classifier.save_safetensors(&path).unwrap();
    let ours = std::fs::read(&path).unwrap();
    classifier.save_torchvision(&path).unwrap();
    let torchvision = std::fs::read(&path).unwrap();
    let mut mutator = Mutator::binary(vec![Field::le(0, 8), Field::le(0, 4)]);
    mutator.text = true;
    let target = target(
        "safetensors_class_count",
        dir.path(),
        "model.safetensors",
        vec![ours, torchvision],
        mutator,
        SMALL_FILE_BOUND,
        |path| {
            let (classes, _) = xtask::robustness::classifier_classes(path)
                .map_err(|e| Rejected::File(format!("{e:#}")))?;
            // The count must come from a validated file: it sizes the classifier to build.
            let size = std::fs::metadata(path).unwrap().len() as usize;
            assert!(classes <= size, "{classes} classes from a {size}-byte file");
            Ok(())
        },
    );
    run(&target);
}

fn tiny_classifier() -> LinearClassifier {
    LinearClassifierConfig::new(8, 3).init(&device())
}

fn record_bytes(module: &LinearClassifier) -> Vec<u8> {
    module.clone().into_record().into_bytes().unwrap().to_vec()
}

/// Loads a Burn record as a resumed run does (bytes from a checkpoint into the model).
fn load_record(bytes: Vec<u8>, path: &Path) -> Result<(), Rejected> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| Rejected::File(format!("{}: not a Burn record ({e})", path.display())))?;
    tiny_classifier()
        .try_load_record(record)
        .map(|_| ())
        .map_err(|e| Rejected::File(format!("{}: does not fit ({e})", path.display())))
}

fn position(step: usize) -> TrainingPosition {
    TrainingPosition {
        stage: "supcon".into(),
        step,
        epoch: 0,
        batch: step,
        seed: 1,
        best_val_accuracy: None,
        best_epoch: None,
        metrics_bytes: 0,
        epoch_sums: Default::default(),
    }
}

/// FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3), the checkpoint hash.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A damaged manifest: the checkpoint is refused naming its folder, or opens and loads.
#[test]
fn fuzz_checkpoint_manifest() {
    let dir = temp_dir();
    let store = CheckpointStore::new(dir.path(), 2);
    let payload = record_bytes(&tiny_classifier());
    let checkpoint = store
        .save(
            &position(4),
            &serde_json::json!({"lr": 0.1}),
            &[("model.bpk", &payload)],
        )
        .unwrap();
    let seed = std::fs::read(checkpoint.join("manifest.json")).unwrap();
    let folder = checkpoint.clone();
    let mut target = target(
        "checkpoint_manifest",
        &checkpoint,
        "manifest.json",
        vec![seed],
        Mutator::text(),
        SMALL_FILE_BOUND,
        move |_path| {
            let opened = open_checkpoint(&folder).map_err(file_error)?;
            let bytes = opened.read("model.bpk").map_err(file_error)?;
            load_record(bytes, &folder.join("model.bpk"))
        },
    );
    target.must_name = Some(checkpoint.clone());
    run(&target);
}

/// A damaged model record whose manifest entry matches it (a file written wrong but hashed
/// after, or taken from another build): loading it is an error, never a panic.
#[test]
fn fuzz_checkpoint_record() {
    let dir = temp_dir();
    let store = CheckpointStore::new(dir.path(), 2);
    let payload = record_bytes(&tiny_classifier());
    let checkpoint = store
        .save(
            &position(4),
            &serde_json::json!({}),
            &[("model.bpk", &payload)],
        )
        .unwrap();
    let manifest_path = checkpoint.join("manifest.json");
    let manifest: Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let folder = checkpoint.clone();
    let mut target = target(
        "checkpoint_record",
        &checkpoint,
        "model.bpk",
        vec![payload],
        Mutator::binary(vec![Field::le(0, 4), Field::le(4, 4), Field::le(8, 8)]),
        SMALL_FILE_BOUND,
        move |path| {
            let bytes = std::fs::read(path).unwrap();
            let mut manifest = manifest.clone();
            manifest["files"][0]["bytes"] = bytes.len().into();
            manifest["files"][0]["fnv1a64"] = format!("{:016x}", fnv1a64(&bytes)).into();
            std::fs::write(folder.join("manifest.json"), manifest.to_string()).unwrap();
            let opened = open_checkpoint(&folder).map_err(file_error)?;
            load_record(opened.read("model.bpk").map_err(file_error)?, path)
        },
    );
    target.must_name = Some(checkpoint.clone());
    run(&target);
}

#[test]
fn fuzz_metrics_jsonl() {
    let dir = temp_dir();
    let path = dir.path().join("metrics.jsonl");
    let seed = concat!(
        r#"{"kind":"step","stage":"supcon","step":0,"epoch":0,"batch":0,"loss":5.25,"lr":0.5,"images_per_sec":120.5}"#,
        "\n",
        r#"{"kind":"step","stage":"supcon","step":1,"epoch":0,"batch":1,"loss":5.0,"classifier_loss":2.3,"lr":0.5,"images_per_sec":121.0}"#,
        "\n",
        r#"{"kind":"epoch","stage":"linear_probe","epoch":0,"step":2,"loss":4.9,"train_acc":0.25,"lr":0.5,"images_per_sec":100.0,"val_acc":0.5,"seconds":1.5}"#,
        "\n"
    );
    let target = target(
        "metrics_jsonl",
        dir.path(),
        "metrics.jsonl",
        vec![seed.as_bytes().to_vec()],
        Mutator::text(),
        SMALL_FILE_BOUND,
        |path| read_metrics(path).map(|_| ()).map_err(file_error),
    );
    assert_eq!(read_metrics(&path).map(|r| r.len()).unwrap_or(3), 3);
    run(&target);
}

// ---------------------------------------------------------------------------------------------
// Configurations.

fn preset_seeds() -> Vec<Vec<u8>> {
    let dir = xtask::config::configs_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| p.file_stem().is_some_and(|s| s != "quick"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 5, "the presets in {}", dir.display());
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn fuzz_preset_json() {
    let dir = temp_dir();
    let target = target(
        "preset_json",
        dir.path(),
        "preset.json",
        preset_seeds(),
        Mutator::text(),
        SMALL_FILE_BOUND,
        |path| {
            xtask::config::load_file(path)
                .map(|_| ())
                .map_err(|e| Rejected::File(format!("{e:#}")))
        },
    );
    run(&target);
}

/// The configuration recorded in a run folder, read back when the run resumes.
#[test]
fn fuzz_recorded_run_config() {
    let dir = temp_dir();
    let run_dir = xtask::run_dir::RunDir::create(dir.path()).unwrap();
    let config: Value = serde_json::from_slice(&preset_seeds()[0]).unwrap();
    let seed = serde_json::to_vec_pretty(&config).unwrap();
    let mut target = target(
        "recorded_run_config",
        dir.path(),
        "config.json",
        vec![seed],
        Mutator::text(),
        SMALL_FILE_BOUND,
        move |_path| {
            run_dir
                .record_config(&config)
                .map_err(|e| Rejected::File(format!("{e:#}")))
        },
    );
    // A refused configuration is reported against the run folder it belongs to.
    target.must_name = Some(dir.path().to_path_buf());
    run(&target);
}

/// One `reproduce` argument list's configuration error, or a panic when it resolves.
fn config_error(extra: &[&str]) -> String {
    use clap::Parser;
    let args: Vec<&str> = ["xtask", "reproduce", "synthetic"]
        .iter()
        .chain(extra)
        .copied()
        .collect();
    let cli = xtask::Cli::parse_from(args);
    let xtask::Command::Reproduce(args) = cli.command else {
        unreachable!()
    };
    match xtask::config::resolve(&args) {
        Ok(_) => panic!("{extra:?} resolved, but it must be refused"),
        Err(e) => format!("{e:#}"),
    }
}

/// Every hostile setting is refused by `resolve` (which runs before any dataset, device or
/// output folder is touched), with the key and what it accepts. The expected phrases are the
/// allowed ranges the configuration documents (`StudyConfig` field docs).
#[test]
fn hostile_settings_name_the_key_and_the_allowed_range() {
    let cases: [(&str, &[&str]); 14] = [
        (
            "supcon.schedule.base_learning_rate=-0.1",
            &["supcon.schedule.base_learning_rate", "> 0"],
        ),
        (
            "linear.schedule.base_learning_rate=0",
            &["linear.schedule.base_learning_rate", "> 0"],
        ),
        ("supcon.batch_size=0", &["supcon.batch_size", ">= 2"]),
        (
            "cross_entropy.batch_size=0",
            &["cross_entropy.batch_size", ">= 1"],
        ),
        (
            "supcon.loss.temperature=0",
            &["supcon.loss.temperature", "> 0"],
        ),
        (
            "supcon.loss.temperature=-1",
            &["supcon.loss.temperature", "> 0"],
        ),
        (
            "evaluation.severities=[1,6]",
            &["evaluation.severities", "1..=5"],
        ),
        (
            "evaluation.severities=[0]",
            &["evaluation.severities", "1..=5"],
        ),
        (
            "model.depth=19",
            &["model.depth", "18, 34, 50, 101, 152, 200"],
        ),
        (
            "model.depth=0",
            &["model.depth", "18, 34, 50, 101, 152, 200"],
        ),
        ("supcon.epochs=0", &["supcon.epochs", ">= 1"]),
        (
            "model.width_multiplier=0",
            &["model.width_multiplier", "<= value <="],
        ),
        (
            "cross_entropy.label_smoothing=1",
            &["cross_entropy.label_smoothing", "< 1"],
        ),
        ("checkpoint.keep_last=0", &["checkpoint.keep_last", ">= 1"]),
    ];
    for (assignment, phrases) in cases {
        let error = config_error(&["--set", assignment]);
        for phrase in phrases {
            assert!(
                error.contains(phrase),
                "--set {assignment}: {phrase:?} missing from: {error}"
            );
        }
    }
}

#[test]
fn unknown_keys_and_wrong_types_are_named() {
    let error = config_error(&["--set", "supcon.temprature=0.1"]);
    assert!(
        error.contains("supcon.temprature") && error.contains("supcon.loss.temperature"),
        "{error}"
    );
    let error = config_error(&["--set", "supcon.batch_size=\"big\""]);
    assert!(
        error.contains("supcon.batch_size") && error.contains("number"),
        "{error}"
    );
    let error = config_error(&["--set", "supcon.epochs=-3"]);
    assert!(error.contains("supcon.epochs"), "{error}");
    let error = config_error(&["--set", "evaluation.corruptions=[\"fogg\"]"]);
    assert!(error.contains("fogg"), "{error}");

    // The same checks apply to a whole file given with --config: an unknown key and a value
    // out of range each name the key and the file.
    let dir = temp_dir();
    let mut preset: Value = serde_json::from_slice(&preset_seeds()[0]).unwrap();
    preset["supcon"]["loss"]["temperture"] = 0.1.into();
    let path = dir.path().join("typo.json");
    std::fs::write(&path, preset.to_string()).unwrap();
    let error = format!("{:#}", xtask::config::load_file(&path).unwrap_err());
    assert!(
        error.contains("supcon.loss.temperture") && error.contains("typo.json"),
        "{error}"
    );

    let mut preset: Value = serde_json::from_slice(&preset_seeds()[0]).unwrap();
    preset["evaluation"]["severities"] = serde_json::json!([6]);
    let path = dir.path().join("severity.json");
    std::fs::write(&path, preset.to_string()).unwrap();
    let error = format!("{:#}", xtask::config::load_file(&path).unwrap_err());
    assert!(
        error.contains("evaluation.severities") && error.contains("1..=5"),
        "{error}"
    );
    assert!(error.contains("severity.json"), "{error}");

    let path = dir.path().join("array.json");
    std::fs::write(&path, "[1, 2]").unwrap();
    let error = format!("{:#}", xtask::config::load_file(&path).unwrap_err());
    assert!(error.contains("array.json"), "{error}");
}
