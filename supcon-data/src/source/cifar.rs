//! CIFAR-10 and CIFAR-100 in their official binary format.
//!
//! CIFAR-10 (`cifar-10-batches-bin/`): `data_batch_1.bin` .. `data_batch_5.bin` (train) and
//! `test_batch.bin`, each 10000 records of 3073 bytes: one label byte, then the 32x32 image as
//! 1024 red, 1024 green and 1024 blue bytes in row-major order.
//! CIFAR-100 (`cifar-100-binary/`): `train.bin` (50000 records) and `test.bin` (10000), records
//! of 3074 bytes: the coarse label byte, the fine label byte, then the image as above.

use std::path::{Path, PathBuf};

use burn::data::dataset::{Dataset, DatasetError};
use image::RgbImage;

use crate::{DataError, ImageSource, LabeledImage, Split};

/// Side of a CIFAR image in pixels.
pub const CIFAR_IMAGE_SIZE: u32 = 32;
/// Bytes of one CIFAR image (3 planes of 32x32).
const IMAGE_BYTES: usize = 3 * 32 * 32;
/// Records in each official CIFAR-10 batch file and in the CIFAR test files.
const RECORDS_PER_BATCH: u64 = 10_000;

/// The CIFAR-10 class names, indexed by label (as in `batches.meta.txt`).
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// The CIFAR-100 fine class names, indexed by fine label (as in `fine_label_names.txt`).
pub const CIFAR100_FINE_CLASSES: [&str; 100] = [
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
];

/// The CIFAR-100 coarse (superclass) names, indexed by coarse label.
pub const CIFAR100_COARSE_CLASSES: [&str; 20] = [
    "aquatic_mammals",
    "fish",
    "flowers",
    "food_containers",
    "fruit_and_vegetables",
    "household_electrical_devices",
    "household_furniture",
    "insects",
    "large_carnivores",
    "large_man-made_outdoor_things",
    "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores",
    "medium_mammals",
    "non-insect_invertebrates",
    "people",
    "reptiles",
    "small_mammals",
    "trees",
    "vehicles_1",
    "vehicles_2",
];

/// Which CIFAR-100 label a sample carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Cifar100Labels {
    /// The 100 fine classes.
    Fine,
    /// The 20 coarse superclasses.
    Coarse,
}

/// How strictly file sizes are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SizeCheck {
    /// Every file must have exactly the official number of records (the default).
    Official,
    /// Any whole number of records is accepted (subsets, test fixtures).
    WholeRecords,
}

/// A CIFAR-10 or CIFAR-100 split held in memory as the raw records (about 150 MB for a training
/// split); images are unpacked to [`RgbImage`] in [`Dataset::get`].
#[derive(Debug, Clone)]
pub struct CifarDataset {
    records: Vec<u8>,
    record_size: usize,
    label_offset: usize,
    num_records: usize,
    class_names: Vec<String>,
}

/// The record format of a CIFAR variant.
struct RecordLayout {
    /// The dataset's name in messages.
    dataset: &'static str,
    /// Bytes per record: the label bytes, then the image.
    record_size: usize,
    /// The byte of the record holding the label in use.
    label_offset: usize,
    /// The number of classes that label ranges over.
    num_classes: usize,
}

/// One file of a layout: its name and its official number of records.
struct ExpectedFile {
    name: &'static str,
    records: u64,
}

impl CifarDataset {
    /// Opens CIFAR-10 from `dir`: the `cifar-10-batches-bin` folder, or a folder that holds it.
    ///
    /// # Errors
    /// [`DataError::MissingFile`] or [`DataError::WrongFileSize`], listing every expected file
    /// and size, when the layout does not match; [`DataError::LabelOutOfRange`], naming the
    /// file and record, when a label is not one of the classes; [`DataError::Io`] when a file
    /// cannot be read.
    pub fn cifar10(dir: impl AsRef<Path>, split: Split) -> Result<Self, DataError> {
        Self::cifar10_with(dir, split, SizeCheck::Official)
    }

