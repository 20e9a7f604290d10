//! The API server as a value: built (stores connected, schema migrated, port bound) before it
//! runs, so a caller learns the port first. Tests bind port 0 and read the port the OS chose.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{self, AppState};
use crate::config::{ServerSettings, Settings};
use crate::queue::Broker;
use crate::{db, server, telemetry};

/// A bound, not yet serving, API server.
pub struct Application {
    port: u16,
    listener: TcpListener,
    router: Router,
    server: ServerSettings,
    grace: Duration,
}

impl Application {
    /// Connects Redis, creates the database if missing and migrates it, binds
    /// `settings.server.listen` (port 0 picks a free port) and builds the router.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let metrics = telemetry::install_metrics();
        let broker = Broker::connect(&settings)
            .await
            .context("connecting to Redis")?;
        let pool = db::prepare(&settings.database).await?;
        let listener = TcpListener::bind(settings.server.listen)
            .await
            .with_context(|| format!("binding {}", settings.server.listen))?;
        let port = listener
            .local_addr()
            .context("reading the bound port")?
            .port();
        let grace = Duration::from_secs(settings.shutdown.grace_secs);
        let server = settings.server.clone();
        let connector_http = crate::connectors::http::client_settings(&settings);
        let state = AppState {
            settings: Arc::new(settings),
            broker,
            db: Some(pool),
            metrics,
            connectors: crate::connectors::ConnectorCache::new(connector_http),
            hosted_limits: Default::default(),
        };
        Ok(Application {
            port,
            listener,
            router: api::app(state),
            server,
            grace,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` turns true, then stops accepting, closes idle connections, lets
    /// in-flight requests finish for at most the configured shutdown grace, and returns.
    pub async fn run_until(self, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        server::serve(
            self.listener,
            self.router,
            &self.server,
            shutdown,
            self.grace,
        )
        .await;
        Ok(())
    }
}
