//! The host's HTTP surface: `/metrics`, `/healthz`, `/readyz` and the admin API.

pub mod admin;
pub mod server;
