//! [`DataLoader`]: mini-batches of a [`Dataset`], shuffled from a seed, one iterator
//! per epoch.

use crate::dataset::Dataset;
use crate::error::{Result, invalid};
use ferrograd_tensor::Rng;

/// The multiplier that spreads epoch numbers over the seed space (2⁶⁴ / φ, odd, so that
/// different epochs always give different seeds).
const EPOCH_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// Splits a dataset into mini-batches, as PyTorch's `DataLoader`.
///
/// - **Batch size**: every batch has `batch_size` examples except perhaps the last,
///   which holds the remainder, or is dropped with [`DataLoader::drop_last`].
/// - **Shuffling** ([`DataLoader::shuffle`]): epoch `e` visits the examples in a
///   permutation drawn from a [`Rng`] seeded with
///   `Rng::new(seed).next_u64() ^ e.wrapping_mul(0x9E3779B97F4A7C15)` (Fisher–Yates).
///   The same seed and epoch give the same batches on every machine; each epoch gets
///   a different order; no epoch depends on how far earlier epochs were iterated.
///   Without shuffling the order is `0, 1, …, n-1`.
/// - **Collate**: each batch is [`Dataset::get_batch`] of its indices; a
///   [`crate::TensorDataset`] gathers those rows from its stored arrays, so an epoch
///   costs one copy of the data it yields and a permutation of `n` indices — the dataset
///   is never copied.
///
/// ```
/// use ferrograd_data::{DataLoader, book};
/// let loader = DataLoader::new(book::buy_no_buy_classes::<f32>(), 5)?.shuffle(42);
/// let sizes: Vec<usize> = loader.epoch(0).map(|b| b.map(|b| b.len())).collect::<Result<_, _>>()?;
/// assert_eq!(sizes, vec![5, 5, 2]);
/// # Ok::<(), ferrograd_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct DataLoader<D> {
    dataset: D,
    batch_size: usize,
    seed: Option<u64>,
    drop_last: bool,
}

impl<D: Dataset> DataLoader<D> {
    /// A loader yielding batches of `batch_size` examples in dataset order.
    ///
    /// # Errors
    /// [`crate::DataError::InvalidArgument`] when `batch_size` is 0.
    pub fn new(dataset: D, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(invalid("DataLoader::new", "batch size must be at least 1"));
        }
        Ok(Self {
            dataset,
            batch_size,
            seed: None,
            drop_last: false,
        })
    }

    /// Shuffles every epoch, deterministically from `seed` and the epoch number.
    #[must_use]
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Whether to drop the last batch of an epoch when it is smaller than the batch size.
    #[must_use]
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// The dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    /// Examples per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The shuffling seed, if shuffling.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// True when a short last batch is dropped.
    pub fn drops_last(&self) -> bool {
        self.drop_last
    }

    /// Batches per epoch: `n / batch_size`, rounded up unless the last is dropped.
    pub fn num_batches(&self) -> usize {
        let n = self.dataset.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// The order in which epoch `epoch` visits the examples (all of them, including
    /// those of a dropped last batch).
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let n = self.dataset.len();
        match self.seed {
            Some(seed) => {
                let base = Rng::new(seed).next_u64();
                Rng::new(base ^ epoch.wrapping_mul(EPOCH_MIX)).permutation(n)
            }
            None => (0..n).collect(),
        }
    }

    /// The example indices of each batch of epoch `epoch`.
    pub fn batch_indices(&self, epoch: u64) -> Vec<Vec<usize>> {
        let order = self.order(epoch);
        order
            .chunks(self.batch_size)
            .take(self.num_batches())
            .map(<[usize]>::to_vec)
            .collect()
    }

    /// An iterator over the batches of epoch `epoch` (numbered from 0).
    pub fn epoch(&self, epoch: u64) -> Epoch<'_, D> {
        Epoch {
            loader: self,
            order: self.order(epoch),
            next: 0,
            batches: self.num_batches(),
        }
    }
}

/// The batches of one epoch, in order: an iterator of `Result<D::Batch>`.
#[derive(Debug)]
pub struct Epoch<'a, D> {
    loader: &'a DataLoader<D>,
    order: Vec<usize>,
    next: usize,
    batches: usize,
}

impl<D: Dataset> Epoch<'_, D> {
    /// The order of the examples in this epoch.
    pub fn order(&self) -> &[usize] {
        &self.order
    }
}

impl<D: Dataset> Iterator for Epoch<'_, D> {
    type Item = Result<D::Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.batches {
            return None;
        }
        let bs = self.loader.batch_size;
        let start = self.next * bs;
        let end = (start + bs).min(self.order.len());
        self.next += 1;
        Some(self.loader.dataset.get_batch(&self.order[start..end]))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.batches - self.next;
        (left, Some(left))
    }
}

impl<D: Dataset> ExactSizeIterator for Epoch<'_, D> {}
