//! danube-connect-host: runs sandboxed WebAssembly connectors between Danube and the world.

pub mod backoff;
pub mod bench;
pub mod capabilities;
pub mod client;
pub mod component;
pub mod config;
pub mod danube;
pub mod endpoints;
pub mod engine;
pub mod host;
pub mod observe;
pub mod role;
pub mod runtime;
pub mod schemas;
pub mod supervisor;
pub mod wit;
