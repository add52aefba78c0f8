//! Peak memory and time of the one-shot loss against the row-blocked loss
//! ([`SupConLoss::forward_blocked`]) for large batches.
//!
//! `cargo bench -p supcon-core --bench loss_memory` (add `--profile dev` to reuse a test
//! build). `SUPCON_BENCH_SIZES=2048,8192,12288` sets the total number of rows N (= batch x 2
//! views), `SUPCON_BENCH_BLOCK` the block size (default 1024), and `SUPCON_BENCH_JSON=<file>`
//! appends the figures as JSON lines. Peak memory is the process's resident high-water mark,
//! reset before each measurement through `/proc/self/clear_refs` (Linux).

use std::io::Write;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use supcon_core::{Positives, SupConLoss, SupConLossConfig};

fn resident_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn measure(run: impl FnOnce()) -> (f64, f64) {
    reset_peak();
    let before = resident_kib("VmRSS:").unwrap_or(0);
    let start = Instant::now();
    run();
    let seconds = start.elapsed().as_secs_f64();
    let peak = resident_kib("VmHWM:").unwrap_or(0);
    (seconds, peak.saturating_sub(before) as f64 / 1024.0)
}

fn inputs(rows: usize, device: &Device) -> (Tensor<3>, Tensor<1, Int>) {
    let batch = rows / 2;
    let raw = Tensor::<3>::random([batch, 2, 128], Distribution::Normal(0.0, 1.0), device);
    let features = raw.clone() / raw.powi_scalar(2).sum_dim(2).sqrt();
    let labels: Vec<i64> = (0..batch as i64).map(|i| (i * 7919) % 1000).collect();
    (
        features,
        Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), device),
    )
}

fn one_shot(loss: &SupConLoss, rows: usize) {
    let device = Device::flex().autodiff();
    let (features, labels) = inputs(rows, &device);
    let x = features.require_grad();
    let value = loss.forward(x.clone(), Positives::Labels(labels));
    let grad = x.grad(&value.backward()).expect("gradient");
    let _: f32 = grad.sum().into_scalar();
}

fn blocked(loss: &SupConLoss, rows: usize, block: usize) {
    let device = Device::flex();
    let (features, labels) = inputs(rows, &device);
    let (_, grad) = loss.forward_blocked(features, Positives::Labels(labels), block);
    let _: f32 = grad.sum().into_scalar();
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SUPCON_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![2048, 8192, 12288]);
    let block: usize = std::env::var("SUPCON_BENCH_BLOCK")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let loss = SupConLossConfig::new().with_temperature(0.1).init();
    Device::flex().seed(0);

    println!("SupCon loss + gradient, 128-d, 2 views, flex: one-shot vs blocks of {block} anchors");
    println!(
        "{:>7} | {:>10} {:>12} | {:>10} {:>12}",
        "N", "one-shot s", "peak MiB", "blocked s", "peak MiB"
    );
    for rows in sizes {
        let (t_full, m_full) = measure(|| one_shot(&loss, rows));
        let (t_block, m_block) = measure(|| blocked(&loss, rows, block));
        println!("{rows:>7} | {t_full:>10.2} {m_full:>12.0} | {t_block:>10.2} {m_block:>12.0}");
        if let Ok(path) = std::env::var("SUPCON_BENCH_JSON") {
            let record = serde_json::json!({
                "bench": format!("supcon_loss_memory_n{rows}"),
                "rows": rows, "block": block,
                "one_shot_s": t_full, "one_shot_peak_mib": m_full,
                "blocked_s": t_block, "blocked_peak_mib": m_block, "device": "flex",
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
