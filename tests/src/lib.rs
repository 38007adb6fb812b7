//! Test support for danube-connect.

pub mod broker;
pub mod harness;
