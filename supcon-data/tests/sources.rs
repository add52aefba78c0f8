//! Sources on real files: CIFAR binary layouts, ImageFolder trees, and every kind of bad input.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use burn::data::dataset::Dataset;
use image::{ImageBuffer, Rgb, RgbImage};
use supcon_data::{
    Cifar100Labels, CifarDataset, CorruptImagePolicy, DataError, ImageFolderConfig, ImageSource,
    SizeCheck, Split, SyntheticConfig, CIFAR10_CLASSES,
};

/// Log lines captured by the test logger (all tests of this binary share it).
static LOG_LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct CaptureLogger;

impl log::Log for CaptureLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            LOG_LINES.lock().unwrap().push(format!("{}", record.args()));
        }
    }
    fn flush(&self) {}
}

fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        log::set_logger(&CaptureLogger).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Warn);
    });
}

fn logged(fragment: &str) -> bool {
    LOG_LINES
        .lock()
        .unwrap()
        .iter()
        .any(|line| line.contains(fragment))
}

// ---------------------------------------------------------------- CIFAR

/// One CIFAR-10 record: the label byte, then the planes; pixel (x, y) of channel c holds
/// `(label + c * 50 + x + y) mod 256`.
fn cifar10_record(label: u8) -> Vec<u8> {
    let mut record = vec![label];
    for c in 0..3u32 {
        for y in 0..32u32 {
            for x in 0..32u32 {
                record.push(((label as u32 + c * 50 + x + y) % 256) as u8);
            }
        }
    }
    record
}

#[test]
fn cifar10_reads_an_official_size_test_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::with_capacity(10_000 * 3073);
    for i in 0..10_000 {
        bytes.extend(cifar10_record((i % 10) as u8));
    }
    std::fs::write(dir.path().join("test_batch.bin"), &bytes).unwrap();

    let dataset = CifarDataset::cifar10(dir.path(), Split::Test).unwrap();
    assert_eq!(dataset.len(), 10_000);
    assert_eq!(dataset.num_classes(), 10);
    assert_eq!(dataset.class_names()[3], CIFAR10_CLASSES[3]);
    let item = dataset.get(1237).unwrap();
    assert_eq!(item.label, 7);
    // Pixel (x = 5, y = 2): red 7 + 7 = 14, green 64, blue 114.
    assert_eq!(item.image.get_pixel(5, 2).0, [14, 64, 114]);
}

#[test]
fn cifar10_missing_files_list_the_expected_layout() {
    let dir = tempfile::tempdir().unwrap();
    let error = CifarDataset::cifar10(dir.path(), Split::Train).unwrap_err();
    assert!(matches!(error, DataError::MissingFile { .. }), "{error}");
    let message = error.to_string();
    for file in [
        "data_batch_1.bin",
        "data_batch_5.bin",
        "test_batch.bin",
        "30730000 bytes",
    ] {
        assert!(message.contains(file), "{message} should mention {file}");
    }
}

#[test]
fn cifar_files_of_the_wrong_size_are_rejected_with_the_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test_batch.bin");
    std::fs::write(&path, vec![0u8; 3073 * 3 + 5]).unwrap();
    let error = CifarDataset::cifar10(dir.path(), Split::Test).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, DataError::WrongFileSize { actual: 9224, .. }),
        "{message}"
    );
    assert!(
        message.contains("test_batch.bin") && message.contains("30730000"),
        "{message}"
    );

    // Whole-record checking still refuses a partial record.
    let error = CifarDataset::cifar10_with(dir.path(), Split::Test, SizeCheck::WholeRecords);
    assert!(matches!(error, Err(DataError::WrongFileSize { .. })));

    // CIFAR-100's train file must hold 50000 records of 3074 bytes.
    std::fs::write(dir.path().join("train.bin"), vec![0u8; 3074 * 2]).unwrap();
    let message = CifarDataset::cifar100(dir.path(), Split::Train, Cifar100Labels::Fine)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("153700000") && message.contains("test.bin"),
        "{message}"
    );
}

