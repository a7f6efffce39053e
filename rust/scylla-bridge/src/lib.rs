//! scylla-eventstore's bridge to the ScyllaDB Rust driver.
//!
//! A thin leaf: C++ (src/scylla/) calls the functions of the `ffi` module;
//! each asynchronous call takes a C++ completion object and completes it
//! exactly once from a tokio worker thread (see include/completion.h).
//! Only the operations the event store needs cross the bridge.

mod config;
mod cql;
mod decode;
mod errors;
#[cfg(test)]
mod live_tests;
mod markers;
mod ops;
mod routing;
mod runtime;
mod session;
mod statements;

pub use session::{ReadCursor, Session};

#[cxx::bridge(namespace = "eventstore::bridge")]
pub mod ffi {
    /// What kind of failure a request ended with.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[repr(u8)]
    enum ErrorKind {
        /// Nothing was written; the cluster could not serve the request
        /// (no connection, Unavailable, Overloaded, read timeout...). Retryable.
        Unavailable = 1,
        /// A write may or may not have been applied (CAS write timeout, client
        /// timeout or broken connection after sending). Resolve with a serial read.
        OutcomeUnknown = 2,
        /// Bad credentials or missing permission.
        Unauthorized = 3,
        /// Bad configuration, invalid query or argument; retrying will not help.
        InvalidArgument = 4,
        /// Anything else, including a panic inside the bridge.
        Internal = 5,
        /// The session was closed before the request ran; nothing was written.
        Closed = 6,
    }

    /// The statements of one append batch. `Store` is the store's: the static column's
    /// condition and `IF NOT EXISTS` on every event row. `Seed` is the seed library's, for the
    /// benchmark only (`eventstore bench --raw --shape seed`): `IF NOT EXISTS` per row and no
    /// static column, which checks no expected version (it writes gaps when ahead).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[repr(u8)]
    enum AppendShape {
        Store = 0,
        Seed = 1,
    }

    /// The server's own error behind a failure, for the few the C++ side acts on (a schema
    /// statement refused, a table or keyspace missing); None when the failure is not a server
    /// error (a timeout, a broken connection, the bridge's own checks).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[repr(u8)]
    enum ServerError {
        None = 0,
        /// A statement the server cannot parse, or an unknown property (Cassandra refuses
        /// ScyllaDB's `tablets` keyspace option so).
        SyntaxError = 1,
        /// An invalid query: a table, keyspace or column that does not exist, or a column
        /// that already exists.
        Invalid = 2,
        /// A schema statement refused for its configuration.
        ConfigError = 3,
        /// CREATE of a keyspace or table that exists (without IF NOT EXISTS).
        AlreadyExists = 4,
        /// Any other server error.
        Other = 5,
    }

    #[derive(Debug, Clone)]
    struct BridgeError {
        kind: ErrorKind,
        server_error: ServerError,
        message: String,
    }

    /// Connection settings. Empty strings / zeros mean "default".
    /// Debug output is implemented by hand and never shows the password.
    #[derive(Default)]
    struct SessionConfig {
        /// "host", "host:port", "[v6]:port"; default port 9042.
        hosts: Vec<String>,
        /// Empty = no authentication.
        username: String,
        password: String,
        /// Preferred (local) data centre; empty = none.
        local_dc: String,
        /// Keyspace holding event_store / aggregate_snapshot; default "event_sourcing".
        keyspace: String,
        /// false: QUORUM / SERIAL (default); true: LOCAL_QUORUM / LOCAL_SERIAL.
        local_consistency: bool,
        /// Per-request client timeout; 0 = 5000 ms.
        request_timeout_ms: u32,
        /// Client timeout of the SERIAL reads that resolve an append whose
        /// outcome is unknown; 0 = request_timeout_ms.
        resolve_timeout_ms: u32,
        /// TCP connect timeout; 0 = 5000 ms.
        connect_timeout_ms: u32,
        /// Schema agreement wait after DDL; 0 = 60000 ms.
        schema_agreement_timeout_ms: u32,
        /// tokio worker threads; 0 = 2.
        worker_threads: u32,
        tls_enabled: bool,
        /// PEM file with the CA certificate(s) to trust (required with TLS).
        tls_ca_file: String,
        /// Optional PEM client certificate chain and private key (both or neither).
        tls_cert_file: String,
        tls_key_file: String,
    }

    /// A stream's partition key.
    #[derive(Debug, Clone)]
    struct StreamKey {
        bounded_context: String,
        aggregate_type: String,
        aggregate_id: [u8; 16],
    }

