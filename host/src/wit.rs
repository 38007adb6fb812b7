//! Host-side bindings of what connectors export (`sink`, `source`) and the types they share.
//!
//! One inline world exports both roles, so a single set of types serves sinks and sources;
//! each role's exports are looked up on their own (`GuestIndices`), so a component needs to
//! export only the interface of its role. What connectors import is bound by each capability
//! unit in `capabilities/`.

wasmtime::component::bindgen!({
    inline: "
        package danube:connect-host;
        world host {
            export danube:connect/sink@0.1.0;
            export danube:connect/source@0.1.0;
        }
    ",
    path: "../wit",
    world: "danube:connect-host/host",
    exports: { default: async },
});

pub use danube::connect::types::{
    BatchError, Error as GuestError, Message, Position, Record, Retry, SchemaRef,
};
pub use exports::danube::connect::sink;
pub use exports::danube::connect::source;
