//! Host-side bindings for the `danube:connect` WIT package.
//!
//! One inline world imports every host capability and exports both roles, so a single set of
//! types serves sinks and sources; each role's exports are looked up on their own
//! (`GuestIndices`), so a component needs to export only the interface of its role.

wasmtime::component::bindgen!({
    inline: "
        package danube:connect-host;
        world host {
            import danube:connect/log@0.1.0;
            import danube:connect/metrics@0.1.0;
            import danube:connect/state@0.1.0;
            import danube:connect/mqtt@0.1.0;
            import danube:connect/topics@0.1.0;
            export danube:connect/sink@0.1.0;
            export danube:connect/source@0.1.0;
        }
    ",
    path: "../wit",
    world: "danube:connect-host/host",
    imports: { "danube:connect/mqtt": async },
    exports: { default: async },
    with: { "danube:connect/mqtt.client": crate::capabilities::mqtt::MqttClient },
});

pub use danube::connect::types::{
    BatchError, Error as GuestError, Message, Position, Record, Retry,
};
pub use exports::danube::connect::sink;
pub use exports::danube::connect::source;

/// Fully qualified interface names as they appear in a component's imports and exports.
pub mod names {
    pub const SINK: &str = "danube:connect/sink";
    pub const SOURCE: &str = "danube:connect/source";
    pub const LOG: &str = "danube:connect/log";
    pub const METRICS: &str = "danube:connect/metrics";
    pub const STATE: &str = "danube:connect/state";
    pub const MQTT: &str = "danube:connect/mqtt";
    pub const TOPICS: &str = "danube:connect/topics";
    pub const TYPES: &str = "danube:connect/types";
}
