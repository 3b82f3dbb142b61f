//! `ferrograd_data::csv`: CSV bytes parsed with `CsvTable::from_bytes` (and, compared
//! with it, `CsvTable::from_reader` over a reader that hands out a few bytes at a time),
//! every column read as numbers at `f32` and `f64`, and the table loaded as regression
//! and classification datasets, scaled and batched.
//!
//! Checked beyond "no panic": the two readers agree; every record has the header's width
//! and starts on a later line than the one before; every number loaded is finite; a
//! column loads at `f32` exactly when its `f64` values are inside `f32`'s range (issue
//! 18); datasets have the shapes their tables imply.

use crate::Target;
use ferrograd_data::csv::{CsvOptions, CsvTable};
use ferrograd_data::scale::{MinMaxScaler, StandardScaler};
use ferrograd_data::{DataLoader, Dataset};
use ferrograd_tensor::Scalar;
use std::io::Read;

/// The target.
pub const TARGET: Target = Target {
    name: "csv",
    about: "ferrograd_data CSV parsing, number columns, dataset loading and scaling",
    run,
    seeds,
    dictionary: DICTIONARY,
    mutate: None,
    max_len: 2048,
};

const NAME: &str = "fuzz.csv";

const DICTIONARY: &[&[u8]] = &[
    b"\"",
    b"\"\"",
    b"\r\n",
    b"\n\n",
    b"\xef\xbb\xbf",
    b",",
    b";",
    b"\t",
    b"   ",
    b"1e39",
    b"-1e39",
    b"3.40282357e38",
    b"nan",
    b"inf",
    b"1e-400",
    b"\xc3\xa9",
    b"\xff",
    b"\xe2\x80\xa8",
];

/// Small files in the dialect's corners: quotes, CRLF, a byte-order mark, blank lines,
/// class labels, numbers at the edges of f32.
pub fn seeds() -> Vec<Vec<u8>> {
    [
        "age,income,bought\n22,25,0\n47,80,1\n25,35,0\n",
        "\u{feff}x;y;label\r\n1.5;-2e3;yes\r\n\r\n  3 ; 4 ;no\r\n",
        "name,\"note, quoted\",v\n\"Smith, J\",\"said \"\"hi\"\"\",1\n\"multi\nline\",x,2\n",
        "a,b\n3.4028235e38,1e-45\n-0,1e39\n",
        "area,price\n50,100\n80,160\n\n",
    ]
    .into_iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// A reader that hands out at most 3 bytes per call.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(3).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// Feeds `data` to the CSV reader and everything built on it.
pub fn run(data: &[u8]) {
    let mut any = false;
    for delimiter in [',', ';', '\t'] {
        if delimiter != ',' && !data.contains(&(delimiter as u8)) {
            continue;
        }
        let table = CsvTable::from_bytes(data, NAME, delimiter);
        let streamed = CsvTable::from_reader(Trickle(data), NAME, delimiter);
        match (&table, &streamed) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "from_bytes and from_reader disagree"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "errors disagree"),
            _ => panic!("from_bytes and from_reader disagree: {table:?} vs {streamed:?}"),
        }
        match table {
            Ok(table) => {
                any = true;
                check_table(&table);
            }
            Err(e) => {
                let text = e.to_string();
                assert!(text.contains(NAME), "error does not name the file: {text}");
            }
        }
    }
    if any {
        crate::accepted();
    }
}

fn check_table(table: &CsvTable) {
    let width = table.header.len();
    let mut line = table.header_line;
    for row in &table.rows {
        assert_eq!(row.fields.len(), width, "a record of another width");
        assert!(row.line > line, "records out of line order");
        line = row.line;
    }
    for col in 0..width {
        check_column(table, col);
    }
    assert!(table.numeric_column::<f32>(width).is_err());
    datasets::<f32>(table);
    datasets::<f64>(table);
}

