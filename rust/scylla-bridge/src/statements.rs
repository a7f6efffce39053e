//! CQL text of every statement, and the prepared set (built once per session).

use std::sync::{Arc, Mutex};

use scylla::client::session::Session as DriverSession;
use scylla::policies::load_balancing::LoadBalancingPolicy;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;

use crate::config::Resolved;
use crate::errors::{from_prepare, invalid};
use crate::ffi::{AppendShape, BridgeError};

const PK: &str = "bounded_context = ? AND aggregate_id = ? AND aggregate_type = ?";
pub(crate) const EVENT_COLUMNS: &str =
    "event_version, event_id, event_type, event_data, event_metadata, event_timestamp";

/// Append batches with up to this many events are built once and reused.
const CACHED_BATCH_SIZES: usize = 128;

pub(crate) struct Cql {
    pub(crate) append_head: String,
    pub(crate) append_row: String,
    pub(crate) lifecycle_head: String,
    pub(crate) range_delete: String,
    pub(crate) read_asc: String,
    pub(crate) read_desc: String,
    pub(crate) head: String,
    pub(crate) range_ids: String,
    pub(crate) tail_ids: String,
    pub(crate) snapshot_load: String,
    pub(crate) snapshot_insert: String,
    pub(crate) snapshot_update_older: String,
    pub(crate) snapshot_update_null: String,
    pub(crate) snapshot_update_exact: String,
}

impl Cql {
    pub(crate) fn new(keyspace: &str) -> Self {
        let events = format!("{keyspace}.event_store");
        let snaps = format!("{keyspace}.aggregate_snapshot");
        let read = |order: &str| {
            format!(
                "SELECT {EVENT_COLUMNS}, truncated_before FROM {events} WHERE {PK} AND event_version >= ? \
                 AND event_version <= ? ORDER BY event_version {order}"
            )
        };
        let snap_set = "snapshot_data = ?, snapshot_version = ?, snapshot_timestamp = ?, snapshot_metadata = ?";
        Cql {
            // hard_deleted is on the static row the condition reads anyway.
            append_head: format!(
                "UPDATE {events} SET stream_version = ? WHERE {PK} IF stream_version = ? AND hard_deleted = null"
            ),
            lifecycle_head: format!(
                "UPDATE {events} SET stream_version = ?, truncated_before = ?, hard_deleted = ? WHERE {PK} \
                 IF stream_version = ? AND truncated_before = ? AND hard_deleted = null"
            ),
            // In the conditional batch its timestamp is the Paxos ballot's, above every earlier
            // conditional write's: it removes every row below, as one range tombstone.
            range_delete: format!("DELETE FROM {events} WHERE {PK} AND event_version < ?"),
            append_row: format!(
                "INSERT INTO {events} (bounded_context, aggregate_id, aggregate_type, event_version, event_id, \
                 event_type, event_data, event_metadata, event_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 IF NOT EXISTS"
            ),
            read_asc: read("ASC"),
            read_desc: read("DESC"),
            head: format!(
                "SELECT stream_version, event_version, hard_deleted, truncated_before FROM {events} WHERE {PK} \
                 ORDER BY event_version DESC LIMIT 1"
            ),
            // What resolving an append needs, in one read: the head column and the versions and
            // ids from a version on, not the (maybe large) payloads.
            range_ids: format!(
                "SELECT stream_version, event_version, event_id, hard_deleted, truncated_before FROM {events} \
                 WHERE {PK} AND event_version >= ? LIMIT ?"
            ),
            // The head and the ids of the last events, in one read (for "any" appends).
            tail_ids: format!(
                "SELECT stream_version, event_version, event_id, hard_deleted, truncated_before FROM {events} \
                 WHERE {PK} ORDER BY event_version DESC LIMIT ?"
            ),
            snapshot_load: format!(
                "SELECT snapshot_data, snapshot_version, snapshot_timestamp, snapshot_metadata FROM {snaps} WHERE {PK}"
            ),
            snapshot_insert: format!(
                "INSERT INTO {snaps} (bounded_context, aggregate_id, aggregate_type, snapshot_data, snapshot_version, \
                 snapshot_timestamp, snapshot_metadata) VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
            ),
            snapshot_update_older: format!("UPDATE {snaps} SET {snap_set} WHERE {PK} IF snapshot_version < ?"),
            snapshot_update_null: format!("UPDATE {snaps} SET {snap_set} WHERE {PK} IF snapshot_version = null"),
            snapshot_update_exact: format!("UPDATE {snaps} SET {snap_set} WHERE {PK} IF snapshot_version = ?"),
        }
    }
}

pub(crate) struct Statements {
    pub(crate) append_head: PreparedStatement,
    pub(crate) append_row: PreparedStatement,
    /// The lifecycle batch: lifecycle_head, append_row, range_delete.
    pub(crate) lifecycle: Arc<Batch>,
    pub(crate) read_asc: PreparedStatement,
    pub(crate) read_desc: PreparedStatement,
    pub(crate) head: PreparedStatement,
    pub(crate) head_serial: PreparedStatement,
    pub(crate) range_serial: PreparedStatement,
    pub(crate) tail_serial: PreparedStatement,
    pub(crate) snapshot_load: PreparedStatement,
    pub(crate) snapshot_insert: PreparedStatement,
    pub(crate) snapshot_update_older: PreparedStatement,
    pub(crate) snapshot_update_null: PreparedStatement,
    pub(crate) snapshot_update_exact: PreparedStatement,
    lwt_policy: Arc<dyn LoadBalancingPolicy>,
    /// Built batches by shape (Store, Seed) and row count.
    batches: Mutex<[Vec<Option<Arc<Batch>>>; 2]>,
}

