//! Opening the dataset a subcommand names, with errors that say what layout is expected.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use burn::data::dataset::{Dataset, DatasetError};
use supcon_data::{
    Cifar100Labels, CifarDataset, ImageFolderConfig, ImageSource, LabeledImage, Split,
    SyntheticConfig,
};

use crate::cli::DatasetName;

/// A labelled image source shared between threads.
pub type Source = Arc<dyn ImageSource + Send + Sync>;

/// The train and test splits of a dataset.
pub struct Splits {
    /// The training split.
    pub train: Source,
    /// The test split.
    pub test: Source,
}

/// Where to get each dataset, and the layout `--data` must have.
pub fn layout_help(dataset: DatasetName) -> &'static str {
    match dataset {
        DatasetName::Synthetic => {
            "the synthetic dataset is generated in memory and needs no --data"
        }
        DatasetName::Cifar10 => {
            "--data must be the folder of CIFAR-10's binary version (cifar-10-batches-bin/, or the \
             folder holding it) with data_batch_1.bin .. data_batch_5.bin and test_batch.bin \
             (30,730,000 bytes each); download and unpack \
             https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
        }
        DatasetName::Cifar100 => {
            "--data must be the folder of CIFAR-100's binary version (cifar-100-binary/, or the \
             folder holding it) with train.bin and test.bin; download and unpack \
             https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"
        }
        DatasetName::Imagenet => {
            "--data must hold ImageNet (ILSVRC-2012) as train/<wnid>/*.JPEG and val/<wnid>/*.JPEG \
             (the validation images sorted into their 1000 class folders); get it from \
             https://image-net.org/download.php"
        }
        DatasetName::Folder => {
            "--data must hold train/<class>/<image> and val/<class>/<image> (jpg, jpeg, png, bmp \
             or webp; the same class folder names in both)"
        }
    }
}

/// Opens both splits of `dataset`.
///
/// # Errors
/// When `--data` is missing or does not have the expected layout; the message says which
/// layout is expected and where to get the data.
pub fn open(
    dataset: DatasetName,
    data: Option<&Path>,
    synthetic: Option<&SyntheticConfig>,
    seed: u64,
) -> Result<Splits> {
    let need_data = || -> Result<PathBuf> {
        let Some(dir) = data else {
            bail!(
                "`reproduce {}` needs --data DIR: {}",
                dataset.as_str(),
                layout_help(dataset)
            );
        };
        if !dir.is_dir() {
            bail!(
                "the data folder {} does not exist: {}",
                dir.display(),
                layout_help(dataset)
            );
        }
        Ok(dir.to_path_buf())
    };
    let hint = || format!("cannot open {}: {}", dataset.as_str(), layout_help(dataset));
    let splits = match dataset {
        DatasetName::Synthetic => {
            if data.is_some() {
                log::warn!("--data is ignored: the synthetic dataset is generated in memory");
            }
            let config = synthetic
                .context("the synthetic dataset needs the `data.synthetic` section in its config")?
                .clone()
                .with_seed(seed);
            Splits {
                train: Arc::new(config.init(Split::Train)?),
                test: Arc::new(config.init(Split::Test)?),
            }
        }
        DatasetName::Cifar10 => {
            let dir = need_data()?;
            Splits {
                train: Arc::new(CifarDataset::cifar10(&dir, Split::Train).with_context(hint)?),
                test: Arc::new(CifarDataset::cifar10(&dir, Split::Test).with_context(hint)?),
            }
        }
        DatasetName::Cifar100 => {
            let dir = need_data()?;
            let open = |split| CifarDataset::cifar100(&dir, split, Cifar100Labels::Fine);
            Splits {
                train: Arc::new(open(Split::Train).with_context(hint)?),
                test: Arc::new(open(Split::Test).with_context(hint)?),
            }
        }
        DatasetName::Imagenet | DatasetName::Folder => {
            let dir = need_data()?;
            let open = |name: &str| -> Result<Source> {
                let root = dir.join(name);
                if !root.is_dir() {
                    bail!(
                        "{} has no {name}/ folder: {}",
                        dir.display(),
                        layout_help(dataset)
                    );
                }
                let folder = ImageFolderConfig::new(root).init().with_context(hint)?;
                Ok(Arc::new(folder))
            };
            let splits = Splits {
                train: open("train")?,
                test: open("val")?,
            };
            if splits.train.class_names() != splits.test.class_names() {
                bail!(
                    "{}: train/ has {} class folders and val/ has {}, or their names differ; both \
                     must hold the same classes",
                    dir.display(),
                    splits.train.num_classes(),
                    splits.test.num_classes()
                );
            }
            splits
        }
    };
    if splits.train.is_empty() || splits.test.is_empty() {
        bail!(
            "{} has an empty split: {}",
            dataset.as_str(),
            layout_help(dataset)
        );
    }
    Ok(splits)
}

