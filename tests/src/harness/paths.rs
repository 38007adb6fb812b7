//! Where the build put the host binary and the guest components (`make build` builds both).

use std::path::PathBuf;

/// The workspace's target directory, found from the running test binary
/// (`target/debug/deps/<test>`), unless `CARGO_TARGET_DIR` says otherwise.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "target"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// `DANUBE_CONNECT_HOST_BIN`, else `target/debug/danube-connect-host`.
pub fn host_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("DANUBE_CONNECT_HOST_BIN") {
        return PathBuf::from(p);
    }
    let p = target_dir().join("debug").join("danube-connect-host");
    assert!(
        p.exists(),
        "{} is missing: run `make build` first",
        p.display()
    );
    p
}

/// A guest component by crate name, e.g. `sink_http`.
pub fn component(name: &str) -> PathBuf {
    let p = target_dir()
        .join("wasm32-wasip2")
        .join("guest")
        .join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "{} is missing: run `make build` first",
        p.display()
    );
    p
}
