//! Session and ReadCursor: the objects C++ holds (as rust::Box), and the
//! entry points that turn each call into one spawned, panic-safe request.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use cxx::UniquePtr;
use futures::FutureExt;
use scylla::response::PagingState;
use tokio::runtime::Handle;

use crate::config::{base_policy, resolve, session_builder};
use crate::errors::{connect_hint, err, internal, invalid, new_session_kind, redact};
use crate::ffi::{
    self, AppendOutcome, AppendShape, CqlRequest, CqlResult, ErrorKind, EventRow, SessionConfig, Snapshot,
    SnapshotLoad, SnapshotSaveOutcome, StreamKey, StreamSlice,
};
use crate::ops::{Core, ReadSpec, DEFAULT_PAGE_SIZE};
use crate::routing::LwtRingPolicy;
use crate::runtime::{panic_error, spawn_request, Completion, Cpp, Effect, Pending, RuntimeHolder};

/// A connected session: the driver session, its prepared statements and the
/// tokio runtime it runs on. Dropping it cancels pending requests (their
/// completions fire with Closed / OutcomeUnknown) and shuts the runtime down.
/// All methods may be called from any thread concurrently.
pub struct Session {
    core: Option<Arc<Core>>,
    handle: Handle,
    runtime: Option<RuntimeHolder>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // Dropped during process exit (a session held by a static object) after tokio's
        // thread-local state is gone: nothing can be entered or shut down any more, and the
        // operating system reclaims it all. Leak instead of aborting the process.
        if matches!(Handle::try_current(), Err(e) if e.is_thread_local_destroyed()) {
            std::mem::forget(self.core.take());
            std::mem::forget(self.runtime.take());
            return;
        }
        // Release our reference to the driver inside the runtime context,
        // then stop the runtime (which drops the tasks still holding one).
        if let Some(core) = self.core.take() {
            let _ctx = self.handle.try_current_or_enter();
            drop(core);
        }
        drop(self.runtime.take());
    }
}

trait EnterExt {
    fn try_current_or_enter(&self) -> Option<tokio::runtime::EnterGuard<'_>>;
}

impl EnterExt for Handle {
    fn try_current_or_enter(&self) -> Option<tokio::runtime::EnterGuard<'_>> {
        if Handle::try_current().is_ok() {
            None
        } else {
            Some(self.enter())
        }
    }
}

/// Runs an entry point's synchronous part. A panic there must not unwind
/// into C++: it is caught here, and the completion it was carrying (a
/// [`Cpp`], or a Pending guard holding one) reports the failure as it is
/// dropped during the unwinding.
fn guarded(f: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(f));
}

impl Session {
    #[cfg(test)]
    pub(crate) fn core_for_tests(&self) -> Arc<Core> {
        self.core().clone()
    }

    fn core(&self) -> &Arc<Core> {
        self.core.as_ref().expect("core present until drop")
    }

    /// Connects; `done` receives the session or the error. Rust-side entry
    /// point of `connect`.
    pub fn connect_with<C: Completion<Box<Session>>>(config: SessionConfig, done: C) {
        let pending = Pending::new(done);
        guarded(move || {
            let resolved = match resolve(&config) {
                Ok(r) => r,
                Err(e) => return pending.finish(Err(e)),
            };
            let builder = match session_builder(&config, &resolved) {
                Ok(b) => b,
                Err(e) => return pending.finish(Err(e)),
            };
            let runtime = match RuntimeHolder::new(resolved.worker_threads) {
                Ok(rt) => rt,
                Err(e) => return pending.finish(Err(internal(format!("cannot start the tokio runtime: {e}")))),
            };
            let handle = runtime.handle();
            let password = config.password.clone();
            let tls = config.tls_enabled;
            // Bounds connect even if the driver's own timeouts never fire.
            let limit = resolved.connect_timeout * 3 + resolved.request_timeout * 2;
            let task_handle = handle.clone();
            handle.spawn(async move {
                let outcome = AssertUnwindSafe(tokio::time::timeout(limit, builder.build())).catch_unwind().await;
                let result = match outcome {
                    Ok(Ok(Ok(driver))) => {
                        let lwt = Arc::new(LwtRingPolicy::new(resolved.local_dc.clone(), base_policy(&resolved)));
                        let core = Arc::new(Core::new(driver, resolved, lwt));
                        pending.finish(Ok(Box::new(Session {
                            core: Some(core),
                            handle: task_handle,
                            runtime: Some(runtime),
                        })));
                        return;
                    }
                    Ok(Ok(Err(e))) => {
                        let message = format!("connect: {e}");
                        let hint = connect_hint(&message, tls);
                        Err(err(new_session_kind(&e), redact(message + hint, &password)))
                    }
                    Ok(Err(_)) => Err(err(ErrorKind::Unavailable, format!("connect: no answer within {limit:?}"))),
                    Err(p) => Err(panic_error(p)),
                };
                pending.finish(result);
                // Failed: this task owns the runtime; stop it in the background.
                drop(runtime);
            });
        });
    }

