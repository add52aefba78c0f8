use burn::data::dataset::Dataset;
use supcon_data::{Split, SyntheticConfig};
#[test]
fn dump() {
    for size in [16u32, 32] {
        let ds = SyntheticConfig::new().with_num_classes(4).with_samples_per_class(8).with_image_size(size).init(Split::Train).unwrap();
        let mut canvas = image::RgbImage::new(size * 8, size * 4);
        for i in 0..32 { let it = ds.get(i).unwrap(); let (x, y) = ((i / 4) as u32 * size, it.label as u32 * size);
            image::imageops::overlay(&mut canvas, &it.image, x as i64, y as i64); }
        let canvas = image::imageops::resize(&canvas, size*8*4, size*4*4, image::imageops::FilterType::Nearest);
        canvas.save(format!("/tmp/synth{size}.png")).unwrap();
    }
}
