mod common;
use burn::prelude::*;
use common::*;
use supcon_models::SupConModelConfig;
use supcon_train::*;
#[test]
fn det() {
    let train = Stripes::dataset(128, 1);
    let dir = tempfile::tempdir().unwrap();
    let c = SupConTrainingConfig::new(SupConModelConfig::new(tiny_encoder()), 2, 32).with_data(tiny_data()).with_seed(3);
    let o = train_supcon(&c, dir.path(), &train, &Device::flex(), &TrainOptions::quiet()).unwrap();
    let t = common::tensors(&o.model);
    let h: u64 = t.iter().flat_map(|(_, v)| v.iter()).fold(0u64, |h, x| h.wrapping_mul(31).wrapping_add(x.to_bits() as u64));
    println!("DET loss {:?} hash {h:x}", o.summary.last_epoch.unwrap().loss);
}
