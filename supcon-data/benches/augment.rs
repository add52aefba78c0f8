//! Throughput of the two-view augmentation pipelines, from files on disk to stacked batches.
//!
//! (a) CIFAR SupCon pipeline at 32 px from a CIFAR-10 binary file, (b) ImageNet SimAugment at
//! 224 px from 500x375 JPEG files; each on a pool of one thread and on all cores. Figures are
//! source images per second (each yields two views): per wall-clock second, and per second of
//! CPU time consumed by the process (read from `/proc` on Linux), which stays meaningful when
//! other work shares the machine. Run with
//! `cargo bench --profile dev -p supcon-data --bench augment`; set `SUPCON_BENCH_JSON=<path>` to
//! append one JSON object per figure to that file.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataset::Dataset;
use rayon::prelude::*;
use supcon_data::{
    CifarDataset, ImageFolderConfig, LabeledImage, LoaderConfig, MultiView, Normalize, Preset,
    Split, SyntheticConfig,
};

/// torchvision 0.29 on one thread of the reference machine (`perf_baselines.md`), images/s.
const TORCHVISION_CIFAR: f64 = 425.0;
const TORCHVISION_IMAGENET: f64 = 37.0;

struct Figure {
    pipeline: &'static str,
    threads: usize,
    rate: Rate,
    torchvision_per_core: f64,
}

/// Images per wall-clock second, and per CPU second when the platform reports CPU time.
struct Rate {
    wall: f64,
    cpu: Option<f64>,
}

/// CPU time used so far by all live threads of this process, in seconds (Linux only).
fn process_cpu_seconds() -> Option<f64> {
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<f64>().ok()? / 1e9;
    }
    Some(total)
}

/// Writes a CIFAR-10 `test_batch.bin` of 10000 synthetic 32 px images.
fn write_cifar(dir: &Path) {
    let source = SyntheticConfig::new()
        .with_samples_per_class(1000)
        .init(Split::Test)
        .unwrap();
    let records: Vec<Vec<u8>> = (0..source.len())
        .into_par_iter()
        .map(|i| {
            let item = source.get(i).unwrap();
            let mut record = vec![item.label as u8];
            for c in 0..3 {
                record.extend(item.image.pixels().map(|p| p.0[c]));
            }
            record
        })
        .collect();
    std::fs::write(dir.join("test_batch.bin"), records.concat()).unwrap();
}

/// Writes `count` 500x375 JPEGs (quality 90) of drawn shapes with texture and noise, in three
/// class folders.
fn write_jpegs(dir: &Path, count: usize) {
    let source = SyntheticConfig::new()
        .with_num_classes(3)
        .with_samples_per_class(count.div_ceil(3))
        .with_image_size(500)
        .init(Split::Train)
        .unwrap();
    (0..count).into_par_iter().for_each(|i| {
        let item = source.get(i).unwrap();
        let image = image::imageops::crop_imm(&item.image, 0, 60, 500, 375).to_image();
        let class = dir.join(format!("class_{}", item.label));
        std::fs::create_dir_all(&class).unwrap();
        let file = std::fs::File::create(class.join(format!("{i:05}.jpg"))).unwrap();
        let mut encoder =
            image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 90);
        encoder.encode_image(&image).unwrap();
    });
}

