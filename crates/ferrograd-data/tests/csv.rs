//! CSV loading from real files: values, dialect, and errors naming file, line, column.

use ferrograd_data::csv::{CsvOptions, CsvTable};
use ferrograd_data::{DataError, Dataset};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ferrograd-data-test-{}-{tag}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn buyers() -> CsvOptions {
    CsvOptions::new(&["age", "income"], "bought")
}

#[test]
fn loads_features_by_name_in_the_chosen_order() {
    let dir = TempDir::new("good");
    let path = dir.write(
        "people.csv",
        "id,income,age,bought\n1,25,22,0\n2,80,47,1\n3,35,25,0\n",
    );
    let ds = buyers().load_classification::<f32>(&path).unwrap();
    assert_eq!(ds.len(), 3);
    assert_eq!(ds.inputs().shape(), &[3, 2]);
    assert_eq!(
        ds.inputs().to_vec(),
        vec![22.0, 25.0, 47.0, 80.0, 25.0, 35.0]
    );
    assert_eq!(ds.targets().to_vec(), [0, 1, 0]);

    let reg = CsvOptions::new(&["area"], "price")
        .load_regression::<f64>(dir.write("houses.csv", "area,price\n150,200\n200,600\n260,500\n"))
        .unwrap();
    assert_eq!(reg.inputs().to_vec(), vec![150.0, 200.0, 260.0]);
    assert_eq!(reg.targets().shape(), &[3, 1]);
    assert_eq!(reg.targets().to_vec(), vec![200.0, 600.0, 500.0]);
}

#[test]
fn dialect_quotes_crlf_bom_blank_lines_delimiter() {
    let dir = TempDir::new("dialect");
    let text = "\u{feff}\"age\";income;\"bought\"\r\n\r\n 22 ;\"25\";\"no\"\r\n47;80.5;yes\r\n\n";
    let path = dir.write("semi.csv", text);
    let ds = buyers()
        .delimiter(';')
        .labels(&["no", "yes"])
        .load_classification::<f64>(&path)
        .unwrap();
    assert_eq!(ds.inputs().to_vec(), vec![22.0, 25.0, 47.0, 80.5]);
    assert_eq!(ds.targets().to_vec(), [0, 1]);

    // Quoted delimiters, doubled quotes and newlines inside a field.
    let t = CsvTable::parse(
        "name,note,x\n\"Doe, J\",\"two\nlines\",1\n\"say \"\"hi\"\"\",,2\nplain \"q\",n,3\n",
        "t.csv",
        ',',
    )
    .unwrap();
    assert_eq!(t.rows[0].fields, vec!["Doe, J", "two\nlines", "1"]);
    assert_eq!(t.rows[0].line, 2);
    assert_eq!(t.rows[1].fields, vec!["say \"hi\"", "", "2"]);
    assert_eq!(
        t.rows[1].line, 4,
        "the quoted newline moved this record to line 4"
    );
    assert_eq!(t.rows[2].fields, vec!["plain \"q\"", "n", "3"]);
    // A file without a final newline.
    let t = CsvTable::parse("a,b\n1,2", "t.csv", ',').unwrap();
    assert_eq!(t.rows[0].fields, vec!["1", "2"]);
}

