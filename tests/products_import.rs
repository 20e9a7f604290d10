//! import-products end to end: each channel's listings arrive with their image, weight,
//! dimensions and customs details, as each platform states them.

mod app_helpers;
mod import_helpers;

use import_helpers::World;
use serde_json::json;
use switchyard::domain::ChannelSettings;
use switchyard::jobs::{ImportProducts, JobKind};
use switchyard::queue::JobStatus;
use switchyard::store::channel_products::{self, ChannelProductRow};
use switchyard_sandbox::SandboxConfig;

async fn import(world: &World, sandbox_store: &str) -> Vec<ChannelProductRow> {
    let store = world.store(sandbox_store).await;
    let settings = ChannelSettings {
        download_products: true,
        ..ChannelSettings::default()
    };
    let ch = world.channel(store, sandbox_store, settings).await;
    let job = world
        .run_job(ImportProducts::QUEUE, &ImportProducts { channel_id: ch.id })
        .await;
    assert_eq!(job.status, JobStatus::Done, "{job:?}");
    channel_products::list_for_channel(&world.pool, world.account, ch.id, None, 100)
        .await
        .unwrap()
        .expect("the account's channel")
}

fn by_sku<'a>(rows: &'a [ChannelProductRow], sku: &str) -> &'a ChannelProductRow {
    rows.iter()
        .find(|r| r.sku.as_deref() == Some(sku))
        .unwrap_or_else(|| panic!("{sku} listed"))
}

#[tokio::test]
async fn shopify_listings_carry_image_weight_and_the_inventory_items_customs() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let rows = import(&world, "demo-shop").await;
    assert_eq!(rows.len(), 10);
    let jacket = by_sku(&rows, "RJ-M");
    assert_eq!(
        jacket.image_url.as_deref(),
        Some("https://images.sandbox.invalid/products/rain-jacket.jpg")
    );
    assert_eq!(jacket.weight, Some(json!({"value": "0.42", "unit": "kg"})));
    // Shopify has no package dimensions.
    assert_eq!(jacket.dimensions, None);
    assert_eq!(
        jacket.customs,
        Some(json!({"hs_code": "6201.40", "country_of_origin": "PT"}))
    );
    assert_eq!(
        by_sku(&rows, "MS-1").weight,
        Some(json!({"value": "0.09", "unit": "kg"}))
    );
    world.stop().await;
}

#[tokio::test]
async fn woocommerce_variations_inherit_their_products_details() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let rows = import(&world, "demo-woo").await;
    assert_eq!(rows.len(), 10);
    for sku in ["RJ-L", "WB-1"] {
        let row = by_sku(&rows, sku);
        assert!(
            row.image_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://images.sandbox.invalid/products/")),
            "{sku}: {:?}",
            row.image_url
        );
        assert!(row.customs.is_some(), "{sku}");
    }
    let jacket = by_sku(&rows, "RJ-L");
    assert_eq!(jacket.weight, Some(json!({"value": "0.42", "unit": "kg"})));
    assert_eq!(
        jacket.dimensions,
        Some(json!({"length": "35", "width": "28", "height": "6", "unit": "cm"}))
    );
    assert_eq!(
        jacket.customs,
        Some(json!({"hs_code": "6201.40", "country_of_origin": "PT"}))
    );
    world.stop().await;
}
