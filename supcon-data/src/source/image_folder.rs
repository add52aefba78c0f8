//! Image trees laid out as `root/<class>/<image>`, the layout of ImageNet and torchvision's
//! `ImageFolder`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::config::Config;
use burn::data::dataset::{Dataset, DatasetError};
use rayon::prelude::*;

use super::decode::{decode_rgb, has_image_extension};
use crate::{DataError, ImageSource, LabeledImage};

/// What to do with an image file that cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CorruptImagePolicy {
    /// Log a warning naming the file, count it, and return the next decodable sample instead.
    Skip,
    /// Fail with [`DataError::DecodeImage`] naming the file.
    Error,
}

/// Options of an [`ImageFolder`].
#[derive(Config, Debug)]
pub struct ImageFolderConfig {
    /// The root folder, holding one folder per class.
    pub root: PathBuf,
    /// When set, only these classes are read (labels follow their sorted order).
    pub classes: Option<Vec<String>>,
    /// When set, at most this many images per class (the first in sorted path order).
    pub max_per_class: Option<usize>,
    /// What to do with a file that cannot be decoded.
    #[config(default = "CorruptImagePolicy::Skip")]
    pub corrupt_images: CorruptImagePolicy,
    /// Decode every file once when opening (in parallel) and drop those that fail, so that
    /// training never meets a corrupt file. Costs one full decoding pass.
    #[config(default = false)]
    pub verify: bool,
}

/// An `ImageFolder` source: classes are the sub-folders of the root sorted by name (the order
/// torchvision uses, so labels agree), samples are the image files found recursively in each
/// class folder, sorted by path. Files are decoded lazily in [`Dataset::get`].
///
/// Extensions `jpg`, `jpeg`, `png`, `bmp` and `webp` are read, in any letter case. An empty class
/// folder is logged at warning level and contributes no samples; it keeps its label so that
/// labels stay aligned with the sorted folder names.
///
/// With [`CorruptImagePolicy::Skip`] (the default) a file that fails to decode is logged once at
/// warning level, counted ([`ImageFolder::num_skipped`]) and replaced by the next decodable
/// sample in index order, so a batch keeps its size.
#[derive(Debug)]
pub struct ImageFolder {
    samples: Vec<(PathBuf, usize)>,
    class_names: Vec<String>,
    policy: CorruptImagePolicy,
    skipped: Mutex<BTreeSet<PathBuf>>,
}

impl ImageFolderConfig {
    /// Scans the root and opens the source.
    ///
    /// # Errors
    /// As [`ImageFolder::new`].
    pub fn init(&self) -> Result<ImageFolder, DataError> {
        ImageFolder::new(self)
    }
}

impl ImageFolder {
    /// Scans `config.root` and opens the source.
    ///
    /// # Errors
    /// [`DataError::Io`] when the root cannot be read, [`DataError::NoClassFolders`] when it has
    /// no sub-folders, [`DataError::UnknownClass`] when an allowed class has no folder,
    /// [`DataError::Empty`] when no class holds an image, and with `verify` and
    /// [`CorruptImagePolicy::Error`], [`DataError::DecodeImage`] naming the first bad file.
    pub fn new(config: &ImageFolderConfig) -> Result<Self, DataError> {
        let root = &config.root;
        let mut class_names = list_class_folders(root)?;
        if class_names.is_empty() {
            return Err(DataError::NoClassFolders { root: root.clone() });
        }
        if let Some(allowed) = &config.classes {
            for class in allowed {
                if !class_names.contains(class) {
                    let class = class.clone();
                    return Err(DataError::UnknownClass {
                        class,
                        root: root.clone(),
                    });
                }
            }
            class_names.retain(|name| allowed.contains(name));
        }

        let mut samples = Vec::new();
        for (label, class) in class_names.iter().enumerate() {
            let mut files = Vec::new();
            collect_images(&root.join(class), &mut files)?;
            files.sort();
            if files.is_empty() {
                log::warn!(
                    "class folder {} holds no images; skipped",
                    root.join(class).display()
                );
            }
            if let Some(limit) = config.max_per_class {
                files.truncate(limit);
            }
            samples.extend(files.into_iter().map(|path| (path, label)));
        }
        if samples.is_empty() {
            return Err(DataError::Empty {
                what: format!("image folder {}", root.display()),
            });
        }

        let mut folder = Self {
            samples,
            class_names,
            policy: config.corrupt_images,
            skipped: Mutex::new(BTreeSet::new()),
        };
        if config.verify {
            folder.verify()?;
        }
        Ok(folder)
    }

