//! `cargo xtask corrupt`: ImageNet-C-style corrupted copies of an image tree, or of one image.

use std::path::Path;

use anyhow::{bail, Context, Result};
use supcon_eval::corruption::{corrupt, Corruption, CorruptionContext, FrostTextures, Severity};
use supcon_eval::robustness::{write_corrupted_folder, CorruptFolderConfig};

use crate::cli::{CorruptArgs, Resolution};

/// Parses corruption names (`gaussian_noise`, ...); empty means all 19.
///
/// # Errors
/// An unknown name, listing the valid ones.
pub fn parse_corruptions(names: &[String]) -> Result<Vec<Corruption>> {
    if names.is_empty() {
        return Ok(Corruption::ALL.to_vec());
    }
    names
        .iter()
        .map(|name| {
            Corruption::ALL
                .into_iter()
                .find(|c| c.name() == name.trim())
                .with_context(|| {
                    let valid: Vec<_> = Corruption::ALL.iter().map(|c| c.name()).collect();
                    format!(
                        "unknown corruption `{name}`; valid names are {}",
                        valid.join(", ")
                    )
                })
        })
        .collect()
}

/// Parses severities; empty means 1 to 5.
///
/// # Errors
/// A severity outside 1..=5.
pub fn parse_severities(levels: &[u8]) -> Result<Vec<Severity>> {
    if levels.is_empty() {
        return Ok(Severity::ALL.to_vec());
    }
    levels
        .iter()
        .map(|&level| {
            Severity::new(level).map_err(|_| anyhow::anyhow!("severity {level} is not in 1..=5"))
        })
        .collect()
}

/// The corruption context for a parameter set, with the benchmark's frost textures when a
/// folder is given.
///
/// # Errors
/// When the frost folder cannot be read.
pub fn context(resolution: Resolution, frost_dir: Option<&Path>) -> Result<CorruptionContext> {
    let context = match resolution {
        Resolution::Imagenet => CorruptionContext::imagenet(),
        Resolution::Cifar => CorruptionContext::cifar(),
    };
    Ok(match frost_dir {
        Some(dir) => context.with_frost(
            FrostTextures::load_dir(dir)
                .with_context(|| format!("cannot read the frost textures in {}", dir.display()))?,
        ),
        None => context,
    })
}

/// Runs `corrupt`.
///
/// # Errors
/// A missing input, unknown corruption names, bad severities, unreadable images, or a write
/// failure.
pub fn run_corrupt(args: &CorruptArgs) -> Result<()> {
    let corruptions = parse_corruptions(&args.corruptions)?;
    let severities = parse_severities(&args.severities)?;
    let context = context(args.resolution, args.frost_dir.as_deref())?;
    if context.frost.is_none() && corruptions.contains(&Corruption::Frost) {
        log::warn!(
            "frost uses a procedural texture (approximate); pass --frost-dir for the benchmark's"
        );
    }

    if args.input.is_file() {
        let ([corruption], [severity]) = (corruptions.as_slice(), severities.as_slice()) else {
            bail!(
                "a single input image takes exactly one corruption and one severity \
                 (e.g. --corruptions fog --severities 3); got {} and {}",
                corruptions.len(),
                severities.len()
            );
        };
        let image = image::open(&args.input)
            .with_context(|| format!("cannot read the image {}", args.input.display()))?
            .to_rgb8();
        let output = corrupt(&image, *corruption, *severity, args.seed, &context)
            .with_context(|| format!("cannot corrupt {}", args.input.display()))?;
        if let Some(parent) = args.output.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        output
            .save(&args.output)
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        println!(
            "wrote {} ({corruption}, severity {severity})",
            args.output.display()
        );
        return Ok(());
    }
    if !args.input.is_dir() {
        bail!(
            "the input {} does not exist; give a folder of class folders (<class>/<image>) or one image",
            args.input.display()
        );
    }

    let config = CorruptFolderConfig {
        corruptions,
        severities,
        seed: args.seed,
        progress: true,
        ..CorruptFolderConfig::default()
    };
    let summary = write_corrupted_folder(&args.input, &args.output, &context, &config)
        .with_context(|| format!("cannot corrupt {}", args.input.display()))?;
    println!(
        "{}: {}",
        args.output.display(),
        serde_json::to_string(&summary).unwrap_or_default()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_levels_parse_and_bad_ones_are_named() {
        let names = ["fog".to_string(), "jpeg_compression".to_string()];
        assert_eq!(
            parse_corruptions(&names).unwrap(),
            [Corruption::Fog, Corruption::JpegCompression]
        );
        assert_eq!(parse_corruptions(&[]).unwrap().len(), 19);
        let err = parse_corruptions(&["fogg".to_string()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown corruption `fogg`") && err.contains("gaussian_noise"),
            "{err}"
        );
        assert_eq!(parse_severities(&[]).unwrap().len(), 5);
        assert!(parse_severities(&[6])
            .unwrap_err()
            .to_string()
            .contains("severity 6"));
    }
}
