//! The outbox's way out: the relay moves rows that domain transactions wrote to the `outbox`
//! table (jobs to enqueue, events to publish) into Redis, and fans each event out to the webhooks
//! that subscribe to it in the transaction that takes it. The queue is the generic engine it
//! pushes to; it knows nothing of outbox rows, events or webhooks.

pub mod relay;
