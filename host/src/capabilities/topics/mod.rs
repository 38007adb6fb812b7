//! `danube:connect/topics`: a source says how the topics it publishes to are created. Always
//! granted: it only shapes what the connector's own records already do.

mod host;

pub use host::TopicsCapability;

use super::{Capability, CapabilityHost, ConnectorContext, Granting, NoGrant};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wasmtime::component::{HasSelf, Linker};

/// Partition counts a source asked for, per topic; its publisher reads them when it creates
/// a topic's producers.
pub type TopicPartitions = Arc<Mutex<HashMap<String, u32>>>;

pub struct Topics;

impl Capability for Topics {
    const NAME: &'static str = "topics";
    const IMPORTS: &'static [&'static str] = &["danube:connect/topics"];
    const GRANTING: Granting = Granting::Always;
    type Grant = NoGrant;
    type Shared = TopicPartitions;
    type Instance = TopicsCapability;

    fn link<T: CapabilityHost>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut TopicsCapability,
    ) -> wasmtime::Result<()> {
        host::bindings::danube::connect::topics::add_to_linker::<T, HasSelf<TopicsCapability>>(
            linker, get,
        )
    }

    fn open(_: Option<&NoGrant>, _: &ConnectorContext) -> anyhow::Result<TopicPartitions> {
        Ok(TopicPartitions::default())
    }

    fn instance(shared: &TopicPartitions) -> TopicsCapability {
        TopicsCapability::new(shared.clone())
    }
}
