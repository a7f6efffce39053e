//! The feed's marker write (`Session::write_markers`; src/scylla/feed_markers.h): one prepared
//! INSERT into feed_markers with typed values, or one logged batch of them (the markers of one
//! partition, group-committed by the C++ writer). The rows, consistency (QUORUM, or LOCAL_QUORUM
//! with local_consistency), TTL and idempotence are those the generic call (cql.rs) wrote; this
//! path only drops its per-call cost: no CQL text to scan for conditions, no untyped values to
//! convert, no result rows to decode. Idempotent: the driver may retry it, and a timeout or a
//! broken connection is Unavailable (running it again is harmless: same marker id, same row).

use scylla::statement::batch::{Batch, BatchType};
use scylla::value::CqlTimeuuid;
use uuid::Uuid;

use crate::errors::{from_execution, invalid};
use crate::ffi::{BridgeError, FeedMarker};
use crate::ops::Core;
use crate::runtime::Effect;

/// The INSERT of one marker, its values in `values`'s order.
fn insert_cql(keyspace: &str, ttl_seconds: i32) -> String {
    format!(
        "INSERT INTO {keyspace}.feed_markers (bounded_context, bucket, shard, marker_id, aggregate_type, aggregate_id, \
         first_event_id, event_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL {ttl_seconds}"
    )
}

type MarkerValues<'a> = (&'a str, i64, i32, CqlTimeuuid, &'a str, Uuid, Uuid, i32);

fn values(m: &FeedMarker) -> MarkerValues<'_> {
    (
        &m.bounded_context,
        m.bucket,
        m.shard,
        CqlTimeuuid::from_bytes(m.marker_id),
        &m.aggregate_type,
        Uuid::from_bytes(m.aggregate_id),
        Uuid::from_bytes(m.first_event_id),
        m.event_count,
    )
}

impl Core {
    /// Writes `markers` (at least one; several must share a partition) with a TTL of
    /// `ttl_seconds` (> 0). Errors: InvalidArgument (none given, a bad TTL, the table is
    /// missing), Unavailable (a timeout included), Unauthorized.
    pub(crate) async fn write_markers(&self, markers: Vec<FeedMarker>, ttl_seconds: i32) -> Result<(), BridgeError> {
        if markers.is_empty() || ttl_seconds <= 0 {
            return Err(invalid(format!("write_markers: {} markers, TTL {ttl_seconds} s", markers.len())));
        }
        // The statement cache of the generic call: one prepare per session, then a map lookup.
        let mut insert = self.cql_cache.get(&self.driver, &insert_cql(&self.cfg.keyspace, ttl_seconds)).await?;
        let result = if let [marker] = markers.as_slice() {
            insert.set_consistency(self.cfg.consistency);
            insert.set_is_idempotent(true);
            self.driver.execute_unpaged(&insert, values(marker)).await.map(drop)
        } else {
            let mut batch = Batch::new(BatchType::Logged);
            for _ in &markers {
                batch.append_statement(insert.clone());
            }
            batch.set_consistency(self.cfg.consistency);
            batch.set_is_idempotent(true);
            self.driver.batch(&batch, markers.iter().map(values).collect::<Vec<_>>()).await.map(drop)
        };
        result.map_err(|e| {
            from_execution(&format!("insert into feed_markers ({} rows)", markers.len()), &e, Effect::Read)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_insert_names_every_column_once_with_the_ttl() {
        let cql = insert_cql("ks1", 259200);
        assert_eq!(
            cql,
            "INSERT INTO ks1.feed_markers (bounded_context, bucket, shard, marker_id, aggregate_type, aggregate_id, \
             first_event_id, event_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL 259200"
        );
        assert!(!crate::cql::is_conditional(&cql));
    }
}
