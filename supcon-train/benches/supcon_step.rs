//! Stage-1 SupCon training steps per second: CIFAR ResNet-18, 64 images x 2 views at 32 px.
//!
//! Run with `cargo bench --profile dev -p supcon-train --bench supcon_step`. Set
//! `SUPCON_BENCH_JSON=<path>` to append the result as one JSON line; `SUPCON_BENCH_STEPS` and
//! `SUPCON_BENCH_WARMUP` change the number of timed and warm-up steps (default 5 and 2).
//!
//! The step is forward, loss, backward and SGD update on random normalised images (data
//! loading excluded), the same work as the PyTorch figure in the reference timings.

use std::io::Write;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use supcon_core::{Positives, SupConLossConfig};
use supcon_models::{ResNetConfig, SupConModelConfig};
use supcon_train::{supcon_step, OptimizerConfig};

const BATCH: usize = 64;
const VIEWS: usize = 2;
const IMAGE: usize = 32;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let steps = env_usize("SUPCON_BENCH_STEPS", 5).max(1);
    let warmup = env_usize("SUPCON_BENCH_WARMUP", 2);
    let device = Device::flex().autodiff();
    device.seed(0);

    let mut model = SupConModelConfig::new(ResNetConfig::resnet18_cifar()).init(&device);
    let mut optimizer = OptimizerConfig::sgd(1e-4).init();
    let loss = SupConLossConfig::new().with_temperature(0.1).init();
    let labels: Vec<i64> = (0..BATCH as i64).map(|i| i % 10).collect();

    let mut seconds = Vec::with_capacity(steps);
    for step in 0..warmup + steps {
        let images = Tensor::<4>::random(
            [VIEWS * BATCH, 3, IMAGE, IMAGE],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels.clone(), [BATCH]), &device);
        let start = Instant::now();
        let (next, value) = supcon_step(
            model,
            &mut optimizer,
            &loss,
            images,
            Positives::Labels(labels),
            VIEWS,
            0.05,
        )
        .expect("the benchmark loss stays finite");
        model = next;
        // The loss read inside the step synchronises the forward pass; sync the update too.
        device.sync().expect("the device synchronises");
        let elapsed = start.elapsed().as_secs_f64();
        let phase = if step < warmup { "warm-up" } else { "timed" };
        eprintln!(
            "step {step} ({phase}): {elapsed:.3} s, loss {:.4}",
            value.total
        );
        if step >= warmup {
            seconds.push(elapsed);
        }
    }

    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "supcon_step: CIFAR ResNet-18, {BATCH} x {VIEWS} views, {IMAGE} px, flex autodiff, \
         {threads} threads: median {median:.3} s/step = {:.3} steps/s ({:.1} images/s) over \
         {steps} steps",
        1.0 / median,
        BATCH as f64 / median
    );

    if let Ok(path) = std::env::var("SUPCON_BENCH_JSON") {
        let line = serde_json::json!({
            "bench": "supcon_step",
            "model": "resnet18_cifar",
            "batch": BATCH,
            "views": VIEWS,
            "image_size": IMAGE,
            "device": "flex",
            "threads": threads,
            "steps": steps,
            "median_seconds_per_step": median,
            "steps_per_second": 1.0 / median,
            "seconds": seconds,
        });
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        writeln!(file, "{line}").unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
    }
}
