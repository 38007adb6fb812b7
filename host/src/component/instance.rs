//! One connector's live instance, for either role: created from a pre-linked component,
//! called with a CPU deadline and a memory cap, and thrown away after a trap (a trapped
//! instance is poisoned). The role-specific calls live in `sink_instance` and
//! `source_instance`.

use super::ComponentInfo;
use super::store::GuestState;
use crate::capabilities;
use crate::role::Role;
use crate::wit::GuestError;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{Instance as WasmInstance, InstancePre, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

/// A role's exports: how they are found in a component and how `open` and `close` are
/// called. Implemented by [`Sink`](super::sink_instance::Sink) and
/// [`Source`](super::source_instance::Source); everything typed by it (factories, instances,
/// swap commands) belongs to one role, so a sink can never be swapped for a source.
pub trait RoleExports: Send + Sync + 'static {
    type Indices: Send + Sync;
    type Guest: Send + Sync;
    const ROLE: Role;

    fn indices(pre: &InstancePre<GuestState>) -> wasmtime::Result<Self::Indices>;

    fn load(
        indices: &Self::Indices,
        store: &mut Store<GuestState>,
        instance: &WasmInstance,
    ) -> wasmtime::Result<Self::Guest>;

    fn open<'a>(
        guest: &'a Self::Guest,
        store: &'a mut Store<GuestState>,
        config: &'a str,
    ) -> impl Future<Output = wasmtime::Result<Result<(), GuestError>>> + Send + 'a;

    fn close<'a>(
        guest: &'a Self::Guest,
        store: &'a mut Store<GuestState>,
    ) -> impl Future<Output = wasmtime::Result<Result<(), GuestError>>> + Send + 'a;
}

/// Implements [`RoleExports`] for a role's marker type from the role's bindings module in
/// `crate::wit`: the two roles differ only in which exports they name.
macro_rules! role_exports {
    ($marker:ty, $exports:ident, $role:expr) => {
        impl $crate::component::instance::RoleExports for $marker {
            type Indices = $crate::wit::$exports::GuestIndices;
            type Guest = $crate::wit::$exports::Guest;
            const ROLE: $crate::role::Role = $role;

            fn indices(
                pre: &wasmtime::component::InstancePre<$crate::component::store::GuestState>,
            ) -> wasmtime::Result<Self::Indices> {
                $crate::wit::$exports::GuestIndices::new(pre)
            }

            fn load(
                indices: &Self::Indices,
                store: &mut wasmtime::Store<$crate::component::store::GuestState>,
                instance: &wasmtime::component::Instance,
            ) -> wasmtime::Result<Self::Guest> {
                indices.load(store, instance)
            }

            fn open<'a>(
                guest: &'a Self::Guest,
                store: &'a mut wasmtime::Store<$crate::component::store::GuestState>,
                config: &'a str,
            ) -> impl Future<Output = wasmtime::Result<Result<(), $crate::wit::GuestError>>> + Send + 'a
            {
                guest.call_open(store, config)
            }

            fn close<'a>(
                guest: &'a Self::Guest,
                store: &'a mut wasmtime::Store<$crate::component::store::GuestState>,
            ) -> impl Future<Output = wasmtime::Result<Result<(), $crate::wit::GuestError>>> + Send + 'a
            {
                guest.call_close(store)
            }
        }
    };
}
pub(super) use role_exports;

/// What every instance of a connector is given: its config, capabilities and limits.
#[derive(Clone)]
pub struct InstanceSettings {
    /// What the config grants; a swapped-in component is checked against it too.
    pub grants: Arc<capabilities::Grants>,
    /// Opened once per connector: pools and databases behind it are shared by every restart
    /// and every swapped-in component.
    pub capabilities: Arc<capabilities::Shared>,
    pub memory_limit: usize,
    pub call_deadline: Duration,
    pub config_json: String,
}

/// Everything needed to start a fresh instance, shared by every restart.
pub struct Factory<R: RoleExports> {
    engine: Engine,
    pre: InstancePre<GuestState>,
    indices: R::Indices,
    settings: InstanceSettings,
    info: ComponentInfo,
}

impl<R: RoleExports> Factory<R> {
    pub fn new(
        engine: &Engine,
        linker: &Linker<GuestState>,
        component: &wasmtime::component::Component,
        settings: InstanceSettings,
        info: ComponentInfo,
    ) -> wasmtime::Result<Self> {
        let pre = linker.instantiate_pre(component)?;
        let indices = R::indices(&pre)?;
        Ok(Self {
            engine: engine.clone(),
            pre,
            indices,
            settings,
            info,
        })
    }