#[test]
fn non_numeric_cell_names_file_line_and_column() {
    let dir = TempDir::new("nonnum");
    let path = dir.write("bad.csv", "age,income,bought\n22,25,0\n47,abc,1\n");
    let err = buyers().load_classification::<f32>(&path).unwrap_err();
    match &err {
        DataError::NotNumeric {
            file,
            line,
            column,
            name,
            value,
        } => {
            assert_eq!(file, &path.display().to_string());
            assert_eq!((*line, *column), (3, 2));
            assert_eq!(name, "income");
            assert_eq!(value, "abc");
        }
        other => panic!("wrong error {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&format!("{}:3:", path.display())), "{msg}");
    assert!(
        msg.contains("column 2") && msg.contains("\"income\""),
        "{msg}"
    );

    // Empty and non-finite cells are not numbers either.
    for (cell, col) in [("", 1), ("NaN", 1), ("inf", 1)] {
        let text = format!("age,income,bought\n{cell},25,0\n");
        let err = buyers()
            .parse_classification::<f32>(&text, "x.csv")
            .unwrap_err();
        assert!(
            matches!(err, DataError::NotNumeric { line: 2, column, .. } if column == col),
            "{cell:?}: {err:?}"
        );
    }
}

#[test]
fn first_bad_cell_in_file_order_is_reported() {
    let text = "age,income,bought\n22,25,0\n1,2,x\n47,zz,1\n";
    let err = buyers()
        .parse_classification::<f32>(text, "o.csv")
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::BadLabel {
                line: 3,
                column: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let text = "bought,income,age\nyes,25,oops\n";
    let err = buyers()
        .labels(&["no"])
        .parse_classification::<f32>(text, "o.csv")
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::BadLabel {
                line: 2,
                column: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn short_and_long_rows() {
    let dir = TempDir::new("short");
    let path = dir.write("short.csv", "age,income,bought\n22,25,0\n\n47,80\n");
    let err = buyers().load_classification::<f32>(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::RowLength {
                line: 4,
                expected: 3,
                found: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&format!("{}:4:", path.display())));
    let err = CsvTable::parse("a,b\n1,2,3\n", "long.csv", ',').unwrap_err();
    assert!(matches!(
        err,
        DataError::RowLength {
            line: 2,
            found: 3,
            ..
        }
    ));
}

#[test]
fn missing_and_duplicate_columns() {
    let dir = TempDir::new("missing");
    let path = dir.write("m.csv", "\nage,salary,bought\n22,25,0\n");
    let err = buyers().load_classification::<f32>(&path).unwrap_err();
    match &err {
        DataError::MissingColumn { file, line, name } => {
            assert_eq!(file, &path.display().to_string());
            assert_eq!(*line, 2, "the header is on line 2 after a blank line");
            assert_eq!(name, "income");
        }
        other => panic!("wrong error {other:?}"),
    }
    assert!(err.to_string().contains("\"income\""));
    let err = buyers()
        .parse_classification::<f32>("age,income,age,bought\n1,2,3,0\n", "d.csv")
        .unwrap_err();
    assert!(matches!(err, DataError::DuplicateColumn { ref name, .. } if name == "age"));
}

#[test]
fn empty_file_and_header_only() {
    let dir = TempDir::new("empty");
    for contents in ["", "\n\n   \n", "\u{feff}"] {
        let path = dir.write("empty.csv", contents);
        let err = buyers().load_classification::<f32>(&path).unwrap_err();
        assert!(
            matches!(&err, DataError::EmptyFile { file } if *file == path.display().to_string()),
            "{contents:?}: {err:?}"
        );
    }
    let path = dir.write("header.csv", "age,income,bought\n\n");
    let err = buyers().load_regression::<f32>(&path).unwrap_err();
    assert!(matches!(err, DataError::NoRows { line: 1, .. }), "{err:?}");
}

#[test]
fn labels_and_class_indices() {
    let text = "age,income,bought\n22,25,no\n47,80,maybe\n";
    let err = buyers()
        .labels(&["no", "yes"])
        .parse_classification::<f32>(text, "l.csv")
        .unwrap_err();
    match &err {
        DataError::BadLabel {
            line,
            column,
            value,
            ..
        } => {
            assert_eq!((*line, *column), (3, 3));
            assert_eq!(value, "maybe");
        }
        other => panic!("wrong error {other:?}"),
    }
    // Without a mapping, targets must be class indices.
    let ds = buyers()
        .parse_classification::<f32>("age,income,bought\n1,2,2\n3,4,0\n", "c.csv")
        .unwrap();
    assert_eq!(ds.targets().to_vec(), [2, 0]);
    // 2^63 parses as a usize but is not an i64 class id; 2^64 is not even a usize. Both
    // are the label's error, naming line and column (2^63 was a bare tensor error).
    for bad in [
        "-1",
        "1.5",
        "yes",
        "9223372036854775808",
        "18446744073709551616",
    ] {
        let text = format!("age,income,bought\n1,2,{bad}\n");
        assert!(matches!(
            buyers().parse_classification::<f32>(&text, "c.csv"),
            Err(DataError::BadLabel {
                line: 2,
                column: 3,
                ..
            })
        ));
    }
}

#[test]
fn syntax_errors_name_line_and_position() {
    let err = CsvTable::parse("a,b\n1,\"open\n2,3\n", "q.csv", ',').unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CsvSyntax {
                line: 2,
                position: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let err = CsvTable::parse("a,b\n1,\"x\"y\n", "q.csv", ',').unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CsvSyntax {
                line: 2,
                position: 6,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(CsvTable::parse("a\n1\n", "q.csv", '"').is_err());
}

#[test]
fn io_and_utf8_errors() {
    let dir = TempDir::new("io");
    let missing = dir.0.join("nope.csv");
    let err = buyers().load_regression::<f32>(&missing).unwrap_err();
    assert!(matches!(&err, DataError::Io { file, .. } if file.contains("nope.csv")));
    let path = dir.write("latin1.csv", b"age,income,bought\n22,25,0\n47,\xe980,1\n");
    let err = buyers().load_classification::<f32>(&path).unwrap_err();
    assert!(matches!(err, DataError::Utf8 { line: 3, .. }), "{err:?}");
}

#[test]
fn bad_options_are_rejected_before_reading() {
    let text = "age,income,bought\n1,2,0\n";
    let none: [&str; 0] = [];
    assert!(matches!(
        CsvOptions::new(&none, "bought").parse_regression::<f32>(text, "o.csv"),
        Err(DataError::InvalidArgument { .. })
    ));
    assert!(matches!(
        CsvOptions::new(&["age", "bought"], "bought").parse_regression::<f32>(text, "o.csv"),
        Err(DataError::InvalidArgument { .. })
    ));
    assert!(matches!(
        buyers()
            .labels(&["no", "yes"])
            .parse_regression::<f32>(text, "o.csv"),
        Err(DataError::InvalidArgument { .. })
    ));
    assert!(matches!(
        buyers()
            .labels(&["no", "no"])
            .parse_classification::<f32>(text, "o.csv"),
        Err(DataError::InvalidArgument { .. })
    ));
}

/// Issue 18: `1e39` is finite as an `f64` but not as an `f32`; the finite check must run
/// on the value converted to the element type, for feature cells, target cells and
/// `numeric_column` alike.
#[test]
fn values_beyond_f32_are_errors_at_f32_and_numbers_at_f64() {
    let features = "x,y\n1e39,2\n";
    let err = CsvOptions::new(&["x"], "y")
        .parse_regression::<f32>(features, "f.csv")
        .unwrap_err();
    assert!(
        matches!(&err, DataError::NotNumeric { line: 2, column: 1, value, .. } if value == "1e39"),
        "{err:?}"
    );
    let ds = CsvOptions::new(&["x"], "y")
        .parse_regression::<f64>(features, "f.csv")
        .unwrap();
    assert_eq!(ds.inputs().to_vec(), vec![1e39]);

    let targets = "x,y\n1,-1e39\n";
    let err = CsvOptions::new(&["x"], "y")
        .parse_regression::<f32>(targets, "t.csv")
        .unwrap_err();
    assert!(
        matches!(
            &err,
            DataError::NotNumeric {
                line: 2,
                column: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "t.csv:2: column 2 (\"y\"): \"-1e39\" is not a finite number"
    );
    // The same cell in a classification file's feature column.
    let err = CsvOptions::new(&["y"], "x")
        .parse_classification::<f32>(targets, "c.csv")
        .unwrap_err();
    assert!(
        matches!(err, DataError::NotNumeric { column: 2, .. }),
        "{err:?}"
    );

    // f32::MAX is 3.40282346639e38 and its ulp 2^104 ≈ 2.028e31, so values below
    // MAX + half an ulp (3.40282356779e38) round to MAX; values above round to infinity.
    let table = CsvTable::parse(
        "v\n3.4028235e38\n3.40282356e38\n3.40282357e38\n",
        "m.csv",
        ',',
    )
    .unwrap();
    let err = table.numeric_column::<f32>(0).unwrap_err();
    assert!(
        matches!(err, DataError::NotNumeric { line: 4, .. }),
        "{err:?}"
    );
    assert_eq!(
        table.numeric_column::<f64>(0).unwrap(),
        vec![3.4028235e38, 3.40282356e38, 3.40282357e38]
    );
    let two = CsvTable::parse("v\n3.4028235e38\n3.40282356e38\n", "m.csv", ',').unwrap();
    assert_eq!(
        two.numeric_column::<f32>(0).unwrap(),
        vec![f32::MAX, f32::MAX]
    );

    // Beyond f64 too, and underflow (representable as 0 or a subnormal) is fine.
    let table = CsvTable::parse("v\n1e309\n", "h.csv", ',').unwrap();
    assert!(table.numeric_column::<f64>(0).is_err());
    let table = CsvTable::parse("v\n1e-50\n-1e-400\n1e-45\n", "u.csv", ',').unwrap();
    let small = table.numeric_column::<f32>(0).unwrap();
    // 1e-45 rounds to the smallest f32 subnormal, 2^-149.
    assert_eq!(small, vec![0.0, -0.0, f32::from_bits(1)]);
    assert!(small[1].is_sign_negative());
}

/// A cell is rounded once, at the element type: parsing as f64 and then rounding to f32
/// would round twice. 1 + 2^-24 is the midpoint between 1 and the next f32; a decimal a
/// hair above it must round up to 1 + 2^-23 (by hand: 1.00000011920928955078125), but
/// it rounds to the midpoint as an f64, which then ties to even, down to 1.
#[test]
fn f32_cells_are_rounded_once() {
    let table = CsvTable::parse("v\n1.00000005960464477550\n", "r.csv", ',').unwrap();
    // 1 + 2^-23 is the f32 after 1: its bits are 1's plus one.
    let up = f32::from_bits(1.0f32.to_bits() + 1);
    assert_eq!(f64::from(up), 1.0 + 2f64.powi(-23));
    assert_eq!(table.numeric_column::<f32>(0).unwrap(), vec![up]);
}

#[test]
fn readers_and_bytes_load_as_files_do() {
    let text = "id,income,age,bought\n1,25,22,no\n2,80,47,yes\n";
    let dir = TempDir::new("reader");
    let path = dir.write("people.csv", text);
    let opts = buyers().labels(&["no", "yes"]);
    let from_file = opts.load_classification::<f32>(&path).unwrap();
    let from_reader = opts
        .read_classification::<f32>(std::fs::File::open(&path).unwrap(), "people.csv")
        .unwrap();
    assert_eq!(from_reader.inputs().to_vec(), from_file.inputs().to_vec());
    assert_eq!(
        from_reader.targets().as_slice(),
        from_file.targets().as_slice()
    );
    let regression = CsvOptions::new(&["age"], "income")
        .read_regression::<f64>(text.as_bytes(), "people.csv")
        .unwrap();
    assert_eq!(regression.targets().to_vec(), vec![25.0, 80.0]);
    let mut read = CsvTable::read(&path, ',').unwrap();
    read.file = "people.csv".into();
    assert_eq!(
        CsvTable::from_bytes(text.as_bytes(), "people.csv", ',').unwrap(),
        read
    );

    // Errors name the given file, as the path forms name the path.
    let err = CsvTable::from_bytes(b"a,b\n1,2\n3,\xff\n", "up.csv", ',').unwrap_err();
    assert!(
        matches!(&err, DataError::Utf8 { file, line: 3 } if file == "up.csv"),
        "{err:?}"
    );
    let err = CsvTable::from_reader(&b"a\n\xc3"[..], "up.csv", ',').unwrap_err();
    assert!(matches!(err, DataError::Utf8 { line: 2, .. }), "{err:?}");
    let err = opts
        .read_classification::<f32>(&b"age,income,bought\n1,2,maybe\n"[..], "up.csv")
        .unwrap_err();
    assert!(err.to_string().starts_with("up.csv:2: column 3"), "{err}");

    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("connection reset"))
        }
    }
    let err = CsvTable::from_reader(Failing, "net.csv", ',').unwrap_err();
    assert_eq!(
        err.to_string(),
        "CsvTable::from_reader: net.csv: connection reset"
    );
    let err = buyers()
        .read_regression::<f32>(Failing, "net.csv")
        .unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err:?}");
}

#[test]
fn hand_built_tables_are_errors_not_panics() {
    let table = CsvTable::parse("a,b\n1,2\n", "h.csv", ',').unwrap();
    let err = table.numeric_column::<f32>(2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "CsvTable::numeric_column: h.csv: column 2 is out of range for a table of 2 columns"
    );
    // The fields are public: a row shorter than the header is the parser's row-length
    // error, not an index panic.
    let mut ragged = table.clone();
    ragged.rows[0].fields.pop();
    assert!(matches!(
        ragged.numeric_column::<f64>(1),
        Err(DataError::RowLength {
            line: 2,
            expected: 2,
            found: 1,
            ..
        })
    ));
    assert!(matches!(
        CsvOptions::new(&["a"], "b").regression_from_table::<f32>(&ragged),
        Err(DataError::RowLength { .. })
    ));
    assert!(matches!(
        CsvOptions::new(&["a"], "b").classification_from_table::<f32>(&ragged),
        Err(DataError::RowLength { .. })
    ));
}

#[test]
fn a_class_index_past_i64_names_its_cell() {
    let text = "age,income,bought\n1,2,0\n3,4,9223372036854775808\n";
    let err = buyers()
        .parse_classification::<f32>(text, "big.csv")
        .unwrap_err();
    match &err {
        DataError::BadLabel {
            file,
            line,
            column,
            value,
            reason,
            ..
        } => {
            assert_eq!((file.as_str(), *line, *column), ("big.csv", 3, 3));
            assert_eq!(value, "9223372036854775808");
            assert!(reason.contains("9223372036854775807"), "{reason}");
        }
        other => panic!("wrong error {other:?}"),
    }
    // The largest i64 itself is a valid class index.
    let ds = buyers()
        .parse_classification::<f32>("age,income,bought\n1,2,9223372036854775807\n", "c.csv")
        .unwrap();
    assert_eq!(ds.targets().to_vec(), [i64::MAX]);
}
