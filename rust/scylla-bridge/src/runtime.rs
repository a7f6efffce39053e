//! The tokio runtime a Session owns, the exactly-once completion guard, and
//! the panic-safe task spawner.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::Duration;

use cxx::UniquePtr;
use futures::FutureExt;
use tokio::runtime::{Handle, Runtime};

use crate::errors::{err, msg_of_panic};
use crate::ffi::{self, BridgeError, ErrorKind};

/// How long dropping a Session waits for in-flight work to wind down.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Receives the result of one asynchronous bridge request, exactly once.
/// Implemented by the C++ completion objects (via [`Cpp`]) and by Rust test
/// harnesses.
pub trait Completion<T>: Send + 'static {
    fn ok(self, value: T);
    fn fail(self, error: BridgeError);
}

/// Owns the runtime; shuts it down when dropped, safely from any thread:
/// from inside the runtime (a completion dropping the Session) it shuts down
/// in the background, elsewhere it waits up to SHUTDOWN_TIMEOUT.
pub(crate) struct RuntimeHolder {
    rt: Option<Runtime>,
}

impl RuntimeHolder {
    pub(crate) fn new(worker_threads: usize) -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads.max(1))
            .thread_name("es-scylla")
            .enable_all()
            .build()?;
        Ok(Self { rt: Some(rt) })
    }

    pub(crate) fn handle(&self) -> Handle {
        self.rt.as_ref().expect("runtime present until drop").handle().clone()
    }
}

impl Drop for RuntimeHolder {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            if Handle::try_current().is_ok() {
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(SHUTDOWN_TIMEOUT);
            }
        }
    }
}

/// Guard that guarantees the completion fires exactly once: if it is dropped
/// without having been completed (task cancelled by shutdown, panic while
/// building the request...), it fails the completion with `drop_kind`.
pub(crate) struct Pending<T, C: Completion<T>> {
    done: Option<C>,
    drop_kind: ErrorKind,
    _value: PhantomData<fn(T)>,
}

impl<T, C: Completion<T>> Pending<T, C> {
    pub(crate) fn new(done: C) -> Self {
        Self { done: Some(done), drop_kind: ErrorKind::Closed, _value: PhantomData }
    }

    /// From now on an abandoned request reports this kind (writes switch to
    /// OutcomeUnknown once they may have been sent).
    pub(crate) fn set_drop_kind(&mut self, kind: ErrorKind) {
        self.drop_kind = kind;
    }

    pub(crate) fn finish(mut self, result: Result<T, BridgeError>) {
        if let Some(done) = self.done.take() {
            match result {
                Ok(v) => done.ok(v),
                Err(e) => done.fail(e),
            }
        }
    }
}

impl<T, C: Completion<T>> Drop for Pending<T, C> {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let message = match self.drop_kind {
                ErrorKind::OutcomeUnknown => {
                    "the session was closed while the write was in flight; its outcome is unknown"
                }
                _ => "the session was closed before the request completed",
            };
            done.fail(err(self.drop_kind, message));
        }
    }
}

/// Whether an abandoned request may have had side effects.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Read,
    Write,
}

/// Spawns `fut` on `handle`; its result (or a panic, as Internal) completes
/// `done` from the worker thread. If the runtime is gone the guard completes
/// `done` with Closed.
pub(crate) fn spawn_request<T, C, F>(handle: &Handle, effect: Effect, done: C, fut: F)
where
    T: Send + 'static,
    C: Completion<T>,
    F: Future<Output = Result<T, BridgeError>> + Send + 'static,
{
    let mut pending = Pending::new(done);
    let task = async move {
        if effect == Effect::Write {
            pending.set_drop_kind(ErrorKind::OutcomeUnknown);
        }
        let result = match AssertUnwindSafe(fut).catch_unwind().await {
            Ok(r) => r,
            Err(panic) => Err(panic_error(panic)),
        };
        pending.finish(result);
    };
    // A runtime that is shutting down drops the task (and so the guard).
    drop(handle.spawn(task));
}

pub(crate) fn panic_error(panic: Box<dyn Any + Send>) -> BridgeError {
    err(ErrorKind::Internal, format!("panic inside the scylla bridge: {}", msg_of_panic(&panic)))
}

/// The C++ side of a completion: how to report an error to it.
pub(crate) trait CppFail: cxx::memory::UniquePtrTarget {
    fn fail_cpp(self: Pin<&mut Self>, error: &BridgeError);
}

/// Adapter from a C++ completion object to [`Completion`]. It fires exactly
/// once: dropped without having completed (a panic while starting the
/// request), it reports Internal. A null pointer swallows the result.
pub(crate) struct Cpp<P: CppFail>(UniquePtr<P>);

impl<P: CppFail> Cpp<P> {
    pub(crate) fn new(ptr: UniquePtr<P>) -> Self {
        Cpp(ptr)
    }

    fn take(&mut self) -> UniquePtr<P> {
        std::mem::replace(&mut self.0, UniquePtr::null())
    }
}

