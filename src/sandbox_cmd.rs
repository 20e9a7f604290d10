//! `switchyard sandbox`: runs the platform simulators on their own, printing where they listen
//! and the credentials a channel needs, until Ctrl-C.

use std::net::SocketAddr;

use anyhow::Context;
use sqlx::PgPool;
use switchyard_sandbox::{
    AmazonSellerConfig, Credentials, EbaySellerConfig, Sandbox, SandboxConfig, SandboxHandle,
    StoreInfo,
};

use crate::crypto::CredentialsKey;
use crate::domain::ChannelSettings;
use crate::store::channels::{self, ChannelRow, NewChannel};
use crate::store::AccountId;

use crate::domain::Secret;
use crate::domain::{
    AmazonCredentials, ChannelCredentials, EbayCredentials, ShopifyCredentials, WooCredentials,
};

#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    /// Orders each simulated store generates per second (0: none until asked).
    pub orders_per_second: f64,
    /// Orders each store holds from the start.
    pub seed_orders: usize,
}

/// Orders a second an Amazon seller in the demo sandbox makes at most: `getOrderItems`, one call
/// per order, restores a call every 2 s on Amazon's published usage plan, and half of that
/// leaves an import room to catch up.
const AMAZON_ORDERS_PER_SECOND: f64 = 0.25;

/// The demo sandbox config, with an Amazon seller and an eBay seller beside the demo's shop and
/// store, the generators set to `orders_per_second` (Amazon's capped, see
/// [`AMAZON_ORDERS_PER_SECOND`]).
pub fn config(opts: &Options) -> SandboxConfig {
    let mut config = SandboxConfig::demo();
    config.bind = opts.listen;
    config.amazon.push(AmazonSellerConfig::new("demo-amazon"));
    config.ebay.push(EbaySellerConfig::new("demo-ebay"));
    for s in &mut config.shopify {
        s.generator.orders_per_second = opts.orders_per_second;
    }
    for s in &mut config.woocommerce {
        s.generator.orders_per_second = opts.orders_per_second;
    }
    for s in &mut config.amazon {
        s.generator.orders_per_second = opts.orders_per_second.min(AMAZON_ORDERS_PER_SECOND);
    }
    for s in &mut config.ebay {
        s.generator.orders_per_second = opts.orders_per_second;
    }
    config
}

/// Admits loopback to the outbound SSRF guard, for a process that talks to simulators it runs
/// itself (the demo and the benchmarks): they listen on loopback, which the guard refuses unless
/// allow-listed.
pub fn allow_loopback(settings: &mut crate::config::Settings) {
    for cidr in ["127.0.0.1/32", "::1/128"] {
        if !settings.outbound.allow_cidrs.iter().any(|c| c == cidr) {
            settings.outbound.allow_cidrs.push(cidr.to_owned());
        }
    }
}

/// The credentials a channel needs for a simulated store, as the sandbox issued them.
pub fn sandbox_credentials(info: &StoreInfo) -> ChannelCredentials {
    match &info.credentials {
        Credentials::Shopify {
            access_token,
            app_secret,
            ..
        } => ChannelCredentials::Shopify(ShopifyCredentials {
            access_token: Secret::new(access_token.clone()),
            app_secret: Secret::new(app_secret.clone()),
        }),
        Credentials::WooCommerce {
            consumer_key,
            consumer_secret,
            webhook_secret,
        } => ChannelCredentials::WooCommerce(WooCredentials {
            consumer_key: Secret::new(consumer_key.clone()),
            consumer_secret: Secret::new(consumer_secret.clone()),
            webhook_secret: Secret::new(webhook_secret.clone()),
        }),
        Credentials::Ebay {
            client_id,
            client_secret,
            refresh_token,
        } => ChannelCredentials::Ebay(EbayCredentials {
            client_id: Secret::new(client_id.clone()),
            client_secret: Secret::new(client_secret.clone()),
            refresh_token: Secret::new(refresh_token.clone()),
        }),
        Credentials::Amazon {
            seller_id,
            marketplace_id,
            lwa_client_id,
            lwa_client_secret,
            refresh_token,
        } => ChannelCredentials::Amazon(AmazonCredentials {
            client_id: Secret::new(lwa_client_id.clone()),
            client_secret: Secret::new(lwa_client_secret.clone()),
            refresh_token: Secret::new(refresh_token.clone()),
            seller_id: seller_id.clone(),
            marketplace_id: marketplace_id.clone(),
        }),
    }
}

/// One channel of the account's store `store_id` per simulated store of `sandbox`, all with
/// `settings`: what `switchyard demo` and the benchmarks run against.
pub async fn connect_channels(
    pool: &PgPool,
    key: &CredentialsKey,
    account: AccountId,
    store_id: i64,
    sandbox: &SandboxHandle,
    settings: &ChannelSettings,
) -> anyhow::Result<Vec<(ChannelRow, StoreInfo)>> {
    let mut made = Vec::new();
    for info in sandbox.stores() {
        let credentials = sandbox_credentials(info);
        let new = NewChannel {
            store_id,
            name: &info.name,
            base_url: &info.base_url,
            credentials: &credentials,
            settings,
        };
        let channel = channels::create(pool, key, account, &new)
            .await
            .with_context(|| format!("creating the channel for {}", info.name))?;
        made.push((channel, info.clone()));
    }
    Ok(made)
}

