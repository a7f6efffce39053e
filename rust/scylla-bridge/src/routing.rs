//! LWT routing for conditional batches and serial reads.
//!
//! The driver's DefaultPolicy routes a request "as LWT" (replicas in ring
//! order, no shuffling, so that concurrent Paxos rounds on one partition meet
//! at the same coordinator-replica instead of contending) only when
//! `RoutingInfo::should_route_as_lwt()` holds: `is_confirmed_lwt` (set only
//! from ScyllaDB's LWT prepare-metadata extension, and always false in
//! `Session::batch`) or a SERIAL / LOCAL_SERIAL consistency. A conditional
//! batch has neither, so it would go to a random replica, and on Cassandra no
//! statement is ever "confirmed LWT". This policy is attached to the append
//! batch and to the other conditional statements: with a token (the batch's
//! first statement is prepared, so the driver computes the partition token)
//! it returns the replicas in ring order (preferred DC only, when one is
//! set), live ones first, then falls back to the wrapped DefaultPolicy's plan.

use std::sync::Arc;

use scylla::cluster::metadata::Strategy;
use scylla::cluster::{ClusterState, NodeRef};
use scylla::policies::load_balancing::{FallbackPlan, LoadBalancingPolicy, RoutingInfo};
use scylla::routing::Shard;

#[derive(Debug)]
pub(crate) struct LwtRingPolicy {
    local_dc: Option<String>,
    inner: Arc<dyn LoadBalancingPolicy>,
}

impl LwtRingPolicy {
    pub(crate) fn new(local_dc: Option<String>, inner: Arc<dyn LoadBalancingPolicy>) -> Self {
        Self { local_dc, inner }
    }

    /// Replicas of the request's token in ring order (empty without a token).
    fn ring_replicas<'a>(&'a self, request: &'a RoutingInfo, cluster: &'a ClusterState) -> Vec<(NodeRef<'a>, Shard)> {
        static LOCAL: Strategy = Strategy::LocalStrategy;
        let (Some(token), Some(table)) = (request.token, request.table) else {
            return Vec::new();
        };
        let strategy = cluster.get_keyspace(table.ks_name()).map(|k| &k.strategy).unwrap_or(&LOCAL);
        cluster
            .replica_locator()
            .replicas_for_token(token, strategy, self.local_dc.as_deref(), table)
            .into_replicas_ordered()
            .into_iter()
            .filter(|(node, _)| node.is_enabled())
            .collect()
    }
}

impl LoadBalancingPolicy for LwtRingPolicy {
    fn pick<'a>(&'a self, request: &'a RoutingInfo, cluster: &'a ClusterState) -> Option<(NodeRef<'a>, Option<Shard>)> {
        let replicas = self.ring_replicas(request, cluster);
        if let Some((node, shard)) = replicas.iter().find(|(n, _)| n.is_connected()) {
            return Some((*node, Some(*shard)));
        }
        self.inner.pick(request, cluster)
    }

    fn fallback<'a>(&'a self, request: &'a RoutingInfo, cluster: &'a ClusterState) -> FallbackPlan<'a> {
        let replicas = self.ring_replicas(request, cluster);
        let (live, down): (Vec<_>, Vec<_>) = replicas.into_iter().partition(|(n, _)| n.is_connected());
        let ordered: Vec<(NodeRef<'a>, Option<Shard>)> =
            live.into_iter().chain(down).map(|(n, s)| (n, Some(s))).collect();
        let seen: Vec<NodeRef<'a>> = ordered.iter().map(|(n, _)| *n).collect();
        let rest = self.inner.fallback(request, cluster).filter(move |(n, _)| !seen.iter().any(|s| Arc::ptr_eq(s, n)));
        Box::new(ordered.into_iter().chain(rest))
    }

    fn on_request_success(&self, request: &RoutingInfo, latency: std::time::Duration, node: NodeRef<'_>) {
        self.inner.on_request_success(request, latency, node);
    }

    fn on_request_failure(
        &self,
        request: &RoutingInfo,
        latency: std::time::Duration,
        node: NodeRef<'_>,
        error: &scylla::errors::RequestAttemptError,
    ) {
        self.inner.on_request_failure(request, latency, node, error);
    }

    fn name(&self) -> String {
        "eventstore::LwtRingPolicy".to_string()
    }
}