/// `f32::MAX` + half an ulp: the smallest magnitude that rounds to infinity in `f32`.
const F32_OVERFLOW: f64 = 340_282_356_779_733_661_637_539_395_458_142_568_448.0;

fn check_column(table: &CsvTable, col: usize) {
    let wide = table.numeric_column::<f64>(col);
    let narrow = table.numeric_column::<f32>(col);
    if let Ok(v) = &wide {
        assert!(v.iter().all(|x| x.is_finite()), "a non-finite f64 loaded");
    }
    if let Ok(v) = &narrow {
        assert!(v.iter().all(|x| x.is_finite()), "a non-finite f32 loaded");
    }
    match (&wide, &narrow) {
        (Ok(w), Ok(n)) => {
            for (a, b) in w.iter().zip(n) {
                assert!(a.abs() <= F32_OVERFLOW, "{a} loaded as the f32 {b}");
                // Rounded to nearest: within half an f32 ulp (relative 2^-24; checked
                // with a margin of 2, the f64 being rounded itself), or within the
                // absolute spacing 2^-149 of f32's subnormals.
                let err = (a - f64::from(*b)).abs();
                assert!(
                    err <= a.abs() * 2f64.powi(-23) || err <= 2f64.powi(-149),
                    "{a} loaded as the f32 {b}"
                );
            }
        }
        (Ok(w), Err(_)) => assert!(
            w.iter().any(|a| a.abs() >= F32_OVERFLOW * (1.0 - 1e-15)),
            "a column inside f32's range did not load at f32"
        ),
        (Err(_), Ok(_)) => panic!("a column loads at f32 but not at f64"),
        (Err(_), Err(_)) => {}
    }
}

fn datasets<T: Scalar>(table: &CsvTable) {
    let width = table.header.len();
    if width < 2 {
        return;
    }
    let target = table.header[width - 1].clone();
    let features: Vec<String> = table.header[..width - 1].to_vec();
    let options = CsvOptions::new(&features, &target);
    if let Ok(ds) = options.regression_from_table::<T>(table) {
        assert_eq!(ds.inputs().shape(), &[table.rows.len(), width - 1]);
        assert_eq!(ds.targets().shape(), &[table.rows.len(), 1]);
        let values = ds.inputs().to_vec();
        assert!(values.iter().all(|v| v.is_finite()), "non-finite input");
        use_inputs(ds.inputs());
        if let Ok(loader) = DataLoader::new(&ds, 2) {
            for batch in loader.shuffle(1).epoch(0) {
                let batch = batch.expect("batches of a loaded dataset");
                assert!(batch.len() <= 2);
            }
        }
    }
    if let Ok(ds) = options.classification_from_table::<T>(table) {
        assert_eq!(ds.len(), table.rows.len());
    }
    // Every distinct target cell as a label: a class is the label's position.
    let cells: Vec<String> = table
        .rows
        .iter()
        .map(|r| r.fields[width - 1].trim().to_owned())
        .collect();
    let mut labels = cells.clone();
    labels.sort();
    labels.dedup();
    if let Ok(ds) = options.labels(&labels).classification_from_table::<T>(table) {
        for (class, cell) in ds.targets().to_vec().iter().zip(&cells) {
            let class = usize::try_from(*class).expect("class ids are non-negative");
            assert_eq!(labels.get(class), Some(cell), "a cell mapped to the wrong class");
        }
    }
}

fn use_inputs<T: Scalar>(x: &ferrograd_tensor::Tensor<T>) {
    if let Ok(s) = StandardScaler::fit(x) {
        let z = s.transform(x).expect("a fitted scaler transforms its own data");
        let _ = s.inverse_transform(&z).expect("and back");
    }
    if let Ok(s) = MinMaxScaler::fit(x) {
        let z = s.transform(x).expect("a fitted scaler transforms its own data");
        let _ = s.inverse_transform(&z).expect("and back");
    }
}
