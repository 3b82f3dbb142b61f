//! DataLoader throughput: batches per second over an MNIST-sized dataset (60,000 × 784
//! f32 inputs, class-index targets) at batch size 128 with shuffling. One iteration is
//! one whole epoch (469 batches, the last one short); criterion's elements/s reads as
//! batches/s. Two references: the same loader without shuffling, and the shuffled row
//! copies done by hand into one reused buffer.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrograd_data::{DataLoader, TensorDataset};
use ferrograd_tensor::{IdTensor, Tensor};
use std::hint::black_box;
use std::time::Duration;

const ROWS: usize = 60_000;
const COLS: usize = 784;
const BATCH: usize = 128;

fn dataloader(c: &mut Criterion) {
    // Cheap deterministic "pixels": the bench measures gathering, not the values.
    let pixels: Vec<f32> = (0..ROWS * COLS).map(|i| (i % 251) as f32 / 250.0).collect();
    let x = Tensor::from_vec(pixels, &[ROWS, COLS]).expect("shape fits");
    let y = IdTensor::from((0..ROWS).map(|i| (i % 10) as i64).collect::<Vec<_>>());
    let dataset = TensorDataset::new(x, y).expect("rows match");
    let loader = DataLoader::new(&dataset, BATCH)
        .expect("batch size > 0")
        .shuffle(0);

    let mut group = c.benchmark_group("dataloader_60000x784_f32");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(loader.num_batches() as u64));
    let mut epoch = 0u64;
    group.bench_function("shuffled_epoch_batch_128", |b| {
        b.iter(|| {
            epoch += 1;
            for batch in loader.epoch(epoch) {
                black_box(batch.expect("in-range indices"));
            }
        });
    });
    let sequential = DataLoader::new(&dataset, BATCH).expect("batch size > 0");
    group.bench_function("sequential_epoch_batch_128", |b| {
        b.iter(|| {
            for batch in sequential.epoch(0) {
                black_box(batch.expect("in-range indices"));
            }
        });
    });
    // Reference: the same shuffled gathers as plain row copies into one reused buffer,
    // the memory-bound floor that the loader's per-batch overhead adds to.
    let data = dataset.inputs().as_slice().expect("dense").to_vec();
    let mut out = vec![0f32; BATCH * COLS];
    group.bench_function("raw_row_copies_reference", |b| {
        b.iter(|| {
            epoch += 1;
            for chunk in loader.order(epoch).chunks(BATCH) {
                for (dst, &row) in out.chunks_mut(COLS).zip(chunk) {
                    dst.copy_from_slice(&data[row * COLS..(row + 1) * COLS]);
                }
                black_box(&out);
            }
        });
    });
    group.finish();
}

criterion_group!(benches, dataloader);
criterion_main!(benches);
