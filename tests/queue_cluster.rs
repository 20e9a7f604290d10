//! The queue's behaviours (`queue_suite`) on a Redis Cluster of three masters: the one
//! `SWITCHYARD_TEST_REDIS_CLUSTER` names (`.ci/run` starts one), or one of this binary's own.

mod app_helpers;
mod cluster_helpers;
mod queue_helpers;
mod queue_suite;

mod backend {
    use switchyard::config::Settings;
    use switchyard::queue::Broker;

    pub fn settings() -> Settings {
        crate::cluster_helpers::on_cluster(crate::app_helpers::settings())
    }

    pub async fn broker() -> Broker {
        crate::queue_helpers::broker_with(&settings()).await
    }
}

/// The cluster really spreads the queues: the keys of different queues live on different
/// nodes, and each queue's keys on one.
#[tokio::test]
async fn queues_spread_over_the_clusters_masters() {
    use redis::AsyncCommands;
    use switchyard::jobs::Noop;

    let broker = backend::broker().await;
    let names: Vec<String> = (0..12).map(|i| format!("spread-{i}")).collect();
    let mut nodes = std::collections::BTreeSet::new();
    for name in &names {
        let queue = queue_helpers::probe_queue(&broker, name, |_| {});
        queue_helpers::enqueue(&queue, &Noop::default()).await;
        let ready = queue_helpers::queue_key(&queue, "ready");
        let node = cluster_helpers::node_of(&ready).await;
        let len: u64 = broker.conn().llen(&ready).await.unwrap();
        assert_eq!(len, 1, "{name}'s job is ready on its node");
        nodes.insert(node);
        queue.destroy().await.unwrap();
    }
    assert_eq!(
        nodes.len(),
        3,
        "twelve queues over three masters: {nodes:?}"
    );
}
