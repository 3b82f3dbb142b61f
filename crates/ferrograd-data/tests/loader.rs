//! DataLoader behaviour: partitions, seeded order, drop_last, shapes, batch contents.

use ferrograd_data::{
    Batch, DataError, DataLoader, Dataset, Example, Rows, Subset, TensorDataset, collate,
    collate_each,
};
use ferrograd_tensor::{IdTensor, Tensor};
use proptest::prelude::*;

/// `n` examples whose features are `[i, 10·i, 100·i]` and whose target is `i % 3`, so a
/// batch's contents tell which examples it holds.
fn numbered(n: usize) -> TensorDataset<Tensor<f64>, IdTensor> {
    let x: Vec<f64> = (0..n)
        .flat_map(|i| [i as f64, 10.0 * i as f64, 100.0 * i as f64])
        .collect();
    let x = Tensor::from_vec(x, &[n, 3]).unwrap();
    let y = IdTensor::from((0..n).map(|i| (i % 3) as i64).collect::<Vec<_>>());
    TensorDataset::new(x, y).unwrap()
}

/// The example ids in a batch, read back from its first feature column.
fn ids(batch: &Batch<Tensor<f64>, IdTensor>) -> Vec<usize> {
    let rows = batch.inputs.to_vec2().unwrap();
    for (row, class) in rows.iter().zip(batch.targets.to_vec()) {
        let id = row[0] as usize;
        assert_eq!(row[1], 10.0 * id as f64);
        assert_eq!(row[2], 100.0 * id as f64);
        assert_eq!(class, (id % 3) as i64, "target travels with its input");
    }
    rows.iter().map(|r| r[0] as usize).collect()
}

fn epoch_ids(
    loader: &DataLoader<&TensorDataset<Tensor<f64>, IdTensor>>,
    epoch: u64,
) -> Vec<Vec<usize>> {
    loader.epoch(epoch).map(|b| ids(&b.unwrap())).collect()
}

#[test]
fn shuffled_epoch_visits_every_example_exactly_once() {
    let ds = numbered(103);
    let loader = DataLoader::new(&ds, 10).unwrap().shuffle(7);
    for epoch in 0..5 {
        let mut seen: Vec<usize> = epoch_ids(&loader, epoch).concat();
        assert_eq!(seen.len(), 103);
        seen.sort_unstable();
        assert_eq!(seen, (0..103).collect::<Vec<_>>(), "epoch {epoch}");
    }
}

#[test]
fn shuffling_actually_changes_the_order() {
    let ds = numbered(50);
    let loader = DataLoader::new(&ds, 50).unwrap().shuffle(3);
    let order = epoch_ids(&loader, 0).concat();
    // The chance that a uniform permutation of 50 is the identity is 1/50!.
    assert_ne!(order, (0..50).collect::<Vec<_>>());
    assert_eq!(loader.order(0), order);
}

#[test]
fn same_seed_same_batches_different_epoch_or_seed_different_order() {
    let ds = numbered(64);
    let a = DataLoader::new(&ds, 8).unwrap().shuffle(42);
    let b = DataLoader::new(&ds, 8).unwrap().shuffle(42);
    let other_seed = DataLoader::new(&ds, 8).unwrap().shuffle(43);
    for epoch in 0..4 {
        assert_eq!(epoch_ids(&a, epoch), epoch_ids(&b, epoch));
        // Epochs do not depend on what was iterated before: epoch 3 alone is the same.
        assert_eq!(epoch_ids(&a, epoch), epoch_ids(&a, epoch));
        assert_ne!(epoch_ids(&a, epoch), epoch_ids(&other_seed, epoch));
    }
    let orders: Vec<Vec<usize>> = (0..4).map(|e| a.order(e)).collect();
    for i in 0..4 {
        for j in i + 1..4 {
            assert_ne!(orders[i], orders[j], "epochs {i} and {j} share an order");
        }
    }
}

#[test]
fn without_shuffle_batches_are_in_dataset_order() {
    let ds = numbered(7);
    let loader = DataLoader::new(&ds, 3).unwrap();
    assert_eq!(
        epoch_ids(&loader, 0),
        vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]
    );
    assert_eq!(epoch_ids(&loader, 5), epoch_ids(&loader, 0));
}

#[test]
fn drop_last_drops_only_the_short_batch() {
    let ds = numbered(10);
    let keep = DataLoader::new(&ds, 4).unwrap().shuffle(1);
    let drop = DataLoader::new(&ds, 4).unwrap().shuffle(1).drop_last(true);
    assert_eq!(keep.num_batches(), 3);
    assert_eq!(drop.num_batches(), 2);
    let kept = epoch_ids(&keep, 0);
    let dropped = epoch_ids(&drop, 0);
    assert_eq!(kept.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
    assert_eq!(dropped.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4]);
    // Same order; the dropped run is exactly the short tail.
    assert_eq!(dropped[..], kept[..2]);

    // A dataset that divides evenly loses nothing.
    let even = numbered(12);
    let loader = DataLoader::new(&even, 4).unwrap().drop_last(true);
    assert_eq!(epoch_ids(&loader, 0).concat().len(), 12);

    // Fewer examples than one batch: no batch at all with drop_last.
    let small = numbered(3);
    let loader = DataLoader::new(&small, 4).unwrap().drop_last(true);
    assert_eq!(loader.epoch(0).count(), 0);
}

