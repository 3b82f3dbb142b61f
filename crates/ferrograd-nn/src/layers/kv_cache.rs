//! The key-value cache of the book's §4.8: during generation, the keys and values of the
//! tokens already seen are kept, so each new token's attention computes only its own
//! query, key and value.
//!
//! Each layer's cache is two buffers `[batch, heads, capacity, head_dim]` allocated once.
//! [`LayerKvCache::append`] writes the new tokens' keys and values into them in place
//! (no re-concatenation, no reallocation per token) and returns views of the first
//! `len` positions, which the fused attention reads without copying. The cost of adding
//! a token is its own size, whatever the position.

use crate::error::{NnError, Result, shape_of};
use ferrograd_tensor::{Scalar, Tensor};

/// Keys and values of one attention layer, preallocated for `capacity` positions.
///
/// ```
/// use ferrograd_nn::LayerKvCache;
/// use ferrograd_tensor::Tensor;
/// let mut cache = LayerKvCache::<f32>::new(1, 2, 8, 4, 4)?; // batch 1, 2 heads, 8 positions
/// let (k, v) = cache.append(&Tensor::ones(&[1, 2, 3, 4]), &Tensor::ones(&[1, 2, 3, 4]))?;
/// assert_eq!(k.shape(), &[1, 2, 3, 4]); // the 3 positions stored so far
/// drop((k, v));
/// let (k, _) = cache.append(&Tensor::zeros(&[1, 2, 1, 4]), &Tensor::zeros(&[1, 2, 1, 4]))?;
/// assert_eq!(k.shape(), &[1, 2, 4, 4]);
/// assert_eq!(cache.reallocations(), 0); // written in place both times
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug)]
pub struct LayerKvCache<T: Scalar = f32> {
    keys: Tensor<T>,
    values: Tensor<T>,
    batch: usize,
    heads: usize,
    capacity: usize,
    key_dim: usize,
    value_dim: usize,
    len: usize,
    reallocations: usize,
    /// The attention layer's projection matrices stacked for all heads, kept from the
    /// first call so that generating a token does not stack them again. A cache belongs
    /// to one set of weights (its keys and values come from them); [`Self::clear`] drops
    /// the snapshot with the positions.
    pub(crate) projections: Option<Vec<Tensor<T>>>,
}

