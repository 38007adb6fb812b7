//! Which way a connector moves messages. One value says it everywhere: the section its config
//! has (`[sink]` or `[source]`), the WIT world its component exports, and the runtime that
//! runs it.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Consumes from Danube and delivers to an external system.
    Sink,
    /// Reads an external system and publishes to Danube.
    Source,
}

impl Role {
    /// `sink` or `source`: the config section and what the admin API reports.
    pub fn name(self) -> &'static str {
        match self {
            Role::Sink => "sink",
            Role::Source => "source",
        }
    }

    /// The WIT world a component of this role is built against.
    pub fn world(self) -> &'static str {
        match self {
            Role::Sink => "danube:connect/sink-connector",
            Role::Source => "danube:connect/source-connector",
        }
    }

    /// The interface a component of this role exports.
    pub fn export(self) -> &'static str {
        match self {
            Role::Sink => "danube:connect/sink",
            Role::Source => "danube:connect/source",
        }
    }
}

/// The roles a component exports: one, or both (a bridge, run as one `[sink]` entry and one
/// `[source]` entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub sink: bool,
    pub source: bool,
}

impl Roles {
    pub fn serves(self, role: Role) -> bool {
        match role {
            Role::Sink => self.sink,
            Role::Source => self.source,
        }
    }

    /// The WIT world such a component is built against.
    pub fn world(self) -> &'static str {
        match (self.sink, self.source) {
            (true, true) => "danube:connect/bridge-connector",
            (false, true) => Role::Source.world(),
            _ => Role::Sink.world(),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
