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
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn measure(run: impl FnOnce()) -> (f64, f64) {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let start = Instant::now();
    run();
    (start.elapsed().as_secs_f64(), kib("VmHWM:") as f64 / 1024.0)
}

fn main() {
    let batches = env_list("SUPCON_BENCH_BATCHES", &[64, 256, 1024]);
    let chunk: usize = env_value("SUPCON_BENCH_CHUNK", 128);
    let one_shot_max: usize = env_value("SUPCON_BENCH_ONE_SHOT_MAX", 256);
    let width: f64 = env_value("SUPCON_BENCH_WIDTH", 1.0);
    let block: usize = env_value("SUPCON_BENCH_BLOCK", 2048);
    let device = Device::flex().autodiff();
    device.seed(0);
    let model = SupConModelConfig::new(ResNetConfig::resnet18_cifar().with_width_multiplier(width))
        .init(&device);
    let loss = SupConLossConfig::new().with_temperature(0.1).init();
    let views = 2;

    println!("SupCon step (forward + backward), CIFAR ResNet-18 x{width}, 32 px, 2 views, flex");
    println!("chunk {chunk} rows, loss blocks of {block} anchors; peak = process resident high-water mark");
    println!("{:>7} | {:>12} {:>10} | {:>12} {:>10}", "batch", "cached s/img", "peak MiB", "one-shot", "peak MiB");
    for batch in batches {
        let images = Tensor::<4>::random([batch * views, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
        let labels: Vec<i64> = (0..batch as i64).map(|i| i % 10).collect();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), &device);

        let (cached_s, cached_peak) = measure(|| {
            let step = supcon_step_cached(
                &model, &loss, images.clone(), Positives::Labels(labels.clone()), views, chunk, Some(block),
            );
            assert!(step.loss.is_finite());
        });
        let (one_shot_s, one_shot_peak) = if batch <= one_shot_max {
            let (s, m) = measure(|| {
                let z = model.forward(images.clone());
                let value = loss.forward(views_to_features(z, views), Positives::Labels(labels.clone()));
                let grads = GradientsParams::from_grads(value.backward(), &model);
                assert!(!grads.is_empty());
            });
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
                "cached_s_per_image": cached_s / batch as f64, "cached_peak_mib": cached_peak,
                "one_shot_s_per_image": one_shot_s.map(|s| s / batch as f64),
                "one_shot_peak_mib": one_shot_peak, "device": "flex",
            });
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)
                .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
            writeln!(file, "{record}").expect("write bench JSON");
        }
    }
}