    pub fn execute_schema_with(&self, cql: &str, done: impl Completion<()>) {
        let core = self.core().clone();
        let cql = cql.to_string();
        spawn_request(&self.handle, Effect::Write, done, async move { core.execute_schema(cql).await });
    }

    pub fn prepare_with(&self, done: impl Completion<()>) {
        let core = self.core().clone();
        spawn_request(&self.handle, Effect::Read, done, async move { core.stmts().await.map(|_| ()) });
    }

    #[allow(clippy::too_many_arguments)]
    pub fn append_with(
        &self,
        key: &StreamKey,
        shape: AppendShape,
        expected: Option<i32>,
        new_head: i32,
        rows: Vec<EventRow>,
        done: impl Completion<AppendOutcome>,
    ) {
        let core = self.core().clone();
        let key = key.clone();
        spawn_request(&self.handle, Effect::Write, done, async move {
            core.append(key, shape, expected, new_head, rows).await
        });
    }

    #[allow(clippy::too_many_arguments)]
    pub fn lifecycle_with(
        &self,
        key: &StreamKey,
        expected: Option<i32>,
        new_head: i32,
        old_before: Option<i32>,
        before: i32,
        hard_delete: bool,
        row: EventRow,
        done: impl Completion<AppendOutcome>,
    ) {
        let core = self.core().clone();
        let key = key.clone();
        spawn_request(&self.handle, Effect::Write, done, async move {
            core.lifecycle(key, expected, new_head, old_before, before, hard_delete, row).await
        });
    }

    pub fn read_head_with(&self, key: &StreamKey, serial: bool, done: impl Completion<StreamSlice>) {
        let core = self.core().clone();
        let key = key.clone();
        spawn_request(&self.handle, Effect::Read, done, async move { core.head(&key, serial).await });
    }

    pub fn serial_read_with(&self, key: &StreamKey, from: i32, to: i32, done: impl Completion<StreamSlice>) {
        let core = self.core().clone();
        let key = key.clone();
        spawn_request(&self.handle, Effect::Read, done, async move { core.serial_read(key, from, to).await });
    }

    pub fn serial_tail_with(&self, key: &StreamKey, count: i32, done: impl Completion<StreamSlice>) {
        let core = self.core().clone();
        let key = key.clone();
        spawn_request(&self.handle, Effect::Read, done, async move { core.serial_tail(key, count).await });
    }

    pub fn load_snapshot_with(&self, key: &StreamKey, done: impl Completion<SnapshotLoad>) {
        let core = self.core().clone();
        let key = key.clone();
        spawn_request(&self.handle, Effect::Read, done, async move { core.load_snapshot(key).await });
    }

    pub fn save_snapshot_with(
        &self,
        key: &StreamKey,
        snapshot: Snapshot,
        stream_head: i32,
        done: impl Completion<SnapshotSaveOutcome>,
    ) {
        let core = self.core().clone();
        let key = key.clone();
        spawn_request(&self.handle, Effect::Write, done, async move {
            core.save_snapshot(key, snapshot, stream_head).await
        });
    }

    pub fn execute_cql_with(&self, request: CqlRequest, done: impl Completion<CqlResult>) {
        let core = self.core().clone();
        let effect = crate::cql::effect_of(&request);
        spawn_request(&self.handle, effect, done, async move { core.execute_cql(request).await });
    }

    /// A cursor over [from, to], ascending or descending, `page_size` rows a
    /// page (<= 0: 1000). Does no I/O.
    pub fn open_read(&self, key: &StreamKey, from: i32, to: i32, descending: bool, page_size: i32) -> Box<ReadCursor> {
        let page_size = if page_size <= 0 { DEFAULT_PAGE_SIZE } else { page_size };
        let state = if from > to { CursorState::Done } else { CursorState::Ready(PagingState::start()) };
        Box::new(ReadCursor {
            core: self.core().clone(),
            handle: self.handle.clone(),
            spec: Arc::new(ReadSpec { key: key.clone(), from, to, descending, page_size }),
            state: Arc::new(Mutex::new(state)),
        })
    }

    // ---- the cxx entry points ----

    pub(crate) fn execute_schema(&self, cql: &str, done: UniquePtr<ffi::VoidCompletion>) {
        guarded(|| self.execute_schema_with(cql, Cpp::new(done)));
    }

