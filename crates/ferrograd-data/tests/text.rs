//! Text plumbing: lines of a file, sliding windows over token ids, padding and masks.

use ferrograd_data::text::{
    PadSide, SlidingWindowDataset, pad_sequences, pad_sequences_to, read_lines,
};
use ferrograd_data::{DataError, DataLoader, Dataset};
use std::path::PathBuf;

fn temp_file(tag: &str, contents: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "ferrograd-data-text-{}-{tag}.txt",
        std::process::id()
    ));
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn read_lines_strips_line_endings() {
    let path = temp_file("lines", b"first line\r\nsecond\n\nfourth");
    let lines = read_lines(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(lines.unwrap(), vec!["first line", "second", "", "fourth"]);

    let bad = temp_file("bad", b"ok\nstill ok\n\xff\xfe\n");
    let err = read_lines(&bad);
    std::fs::remove_file(&bad).unwrap();
    assert!(
        matches!(err, Err(DataError::Utf8 { line: 3, .. })),
        "{err:?}"
    );

    let missing = std::env::temp_dir().join("ferrograd-data-text-does-not-exist.txt");
    assert!(matches!(read_lines(&missing), Err(DataError::Io { .. })));
}

#[test]
fn windows_are_inputs_and_next_token_targets() {
    let ids: Vec<i64> = (100..110).collect();
    let ds = SlidingWindowDataset::new(ids.clone(), 4).unwrap();
    assert_eq!(ds.len(), 6);
    for i in 0..6 {
        let ex = ds.get(i).unwrap();
        assert_eq!(ex.input.shape(), &[4]);
        assert_eq!(ex.input.to_vec(), ids[i..i + 4]);
        assert_eq!(ex.target.to_vec(), ids[i + 1..i + 5]);
    }
    assert!(matches!(
        ds.get(6),
        Err(DataError::IndexOutOfRange {
            index: 6,
            len: 6,
            ..
        })
    ));

    let strided = SlidingWindowDataset::new(ids.clone(), 4)
        .unwrap()
        .with_stride(4)
        .unwrap();
    assert_eq!(strided.len(), 2);
    assert_eq!(strided.get(1).unwrap().input.to_vec(), [104, 105, 106, 107]);
    assert_eq!(
        strided.get(1).unwrap().target.to_vec(),
        [105, 106, 107, 108]
    );

    // No window without a full target.
    assert_eq!(
        SlidingWindowDataset::new(vec![1, 2, 3], 3).unwrap().len(),
        0
    );
    assert_eq!(
        SlidingWindowDataset::new(vec![1, 2, 3, 4], 3)
            .unwrap()
            .len(),
        1
    );
    assert!(SlidingWindowDataset::new(vec![1, 2], 0).is_err());
    assert!(ds.clone().with_stride(0).is_err());
}

#[test]
fn window_batches_through_the_loader() {
    let ids: Vec<i64> = (0..50).map(|i| i * 3).collect();
    let ds = SlidingWindowDataset::new(ids, 8).unwrap();
    let loader = DataLoader::new(&ds, 16).unwrap().shuffle(3);
    let mut starts = Vec::new();
    for batch in loader.epoch(1) {
        let b = batch.unwrap();
        let rows = b.inputs.shape()[0];
        assert_eq!(b.inputs.shape(), &[rows, 8]);
        assert_eq!(b.targets.shape(), &[rows, 8]);
        for r in 0..rows {
            let input = &b.inputs.to_vec()[r * 8..(r + 1) * 8];
            let target = &b.targets.to_vec()[r * 8..(r + 1) * 8];
            assert_eq!(
                &input[1..],
                &target[..7],
                "target is the input shifted by one"
            );
            assert_eq!(target[7], input[7] + 3);
            starts.push(input[0] / 3);
        }
    }
    starts.sort_unstable();
    assert_eq!(starts, (0..42).collect::<Vec<_>>());
}

#[test]
fn padding_right_and_left_with_masks() {
    let seqs = [vec![5, 6, 7], vec![8], vec![]];
    let p = pad_sequences::<f32, _>(&seqs, 0, PadSide::Right).unwrap();
    assert_eq!(p.ids.shape(), &[3, 3]);
    assert_eq!(p.ids.to_vec(), [5, 6, 7, 8, 0, 0, 0, 0, 0]);
    assert_eq!(p.mask.shape(), &[3, 3]);
    assert_eq!(
        p.mask.to_vec(),
        vec![1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    );
    assert_eq!(p.lengths, vec![3, 1, 0]);

    let p = pad_sequences::<f64, _>(&seqs, 99, PadSide::Left).unwrap();
    assert_eq!(p.ids.to_vec(), [5, 6, 7, 99, 99, 8, 99, 99, 99]);
    assert_eq!(
        p.mask.to_vec(),
        vec![1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    );

    let p = pad_sequences_to::<f32, _>(&[vec![1, 2]], 4, 0, PadSide::Right).unwrap();
    assert_eq!(p.ids.to_vec(), [1, 2, 0, 0]);
    assert!(matches!(
        pad_sequences_to::<f32, _>(&[vec![1, 2], vec![1, 2, 3]], 2, 0, PadSide::Right),
        Err(DataError::InvalidArgument { .. })
    ));

    let none: [Vec<i64>; 0] = [];
    let p = pad_sequences::<f32, _>(&none, 0, PadSide::Right).unwrap();
    assert_eq!(p.ids.shape(), &[0, 0]);
}

#[test]
fn padding_to_an_impossible_length_is_an_error_not_a_panic() {
    // 2^61 i64 ids are 2^64 bytes: more than an address space holds. This used to panic
    // ("capacity overflow") in `Vec::with_capacity`.
    let err = pad_sequences_to::<f32, _>(&[vec![1]], 1 << 61, 0, PadSide::Right).unwrap_err();
    assert!(matches!(err, DataError::InvalidArgument { .. }), "{err}");
    assert!(err.to_string().contains("do not fit in memory"), "{err}");
    let err =
        pad_sequences_to::<f64, _>(&[vec![1], vec![2]], usize::MAX, 0, PadSide::Left).unwrap_err();
    assert!(err.to_string().contains("do not fit in memory"), "{err}");
}
