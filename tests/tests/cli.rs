//! The runner's command-line errors: each bad input stops before any training with a message
//! that names the problem and says how to fix it.

use clap::{CommandFactory, Parser};

/// Runs `cargo xtask <args>` in-process and returns its error message.
fn error_of(args: &[&str]) -> String {
    let argv = std::iter::once("xtask").chain(args.iter().copied());
    let cli = match xtask::Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => return e.to_string(),
    };
    match xtask::run(cli) {
        Ok(()) => panic!("`xtask {}` succeeded", args.join(" ")),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn the_command_line_definition_is_consistent() {
    // clap's own checks: no clashing flags, valid defaults, every subcommand documented.
    xtask::Cli::command().debug_assert();
    for sub in xtask::Cli::command().get_subcommands() {
        assert!(
            sub.get_about().is_some(),
            "`{}` has no help text",
            sub.get_name()
        );
    }
}

#[test]
fn a_missing_data_folder_says_which_layout_is_expected_and_where_to_get_it() {
    let out = tempfile::tempdir().unwrap();
    let out = out.path().to_str().unwrap();
    let message = error_of(&["reproduce", "cifar10", "--out", out]);
    assert!(message.contains("needs --data DIR"), "{message}");
    assert!(message.contains("data_batch_1.bin"), "{message}");
    assert!(
        message.contains("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"),
        "{message}"
    );

    let message = error_of(&[
        "reproduce",
        "imagenet",
        "--data",
        "/nonexistent/ilsvrc",
        "--out",
        out,
    ]);
    assert!(
        message.contains("/nonexistent/ilsvrc does not exist"),
        "{message}"
    );
    assert!(message.contains("train/<wnid>/*.JPEG"), "{message}");

    // A folder without the train/ and val/ split.
    let empty = tempfile::tempdir().unwrap();
    let message = error_of(&[
        "reproduce",
        "folder",
        "--data",
        empty.path().to_str().unwrap(),
        "--out",
        out,
    ]);
    assert!(message.contains("has no train/ folder"), "{message}");
}

#[test]
fn a_bad_override_key_is_named_with_the_valid_keys() {
    let message = error_of(&["reproduce", "--set", "supcon.temprature=0.5"]);
    assert!(
        message.contains("unknown configuration key `supcon.temprature`"),
        "{message}"
    );
    assert!(message.contains("supcon.loss.temperature"), "{message}");
    assert!(message.contains("evaluation.severities"), "{message}");

    let message = error_of(&["reproduce", "--set", "supcon.epochs=many"]);
    assert!(
        message.contains("`supcon.epochs` takes a number, got `many`"),
        "{message}"
    );

    let message = error_of(&["reproduce", "--set", "supcon.loss.temperature=0"]);
    assert!(
        message.contains("`supcon.loss.temperature` = 0 is out of range: finite and > 0"),
        "{message}"
    );

    let message = error_of(&["reproduce", "--set", "epochs"]);
    assert!(
        message.contains("is not of the form KEY=VALUE"),
        "{message}"
    );
}

#[test]
fn an_unknown_device_lists_the_devices() {
    let message = error_of(&["reproduce", "--device", "tpu"]);
    assert!(message.contains("invalid value 'tpu'"), "{message}");
    for device in ["cpu", "ndarray", "wgpu", "cuda"] {
        assert!(message.contains(device), "{message}");
    }
}

#[test]
fn a_gpu_device_without_its_feature_says_how_to_build_it() {
    if xtask::device::built_with("wgpu") {
        return;
    }
    let message = error_of(&["reproduce", "--device", "wgpu"]);
    assert!(message.contains("needs the `wgpu` feature"), "{message}");
    assert!(
        message.contains("cargo run -p xtask --features wgpu"),
        "{message}"
    );
}

#[test]
fn an_unwritable_output_folder_fails_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let out = file.join("run");
    let message = error_of(&["reproduce", "--out", out.to_str().unwrap()]);
    assert!(
        message.contains("cannot create the output folder"),
        "{message}"
    );
    assert!(message.contains("not-a-folder/run"), "{message}");
}

#[test]
fn corrupt_rejects_unknown_corruptions_and_severities() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    image::RgbImage::from_pixel(32, 32, image::Rgb([90, 120, 200]))
        .save(&input)
        .unwrap();
    let input = input.to_str().unwrap();
    let output = dir.path().join("out.png");
    let output = output.to_str().unwrap();
    let message = error_of(&[
        "corrupt",
        "--input",
        input,
        "--output",
        output,
        "--corruptions",
        "fogg",
    ]);
    assert!(message.contains("unknown corruption `fogg`"), "{message}");
    let message = error_of(&[
        "corrupt",
        "--input",
        input,
        "--output",
        output,
        "--corruptions",
        "fog",
        "--severities",
        "6",
    ]);
    assert!(message.contains("severity 6 is not in 1..=5"), "{message}");
    let message = error_of(&["corrupt", "--input", input, "--output", output]);
    assert!(
        message.contains("exactly one corruption and one severity"),
        "{message}"
    );
}

#[test]
fn corrupt_writes_one_corrupted_image() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    let original = image::RgbImage::from_fn(32, 32, |x, y| {
        image::Rgb([(8 * x) as u8, (8 * y) as u8, 128])
    });
    original.save(&input).unwrap();
    let output = dir.path().join("nested/out.png");
    let cli = xtask::Cli::parse_from([
        "xtask",
        "corrupt",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--corruptions",
        "contrast",
        "--severities",
        "5",
        "--resolution",
        "cifar",
    ]);
    xtask::run(cli).unwrap();
    let corrupted = image::open(&output).unwrap().to_rgb8();
    assert_eq!(corrupted.dimensions(), (32, 32));
    // Contrast at severity 5 pulls every pixel towards the mean: the spread must shrink.
    let spread = |image: &image::RgbImage| {
        let values: Vec<f64> = image.pixels().map(|p| f64::from(p[0])).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt()
    };
    assert!(
        spread(&corrupted) < 0.5 * spread(&original),
        "{} vs {}",
        spread(&corrupted),
        spread(&original)
    );
}
