//! Writes corrupted copies of an image folder in the ImageNet-C layout.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::RobustnessError;
use crate::corruption::{corrupt, Corruption, CorruptionContext, Resolution, Severity};

/// File extensions read as images (case-insensitive).
const IMAGE_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "bmp", "webp", "ppm"];

/// Settings of [`write_corrupted_folder`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CorruptFolderConfig {
    /// Corruptions to write (default: all 19).
    pub corruptions: Vec<Corruption>,
    /// Severities to write (default: 1 to 5).
    pub severities: Vec<Severity>,
    /// JPEG quality of the written files (85, as ImageNet-C).
    pub quality: u8,
    /// Base seed; each image's corruptions are seeded by this and its relative path, so a
    /// resumed run writes the same bytes as an uninterrupted one.
    pub seed: u64,
    /// Show a progress bar on stderr (off by default, for library use).
    pub progress: bool,
}

impl Default for CorruptFolderConfig {
    fn default() -> Self {
        Self {
            corruptions: Corruption::ALL.to_vec(),
            severities: Severity::ALL.to_vec(),
            quality: 85,
            seed: 0,
            progress: false,
        }
    }
}

/// What [`write_corrupted_folder`] did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CorruptFolderSummary {
    /// Source images found.
    pub images: usize,
    /// Files written by this run.
    pub written: usize,
    /// Files already present (from an earlier run) and left alone.
    pub skipped: usize,
    /// Source images that could not be read or corrupted, with the reason; they are left out.
    pub failed: Vec<(PathBuf, String)>,
    /// True when frost was written with the procedural texture (not the benchmark's).
    pub approximate: bool,
}

/// A stable 64-bit FNV-1a hash (the seed of an image must not change between runs or
/// toolchains).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The `(class, file)` images under `input`, sorted.
fn list_images(input: &Path) -> Result<Vec<(String, PathBuf)>, RobustnessError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RobustnessError::Io { path, source }
    };
    let mut images = Vec::new();
    for class in std::fs::read_dir(input).map_err(io(input))? {
        let class = class.map_err(io(input))?;
        if !class.file_type().map_err(io(input))?.is_dir() {
            continue;
        }
        let class_name = class.file_name().to_string_lossy().into_owned();
        for file in std::fs::read_dir(class.path()).map_err(io(&class.path()))? {
            let path = file.map_err(io(&class.path()))?.path();
            let is_image = path
                .extension()
                .map(|e| IMAGE_EXTENSIONS.contains(&e.to_string_lossy().to_lowercase().as_str()))
                .unwrap_or(false);
            if is_image && path.is_file() {
                images.push((class_name.clone(), path));
            }
        }
    }
    images.sort();
    if images.is_empty() {
        return Err(RobustnessError::EmptyTree {
            root: input.to_path_buf(),
        });
    }
    Ok(images)
}

/// The output name of a source file: unchanged for JPEG files, `<stem>.jpg` otherwise.
fn output_name(source: &Path) -> String {
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let is_jpeg = source
        .extension()
        .map(|e| matches!(e.to_string_lossy().to_lowercase().as_str(), "jpg" | "jpeg"))
        .unwrap_or(false);
    if is_jpeg {
        name
    } else {
        let stem = source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or(name);
        format!("{stem}.jpg")
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so that
/// `path` exists only once complete.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RobustnessError> {
    let io = |source| RobustnessError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().expect("output files live in a folder");
    std::fs::create_dir_all(dir).map_err(io)?;
    let temporary = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().expect("a file name").to_string_lossy(),
        std::process::id()
    ));
    // A failed write (a full disk) removes its partial file: readers of the tree take every
    // file in a class folder for an image.
    std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|error| {
            let _ = std::fs::remove_file(&temporary);
            io(error)
        })
}

