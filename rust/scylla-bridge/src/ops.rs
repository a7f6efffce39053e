//! The store's operations as async functions on the shared session core.

use std::sync::Arc;

use scylla::client::session::Session as DriverSession;
use scylla::policies::load_balancing::LoadBalancingPolicy;
use scylla::response::query_result::QueryResult;
use scylla::response::{PagingState, PagingStateResponse};
use scylla::serialize::row::{RowSerializationContext, SerializeRow};
use scylla::serialize::writers::RowWriter;
use scylla::serialize::SerializationError;
use scylla::statement::unprepared::Statement;
use scylla::value::{CqlTimestamp, MaybeUnset};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::config::Resolved;
use crate::decode::{decode_cas_result, CasView};
use crate::errors::{err, from_execution, internal, invalid};
use crate::ffi::{
    AppendOutcome, BridgeError, ErrorKind, EventRow, Snapshot, SnapshotLoad, SnapshotSaveOutcome, StreamKey,
    StreamSlice,
};
use crate::runtime::Effect;
use crate::statements::Statements;

/// Bounded retries of the never-backwards snapshot save under contention.
const SNAPSHOT_SAVE_ATTEMPTS: usize = 5;
pub(crate) const DEFAULT_PAGE_SIZE: i32 = 1000;

pub(crate) struct Core {
    pub(crate) driver: DriverSession,
    pub(crate) cfg: Resolved,
    pub(crate) lwt_policy: Arc<dyn LoadBalancingPolicy>,
    stmts: OnceCell<Statements>,
}

type Pk<'a> = (&'a str, Uuid, &'a str);

fn pk(key: &StreamKey) -> Pk<'_> {
    (&key.bounded_context, Uuid::from_bytes(key.aggregate_id), &key.aggregate_type)
}

fn opt_str(present: bool, s: &str) -> Option<&str> {
    present.then_some(s)
}

/// A row of which only the version and the event id were read (a missing id reads as nil).
fn id_row(version: i32, id: Option<Uuid>) -> EventRow {
    EventRow {
        version,
        event_id: id.map(|u| *u.as_bytes()).unwrap_or([0; 16]),
        event_type: String::new(),
        has_data: false,
        data: String::new(),
        has_metadata: false,
        metadata: String::new(),
        timestamp_ms: 0,
    }
}

/// Values of one statement of the append batch.
pub(crate) enum AppendValues<'a> {
    Head((i32, &'a str, Uuid, &'a str, Option<i32>)),
    Row((&'a str, Uuid, &'a str, i32, Uuid, &'a str, MaybeUnset<&'a str>, MaybeUnset<&'a str>, CqlTimestamp)),
}

impl SerializeRow for AppendValues<'_> {
    fn serialize(&self, ctx: &RowSerializationContext<'_>, writer: &mut RowWriter) -> Result<(), SerializationError> {
        match self {
            AppendValues::Head(v) => v.serialize(ctx, writer),
            AppendValues::Row(v) => v.serialize(ctx, writer),
        }
    }
    fn is_empty(&self) -> bool {
        false
    }
}

type EventTuple<'a> = (i32, Option<Uuid>, Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<CqlTimestamp>);

fn event_rows(result: QueryResult) -> Result<Vec<EventRow>, BridgeError> {
    let rows = result.into_rows_result().map_err(|e| internal(format!("read: {e}")))?;
    let iter = rows.rows::<EventTuple>().map_err(|e| internal(format!("read: {e}")))?;
    let mut out = Vec::with_capacity(rows.rows_num());
    for r in iter {
        let (version, id, ty, data, meta, ts) = r.map_err(|e| internal(format!("read: {e}")))?;
        out.push(EventRow {
            version,
            event_id: id.map(|u| *u.as_bytes()).unwrap_or([0; 16]),
            event_type: ty.unwrap_or("").to_string(),
            has_data: data.is_some(),
            data: data.unwrap_or("").to_string(),
            has_metadata: meta.is_some(),
            metadata: meta.unwrap_or("").to_string(),
            timestamp_ms: ts.map(|t| t.0).unwrap_or(0),
        });
    }
    Ok(out)
}

