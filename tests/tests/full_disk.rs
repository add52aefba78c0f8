//! Full disks and read-only places: writing a checkpoint, a report or a corrupted image tree onto
//! a nearly full filesystem fails with an error naming the file, keeps the previous files
//! intact and leaves no partial file under a name that a later run would trust; an output folder
//! that cannot be written is refused before training starts.
//!
//! Each test mounts a small tmpfs (`mount -t tmpfs -o size=512k`), which needs Linux and root
//! (as in CI); elsewhere the test prints why it is skipped and passes.

use std::path::Path;

use clap::Parser;
use supcon_eval::corruption::{Corruption, Severity};
use supcon_eval::robustness::{write_corrupted_folder, CorruptFolderConfig, ImageNetCFolder};
use supcon_tests::tmpfs::Tmpfs;
use supcon_train::{write_atomically, CheckpointStore, TrainError, TrainingPosition};

/// Mounts a tmpfs, or prints why it cannot and returns `None`.
fn mount(size: &str, read_only: bool) -> Option<Tmpfs> {
    match Tmpfs::mount(size, read_only) {
        Ok(mount) => Some(mount),
        Err(reason) => {
            println!("skipped: this test needs a tmpfs mount: {reason}");
            None
        }
    }
}

/// "No space left on device" as the operating system words it.
const ENOSPC: i32 = 28;

fn position(step: usize) -> TrainingPosition {
    TrainingPosition {
        stage: "supcon".into(),
        step,
        epoch: 0,
        batch: step,
        seed: 3,
        best_val_accuracy: None,
        best_epoch: None,
        metrics_bytes: 0,
        epoch_sums: Default::default(),
    }
}

/// Every path under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn a_checkpoint_on_a_full_disk_fails_and_the_previous_one_stays_loadable() {
    let Some(disk) = mount("512k", false) else {
        return;
    };
    let store = CheckpointStore::new(disk.path().join("checkpoints"), 2);
    let config = serde_json::json!({"supcon": {"epochs": 3}});
    let first: Vec<u8> = (0..96 * 1024).map(|i| (i % 251) as u8).collect();
    store
        .save(&position(10), &config, &[("model.bpk", &first)])
        .unwrap();

    let free = disk.fill(16 * 1024);
    let second = vec![7u8; 160 * 1024];
    let error = store
        .save(&position(20), &config, &[("model.bpk", &second)])
        .expect_err("a 160 KiB checkpoint cannot fit in the space left");
    println!("{free} bytes free; the write failed with: {error}");
    match &error {
        TrainError::Io { path, source } => {
            assert_eq!(source.raw_os_error(), Some(ENOSPC), "{error}");
            assert!(
                path.starts_with(store.dir()),
                "the error names {}",
                path.display()
            );
        }
        other => panic!("expected an I/O error naming the file, got {other}"),
    }
    assert!(error.to_string().contains("step-0000000020"), "{error}");

    // The previous checkpoint is the newest one a resumed run finds, byte for byte; the
    // failed one exists under no name that `latest` trusts.
    let latest = store
        .latest()
        .unwrap()
        .expect("the first checkpoint survives");
    assert_eq!(latest.position, position(10));
    assert_eq!(latest.read("model.bpk").unwrap(), first);
    let names: Vec<String> = store
        .list()
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["step-0000000010"]);

    // With space again, the next save succeeds and clears the unfinished temporary.
    std::fs::remove_file(disk.path().join("filler")).unwrap();
    store
        .save(&position(20), &config, &[("model.bpk", &second)])
        .unwrap();
    assert_eq!(store.latest().unwrap().unwrap().position, position(20));
    let leftovers: Vec<String> = tree(store.dir())
        .into_iter()
        .filter(|p| p.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporaries left: {leftovers:?}");
}

#[test]
fn an_atomic_file_write_on_a_full_disk_keeps_the_old_contents() {
    let Some(disk) = mount("512k", false) else {
        return;
    };
    let path = disk.path().join("config.json");
    write_atomically(&path, b"{\"old\": true}").unwrap();
    disk.fill(8 * 1024);
    let error = write_atomically(&path, &vec![b' '; 64 * 1024]).unwrap_err();
    assert!(error.to_string().contains("config.json"), "{error}");
    assert!(error.to_string().contains("No space left"), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"old\": true}");
}

#[test]
fn a_report_on_a_full_disk_fails_naming_it_and_keeps_the_previous_report() {
    let Some(disk) = mount("512k", false) else {
        return;
    };
    let run = xtask::run_dir::RunDir::create(disk.path()).unwrap();
    let report = run.path("report.json");
    let previous = serde_json::json!({"results": {"top1": 0.5}});
    xtask::run_dir::write_json(&report, &previous).unwrap();
    disk.fill(4 * 1024);

    let large = serde_json::json!({"results": {"top1": 0.75}, "padding": "x".repeat(64 * 1024)});
    let error = format!(
        "{:#}",
        xtask::run_dir::write_json(&report, &large).unwrap_err()
    );
    assert!(
        error.contains("report.json") && error.contains("No space left"),
        "{error}"
    );
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(kept, previous);

    let error = format!(
        "{:#}",
        xtask::run_dir::write_atomically(&run.path("report.md"), &[b'#'; 64 * 1024]).unwrap_err()
    );
    assert!(error.contains("report.md"), "{error}");
    assert!(!run.path("report.md").exists(), "no partial report.md");
}

