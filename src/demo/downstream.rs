//! What the demo sets up downstream of switchyard: a webhook receiver subscribed to the store's
//! events, and a fulfilment-centre plugin that a rule routes one SKU to. Both are the sandbox's
//! simulators on loopback; the receiver checks every signature as a third party would.

use anyhow::Context;
use sqlx::PgPool;

use crate::crypto::CredentialsKey;
use crate::domain::plugin_rules::{Action, Condition};
use crate::store::fulfilments;
use crate::store::plugin_rules::{self, NewRule};
use crate::store::plugins::{self, NewPlugin};
use crate::store::webhooks::{self, NewWebhook};
use crate::store::AccountId;
use switchyard_sandbox::fulfilment_centre::{
    BookedState, FulfilmentCentre, FulfilmentCentreConfig, FulfilmentCentreHandle,
};
use switchyard_sandbox::webhook_receiver::WebhookReceiver;

/// The SKU the demo's rule sends to the fulfilment centre.
pub const ROUTED_SKU: &str = "HL-1";
/// Events the demo's webhook subscribes to.
const TRIGGERS: &[&str] = &[
    "order.created",
    "order.updated",
    "order.excluded",
    "order.on_hold",
    "fulfilment.created",
    "fulfilment.updated",
    "product.updated",
];
/// How long the simulated centre takes to ship an order.
const SHIP_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

pub struct Downstream {
    pub receiver: WebhookReceiver,
    /// Where the webhook points, on the receiver.
    pub webhook_url: String,
    pub centre: FulfilmentCentreHandle,
}

/// Starts the receiver and the centre and connects them to `store_id`: a webhook for
/// [`TRIGGERS`], a plugin for the centre, and a rule sending orders of [`ROUTED_SKU`] to it.
pub async fn start(
    pool: &PgPool,
    key: &CredentialsKey,
    account: AccountId,
    store_id: i64,
    api: &str,
) -> anyhow::Result<Downstream> {
    let secret = crate::webhooks::generate_secret();
    let receiver = WebhookReceiver::start(vec![secret.clone()])
        .await
        .context("starting the webhook receiver")?;
    let triggers: Vec<String> = TRIGGERS.iter().map(|t| (*t).to_owned()).collect();
    let webhook_url = receiver.url_for("/switchyard");
    webhooks::create(
        pool,
        key,
        account,
        &NewWebhook {
            store_id,
            url: &webhook_url,
            description: Some("the demo's webhook receiver"),
            triggers: &triggers,
            enabled: true,
            secret: &secret,
        },
    )
    .await
    .context("creating the demo webhook")?;

    let centre = FulfilmentCentre::start(FulfilmentCentreConfig {
        ship_after: Some(SHIP_AFTER),
        ..FulfilmentCentreConfig::default()
    })
    .await
    .context("starting the fulfilment centre")?;
    let plugin = plugins::create(
        pool,
        key,
        account,
        &NewPlugin {
            store_id,
            name: "Demo fulfilment centre",
            endpoint_url: &centre.endpoint_url(),
            active: true,
        },
    )
    .await
    .context("creating the demo plugin")?;
    centre.configure(&plugin.signing_secret, &plugin.callback_token, api);
    plugin_rules::create(
        pool,
        account,
        &NewRule {
            store_id,
            name: "headlamps ship from the fulfilment centre",
            position: None,
            condition: &Condition::SkuIn {
                skus: vec![ROUTED_SKU.to_owned()],
            },
            action: &Action::SendToPlugin {
                plugin_id: plugin.plugin.id,
            },
            active: true,
        },
    )
    .await
    .context("creating the demo plugin rule")?;
    Ok(Downstream {
        receiver,
        webhook_url,
        centre,
    })
}

impl Downstream {
    /// `1234 delivered (all verified), last order.created`.
    pub fn webhook_line(&self) -> String {
        let got = self.receiver.deliveries();
        let bad = got.iter().filter(|d| !d.verified).count();
        let verified = match bad {
            0 => "every signature verified".to_owned(),
            n => format!("{n} NOT verified"),
        };
        let last = got
            .last()
            .map(|d| format!(", last {}", d.event_type))
            .unwrap_or_default();
        format!(
            "{} delivered to {}, {verified}{last}",
            got.len(),
            self.webhook_url
        )
    }

    /// `12 orders received, 9 shipped; fulfilments: 8 synced, 1 sending`.
    pub async fn centre_line(&self, pool: &PgPool, store_id: i64) -> String {
        let books = self.centre.orders();
        let shipped = books
            .iter()
            .filter(|o| o.state == BookedState::Shipped)
            .count();
        let statuses = fulfilments::routed_status_counts(pool, store_id)
            .await
            .unwrap_or_default();
        let fulfilments = match statuses.is_empty() {
            true => "none yet".to_owned(),
            false => statuses
                .iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        format!(
            "{ROUTED_SKU} orders: {} received, {shipped} shipped; their fulfilments on the \
             channels: {fulfilments}",
            books.len()
        )
    }

    pub async fn shutdown(self) {
        self.receiver.shutdown().await;
        self.centre.shutdown().await;
    }
}
