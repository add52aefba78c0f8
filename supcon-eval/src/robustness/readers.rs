//! Readers of pre-generated corruption data: ImageNet-C folder trees and CIFAR-10-C `.npy`
//! files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::data::dataset::{Dataset, DatasetError};
use image::RgbImage;

use super::npy::read_npy_u8;
use super::RobustnessError;
use crate::corruption::{Corruption, Severity};

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RobustnessError + '_ {
    move |source| RobustnessError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The sorted names of the sub-folders of `dir`.
fn sorted_subfolders(dir: &Path) -> Result<Vec<String>, RobustnessError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        if entry.file_type().map_err(io_error(dir))?.is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// An ImageNet-C tree, `<root>/<corruption>/<severity>/<class>/<file>`. Class indices are the
/// positions of the class folder names in sorted order (as ImageFolder readers assign them),
/// taken from the first cell found; every cell must use the same class names.
#[derive(Clone, Debug)]
pub struct ImageNetCFolder {
    root: PathBuf,
    classes: Vec<String>,
    cells: Vec<(Corruption, Severity)>,
}

impl ImageNetCFolder {
    /// Scans `root` for corruption and severity folders (other folders are ignored).
    ///
    /// # Errors
    /// [`RobustnessError::Io`] when a folder cannot be listed, [`RobustnessError::EmptyTree`]
    /// when no `<corruption>/<severity>` folder with classes is found.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, RobustnessError> {
        let root = root.as_ref().to_path_buf();
        let mut cells = Vec::new();
        let mut classes: Option<Vec<String>> = None;
        for name in sorted_subfolders(&root)? {
            let Ok(corruption) = name.parse::<Corruption>() else {
                continue;
            };
            for level in sorted_subfolders(&root.join(&name))? {
                let Some(severity) = level.parse::<u8>().ok().and_then(|l| Severity::new(l).ok())
                else {
                    continue;
                };
                let cell_classes = sorted_subfolders(&root.join(&name).join(&level))?;
                if cell_classes.is_empty() {
                    continue;
                }
                classes.get_or_insert(cell_classes);
                cells.push((corruption, severity));
            }
        }
        let classes = classes.ok_or_else(|| RobustnessError::EmptyTree { root: root.clone() })?;
        cells.sort();
        Ok(Self {
            root,
            classes,
            cells,
        })
    }

    /// The class folder names; a label is an index into this list.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The (corruption, severity) cells present.
    pub fn cells(&self) -> &[(Corruption, Severity)] {
        &self.cells
    }

    /// The images of one cell, as a dataset of `(image, label)`.
    ///
    /// # Errors
    /// [`RobustnessError::MissingCell`] when the folder does not exist,
    /// [`RobustnessError::UnknownClass`] when it holds a class folder not in
    /// [`ImageNetCFolder::classes`], [`RobustnessError::Io`] when listing fails.
    pub fn cell(
        &self,
        corruption: Corruption,
        severity: Severity,
    ) -> Result<FolderCell, RobustnessError> {
        let dir = self.root.join(corruption.name()).join(severity.to_string());
        if !dir.is_dir() {
            return Err(RobustnessError::MissingCell { path: dir });
        }
        let mut files = Vec::new();
        for class in sorted_subfolders(&dir)? {
            let label =
                self.classes
                    .binary_search(&class)
                    .map_err(|_| RobustnessError::UnknownClass {
                        path: dir.join(&class),
                    })?;
            let class_dir = dir.join(&class);
            let mut names = Vec::new();
            for entry in std::fs::read_dir(&class_dir).map_err(io_error(&class_dir))? {
                let entry = entry.map_err(io_error(&class_dir))?;
                if entry.file_type().map_err(io_error(&class_dir))?.is_file() {
                    names.push(entry.path());
                }
            }
            names.sort();
            files.extend(names.into_iter().map(|path| (path, label)));
        }
        Ok(FolderCell { files })
    }
}

/// The images of one ImageNet-C cell, decoded on access.
#[derive(Clone, Debug)]
pub struct FolderCell {
    files: Vec<(PathBuf, usize)>,
}

impl FolderCell {
    /// The file and label of item `index`.
    pub fn file(&self, index: usize) -> Option<&(PathBuf, usize)> {
        self.files.get(index)
    }
}