/// Writes corrupted copies of the image folder `input` (`<class>/<file>`) to `output` in the
/// ImageNet-C layout, `<corruption>/<severity>/<class>/<file>`, as JPEG.
///
/// Images are processed in parallel (rayon). On the ImageNet path each image is first resized
/// and centre-cropped to 224x224, as ImageNet-C was. The run is resumable: files already
/// present are skipped, and each file appears only once fully written. An image that cannot be
/// read is logged, listed in the summary and skipped.
///
/// # Errors
/// [`RobustnessError::EmptyTree`] when `input` holds no `<class>/<image>` files,
/// [`RobustnessError::Io`] when a folder cannot be listed or a file cannot be written.
pub fn write_corrupted_folder(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    context: &CorruptionContext,
    config: &CorruptFolderConfig,
) -> Result<CorruptFolderSummary, RobustnessError> {
    let (input, output) = (input.as_ref(), output.as_ref());
    let images = list_images(input)?;
    let cells: Vec<(Corruption, Severity)> = config
        .corruptions
        .iter()
        .flat_map(|&c| config.severities.iter().map(move |&s| (c, s)))
        .collect();
    let bar = if config.progress {
        let bar = ProgressBar::new((images.len() * cells.len()) as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} files  {per_sec}  ETA {eta}")
                .expect("a valid progress template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    log::info!(
        "writing {} corrupted copies of {} images from {} to {}",
        cells.len(),
        images.len(),
        input.display(),
        output.display()
    );

    let failed = Mutex::new(Vec::new());
    let counts: Vec<Result<(usize, usize), RobustnessError>> = images
        .par_iter()
        .map(|(class, source)| {
            let name = output_name(source);
            let target = |c: Corruption, s: Severity| {
                output
                    .join(c.name())
                    .join(s.to_string())
                    .join(class)
                    .join(&name)
            };
            let missing: Vec<(Corruption, Severity)> = cells
                .iter()
                .copied()
                .filter(|&(c, s)| !target(c, s).exists())
                .collect();
            let skipped = cells.len() - missing.len();
            bar.inc(skipped as u64);
            if missing.is_empty() {
                return Ok((0, skipped));
            }
            let image = match image::open(source) {
                Ok(image) => image.to_rgb8(),
                Err(e) => {
                    log::warn!("skipping unreadable image {}: {e}", source.display());
                    failed
                        .lock()
                        .expect("no poisoned lock")
                        .push((source.clone(), e.to_string()));
                    bar.inc(missing.len() as u64);
                    return Ok((0, skipped));
                }
            };
            let image = match context.resolution {
                Resolution::ImageNet224 => crate::corruption::imagenet_crop(&image),
                Resolution::Cifar32 => image,
            };
            let seed = config.seed ^ fnv1a(&format!("{class}/{name}"));
            let mut written = 0;
            for (corruption, severity) in missing {
                let result = corrupt(&image, corruption, severity, seed, context)
                    .map_err(|e| e.to_string())
                    .and_then(|out| {
                        crate::corruption::encode_jpeg(&out, config.quality)
                            .map_err(|e| e.to_string())
                    });
                match result {
                    Ok(bytes) => {
                        write_atomically(&target(corruption, severity), &bytes)?;
                        written += 1;
                    }
                    Err(e) => {
                        log::warn!("cannot corrupt {} with {corruption}: {e}", source.display());
                        failed
                            .lock()
                            .expect("no poisoned lock")
                            .push((source.clone(), e));
                    }
                }
                bar.inc(1);
            }
            Ok((written, skipped))
        })
        .collect();
    bar.finish_and_clear();

    let mut summary = CorruptFolderSummary {
        images: images.len(),
        approximate: config
            .corruptions
            .iter()
            .any(|&c| context.is_approximate(c)),
        ..Default::default()
    };
    for count in counts {
        let (written, skipped) = count?;
        summary.written += written;
        summary.skipped += skipped;
    }
    summary.failed = failed.into_inner().expect("no poisoned lock");
    summary.failed.sort();
    if summary.approximate {
        log::warn!("frost used the procedural texture: its files are approximate");
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_keep_jpeg_files_and_rename_others() {
        assert_eq!(
            output_name(Path::new("a/ILSVRC2012_val_00000001.JPEG")),
            "ILSVRC2012_val_00000001.JPEG"
        );
        assert_eq!(output_name(Path::new("a/cat.png")), "cat.jpg");
    }

    #[test]
    fn fnv1a_matches_published_vectors() {
        // FNV-1a 64-bit test vectors: "" and "a".
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