/// Rows of the serial range read: version and event id only.
fn id_rows(result: QueryResult) -> Result<Vec<EventRow>, BridgeError> {
    let rows = result.into_rows_result().map_err(|e| internal(format!("serial read: {e}")))?;
    let iter = rows.rows::<(i32, Option<Uuid>)>().map_err(|e| internal(format!("serial read: {e}")))?;
    let mut out = Vec::with_capacity(rows.rows_num());
    for r in iter {
        let (version, id) = r.map_err(|e| internal(format!("serial read: {e}")))?;
        out.push(id_row(version, id));
    }
    Ok(out)
}

fn empty_slice() -> StreamSlice {
    StreamSlice { has_stream_version: false, stream_version: 0, has_max_version: false, max_version: 0, events: Vec::new() }
}

/// A conditional write's result could not be decoded: it did execute.
fn undecodable(e: BridgeError) -> BridgeError {
    err(ErrorKind::OutcomeUnknown, format!("could not decode the conditional result: {}", e.message))
}

impl Core {
    pub(crate) fn new(driver: DriverSession, cfg: Resolved, lwt_policy: Arc<dyn LoadBalancingPolicy>) -> Self {
        Core { driver, cfg, lwt_policy, stmts: OnceCell::new() }
    }

    /// The prepared statements, prepared on first use (a failure is retried
    /// on the next call).
    pub(crate) async fn stmts(&self) -> Result<&Statements, BridgeError> {
        self.stmts
            .get_or_try_init(|| Statements::prepare_all(&self.driver, &self.cfg, self.lwt_policy.clone()))
            .await
    }

    pub(crate) async fn execute_schema(&self, cql: String) -> Result<(), BridgeError> {
        let mut st = Statement::new(cql);
        st.set_request_timeout(Some(self.cfg.schema_agreement_timeout.max(self.cfg.request_timeout)));
        self.driver
            .query_unpaged(st, ())
            .await
            .map(|_| ())
            .map_err(|e| from_execution("schema statement", &e, Effect::Write))
    }

    pub(crate) async fn append(
        &self,
        key: StreamKey,
        expected: Option<i32>,
        new_head: i32,
        rows: Vec<EventRow>,
    ) -> Result<AppendOutcome, BridgeError> {
        if rows.is_empty() {
            return Err(invalid("append of zero events"));
        }
        let st = self.stmts().await?;
        let batch = st.append_batch(rows.len());
        let (bc, id, at) = pk(&key);
        let mut values = Vec::with_capacity(rows.len() + 1);
        values.push(AppendValues::Head((new_head, bc, id, at, expected)));
        for r in &rows {
            values.push(row_values(&key, r));
        }
        let result = self.driver.batch(&batch, values).await.map_err(|e| from_execution("append", &e, Effect::Write))?;
        let view = decode_cas_result(result).map_err(undecodable)?;
        if view.applied {
            // ScyllaDB echoes old values even when applied, Cassandra does
            // not: report nothing but `applied` either way.
            return Ok(AppendOutcome { applied: true, has_stream_version: false, stream_version: 0, existing: Vec::new() });
        }
        Ok(AppendOutcome {
            applied: false,
            has_stream_version: view.stream_version.is_some(),
            stream_version: view.stream_version.unwrap_or(0),
            existing: view.existing,
        })
    }

    pub(crate) async fn head(&self, key: &StreamKey, serial: bool) -> Result<StreamSlice, BridgeError> {
        let st = self.stmts().await?;
        let stmt = if serial { &st.head_serial } else { &st.head };
        let result =
            self.driver.execute_unpaged(stmt, pk(key)).await.map_err(|e| from_execution("read head", &e, Effect::Read))?;
        let rows = result.into_rows_result().map_err(|e| internal(format!("read head: {e}")))?;
        let first = rows
            .maybe_first_row::<(Option<i32>, Option<i32>)>()
            .map_err(|e| internal(format!("read head: {e}")))?;
        let mut slice = empty_slice();
        if let Some((sv, max)) = first {
            slice.has_stream_version = sv.is_some();
            slice.stream_version = sv.unwrap_or(0);
            slice.has_max_version = max.is_some();
            slice.max_version = max.unwrap_or(0);
        }
        Ok(slice)
    }

