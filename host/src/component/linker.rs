//! One linker per host: every capability unit's imports. Whether a connector may use one is
//! decided before instantiation by [`crate::capabilities::grants`], so the error can name the
//! config key.

use super::store::GuestState;
use crate::capabilities;
use wasmtime::Engine;
use wasmtime::component::Linker;

pub fn build(engine: &Engine) -> wasmtime::Result<Linker<GuestState>> {
    let mut linker = Linker::new(engine);
    capabilities::link(&mut linker)?;
    Ok(linker)
}