impl<P: CppFail> Drop for Cpp<P> {
    fn drop(&mut self) {
        let mut p = self.take();
        if let Some(p) = p.as_mut() {
            p.fail_cpp(&err(ErrorKind::Internal, "internal error: the bridge abandoned the request"));
        }
    }
}

macro_rules! cpp_completion {
    ($cpp:ty, $value:ty, |$p:ident, $v:ident| $ok:expr, $fail:ident) => {
        impl CppFail for $cpp {
            fn fail_cpp(self: Pin<&mut Self>, error: &BridgeError) {
                self.$fail(error);
            }
        }
        impl Completion<$value> for Cpp<$cpp> {
            fn ok(mut self, $v: $value) {
                let mut ptr = self.take();
                if let Some($p) = ptr.as_mut() {
                    $ok;
                }
            }
            fn fail(mut self, error: BridgeError) {
                let mut ptr = self.take();
                if let Some(p) = ptr.as_mut() {
                    p.fail_cpp(&error);
                }
            }
        }
    };
}

cpp_completion!(ffi::ConnectCompletion, Box<crate::Session>, |p, v| p.on_connected(v), on_connect_error);
cpp_completion!(
    ffi::VoidCompletion,
    (),
    |p, v| {
        let () = v;
        p.on_done()
    },
    on_void_error
);
cpp_completion!(ffi::AppendCompletion, ffi::AppendOutcome, |p, v| p.on_outcome(v), on_append_error);
cpp_completion!(ffi::SliceCompletion, ffi::StreamSlice, |p, v| p.on_slice(v), on_slice_error);
cpp_completion!(ffi::PageCompletion, (Vec<ffi::EventRow>, bool), |p, v| p.on_page(v.0, v.1), on_page_error);
cpp_completion!(ffi::SnapshotLoadCompletion, ffi::SnapshotLoad, |p, v| p.on_loaded(v), on_load_error);
cpp_completion!(ffi::SnapshotSaveCompletion, ffi::SnapshotSaveOutcome, |p, v| p.on_saved(v), on_save_error);
cpp_completion!(ffi::CqlCompletion, ffi::CqlResult, |p, v| p.on_rows(v), on_cql_error);

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    struct Chan(mpsc::Sender<Result<u32, BridgeError>>);
    impl Completion<u32> for Chan {
        fn ok(self, v: u32) {
            let _ = self.0.send(Ok(v));
        }
        fn fail(self, e: BridgeError) {
            let _ = self.0.send(Err(e));
        }
    }

    #[test]
    fn completes_value_once() {
        let rt = RuntimeHolder::new(2).unwrap();
        let (tx, rx) = mpsc::channel();
        spawn_request(&rt.handle(), Effect::Read, Chan(tx), async { Ok(7u32) });
        assert_eq!(rx.recv().unwrap().unwrap(), 7);
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
    }

    #[test]
    fn panic_becomes_internal_error() {
        let rt = RuntimeHolder::new(2).unwrap();
        let (tx, rx) = mpsc::channel();
        spawn_request(&rt.handle(), Effect::Write, Chan(tx), async {
            if true {
                panic!("boom");
            }
            Ok(1u32)
        });
        let e = rx.recv().unwrap().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Internal);
        assert!(e.message.contains("boom"), "{}", e.message);
    }

    #[test]
    fn shutdown_cancels_pending_reads_and_writes() {
        let rt = RuntimeHolder::new(1).unwrap();
        let (tx_r, rx_r) = mpsc::channel();
        let (tx_w, rx_w) = mpsc::channel();
        let h = rt.handle();
        spawn_request(&h, Effect::Read, Chan(tx_r), async {
            std::future::pending::<()>().await;
            Ok(1u32)
        });
        spawn_request(&h, Effect::Write, Chan(tx_w), async {
            std::future::pending::<()>().await;
            Ok(1u32)
        });
        std::thread::sleep(Duration::from_millis(100));
        drop(rt);
        assert_eq!(rx_r.recv().unwrap().unwrap_err().kind, ErrorKind::Closed);
        assert_eq!(rx_w.recv().unwrap().unwrap_err().kind, ErrorKind::OutcomeUnknown);
        // Spawning on a dead runtime completes with Closed, never hangs.
        let (tx, rx) = mpsc::channel();
        spawn_request(&h, Effect::Write, Chan(tx), async { Ok(1u32) });
        assert_eq!(rx.recv().unwrap().unwrap_err().kind, ErrorKind::Closed);
    }

    #[test]
    fn runtime_can_be_dropped_from_inside_a_task() {
        let rt = RuntimeHolder::new(2).unwrap();
        let h = rt.handle();
        let (tx_done, rx_done) = mpsc::channel::<()>();
        h.spawn(async move {
            drop(rt);
            let _ = tx_done.send(());
        });
        rx_done.recv_timeout(Duration::from_secs(5)).unwrap();
    }
}
