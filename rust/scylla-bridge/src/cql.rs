//! The generic CQL call (`Session::execute_cql`): one prepared statement, or one logged batch of
//! them, with typed values; the rows come back untyped. The feed's tables (markers, feed, relay
//! lease, progress, checkpoints) are driven from C++ through it, so they need no bridge call
//! each. Statements are prepared once per session and CQL text.
//!
//! Routing and retries: a conditional statement or batch (an INSERT, UPDATE or DELETE with an
//! `IF`) goes through the session's LWT ring policy, like the append batch, and is never retried
//! by the driver. Errors: a write that is not idempotent (conditional ones never are) maps a
//! timeout or a broken connection to OutcomeUnknown; an idempotent one maps it to Unavailable,
//! since running it again is harmless.

use std::collections::HashMap;
use std::sync::Mutex;

use scylla::client::session::Session as DriverSession;
use scylla::frame::response::result::{ColumnType, NativeType};
use scylla::frame::types::Consistency;
use scylla::response::query_result::QueryResult;
use scylla::serialize::value::SerializeValue;
use scylla::serialize::writers::{CellWriter, WrittenCellProof};
use scylla::serialize::SerializationError;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlTimestamp, CqlTimeuuid, CqlValue as DriverValue, Row};
use uuid::Uuid;

use crate::errors::{err, from_execution, from_prepare, internal, invalid};
use crate::ffi::{BridgeError, CqlConsistency, CqlKind, CqlRequest, CqlResult, CqlValue, ErrorKind};
use crate::ops::Core;
use crate::runtime::Effect;

/// Distinct CQL texts kept prepared per session. The feed's statements are a fixed set; texts
/// beyond the bound are prepared on every use rather than growing the cache without end.
const MAX_CACHED_STATEMENTS: usize = 1024;
/// How much of a statement's text an error message quotes.
const QUOTED_CQL_CHARS: usize = 80;

/// Prepared statements by CQL text.
#[derive(Default)]
pub(crate) struct PreparedCache {
    map: Mutex<HashMap<String, PreparedStatement>>,
}

impl PreparedCache {
    pub(crate) async fn get(&self, driver: &DriverSession, cql: &str) -> Result<PreparedStatement, BridgeError> {
        if let Some(p) = self.map.lock().unwrap_or_else(|p| p.into_inner()).get(cql) {
            return Ok(p.clone());
        }
        // Prepared outside the lock; two first uses at once both prepare, one is kept.
        let prepared = driver.prepare(cql).await.map_err(|e| from_prepare(&format!("prepare {}", quote(cql)), &e))?;
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_CACHED_STATEMENTS && !map.contains_key(cql) {
            return Ok(prepared);
        }
        Ok(map.entry(cql.to_string()).or_insert(prepared).clone())
    }
}

/// The words of a CQL text outside string literals, quoted identifiers and comments, upper-cased.
fn words(cql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = cql.chars().peekable();
    let flush = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            out.push(std::mem::take(word).to_ascii_uppercase());
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                flush(&mut word, &mut out);
                // A doubled quote inside is an escaped quote: the scan just continues.
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                flush(&mut word, &mut out);
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            c if c.is_alphanumeric() || c == '_' => word.push(c),
            _ => flush(&mut word, &mut out),
        }
    }
    flush(&mut word, &mut out);
    out
}

fn is_modification(words: &[String]) -> bool {
    matches!(words.first().map(String::as_str), Some("INSERT" | "UPDATE" | "DELETE"))
}

/// An INSERT, UPDATE or DELETE with a condition (IF NOT EXISTS, IF EXISTS, IF column ...).
pub(crate) fn is_conditional(cql: &str) -> bool {
    let w = words(cql);
    is_modification(&w) && w.iter().any(|x| x == "IF")
}

/// Anything but a SELECT may change data.
pub(crate) fn is_write(cql: &str) -> bool {
    words(cql).first().map(String::as_str) != Some("SELECT")
}

