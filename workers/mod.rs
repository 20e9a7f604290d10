//! The workers: one handler per typed queue of the job contract (`crate::jobs`), and the pools
//! that run them. Only the top of the program (the runner, `main`, the demo and the benches)
//! imports this module; the workers themselves depend only downward.
//!
//! A worker is registered in one place, the match in [`pool::spawn_pool_with`], which is
//! exhaustive over [`crate::jobs::Kind`]: a queue declared without a worker does not compile.

mod channel_lock;
mod context;
mod deliver_webhook;
mod import_orders;
pub mod import_products;
mod noop;
mod pool;
mod post_invoice;
pub mod prune;
mod push_fulfilment;
mod reconcile_stock;
mod retry;
mod run_plugin;
pub mod scheduler;
mod sync_stock;

pub use context::Deps;
pub use pool::{needs_deps, run_pools, spawn_pool, spawn_pool_with, PoolError};
