//! Classification of driver errors into the bridge's ErrorKind.
//!
//! Writes (Effect::Write) that may have reached a replica are OutcomeUnknown;
//! failures known to happen before anything was written are Unavailable.

use std::any::Any;

use scylla::errors::{DbError, ExecutionError, NewSessionError, PrepareError, RequestAttemptError};

use crate::ffi::{BridgeError, ErrorKind, ServerError};
use crate::runtime::Effect;

/// Cassandra's CAS_WRITE_UNKNOWN (protocol v5) error code.
const CAS_WRITE_UNKNOWN: i32 = 0x1700;

pub(crate) fn err(kind: ErrorKind, message: impl Into<String>) -> BridgeError {
    BridgeError { kind, server_error: ServerError::None, message: message.into() }
}

pub(crate) fn invalid(message: impl Into<String>) -> BridgeError {
    err(ErrorKind::InvalidArgument, message)
}

pub(crate) fn internal(message: impl Into<String>) -> BridgeError {
    err(ErrorKind::Internal, message)
}

pub(crate) fn msg_of_panic(panic: &Box<dyn Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Kind of a server-side error.
pub(crate) fn db_error_kind(db: &DbError, effect: Effect) -> ErrorKind {
    let write = effect == Effect::Write;
    match db {
        DbError::SyntaxError
        | DbError::Invalid
        | DbError::ConfigError
        | DbError::AlreadyExists { .. }
        | DbError::FunctionFailure { .. } => ErrorKind::InvalidArgument,
        DbError::AuthenticationError | DbError::Unauthorized => ErrorKind::Unauthorized,
        DbError::Unavailable { .. }
        | DbError::Overloaded
        | DbError::IsBootstrapping
        | DbError::ReadTimeout { .. }
        | DbError::ReadFailure { .. }
        | DbError::RateLimitReached { .. } => ErrorKind::Unavailable,
        // A CAS write timeout (WriteType::Cas) or a write failure: the Paxos
        // proposal may still be completed later.
        DbError::WriteTimeout { .. } | DbError::WriteFailure { .. } => {
            if write {
                ErrorKind::OutcomeUnknown
            } else {
                ErrorKind::Unavailable
            }
        }
        DbError::Other(code) if *code == CAS_WRITE_UNKNOWN => ErrorKind::OutcomeUnknown,
        _ => {
            if write {
                ErrorKind::OutcomeUnknown
            } else {
                ErrorKind::Internal
            }
        }
    }
}

pub(crate) fn attempt_kind(e: &RequestAttemptError, effect: Effect) -> ErrorKind {
    let write = effect == Effect::Write;
    match e {
        RequestAttemptError::SerializationError(_) | RequestAttemptError::CqlRequestSerialization(_) => {
            ErrorKind::InvalidArgument
        }
        // Not sent at all.
        RequestAttemptError::UnableToAllocStreamId => ErrorKind::Unavailable,
        RequestAttemptError::DbError(db, _) => db_error_kind(db, effect),
        // The connection broke or the response was garbled after sending.
        RequestAttemptError::BrokenConnectionError(_) => {
            if write {
                ErrorKind::OutcomeUnknown
            } else {
                ErrorKind::Unavailable
            }
        }
        _ => {
            if write {
                ErrorKind::OutcomeUnknown
            } else {
                ErrorKind::Internal
            }
        }
    }
}

fn prepare_kind(e: &PrepareError) -> ErrorKind {
    match e {
        PrepareError::ConnectionPoolError(_) => ErrorKind::Unavailable,
        // Preparing writes nothing.
        PrepareError::AllAttemptsFailed { first_attempt } => match attempt_kind(first_attempt, Effect::Read) {
            ErrorKind::Internal => ErrorKind::Unavailable,
            k => k,
        },
        _ => ErrorKind::Internal,
    }
}

pub(crate) fn execution_kind(e: &ExecutionError, effect: Effect) -> ErrorKind {
    let write = effect == Effect::Write;
    match e {
        ExecutionError::BadQuery(_) => ErrorKind::InvalidArgument,
        // Nothing was sent.
        ExecutionError::EmptyPlan | ExecutionError::ConnectionPoolError(_) => ErrorKind::Unavailable,
        ExecutionError::PrepareError(p) => prepare_kind(p),
        ExecutionError::LastAttemptError(a) => attempt_kind(a, effect),
        ExecutionError::RequestTimeout(_) => {
            if write {
                ErrorKind::OutcomeUnknown
            } else {
                ErrorKind::Unavailable
            }
        }
        ExecutionError::UseKeyspaceError(_)
        | ExecutionError::SchemaAgreementError(_)
        | ExecutionError::MetadataError(_) => ErrorKind::Unavailable,
        _ => {
            if write {
                ErrorKind::OutcomeUnknown
            } else {
                ErrorKind::Internal
            }
        }
    }
}

/// The server's error, when the failure is one.
pub(crate) fn server_error(db: &DbError) -> ServerError {
    match db {
        DbError::SyntaxError => ServerError::SyntaxError,
        DbError::Invalid => ServerError::Invalid,
        DbError::ConfigError => ServerError::ConfigError,
        DbError::AlreadyExists { .. } => ServerError::AlreadyExists,
        _ => ServerError::Other,
    }
}

fn attempt_server_error(e: &RequestAttemptError) -> ServerError {
    match e {
        RequestAttemptError::DbError(db, _) => server_error(db),
        _ => ServerError::None,
    }
}

fn prepare_server_error(e: &PrepareError) -> ServerError {
    match e {
        PrepareError::AllAttemptsFailed { first_attempt } => attempt_server_error(first_attempt),
        _ => ServerError::None,
    }
}

fn execution_server_error(e: &ExecutionError) -> ServerError {
    match e {
        ExecutionError::PrepareError(p) => prepare_server_error(p),
        ExecutionError::LastAttemptError(a) => attempt_server_error(a),
        _ => ServerError::None,
    }
}

pub(crate) fn from_execution(context: &str, e: &ExecutionError, effect: Effect) -> BridgeError {
    BridgeError {
        kind: execution_kind(e, effect),
        server_error: execution_server_error(e),
        message: format!("{context}: {e}"),
    }
}

pub(crate) fn from_prepare(context: &str, e: &PrepareError) -> BridgeError {
    BridgeError { kind: prepare_kind(e), server_error: prepare_server_error(e), message: format!("{context}: {e}") }
}

/// Kind of a connect failure. The connection-setup errors are nested deeply
/// and partly private, so authentication failures are recognised from the
/// error's Debug form (which holds no credentials).
pub(crate) fn new_session_kind(e: &NewSessionError) -> ErrorKind {
    match e {
        NewSessionError::IllegalConfig(_) | NewSessionError::EmptyKnownNodesList => ErrorKind::InvalidArgument,
        NewSessionError::UseKeyspaceError(_) => ErrorKind::InvalidArgument,
        _ => {
            let debug = format!("{e:?}");
            if debug.contains("AuthenticationError")
                || debug.contains("Unauthorized")
                || debug.contains("MissingAuthentication")
                || debug.contains("AuthError")
            {
                ErrorKind::Unauthorized
            } else {
                ErrorKind::Unavailable
            }
        }
    }
}

/// A hint appended to a connect failure whose driver message does not name its cause, or
/// names it in OpenSSL's words only (found by `scripts/reliability auth`): a node that
/// requires client TLS resets a plaintext connection at its first request ("Request: OPTIONS
/// ... Connection reset by peer"), and a handshake that cannot verify the node's certificate
/// says "certificate verify failed". Empty when there is nothing to add.
pub(crate) fn connect_hint(message: &str, tls: bool) -> &'static str {
    if tls {
        if message.contains("certificate verify failed") {
            return " (TLS: the node's certificate is not signed by a CA in ca_file / SCYLLA_CA_FILE, or does not name the host)";
        }
    } else if message.contains("Request: OPTIONS")
        && (message.contains("Connection reset by peer") || message.contains("Connection broken"))
    {
        return " (the node closed the connection at once: if the cluster requires client TLS, give ca_file= or SCYLLA_CA_FILE)";
    }
    ""
}

