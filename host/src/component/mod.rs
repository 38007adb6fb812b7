//! Loading, linking and calling connector components.

pub mod bindings;
pub mod cache;
pub mod inspect;
pub mod limiter;
pub mod linker;
pub mod loader;
pub mod sink_instance;
pub mod store;

pub use loader::{ComponentInfo, LoadError, LoadedComponent, World};
pub use sink_instance::{GuestFailure, SinkInstance};
