//! Test support for danube-connect.

pub mod bench_args;
pub mod bench_figures;
pub mod bench_source;
pub mod broker;
pub mod harness;