    pub(crate) fn prepare_statements(&self, done: UniquePtr<ffi::VoidCompletion>) {
        guarded(|| self.prepare_with(Cpp::new(done)));
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append_batch(
        &self,
        key: &StreamKey,
        shape: AppendShape,
        has_expected: bool,
        expected: i32,
        new_head: i32,
        rows: Vec<EventRow>,
        done: UniquePtr<ffi::AppendCompletion>,
    ) {
        guarded(|| self.append_with(key, shape, has_expected.then_some(expected), new_head, rows, Cpp::new(done)));
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn lifecycle_batch(
        &self,
        key: &StreamKey,
        has_expected: bool,
        expected: i32,
        new_head: i32,
        has_old_before: bool,
        old_before: i32,
        before: i32,
        hard_delete: bool,
        row: EventRow,
        done: UniquePtr<ffi::AppendCompletion>,
    ) {
        let expected = has_expected.then_some(expected);
        let old_before = has_old_before.then_some(old_before);
        guarded(|| self.lifecycle_with(key, expected, new_head, old_before, before, hard_delete, row, Cpp::new(done)));
    }

    pub(crate) fn inject_batch_faults(&self, faults: Vec<ffi::BatchFault>) {
        self.core().inject_batch_faults(faults);
    }

    pub(crate) fn read_head(&self, key: &StreamKey, serial: bool, done: UniquePtr<ffi::SliceCompletion>) {
        guarded(|| self.read_head_with(key, serial, Cpp::new(done)));
    }

    pub(crate) fn serial_read(&self, key: &StreamKey, from: i32, to: i32, done: UniquePtr<ffi::SliceCompletion>) {
        guarded(|| self.serial_read_with(key, from, to, Cpp::new(done)));
    }

    pub(crate) fn serial_tail(&self, key: &StreamKey, count: i32, done: UniquePtr<ffi::SliceCompletion>) {
        guarded(|| self.serial_tail_with(key, count, Cpp::new(done)));
    }

    pub(crate) fn load_snapshot(&self, key: &StreamKey, done: UniquePtr<ffi::SnapshotLoadCompletion>) {
        guarded(|| self.load_snapshot_with(key, Cpp::new(done)));
    }

    pub(crate) fn execute_cql(&self, request: CqlRequest, done: UniquePtr<ffi::CqlCompletion>) {
        guarded(|| self.execute_cql_with(request, Cpp::new(done)));
    }

    pub(crate) fn host_states(&self) -> Vec<ffi::HostState> {
        let _ctx = self.handle.try_current_or_enter();
        let state = self.core().driver.get_cluster_state();
        state
            .get_nodes_info()
            .iter()
            .map(|node| ffi::HostState {
                address: node.address.to_string(),
                datacenter: node.datacenter.clone().unwrap_or_default(),
                rack: node.rack.clone().unwrap_or_default(),
                enabled: node.is_enabled(),
                connected: node.is_connected(),
            })
            .collect()
    }

    pub(crate) fn write_markers(&self, markers: Vec<ffi::FeedMarker>, ttl: i32, done: UniquePtr<ffi::VoidCompletion>) {
        let core = self.core().clone();
        let write = async move { core.write_markers(markers, ttl).await };
        guarded(|| spawn_request(&self.handle, Effect::Read, Cpp::new(done), write));
    }

    pub(crate) fn save_snapshot(
        &self,
        key: &StreamKey,
        snapshot: Snapshot,
        stream_head: i32,
        done: UniquePtr<ffi::SnapshotSaveCompletion>,
    ) {
        guarded(|| self.save_snapshot_with(key, snapshot, stream_head, Cpp::new(done)));
    }
}

pub(crate) fn connect(config: SessionConfig, done: UniquePtr<ffi::ConnectCompletion>) {
    guarded(|| Session::connect_with(config, Cpp::new(done)));
}

enum CursorState {
    Ready(PagingState),
    InFlight,
    Done,
}

/// A paged read; the paging state stays in Rust, so memory is bounded by one
/// page. One next_page at a time. May outlive nothing: drop cursors before
/// their Session (a cursor used after its Session is dropped completes with
/// Closed).
pub struct ReadCursor {
    core: Arc<Core>,
    handle: Handle,
    spec: Arc<ReadSpec>,
    state: Arc<Mutex<CursorState>>,
}

impl ReadCursor {
    pub fn next_page_with(&self, page_size: i32, done: impl Completion<(Vec<EventRow>, bool)>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut *state, CursorState::InFlight) {
            CursorState::InFlight => {
                drop(state);
                done.fail(invalid("next_page called while a page of this cursor is in flight"));
            }
            CursorState::Done => {
                *state = CursorState::Done;
                drop(state);
                spawn_request(&self.handle, Effect::Read, done, async { Ok((Vec::new(), false)) });
            }
            CursorState::Ready(paging) => {
                drop(state);
                let core = self.core.clone();
                let spec = self.spec.clone();
                let state = self.state.clone();
                spawn_request(&self.handle, Effect::Read, done, async move {
                    let page_size = if page_size <= 0 { spec.page_size } else { page_size };
                    let result = core.read_page(&spec, page_size, paging.clone()).await;
                    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                    match result {
                        Ok((rows, next)) => {
                            let more = next.is_some();
                            *s = next.map(CursorState::Ready).unwrap_or(CursorState::Done);
                            Ok((rows, more))
                        }
                        Err(e) => {
                            // The same page can be asked for again.
                            *s = CursorState::Ready(paging);
                            Err(e)
                        }
                    }
                });
            }
        }
    }

    pub(crate) fn next_page(&self, page_size: i32, done: UniquePtr<ffi::PageCompletion>) {
        guarded(|| self.next_page_with(page_size, Cpp::new(done)));
    }
}