/// What a person needs to point a channel (or a platform client) at each simulated store.
pub fn describe(sandbox: &switchyard_sandbox::SandboxHandle) -> String {
    let mut out = format!(
        "switchyard sandbox on {}\n  control API: {}\n",
        sandbox.url(),
        sandbox.control_url()
    );
    for s in sandbox.stores() {
        match &s.credentials {
            Credentials::Shopify {
                shop_domain,
                access_token,
                app_secret,
            } => out.push_str(&format!(
                "  shopify store {name}\n    base URL:     {url}  (GraphQL Admin API at {url}/admin/api/2025-07/graphql.json; REST beside it)\n    shop domain:  {shop_domain}\n    access token: {access_token}\n    app secret:   {app_secret}\n",
                name = s.name,
                url = s.base_url,
            )),
            Credentials::WooCommerce {
                consumer_key,
                consumer_secret,
                webhook_secret,
            } => out.push_str(&format!(
                "  woocommerce store {name}\n    base URL:        {url}  (REST at {url}/wp-json/wc/v3/...)\n    consumer key:    {consumer_key}\n    consumer secret: {consumer_secret}\n    webhook secret:  {webhook_secret}\n",
                name = s.name,
                url = s.base_url,
            )),
            Credentials::Amazon { seller_id, marketplace_id, lwa_client_id, lwa_client_secret, refresh_token } => out.push_str(&format!(
                "  amazon seller {name}\n    base URL:      {url}  (SP-API at {url}/orders/v0/..., token at {url}/auth/o2/token)\n    seller id:     {seller_id}\n    marketplace:   {marketplace_id}\n    client id:     {lwa_client_id}\n    client secret: {lwa_client_secret}\n    refresh token: {refresh_token}\n",
                name = s.name,
                url = s.base_url,
            )),
            Credentials::Ebay { client_id, client_secret, refresh_token } => out.push_str(&format!(
                "  ebay seller {name}\n    base URL:      {url}  (Sell APIs at {url}/sell/..., token at {url}/identity/v1/oauth2/token)\n    client id:     {client_id}\n    client secret: {client_secret}\n    refresh token: {refresh_token}\n",
                name = s.name,
                url = s.base_url,
            )),
        }
    }
    out
}

pub async fn run(opts: Options) -> anyhow::Result<()> {
    let sandbox = Sandbox::start(config(&opts))
        .await
        .with_context(|| format!("starting the sandbox on {}", opts.listen))?;
    if opts.seed_orders > 0 {
        for s in sandbox.stores() {
            if let Some(store) = sandbox.store(&s.name) {
                store.create_orders(opts.seed_orders);
            }
        }
    }
    print!("{}", describe(&sandbox));
    println!("Ctrl-C stops it.");
    crate::shutdown::wait(crate::shutdown::on_signal()).await;
    sandbox.shutdown().await;
    Ok(())
}

/// An accounting connection of the account's store `store_id` to the simulated Xero
/// organisation `org`, with `settings`, authorized the way a merchant's browser does it: the
/// organisation's consent page (which consents at once) and switchyard's callback at `api`,
/// where the API is listening. What `switchyard demo` and `bench invoices` post invoices to.
pub async fn connect_xero(
    pool: &PgPool,
    key: &CredentialsKey,
    account: AccountId,
    store_id: i64,
    org: &switchyard_sandbox::XeroOrg,
    api: &str,
    settings: &crate::domain::accounting::AccountingSettings,
) -> anyhow::Result<crate::store::accounting::ConnectionRow> {
    use crate::connectors::accounting::Endpoints;
    use crate::domain::accounting::{AccountingKind, ClientCredentials};
    use crate::store::accounting::{self, NewConnection};

    let client = ClientCredentials {
        client_id: Secret::from(org.client_id()),
        client_secret: Secret::from(org.client_secret()),
    };
    let connection = accounting::create(
        pool,
        key,
        account,
        &NewConnection {
            store_id,
            kind: AccountingKind::Xero,
            name: org.tenant_name(),
            base_url: Some(org.base_url()),
            client: &client,
            settings,
        },
    )
    .await
    .context("creating the Xero connection")?;
    let redirect = format!("{api}/v1/accounting-connections/callback");
    let state = accounting::begin_authorization(pool, account, connection.id, &redirect)
        .await?
        .context("the new Xero connection is gone")?;
    let consent = Endpoints::of(AccountingKind::Xero, Some(org.base_url()))?.authorize_url(
        AccountingKind::Xero,
        &client,
        &redirect,
        &state,
    );
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let consented = browser.get(consent).send().await?;
    let back = consented
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .context("the organisation's consent page sent no redirect")?
        .to_owned();
    let done = browser.get(&back).send().await?;
    anyhow::ensure!(
        done.status().is_success(),
        "switchyard's authorization callback answered {}",
        done.status()
    );
    accounting::get(pool, account, connection.id)
        .await?
        .context("the Xero connection is gone")
}