/// Throughput of a loader over the first batches of an epoch, after one warm-up batch. Batches
/// are built on demand (no prefetch), so the CPU time measured is exactly that of the batches
/// counted.
fn measure(
    dataset: Arc<dyn Dataset<LabeledImage>>,
    preset: Preset,
    size: u32,
    normalize: Normalize,
    batch_size: usize,
    threads: usize,
    images: usize,
) -> Rate {
    let views = MultiView::new(preset.build(size), 2, normalize);
    let loader = LoaderConfig::new(batch_size)
        .with_num_threads(Some(threads))
        .with_prefetch_batches(0)
        .with_seed(1)
        .init(dataset, views)
        .unwrap();
    let batches = (images / batch_size).clamp(2, loader.num_batches());
    let mut iter = loader.iter_epoch_host(0, 0);
    iter.next().unwrap().unwrap();
    let (start, cpu_start) = (Instant::now(), process_cpu_seconds());
    let mut count = 0;
    for batch in iter.by_ref().take(batches - 1) {
        count += batch.unwrap().batch_size();
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_start.zip(process_cpu_seconds()).map(|(a, b)| b - a);
    Rate {
        wall: count as f64 / wall,
        cpu: cpu.map(|seconds| count as f64 / seconds),
    }
}

fn main() {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let dir = tempfile::tempdir().unwrap();
    let mut figures = Vec::new();

    println!(
        "preparing a CIFAR-10 binary file and 300 JPEG files in {}",
        dir.path().display()
    );
    let cifar_dir = dir.path().join("cifar");
    std::fs::create_dir_all(&cifar_dir).unwrap();
    write_cifar(&cifar_dir);
    let jpeg_dir = dir.path().join("jpeg");
    write_jpegs(&jpeg_dir, 300);

    let cifar: Arc<dyn Dataset<LabeledImage>> =
        Arc::new(CifarDataset::cifar10(&cifar_dir, Split::Test).unwrap());
    let folder: Arc<dyn Dataset<LabeledImage>> =
        Arc::new(ImageFolderConfig::new(jpeg_dir).init().unwrap());

    for threads in [1, cores] {
        let rate = measure(
            cifar.clone(),
            Preset::CifarSupCon,
            32,
            Normalize::cifar10(),
            256,
            threads,
            if threads == 1 { 3072 } else { 8192 },
        );
        figures.push(Figure {
            pipeline: "cifar_supcon two views, 32 px, binary file",
            threads,
            rate,
            torchvision_per_core: TORCHVISION_CIFAR,
        });
        let rate = measure(
            folder.clone(),
            Preset::SimAugment,
            224,
            Normalize::imagenet(),
            32,
            threads,
            if threads == 1 { 160 } else { 288 },
        );
        figures.push(Figure {
            pipeline: "sim_augment two views, 224 px, 500x375 JPEG",
            threads,
            rate,
            torchvision_per_core: TORCHVISION_IMAGENET,
        });
    }

    println!();
    println!(
        "| pipeline | threads | images/s | images/s per thread | images per CPU-second | \
         torchvision, 1 thread | ratio per core |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for f in &figures {
        let per_thread = f.rate.wall / f.threads as f64;
        // Per core: CPU-time based when available, else wall-clock per thread.
        let per_core = f.rate.cpu.unwrap_or(per_thread);
        let cpu = f.rate.cpu.map_or("n/a".to_string(), |r| format!("{r:.0}"));
        println!(
            "| {} | {} | {:.0} | {:.0} | {} | {:.0} | {:.1}x |",
            f.pipeline,
            f.threads,
            f.rate.wall,
            per_thread,
            cpu,
            f.torchvision_per_core,
            per_core / f.torchvision_per_core
        );
    }

    if let Ok(path) = std::env::var("SUPCON_BENCH_JSON") {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        for f in &figures {
            let per_thread = f.rate.wall / f.threads as f64;
            let per_core = f.rate.cpu.unwrap_or(per_thread);
            let record = serde_json::json!({
                "bench": "augment",
                "pipeline": f.pipeline,
                "views": 2,
                "threads": f.threads,
                "cores": cores,
                "images_per_second": f.rate.wall,
                "images_per_second_per_thread": per_thread,
                "images_per_cpu_second": f.rate.cpu,
                "torchvision_images_per_second_one_thread": f.torchvision_per_core,
                "ratio_per_core": per_core / f.torchvision_per_core,
            });
            writeln!(file, "{record}").unwrap();
        }
    }
}
