//! A large catalogue's first download through a bulk operation: Shopify runs one query over the
//! whole catalogue by itself (costing the bucket 10 points, not the minutes of restore that
//! paging thousands of variants would), and the result is a JSONL file at a signed URL, one
//! variant a line.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;
use url::Url;

use super::graphql::{user_errors, Client};
use super::{mapping, queries, wire};
use crate::connectors::error::ConnectorError;
use crate::connectors::http;
use crate::domain::Listing;

/// How often the operation's status is asked for.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// Longest a download waits for Shopify to finish the operation.
const FINISH_WITHIN: Duration = Duration::from_secs(600);

/// Every variant with its level at `location`, by one bulk operation.
pub async fn listings(client: &Client, location: &str) -> Result<Vec<Listing>, ConnectorError> {
    let query = queries::bulk_variants(location);
    let data: wire::BulkRunData = client
        .run(&queries::BULK_RUN, json!({ "query": query }))
        .await?;
    let payload = data.bulk_operation_run_query;
    user_errors("start a bulk operation", &payload.user_errors)?;
    let operation = payload.bulk_operation.ok_or_else(|| {
        ConnectorError::Malformed("bulkOperationRunQuery answered no operation".into())
    })?;
    let url = finished(client, &operation.id).await?;
    let Some(url) = url else {
        return Ok(Vec::new());
    };
    let body = download(client, &url).await?;
    parse(&body)
}

/// Polls the operation until it completes: its result URL (none for an empty result).
async fn finished(client: &Client, id: &str) -> Result<Option<String>, ConnectorError> {
    let give_up = Instant::now() + FINISH_WITHIN;
    loop {
        let data: wire::BulkStatusData = client
            .run(&queries::BULK_STATUS, json!({ "id": id }))
            .await?;
        let operation = data.node.ok_or_else(|| {
            ConnectorError::Malformed(format!("bulk operation {id} is not known to the shop"))
        })?;
        match operation.status.as_str() {
            "COMPLETED" => return Ok(operation.url),
            "CREATED" | "RUNNING" => {}
            other => {
                return Err(ConnectorError::Transient {
                    status: None,
                    message: format!(
                        "the catalogue's bulk operation ended {other} ({})",
                        operation.error_code.as_deref().unwrap_or("no error code")
                    ),
                })
            }
        }
        if Instant::now() + POLL_EVERY > give_up {
            return Err(ConnectorError::Transient {
                status: None,
                message: format!("the catalogue's bulk operation ran past {FINISH_WITHIN:?}"),
            });
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// The result file, through the guarded client (a signed URL: no token is sent with it).
async fn download(client: &Client, url: &str) -> Result<Vec<u8>, ConnectorError> {
    let url = Url::parse(url)
        .map_err(|e| ConnectorError::Malformed(format!("bulk operation result URL: {e}")))?;
    let transport = client.transport();
    let request = transport
        .client()
        .request(reqwest::Method::GET, url)
        .build()
        .map_err(|e| ConnectorError::Invalid(format!("bulk result: {}", e.without_url())))?;
    let raw = transport.client().execute(request).await?;
    if !raw.status.is_success() {
        return Err(http::status_error(
            raw.status,
            format!(
                "downloading the bulk result: {}",
                http::body_snippet(&raw.body)
            ),
        ));
    }
    Ok(raw.body.to_vec())
}

/// One listing per line of the JSONL result.
fn parse(body: &[u8]) -> Result<Vec<Listing>, ConnectorError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ConnectorError::Malformed("the bulk result is not UTF-8".into()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(n, line)| {
            let variant: wire::Variant = http::parse_json(line.as_bytes(), "bulk result line")
                .map_err(|e| {
                    ConnectorError::Malformed(format!("bulk result line {}: {e}", n + 1))
                })?;
            mapping::listing(variant)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_of_the_result_is_a_listing() {
        let body = br#"{"id":"gid://shopify/ProductVariant/11","sku":"A-1","title":"Default Title","price":"5.00","product":{"id":"gid://shopify/Product/1","title":"Socks"},"inventoryItem":{"id":"gid://shopify/InventoryItem/21","tracked":true,"inventoryLevel":{"quantities":[{"name":"available","quantity":7}]}}}

{"id":"gid://shopify/ProductVariant/12","sku":"A-2","title":"Large","product":{"id":"gid://shopify/Product/1","title":"Socks"},"inventoryItem":{"id":"gid://shopify/InventoryItem/22","tracked":false}}
"#;
        let listings = parse(body).expect("parses");
        assert_eq!(listings.len(), 2);
        assert_eq!(listings[0].id.inventory_item_id.as_deref(), Some("21"));
        assert_eq!(listings[0].quantity, Some(7));
        assert_eq!(listings[0].title, "Socks");
        assert_eq!(listings[1].title, "Socks - Large");
        assert_eq!(listings[1].quantity, None, "an untracked item has no level");
        let broken = parse(b"{\"id\":1}\n");
        assert!(
            matches!(&broken, Err(ConnectorError::Malformed(m)) if m.contains("line 1")),
            "{broken:?}"
        );
    }
}
