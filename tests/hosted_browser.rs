//! Hosted pages in a real headless Chromium: a customer opens the provider's link, connects
//! their Shopify shop through the app install (to the simulated shop and back), their
//! WooCommerce store through its own approval, or their Xero organisation through its sign-in,
//! and lands on the confirmation; the channel exists with the provider's presets and imports
//! orders; the link then answers as used. Each
//! step is kept as a screenshot at desktop and phone widths in `target/browser/`.

mod app_helpers;
mod browser_helpers;
mod hosted_helpers;
mod tenant_helpers;

use std::time::Duration;

use browser_helpers::{browser, Browser};
use hosted_helpers::{channel, import, world, World};
use serde_json::{json, Value};

const WIDTHS: [(&str, u32, u32); 2] = [("desktop", 1280, 1000), ("phone", 390, 844)];

/// Screenshots of the page as it is now, at both widths.
async fn shots(b: &Browser, name: &str) {
    for (label, width, height) in WIDTHS {
        b.window_size(width, height).await;
        b.screenshot(&format!("hosted-{name}-{label}")).await;
    }
    b.window_size(1280, 1000).await;
}

/// Waits until the page's text contains `text`, after a hand-over through the platform.
async fn until_text(b: &Browser, text: &str) {
    let seen = b
        .until(Duration::from_secs(20), || async {
            b.text_of("main").await.contains(text)
        })
        .await;
    assert!(seen, "never showed {text:?}: {}", b.text_of("body").await);
}

async fn completed_channel(w: &World, page: &Value) -> Value {
    let done = w.page_status(page["id"].as_i64().expect("an id")).await;
    assert_eq!(done["status"], "completed", "{done}");
    channel(w, done["channel_id"].as_i64().expect("a channel")).await
}

#[tokio::test]
async fn a_customer_connects_shopify_woocommerce_and_xero_in_a_browser() {
    let w = world().await;
    let b = browser().await;

    // Shopify, through the app install.
    let page = w
        .hosted_page(
            json!({"branding": {"title": "Connect your shop to Parcel Co",
            "primary_colour": "#5b2be0", "background_colour": "#fbfaff", "text_colour": "#1d1a2e",
            "font": "rounded"}}),
        )
        .await;
    let shop = w.sandbox.shopify("demo-shop").expect("the shop");
    b.goto(page["url"].as_str().expect("a link")).await;
    assert!(b.text_of("h1").await.contains("Parcel Co"));
    shots(&b, "shopify-1-page").await;
    b.type_into(&b.get("#shopify-shop").await, shop.base_url())
        .await;
    let stock = b.get("#shopify-stock_management").await;
    assert!(b.attribute(&stock, "checked").await.is_some(), "the preset");
    b.follow(&b.get("form[action$='/shopify'] button").await)
        .await;
    until_text(&b, "Connected").await;
    assert!(b.url().await.contains("/hosted-callback/shopify"));
    shots(&b, "shopify-2-connected").await;
    let ch = completed_channel(&w, &page).await;
    assert_eq!(ch["kind"], "shopify");
    assert_eq!(ch["settings"]["stock_management"], true);
    assert_eq!(ch["settings"]["poll_interval_secs"], 600);
    switchyard_sandbox::SimStore::create_orders(&*shop, 2);
    assert_eq!(import(&w, ch["id"].as_i64().unwrap()).await.len(), 2);
    b.goto(page["url"].as_str().unwrap()).await;
    assert!(b.text_of("main").await.contains("already been used"));
    shots(&b, "shopify-3-used").await;

    // WooCommerce, through the store's own approval, unticking stock management.
    let page = w.hosted_page(json!({"channels": ["woocommerce"]})).await;
    let store = w.sandbox.woocommerce("demo-woo").expect("the store");
    b.goto(page["url"].as_str().unwrap()).await;
    shots(&b, "woocommerce-1-page").await;
    b.type_into(&b.get("#woo-store").await, store.base_url())
        .await;
    b.click(&b.get("#woo-stock_management").await).await;
    b.follow(&b.get("form[action$='/woocommerce/authorize'] button").await)
        .await;
    until_text(&b, "Connected").await;
    shots(&b, "woocommerce-2-connected").await;
    let ch = completed_channel(&w, &page).await;
    assert_eq!(ch["kind"], "woocommerce");
    assert_eq!(ch["settings"]["stock_management"], false, "unticked");
    assert_eq!(ch["settings"]["auto_sync_stock"], false, "hidden preset");
    switchyard_sandbox::SimStore::create_orders(&*store, 2);
    assert_eq!(import(&w, ch["id"].as_i64().unwrap()).await.len(), 2);
    b.goto(page["url"].as_str().unwrap()).await;
    assert!(b.text_of("main").await.contains("already been used"));
    shots(&b, "woocommerce-3-used").await;

    // Xero, through its own sign-in and the accounting connections' callback.
    let page = w
        .hosted_page(json!({"channels": [], "accounting": ["xero"]}))
        .await;
    b.goto(page["url"].as_str().unwrap()).await;
    shots(&b, "xero-1-page").await;
    b.follow(&b.get("form[action$='/accounting/xero'] button").await)
        .await;
    until_text(&b, "Connected").await;
    assert!(b
        .url()
        .await
        .contains("/v1/accounting-connections/callback"));
    shots(&b, "xero-2-connected").await;
    let done = w.page_status(page["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "completed");
    assert!(done["accounting_connection_id"].is_i64(), "{done}");
    drop(b);
    w.stop().await;
}
