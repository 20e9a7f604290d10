//! The eBay Sell APIs simulator from the outside: the refresh token grant and token expiry,
//! getOrders paging and its date filter, shipping fulfillments, bulk stock updates, the call
//! limit, and the answers checked against eBay's published schemas
//! (`tests/fixtures/ebay/sell_v1_schemas.json`).

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchyard_sandbox::config::{ProductConfig, VariantConfig};
use switchyard_sandbox::{
    EbaySellerConfig, EbayStore, FaultKnobs, SandboxConfig, SandboxHandle, SimStore,
};

use common::{client, start_with};

const SELLER: &str = "test-seller";

fn seller() -> EbaySellerConfig {
    let mut config = EbaySellerConfig::new(SELLER);
    config.requests_per_second = 10_000;
    config.generator.fulfilled_ratio = 0.0;
    config.generator.cancel_ratio = 0.0;
    config.generator.update_ratio = 0.0;
    config
}

async fn start(config: EbaySellerConfig) -> (SandboxHandle, std::sync::Arc<EbayStore>) {
    let sandbox = start_with(SandboxConfig {
        ebay: vec![config],
        ..SandboxConfig::default()
    })
    .await;
    let store = sandbox.ebay(SELLER).expect("configured");
    (sandbox, store)
}

/// A client holding the app's keyset and, once [`Api::login`] ran, a user access token.
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    fn new(store: &EbayStore) -> Api {
        Api {
            http: client(),
            base: store.base_url().to_owned(),
            token: String::new(),
        }
    }

    async fn grant(&self, store: &EbayStore, refresh_token: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/identity/v1/oauth2/token", self.base))
            .basic_auth(store.client_id(), Some(store.client_secret()))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                (
                    "scope",
                    "https://api.ebay.com/oauth/api_scope/sell.fulfillment https://api.ebay.com/oauth/api_scope/sell.inventory",
                ),
            ])
            .send()
            .await
            .expect("send")
    }

    async fn login(mut self, store: &EbayStore) -> Api {
        let resp = self.grant(store, store.refresh_token()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.expect("json");
        self.token = body["access_token"].as_str().expect("token").to_owned();
        self
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let resp = request.send().await.expect("send");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }
}

fn error_id(body: &Value) -> Option<i64> {
    body["errors"][0]["errorId"].as_i64()
}