    /// SERIAL head, then SERIAL rows in [from, to] (two Paxos reads, in this
    /// order, so the rows are at least as new as the head). The rows carry
    /// their version and event id only.
    pub(crate) async fn serial_read(&self, key: StreamKey, from: i32, to: i32) -> Result<StreamSlice, BridgeError> {
        let mut slice = self.head(&key, true).await?;
        if from <= to {
            let st = self.stmts().await?;
            let (bc, id, at) = pk(&key);
            let result = self
                .driver
                .execute_unpaged(&st.range_serial, (bc, id, at, from, to))
                .await
                .map_err(|e| from_execution("serial read", &e, Effect::Read))?;
            slice.events = id_rows(result)?;
        }
        Ok(slice)
    }

    /// One SERIAL read of the head and the version and id of the last `count`
    /// events (ascending): what an "any" append needs to place itself and to
    /// recognise its own retry.
    pub(crate) async fn serial_tail(&self, key: StreamKey, count: i32) -> Result<StreamSlice, BridgeError> {
        if count < 1 {
            return Err(invalid("serial tail read of fewer than one event"));
        }
        let st = self.stmts().await?;
        let (bc, id, at) = pk(&key);
        let result = self
            .driver
            .execute_unpaged(&st.tail_serial, (bc, id, at, count))
            .await
            .map_err(|e| from_execution("serial tail read", &e, Effect::Read))?;
        let rows = result.into_rows_result().map_err(|e| internal(format!("serial tail read: {e}")))?;
        let iter = rows
            .rows::<(Option<i32>, i32, Option<Uuid>)>()
            .map_err(|e| internal(format!("serial tail read: {e}")))?;
        let mut slice = empty_slice();
        for r in iter {
            let (sv, version, id) = r.map_err(|e| internal(format!("serial tail read: {e}")))?;
            if !slice.has_max_version {
                slice.has_stream_version = sv.is_some();
                slice.stream_version = sv.unwrap_or(0);
                slice.has_max_version = true;
                slice.max_version = version;
            }
            slice.events.push(id_row(version, id));
        }
        slice.events.reverse();
        Ok(slice)
    }

    /// One page of a cursor read. Returns the rows and the next paging state
    /// (None when exhausted).
    pub(crate) async fn read_page(
        &self,
        spec: &ReadSpec,
        paging: PagingState,
    ) -> Result<(Vec<EventRow>, Option<PagingState>), BridgeError> {
        let st = self.stmts().await?;
        let mut stmt = if spec.descending { st.read_desc.clone() } else { st.read_asc.clone() };
        stmt.set_page_size(spec.page_size);
        let (bc, id, at) = pk(&spec.key);
        let (result, next) = self
            .driver
            .execute_single_page(&stmt, (bc, id, at, spec.from, spec.to), paging)
            .await
            .map_err(|e| from_execution("read", &e, Effect::Read))?;
        let rows = event_rows(result)?;
        let next = match next {
            PagingStateResponse::HasMorePages { state } => Some(state),
            PagingStateResponse::NoMorePages => None,
        };
        Ok((rows, next))
    }

