//! The figures: every section writes its PNGs; each is a real PNG (signature, IHDR) of the
//! expected pixel size and not trivially small. Also drawn without a font.

use crate::common;

use std::path::Path;

use common::scratch;
use ferrograd_book::plot::size;
use ferrograd_book::{Figures, Progress, Section, run_section};

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.len() > 24,
        "{}: {} bytes",
        path.display(),
        bytes.len()
    );
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{}: PNG signature",
        path.display()
    );
    assert_eq!(
        &bytes[12..16],
        b"IHDR",
        "{}: first chunk is IHDR",
        path.display()
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

fn expected() -> Vec<(&'static str, (u32, u32))> {
    vec![
        ("linear_regression.png", size::CHART),
        ("mse_surface.png", size::SURFACE),
        ("gradient_descent_loss.png", size::CHART),
        ("vectors.png", size::CHART),
        ("activations.png", size::ACTIVATIONS),
        ("nonlinear_fits.png", size::CHART),
        ("logistic_loss.png", size::CHART),
        ("logistic_sigmoid.png", size::CHART),
        ("autograd_loss.png", size::CHART),
    ]
}

fn check_all(figures: &Figures) {
    let mut written = Vec::new();
    for section in Section::ALL {
        let out = run_section(section, figures, &Progress::hidden()).unwrap();
        assert!(!out.text.is_empty());
        written.extend(out.figures);
    }
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let expected = expected();
    assert_eq!(names, expected.iter().map(|e| e.0).collect::<Vec<_>>());
    for (name, dims) in expected {
        let path = figures.dir().join(name);
        assert_eq!(png_size(&path), dims, "{name}");
        // A white canvas compresses to ~3 KB at these sizes; a drawn chart is larger.
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len > 5_000, "{name}: only {len} bytes");
    }
}

#[test]
fn every_section_writes_its_figures() {
    let (figures, warning) = Figures::new(scratch("figures")).unwrap();
    if let Some(w) = warning {
        eprintln!("{w}");
    }
    check_all(&figures);
}

#[test]
fn figures_are_drawn_without_a_font_too() {
    let figures = Figures::without_text(scratch("figures-no-text")).unwrap();
    assert!(!figures.has_text());
    check_all(&figures);
}
