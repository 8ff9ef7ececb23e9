//! Shared pieces of the benchmarks under `bench/`: running a `spanloom serve` process and
//! measuring it.

pub mod server;