#[test]
fn batch_shapes() {
    let ds = numbered(10);
    let loader = DataLoader::new(&ds, 4).unwrap().shuffle(9);
    let mut epoch = loader.epoch(0);
    assert_eq!(epoch.len(), 3);
    for expected in [4, 4, 2] {
        let b = epoch.next().unwrap().unwrap();
        assert_eq!(b.inputs.shape(), &[expected, 3]);
        assert_eq!(b.targets.shape(), &[expected]);
        assert_eq!(b.len(), expected);
    }
    assert!(epoch.next().is_none());

    // Regression targets [n, 1] stay [batch, 1]; higher-rank inputs keep their tail.
    let x = Tensor::<f32>::zeros(&[6, 2, 5]);
    let y = Tensor::<f32>::zeros(&[6, 1]);
    let ds = TensorDataset::new(x, y).unwrap();
    let b = DataLoader::new(&ds, 4)
        .unwrap()
        .epoch(0)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(b.inputs.shape(), &[4, 2, 5]);
    assert_eq!(b.targets.shape(), &[4, 1]);
}

#[test]
fn dataset_is_stored_without_copy_and_batches_are_gathered() {
    let x = Tensor::<f32>::from([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
    let y = Tensor::<f32>::from([[0.5], [1.5], [2.5]]);
    let ds = TensorDataset::new(x.clone(), y.clone()).unwrap();
    assert!(ds.inputs().shares_storage_with(&x));
    assert!(ds.targets().shares_storage_with(&y));
    let b = ds.get_batch(&[2, 0, 2]).unwrap();
    assert_eq!(b.inputs.to_vec(), vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]);
    assert_eq!(b.targets.to_vec(), vec![2.5, 0.5, 2.5]);
    assert!(!b.inputs.shares_storage_with(&x));
    // Loading every epoch leaves the stored tensors untouched.
    let loader = DataLoader::new(&ds, 2).unwrap().shuffle(0);
    for e in 0..3 {
        for batch in loader.epoch(e) {
            batch.unwrap();
        }
    }
    assert_eq!(ds.inputs().to_vec(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
}

#[test]
fn get_returns_rows_without_the_batch_axis() {
    let ds = numbered(4);
    let ex = ds.get(2).unwrap();
    assert_eq!(ex.input.shape(), &[3]);
    assert_eq!(ex.input.to_vec(), vec![2.0, 20.0, 200.0]);
    assert_eq!(ex.target.shape(), &[] as &[usize]);
    assert_eq!(ex.target.to_vec(), [2]);
    assert!(matches!(
        ds.get(4),
        Err(DataError::IndexOutOfRange {
            index: 4,
            len: 4,
            ..
        })
    ));
    assert!(matches!(
        ds.get_batch(&[0, 9]),
        Err(DataError::IndexOutOfRange {
            index: 9,
            len: 4,
            ..
        })
    ));
}

#[test]
fn collate_matches_gathering() {
    let ds = numbered(6);
    let picks = [4, 1, 5];
    let examples: Vec<Example<_, _>> = picks.iter().map(|&i| ds.get(i).unwrap()).collect();
    let stacked = collate(&examples).unwrap();
    let gathered = ds.get_batch(&picks).unwrap();
    assert_eq!(stacked.inputs.to_vec(), gathered.inputs.to_vec());
    assert_eq!(stacked.inputs.shape(), gathered.inputs.shape());
    assert_eq!(stacked.targets, gathered.targets);
    let each = collate_each(&ds, &picks).unwrap();
    assert_eq!(each.targets, gathered.targets);
    assert!(matches!(
        collate::<Tensor<f32>, IdTensor>(&[]),
        Err(DataError::Empty { .. })
    ));
    let mismatched = [
        Example {
            input: Tensor::<f32>::zeros(&[2]),
            target: IdTensor::new(vec![0], &[]).unwrap(),
        },
        Example {
            input: Tensor::<f32>::zeros(&[3]),
            target: IdTensor::new(vec![0], &[]).unwrap(),
        },
    ];
    assert!(collate(&mismatched).is_err());
}

#[test]
fn subset_maps_indices_and_loads() {
    let ds = numbered(10);
    let sub = Subset::new(&ds, vec![9, 3, 5]).unwrap();
    assert_eq!(sub.len(), 3);
    assert_eq!(sub.get(1).unwrap().input.to_vec()[0], 3.0);
    let loader = DataLoader::new(&sub, 2).unwrap().shuffle(5);
    let mut seen: Vec<usize> = loader.epoch(0).flat_map(|b| ids(&b.unwrap())).collect();
    seen.sort_unstable();
    assert_eq!(seen, vec![3, 5, 9]);
    assert!(matches!(
        Subset::new(&ds, vec![10]),
        Err(DataError::IndexOutOfRange { index: 10, .. })
    ));
    assert!(sub.get(3).is_err());
}

#[test]
fn invalid_construction_is_an_error() {
    assert!(matches!(
        DataLoader::new(numbered(3), 0),
        Err(DataError::InvalidArgument { .. })
    ));
    assert!(matches!(
        TensorDataset::new(Tensor::<f32>::zeros(&[3, 2]), Tensor::<f32>::zeros(&[4, 1])),
        Err(DataError::LengthMismatch {
            inputs: 3,
            targets: 4,
            ..
        })
    ));
    assert!(matches!(
        TensorDataset::new(Tensor::<f32>::scalar(1.0), Tensor::<f32>::scalar(1.0)),
        Err(DataError::InvalidArgument { .. })
    ));
}

#[test]
fn empty_dataset_gives_empty_epochs() {
    let ds = TensorDataset::new(Tensor::<f32>::zeros(&[0, 2]), IdTensor::from(vec![])).unwrap();
    let loader = DataLoader::new(&ds, 4).unwrap().shuffle(1);
    assert_eq!(loader.num_batches(), 0);
    assert_eq!(loader.epoch(0).count(), 0);
}

#[test]
fn non_contiguous_inputs_are_made_dense() {
    // A transposed view: rows of the dataset are the columns of `base`.
    let base = Tensor::<f32>::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    let x = base.t().unwrap();
    let ds = TensorDataset::new(x, IdTensor::from(vec![0, 1, 2])).unwrap();
    assert!(ds.inputs().is_contiguous());
    assert_eq!(ds.get_batch(&[1]).unwrap().inputs.to_vec(), vec![2.0, 5.0]);
}

#[test]
fn indices_rows() {
    let ids = IdTensor::new(vec![1, 2, 3, 4, 5, 6], &[3, 2]).unwrap();
    assert_eq!(ids.num_rows(), 3);
    let taken = ids.take_rows(&[2, 0]).unwrap();
    assert_eq!(taken.shape(), &[2, 2]);
    assert_eq!(taken.to_vec(), [5, 6, 1, 2]);
    assert_eq!(ids.row(1).unwrap().to_vec(), [3, 4]);
    assert!(ids.take_rows(&[3]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// For any dataset size, batch size and seed, the batches of an epoch are disjoint,
    /// cover the dataset (all but fewer than one batch when dropping the last), and have
    /// the batch size except for one short final batch.
    #[test]
    fn batches_of_an_epoch_partition_the_dataset(
        n in 0usize..300,
        batch_size in 1usize..64,
        seed in any::<u64>(),
        epoch in 0u64..1000,
        drop_last in any::<bool>(),
    ) {
        let ds = numbered(n);
        let loader = DataLoader::new(&ds, batch_size).unwrap().shuffle(seed).drop_last(drop_last);
        let batches = epoch_ids(&loader, epoch);
        prop_assert_eq!(batches.len(), loader.num_batches());
        let mut seen = vec![0usize; n];
        for (k, b) in batches.iter().enumerate() {
            let last = k + 1 == batches.len();
            prop_assert!(!b.is_empty());
            if !last || drop_last {
                prop_assert_eq!(b.len(), batch_size);
            } else {
                prop_assert!(b.len() <= batch_size);
            }
            for &i in b {
                seen[i] += 1;
            }
        }
        prop_assert!(seen.iter().all(|&c| c <= 1), "an example appears twice");
        let covered = seen.iter().filter(|&&c| c == 1).count();
        if drop_last {
            prop_assert_eq!(covered, n - n % batch_size);
        } else {
            prop_assert_eq!(covered, n);
        }
    }
}

#[test]
fn id_views_are_stored_dense() {
    // A language-model dataset as the notebooks build it: inputs = ids[:, :-1],
    // targets = ids[:, 1:], both strided views of one [3, 4] array.
    let ids = IdTensor::new((0..12).collect(), &[3, 4]).unwrap();
    let inputs = ids.slice(1, ..-1).unwrap();
    let targets = ids.slice(1, 1..).unwrap();
    assert!(!inputs.is_contiguous() && !targets.is_contiguous());
    let ds = TensorDataset::new(inputs, targets).unwrap();
    assert!(ds.inputs().is_contiguous());
    assert!(ds.targets().is_contiguous());
    assert!(!ds.inputs().shares_storage_with(&ids));
    assert_eq!(
        ds.inputs().to_vec2().unwrap(),
        [[0, 1, 2], [4, 5, 6], [8, 9, 10]]
    );
    assert_eq!(
        ds.targets().to_vec2().unwrap(),
        [[1, 2, 3], [5, 6, 7], [9, 10, 11]]
    );
    let batch = ds.get_batch(&[2, 0]).unwrap();
    assert_eq!(batch.inputs.to_vec2().unwrap(), [[8, 9, 10], [0, 1, 2]]);
    assert_eq!(batch.targets.to_vec2().unwrap(), [[9, 10, 11], [1, 2, 3]]);
}