impl<T: Scalar> LayerKvCache<T> {
    /// A cache for `batch` sequences of `capacity` positions, `heads` heads of keys of
    /// `key_dim` and values of `value_dim` features.
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] when a size is zero or the buffers cannot be
    /// allocated.
    pub fn new(
        batch: usize,
        heads: usize,
        capacity: usize,
        key_dim: usize,
        value_dim: usize,
    ) -> Result<Self> {
        if [batch, heads, capacity, key_dim, value_dim].contains(&0) {
            return Err(NnError::InvalidArgument {
                op: "LayerKvCache::new",
                reason: format!(
                    "every size must be positive: batch {batch}, heads {heads}, capacity \
                     {capacity}, key dim {key_dim}, value dim {value_dim}"
                ),
            });
        }
        Ok(Self {
            keys: Tensor::try_zeros(&[batch, heads, capacity, key_dim])?,
            values: Tensor::try_zeros(&[batch, heads, capacity, value_dim])?,
            batch,
            heads,
            capacity,
            key_dim,
            value_dim,
            len: 0,
            reallocations: 0,
            projections: None,
        })
    }

    /// Positions stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first append.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Positions the buffers hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Positions still free.
    pub fn remaining(&self) -> usize {
        self.capacity - self.len
    }

    /// Sequences in the batch.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// How many times an append found its buffer still shared (a view from an earlier
    /// append kept alive) and had to copy it instead of writing in place; 0 in a
    /// generation loop that drops the views after each step.
    pub fn reallocations(&self) -> usize {
        self.reallocations
    }

    /// Forgets every position (the buffers stay allocated) and the layer weights it was
    /// used with.
    pub fn clear(&mut self) {
        self.len = 0;
        self.projections = None;
    }

    /// Keeps the first `len` positions (e.g. to reuse a common prompt), and forgets the
    /// layer weights it was used with: new positions are projected with the weights as
    /// they are now (as a cache without the snapshot would), so a step of training or a
    /// loaded checkpoint in between is not silently ignored.
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] when `len` is more than the positions stored.
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len > self.len {
            return Err(NnError::InvalidArgument {
                op: "LayerKvCache::truncate",
                reason: format!("cannot keep {len} positions: {} are stored", self.len),
            });
        }
        self.len = len;
        self.projections = None;
        Ok(())
    }

    /// Views `[batch, heads, len, dim]` of the stored keys and values.
    ///
    /// # Errors
    /// Never in practice (the views lie inside the buffers).
    pub fn keys_values(&self) -> Result<(Tensor<T>, Tensor<T>)> {
        Ok((
            self.keys.narrow(2, 0, self.len)?,
            self.values.narrow(2, 0, self.len)?,
        ))
    }

    /// Writes the keys and values of `t` new positions (`[batch, heads, t, dim]`, any
    /// layout; gradients do not flow into the cache) after the stored ones, and returns
    /// views of all `len + t` positions.
    ///
    /// # Errors
    /// [`NnError::BadInput`] for keys or values of another batch, head count or feature
    /// size, or of different lengths; [`NnError::CacheFull`] when the new positions do
    /// not fit (nothing is written then).
    pub fn append(
        &mut self,
        keys: &Tensor<T>,
        values: &Tensor<T>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let t = if keys.rank() == 4 { keys.shape()[2] } else { 0 };
        for (name, x, dim) in [
            ("keys", keys, self.key_dim),
            ("values", values, self.value_dim),
        ] {
            if x.shape() != [self.batch, self.heads, t, dim] {
                return Err(NnError::BadInput {
                    op: "LayerKvCache::append",
                    expected: format!(
                        "{name} of shape [{}, {}, t, {dim}] (batch, heads, new positions, \
                         features) with the same t for keys and values",
                        self.batch, self.heads
                    ),
                    got: shape_of(x.shape()),
                });
            }
        }
        if t == 0 {
            // Nothing to write (an empty prefill chunk): the positions stored so far.
            return self.keys_values();
        }
        if t > self.remaining() {
            return Err(NnError::CacheFull {
                op: "LayerKvCache::append",
                stored: self.len,
                adding: t,
                capacity: self.capacity,
            });
        }
        let (len, cap, heads) = (self.len, self.capacity, self.heads);
        for (buffer, x, dim) in [
            (&mut self.keys, keys, self.key_dim),
            (&mut self.values, values, self.value_dim),
        ] {
            if buffer.try_data_mut().is_none() {
                // A view from an earlier append is still alive: copy rather than change
                // what it shows.
                *buffer = Tensor::from_vec(buffer.to_vec(), buffer.shape())?;
                self.reallocations += 1;
            }
            let dst = buffer.try_data_mut().expect("a fresh copy is not shared");
            write_rows(dst, x, heads, cap, len, dim);
        }
        self.len += t;
        self.keys_values()
    }
}

/// Copies `x [B, H, t, dim]` into positions `len..len + t` of `dst [B, H, cap, dim]`.
fn write_rows<T: Scalar>(
    dst: &mut [T],
    x: &Tensor<T>,
    heads: usize,
    cap: usize,
    len: usize,
    dim: usize,
) {
    let src = x.contiguous_data();
    let t = x.shape()[2];
    for (bh, rows) in src.chunks(t * dim).enumerate() {
        let (b, h) = (bh / heads, bh % heads);
        let start = ((b * heads + h) * cap + len) * dim;
        dst[start..start + t * dim].copy_from_slice(rows);
    }
}