#[test]
fn cifar100_reads_fine_or_coarse_labels_from_a_nested_folder() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("cifar-100-binary");
    std::fs::create_dir(&nested).unwrap();
    let mut bytes = Vec::new();
    for (coarse, fine) in [(4u8, 0u8), (19, 99)] {
        bytes.extend([coarse, fine]);
        bytes.extend(std::iter::repeat_n(fine, 3072));
    }
    std::fs::write(nested.join("test.bin"), &bytes).unwrap();

    let open = |labels| {
        CifarDataset::cifar100_with(dir.path(), Split::Test, labels, SizeCheck::WholeRecords)
            .unwrap()
    };
    let fine = open(Cifar100Labels::Fine);
    assert_eq!((fine.len(), fine.num_classes()), (2, 100));
    assert_eq!(fine.get(1).unwrap().label, 99);
    assert_eq!(fine.class_names()[99], "worm");
    assert_eq!(fine.get(1).unwrap().image.get_pixel(31, 31).0, [99, 99, 99]);
    let coarse = open(Cifar100Labels::Coarse);
    assert_eq!(coarse.num_classes(), 20);
    assert_eq!(coarse.get(0).unwrap().label, 4);
    assert_eq!(coarse.class_names()[4], "fruit_and_vegetables");
}

#[test]
fn cifar_labels_outside_the_classes_are_rejected_at_open_naming_file_and_record() {
    let dir = tempfile::tempdir().unwrap();
    // Three records of data_batch_2.bin, the middle one labelled 10 (CIFAR-10 has 0..=9).
    let write_batches = |bad: u8| {
        for i in 1..=5 {
            let labels = if i == 2 { [3, bad, 9] } else { [0, 1, 2] };
            let bytes: Vec<u8> = labels.into_iter().flat_map(cifar10_record).collect();
            std::fs::write(dir.path().join(format!("data_batch_{i}.bin")), bytes).unwrap();
        }
    };
    write_batches(10);
    let error =
        CifarDataset::cifar10_with(dir.path(), Split::Train, SizeCheck::WholeRecords).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(
            error,
            DataError::LabelOutOfRange {
                record: 1,
                label: 10,
                num_classes: 10,
                ..
            }
        ),
        "{message}"
    );
    assert!(
        message.contains("data_batch_2.bin") && message.contains("record 1 "),
        "{message}"
    );
    // The same files with a valid label open, with every record.
    write_batches(9);
    let dataset =
        CifarDataset::cifar10_with(dir.path(), Split::Train, SizeCheck::WholeRecords).unwrap();
    assert_eq!(dataset.len(), 15);
    assert_eq!(dataset.get(4).unwrap().label, 9);

    // CIFAR-100 checks the label in use: fine label 99 is valid, coarse label 20 is not.
    let mut bytes = vec![20u8, 99];
    bytes.extend(std::iter::repeat_n(0u8, 3072));
    std::fs::write(dir.path().join("test.bin"), &bytes).unwrap();
    let open = |labels| {
        CifarDataset::cifar100_with(dir.path(), Split::Test, labels, SizeCheck::WholeRecords)
    };
    assert_eq!(
        open(Cifar100Labels::Fine).unwrap().get(0).unwrap().label,
        99
    );
    let message = open(Cifar100Labels::Coarse).unwrap_err().to_string();
    assert!(
        message.contains("test.bin") && message.contains("label 20, outside the 20 classes"),
        "{message}"
    );
}

// ---------------------------------------------------------------- ImageFolder

fn save(image: &RgbImage, path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image.save(path).unwrap();
}

fn solid(value: u8) -> RgbImage {
    RgbImage::from_pixel(6, 5, Rgb([value, value / 2, 255 - value]))
}

#[test]
fn image_folder_sorts_classes_and_files_and_reads_all_extensions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    save(&solid(10), &root.join("zebra/b.PNG"));
    save(&solid(20), &root.join("zebra/a.jpg"));
    save(&solid(30), &root.join("apple/nested/x.Bmp"));
    save(&solid(40), &root.join("apple/y.JPEG"));
    std::fs::write(root.join("apple/notes.txt"), "not an image").unwrap();
    std::fs::write(root.join("README"), "a file at the root is not a class").unwrap();

    let folder = ImageFolderConfig::new(root.to_path_buf()).init().unwrap();
    assert_eq!(folder.class_names(), ["apple", "zebra"]);
    assert_eq!(folder.len(), 4);
    let files: Vec<(String, usize)> = (0..4)
        .map(|i| {
            let (path, label) = folder.sample(i);
            (
                path.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                label,
            )
        })
        .collect();
    let expected = [
        ("apple/nested/x.Bmp", 0),
        ("apple/y.JPEG", 0),
        ("zebra/a.jpg", 1),
        ("zebra/b.PNG", 1),
    ];
    for ((path, label), (want_path, want_label)) in files.iter().zip(expected) {
        assert_eq!((path.as_str(), *label), (want_path, want_label));
    }
    // The PNG decodes exactly.
    assert_eq!(folder.get(3).unwrap().image, solid(10));
}