/// How an abandoned or failed request is reported: a write that may not be run twice is Write
/// (OutcomeUnknown once it may have been sent); reads and idempotent writes are Read.
pub(crate) fn effect_of(request: &CqlRequest) -> Effect {
    let write = request.batch || request.statements.iter().any(|s| is_write(&s.cql));
    let conditional = request.statements.iter().any(|s| is_conditional(&s.cql));
    if write && (conditional || !request.idempotent) {
        Effect::Write
    } else {
        Effect::Read
    }
}

fn quote(cql: &str) -> String {
    let cql = cql.trim();
    match cql.char_indices().nth(QUOTED_CQL_CHARS) {
        Some((i, _)) => format!("\"{}...\"", &cql[..i]),
        None => format!("\"{cql}\""),
    }
}

/// A bound value, serialized for the column type the server expects.
struct Bound<'a>(&'a CqlValue);

fn type_error(kind: CqlKind, typ: &ColumnType) -> SerializationError {
    SerializationError::new(BoundTypeError(format!("a {} value cannot be bound to a {typ:?} column", kind_name(kind))))
}

#[derive(Debug)]
struct BoundTypeError(String);

impl std::fmt::Display for BoundTypeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BoundTypeError {}

fn kind_name(kind: CqlKind) -> &'static str {
    match kind {
        CqlKind::Null => "null",
        CqlKind::Text => "text",
        CqlKind::Int => "int",
        CqlKind::BigInt => "bigint",
        CqlKind::Uuid => "uuid",
        CqlKind::Timestamp => "timestamp",
        CqlKind::Boolean => "boolean",
        _ => "unknown",
    }
}

impl SerializeValue for Bound<'_> {
    fn serialize<'b>(
        &self,
        typ: &ColumnType,
        writer: CellWriter<'b>,
    ) -> Result<WrittenCellProof<'b>, SerializationError> {
        let v = self.0;
        match v.kind {
            CqlKind::Null => Ok(writer.set_null()),
            CqlKind::Text => v.text.as_str().serialize(typ, writer),
            CqlKind::Int => {
                let i = i32::try_from(v.number).map_err(|_| type_error(v.kind, typ))?;
                i.serialize(typ, writer)
            }
            CqlKind::BigInt => v.number.serialize(typ, writer),
            CqlKind::Uuid => match typ {
                ColumnType::Native(NativeType::Timeuuid) => CqlTimeuuid::from_bytes(v.uuid).serialize(typ, writer),
                _ => Uuid::from_bytes(v.uuid).serialize(typ, writer),
            },
            CqlKind::Timestamp => CqlTimestamp(v.number).serialize(typ, writer),
            CqlKind::Boolean => v.boolean.serialize(typ, writer),
            _ => Err(type_error(v.kind, typ)),
        }
    }
}

fn bound(values: &[CqlValue]) -> Vec<Bound<'_>> {
    values.iter().map(Bound).collect()
}

fn value(kind: CqlKind) -> CqlValue {
    CqlValue { kind, text: String::new(), number: 0, uuid: [0; 16], boolean: false }
}

/// One column of a result row as a bridge value.
fn from_driver(v: Option<DriverValue>, column: &str) -> Result<CqlValue, BridgeError> {
    let Some(v) = v else { return Ok(value(CqlKind::Null)) };
    Ok(match v {
        DriverValue::Text(s) | DriverValue::Ascii(s) => CqlValue { text: s, ..value(CqlKind::Text) },
        DriverValue::Int(i) => CqlValue { number: i64::from(i), ..value(CqlKind::Int) },
        DriverValue::BigInt(i) => CqlValue { number: i, ..value(CqlKind::BigInt) },
        DriverValue::Counter(c) => CqlValue { number: c.0, ..value(CqlKind::BigInt) },
        DriverValue::Uuid(u) => CqlValue { uuid: *u.as_bytes(), ..value(CqlKind::Uuid) },
        DriverValue::Timeuuid(u) => CqlValue { uuid: *u.as_bytes(), ..value(CqlKind::Uuid) },
        DriverValue::Timestamp(t) => CqlValue { number: t.0, ..value(CqlKind::Timestamp) },
        DriverValue::Boolean(b) => CqlValue { boolean: b, ..value(CqlKind::Boolean) },
        DriverValue::Empty => value(CqlKind::Null),
        other => return Err(internal(format!("column {column}: unsupported CQL value {other:?}"))),
    })
}

