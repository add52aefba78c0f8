//! Peak memory and time per sample of a SupCon step with the gradient cache, against N, and
//! of the one-shot step where it fits.
//!
//! `cargo bench -p supcon-train --bench grad_cache` (add `--profile dev` to reuse a test
//! build). Environment: `SUPCON_BENCH_BATCHES` (samples per batch, default `64,256,1024`),
//! `SUPCON_BENCH_CHUNK` (image rows per chunk, default 128), `SUPCON_BENCH_ONE_SHOT_MAX`
//! (largest batch also run one-shot, default 256), `SUPCON_BENCH_WIDTH` (ResNet-18 width
//! multiplier, default 1), `SUPCON_BENCH_BLOCK` (loss row block, default 2048),
//! `SUPCON_BENCH_JSON=<file>` to append JSON lines. Peak memory is the resident high-water
//! mark, reset through `/proc/self/clear_refs` before each measurement (Linux).

use std::io::Write;
use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Distribution;
use supcon_core::{views_to_features, Positives, SupConLossConfig};
use supcon_models::{ResNetConfig, SupConModelConfig};
use supcon_train::supcon_step_cached;

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

fn env_value<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Runs one measurement (`mode` is `cached` or `one_shot`) in a child process and returns its
/// seconds and peak MiB.
fn measure(mode: &str, batch: usize) -> (f64, f64) {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let output = std::process::Command::new(exe)
        .env("SUPCON_BENCH_CHILD", format!("{mode}:{batch}"))
        .output()
        .expect("run the measurement process");
    assert!(
        output.status.success(),
        "{mode} at batch {batch} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("a RESULT line");
    let mut parts = line
        .split_whitespace()
        .map(|x| x.parse::<f64>().expect("a number"));
    (parts.next().unwrap(), parts.next().unwrap())
}

/// One measurement, in this (fresh) process.
fn child(mode: &str, batch: usize) {
    let width: f64 = env_value("SUPCON_BENCH_WIDTH", 1.0);
    let chunk: usize = env_value("SUPCON_BENCH_CHUNK", 128);
    let block: usize = env_value("SUPCON_BENCH_BLOCK", 2048);
    let views = 2;
    let device = Device::flex().autodiff();
    device.seed(0);
    let encoder = ResNetConfig::resnet18_cifar().with_width_multiplier(width);
    let model = SupConModelConfig::new(encoder).init(&device);
    let loss = SupConLossConfig::new().with_temperature(0.1).init();
    let shape = [batch * views, 3, 32, 32];
    let images = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let labels: Vec<i64> = (0..batch as i64).map(|i| i % 10).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), &device);
    let positives = Positives::Labels(labels);

    let start = Instant::now();
    if mode == "cached" {
        let step = supcon_step_cached(&model, &loss, images, positives, views, chunk, Some(block));
        assert!(step.loss.is_finite());
    } else {
        let z = model.forward(images);
        let value = loss.forward(views_to_features(z, views), positives);
        let grads = GradientsParams::from_grads(value.backward(), &model);
        assert!(!grads.is_empty());
    }
    let seconds = start.elapsed().as_secs_f64();
    println!("RESULT {seconds} {}", kib("VmHWM:") as f64 / 1024.0);
}

fn main() {
    if let Ok(spec) = std::env::var("SUPCON_BENCH_CHILD") {
        let (mode, batch) = spec.split_once(':').expect("mode:batch");
        child(mode, batch.parse().expect("a batch size"));
        return;
    }
    let batches = env_list("SUPCON_BENCH_BATCHES", &[64, 256, 1024]);
    let chunk: usize = env_value("SUPCON_BENCH_CHUNK", 128);
    let one_shot_max: usize = env_value("SUPCON_BENCH_ONE_SHOT_MAX", 256);
    let width: f64 = env_value("SUPCON_BENCH_WIDTH", 1.0);
    let block: usize = env_value("SUPCON_BENCH_BLOCK", 2048);
    let views = 2;

    println!("SupCon step (forward + backward), CIFAR ResNet-18 x{width}, 32 px, 2 views, flex");
    println!("chunk {chunk} rows, loss blocks of {block} anchors; peak = resident high-water mark");
    println!(
        "{:>7} | {:>12} {:>10} | {:>12} {:>10}",
        "batch", "cached s/img", "peak MiB", "one-shot", "peak MiB"
    );
    for batch in batches {
        let (cached_s, cached_peak) = measure("cached", batch);
        let (one_shot_s, one_shot_peak) = if batch <= one_shot_max {
            let (s, m) = measure("one_shot", batch);
            (Some(s), Some(m))
        } else {
            (None, None)
        };
        let per_image = one_shot_s.map_or("-".to_string(), |s| format!("{:.4}", s / batch as f64));
        let peak = one_shot_peak.map_or("-".to_string(), |m| format!("{m:.0}"));
        println!(
            "{batch:>7} | {:>12.4} {cached_peak:>10.0} | {per_image:>12} {peak:>10}",
            cached_s / batch as f64
        );
        if let Ok(path) = std::env::var("SUPCON_BENCH_JSON") {
            let record = serde_json::json!({
                "bench": format!("supcon_grad_cache_b{batch}"),
                "batch": batch, "views": views, "chunk_rows": chunk, "width": width,
                "block_rows": block,
                "cached_s_per_image": cached_s / batch as f64, "cached_peak_mib": cached_peak,
                "one_shot_s_per_image": one_shot_s.map(|s| s / batch as f64),
                "one_shot_peak_mib": one_shot_peak, "device": "flex",
            });
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
            writeln!(file, "{record}").expect("write bench JSON");
        }
    }
}
