//! The protocol-level fuzzer behind `scripts/fuzz-protocol`: random requests with random
//! arguments across every global planar offers, from clients on their own connections,
//! while planar's liveness, fd count and a well-behaved client's screenshot are checked.
//!
//! - `globals`: the table of bindable interfaces by name;
//! - `gen`: argument values and file descriptors of every kind;
//! - `session`: one fuzz client;
//! - `target`: the planar process and the well-behaved client;
//! - `driver`: rounds, checks and the counts.

pub mod driver;
pub mod gen;
pub mod globals;
pub mod session;
pub mod target;
