//! Links every import the host provides. Whether a connector may use one is decided before
//! instantiation by [`crate::capabilities::grants`], so the error can name the config key.

use super::bindings::danube::connect::{log, metrics, mqtt, state, topics};
use super::store::GuestState;
use crate::capabilities::{
    log::LogCapability, metrics::MetricsCapability, mqtt::MqttCapability, state::StateCapability,
    topics::TopicsCapability,
};
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

pub fn build(engine: &Engine) -> wasmtime::Result<Linker<GuestState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    log::add_to_linker::<_, HasSelf<LogCapability>>(&mut linker, |s: &mut GuestState| &mut s.log)?;
    metrics::add_to_linker::<_, HasSelf<MetricsCapability>>(&mut linker, |s: &mut GuestState| {
        &mut s.metrics
    })?;
    state::add_to_linker::<_, HasSelf<StateCapability>>(&mut linker, |s: &mut GuestState| {
        &mut s.state
    })?;
    mqtt::add_to_linker::<_, HasSelf<MqttCapability>>(&mut linker, |s: &mut GuestState| {
        &mut s.mqtt
    })?;
    topics::add_to_linker::<_, HasSelf<TopicsCapability>>(&mut linker, |s: &mut GuestState| {
        &mut s.topics
    })?;
    Ok(linker)
}
