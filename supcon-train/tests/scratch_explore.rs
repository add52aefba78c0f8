mod common;
use burn::prelude::*;
use common::*;
use supcon_models::SupConModelConfig;
use supcon_train::*;

fn last(dir: &std::path::Path) -> String {
    let e: Vec<EpochMetrics> = read_metrics(&dir.join(METRICS_FILE)).unwrap().into_iter().filter_map(|r| if let MetricsRecord::Epoch(e) = r { Some(e) } else { None }).collect();
    let f = |e: &EpochMetrics| format!("l {:.2} t {:.2} v {:.2}", e.loss, e.train_acc.unwrap_or(-1.0), e.val_acc.unwrap_or(-1.0));
    e.iter().map(f).collect::<Vec<_>>().join(" | ")
}

#[test]
fn explore() {
    let device = Device::flex();
    let train = Stripes::dataset(96, 1);
    let valid = Stripes::dataset(60, 2);
    for lr in [0.05, 0.1] {
        let dir = tempfile::tempdir().unwrap();
        let config = CrossEntropyTrainingConfig::new(tiny_encoder(), 4, 16)
            .with_data(tiny_data()).with_schedule(LrScheduleConfig::new(lr)).with_seed(1);
        let t = std::time::Instant::now();
        train_cross_entropy(&config, dir.path(), &train, Some(&valid), &device, &TrainOptions::quiet()).unwrap();
        println!("CE lr {lr}: {} {:?}", last(dir.path()), t.elapsed());
    }
    for (e1, lr1) in [(4, 0.1), (0, 0.1)] {
        let run = tempfile::tempdir().unwrap();
        let t = std::time::Instant::now();
        let encoder = if e1 > 0 {
            let c = SupConTrainingConfig::new(SupConModelConfig::new(tiny_encoder()), e1, 16).with_data(tiny_data()).with_schedule(LrScheduleConfig::new(lr1)).with_seed(3);
            let e = train_supcon(&c, &run.path().join("s1"), &train, &device, &TrainOptions::quiet()).unwrap().model.encoder;
            println!("S1 {e1}: {} {:?}", last(&run.path().join("s1")), t.elapsed()); e
        } else { tiny_encoder().init(&device.clone().autodiff()) };
        for lr2 in [0.05, 0.2] {
        let config = LinearProbeConfig::new(4, 16).with_data(tiny_data()).with_schedule(LrScheduleConfig::new(lr2)).with_seed(5);
        let dir = run.path().join(format!("lin{lr2}"));
        train_linear_probe(&config, &dir, &encoder, &train, Some(&valid), &device, &TrainOptions::quiet()).unwrap();
        println!("probe s1 {e1} lr2 {lr2}: {} {:?}", last(&dir), t.elapsed());
        }
    }
}