impl Dataset<(RgbImage, usize)> for FolderCell {
    fn get(&self, index: usize) -> Result<(RgbImage, usize), DatasetError> {
        let (path, label) = self.files.get(index).ok_or_else(|| {
            DatasetError::new(RobustnessError::IndexOutOfRange {
                index,
                len: self.files.len(),
            })
        })?;
        let image = image::open(path).map_err(|source| {
            DatasetError::new(RobustnessError::Image {
                path: path.clone(),
                source,
            })
        })?;
        Ok((image.to_rgb8(), *label))
    }

    fn len(&self) -> usize {
        self.files.len()
    }
}

/// A CIFAR-10-C (or CIFAR-100-C) folder: `<corruption>.npy`, uint8 `[5 n, 32, 32, 3]`
/// severity-major (rows `(s - 1) n .. s n` are severity s), and `labels.npy`, uint8 `[5 n]`.
#[derive(Clone, Debug)]
pub struct CifarC {
    dir: PathBuf,
    labels: Arc<Vec<u8>>,
}

impl CifarC {
    /// Opens `dir` and reads `labels.npy`.
    ///
    /// # Errors
    /// Those of [`read_npy_u8`], and [`RobustnessError::NpyShape`] when the labels are not a
    /// 1-D array whose length is a multiple of 5.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, RobustnessError> {
        let dir = dir.as_ref().to_path_buf();
        let path = dir.join("labels.npy");
        let labels = read_npy_u8(&path)?;
        if labels.shape.len() != 1 || labels.shape[0] == 0 || labels.shape[0] % 5 != 0 {
            return Err(RobustnessError::NpyShape {
                path,
                shape: labels.shape,
                expected: "[5 * n] (n labels per severity)".to_string(),
            });
        }
        Ok(Self {
            dir,
            labels: Arc::new(labels.data),
        })
    }

    /// Images per severity, `n`.
    pub fn images_per_severity(&self) -> usize {
        self.labels.len() / 5
    }

    /// Reads `<corruption>.npy` (about 150 MB for CIFAR-10-C).
    ///
    /// # Errors
    /// Those of [`read_npy_u8`], and [`RobustnessError::NpyShape`] when the array is not
    /// `[5 n, H, W, 3]` with `5 n` the number of labels.
    pub fn corruption(&self, corruption: Corruption) -> Result<CifarCCorruption, RobustnessError> {
        let path = self.dir.join(format!("{}.npy", corruption.name()));
        let array = read_npy_u8(&path)?;
        let shape = &array.shape;
        if shape.len() != 4 || shape[0] != self.labels.len() || shape[3] != 3 {
            return Err(RobustnessError::NpyShape {
                path,
                shape: array.shape.clone(),
                expected: format!(
                    "[{}, height, width, 3] to match labels.npy",
                    self.labels.len()
                ),
            });
        }
        Ok(CifarCCorruption {
            height: shape[1],
            width: shape[2],
            data: Arc::new(array.data),
            labels: self.labels.clone(),
        })
    }
}

/// All severities of one CIFAR-10-C corruption, in memory.
#[derive(Clone, Debug)]
pub struct CifarCCorruption {
    height: usize,
    width: usize,
    data: Arc<Vec<u8>>,
    labels: Arc<Vec<u8>>,
}

impl CifarCCorruption {
    /// The images of one severity, as a dataset of `(image, label)`.
    pub fn severity(&self, severity: Severity) -> CifarCCell {
        let n = self.labels.len() / 5;
        CifarCCell {
            corruption: self.clone(),
            start: severity.index() * n,
            len: n,
        }
    }
}

/// The images of one CIFAR-10-C severity.
#[derive(Clone, Debug)]
pub struct CifarCCell {
    corruption: CifarCCorruption,
    start: usize,
    len: usize,
}

impl Dataset<(RgbImage, usize)> for CifarCCell {
    fn get(&self, index: usize) -> Result<(RgbImage, usize), DatasetError> {
        if index >= self.len {
            return Err(DatasetError::new(RobustnessError::IndexOutOfRange {
                index,
                len: self.len,
            }));
        }
        let c = &self.corruption;
        let size = c.height * c.width * 3;
        let row = self.start + index;
        let pixels = c.data[row * size..(row + 1) * size].to_vec();
        let image =
            RgbImage::from_raw(c.width as u32, c.height as u32, pixels).expect("sizes match");
        Ok((image, usize::from(c.labels[row])))
    }

    fn len(&self) -> usize {
        self.len
    }
}