/// All rows of a result, row after row (none for a result that is not rows).
pub(crate) fn decode_rows(result: QueryResult) -> Result<CqlResult, BridgeError> {
    let mut out = CqlResult { columns: Vec::new(), values: Vec::new(), row_count: 0 };
    if !result.is_rows() {
        return Ok(out);
    }
    let rows = result.into_rows_result().map_err(|e| internal(format!("result: {e}")))?;
    out.columns = rows.column_specs().iter().map(|c| c.name().to_string()).collect();
    for row in rows.rows::<Row>().map_err(|e| internal(format!("result: {e}")))? {
        let row = row.map_err(|e| internal(format!("result: {e}")))?;
        for (i, v) in row.columns.into_iter().enumerate() {
            out.values.push(from_driver(v, out.columns.get(i).map(String::as_str).unwrap_or("?"))?);
        }
        out.row_count += 1;
    }
    Ok(out)
}

impl Core {
    fn consistency_of(&self, c: CqlConsistency) -> Result<Consistency, BridgeError> {
        let local = self.cfg.consistency == Consistency::LocalQuorum;
        match c {
            CqlConsistency::Quorum => Ok(self.cfg.consistency),
            CqlConsistency::Serial => Ok(self.cfg.serial_read_consistency()),
            CqlConsistency::One if local => Ok(Consistency::LocalOne),
            CqlConsistency::One => Ok(Consistency::One),
            _ => Err(invalid("unknown consistency")),
        }
    }

