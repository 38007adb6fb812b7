//! Read a component file, compile it (or take it from the cache), and find its role.

use super::cache::{self, ComponentCache, Origin};
use crate::role::{Role, Roles};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// Which component a connector runs, as reported in its status.
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    pub path: PathBuf,
    pub sha256: String,
    pub role: Role,
}

pub struct LoadedComponent {
    pub path: PathBuf,
    pub component: Component,
    /// What it exports: a connector entry runs it in the role of its config.
    pub roles: Roles,
    pub digest: String,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pub origin: Origin,
    pub load_time: Duration,
}

impl LoadedComponent {
    /// As run by a connector in `role`.
    pub fn info(&self, role: Role) -> ComponentInfo {
        ComponentInfo {
            path: self.path.clone(),
            sha256: self.digest.clone(),
            role,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read component {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid WebAssembly component: {message}")]
    Compile { path: PathBuf, message: String },
    #[error(
        "{path} exports neither `danube:connect/sink` nor `danube:connect/source` (exports: {exports}); \
         build it against the danube:connect WIT worlds"
    )]
    NoRole { path: PathBuf, exports: String },
}

/// A component file read and hashed, not compiled yet: enough to tell whether it changed.
pub struct ComponentFile {
    path: PathBuf,
    bytes: Vec<u8>,
    pub digest: String,
    started: Instant,
}

pub fn read(path: &Path) -> Result<ComponentFile, LoadError> {
    let started = Instant::now();
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(ComponentFile {
        path: path.to_path_buf(),
        digest: cache::digest(&bytes),
        bytes,
        started,
    })
}

pub fn load(
    engine: &Engine,
    cache: &ComponentCache,
    path: &Path,
) -> Result<LoadedComponent, LoadError> {
    compile(engine, cache, read(path)?)
}

/// Compile (or take from the cache) a file already read, and find its role.
pub fn compile(
    engine: &Engine,
    cache: &ComponentCache,
    file: ComponentFile,
) -> Result<LoadedComponent, LoadError> {
    let ComponentFile {
        path,
        bytes,
        digest,
        started,
    } = file;
    let path = path.as_path();
    let (component, origin) =
        cache
            .load(engine, &bytes, &digest)
            .map_err(|e| LoadError::Compile {
                path: path.to_path_buf(),
                // One line: the message ends up in logs and JSON.
                message: format!("{e:#}")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            })?;
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let exports: Vec<String> = ty
        .exports(engine)
        .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentInstance(_)))
        .map(|(name, _)| name.to_string())
        .collect();
    let has = |prefix: &str| exports.iter().any(|e| e.starts_with(&format!("{prefix}@")));
    let roles = Roles {
        sink: has(Role::Sink.export()),
        source: has(Role::Source.export()),
    };
    if !roles.sink && !roles.source {
        return Err(LoadError::NoRole {
            path: path.to_path_buf(),
            exports: if exports.is_empty() {
                "none".into()
            } else {
                exports.join(", ")
            },
        });
    }
    Ok(LoadedComponent {
        path: path.to_path_buf(),
        component,
        roles,
        digest,
        imports,
        exports,
        origin,
        load_time: started.elapsed(),
    })
}
