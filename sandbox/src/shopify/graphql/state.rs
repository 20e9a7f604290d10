//! What the GraphQL surface adds to a shop's state: the inventory adjustment groups its stock
//! mutations recorded, and its bulk operations with their results.

use bytes::Bytes;
use chrono::{DateTime, Utc};

/// One quantity change of an adjustment group.
#[derive(Debug, Clone)]
pub struct InventoryChange {
    pub name: &'static str,
    pub delta: i64,
    pub quantity_after: i64,
    pub item: u64,
    pub location: u64,
}

/// The record one `inventorySetQuantities` / `inventoryAdjustQuantities` call leaves.
#[derive(Debug, Clone)]
pub struct AdjustmentGroup {
    pub id: u64,
    pub reason: String,
    pub reference_document_uri: Option<String>,
    pub created_at: DateTime<Utc>,
    pub changes: Vec<InventoryChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkStatus {
    Created,
    Running,
    Completed,
    Failed,
    Canceled,
}

impl BulkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkStatus::Created => "CREATED",
            BulkStatus::Running => "RUNNING",
            BulkStatus::Completed => "COMPLETED",
            BulkStatus::Failed => "FAILED",
            BulkStatus::Canceled => "CANCELED",
        }
    }

    pub fn finished(self) -> bool {
        matches!(
            self,
            BulkStatus::Completed | BulkStatus::Failed | BulkStatus::Canceled
        )
    }
}

#[derive(Debug, Clone)]
pub struct BulkOperation {
    pub id: u64,
    pub query: String,
    pub status: BulkStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub object_count: u64,
    pub root_object_count: u64,
    pub file_size: u64,
    /// Where the result is served (unauthenticated, like a signed storage URL).
    pub url: Option<String>,
}

#[derive(Debug, Default)]
pub struct GraphqlState {
    pub adjustment_groups: Vec<AdjustmentGroup>,
    pub bulk_operations: Vec<BulkOperation>,
    /// Bulk results by the token in their URL.
    pub bulk_results: std::collections::HashMap<String, Bytes>,
    pub adjustment_seq: u64,
    pub bulk_seq: u64,
}

impl GraphqlState {
    pub fn bulk(&self, id: u64) -> Option<&BulkOperation> {
        self.bulk_operations.iter().find(|b| b.id == id)
    }

    pub fn bulk_mut(&mut self, id: u64) -> Option<&mut BulkOperation> {
        self.bulk_operations.iter_mut().find(|b| b.id == id)
    }

    /// The newest bulk query, as `currentBulkOperation` reports it.
    pub fn current_bulk(&self) -> Option<&BulkOperation> {
        self.bulk_operations.last()
    }

    pub fn running_bulk(&self) -> Option<&BulkOperation> {
        self.bulk_operations.iter().find(|b| !b.status.finished())
    }
}