    pub fn info(&self) -> &ComponentInfo {
        &self.info
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    /// The guest panicked or hit `unreachable`.
    Panic,
    /// The call ran past its CPU deadline.
    Deadline,
    /// The guest tried to grow memory past its limit.
    OutOfMemory,
    /// The call outlived its deadline while waiting in a host call, where epoch
    /// interruption cannot reach it.
    HostCallTimeout,
    Other,
}

impl TrapKind {
    pub fn label(self) -> &'static str {
        match self {
            TrapKind::Panic => "panic",
            TrapKind::Deadline => "deadline",
            TrapKind::OutOfMemory => "out_of_memory",
            TrapKind::HostCallTimeout => "host_call_timeout",
            TrapKind::Other => "other",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GuestFailure {
    #[error("guest trapped ({}): {message}", kind.label())]
    Trap { kind: TrapKind, message: String },
    #[error("connector refused to open: {}", open_refusal(.0))]
    Open(GuestError),
}

/// What `open`'s answer means to the person who reads it.
fn open_refusal(e: &GuestError) -> String {
    match e {
        GuestError::Retryable(r) => format!("its external system is unavailable: {}", r.message),
        GuestError::Config(m) => format!("invalid [config]: {m}"),
        GuestError::Fatal(m) | GuestError::InvalidData(m) => m.clone(),
    }
}

pub(super) struct Live<G> {
    pub(super) store: Store<GuestState>,
    pub(super) guest: G,
}

pub struct Instance<R: RoleExports> {
    factory: Arc<Factory<R>>,
    live: Option<Live<R::Guest>>,
    /// Unique per opened instance in this process (see [`Instance::id`]).
    id: u64,
}

static NEXT_INSTANCE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl<R: RoleExports> Instance<R> {
    pub fn new(factory: Arc<Factory<R>>) -> Self {
        Self {
            factory,
            live: None,
            id: 0,
        }
    }

    pub fn info(&self) -> &ComponentInfo {
        &self.factory.info
    }

    pub fn is_open(&self) -> bool {
        self.live.is_some()
    }

    /// Which opened instance is live, if any: a new id after every restart or swap, so
    /// state tied to one instance (a source's positions) is never handed to another.
    pub fn id(&self) -> Option<u64> {
        self.live.as_ref().map(|_| self.id)
    }

    /// Linear memory the live instance holds, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.live
            .as_ref()
            .map_or(0, |l| l.store.data().limiter.current())
    }

    /// Instantiate and `open` if there is no live instance.
    pub async fn ensure_open(&mut self) -> Result<(), GuestFailure> {
        if self.live.is_some() {
            return Ok(());
        }
        let f = &self.factory;
        let s = &f.settings;
        let state = GuestState::new(s.capabilities.instance(), s.memory_limit, s.call_deadline);
        let mut store = Store::new(&f.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(|ctx| {
            let data = ctx.data();
            if data.call_started.elapsed() > data.call_deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                // Yield to the async runtime at every tick so one guest never hogs a worker.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        begin_call(&mut store);
        let instance = f
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| trap(&store, e))?;
        let guest = R::load(&f.indices, &mut store, &instance).map_err(|e| trap(&store, e))?;
        let config = s.config_json.clone();
        let mut live = Live { store, guest };
        let opened = guarded(
            s.call_deadline,
            R::open(&live.guest, &mut live.store, &config),
        )
        .await;
        match opened {
            Ok(Ok(())) => {
                self.live = Some(live);
                self.id = NEXT_INSTANCE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(e)) => Err(GuestFailure::Open(e)),
            Err(e) => Err(trap(&live.store, e)),
        }
    }

    /// Open if needed and get the live instance ready for a call, with the call deadline.
    pub(super) async fn begin(&mut self) -> Result<(&mut Live<R::Guest>, Duration), GuestFailure> {
        self.ensure_open().await?;
        let deadline = self.factory.settings.call_deadline;
        let Some(live) = self.live.as_mut() else {
            return Err(GuestFailure::Trap {
                kind: TrapKind::Other,
                message: "instance unavailable".into(),
            });
        };
        begin_call(&mut live.store);
        Ok((live, deadline))
    }

    /// The outcome of a call made after [`begin`](Self::begin): a trap drops the instance, so
    /// the next call starts a fresh one.
    pub(super) fn finish<T>(&mut self, result: wasmtime::Result<T>) -> Result<T, GuestFailure> {
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                let failure = match &self.live {
                    Some(live) => trap(&live.store, e),
                    None => GuestFailure::Trap {
                        kind: TrapKind::Other,
                        message: format!("{e:#}"),
                    },
                };
                self.live = None;
                Err(failure)
            }
        }
    }

    /// `close` the live instance, if any, and drop it.
    pub async fn close(&mut self) -> Result<(), GuestFailure> {
        let deadline = self.factory.settings.call_deadline;
        let Some(mut live) = self.live.take() else {
            return Ok(());
        };
        begin_call(&mut live.store);
        match guarded(deadline, R::close(&live.guest, &mut live.store)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(GuestFailure::Open(e)),
            Err(e) => Err(trap(&live.store, e)),
        }
    }
}

fn begin_call(store: &mut Store<GuestState>) {
    store.data_mut().call_started = Instant::now();
    store.data_mut().limiter.refused = false;
    store.set_epoch_deadline(1);
}

#[derive(Debug, thiserror::Error)]
#[error("the call was still waiting in a host call {0:?} after it started")]
struct HostCallTimeout(Duration);

/// Epoch interruption stops a guest spinning in its own code; this outer bound also stops one
/// stuck waiting in a host call. Dropping the call future poisons the store, which is then
/// discarded like after any trap.
pub(super) async fn guarded<T>(
    deadline: Duration,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    let outer = deadline.saturating_mul(2) + Duration::from_secs(1);
    match tokio::time::timeout(outer, call).await {
        Ok(r) => r,
        Err(_) => Err(wasmtime::Error::new(HostCallTimeout(outer))),
    }
}

fn trap(store: &Store<GuestState>, e: wasmtime::Error) -> GuestFailure {
    let kind = if store.data().limiter.refused {
        TrapKind::OutOfMemory
    } else if e.downcast_ref::<HostCallTimeout>().is_some() {
        TrapKind::HostCallTimeout
    } else {
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => TrapKind::Deadline,
            Some(Trap::UnreachableCodeReached) => TrapKind::Panic,
            _ => TrapKind::Other,
        }
    };
    GuestFailure::Trap {
        kind,
        message: format!("{e:#}"),
    }
}
