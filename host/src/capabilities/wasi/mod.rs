//! The WASI 0.2 base language runtimes need: clocks, randomness, streams and a process
//! environment (kept empty). Filesystem and sockets are linked with no preopened directory and
//! every address refused, so a component that merely imports them loads and reaches nothing.

use super::{Capability, CapabilityHost, ConnectorContext, Granting, NoGrant};
use wasmtime::component::Linker;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

pub struct Wasi;

impl Capability for Wasi {
    const NAME: &'static str = "wasi";
    const IMPORTS: &'static [&'static str] = &[
        "wasi:io/",
        "wasi:clocks/",
        "wasi:random/",
        "wasi:cli/",
        "wasi:filesystem/",
        "wasi:sockets/",
    ];
    const GRANTING: Granting = Granting::Always;
    type Grant = NoGrant;
    type Shared = ();
    type Instance = WasiCtx;

    fn link<T: CapabilityHost>(
        linker: &mut Linker<T>,
        _get: fn(&mut T) -> &mut WasiCtx,
    ) -> wasmtime::Result<()> {
        wasmtime_wasi::p2::add_to_linker_async(linker)
    }

    fn open(_: Option<&NoGrant>, _: &ConnectorContext) -> anyhow::Result<()> {
        Ok(())
    }

    fn instance(_: &()) -> WasiCtx {
        WasiCtxBuilder::new()
            .inherit_stderr()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .build()
    }
}