    /// One row of event_store. `has_data` / `has_metadata` false = CQL null.
    #[derive(Debug, Clone)]
    struct EventRow {
        version: i32,
        event_id: [u8; 16],
        event_type: String,
        has_data: bool,
        data: String,
        has_metadata: bool,
        metadata: String,
        /// event_timestamp in milliseconds since the epoch (0 if null).
        timestamp_ms: i64,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct ExistingEvent {
        version: i32,
        event_id: [u8; 16],
    }

    /// Result of append_batch and lifecycle_batch. When `applied` is false: the observed static
    /// `stream_version` (absent = null), whether the stream is hard-deleted (static
    /// `hard_deleted` true), and the rows that already existed at the versions the batch tried
    /// to insert.
    #[derive(Debug, Clone)]
    struct AppendOutcome {
        applied: bool,
        has_stream_version: bool,
        stream_version: i32,
        hard_deleted: bool,
        existing: Vec<ExistingEvent>,
    }

    /// Head of a stream plus (for serial_read) the rows of a version range.
    #[derive(Debug, Clone)]
    struct StreamSlice {
        /// The static stream_version column (null for a missing stream or one
        /// written without it, e.g. by the seed library).
        has_stream_version: bool,
        stream_version: i32,
        /// The highest event_version in the partition.
        has_max_version: bool,
        max_version: i32,
        /// The static hard_deleted column is true: the stream was hard-deleted.
        hard_deleted: bool,
        /// The static truncated_before column: the first version reads may return (null: 1).
        has_truncated_before: bool,
        truncated_before: i32,
        events: Vec<EventRow>,
    }

    /// A fault a test injects into an append batch (Session::inject_batch_faults).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct BatchFault {
        /// true: the batch is sent and applied, and only its answer is replaced by the
        /// error (a lost acknowledgement); false: the batch is never sent.
        apply: bool,
        kind: ErrorKind,
    }

    #[derive(Debug, Clone)]
    struct Snapshot {
        version: i32,
        has_data: bool,
        data: String,
        has_metadata: bool,
        metadata: String,
        /// false: snapshot_timestamp is null (timestamp_ms is then 0).
        has_timestamp: bool,
        timestamp_ms: i64,
    }

    #[derive(Debug, Clone)]
    struct SnapshotLoad {
        found: bool,
        snapshot: Snapshot,
    }

    /// stored = true: our snapshot is now the stored one.
    /// stored = false: a snapshot with version `existing_version` >= ours is kept.
    #[derive(Debug, Clone, Copy)]
    struct SnapshotSaveOutcome {
        stored: bool,
        existing_version: i32,
    }

    /// The type of a generic CQL value (Session::execute_cql).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[repr(u8)]
    enum CqlKind {
        Null = 0,
        /// text (also read from ascii columns): `text`.
        Text = 1,
        /// int: `number`, within i32.
        Int = 2,
        /// bigint (also read from counter columns): `number`.
        BigInt = 3,
        /// uuid, or timeuuid (bound to and read from timeuuid columns alike): `uuid`.
        Uuid = 4,
        /// timestamp, in milliseconds since the epoch: `number`.
        Timestamp = 5,
        /// boolean: `boolean`.
        Boolean = 6,
    }

    /// One bound value, or one column of a result row: the field `kind` names is set.
    #[derive(Debug, Clone)]
    struct CqlValue {
        kind: CqlKind,
        text: String,
        number: i64,
        uuid: [u8; 16],
        boolean: bool,
    }

    /// One statement: CQL text with `?` markers (prepared once per session and text) and a
    /// value for each marker, in order.
    #[derive(Debug, Clone)]
    struct CqlStatement {
        cql: String,
        values: Vec<CqlValue>,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[repr(u8)]
    enum CqlConsistency {
        /// QUORUM, or LOCAL_QUORUM with local_consistency; conditional writes use SERIAL or
        /// LOCAL_SERIAL for their Paxos phase.
        Quorum = 0,
        /// SERIAL / LOCAL_SERIAL: a read that first completes any Paxos round in progress.
        Serial = 1,
        /// ONE, or LOCAL_ONE with local_consistency.
        One = 2,
    }

    /// A generic request: one statement (batch false) or one LOGGED batch of statements
    /// (batch true; conditional if any statement has IF, and then on one partition).
    #[derive(Debug, Clone)]
    struct CqlRequest {
        statements: Vec<CqlStatement>,
        batch: bool,
        consistency: CqlConsistency,
        /// Whether running it twice is harmless: the driver may retry it, and a timeout is
        /// Unavailable. Ignored (false) for conditional statements and batches.
        idempotent: bool,
    }

    /// The result's rows, one after the other: `row_count` rows of `columns.len()` values.
    /// A conditional statement or batch has the "[applied]" column (boolean) first.
    #[derive(Debug, Clone)]
    struct CqlResult {
        columns: Vec<String>,
        values: Vec<CqlValue>,
        row_count: usize,
    }