/// The KV caches of every layer of a model, with one sequence length for all.
///
/// ```
/// use ferrograd_nn::KvCache;
/// let cache = KvCache::<f32>::new(2, 1, 8, 64, 16)?; // 2 layers, batch 1, 8 heads, 64 positions
/// assert_eq!((cache.num_layers(), cache.capacity(), cache.len()), (2, 64, 0));
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug)]
pub struct KvCache<T: Scalar = f32> {
    layers: Vec<LayerKvCache<T>>,
}

impl<T: Scalar> KvCache<T> {
    /// Caches for `layers` layers of `heads` heads of `head_dim` features (keys and
    /// values alike), `batch` sequences of up to `capacity` positions.
    ///
    /// # Errors
    /// As [`LayerKvCache::new`]; also for zero layers.
    pub fn new(
        layers: usize,
        batch: usize,
        heads: usize,
        capacity: usize,
        head_dim: usize,
    ) -> Result<Self> {
        if layers == 0 {
            return Err(NnError::InvalidArgument {
                op: "KvCache::new",
                reason: "a cache needs at least one layer".into(),
            });
        }
        let layers = (0..layers)
            .map(|_| LayerKvCache::new(batch, heads, capacity, head_dim, head_dim))
            .collect::<Result<_>>()?;
        Ok(Self { layers })
    }

    /// Number of layers.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Positions stored (the same in every layer between forward passes).
    pub fn len(&self) -> usize {
        self.layers[0].len()
    }

    /// True before the first token.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Positions each layer holds.
    pub fn capacity(&self) -> usize {
        self.layers[0].capacity()
    }

    /// Positions still free.
    pub fn remaining(&self) -> usize {
        self.layers[0].remaining()
    }

    /// Forgets every position of every layer.
    pub fn clear(&mut self) {
        self.layers.iter_mut().for_each(LayerKvCache::clear);
    }

    /// Copies made because a view was kept alive, over all layers (0 normally).
    pub fn reallocations(&self) -> usize {
        self.layers.iter().map(LayerKvCache::reallocations).sum()
    }

    /// One layer's cache.
    pub fn layer(&self, index: usize) -> Option<&LayerKvCache<T>> {
        self.layers.get(index)
    }

    /// One layer's cache, mutable.
    pub fn layer_mut(&mut self, index: usize) -> Option<&mut LayerKvCache<T>> {
        self.layers.get_mut(index)
    }

    /// Every layer's cache, in order (zip them with the blocks).
    pub fn layers_mut(&mut self) -> std::slice::IterMut<'_, LayerKvCache<T>> {
        self.layers.iter_mut()
    }

    /// Checks that `adding` more positions fit before a forward pass writes any layer.
    ///
    /// # Errors
    /// [`NnError::CacheFull`].
    pub fn check_room(&self, adding: usize) -> Result<()> {
        if adding > self.remaining() {
            return Err(NnError::CacheFull {
                op: "KvCache",
                stored: self.len(),
                adding,
                capacity: self.capacity(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appending_no_positions_returns_what_is_stored() {
        let mut cache = LayerKvCache::<f32>::new(1, 2, 8, 4, 4).unwrap();
        let (k, v) = cache
            .append(&Tensor::ones(&[1, 2, 3, 4]), &Tensor::ones(&[1, 2, 3, 4]))
            .unwrap();
        drop((k, v));
        let (k, v) = cache
            .append(&Tensor::zeros(&[1, 2, 0, 4]), &Tensor::zeros(&[1, 2, 0, 4]))
            .unwrap();
        assert_eq!(k.shape(), &[1, 2, 3, 4]);
        assert_eq!(v.to_vec(), vec![1.0; 24]);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn truncating_forgets_the_weights_snapshot() {
        let mut cache = LayerKvCache::<f32>::new(1, 1, 4, 2, 2).unwrap();
        cache.projections = Some(vec![Tensor::zeros(&[2, 2])]);
        cache.truncate(0).unwrap();
        assert!(cache.projections.is_none());
    }
}
