//! The store's operations as async functions on the shared session core.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
use crate::cql::PreparedCache;
use crate::decode::{decode_cas_result, CasView};
use crate::errors::{err, from_execution, internal, invalid};
use crate::ffi::{
    AppendOutcome, AppendShape, BatchFault, BridgeError, ErrorKind, EventRow, Snapshot, SnapshotLoad,
    SnapshotSaveOutcome, StreamKey, StreamSlice,
};
use crate::runtime::Effect;
use crate::statements::Statements;

/// Bounded retries of the never-backwards snapshot save under contention.
const SNAPSHOT_SAVE_ATTEMPTS: usize = 5;
pub(crate) const DEFAULT_PAGE_SIZE: i32 = 1000;
/// Rows a resolving serial read returns beyond the append's own: others' appends since.
const SERIAL_READ_EXTRA_ROWS: i32 = 1000;
/// A resolving serial read that finds the stream shorter, then grown, reads again this often.
const SERIAL_READ_ATTEMPTS: usize = 3;

pub(crate) struct Core {
    pub(crate) driver: DriverSession,
    pub(crate) cfg: Resolved,
    pub(crate) lwt_policy: Arc<dyn LoadBalancingPolicy>,
    stmts: OnceCell<Statements>,
    /// Statements of the generic CQL call (cql.rs), prepared by text.
    pub(crate) cql_cache: PreparedCache,
    batch_faults: Mutex<VecDeque<BatchFault>>,
    batch_faults_armed: AtomicBool,
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

/// The head UPDATE's values: the new head, the partition key, the expected head (None: null).
type HeadValues<'a> = (i32, &'a str, Uuid, &'a str, Option<i32>);

/// One event INSERT's values: the partition key, version, event id, type, data, metadata, time.
type RowValues<'a> =
    (&'a str, Uuid, &'a str, i32, Uuid, &'a str, MaybeUnset<&'a str>, MaybeUnset<&'a str>, CqlTimestamp);

/// The lifecycle head UPDATE's values: the new head, truncated_before, hard_deleted (unset: left
/// as it is), the partition key, the expected head and truncated_before (None: null).
type LifecycleHeadValues<'a> = (i32, i32, MaybeUnset<bool>, &'a str, Uuid, &'a str, Option<i32>, Option<i32>);

/// The range DELETE's values: the partition key and the first version kept.
type RangeDeleteValues<'a> = (&'a str, Uuid, &'a str, i32);

/// Values of one statement of the append batch or the lifecycle batch.
pub(crate) enum AppendValues<'a> {
    Head(HeadValues<'a>),
    Row(RowValues<'a>),
    LifecycleHead(LifecycleHeadValues<'a>),
    RangeDelete(RangeDeleteValues<'a>),
}

impl SerializeRow for AppendValues<'_> {
    fn serialize(&self, ctx: &RowSerializationContext<'_>, writer: &mut RowWriter) -> Result<(), SerializationError> {
        match self {
            AppendValues::Head(v) => v.serialize(ctx, writer),
            AppendValues::Row(v) => v.serialize(ctx, writer),
            AppendValues::LifecycleHead(v) => v.serialize(ctx, writer),
            AppendValues::RangeDelete(v) => v.serialize(ctx, writer),
        }
    }
    fn is_empty(&self) -> bool {
        false
    }
}

type EventTuple<'a> =
    (i32, Option<Uuid>, Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<CqlTimestamp>, Option<i32>);

/// The rows of a read, without those below the stream's truncated_before (a static column, the
/// same in every row): a truncate removes them in its own batch, and this keeps them out of
/// reads even where that removal did not take (rows written later at client timestamps).
fn event_rows(result: QueryResult) -> Result<Vec<EventRow>, BridgeError> {
    let rows = result.into_rows_result().map_err(|e| internal(format!("read: {e}")))?;
    let iter = rows.rows::<EventTuple>().map_err(|e| internal(format!("read: {e}")))?;
    let mut out = Vec::with_capacity(rows.rows_num());
    for r in iter {
        let (version, id, ty, data, meta, ts, before) = r.map_err(|e| internal(format!("read: {e}")))?;
        if version < before.unwrap_or(1) {
            continue;
        }
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

/// Rows of (stream_version, event_version, event_id) as one slice: the static head column (the
/// same in every row), the highest version among the rows, and the rows in the order read.
fn head_and_ids(result: QueryResult, what: &str) -> Result<StreamSlice, BridgeError> {
    let rows = result.into_rows_result().map_err(|e| internal(format!("{what}: {e}")))?;
    let iter = rows
        .rows::<(Option<i32>, i32, Option<Uuid>, Option<bool>, Option<i32>)>()
        .map_err(|e| internal(format!("{what}: {e}")))?;
    let mut slice = empty_slice();
    for r in iter {
        let (sv, version, id, deleted, before) = r.map_err(|e| internal(format!("{what}: {e}")))?;
        slice.has_stream_version = sv.is_some();
        slice.stream_version = sv.unwrap_or(0);
        set_lifecycle(&mut slice, deleted, before);
        if !slice.has_max_version || version > slice.max_version {
            slice.has_max_version = true;
            slice.max_version = version;
        }
        slice.events.push(id_row(version, id));
    }
    Ok(slice)
}

fn empty_slice() -> StreamSlice {
    StreamSlice {
        has_stream_version: false,
        stream_version: 0,
        has_max_version: false,
        max_version: 0,
        hard_deleted: false,
        has_truncated_before: false,
        truncated_before: 0,
        events: Vec::new(),
    }
}

/// The static lifecycle columns of a slice's partition.
fn set_lifecycle(slice: &mut StreamSlice, deleted: Option<bool>, before: Option<i32>) {
    slice.hard_deleted = deleted == Some(true);
    slice.has_truncated_before = before.is_some();
    slice.truncated_before = before.unwrap_or(0);
}

/// ScyllaDB echoes old values even when applied, Cassandra does not: an applied batch reports
/// nothing but `applied` either way.
fn applied_outcome() -> AppendOutcome {
    AppendOutcome {
        applied: true,
        has_stream_version: false,
        stream_version: 0,
        hard_deleted: false,
        existing: Vec::new(),
    }
}

fn refused_outcome(view: CasView) -> AppendOutcome {
    AppendOutcome {
        applied: false,
        has_stream_version: view.stream_version.is_some(),
        stream_version: view.stream_version.unwrap_or(0),
        hard_deleted: view.hard_deleted,
        existing: view.existing,
    }
}

/// A conditional write's result could not be decoded: it did execute.
fn undecodable(e: BridgeError) -> BridgeError {
    err(ErrorKind::OutcomeUnknown, format!("could not decode the conditional result: {}", e.message))
}

impl Core {
    pub(crate) fn new(driver: DriverSession, cfg: Resolved, lwt_policy: Arc<dyn LoadBalancingPolicy>) -> Self {
        Core {
            driver,
            cfg,
            lwt_policy,
            stmts: OnceCell::new(),
            cql_cache: PreparedCache::default(),
            batch_faults: Mutex::new(VecDeque::new()),
            batch_faults_armed: AtomicBool::new(false),
        }
    }

    pub(crate) fn inject_batch_faults(&self, faults: Vec<BatchFault>) {
        let mut queue = self.batch_faults.lock().unwrap_or_else(|p| p.into_inner());
        queue.extend(faults);
        self.batch_faults_armed.store(!queue.is_empty(), Ordering::Release);
    }

    fn next_batch_fault(&self) -> Option<BatchFault> {
        if !self.batch_faults_armed.load(Ordering::Acquire) {
            return None;
        }
        let mut queue = self.batch_faults.lock().unwrap_or_else(|p| p.into_inner());
        let fault = queue.pop_front();
        self.batch_faults_armed.store(!queue.is_empty(), Ordering::Release);
        fault
    }

    /// The prepared statements, prepared on first use (a failure is retried
    /// on the next call).
    pub(crate) async fn stmts(&self) -> Result<&Statements, BridgeError> {
        self.stmts.get_or_try_init(|| Statements::prepare_all(&self.driver, &self.cfg, self.lwt_policy.clone())).await
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
        shape: AppendShape,
        expected: Option<i32>,
        new_head: i32,
        rows: Vec<EventRow>,
    ) -> Result<AppendOutcome, BridgeError> {
        if rows.is_empty() {
            return Err(invalid("append of zero events"));
        }
        let fault = self.next_batch_fault();
        if let Some(BatchFault { apply: false, kind }) = fault {
            return Err(err(kind, "injected fault: the append batch was not sent"));
        }
        let st = self.stmts().await?;
        let batch = st.append_batch(shape, rows.len())?;
        let (bc, id, at) = pk(&key);
        let mut values = Vec::with_capacity(rows.len() + 1);
        if shape != AppendShape::Seed {
            values.push(AppendValues::Head((new_head, bc, id, at, expected)));
        }
        for r in &rows {
            values.push(row_values(&key, r));
        }
        let result =
            self.driver.batch(&batch, values).await.map_err(|e| from_execution("append", &e, Effect::Write))?;
        if let Some(BatchFault { kind, .. }) = fault {
            return Err(err(kind, "injected fault: the append batch was sent, its answer replaced"));
        }
        let view = decode_cas_result(result).map_err(undecodable)?;
        if view.applied {
            return Ok(applied_outcome());
        }
        Ok(refused_outcome(view))
    }

    /// The lifecycle batch (statements.rs): its head UPDATE, the system event's INSERT and the
    /// range DELETE below `before`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn lifecycle(
        &self,
        key: StreamKey,
        expected: Option<i32>,
        new_head: i32,
        old_before: Option<i32>,
        before: i32,
        hard_delete: bool,
        row: EventRow,
    ) -> Result<AppendOutcome, BridgeError> {
        if before < 1 || before > new_head {
            return Err(invalid(format!("lifecycle batch: before {before} outside 1..{new_head}")));
        }
        let fault = self.next_batch_fault();
        if let Some(BatchFault { apply: false, kind }) = fault {
            return Err(err(kind, "injected fault: the lifecycle batch was not sent"));
        }
        let st = self.stmts().await?;
        let (bc, id, at) = pk(&key);
        let hard = if hard_delete { MaybeUnset::Set(true) } else { MaybeUnset::Unset };
        let values = vec![
            AppendValues::LifecycleHead((new_head, before, hard, bc, id, at, expected, old_before)),
            row_values(&key, &row),
            AppendValues::RangeDelete((bc, id, at, before)),
        ];
        let result = self
            .driver
            .batch(&st.lifecycle, values)
            .await
            .map_err(|e| from_execution("lifecycle change", &e, Effect::Write))?;
        if let Some(BatchFault { kind, .. }) = fault {
            return Err(err(kind, "injected fault: the lifecycle batch was sent, its answer replaced"));
        }
        let view = decode_cas_result(result).map_err(undecodable)?;
        if view.applied {
            return Ok(applied_outcome());
        }
        Ok(refused_outcome(view))
    }

    pub(crate) async fn head(&self, key: &StreamKey, serial: bool) -> Result<StreamSlice, BridgeError> {
        let st = self.stmts().await?;
        let stmt = if serial { &st.head_serial } else { &st.head };
        let result = self
            .driver
            .execute_unpaged(stmt, pk(key))
            .await
            .map_err(|e| from_execution("read head", &e, Effect::Read))?;
        let rows = result.into_rows_result().map_err(|e| internal(format!("read head: {e}")))?;
        let first = rows
            .maybe_first_row::<(Option<i32>, Option<i32>, Option<bool>, Option<i32>)>()
            .map_err(|e| internal(format!("read head: {e}")))?;
        let mut slice = empty_slice();
        if let Some((sv, max, deleted, before)) = first {
            slice.has_stream_version = sv.is_some();
            slice.stream_version = sv.unwrap_or(0);
            set_lifecycle(&mut slice, deleted, before);
            slice.has_max_version = max.is_some();
            slice.max_version = max.unwrap_or(0);
        }
        Ok(slice)
    }

    /// One consistent SERIAL view for deciding an append after version `from - 1`: the head and
    /// the versions and ids of the rows in [from, to]. It is one read of the head column and the
    /// rows from `from - 1` on, so the head it reports is never older than the rows. When no row
    /// at or after `from - 1` exists, the stream is shorter: a SERIAL tail read gives its head,
    /// and if that read finds the stream grown to `from - 1` meanwhile, the view is read again.
    pub(crate) async fn serial_read(&self, key: StreamKey, from: i32, to: i32) -> Result<StreamSlice, BridgeError> {
        if from < 1 || to < from {
            return Err(invalid(format!("serial read of versions {from}..{to}")));
        }
        let st = self.stmts().await?;
        let (bc, id, at) = pk(&key);
        let lowest = (from - 1).max(1);
        // The rows of the append, the one before it, and what others appended after it; the
        // head column of a stream this library wrote is exact even when the limit cuts the rows.
        let limit = (to - lowest + 1).saturating_add(SERIAL_READ_EXTRA_ROWS);
        for _ in 0..SERIAL_READ_ATTEMPTS {
            let result = self
                .driver
                .execute_unpaged(&st.range_serial, (bc, id, at, lowest, limit))
                .await
                .map_err(|e| from_execution("serial read", &e, Effect::Read))?;
            let mut slice = head_and_ids(result, "serial read")?;
            if slice.has_max_version || lowest == 1 {
                slice.events.retain(|r| r.version >= from && r.version <= to);
                return Ok(slice);
            }
            let tail = self.serial_tail(key.clone(), 1).await?;
            if !tail.has_max_version || tail.max_version < lowest {
                return Ok(StreamSlice { events: Vec::new(), ..tail });
            }
        }
        Err(err(ErrorKind::Unavailable, "serial read: the stream kept growing under the read"))
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
        let mut slice = head_and_ids(result, "serial tail read")?;
        slice.events.reverse();
        Ok(slice)
    }

    /// One page of a cursor read. Returns the rows and the next paging state
    /// (None when exhausted).
    pub(crate) async fn read_page(
        &self,
        spec: &ReadSpec,
        page_size: i32,
        paging: PagingState,
    ) -> Result<(Vec<EventRow>, Option<PagingState>), BridgeError> {
        let st = self.stmts().await?;
        let mut stmt = if spec.descending { st.read_desc.clone() } else { st.read_asc.clone() };
        stmt.set_page_size(page_size);
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
                has_timestamp: false,
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
                has_timestamp: ts.is_some(),
                timestamp_ms: ts.map(|t| t.0).unwrap_or(0),
            };
        }
        Ok(out)
    }

    async fn cas(
        &self,
        what: &str,
        r: Result<QueryResult, scylla::errors::ExecutionError>,
    ) -> Result<CasView, BridgeError> {
        let result = r.map_err(|e| from_execution(what, &e, Effect::Write))?;
        decode_cas_result(result).map_err(undecodable)
    }

    pub(crate) async fn save_snapshot(
        &self,
        key: StreamKey,
        snap: Snapshot,
        stream_head: i32,
    ) -> Result<SnapshotSaveOutcome, BridgeError> {
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
                // Above the head: restored from a backup taken at another time than the events'.
                Some(v) if v > stream_head => {
                    self.driver
                        .execute_unpaged(&st.snapshot_update_exact, (data, snap.version, ts, meta, bc, id, at, v))
                        .await
                }
                Some(v) if v >= snap.version => return Ok(SnapshotSaveOutcome { stored: false, existing_version: v }),
                Some(_) => {
                    self.driver
                        .execute_unpaged(
                            &st.snapshot_update_older,
                            (data, snap.version, ts, meta, bc, id, at, snap.version),
                        )
                        .await
                }
                None => {
                    self.driver
                        .execute_unpaged(&st.snapshot_update_null, (data, snap.version, ts, meta, bc, id, at))
                        .await
                }
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
