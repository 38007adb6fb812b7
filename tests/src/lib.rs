//! Test support for danube-connect.

pub mod bench_args;
pub mod broker;
pub mod harness;
