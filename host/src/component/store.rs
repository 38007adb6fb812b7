//! What one connector instance's `Store` holds: WASI context (no files, no sockets), the
//! capabilities it was granted, its memory limiter and its call deadline.

use super::limiter::MemoryLimiter;
use crate::capabilities::{
    http::HttpCapability, log::LogCapability, metrics::MetricsCapability, mqtt::MqttCapability,
    state::StateCapability, topics::TopicsCapability,
};
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub struct GuestState {
    wasi: WasiCtx,
    http_ctx: WasiHttpCtx,
    table: ResourceTable,
    pub http: HttpCapability,
    pub log: LogCapability,
    pub metrics: MetricsCapability,
    pub state: StateCapability,
    pub mqtt: MqttCapability,
    pub topics: TopicsCapability,
    pub limiter: MemoryLimiter,
    /// Start of the guest call in progress, checked at every epoch tick.
    pub call_started: Instant,
    pub call_deadline: Duration,
}

pub struct Capabilities {
    pub http: HttpCapability,
    pub log: LogCapability,
    pub metrics: MetricsCapability,
    pub state: StateCapability,
    pub mqtt: MqttCapability,
    pub topics: TopicsCapability,
}

impl GuestState {
    pub fn new(caps: Capabilities, memory_limit: usize, call_deadline: Duration) -> Self {
        let wasi = WasiCtxBuilder::new()
            .inherit_stderr()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .build();
        Self {
            wasi,
            http_ctx: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            http: caps.http,
            log: caps.log,
            metrics: caps.metrics,
            state: caps.state,
            mqtt: caps.mqtt,
            topics: caps.topics,
            limiter: MemoryLimiter::new(memory_limit),
            call_started: Instant::now(),
            call_deadline,
        }
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http_ctx,
            table: &mut self.table,
            hooks: &mut self.http,
        }
    }
}
