//! What one connector instance's `Store` holds: a resource table, one field per capability
//! unit, its memory limiter and its call deadline.

use super::limiter::MemoryLimiter;
use crate::capabilities::{CapabilityHost, Instances};
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

pub struct GuestState {
    table: ResourceTable,
    pub capabilities: Instances,
    pub limiter: MemoryLimiter,
    /// Start of the guest call in progress, checked at every epoch tick.
    pub call_started: Instant,
    pub call_deadline: Duration,
}

impl GuestState {
    pub fn new(capabilities: Instances, memory_limit: usize, call_deadline: Duration) -> Self {
        Self {
            table: ResourceTable::new(),
            capabilities,
            limiter: MemoryLimiter::new(memory_limit),
            call_started: Instant::now(),
            call_deadline,
        }
    }
}

impl CapabilityHost for GuestState {
    fn capabilities(&mut self) -> &mut Instances {
        &mut self.capabilities
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.capabilities.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        let http = &mut self.capabilities.http;
        WasiHttpCtxView {
            ctx: &mut http.ctx,
            table: &mut self.table,
            hooks: &mut http.hooks,
        }
    }
}
