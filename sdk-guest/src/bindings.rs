//! Raw bindings generated from `wit/`. Most connectors never touch these directly.

/// Bindings for the `sink-connector` world; owns the shared `types`, `log`, `metrics`,
/// `state`, `schemas` and `kafka` bindings. WASI interfaces map onto the `wasip2` crate.
pub mod sink {
    wit_bindgen::generate!({
        path: "../wit",
        world: "danube:connect/sink-connector",
        with: {
            "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
            "wasi:http/types@0.2.12": wasip2::http::types,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        },
        pub_export_macro: true,
        export_macro_name: "export_sink_bindings",
        default_bindings_module: "danube_connect_sdk::bindings::sink",
    });
}

/// Bindings for the `source-connector` world, reusing every import and type of [`sink`].
pub mod source {
    wit_bindgen::generate!({
        path: "../wit",
        world: "danube:connect/source-connector",
        with: {
            "danube:connect/types@0.1.0": crate::bindings::sink::danube::connect::types,
            "danube:connect/log@0.1.0": crate::bindings::sink::danube::connect::log,
            "danube:connect/metrics@0.1.0": crate::bindings::sink::danube::connect::metrics,
            "danube:connect/state@0.1.0": crate::bindings::sink::danube::connect::state,
            "danube:connect/schemas@0.1.0": crate::bindings::sink::danube::connect::schemas,
            "danube:connect/kafka@0.1.0": crate::bindings::sink::danube::connect::kafka,
            "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
            "wasi:http/types@0.2.12": wasip2::http::types,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        },
        pub_export_macro: true,
        export_macro_name: "export_source_bindings",
        default_bindings_module: "danube_connect_sdk::bindings::source",
    });
}
