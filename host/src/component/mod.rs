//! Loading, linking and calling connector components.

pub mod cache;
pub mod inspect;
pub mod instance;
pub mod limiter;
pub mod linker;
pub mod loader;
pub mod sink_instance;
pub mod source_instance;
pub mod store;

pub use instance::GuestFailure;
pub use loader::{ComponentInfo, LoadError, LoadedComponent};
pub use sink_instance::SinkInstance;
pub use source_instance::SourceInstance;