    pub(crate) async fn load_snapshot(&self, key: StreamKey) -> Result<SnapshotLoad, BridgeError> {
        let st = self.stmts().await?;
        let result = self
            .driver
            .execute_unpaged(&st.snapshot_load, pk(&key))
            .await
            .map_err(|e| from_execution("load snapshot", &e, Effect::Read))?;
        let rows = result.into_rows_result().map_err(|e| internal(format!("load snapshot: {e}")))?;
        let first = rows
            .maybe_first_row::<(Option<&str>, Option<i32>, Option<CqlTimestamp>, Option<&str>)>()
            .map_err(|e| internal(format!("load snapshot: {e}")))?;
        let mut out = SnapshotLoad {
            found: false,
            snapshot: Snapshot {
                version: 0,
                has_data: false,
                data: String::new(),
                has_metadata: false,
                metadata: String::new(),
                timestamp_ms: 0,
            },
        };
        if let Some((data, Some(version), ts, meta)) = first {
            out.found = true;
            out.snapshot = Snapshot {
                version,
                has_data: data.is_some(),
                data: data.unwrap_or("").to_string(),
                has_metadata: meta.is_some(),
                metadata: meta.unwrap_or("").to_string(),
                timestamp_ms: ts.map(|t| t.0).unwrap_or(0),
            };
        }
        Ok(out)
    }

    async fn cas(&self, what: &str, r: Result<QueryResult, scylla::errors::ExecutionError>) -> Result<CasView, BridgeError> {
        let result = r.map_err(|e| from_execution(what, &e, Effect::Write))?;
        decode_cas_result(result).map_err(undecodable)
    }

    pub(crate) async fn save_snapshot(&self, key: StreamKey, snap: Snapshot) -> Result<SnapshotSaveOutcome, BridgeError> {
        let st = self.stmts().await?;
        let (bc, id, at) = pk(&key);
        let data = opt_str(snap.has_data, &snap.data);
        let meta = opt_str(snap.has_metadata, &snap.metadata);
        let ts = CqlTimestamp(snap.timestamp_ms);
        let stored = SnapshotSaveOutcome { stored: true, existing_version: snap.version };
        let r = self.driver.execute_unpaged(&st.snapshot_insert, (bc, id, at, data, snap.version, ts, meta)).await;
        let mut view = self.cas("save snapshot", r).await?;
        for _ in 0..SNAPSHOT_SAVE_ATTEMPTS {
            if view.applied {
                return Ok(stored);
            }
            let r = match view.snapshot_version {
                Some(v) if v >= snap.version => return Ok(SnapshotSaveOutcome { stored: false, existing_version: v }),
                Some(_) => {
                    self.driver
                        .execute_unpaged(&st.snapshot_update_older, (data, snap.version, ts, meta, bc, id, at, snap.version))
                        .await
                }
                None => self.driver.execute_unpaged(&st.snapshot_update_null, (data, snap.version, ts, meta, bc, id, at)).await,
            };
            view = self.cas("save snapshot", r).await?;
        }
        if view.applied {
            return Ok(stored);
        }
        Err(err(ErrorKind::Unavailable, "save snapshot: too much contention on the snapshot row; nothing was written"))
    }
}

/// What a cursor reads.
pub(crate) struct ReadSpec {
    pub(crate) key: StreamKey,
    pub(crate) from: i32,
    pub(crate) to: i32,
    pub(crate) descending: bool,
    pub(crate) page_size: i32,
}

#[cfg(test)]
pub(crate) fn test_values_head(new_head: i32, key: &StreamKey, expected: Option<i32>) -> AppendValues<'_> {
    let (bc, id, at) = pk(key);
    AppendValues::Head((new_head, bc, id, at, expected))
}

/// The bound values of one event's INSERT in the append batch. Absent data or metadata is left
/// unset, not bound as null: in a new row both read back as null, but a null in an INSERT
/// writes a tombstone cell, which every later read of the stream has to step over.
pub(crate) fn row_values<'a>(key: &'a StreamKey, r: &'a EventRow) -> AppendValues<'a> {
    let (bc, id, at) = pk(key);
    AppendValues::Row((
        bc,
        id,
        at,
        r.version,
        Uuid::from_bytes(r.event_id),
        &r.event_type,
        MaybeUnset::from_option(opt_str(r.has_data, &r.data)),
        MaybeUnset::from_option(opt_str(r.has_metadata, &r.metadata)),
        CqlTimestamp(r.timestamp_ms),
    ))
}
