//! On-disk cache of compiled components, keyed by the component's content hash and the
//! engine's compatibility hash, so a restart deserializes (~ms) instead of compiling.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

pub struct ComponentCache {
    dir: Option<PathBuf>,
}

/// Where a compiled component came from, for logs and the cold-start benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Cache,
    Compiled,
}

impl ComponentCache {
    /// `None` disables caching.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    /// `$DANUBE_CONNECT_CACHE_DIR`, else `$XDG_CACHE_HOME/danube-connect`, else
    /// `~/.cache/danube-connect`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(d) = std::env::var_os("DANUBE_CONNECT_CACHE_DIR") {
            return Some(PathBuf::from(d));
        }
        if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
            return Some(PathBuf::from(d).join("danube-connect"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("danube-connect"))
    }

    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        digest: &str,
    ) -> wasmtime::Result<(Component, Origin)> {
        let Some(dir) = &self.dir else {
            return Ok((Component::new(engine, bytes)?, Origin::Compiled));
        };
        let path = dir.join(format!("{digest}-{}.cwasm", engine_key(engine)));
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` of an engine with the same
            // compatibility hash (it is part of the file name) into a directory this host owns.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok((c, Origin::Cache)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unreadable compiled component: {e}")
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = store(&component, dir, &path) {
            tracing::warn!(dir = %dir.display(), "cannot cache compiled component: {e}");
        }
        Ok((component, Origin::Compiled))
    }
}

fn store(component: &Component, dir: &Path, path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
    // Write then rename, so a concurrent reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn engine_key(engine: &Engine) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Hex SHA-256 of the component bytes: its identity in logs, the cache and the admin API.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