    /// Like [`CifarDataset::cifar10`], with a choice of how strictly sizes are checked.
    ///
    /// # Errors
    /// As [`CifarDataset::cifar10`].
    pub fn cifar10_with(
        dir: impl AsRef<Path>,
        split: Split,
        size_check: SizeCheck,
    ) -> Result<Self, DataError> {
        let dir = resolve_dir(dir.as_ref(), "cifar-10-batches-bin");
        let train: Vec<ExpectedFile> = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin"]
            .into_iter()
            .chain(["data_batch_4.bin", "data_batch_5.bin"])
            .map(|name| ExpectedFile {
                name,
                records: RECORDS_PER_BATCH,
            })
            .collect();
        let test = vec![ExpectedFile {
            name: "test_batch.bin",
            records: RECORDS_PER_BATCH,
        }];
        let (files, other) = match split {
            Split::Train => (train, test),
            Split::Test => (test, train),
        };
        let layout = RecordLayout {
            dataset: "CIFAR-10",
            record_size: 1 + IMAGE_BYTES,
            label_offset: 0,
            num_classes: CIFAR10_CLASSES.len(),
        };
        let records = read_files(&layout, &dir, &files, &other, size_check)?;
        let names = read_names(&dir.join("batches.meta.txt"), &CIFAR10_CLASSES);
        Ok(Self::from_records(records, &layout, names))
    }

    /// Opens CIFAR-100 from `dir`: the `cifar-100-binary` folder, or a folder that holds it.
    ///
    /// # Errors
    /// As [`CifarDataset::cifar10`].
    pub fn cifar100(
        dir: impl AsRef<Path>,
        split: Split,
        labels: Cifar100Labels,
    ) -> Result<Self, DataError> {
        Self::cifar100_with(dir, split, labels, SizeCheck::Official)
    }

    /// Like [`CifarDataset::cifar100`], with a choice of how strictly sizes are checked.
    ///
    /// # Errors
    /// As [`CifarDataset::cifar10`].
    pub fn cifar100_with(
        dir: impl AsRef<Path>,
        split: Split,
        labels: Cifar100Labels,
        size_check: SizeCheck,
    ) -> Result<Self, DataError> {
        let dir = resolve_dir(dir.as_ref(), "cifar-100-binary");
        let train = ExpectedFile {
            name: "train.bin",
            records: 5 * RECORDS_PER_BATCH,
        };
        let test = ExpectedFile {
            name: "test.bin",
            records: RECORDS_PER_BATCH,
        };
        let (file, other) = match split {
            Split::Train => (train, test),
            Split::Test => (test, train),
        };
        let (label_offset, names_file, builtin): (_, _, &[&str]) = match labels {
            Cifar100Labels::Coarse => (0, "coarse_label_names.txt", &CIFAR100_COARSE_CLASSES),
            Cifar100Labels::Fine => (1, "fine_label_names.txt", &CIFAR100_FINE_CLASSES),
        };
        let layout = RecordLayout {
            dataset: "CIFAR-100",
            record_size: 2 + IMAGE_BYTES,
            label_offset,
            num_classes: builtin.len(),
        };
        let records = read_files(&layout, &dir, &[file], &[other], size_check)?;
        let names = read_names(&dir.join(names_file), builtin);
        Ok(Self::from_records(records, &layout, names))
    }

    fn from_records(records: Vec<u8>, layout: &RecordLayout, class_names: Vec<String>) -> Self {
        let record_size = layout.record_size;
        let num_records = records.len() / record_size;
        Self {
            records,
            record_size,
            label_offset: layout.label_offset,
            num_records,
            class_names,
        }
    }

    /// The image of record `index`, unpacked from planar to interleaved RGB.
    ///
    /// # Panics
    /// When `index >= len()`.
    pub fn image(&self, index: usize) -> RgbImage {
        let record = self.record(index);
        let planes = &record[self.record_size - IMAGE_BYTES..];
        let (red, rest) = planes.split_at(IMAGE_BYTES / 3);
        let (green, blue) = rest.split_at(IMAGE_BYTES / 3);
        let mut pixels = Vec::with_capacity(IMAGE_BYTES);
        for ((&r, &g), &b) in red.iter().zip(green).zip(blue) {
            pixels.extend_from_slice(&[r, g, b]);
        }
        RgbImage::from_raw(CIFAR_IMAGE_SIZE, CIFAR_IMAGE_SIZE, pixels)
            .expect("a CIFAR record holds exactly 32x32x3 bytes")
    }

    /// The label of record `index`.
    ///
    /// # Panics
    /// When `index >= len()`.
    pub fn label(&self, index: usize) -> usize {
        self.record(index)[self.label_offset] as usize
    }

    fn record(&self, index: usize) -> &[u8] {
        assert!(
            index < self.num_records,
            "CIFAR index {index} out of range 0..{}",
            self.num_records
        );
        &self.records[index * self.record_size..(index + 1) * self.record_size]
    }
}

