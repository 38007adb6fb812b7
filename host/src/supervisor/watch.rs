//! `--watch`: poll each connector's component file and reload it once a change has settled.
//!
//! Polling file metadata is enough here (a check every half second costs nothing) and sees
//! every way a file gets replaced: in place, by rename, or through a symlink.

use super::registry::Connectors;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// What identifies a file version without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

/// Per connector: the file last loaded and a change waiting to settle.
struct Watched {
    path: PathBuf,
    loaded: Option<Stamp>,
    pending: Option<Stamp>,
}

pub fn watch(connectors: Arc<Connectors>, every: Duration) {
    tokio::spawn(async move {
        let mut seen: HashMap<String, Watched> = HashMap::new();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for handle in connectors.iter() {
                let path = handle.status.component().path;
                let now = stamp(&path);
                let w = seen.entry(handle.name.clone()).or_insert_with(|| Watched {
                    path: path.clone(),
                    loaded: now,
                    pending: None,
                });
                if w.path != path {
                    // Reloaded from another file meanwhile: watch that one from here on.
                    *w = Watched {
                        path,
                        loaded: now,
                        pending: None,
                    };
                    continue;
                }
                if now.is_none() || now == w.loaded {
                    w.pending = None;
                    continue;
                }
                // Reload only once the file looked the same on two ticks: a copy in progress
                // is not compiled half-written.
                if w.pending != now {
                    w.pending = now;
                    continue;
                }
                w.loaded = now;
                w.pending = None;
                tracing::info!(connector = handle.name, component = %w.path.display(), "component file changed");
                let _ = handle.reload(None, "watch").await;
            }
        }
    });
}
