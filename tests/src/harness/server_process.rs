//! A third-party server run by a test (Mosquitto, ClickHouse): started on a free port, or
//! again on its old one, waited on until it answers, killed with SIGKILL on stop and on drop.

use super::host_process::free_port;
use std::process::Child;
use std::time::{Duration, Instant};

pub(super) struct ServerProcess {
    child: Option<Child>,
    port: u16,
}

impl ServerProcess {
    /// Runs `spawn(port)` until `ready(port)` holds, on `port` or (when `None`) a free one,
    /// trying a new port when another process took it first. `None` when it never came up.
    pub(super) fn launch(
        port: Option<u16>,
        timeout: Duration,
        mut spawn: impl FnMut(u16) -> Child,
        ready: impl Fn(u16) -> bool,
    ) -> Option<Self> {
        for _ in 0..10 {
            let port = port.unwrap_or_else(free_port);
            let mut child = spawn(port);
            let deadline = Instant::now() + timeout;
            while Instant::now() < deadline {
                if ready(port) {
                    return Some(Self {
                        child: Some(child),
                        port,
                    });
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        None
    }

    pub(super) fn port(&self) -> u16 {
        self.port
    }

    /// Send `signal` (SIGSTOP, SIGCONT) to the process.
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))]
    pub(super) fn signal(&self, signal: libc::c_int) {
        if let Some(pid) = self.child.as_ref().map(|c| c.id()) {
            // SAFETY: kill(2) on a child we started and have not reaped.
            unsafe { libc::kill(pid as libc::pid_t, signal) };
        }
    }

    /// SIGKILL: connections drop mid-request, nothing is flushed on the way out.
    pub(super) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