#[test]
fn image_folder_honours_allowed_classes_and_the_per_class_limit() {
    let dir = tempfile::tempdir().unwrap();
    for class in ["a", "b", "c"] {
        for i in 0..4 {
            save(&solid(i * 10), &dir.path().join(format!("{class}/{i}.png")));
        }
    }
    let folder = ImageFolderConfig::new(dir.path().to_path_buf())
        .with_classes(Some(vec!["c".into(), "a".into()]))
        .with_max_per_class(Some(3))
        .init()
        .unwrap();
    assert_eq!(folder.class_names(), ["a", "c"]);
    assert_eq!(folder.len(), 6);
    assert_eq!(folder.sample(5).1, 1);
    assert!(folder.sample(2).0.ends_with("a/2.png"));

    let error = ImageFolderConfig::new(dir.path().to_path_buf())
        .with_classes(Some(vec!["d".into()]))
        .init()
        .unwrap_err();
    assert!(matches!(error, DataError::UnknownClass { .. }), "{error}");
}

#[test]
fn a_root_without_class_folders_is_an_error_naming_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    save(&solid(1), &dir.path().join("loose.png"));
    let error = ImageFolderConfig::new(dir.path().to_path_buf())
        .init()
        .unwrap_err();
    assert!(matches!(error, DataError::NoClassFolders { .. }), "{error}");
    assert!(
        error.to_string().contains("<root>/<class>/<image>"),
        "{error}"
    );

    let missing = dir.path().join("does-not-exist");
    let error = ImageFolderConfig::new(missing.clone()).init().unwrap_err();
    assert!(
        error.to_string().contains(&missing.display().to_string()),
        "{error}"
    );
}

#[test]
fn an_empty_class_folder_is_skipped_with_a_warning_and_keeps_its_label() {
    capture_logs();
    let dir = tempfile::tempdir().unwrap();
    save(&solid(1), &dir.path().join("ant/1.png"));
    std::fs::create_dir_all(dir.path().join("bee-empty")).unwrap();
    save(&solid(2), &dir.path().join("cat/1.png"));

    let folder = ImageFolderConfig::new(dir.path().to_path_buf())
        .init()
        .unwrap();
    assert_eq!(folder.class_names(), ["ant", "bee-empty", "cat"]);
    assert_eq!(folder.len(), 2);
    assert_eq!(folder.get(1).unwrap().label, 2);
    assert!(
        logged("bee-empty"),
        "no warning names the empty class folder"
    );
}

/// A tree with two good images and two bad ones (garbage bytes and a truncated PNG) in one class.
fn tree_with_bad_images() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("only");
    save(&solid(50), &class.join("a_good.png"));
    let garbage = class.join("b_garbage.jpg");
    std::fs::write(&garbage, b"this is not a jpeg at all").unwrap();
    let big = RgbImage::from_fn(64, 64, |x, y| {
        Rgb([x as u8 * 3, y as u8 * 3, (x ^ y) as u8])
    });
    save(&big, &class.join("full.png"));
    let bytes = std::fs::read(class.join("full.png")).unwrap();
    std::fs::remove_file(class.join("full.png")).unwrap();
    let truncated = class.join("c_truncated.png");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    save(&solid(90), &class.join("d_good.png"));
    (dir, garbage, truncated)
}

#[test]
fn corrupt_images_are_skipped_with_a_warning_and_counted_by_default() {
    capture_logs();
    let (dir, garbage, truncated) = tree_with_bad_images();
    let folder = ImageFolderConfig::new(dir.path().to_path_buf())
        .init()
        .unwrap();
    assert_eq!(folder.len(), 4);
    // Index 1 (garbage) and 2 (truncated) fall through to the next good image, index 3.
    assert_eq!(folder.get(1).unwrap().image, solid(90));
    assert_eq!(folder.get(2).unwrap().image, solid(90));
    assert_eq!(folder.num_skipped(), 2);
    assert_eq!(
        folder.skipped_files(),
        vec![garbage.clone(), truncated.clone()]
    );
    assert!(
        logged("b_garbage.jpg") && logged("c_truncated.png"),
        "warnings name the files"
    );

    // Verification removes them up front.
    let verified = ImageFolderConfig::new(dir.path().to_path_buf())
        .with_verify(true)
        .init()
        .unwrap();
    assert_eq!(verified.len(), 2);
    assert_eq!(verified.num_skipped(), 2);
}

