//! The one wasmtime `Engine` a host process shares between its connectors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity of CPU deadlines and of async yields.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Sizes the instance pool. Slots are virtual-memory reservations, so a generous count is cheap.
#[derive(Debug, Clone)]
pub struct EngineLimits {
    pub max_instances: u32,
    pub max_memory_bytes: usize,
}

impl EngineLimits {
    /// Room for every connector's instance, a second one for each during a swap, and slack.
    pub fn for_connectors(connectors: usize) -> Self {
        let n = u32::try_from(connectors).unwrap_or(u32::MAX / 64);
        Self {
            max_instances: n.saturating_mul(2).saturating_add(16).max(32),
            ..Self::default()
        }
    }
}

impl Default for EngineLimits {
    fn default() -> Self {
        Self {
            max_instances: 32,
            max_memory_bytes: 4096 << 20,
        }
    }
}

pub fn build(limits: &EngineLimits) -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    let n = limits.max_instances;
    pool.total_component_instances(n)
        .total_core_instances(n * 16)
        .max_core_instances_per_component(32)
        .total_memories(n * 2)
        .max_memories_per_component(4)
        .total_tables(n * 16)
        .max_tables_per_component(16)
        .total_stacks(n)
        .max_memory_size(limits.max_memory_bytes);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

/// Advances the engine's epoch from a plain thread, so a guest spinning on a runtime worker
/// cannot starve the clock that interrupts it.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let engine = engine.clone();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
