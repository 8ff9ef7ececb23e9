//! Shared pieces of the benchmarks under `bench/`: running a `spanloom serve` process and
//! measuring it, the machine it ran on, and where binaries and temporary data live.

pub mod env;
pub mod machine;
pub mod server;