async fn prepare(driver: &DriverSession, cql: &str) -> Result<PreparedStatement, BridgeError> {
    driver.prepare(cql).await.map_err(|e| from_prepare("prepare", &e))
}

impl Statements {
    pub(crate) async fn prepare_all(
        driver: &DriverSession,
        cfg: &Resolved,
        lwt_policy: Arc<dyn LoadBalancingPolicy>,
    ) -> Result<Self, BridgeError> {
        let cql = Cql::new(&cfg.keyspace);
        let lwt = |mut s: PreparedStatement| {
            s.set_load_balancing_policy(Some(lwt_policy.clone()));
            s.set_is_idempotent(false);
            s
        };
        let read = |mut s: PreparedStatement| {
            s.set_is_idempotent(true);
            s
        };
        // Serial reads resolve appends whose outcome is unknown: they get their own timeout.
        let serial_read = |mut s: PreparedStatement| {
            s.set_consistency(cfg.serial_read_consistency());
            s.set_request_timeout(Some(cfg.resolve_timeout));
            s.set_load_balancing_policy(Some(lwt_policy.clone()));
            s.set_is_idempotent(true);
            s
        };
        let head = read(prepare(driver, &cql.head).await?);
        let read_asc = read(prepare(driver, &cql.read_asc).await?);
        let append_row = lwt(prepare(driver, &cql.append_row).await?);
        let mut lifecycle = Batch::new(BatchType::Logged);
        lifecycle.append_statement(lwt(prepare(driver, &cql.lifecycle_head).await?));
        lifecycle.append_statement(append_row.clone());
        lifecycle.append_statement(lwt(prepare(driver, &cql.range_delete).await?));
        lifecycle.set_load_balancing_policy(Some(lwt_policy.clone()));
        lifecycle.set_is_idempotent(false);
        Ok(Statements {
            append_head: lwt(prepare(driver, &cql.append_head).await?),
            append_row,
            lifecycle: Arc::new(lifecycle),
            read_desc: read(prepare(driver, &cql.read_desc).await?),
            head_serial: serial_read(head.clone()),
            range_serial: serial_read(prepare(driver, &cql.range_ids).await?),
            tail_serial: serial_read(prepare(driver, &cql.tail_ids).await?),
            head,
            read_asc,
            snapshot_load: read(prepare(driver, &cql.snapshot_load).await?),
            snapshot_insert: lwt(prepare(driver, &cql.snapshot_insert).await?),
            snapshot_update_older: lwt(prepare(driver, &cql.snapshot_update_older).await?),
            snapshot_update_null: lwt(prepare(driver, &cql.snapshot_update_null).await?),
            snapshot_update_exact: lwt(prepare(driver, &cql.snapshot_update_exact).await?),
            lwt_policy,
            batches: Mutex::new(std::array::from_fn(|_| vec![None; CACHED_BATCH_SIZES + 1])),
        })
    }

    fn build_batch(&self, shape: AppendShape, rows: usize) -> Batch {
        let mut b = Batch::new(BatchType::Logged);
        if shape != AppendShape::Seed {
            b.append_statement(self.append_head.clone());
        }
        for _ in 0..rows {
            b.append_statement(self.append_row.clone());
        }
        b.set_load_balancing_policy(Some(self.lwt_policy.clone()));
        b.set_is_idempotent(false);
        b
    }

    /// The conditional append batch of `shape` for `rows` events (its first statement gives the
    /// driver the partition token: the head UPDATE, or the first INSERT of the seed's shape).
    pub(crate) fn append_batch(&self, shape: AppendShape, rows: usize) -> Result<Arc<Batch>, BridgeError> {
        let index = match shape {
            AppendShape::Store => 0,
            AppendShape::Seed => 1,
            _ => return Err(invalid("unknown append shape")),
        };
        if rows > CACHED_BATCH_SIZES {
            return Ok(Arc::new(self.build_batch(shape, rows)));
        }
        let mut cache = self.batches.lock().unwrap_or_else(|p| p.into_inner());
        Ok(cache[index][rows].get_or_insert_with(|| Arc::new(self.build_batch(shape, rows))).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cql_uses_keyspace_and_placeholders_only() {
        let c = Cql::new("ks1");
        assert_eq!(
            c.append_head,
            "UPDATE ks1.event_store SET stream_version = ? WHERE bounded_context = ? AND aggregate_id = ? \
             AND aggregate_type = ? IF stream_version = ? AND hard_deleted = null"
        );
        assert!(c.lifecycle_head.ends_with("IF stream_version = ? AND truncated_before = ? AND hard_deleted = null"));
        assert_eq!(c.lifecycle_head.matches('?').count(), 8);
        assert!(c.range_delete.ends_with("AND event_version < ?"), "{}", c.range_delete);
        assert!(c.append_row.starts_with("INSERT INTO ks1.event_store ("));
        assert!(c.append_row.ends_with("IF NOT EXISTS"));
        assert_eq!(c.append_row.matches('?').count(), 9);
        assert!(c.read_desc.ends_with("ORDER BY event_version DESC"));
        assert_eq!(c.read_asc.matches('?').count(), 5);
        assert!(c.range_ids.starts_with(
            "SELECT stream_version, event_version, event_id, hard_deleted, truncated_before FROM ks1.event_store WHERE"
        ));
        assert!(c.range_ids.ends_with("event_version >= ? LIMIT ?"), "{}", c.range_ids);
        assert_eq!(c.range_ids.matches('?').count(), 5);
        assert!(c.tail_ids.ends_with("ORDER BY event_version DESC LIMIT ?"), "{}", c.tail_ids);
        assert_eq!(c.tail_ids.matches('?').count(), 4);
        assert!(c.snapshot_update_older.ends_with("IF snapshot_version < ?"));
        assert_eq!(c.snapshot_insert.matches('?').count(), 7);
    }
}
