//! Forward + backward time of the SupCon loss at the paper's CIFAR batch size.
//!
//! `cargo bench -p supcon-core --bench loss` (add `--profile dev` to reuse a test build).
//! `SUPCON_BENCH_STEPS` sets the number of timed repetitions (default 10) and
//! `SUPCON_BENCH_JSON=<file>` appends the figures as JSON lines.

use std::io::Write;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use supcon_core::{Positives, Summation, SupConLossConfig};

fn main() {
    let steps: usize = std::env::var("SUPCON_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let (batch, views, dim, classes) = (1024, 2, 128, 10);
    let device = Device::flex().autodiff();
    device.seed(0);
    let raw = Tensor::<3>::random([batch, views, dim], Distribution::Normal(0.0, 1.0), &device);
    let features = (raw.clone() / raw.powi_scalar(2).sum_dim(2).sqrt()).detach();
    let labels: Vec<i64> = (0..batch as i64).map(|i| (i * 7919) % classes).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), &device);

    println!(
        "SupCon loss, forward + backward, {batch} x {views} views x {dim}, t = 0.1, \
         {classes} classes, flex"
    );
    for summation in [Summation::Outside, Summation::Inside] {
        let loss = SupConLossConfig::new()
            .with_temperature(0.1)
            .with_summation(summation)
            .init();
        let run = || {
            let x = features.clone().require_grad();
            let start = Instant::now();
            let value = loss.forward(x.clone(), Positives::Labels(labels.clone()));
            let grads = value.backward();
            let grad = x.grad(&grads).expect("gradient");
            let _: f32 = grad.sum().into_scalar();
            start.elapsed().as_secs_f64()
        };
        run(); // warm-up
        let mut times: Vec<f64> = (0..steps).map(|_| run()).collect();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "  {summation:?}: median {:.1} ms, min {:.1} ms, max {:.1} ms over {steps} runs",
            median * 1e3,
            times[0] * 1e3,
            times[times.len() - 1] * 1e3
        );
        if let Ok(path) = std::env::var("SUPCON_BENCH_JSON") {
            let record = serde_json::json!({
                "bench": format!("supcon_loss_fwd_bwd_1024x2x128_{summation:?}").to_lowercase(),
                "median_s": median, "min_s": times[0], "max_s": times[times.len() - 1],
                "steps": steps, "device": "flex",
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
