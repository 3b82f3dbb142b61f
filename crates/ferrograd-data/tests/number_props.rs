//! Property tests of CSV number parsing at the edges of f32 and f64 (issue 18): a cell
//! loads as a finite number wherever its value is representable in the element type
//! (rounded once, to nearest), and is a clear error naming the cell otherwise — never an
//! infinity, a NaN or a panic.
//!
//! The references are independent of the code under test: Rust's float formatting
//! (shortest text that reads back to the same value), and neighbouring floats computed
//! from bit patterns.

use ferrograd_data::DataError;
use ferrograd_data::csv::{CsvOptions, CsvTable};
use proptest::prelude::*;

/// `f32::MAX` plus half its ulp (2^104 / 2 = 2^103): the smallest magnitude that rounds
/// to infinity as an f32 (a tie with MAX, whose last mantissa bit is odd, rounds to even,
/// which is infinity). Exact in f64: MAX = (2^24 − 1)·2^104, so MAX + 2^103 =
/// (2^25 − 1)·2^103 needs 25 bits.
const F32_OVERFLOW: f64 = 340_282_356_779_733_661_637_539_395_458_142_568_448.0;

/// A one-column table whose single cell holds `cell` verbatim (quoted, so any text fits).
fn table(cell: &str) -> CsvTable {
    let text = format!("v\n\"{}\"\n", cell.replace('"', "\"\""));
    CsvTable::parse(&text, "p.csv", ',').expect("a quoted cell always parses")
}

fn load_f32(cell: &str) -> Result<f32, DataError> {
    table(cell).numeric_column::<f32>(0).map(|v| v[0])
}

fn load_f64(cell: &str) -> Result<f64, DataError> {
    table(cell).numeric_column::<f64>(0).map(|v| v[0])
}

/// The error for a cell must be `NotNumeric` naming line 2, column 1 and the cell's text.
fn assert_not_numeric(result: Result<impl std::fmt::Debug, DataError>, cell: &str) {
    match result {
        Err(DataError::NotNumeric {
            line: 2,
            column: 1,
            ref value,
            ..
        }) if value == cell => {}
        other => panic!("{cell:?}: expected NotNumeric, got {other:?}"),
    }
}