    /// One row of feed_markers (markers.rs; src/scylla/feed_markers.h says what it means).
    #[derive(Debug, Clone)]
    struct FeedMarker {
        bounded_context: String,
        bucket: i64,
        shard: i32,
        marker_id: [u8; 16],
        aggregate_type: String,
        aggregate_id: [u8; 16],
        first_event_id: [u8; 16],
        event_count: i32,
    }

    /// One host of the cluster as the driver knows it (Session::host_states).
    #[derive(Debug, Clone)]
    struct HostState {
        /// "ip:port" the driver connects to.
        address: String,
        /// Empty when the driver does not know it.
        datacenter: String,
        rack: String,
        /// The load balancing may use it (false: filtered out by the host filter).
        enabled: bool,
        /// The driver holds at least one open connection to it.
        connected: bool,
    }

    extern "Rust" {
        type Session;
        type ReadCursor;

        /// Starts a runtime and connects. Completes with a Session or an error
        /// (Unavailable / Unauthorized / InvalidArgument / Internal).
        fn connect(config: SessionConfig, done: UniquePtr<ConnectCompletion>);

        /// The cluster's hosts as the driver knows them now; no I/O, answers at once.
        fn host_states(self: &Session) -> Vec<HostState>;

        /// Runs one unprepared CQL statement (DDL) and waits for schema agreement.
        fn execute_schema(self: &Session, cql: &str, done: UniquePtr<VoidCompletion>);

        /// Prepares every statement now (otherwise done lazily on first use).
        fn prepare_statements(self: &Session, done: UniquePtr<VoidCompletion>);

        /// One conditional batch on the stream's partition, of the statements `shape` names:
        /// UPDATE stream_version = new_head IF stream_version = expected AND hard_deleted = null
        /// (has_expected false: IF stream_version = null ...) + one
        /// INSERT ... IF NOT EXISTS per row (AppendShape::Seed: only the INSERTs).
        #[allow(clippy::too_many_arguments)]
        fn append_batch(
            self: &Session,
            key: &StreamKey,
            shape: AppendShape,
            has_expected: bool,
            expected: i32,
            new_head: i32,
            rows: Vec<EventRow>,
            done: UniquePtr<AppendCompletion>,
        );

        /// The conditional batch of a lifecycle change (truncate, delete): on the stream's
        /// partition, UPDATE stream_version = new_head, truncated_before = before (and
        /// hard_deleted = true when `hard_delete`) IF stream_version = expected AND
        /// truncated_before = old_before AND hard_deleted = null (has_*: false = null),
        /// INSERT `row` (the system event) IF NOT EXISTS, and DELETE the rows with
        /// event_version < before (one range tombstone). before must be 1..new_head.
        #[allow(clippy::too_many_arguments)]
        fn lifecycle_batch(
            self: &Session,
            key: &StreamKey,
            has_expected: bool,
            expected: i32,
            new_head: i32,
            has_old_before: bool,
            old_before: i32,
            before: i32,
            hard_delete: bool,
            row: EventRow,
            done: UniquePtr<AppendCompletion>,
        );

        /// For tests of the store's fault handling: the next append_batch and lifecycle_batch calls of this
        /// session, one per fault, fail with the fault's kind. Costs nothing when unused.
        fn inject_batch_faults(self: &Session, faults: Vec<BatchFault>);

        /// Head only (static stream_version, hard_deleted, truncated_before and max event_version), at the
        /// configured consistency, or SERIAL when `serial` is true.
        fn read_head(self: &Session, key: &StreamKey, serial: bool, done: UniquePtr<SliceCompletion>);

        /// SERIAL read of the head and of rows with from_version <= version <= to_version
        /// (their version and event_id only; the other fields are empty), with
        /// the resolve timeout.
        fn serial_read(
            self: &Session,
            key: &StreamKey,
            from_version: i32,
            to_version: i32,
            done: UniquePtr<SliceCompletion>,
        );

        /// One SERIAL read (resolve timeout) of the head and of the version and
        /// event_id of the last `count` (>= 1) events, ascending.
        fn serial_tail(self: &Session, key: &StreamKey, count: i32, done: UniquePtr<SliceCompletion>);

        /// A paged read of [from_version, to_version] at the configured consistency.
        /// page_size <= 0 means 1000. No I/O until next_page. Rows below the stream's static
        /// truncated_before are left out (a page may then hold fewer rows, or none, with more).
        fn open_read(
            self: &Session,
            key: &StreamKey,
            from_version: i32,
            to_version: i32,
            descending: bool,
            page_size: i32,
        ) -> Box<ReadCursor>;

        /// Fetches the next page of at most `page_size` rows (<= 0: the cursor's page size).
        /// One page at a time per cursor.
        fn next_page(self: &ReadCursor, page_size: i32, done: UniquePtr<PageCompletion>);

        fn load_snapshot(self: &Session, key: &StreamKey, done: UniquePtr<SnapshotLoadCompletion>);

        /// Runs one statement or one logged batch (see CqlRequest) and answers all rows of
        /// the result, unpaged (use LIMIT). Conditional ones are routed like append_batch.
        /// Errors: InvalidArgument (bad CQL, a value of the wrong type), Unavailable,
        /// Unauthorized, OutcomeUnknown (a write that is not idempotent may have been applied),
        /// Internal (a column of another type than CqlKind's).
        fn execute_cql(self: &Session, request: CqlRequest, done: UniquePtr<CqlCompletion>);

        /// Writes feed markers (markers.rs): one prepared INSERT, or a logged batch of one
        /// partition's, at QUORUM with a TTL, idempotent. Errors: InvalidArgument, Unavailable,
        /// Unauthorized.
        fn write_markers(self: &Session, markers: Vec<FeedMarker>, ttl_seconds: i32, done: UniquePtr<VoidCompletion>);

        /// Never-backwards save: stores `snapshot` unless one with a version
        /// >= snapshot.version is already stored. A stored snapshot whose version is
        /// above `stream_head` (versions the stream does not have) does not count: it is
        /// replaced.
        fn save_snapshot(
            self: &Session,
            key: &StreamKey,
            snapshot: Snapshot,
            stream_head: i32,
            done: UniquePtr<SnapshotSaveCompletion>,
        );
    }