#[test]
fn a_corrupted_tree_on_a_full_disk_fails_and_every_file_written_is_whole() {
    let Some(disk) = mount("512k", false) else {
        return;
    };
    let input = tempfile::tempdir().unwrap();
    for class in ["cat", "dog"] {
        std::fs::create_dir_all(input.path().join(class)).unwrap();
        for i in 0..6u32 {
            let image = image::RgbImage::from_fn(32, 32, |x, y| {
                image::Rgb([(x * 8 + i) as u8, (y * 8) as u8, ((x ^ y) * 4) as u8])
            });
            image
                .save(input.path().join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    let output = disk.path().join("cifar-c");
    disk.fill(24 * 1024);
    let config = CorruptFolderConfig {
        corruptions: vec![Corruption::GaussianNoise, Corruption::Contrast],
        severities: Severity::ALL.to_vec(),
        ..Default::default()
    };
    let context = xtask::corrupt::context(xtask::cli::Resolution::Cifar, None).unwrap();
    let error = write_corrupted_folder(input.path(), &output, &context, &config)
        .expect_err("120 JPEG files do not fit in 24 KiB")
        .to_string();
    assert!(error.contains(&output.display().to_string()), "{error}");
    assert!(error.contains("No space left"), "{error}");

    // What was written is whole: every file under a final name decodes, none is a temporary.
    // (The incomplete tree itself may not read back as a tree: a cell can lack a class.)
    let files = tree(&output);
    let temporaries: Vec<&String> = files.iter().filter(|p| p.ends_with(".tmp")).collect();
    assert!(
        temporaries.is_empty(),
        "partial files left: {temporaries:?}"
    );
    let images: Vec<&String> = files.iter().filter(|p| p.ends_with(".jpg")).collect();
    for file in &images {
        image::open(output.join(file)).unwrap_or_else(|e| panic!("{file} is not whole: {e}"));
    }
    println!(
        "{} whole files written before the disk filled: {error}",
        images.len()
    );

    // Resuming with space again completes the tree, which then reads back in full.
    std::fs::remove_file(disk.path().join("filler")).unwrap();
    let summary = write_corrupted_folder(input.path(), &output, &context, &config).unwrap();
    assert_eq!(summary.written + summary.skipped, 120);
    assert_eq!(summary.skipped, images.len());
    let tree = ImageNetCFolder::open(&output).unwrap();
    assert_eq!(tree.cells().len(), 10);
    for &(corruption, severity) in tree.cells() {
        let cell = tree.cell(corruption, severity).unwrap();
        assert_eq!(burn::data::dataset::Dataset::len(&cell), 12);
    }
}

#[test]
fn an_output_folder_that_cannot_be_written_is_refused_before_training() {
    let Some(read_only) = mount("64k", true) else {
        return;
    };
    let out = read_only.path().join("run");
    let error = format!("{:#}", xtask::run_dir::RunDir::create(&out).unwrap_err());
    assert!(
        error.contains(&out.display().to_string()) && error.contains("--out"),
        "{error}"
    );

    // The whole command stops there, before any stage: nothing can have been trained.
    let config = xtask::config::configs_dir().join("tiny.json");
    let cli = xtask::Cli::parse_from([
        "xtask".as_ref(),
        "reproduce".as_ref(),
        "synthetic".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let started = std::time::Instant::now();
    let error = format!("{:#}", xtask::run(cli).unwrap_err());
    assert!(error.contains("cannot create the output folder"), "{error}");
    println!(
        "refused after {:.2} s: {error}",
        started.elapsed().as_secs_f64()
    );

    // A folder that exists but whose filesystem went read-only is refused the same way.
    let Some(disk) = mount("64k", false) else {
        return;
    };
    let existing = disk.path().join("run");
    xtask::run_dir::RunDir::create(&existing).unwrap();
    disk.remount_read_only();
    let error = format!(
        "{:#}",
        xtask::run_dir::RunDir::create(&existing).unwrap_err()
    );
    assert!(
        error.contains("is not writable") && error.contains("run"),
        "{error}"
    );

    // So is a full disk.
    let Some(full) = mount("64k", false) else {
        return;
    };
    full.fill(0);
    let error = format!(
        "{:#}",
        xtask::run_dir::RunDir::create(full.path()).unwrap_err()
    );
    assert!(error.contains("is not writable"), "{error}");
}