impl Dataset<LabeledImage> for CifarDataset {
    fn get(&self, index: usize) -> Result<LabeledImage, DatasetError> {
        // Labels were checked against the classes when the files were read.
        Ok(LabeledImage {
            image: self.image(index),
            label: self.label(index),
        })
    }

    fn len(&self) -> usize {
        self.num_records
    }
}

impl ImageSource for CifarDataset {
    fn class_names(&self) -> &[String] {
        &self.class_names
    }
}

/// `dir` itself when it holds CIFAR files, else `dir/<subfolder>` when that exists.
fn resolve_dir(dir: &Path, subfolder: &str) -> PathBuf {
    let nested = dir.join(subfolder);
    if nested.is_dir() {
        nested
    } else {
        dir.to_path_buf()
    }
}

/// Reads and concatenates `files`, checking each size and every record's label; `other` (the
/// other split) only appears in the error message so that it lists the whole layout.
fn read_files(
    layout: &RecordLayout,
    dir: &Path,
    files: &[ExpectedFile],
    other: &[ExpectedFile],
    size_check: SizeCheck,
) -> Result<Vec<u8>, DataError> {
    let (dataset, record_size) = (layout.dataset, layout.record_size);
    let expected = files
        .iter()
        .chain(other)
        .map(|f| format!("{} ({} bytes)", f.name, f.records * record_size as u64))
        .collect::<Vec<_>>()
        .join(", ");
    let mut records = Vec::new();
    for file in files {
        let path = dir.join(file.name);
        let metadata = match std::fs::metadata(&path) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dir = dir.to_path_buf();
                return Err(DataError::MissingFile {
                    dataset,
                    path,
                    dir,
                    expected,
                });
            }
            Err(e) => return Err(DataError::io(path, e)),
        };
        let actual = metadata.len();
        let official = file.records * record_size as u64;
        let size_ok = match size_check {
            SizeCheck::Official => actual == official,
            SizeCheck::WholeRecords => actual > 0 && actual % record_size as u64 == 0,
        };
        if !size_ok {
            return Err(DataError::WrongFileSize {
                dataset,
                path,
                actual,
                expected_size: official,
                records: file.records,
                record_size: record_size as u64,
                expected,
            });
        }
        let bytes = std::fs::read(&path).map_err(|e| DataError::io(&path, e))?;
        let bad_label = bytes
            .chunks_exact(record_size)
            .map(|record| usize::from(record[layout.label_offset]))
            .enumerate()
            .find(|&(_, label)| label >= layout.num_classes);
        if let Some((record, label)) = bad_label {
            return Err(DataError::LabelOutOfRange {
                dataset,
                path,
                record,
                label,
                num_classes: layout.num_classes,
            });
        }
        records.extend_from_slice(&bytes);
    }
    Ok(records)
}

/// Class names from a meta file (one per line) when it exists and has the right count, else
/// the built-in list.
fn read_names(path: &Path, builtin: &[&str]) -> Vec<String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let names: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if names.len() == builtin.len() {
            return names;
        }
        log::warn!(
            "{} lists {} class names, expected {}; using the built-in names",
            path.display(),
            names.len(),
            builtin.len()
        );
    }
    builtin.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_class_lists_have_the_official_lengths_and_no_duplicates() {
        for list in [
            &CIFAR10_CLASSES[..],
            &CIFAR100_FINE_CLASSES[..],
            &CIFAR100_COARSE_CLASSES[..],
        ] {
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len());
        }
        // The fine names are in alphabetical order in the official meta file.
        assert!(CIFAR100_FINE_CLASSES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn records_unpack_from_planar_to_interleaved() {
        let mut record = vec![7u8];
        record.extend((0..IMAGE_BYTES).map(|i| (i / 1024) as u8 * 100 + (i % 1024 == 33) as u8));
        let layout = RecordLayout {
            dataset: "CIFAR-10",
            record_size: 1 + IMAGE_BYTES,
            label_offset: 0,
            num_classes: 10,
        };
        let dataset = CifarDataset::from_records(record, &layout, vec!["c".into(); 10]);
        let item = dataset.get(0).unwrap();
        assert_eq!(item.label, 7);
        // Pixel 33 is (x = 1, y = 1); its planes hold 1, 101, 201.
        assert_eq!(item.image.get_pixel(1, 1).0, [1, 101, 201]);
        assert_eq!(item.image.get_pixel(0, 0).0, [0, 100, 200]);
    }
}
