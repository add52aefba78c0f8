//! Reliability diagrams and line charts are written as readable PNG and SVG files.

use supcon_eval::{
    plot_lines, plot_reliability_diagram, Binning, EvalError, EvalOutputs, ReliabilityBins,
};

fn bins(binning: Binning) -> ReliabilityBins {
    let rows: [[f32; 3]; 10] = [
        [0.90, 0.05, 0.05],
        [0.10, 0.85, 0.05],
        [0.20, 0.30, 0.50],
        [0.62, 0.28, 0.10],
        [0.35, 0.42, 0.23],
        [0.05, 0.05, 0.90],
        [0.25, 0.70, 0.05],
        [0.88, 0.07, 0.05],
        [0.48, 0.47, 0.05],
        [1.00, 0.00, 0.00],
    ];
    let outputs = EvalOutputs::from_rows(&rows, &[0, 1, 1, 0, 0, 2, 0, 1, 0, 2]).unwrap();
    ReliabilityBins::from_outputs(&outputs, 15, binning).unwrap()
}

/// How many pixels are neither white nor grey: the coloured bars and lines.
fn coloured_pixels(image: &image::RgbImage) -> usize {
    image
        .pixels()
        .filter(|p| p.0.iter().max().unwrap() - p.0.iter().min().unwrap() > 40)
        .count()
}

#[test]
fn a_reliability_diagram_png_decodes_at_the_requested_size() {
    let dir = tempfile::tempdir().unwrap();
    for binning in [
        Binning::EqualWidth,
        Binning::TorchMetrics,
        Binning::EqualMass,
    ] {
        let path = dir.path().join(format!("reliability_{binning:?}.png"));
        plot_reliability_diagram(&path, &bins(binning), "Hand case", (640, 720)).unwrap();
        let image = image::open(&path).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), (640, 720));
        assert!(coloured_pixels(&image) > 5_000, "the bars are drawn");
        let dark = image
            .pixels()
            .filter(|p| p.0.iter().all(|&v| v < 60))
            .count();
        assert!(dark > 2_000, "axes and text are drawn ({dark} dark pixels)");
    }
}

#[test]
fn a_reliability_diagram_svg_carries_the_ece_in_its_title() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reliability.svg");
    let bins = bins(Binning::EqualWidth);
    plot_reliability_diagram(&path, &bins, "Hand case", (640, 720)).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..60.min(svg.len())]);
    let title = format!(
        "Hand case: ECE {:.2}% (15 equal-width bins)",
        100.0 * bins.ece
    );
    assert!(svg.contains(&title), "title {title:?} missing");
    assert!(svg.contains("Perfect calibration"));
}

#[test]
fn a_line_chart_is_written_and_skips_non_finite_points() {
    let dir = tempfile::tempdir().unwrap();
    let series = vec![
        (
            "train loss",
            vec![(1.0, 2.3), (2.0, 1.7), (3.0, f64::NAN), (4.0, 0.9)],
        ),
        (
            "validation loss",
            vec![(1.0, 2.4), (2.0, 1.9), (3.0, 1.5), (4.0, 1.3)],
        ),
    ];
    let png = dir.path().join("loss.png");
    plot_lines(&png, "Loss", "epoch", "loss", &series, (800, 500)).unwrap();
    let image = image::open(&png).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), (800, 500));
    assert!(coloured_pixels(&image) > 500);

    let svg = dir.path().join("loss.svg");
    plot_lines(&svg, "Loss", "epoch", "loss", &series, (800, 500)).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("validation loss") && text.contains("epoch"));
}

#[test]
fn figures_with_nothing_to_draw_or_a_bad_path_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = vec![("nan", vec![(f64::NAN, 1.0)])];
    let error = plot_lines(dir.path().join("a.png"), "t", "x", "y", &empty, (400, 300));
    assert!(matches!(error, Err(EvalError::NothingToPlot { .. })));

    let ok = vec![("line", vec![(0.0, 1.0), (1.0, 2.0)])];
    let error = plot_lines(dir.path().join("a.pdf"), "t", "x", "y", &ok, (400, 300)).unwrap_err();
    assert!(matches!(error, EvalError::PlotFormat(_)), "{error}");
    assert!(error.to_string().contains("a.pdf"), "{error}");

    let error = plot_lines(dir.path().join("a.png"), "t", "x", "y", &ok, (50, 300)).unwrap_err();
    assert!(error.to_string().contains("50x300"), "{error}");

    let missing = dir.path().join("no_such_folder").join("a.png");
    let error = plot_lines(&missing, "t", "x", "y", &ok, (400, 300)).unwrap_err();
    assert!(matches!(error, EvalError::Image { .. }), "{error}");
}