    pub(crate) async fn execute_cql(&self, request: CqlRequest) -> Result<CqlResult, BridgeError> {
        let Some(first) = request.statements.first() else {
            return Err(invalid("a CQL request without statements"));
        };
        if !request.batch && request.statements.len() != 1 {
            return Err(invalid("several statements without the batch flag"));
        }
        let effect = effect_of(&request);
        let consistency = self.consistency_of(request.consistency)?;
        let what = if request.batch {
            format!("batch of {} starting {}", request.statements.len(), quote(&first.cql))
        } else {
            quote(&first.cql)
        };
        let mut prepared = Vec::with_capacity(request.statements.len());
        for s in &request.statements {
            prepared.push(self.cql_cache.get(&self.driver, &s.cql).await?);
        }
        let conditional =
            request.statements.iter().zip(&prepared).any(|(s, p)| is_conditional(&s.cql) || p.is_confirmed_lwt());
        let idempotent = request.idempotent && !conditional;
        let result = if request.batch {
            let mut batch = Batch::new(BatchType::Logged);
            for p in prepared {
                batch.append_statement(p);
            }
            batch.set_consistency(consistency);
            batch.set_is_idempotent(idempotent);
            if conditional {
                batch.set_load_balancing_policy(Some(self.lwt_policy.clone()));
            }
            let values: Vec<Vec<Bound>> = request.statements.iter().map(|s| bound(&s.values)).collect();
            self.driver.batch(&batch, values).await
        } else {
            let mut p = prepared.pop().expect("one statement");
            p.set_consistency(consistency);
            p.set_is_idempotent(idempotent);
            if conditional || request.consistency == CqlConsistency::Serial {
                p.set_load_balancing_policy(Some(self.lwt_policy.clone()));
            }
            self.driver.execute_unpaged(&p, bound(&first.values)).await
        };
        let result = result.map_err(|e| from_execution(&what, &e, effect))?;
        decode_rows(result).map_err(|e| {
            if effect == Effect::Write {
                err(ErrorKind::OutcomeUnknown, format!("{what}: could not decode the result: {}", e.message))
            } else {
                e
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::CqlStatement;

    fn req(cqls: &[&str], batch: bool, idempotent: bool) -> CqlRequest {
        CqlRequest {
            statements: cqls.iter().map(|c| CqlStatement { cql: c.to_string(), values: Vec::new() }).collect(),
            batch,
            consistency: CqlConsistency::Quorum,
            idempotent,
        }
    }

    #[test]
    fn conditions_are_found_outside_literals_and_comments() {
        assert!(is_conditional("INSERT INTO ks.t (a) VALUES (?) IF NOT EXISTS"));
        assert!(is_conditional("update ks.feed set head = ? where a = ? if head = ?"));
        assert!(is_conditional("DELETE FROM ks.t WHERE a = ? IF EXISTS"));
        assert!(!is_conditional("INSERT INTO ks.t (a, b) VALUES (?, 'IF')"));
        assert!(!is_conditional("INSERT INTO ks.\"if\" (a) VALUES (?)"));
        assert!(!is_conditional("INSERT INTO ks.t (a) VALUES (?) -- IF NOT EXISTS\n"));
        assert!(!is_conditional("SELECT a FROM ks.t WHERE a = ?"));
        assert!(!is_conditional("INSERT INTO ks.t (iffy, a_if) VALUES (?, ?)"));
        assert!(!is_conditional("CREATE TABLE IF NOT EXISTS ks.t (a int PRIMARY KEY)"));
    }

    #[test]
    fn effects() {
        assert!(!is_write("  select * from ks.t"));
        assert!(is_write("INSERT INTO ks.t (a) VALUES (?)"));
        assert!(effect_of(&req(&["SELECT a FROM t"], false, true)) == Effect::Read);
        assert!(effect_of(&req(&["SELECT a FROM t"], false, false)) == Effect::Read);
        assert!(effect_of(&req(&["INSERT INTO t (a) VALUES (?)"], false, true)) == Effect::Read);
        assert!(effect_of(&req(&["INSERT INTO t (a) VALUES (?)"], false, false)) == Effect::Write);
        assert!(effect_of(&req(&["INSERT INTO t (a) VALUES (?) IF NOT EXISTS"], false, true)) == Effect::Write);
        let relay = ["UPDATE feed SET head = ? WHERE c = ? AND b = ? IF head = ?", "INSERT INTO feed (c) VALUES (?)"];
        assert!(effect_of(&req(&relay, true, true)) == Effect::Write);
    }

    #[test]
    fn quotes_are_bounded() {
        assert_eq!(quote(" SELECT 1 "), "\"SELECT 1\"");
        let long = "x".repeat(200);
        assert_eq!(quote(&long).len(), QUOTED_CQL_CHARS + 5);
    }

    #[test]
    fn driver_values_decode() {
        let u = Uuid::from_bytes([7; 16]);
        let t = from_driver(Some(DriverValue::Timeuuid(CqlTimeuuid::from_bytes([7; 16]))), "c").unwrap();
        assert_eq!((t.kind, t.uuid), (CqlKind::Uuid, *u.as_bytes()));
        assert_eq!(from_driver(Some(DriverValue::Uuid(u)), "c").unwrap().uuid, [7; 16]);
        assert_eq!(from_driver(None, "c").unwrap().kind, CqlKind::Null);
        let i = from_driver(Some(DriverValue::Int(-3)), "c").unwrap();
        assert_eq!((i.kind, i.number), (CqlKind::Int, -3));
        let ts = from_driver(Some(DriverValue::Timestamp(CqlTimestamp(42))), "c").unwrap();
        assert_eq!((ts.kind, ts.number), (CqlKind::Timestamp, 42));
        let b = from_driver(Some(DriverValue::Boolean(true)), "[applied]").unwrap();
        assert!(b.kind == CqlKind::Boolean && b.boolean);
        let e = from_driver(Some(DriverValue::Double(1.0)), "d").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Internal);
        assert!(e.message.contains("column d"), "{}", e.message);
    }
}