    unsafe extern "C++" {
        include!("eventstore_scylla_bridge/include/completion.h");

        type ConnectCompletion;
        type VoidCompletion;
        type AppendCompletion;
        type SliceCompletion;
        type PageCompletion;
        type SnapshotLoadCompletion;
        type SnapshotSaveCompletion;
        type CqlCompletion;

        #[cxx_name = "on_ok"]
        fn on_connected(self: Pin<&mut ConnectCompletion>, session: Box<Session>);
        #[cxx_name = "on_error"]
        fn on_connect_error(self: Pin<&mut ConnectCompletion>, error: &BridgeError);

        #[cxx_name = "on_ok"]
        fn on_done(self: Pin<&mut VoidCompletion>);
        #[cxx_name = "on_error"]
        fn on_void_error(self: Pin<&mut VoidCompletion>, error: &BridgeError);

        #[cxx_name = "on_ok"]
        fn on_outcome(self: Pin<&mut AppendCompletion>, outcome: AppendOutcome);
        #[cxx_name = "on_error"]
        fn on_append_error(self: Pin<&mut AppendCompletion>, error: &BridgeError);

        #[cxx_name = "on_ok"]
        fn on_slice(self: Pin<&mut SliceCompletion>, slice: StreamSlice);
        #[cxx_name = "on_error"]
        fn on_slice_error(self: Pin<&mut SliceCompletion>, error: &BridgeError);

        #[cxx_name = "on_ok"]
        fn on_page(self: Pin<&mut PageCompletion>, rows: Vec<EventRow>, more: bool);
        #[cxx_name = "on_error"]
        fn on_page_error(self: Pin<&mut PageCompletion>, error: &BridgeError);

        #[cxx_name = "on_ok"]
        fn on_loaded(self: Pin<&mut SnapshotLoadCompletion>, result: SnapshotLoad);
        #[cxx_name = "on_error"]
        fn on_load_error(self: Pin<&mut SnapshotLoadCompletion>, error: &BridgeError);

        #[cxx_name = "on_ok"]
        fn on_saved(self: Pin<&mut SnapshotSaveCompletion>, outcome: SnapshotSaveOutcome);
        #[cxx_name = "on_error"]
        fn on_save_error(self: Pin<&mut SnapshotSaveCompletion>, error: &BridgeError);

        #[cxx_name = "on_ok"]
        fn on_rows(self: Pin<&mut CqlCompletion>, result: CqlResult);
        #[cxx_name = "on_error"]
        fn on_cql_error(self: Pin<&mut CqlCompletion>, error: &BridgeError);
    }
}

// The completion objects are called from tokio worker threads; the C++
// contract (completion.h) requires them to be callable from any thread.
unsafe impl Send for ffi::ConnectCompletion {}
unsafe impl Send for ffi::VoidCompletion {}
unsafe impl Send for ffi::AppendCompletion {}
unsafe impl Send for ffi::SliceCompletion {}
unsafe impl Send for ffi::PageCompletion {}
unsafe impl Send for ffi::SnapshotLoadCompletion {}
unsafe impl Send for ffi::SnapshotSaveCompletion {}
unsafe impl Send for ffi::CqlCompletion {}

use session::connect;

pub use runtime::Completion;
