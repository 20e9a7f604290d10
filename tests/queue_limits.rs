//! Concurrency limits shared by every process on one Redis (`queue::limit`).

mod app_helpers;
mod queue_helpers;

use std::time::Duration;

use queue_helpers::{broker, broker_with, eventually};

#[tokio::test]
async fn a_limits_leases_are_shared_released_and_expire_by_themselves() {
    let broker = broker().await;
    let name = format!("test-{}", ulid::Ulid::new());
    let long = Duration::from_secs(60);
    let first = broker.take_leases(&name, 2, 3, 1, long).await.unwrap();
    assert_eq!(first.len(), 2);
    // Another process (here, another handle on the same Redis) finds one left, then none.
    let other = broker_with(&broker.settings().clone()).await;
    let second = other.take_leases(&name, 5, 3, 1, long).await.unwrap();
    assert_eq!(second.len(), 1);
    assert!(other
        .take_leases(&name, 1, 3, 1, long)
        .await
        .unwrap()
        .is_empty());
    broker.release_leases(first).await.unwrap();
    assert_eq!(
        other.take_leases(&name, 5, 3, 1, long).await.unwrap().len(),
        2
    );
    // A lease nobody releases (its process died) frees its place once it expires.
    let name = format!("test-{}", ulid::Ulid::new());
    let short = Duration::from_millis(200);
    assert_eq!(
        broker
            .take_leases(&name, 1, 1, 1, short)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(broker
        .take_leases(&name, 1, 1, 1, long)
        .await
        .unwrap()
        .is_empty());
    eventually(Duration::from_secs(5), "the lease expires", || async {
        (broker
            .take_leases(&name, 1, 1, 1, long)
            .await
            .unwrap()
            .len()
            == 1)
            .then_some(())
    })
    .await;
}
