//! The outbox relay: rows committed by a domain transaction reach Redis even when no relay was
//! running at the time (the process died between commit and push), and leave the outbox.
//! Runs on a database of its own, so no other test's relay takes its rows.

mod queue_helpers;

use std::time::Duration;

use queue_helpers::{broker_with, eventually, settings};
use serde_json::json;
use switchyard::queue::relay;
use switchyard::store::outbox::{self, OutboxItem};
use switchyard::{db, workers::Noop};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_committed_while_no_relay_ran_are_pushed_once_one_starts() {
    let mut settings = settings();
    let name = format!(
        "switchyard_relay_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    settings.database.url = format!("postgres://localhost/{name}");
    let pool = db::prepare(&settings.database)
        .await
        .expect("a database of its own");
    let broker = broker_with(&settings).await;

    // A domain transaction writes its jobs and events and commits; nothing relays yet.
    let mut tx = pool.begin().await.unwrap();
    for item in [
        OutboxItem::job(&Noop::default(), None).unwrap(),
        OutboxItem::job(&Noop::default(), Some("sync-stock:1".into())).unwrap(),
        OutboxItem::job(&Noop::default(), Some("sync-stock:1".into())).unwrap(),
        OutboxItem::Event {
            payload: json!({"type": "order.created", "order_id": 42}),
        },
    ] {
        outbox::push_in_tx(&mut tx, &item).await.unwrap();
    }
    tx.commit().await.unwrap();
    let queue = broker.queue("noop").unwrap();
    assert_eq!(queue.stats().await.unwrap().enqueued_total, 0);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(relay::run(pool.clone(), broker.clone(), stop_rx));
    eventually(Duration::from_secs(10), "the outbox to empty", || async {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
            .fetch_one(&pool)
            .await
            .unwrap();
        (left == 0).then_some(())
    })
    .await;
    // Two jobs: the second unique one coalesced with the first while it waited.
    assert_eq!(queue.stats().await.unwrap().ready, 2);
    let events = relay::read_events(&broker, 10).await.unwrap();
    assert_eq!(
        events,
        vec![json!({"type": "order.created", "order_id": 42})]
    );

    // A row written while the relay runs is pushed promptly (woken by NOTIFY, not the poll).
    let mut tx = pool.begin().await.unwrap();
    outbox::push_in_tx(&mut tx, &OutboxItem::job(&Noop::default(), None).unwrap())
        .await
        .unwrap();
    outbox::notify_in_tx(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    eventually(
        Duration::from_millis(900),
        "the new row to be relayed",
        || async { (queue.stats().await.unwrap().ready == 3).then_some(()) },
    )
    .await;

    let _ = stop_tx.send(true);
    let _ = running.await;
    pool.close().await;
    queue.destroy().await.unwrap();
    let _ =
        redis::AsyncCommands::del::<_, ()>(&mut broker.conn(), relay::events_key(&broker)).await;
    let admin = db::prepare(&switchyard::config::DatabaseSettings {
        url: "postgres://localhost/switchyard_test".into(),
        ..settings.database.clone()
    })
    .await
    .unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}
