//! Per-instance memory cap that also remembers how much the guest holds, for the
//! `guest_memory_bytes` gauge.

use wasmtime::ResourceLimiter;

pub struct MemoryLimiter {
    limit: usize,
    current: usize,
    /// Set when a growth was refused, so a following trap can be reported as out-of-memory.
    pub refused: bool,
}

impl MemoryLimiter {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            current: 0,
            refused: false,
        }
    }

    pub fn current(&self) -> usize {
        self.current
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.refused = true;
            return Ok(false);
        }
        self.current = desired;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}
