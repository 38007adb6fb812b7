//! The admin API's description of a connector (documented in the README).

use super::handle::ConnectorHandle;
use crate::observe::counts::{Counts, counts};
use crate::runtime::status::{LastError, State};
use prometheus::proto::MetricFamily;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct ConnectorView {
    pub name: String,
    pub world: &'static str,
    pub state: State,
    pub ready: bool,
    pub component: ComponentView,
    pub counts: Counts,
    pub last_error: Option<LastError>,
}

#[derive(Debug, Serialize)]
pub struct ComponentView {
    pub path: String,
    pub sha256: String,
}

/// `families` is one `Registry::gather`, taken once per response.
pub fn describe(handle: &ConnectorHandle, families: &[MetricFamily]) -> ConnectorView {
    let s = handle.status.snapshot();
    ConnectorView {
        name: handle.name.clone(),
        world: s.component.role.name(),
        state: s.state,
        ready: s.ready,
        component: ComponentView {
            path: s.component.path.display().to_string(),
            sha256: s.component.sha256,
        },
        counts: counts(families, &handle.name),
        last_error: s.last_error,
    }
}