/// Removes every occurrence of `secret` from `message` (defence in depth: no
/// driver error is known to echo the password).
pub(crate) fn redact(message: String, secret: &str) -> String {
    if secret.is_empty() || !message.contains(secret) {
        message
    } else {
        message.replace(secret, "<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scylla::errors::WriteType;
    use scylla::frame::types::Consistency;
    use std::time::Duration;

    fn wt(write_type: WriteType) -> DbError {
        DbError::WriteTimeout { consistency: Consistency::Serial, received: 0, required: 2, write_type }
    }

    #[test]
    fn cas_write_timeout_is_unknown_for_writes() {
        assert_eq!(db_error_kind(&wt(WriteType::Cas), Effect::Write), ErrorKind::OutcomeUnknown);
        assert_eq!(db_error_kind(&DbError::Other(0x1700), Effect::Write), ErrorKind::OutcomeUnknown);
        let e = ExecutionError::LastAttemptError(RequestAttemptError::DbError(wt(WriteType::Cas), "x".into()));
        assert_eq!(execution_kind(&e, Effect::Write), ErrorKind::OutcomeUnknown);
    }

    #[test]
    fn client_timeout_depends_on_effect() {
        let e = ExecutionError::RequestTimeout(Duration::from_secs(5));
        assert_eq!(execution_kind(&e, Effect::Write), ErrorKind::OutcomeUnknown);
        assert_eq!(execution_kind(&e, Effect::Read), ErrorKind::Unavailable);
    }

    #[test]
    fn nothing_written_cases_are_unavailable() {
        let unavailable = DbError::Unavailable { consistency: Consistency::Quorum, required: 2, alive: 1 };
        let read_timeout =
            DbError::ReadTimeout { consistency: Consistency::Serial, received: 1, required: 2, data_present: false };
        for db in [unavailable, DbError::Overloaded, read_timeout, DbError::IsBootstrapping] {
            assert_eq!(db_error_kind(&db, Effect::Write), ErrorKind::Unavailable, "{db:?}");
        }
        assert_eq!(execution_kind(&ExecutionError::EmptyPlan, Effect::Write), ErrorKind::Unavailable);
        let e = ExecutionError::LastAttemptError(RequestAttemptError::UnableToAllocStreamId);
        assert_eq!(execution_kind(&e, Effect::Write), ErrorKind::Unavailable);
    }

    #[test]
    fn connect_hints_name_tls() {
        // The driver's messages as scripts/reliability auth saw them (Cassandra 5.0, driver 1.x).
        let plaintext = "connect: Failed to perform initial cluster metadata fetch: Control connection pool error: \
            The pool is broken; Last connection failed with: Failed to perform a connection setup request. Request: \
            OPTIONS, reason: Connection broken, reason: Failed to deserialize frame: Failed to read the frame header: \
            Connection reset by peer (os error 104)";
        assert!(connect_hint(plaintext, false).contains("requires client TLS"));
        assert_eq!(connect_hint(plaintext, true), "");
        let untrusted = "connect: Failed to perform initial cluster metadata fetch: Control connection pool error: \
            The pool is broken; Last connection failed with: error:0A000086:SSL routines:\
            tls_post_process_server_certificate:certificate verify failed:../ssl/statem/statem_clnt.c:1889:";
        assert!(connect_hint(untrusted, true).contains("not signed by a CA in ca_file"));
        assert_eq!(connect_hint(untrusted, false), "");
        let refused = "connect: Failed to perform initial cluster metadata fetch: Control connection pool error: \
            The pool is broken; Last connection failed with: Connection refused (os error 111)";
        assert_eq!(connect_hint(refused, false), "");
        assert_eq!(connect_hint(refused, true), "");
        let bad_password = "connect: ... Request: AUTH_RESPONSE, reason: Database returned an error: \
            Authentication failed - bad credentials";
        assert_eq!(connect_hint(bad_password, true), "");
    }

    #[test]
    fn auth_and_invalid() {
        assert_eq!(db_error_kind(&DbError::Unauthorized, Effect::Write), ErrorKind::Unauthorized);
        assert_eq!(db_error_kind(&DbError::AuthenticationError, Effect::Read), ErrorKind::Unauthorized);
        assert_eq!(db_error_kind(&DbError::SyntaxError, Effect::Write), ErrorKind::InvalidArgument);
        assert_eq!(db_error_kind(&DbError::Invalid, Effect::Read), ErrorKind::InvalidArgument);
        assert_eq!(db_error_kind(&DbError::ConfigError, Effect::Read), ErrorKind::InvalidArgument);
        assert_eq!(db_error_kind(&DbError::ServerError, Effect::Read), ErrorKind::Internal);
        assert_eq!(db_error_kind(&DbError::ServerError, Effect::Write), ErrorKind::OutcomeUnknown);
    }

    #[test]
    fn server_errors_are_carried() {
        let attempt = |db: DbError| RequestAttemptError::DbError(db, "x".into());
        let missing_table = ExecutionError::LastAttemptError(attempt(DbError::Invalid));
        let e = from_execution("read", &missing_table, Effect::Read);
        assert_eq!((e.kind, e.server_error), (ErrorKind::InvalidArgument, ServerError::Invalid));
        let unknown_property = ExecutionError::LastAttemptError(attempt(DbError::SyntaxError));
        assert_eq!(from_execution("schema", &unknown_property, Effect::Write).server_error, ServerError::SyntaxError);
        let exists = DbError::AlreadyExists { keyspace: "k".into(), table: "t".into() };
        let prepare = PrepareError::AllAttemptsFailed { first_attempt: attempt(exists) };
        assert_eq!(from_prepare("prepare", &prepare).server_error, ServerError::AlreadyExists);
        let timeout = ExecutionError::RequestTimeout(Duration::from_secs(5));
        assert_eq!(from_execution("append", &timeout, Effect::Write).server_error, ServerError::None);
        assert_eq!(server_error(&DbError::Overloaded), ServerError::Other);
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("user bob pw s3cret!".into(), "s3cret!"), "user bob pw <redacted>");
        assert_eq!(redact("nothing".into(), ""), "nothing");
    }
}