#[test]
fn corrupt_images_are_errors_naming_the_file_in_strict_mode() {
    let (dir, garbage, truncated) = tree_with_bad_images();
    let folder = ImageFolderConfig::new(dir.path().to_path_buf())
        .with_corrupt_images(CorruptImagePolicy::Error)
        .init()
        .unwrap();
    assert!(folder.get(0).is_ok());
    for (index, path) in [(1, garbage), (2, truncated)] {
        let message = folder.get(index).unwrap_err().to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
    let error = ImageFolderConfig::new(dir.path().to_path_buf())
        .with_corrupt_images(CorruptImagePolicy::Error)
        .with_verify(true)
        .init()
        .unwrap_err();
    assert!(matches!(error, DataError::DecodeImage { .. }), "{error}");
}

#[test]
fn grayscale_sixteen_bit_and_alpha_images_become_rgb8() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("mixed");
    std::fs::create_dir_all(&class).unwrap();
    image::GrayImage::from_pixel(3, 2, image::Luma([77]))
        .save(class.join("a_gray.png"))
        .unwrap();
    let deep: ImageBuffer<Rgb<u16>, Vec<u16>> =
        ImageBuffer::from_pixel(3, 2, Rgb([65535, 32896, 0]));
    deep.save(class.join("b_deep.png")).unwrap();
    image::RgbaImage::from_pixel(3, 2, image::Rgba([10, 20, 30, 0]))
        .save(class.join("c_alpha.png"))
        .unwrap();
    let gray16: ImageBuffer<image::Luma<u16>, Vec<u16>> =
        ImageBuffer::from_pixel(3, 2, image::Luma([257 * 200]));
    gray16.save(class.join("d_gray16.png")).unwrap();

    let folder = ImageFolderConfig::new(dir.path().to_path_buf())
        .init()
        .unwrap();
    let pixel = |i: usize| folder.get(i).unwrap().image.get_pixel(2, 1).0;
    assert_eq!(pixel(0), [77, 77, 77]);
    // 16-bit values scale by 255 / 65535: 32896 -> 128.
    assert_eq!(pixel(1), [255, 128, 0]);
    // Alpha is dropped, the colour kept (as PIL's convert("RGB")).
    assert_eq!(pixel(2), [10, 20, 30]);
    assert_eq!(pixel(3), [200, 200, 200]);
}

// ---------------------------------------------------------------- synthetic

#[test]
fn synthetic_data_is_deterministic_balanced_and_split_by_seed() {
    let config = SyntheticConfig::new()
        .with_num_classes(5)
        .with_samples_per_class(4);
    let train = config.init(Split::Train).unwrap();
    let again = config.init(Split::Train).unwrap();
    let test = config.init(Split::Test).unwrap();
    let other_seed = config.clone().with_seed(1).init(Split::Train).unwrap();
    assert_eq!(train.len(), 20);
    assert_eq!(train.num_classes(), 5);

    let mut counts = [0; 5];
    for i in 0..train.len() {
        let item = train.get(i).unwrap();
        counts[item.label] += 1;
        assert_eq!(item.image.dimensions(), (32, 32));
        assert_eq!(
            item,
            again.get(i).unwrap(),
            "sample {i} is not reproducible"
        );
        assert_ne!(
            item.image,
            test.get(i).unwrap().image,
            "train and test share sample {i}"
        );
        assert_ne!(
            item.image,
            other_seed.get(i).unwrap().image,
            "seed has no effect on {i}"
        );
    }
    assert_eq!(counts, [4; 5]);
}

#[test]
fn synthetic_images_are_not_flat() {
    // Every image has a drawn shape over a background: many distinct colours, not one.
    let train = SyntheticConfig::new()
        .with_image_size(24)
        .init(Split::Train)
        .unwrap();
    for i in 0..50 {
        let image = train.get(i).unwrap().image;
        let mut values: Vec<[u8; 3]> = image.pixels().map(|p| p.0).collect();
        values.sort_unstable();
        values.dedup();
        assert!(
            values.len() > 20,
            "sample {i} has only {} colours",
            values.len()
        );
    }
}