    /// Decodes every file once, in parallel, and removes those that fail (counted as skipped).
    /// Returns how many were removed.
    ///
    /// # Errors
    /// With [`CorruptImagePolicy::Error`], [`DataError::DecodeImage`] naming the first bad file
    /// in index order; [`DataError::Empty`] when no file decodes.
    pub fn verify(&mut self) -> Result<usize, DataError> {
        let results: Vec<Option<DataError>> = self
            .samples
            .par_iter()
            .map(|(path, _)| decode_rgb(path).err())
            .collect();
        let mut removed = 0;
        let mut kept = Vec::with_capacity(self.samples.len());
        for (sample, error) in std::mem::take(&mut self.samples).into_iter().zip(results) {
            match error {
                None => kept.push(sample),
                Some(error) => {
                    if self.policy == CorruptImagePolicy::Error {
                        return Err(error);
                    }
                    log::warn!("skipping unreadable image: {error}");
                    self.skipped
                        .lock()
                        .expect("skip list lock")
                        .insert(sample.0);
                    removed += 1;
                }
            }
        }
        if kept.is_empty() {
            return Err(DataError::Empty {
                what: "image folder after verification".into(),
            });
        }
        self.samples = kept;
        Ok(removed)
    }

    /// The path and label of sample `index`.
    ///
    /// # Panics
    /// When `index >= len()`.
    pub fn sample(&self, index: usize) -> (&Path, usize) {
        let (path, label) = &self.samples[index];
        (path, *label)
    }

    /// How many distinct files have been skipped as undecodable so far.
    pub fn num_skipped(&self) -> usize {
        self.skipped.lock().expect("skip list lock").len()
    }

    /// The files skipped as undecodable so far, sorted.
    pub fn skipped_files(&self) -> Vec<PathBuf> {
        self.skipped
            .lock()
            .expect("skip list lock")
            .iter()
            .cloned()
            .collect()
    }

    /// Decodes sample `index`, applying the corrupt-image policy.
    fn load(&self, index: usize) -> Result<LabeledImage, DataError> {
        let len = self.samples.len();
        assert!(
            index < len,
            "ImageFolder index {index} out of range 0..{len}"
        );
        let mut first_error = None;
        for offset in 0..len {
            let (path, label) = &self.samples[(index + offset) % len];
            match decode_rgb(path) {
                Ok(image) => {
                    return Ok(LabeledImage {
                        image,
                        label: *label,
                    })
                }
                Err(error) if self.policy == CorruptImagePolicy::Error => return Err(error),
                Err(error) => {
                    let newly = self
                        .skipped
                        .lock()
                        .expect("skip list lock")
                        .insert(path.clone());
                    if newly {
                        log::warn!("skipping unreadable image: {error}");
                    }
                    first_error.get_or_insert(error);
                }
            }
        }
        Err(first_error.expect("a non-empty folder failed at least once"))
    }
}

impl Dataset<LabeledImage> for ImageFolder {
    fn get(&self, index: usize) -> Result<LabeledImage, DatasetError> {
        self.load(index).map_err(DatasetError::from)
    }

    fn len(&self) -> usize {
        self.samples.len()
    }
}

impl ImageSource for ImageFolder {
    fn class_names(&self) -> &[String] {
        &self.class_names
    }
}

/// The names of the sub-folders of `root`, sorted (byte order, as Python sorts `str`).
fn list_class_folders(root: &Path) -> Result<Vec<String>, DataError> {
    let entries = std::fs::read_dir(root).map_err(|e| DataError::io(root, e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DataError::io(root, e))?;
        // `metadata` follows symbolic links, as torchvision's `is_dir` does.
        let is_dir = std::fs::metadata(entry.path())
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if is_dir {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Appends every image file under `dir` (recursively) to `files`.
fn collect_images(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        if path.is_dir() {
            collect_images(&path, files)?;
        } else if has_image_extension(&path) {
            files.push(path);
        }
    }
    Ok(())
}
