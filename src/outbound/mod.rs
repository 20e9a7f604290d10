//! Every call switchyard makes to another system (sales channels, webhook receivers, plugins)
//! leaves through one guarded client ([`Client`]): SSRF guard after DNS, no redirects, timeouts
//! and a cap on the answer. The rules for a tenant's target URL, checked before it is stored,
//! are in [`target`].

mod client;
pub mod ssrf;
pub mod target;

pub use client::{Client, ClientSettings, OutboundError, Response};
pub use ssrf::{SsrfError, SsrfGuard};
