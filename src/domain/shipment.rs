//! A shipment as it is recorded on a sales channel: the request a connector sends and what the
//! channel answers.

use serde::{Deserialize, Serialize};

/// A line to ship: which channel line, and how many of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfilmentLine {
    pub channel_line_id: String,
    pub quantity: u32,
}

/// A shipment to record on the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfilmentRequest {
    pub channel_order_id: String,
    /// Empty ships everything still unshipped.
    pub lines: Vec<FulfilmentLine>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
}

/// What the channel recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfilmentReceipt {
    pub channel_fulfilment_id: String,
}
