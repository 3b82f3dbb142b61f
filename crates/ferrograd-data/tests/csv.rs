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
    for bad in ["-1", "1.5", "yes"] {
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
