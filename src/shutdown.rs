//! One shutdown signal for the whole process: SIGINT or SIGTERM flips a watch channel that every
//! server, pool and timer holds.

use tokio::sync::watch;

/// Returns a receiver that turns true on the first SIGINT/SIGTERM.
pub fn on_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested");
        let _ = tx.send(true);
    });
    rx
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Resolves once `rx` has turned true (or its sender is gone).
pub async fn wait(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Resolves when the HTTP server begins to shut down: the server puts one in every request's
/// extensions, so a response that streams (the dashboard's live events) can end and let its
/// connection close instead of holding shutdown for the whole grace.
#[derive(Clone)]
pub struct Closing(watch::Receiver<bool>);

impl Closing {
    pub fn new(rx: watch::Receiver<bool>) -> Closing {
        Closing(rx)
    }

    pub async fn wait(self) {
        wait(self.0).await
    }
}