#[tokio::test]
async fn refresh_token_grant_issues_tokens_that_expire() {
    let (sandbox, store) = start(seller()).await;
    let api = Api::new(&store);
    let resp = api.grant(&store, store.refresh_token()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["expires_in"], 7200);
    assert_eq!(body["token_type"], "User Access Token");

    let resp = api.grant(&store, "v^1.1#i^1#r^1#not-the-token").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "the provided authorization refresh token is invalid or was issued to another client"})
    );

    let (status, body) = api.get("sell/fulfillment/v1/order").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"errors": [{"errorId": 1001, "domain": "OAuth", "category": "REQUEST",
            "message": "Invalid access token",
            "longMessage": "Invalid access token. Check the value of the Authorization HTTP request header."}]})
    );

    let api = api.login(&store).await;
    assert_eq!(api.get("sell/fulfillment/v1/order").await.0, StatusCode::OK);
    store.expire_tokens();
    let (status, body) = api.get("sell/fulfillment/v1/order").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_id(&body), Some(1001));
    let api = api.login(&store).await;
    assert_eq!(api.get("sell/fulfillment/v1/order").await.0, StatusCode::OK);
    sandbox.shutdown().await;

    let mut short = seller();
    short.access_token_lifetime_secs = 1;
    let (sandbox, store) = start(short).await;
    let api = Api::new(&store).login(&store).await;
    assert_eq!(
        api.get("sell/inventory/v1/inventory_item").await.0,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        api.get("sell/inventory/v1/inventory_item").await.0,
        StatusCode::UNAUTHORIZED
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn get_orders_pages_by_offset_without_skipping_or_repeating() {
    let (sandbox, store) = start(seller()).await;
    let created = store.create_orders(237);
    let api = Api::new(&store).login(&store).await;
    let mut seen = Vec::new();
    let mut path = "sell/fulfillment/v1/order?limit=50".to_owned();
    loop {
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total"], created.len());
        let orders = page["orders"].as_array().expect("orders");
        assert!(orders.len() <= 50);
        seen.extend(
            orders
                .iter()
                .map(|o| o["orderId"].as_str().expect("id").to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => {
                path = next
                    .strip_prefix(&format!("{}/", store.base_url()))
                    .expect("next is absolute on the same host")
                    .to_owned();
            }
            None => break,
        }
    }
    let expected: Vec<String> = created.iter().map(|id| EbayStore::order_id(*id)).collect();
    assert_eq!(seen, expected, "oldest first, each once");
    assert!(seen[0].chars().filter(|c| *c == '-').count() == 2);

    let (_, last) = api
        .get("sell/fulfillment/v1/order?limit=200&offset=200")
        .await;
    assert_eq!(last["orders"].as_array().map(Vec::len), Some(37));
    assert!(last.get("next").is_none());
    assert!(last["prev"]
        .as_str()
        .is_some_and(|p| p.contains("offset=0")));
    for bad in ["limit=0", "limit=201", "limit=ten"] {
        let (status, body) = api.get(&format!("sell/fulfillment/v1/order?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_id(&body), Some(31100));
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn lastmodifieddate_filter_starts_at_its_bound() {
    let (sandbox, store) = start(seller()).await;
    let ids = store.create_orders(40);
    // Step into the next second so the edits below are later than every creation.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let bound = chrono::Utc::now();
    let bound = bound.format("%Y-%m-%dT%H:%M:%S.000Z").to_string();
    for id in [ids[3], ids[17], ids[31]] {
        assert!(store.update_order(id));
    }
    let api = Api::new(&store).login(&store).await;
    let filter = format!("lastmodifieddate:%5B{bound}..%5D");
    let (status, page) = api
        .get(&format!(
            "sell/fulfillment/v1/order?filter={filter}&limit=2"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 3);
    let (_, rest) = api
        .get(&format!(
            "sell/fulfillment/v1/order?filter={filter}&limit=2&offset=2"
        ))
        .await;
    let mut got: Vec<String> = page["orders"]
        .as_array()
        .into_iter()
        .chain(rest["orders"].as_array())
        .flatten()
        .map(|o| o["orderId"].as_str().expect("id").to_owned())
        .collect();
    got.sort();
    let want: Vec<String> = [ids[3], ids[17], ids[31]]
        .iter()
        .map(|id| EbayStore::order_id(*id))
        .collect();
    assert_eq!(got, want);
    let status_filter = "orderfulfillmentstatus:%7BNOT_STARTED%7CIN_PROGRESS%7D";
    let (_, open) = api
        .get(&format!(
            "sell/fulfillment/v1/order?filter={status_filter}&limit=1"
        ))
        .await;
    assert_eq!(open["total"], 40);
    let (status, body) = api
        .get("sell/fulfillment/v1/order?filter=lastmodifieddate:%5Byesterday..%5D")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_id(&body), Some(30810));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn shipping_fulfillment_is_recorded_and_over_shipping_refused() {
    let mut config = seller();
    config.generator.unpaid_ratio = 0.0;
    let (sandbox, store) = start(config).await;
    let ids = store.create_orders(3);
    let order_id = EbayStore::order_id(ids[0]);
    let api = Api::new(&store).login(&store).await;
    let (_, order) = api
        .get(&format!("sell/fulfillment/v1/order/{order_id}"))
        .await;
    assert_eq!(order["orderFulfillmentStatus"], "NOT_STARTED");
    let line = &order["lineItems"][0];
    let line_id = line["lineItemId"].as_str().expect("line id").to_owned();
    let quantity = line["quantity"].as_u64().expect("quantity");

    let path = format!("sell/fulfillment/v1/order/{order_id}/shipping_fulfillment");
    let ship = |q: u64| {
        json!({
            "lineItems": [{"lineItemId": line_id, "quantity": q}],
            "shippedDate": "2024-07-01T10:00:00.000Z",
            "shippingCarrierCode": "ROYAL_MAIL",
            "trackingNumber": "RM123456785GB",
        })
    };
    // Carrier and number go together, the number in letters and digits; a quantity is required.
    for refused in [
        json!({"lineItems": [{"lineItemId": line_id, "quantity": 1}], "trackingNumber": "RM1"}),
        json!({"lineItems": [{"lineItemId": line_id, "quantity": 1}], "shippingCarrierCode": "DHL"}),
        json!({"lineItems": [{"lineItemId": line_id, "quantity": 1}],
            "shippingCarrierCode": "DHL", "trackingNumber": "RM 1234-5678"}),
    ] {
        let (status, body) = api.call(Method::POST, &path, Some(refused.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert_eq!(error_id(&body), Some(32300), "{refused}");
    }
    let (status, body) = api
        .call(
            Method::POST,
            &path,
            Some(json!({"lineItems": [{"lineItemId": line_id}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_id(&body), Some(32600));
    assert!(store.fulfilments().is_empty());

    let resp = api
        .http
        .post(format!("{}/{path}", api.base))
        .bearer_auth(&api.token)
        .json(&ship(quantity))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_owned();
    assert_eq!(
        location,
        format!("{}/{path}/RM123456785GB", store.base_url()),
        "a tracked fulfillment's id is its tracking number"
    );
    let (status, fulfillment) = api
        .get(
            location
                .strip_prefix(&format!("{}/", store.base_url()))
                .expect("same host"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fulfillment["shipmentTrackingNumber"], "RM123456785GB");
    assert_eq!(fulfillment["lineItems"][0]["quantity"], quantity);

    let recorded = store.fulfilments();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].order_name, order_id);
    assert_eq!(
        recorded[0].tracking_number.as_deref(),
        Some("RM123456785GB")
    );
    assert_eq!(recorded[0].lines[0].quantity as u64, quantity);

    let mut more = ship(1);
    more["trackingNumber"] = json!("RM999999995GB");
    let (status, body) = api.call(Method::POST, &path, Some(more)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_id(&body), Some(32600), "nothing is left to ship");
    assert_eq!(store.fulfilments().len(), 1);
    let (status, body) = api
        .call(
            Method::POST,
            &path,
            Some(json!({"lineItems": [{"lineItemId": "999", "quantity": 1}],
                "shippingCarrierCode": "DHL", "trackingNumber": "1"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_id(&body), Some(32200));
    let (_, list) = api.get(&path).await;
    assert_eq!(list["total"], 1);

    // The same tracking number posted to an order again is a change of that fulfillment, which
    // takes a PUT; a unit marked shipped without tracking gets an arbitrary id.
    for (id, tracking) in [
        (
            ids[1],
            json!({"shippingCarrierCode": "DPD", "trackingNumber": "15501234567890"}),
        ),
        (ids[2], json!({})),
    ] {
        let other = EbayStore::order_id(id);
        let other_path = format!("sell/fulfillment/v1/order/{other}/shipping_fulfillment");
        let (_, order) = api.get(&format!("sell/fulfillment/v1/order/{other}")).await;
        let mut body = tracking.clone();
        body["lineItems"] =
            json!([{"lineItemId": order["lineItems"][0]["lineItemId"], "quantity": 1}]);
        let (status, _) = api
            .call(Method::POST, &other_path, Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, list) = api.get(&other_path).await;
        let made = &list["fulfillments"][0];
        match tracking["trackingNumber"].as_str() {
            Some(number) => {
                assert_eq!(made["fulfillmentId"], number);
                let (status, again) = api.call(Method::POST, &other_path, Some(body)).await;
                assert_eq!(status, StatusCode::BAD_REQUEST);
                assert_eq!(error_id(&again), Some(34500));
            }
            None => {
                assert!(made.get("shipmentTrackingNumber").is_none(), "{made}");
                assert!(made.get("shippingCarrierCode").is_none(), "{made}");
                assert!(made["fulfillmentId"]
                    .as_str()
                    .is_some_and(|id| !id.is_empty()));
            }
        }
    }
    sandbox.shutdown().await;
}

/// A catalogue of `n` single-SKU products with 5 in stock each.
fn catalogue(n: usize) -> Vec<ProductConfig> {
    (0..n)
        .map(|i| ProductConfig {
            title: format!("Tent peg set {i}"),
            option_name: None,
            variants: vec![VariantConfig {
                sku: format!("PEG-{i:02}"),
                option: None,
                price: "4.99".into(),
                stock: 5,
            }],
            details: Default::default(),
        })
        .collect()
}

fn quantities(skus: impl Iterator<Item = (String, i64)>) -> Value {
    let requests: Vec<Value> = skus
        .map(|(sku, q)| json!({"sku": sku, "shipToLocationAvailability": {"quantity": q}}))
        .collect();
    json!({ "requests": requests })
}

#[tokio::test]
async fn bulk_update_applies_25_refuses_26_and_reports_unknown_skus() {
    let mut config = seller();
    config.catalog = catalogue(30);
    let (sandbox, store) = start(config).await;
    let api = Api::new(&store).login(&store).await;
    let path = "sell/inventory/v1/bulk_update_price_quantity";

    let body = quantities((0..25).map(|i| (format!("PEG-{i:02}"), i % 5)));
    let (status, answer) = api.call(Method::POST, path, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let responses = answer["responses"].as_array().expect("responses");
    assert_eq!(responses.len(), 25);
    assert!(responses.iter().all(|r| r["statusCode"] == 200));
    let stock = store.stock_by_sku();
    assert_eq!(stock["PEG-00"], 0);
    assert_eq!(stock["PEG-24"], 4);
    assert_eq!(stock["PEG-25"], 5);

    let before = store.stock_by_sku();
    let body = quantities((0..26).map(|i| (format!("PEG-{i:02}"), 7)));
    let (status, answer) = api.call(Method::POST, path, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_id(&answer), Some(25709));
    assert_eq!(store.stock_by_sku(), before, "nothing applied");

    let body = quantities(
        [("PEG-26", 3), ("NOPE-1", 3), ("PEG-27", 0)]
            .into_iter()
            .map(|(s, q)| (s.to_owned(), q)),
    );
    let (status, answer) = api.call(Method::POST, path, Some(body)).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    let by_sku: BTreeMap<&str, &Value> = answer["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .map(|r| (r["sku"].as_str().expect("sku"), r))
        .collect();
    assert_eq!(by_sku["PEG-26"]["statusCode"], 200);
    assert_eq!(by_sku["NOPE-1"]["statusCode"], 404);
    assert_eq!(by_sku["NOPE-1"]["errors"][0]["errorId"], 25702);
    let stock = store.stock_by_sku();
    assert_eq!((stock["PEG-26"], stock["PEG-27"]), (3, 0));

    let (_, items) = api
        .get("sell/inventory/v1/inventory_item?limit=20&offset=1")
        .await;
    assert_eq!(items["total"], 30);
    assert_eq!(items["size"], 10);
    assert_eq!(items["inventoryItems"][0]["sku"], "PEG-20");
    for bad in ["limit=0", "limit=201", "offset=first"] {
        let (status, body) = api
            .get(&format!("sell/inventory/v1/inventory_item?{bad}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_id(&body), Some(25706), "{bad}");
    }
    let (_, offers) = api.get("sell/inventory/v1/offer?sku=PEG-03").await;
    assert_eq!(
        offers["offers"][0]["pricingSummary"]["price"]["value"],
        "4.99"
    );
    sandbox.shutdown().await;
}

/// eBay's quantity lives on the inventory item and on its offer, and a listing sells the smaller:
/// a rise sent to the item alone changes nothing a buyer sees.
#[tokio::test]
async fn a_listing_sells_the_smaller_of_the_item_and_offer_quantities() {
    let mut config = seller();
    config.catalog = catalogue(2);
    let (sandbox, store) = start(config).await;
    let api = Api::new(&store).login(&store).await;
    let path = "sell/inventory/v1/bulk_update_price_quantity";
    let (_, offers) = api.get("sell/inventory/v1/offer?sku=PEG-00").await;
    let offer_id = offers["offers"][0]["offerId"]
        .as_str()
        .expect("an offer")
        .to_owned();

    let (status, _) = api
        .call(
            Method::POST,
            path,
            Some(quantities([("PEG-00".to_owned(), 40)].into_iter())),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(store.stock_by_sku()["PEG-00"], 5, "the offer still sells 5");
    let (_, items) = api.get("sell/inventory/v1/inventory_item").await;
    assert_eq!(
        items["inventoryItems"][0]["availability"]["shipToLocationAvailability"]["quantity"],
        40
    );

    let both = json!({"requests": [{
        "sku": "PEG-00",
        "shipToLocationAvailability": {"quantity": 40},
        "offers": [{"offerId": offer_id, "availableQuantity": 40, "price": {"value": "5.49", "currency": "GBP"}}],
    }]});
    let (status, answer) = api.call(Method::POST, path, Some(both)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["responses"][0]["offerId"], offer_id.as_str());
    assert_eq!(store.stock_by_sku()["PEG-00"], 40);
    let (_, offers) = api.get("sell/inventory/v1/offer?sku=PEG-00").await;
    assert_eq!(offers["offers"][0]["availableQuantity"], 40);
    assert_eq!(
        offers["offers"][0]["pricingSummary"]["price"]["value"],
        "5.49"
    );

    let wrong_offer = json!({"requests": [{"sku": "PEG-01",
        "offers": [{"offerId": offer_id, "availableQuantity": 1}]}]});
    let (status, answer) = api.call(Method::POST, path, Some(wrong_offer)).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(answer["responses"][0]["errors"][0]["errorId"], 25713);
    assert_eq!(store.stock_by_sku()["PEG-01"], 5);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn per_second_limit_answers_429_and_calls_are_counted_per_api_per_day() {
    let mut config = seller();
    config.requests_per_second = 3;
    let (sandbox, store) = start(config).await;
    let api = Api::new(&store).login(&store).await;
    let mut statuses = Vec::new();
    let mut refusal = Value::Null;
    for _ in 0..6 {
        let (status, body) = api.get("sell/fulfillment/v1/order").await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refusal = body;
        }
        statuses.push(status);
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(refused >= 3, "{statuses:?}");
    assert_eq!(error_id(&refusal), Some(2001));
    assert_eq!(refusal["errors"][0]["domain"], "ACCESS");
    let stats = store.traffic().snapshot();
    assert_eq!(stats.responses_429 as usize, refused);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        stats.calls_per_day[&today]["sell.fulfillment"] as usize,
        6 - refused
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        api.get("sell/inventory/v1/inventory_item").await.0,
        StatusCode::OK
    );
    assert_eq!(
        store.traffic().snapshot().calls_per_day[&today]["sell.inventory"],
        1
    );
    sandbox.shutdown().await;
}

// ---- Contract: answers checked against the schemas of eBay's OpenAPI documents. ----

struct Schemas {
    definitions: serde_json::Map<String, Value>,
}

impl Schemas {
    fn load(api: &str) -> Schemas {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ebay/sell_v1_schemas.json"
        ))
        .expect("the schemas are there");
        let doc: Value = serde_json::from_str(&text).expect("JSON");
        Schemas {
            definitions: doc[api].as_object().expect("definitions").clone(),
        }
    }

    fn check(&self, ty: &str, value: &Value, at: &str, problems: &mut Vec<String>) {
        if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            match value.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check(inner, item, &format!("{at}[{i}]"), problems);
                    }
                }
                None => problems.push(format!("{at}: expected an array")),
            }
            return;
        }
        let ok = match ty {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "date-time" => value.as_str().is_some_and(|s| {
                chrono::DateTime::parse_from_rfc3339(s).is_ok() && s.ends_with('Z')
            }),
            name => {
                let Some(definition) = self.definitions.get(name) else {
                    problems.push(format!("{at}: {name} is not transcribed"));
                    return;
                };
                let Some(object) = value.as_object() else {
                    problems.push(format!("{at}: expected a {name} object"));
                    return;
                };
                for required in definition["required"].as_array().into_iter().flatten() {
                    let key = required.as_str().unwrap_or_default();
                    if !object.contains_key(key) {
                        problems.push(format!("{at}.{key}: required by {name}, missing"));
                    }
                }
                for (key, field) in object {
                    match definition["properties"][key].as_str() {
                        Some(field_ty) => {
                            self.check(field_ty, field, &format!("{at}.{key}"), problems)
                        }
                        None => problems.push(format!("{at}.{key}: not a property of {name}")),
                    }
                }
                true
            }
        };
        if !ok {
            problems.push(format!("{at}: {value} is not {ty}"));
        }
    }

    fn assert(&self, ty: &str, value: &Value) {
        let mut problems = Vec::new();
        self.check(ty, value, ty, &mut problems);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

/// Every answer the eBay connector reads, checked against eBay's published types: the token
/// grant, getOrders / getOrder (paid, unpaid, shipped, cancelled and refunded orders),
/// createShippingFulfillment, getShippingFulfillments / getShippingFulfillment,
/// bulkUpdatePriceQuantity (all applied, and 207), getInventoryItems, getOffers, and the error
/// envelopes of each API (bad request, unknown resource, refused token, call limit).
#[tokio::test]
async fn answers_match_the_published_schemas() {
    let mut config = seller();
    config.generator.fulfilled_ratio = 0.3;
    config.generator.cancel_ratio = 0.2;
    config.generator.update_ratio = 0.3;
    config.generator.unpaid_ratio = 0.2;
    let (sandbox, store) = start(config).await;
    let ids = store.create_orders(60);
    let api = Api::new(&store);
    let fulfillment = Schemas::load("fulfillment");
    let inventory = Schemas::load("inventory");
    let identity = Schemas::load("identity");

    let grant = api.grant(&store, store.refresh_token()).await;
    identity.assert("RefreshTokenAnswer", &grant.json().await.expect("json"));
    let refused = api.grant(&store, "v^1.1#not-granted").await;
    identity.assert("OAuthError", &refused.json().await.expect("json"));
    let (status, unauthorized) = api.get("sell/fulfillment/v1/order").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    fulfillment.assert("ErrorResponse", &unauthorized);
    let api = api.login(&store).await;

    let refunded = ids
        .iter()
        .copied()
        .find(|id| store.refund_order(*id))
        .expect("a paid order to refund");
    let (_, page) = api.get("sell/fulfillment/v1/order?limit=200").await;
    fulfillment.assert("OrderSearchPagedCollection", &page);
    let orders = page["orders"].as_array().expect("orders");
    let states: HashSet<(&str, &str, &str)> = orders
        .iter()
        .map(|o| {
            (
                o["orderFulfillmentStatus"].as_str().unwrap_or_default(),
                o["orderPaymentStatus"].as_str().unwrap_or_default(),
                o["cancelStatus"]["cancelState"]
                    .as_str()
                    .unwrap_or_default(),
            )
        })
        .collect();
    for wanted in [
        ("NOT_STARTED", "PAID", "NONE_REQUESTED"),
        ("NOT_STARTED", "PENDING", "NONE_REQUESTED"),
        ("FULFILLED", "PAID", "NONE_REQUESTED"),
    ] {
        assert!(states.contains(&wanted), "{wanted:?} among {states:?}");
    }
    assert!(states.iter().any(|s| s.2 == "CANCELED"), "{states:?}");
    assert!(states.iter().any(|s| s.1 == "FULLY_REFUNDED"), "{states:?}");
    let (_, order) = api
        .get(&format!(
            "sell/fulfillment/v1/order/{}",
            EbayStore::order_id(refunded)
        ))
        .await;
    fulfillment.assert("Order", &order);
    assert_eq!(
        order["paymentSummary"]["refunds"][0]["refundStatus"],
        "REFUNDED"
    );

    let open = orders
        .iter()
        .find(|o| o["orderFulfillmentStatus"] == "NOT_STARTED" && o["orderPaymentStatus"] == "PAID")
        .expect("an order to ship");
    let open_id = open["orderId"].as_str().expect("id");
    let path = format!("sell/fulfillment/v1/order/{open_id}/shipping_fulfillment");
    let ship = json!({
        "lineItems": [{"lineItemId": open["lineItems"][0]["lineItemId"], "quantity": 1}],
        "shippingCarrierCode": "Royal Mail",
        "trackingNumber": "RM123456785GB",
    });
    let created = api
        .http
        .post(format!("{}/{path}", api.base))
        .bearer_auth(&api.token)
        .json(&ship)
        .send()
        .await
        .expect("send");
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_owned();
    assert_eq!(
        location,
        format!("{}/{path}/RM123456785GB", store.base_url())
    );
    assert!(created.json::<Value>().await.expect("json").is_object());
    let (_, one) = api.get(&format!("{path}/RM123456785GB")).await;
    fulfillment.assert("ShippingFulfillment", &one);
    let (_, list) = api.get(&path).await;
    fulfillment.assert("ShippingFulfillmentPagedCollection", &list);
    let (status, bad) = api
        .call(Method::POST, &path, Some(json!({"lineItems": []})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    fulfillment.assert("ErrorResponse", &bad);
    let (status, missing) = api.get("sell/fulfillment/v1/order/99-99999-99999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    fulfillment.assert("ErrorResponse", &missing);

    let (_, items) = api.get("sell/inventory/v1/inventory_item?limit=3").await;
    inventory.assert("InventoryItems", &items);
    assert!(
        items["inventoryItems"][0]["packageWeightAndSize"].is_object(),
        "{items}"
    );
    let sku = items["inventoryItems"][0]["sku"]
        .as_str()
        .expect("sku")
        .to_owned();
    let (_, offers) = api.get(&format!("sell/inventory/v1/offer?sku={sku}")).await;
    inventory.assert("Offers", &offers);
    let offer_id = offers["offers"][0]["offerId"].as_str().expect("offer id");
    let bulk_path = "sell/inventory/v1/bulk_update_price_quantity";
    let both = json!({"requests": [{
        "sku": sku,
        "shipToLocationAvailability": {"quantity": 4},
        "offers": [{"offerId": offer_id, "availableQuantity": 4}],
    }]});
    let (status, applied) = api.call(Method::POST, bulk_path, Some(both)).await;
    assert_eq!(status, StatusCode::OK);
    inventory.assert("BulkPriceQuantityResponse", &applied);
    let (status, partly) = api
        .call(
            Method::POST,
            bulk_path,
            Some(quantities(
                [(sku.as_str(), 4), ("NOPE", 1)]
                    .into_iter()
                    .map(|(s, q)| (s.to_owned(), q)),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    inventory.assert("BulkPriceQuantityResponse", &partly);
    let (status, too_many) = api
        .call(
            Method::POST,
            bulk_path,
            Some(quantities((0..26).map(|i| (format!("S{i}"), 1)))),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    inventory.assert("ErrorResponse", &too_many);
    let (status, no_offer) = api.get("sell/inventory/v1/offer?sku=NOPE").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    inventory.assert("ErrorResponse", &no_offer);

    store.faults().set(FaultKnobs {
        burst_429: 1,
        ..FaultKnobs::default()
    });
    let (status, limited) = api.get("sell/inventory/v1/inventory_item").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    inventory.assert("ErrorResponse", &limited);
    sandbox.shutdown().await;
}