/// At most `limit` items of `source`: a fixed pseudo-random selection (the same for every run
/// and machine), kept in index order. Random rather than strided, so that neither a folder
/// sorted by class nor labels that cycle with the index (the synthetic set) skew the classes.
/// The source itself when it is small enough.
pub fn subset(source: Source, limit: Option<usize>) -> Source {
    match limit {
        Some(limit) if limit < source.len() => {
            let mut indices: Vec<usize> = (0..source.len()).collect();
            indices.sort_by_key(|&i| splitmix64(i as u64));
            indices.truncate(limit);
            indices.sort_unstable();
            Arc::new(Subset {
                inner: source,
                indices,
            })
        }
        _ => source,
    }
}

/// The splitmix64 finaliser: a fixed bijective scrambling of `x`.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A source seen as a plain Burn dataset (what the loaders take).
pub struct AsDataset(pub Source);

impl Dataset<LabeledImage> for AsDataset {
    fn get(&self, index: usize) -> Result<LabeledImage, DatasetError> {
        self.0.get(index)
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// A fixed selection of another source's items.
struct Subset {
    inner: Source,
    indices: Vec<usize>,
}

impl Dataset<LabeledImage> for Subset {
    fn get(&self, index: usize) -> Result<LabeledImage, DatasetError> {
        match self.indices.get(index) {
            Some(&i) => self.inner.get(i),
            None => Err(DatasetError::new(std::io::Error::other(format!(
                "index {index} is out of range for a subset of {} items",
                self.indices.len()
            )))),
        }
    }

    fn len(&self) -> usize {
        self.indices.len()
    }
}

impl ImageSource for Subset {
    fn class_names(&self) -> &[String] {
        self.inner.class_names()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_data_folder_says_what_to_download() {
        let err = open(DatasetName::Cifar10, None, None, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("needs --data DIR") && err.contains("cifar-10-binary.tar.gz"),
            "{err}"
        );
        let err = open(
            DatasetName::Imagenet,
            Some(Path::new("/nonexistent/imagenet")),
            None,
            0,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("/nonexistent/imagenet does not exist") && err.contains("val/<wnid>"),
            "{err}"
        );
    }

    #[test]
    fn subsets_are_fixed_and_cover_the_classes() {
        // Labels cycle with the index (label = i % 4): a stride of 4 would pick one class.
        let config = SyntheticConfig::new()
            .with_num_classes(4)
            .with_samples_per_class(25);
        let source: Source = Arc::new(config.init(Split::Test).unwrap());
        let small = subset(source.clone(), Some(40));
        assert_eq!(small.len(), 40);
        let labels: Vec<usize> = (0..40).map(|i| small.get(i).unwrap().label).collect();
        for class in 0..4 {
            let count = labels.iter().filter(|&&l| l == class).count();
            assert!(
                (4..=16).contains(&count),
                "class {class}: {count} of 40 in {labels:?}"
            );
        }
        let again: Vec<usize> = (0..40)
            .map(|i| subset(source.clone(), Some(40)).get(i).unwrap().label)
            .collect();
        assert_eq!(labels, again, "the same selection every time");
        assert_eq!(subset(source, Some(1000)).len(), 100);
    }
}