/// The f32 neighbours of `r` (towards −∞ and +∞), as f64.
fn neighbours(r: f32) -> (f64, f64) {
    let bits = r.to_bits();
    let step = |up: bool| {
        // Moving away from zero increments the magnitude bits, towards zero decrements.
        let away = up == r.is_sign_positive() || r == 0.0;
        if r == 0.0 {
            let tiny = f32::from_bits(1);
            return f64::from(if up { tiny } else { -tiny });
        }
        f64::from(f32::from_bits(if away { bits + 1 } else { bits - 1 }))
    };
    (step(false), step(true))
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        (-1e6f64..1e6),
        // Around the f32 overflow threshold.
        (0.99 * F32_OVERFLOW..1.01 * F32_OVERFLOW),
        (-1.01 * F32_OVERFLOW..-0.99 * F32_OVERFLOW),
        // Around the f32 subnormal range.
        (-1e-37f64..1e-37),
    ]
    // The threshold itself: its shortest text may lie on either side of it (see
    // the_overflow_threshold_is_max_plus_half_an_ulp, which uses its exact decimal).
    .prop_filter("not the threshold", |v| v.abs() != F32_OVERFLOW)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any finite f64, written by Rust (shortest round-trip text, plain or exponent
    /// form, with surrounding spaces), loads back bit for bit at f64.
    #[test]
    fn finite_f64_text_loads_exactly(v in finite_f64(), exp in any::<bool>()) {
        let cell = if exp { format!(" {v:e}") } else { format!("{v} ") };
        let got = load_f64(&cell).unwrap();
        prop_assert_eq!(got.to_bits(), v.to_bits(), "{:?}", cell);
    }

    /// At f32 the same text loads as the nearest f32 when it is below the overflow
    /// threshold, and is a NotNumeric error at or above it.
    #[test]
    fn f64_text_at_f32_is_nearest_or_an_error(v in finite_f64(), exp in any::<bool>()) {
        let cell = if exp { format!("{v:e}") } else { format!("{v}") };
        if v.abs() >= F32_OVERFLOW {
            assert_not_numeric(load_f32(&cell), &cell);
        } else {
            let r = load_f32(&cell).unwrap();
            prop_assert!(r.is_finite());
            prop_assert_eq!(r.is_sign_negative(), v.is_sign_negative(), "{:?} -> {}", cell, r);
            // Nearest: no neighbour of r is closer to v. Differences of nearby floats are
            // computed in f64, exactly except far beyond f32's range, where only MAX is
            // compared and its upper neighbour (infinity) is excluded.
            let (down, up) = neighbours(r);
            let d = (f64::from(r) - v).abs();
            prop_assert!(d <= (down - v).abs(), "{:?} -> {} (down {})", cell, r, down);
            if up.is_finite() {
                prop_assert!(d <= (up - v).abs(), "{:?} -> {} (up {})", cell, r, up);
            }
        }
    }

    /// Any f32, written by Rust, loads back bit for bit at f32 (and at f64 as the same
    /// value, since every f32 is an f64 and the text is its shortest decimal).
    #[test]
    fn finite_f32_text_loads_exactly(bits in any::<u32>()) {
        let x = f32::from_bits(bits);
        prop_assume!(x.is_finite());
        for cell in [format!("{x}"), format!("{x:e}"), format!("{x:?}")] {
            prop_assert_eq!(load_f32(&cell).unwrap().to_bits(), x.to_bits(), "{:?}", cell);
        }
    }

    /// Beyond f64's range (and therefore f32's) every cell is an error at both types;
    /// in between, f64 loads and f32 refuses.
    #[test]
    fn out_of_range_magnitudes_are_errors(
        mantissa in 1u32..10,
        exp in 39i32..330,
        negative in any::<bool>(),
    ) {
        let cell = format!("{}{mantissa}e{exp}", if negative { "-" } else { "" });
        assert_not_numeric(load_f32(&cell), &cell);
        let exact = format!("{}{mantissa}e{exp}", if negative { "-" } else { "" })
            .parse::<f64>()
            .unwrap();
        if exact.is_finite() {
            prop_assert_eq!(load_f64(&cell).unwrap(), exact);
        } else {
            assert_not_numeric(load_f64(&cell), &cell);
        }
    }

    /// Arbitrary text, number-like or not: a finite number or a NotNumeric error naming
    /// the cell, at both types; never a panic, an infinity or a NaN.
    #[test]
    fn any_text_is_a_finite_number_or_an_error(
        cell in prop_oneof![
            ".{0,12}",
            "[ +-]{0,2}[0-9]{0,45}(\\.[0-9]{0,45})?([eE][+-]?[0-9]{1,6})?",
            "[+-]?(nan|NaN|inf|Inf|infinity|INFINITY|1e9999|0x10|1_000|\\.|e5|--1)",
        ]
    ) {
        match load_f32(&cell) {
            Ok(v) => prop_assert!(v.is_finite(), "{:?} -> {}", cell, v),
            Err(_) => assert_not_numeric(load_f32(&cell), &cell),
        }
        match load_f64(&cell) {
            Ok(v) => prop_assert!(v.is_finite(), "{:?} -> {}", cell, v),
            Err(_) => assert_not_numeric(load_f64(&cell), &cell),
        }
    }

    /// Through the loaders: every input and target of a loaded dataset is finite, and a
    /// file with a cell beyond f32 fails at f32 naming that cell's line and column.
    #[test]
    fn loaded_datasets_hold_only_finite_values(
        rows in prop::collection::vec((finite_f64(), finite_f64()), 1..8),
    ) {
        let mut text = String::from("x,y\n");
        for (x, y) in &rows {
            text.push_str(&format!("{x:e},{y:e}\n"));
        }
        let opts = CsvOptions::new(&["x"], "y");
        let ds = opts.parse_regression::<f64>(&text, "d.csv").unwrap();
        prop_assert!(ds.inputs().to_vec().iter().chain(&ds.targets().to_vec()).all(|v| v.is_finite()));
        let first_big = rows.iter().enumerate().find_map(|(i, (x, y))| {
            if x.abs() >= F32_OVERFLOW {
                Some((i + 2, 1))
            } else if y.abs() >= F32_OVERFLOW {
                Some((i + 2, 2))
            } else {
                None
            }
        });
        match (opts.parse_regression::<f32>(&text, "d.csv"), first_big) {
            (Ok(ds), None) => {
                let all = ds.inputs().to_vec().into_iter().chain(ds.targets().to_vec());
                prop_assert!(all.into_iter().all(f32::is_finite));
            }
            (Err(DataError::NotNumeric { line, column, .. }), Some(at)) => {
                prop_assert_eq!((line, column), at);
            }
            (other, expected) => {
                prop_assert!(false, "expected error at {:?}, got {:?}", expected, other.map(|_| ()));
            }
        }
    }
}

#[test]
fn the_overflow_threshold_is_max_plus_half_an_ulp() {
    // Checked against the definition, not against the parser.
    assert_eq!(F32_OVERFLOW, f64::from(f32::MAX) + 2f64.powi(103));
    assert_eq!(f64::from(f32::MAX), (2f64.powi(24) - 1.0) * 2f64.powi(104));
    // Just below the threshold rounds to MAX; at it, to infinity: an error.
    let below = f64::from_bits(F32_OVERFLOW.to_bits() - 1);
    assert_eq!(load_f32(&format!("{below:e}")).unwrap(), f32::MAX);
    // The exact decimal of the threshold (the shortest round-trip text of this f64,
    // 3.4028235677973366e38, lies just below it and so rounds to MAX).
    let exact = format!("{F32_OVERFLOW:.0}");
    assert_eq!(exact, "340282356779733661637539395458142568448");
    assert_not_numeric(load_f32(&exact), &exact);
    assert_eq!(load_f32("3.4028235677973366e38").unwrap(), f32::MAX);
    assert_eq!(load_f64(&exact).unwrap(), F32_OVERFLOW);
}
