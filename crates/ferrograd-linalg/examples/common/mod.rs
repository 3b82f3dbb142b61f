//! What the product examples share: evicting their operands from the caches before a
//! cold call.

/// A buffer larger than this machine's last-level cache (32 MiB here), so writing it
/// evicts every operand.
pub struct CacheEvictor {
    buffer: Vec<u8>,
    round: u8,
}

impl CacheEvictor {
    /// A 64 MiB buffer, allocated once.
    pub fn new() -> Self {
        Self {
            buffer: vec![0u8; 64 << 20],
            round: 0,
        }
    }

    /// Writes one byte of every cache line of the buffer (a new value each call, so the
    /// writes are never skipped).
    pub fn evict(&mut self) {
        // Never 0, so each call changes every byte it writes.
        self.round = self.round.wrapping_add(1).max(1);
        for byte in self.buffer.iter_mut().step_by(64) {
            *byte = byte.wrapping_add(self.round);
        }
        std::hint::black_box(&self.buffer);
    }
}
