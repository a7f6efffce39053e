//! Decoding of LWT (conditional) results by column name.
//!
//! ScyllaDB returns one row per statement of a conditional batch, each with
//! `[applied]` and the old values of the row it touched (nulls where none
//! existed). Cassandra returns a single `[applied]` column when applied and
//! otherwise `[applied]=false` plus the rows that currently exist among those
//! the conditions read (the static row and the clustering rows). Both shapes
//! are read by name: `stream_version` / `snapshot_version` anywhere, `hard_deleted` true in
//! any row, and a row
//! counts as an existing event when both `event_version` and `event_id` are
//! non-null.

use scylla::response::query_result::QueryResult;
use scylla::value::{CqlValue, Row};
use uuid::Uuid;

use crate::errors::internal;
use crate::ffi::{BridgeError, ExistingEvent};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct CasView {
    pub(crate) applied: bool,
    pub(crate) stream_version: Option<i32>,
    pub(crate) snapshot_version: Option<i32>,
    pub(crate) hard_deleted: bool,
    pub(crate) existing: Vec<ExistingEvent>,
}

fn int_of(v: &Option<CqlValue>) -> Option<i32> {
    match v {
        Some(CqlValue::Int(i)) => Some(*i),
        _ => None,
    }
}

fn uuid_of(v: &Option<CqlValue>) -> Option<Uuid> {
    match v {
        Some(CqlValue::Uuid(u)) => Some(*u),
        Some(CqlValue::Timeuuid(u)) => Some(Uuid::from_bytes(*u.as_bytes())),
        _ => None,
    }
}

/// Decodes rows of a conditional statement or batch. `names` are the result's
/// column names, `rows` its rows (each as long as `names`).
pub(crate) fn decode_cas(names: &[String], rows: &[Vec<Option<CqlValue>>]) -> Result<CasView, BridgeError> {
    let col = |name: &str| names.iter().position(|n| n == name);
    let applied_col = col("[applied]").ok_or_else(|| internal("conditional result without an [applied] column"))?;
    let first = rows.first().ok_or_else(|| internal("conditional result without rows"))?;
    let applied = match first.get(applied_col) {
        Some(Some(CqlValue::Boolean(b))) => *b,
        other => return Err(internal(format!("unexpected [applied] value {other:?}"))),
    };
    let (sv, snap, ver, id) = (col("stream_version"), col("snapshot_version"), col("event_version"), col("event_id"));
    let deleted = col("hard_deleted");
    let mut view = CasView { applied, ..Default::default() };
    for row in rows {
        let get = |i: Option<usize>| i.and_then(|i| row.get(i)).cloned().flatten();
        if view.stream_version.is_none() {
            view.stream_version = int_of(&get(sv));
        }
        if view.snapshot_version.is_none() {
            view.snapshot_version = int_of(&get(snap));
        }
        if let Some(CqlValue::Boolean(true)) = get(deleted) {
            view.hard_deleted = true;
        }
        if let (Some(version), Some(event_id)) = (int_of(&get(ver)), uuid_of(&get(id))) {
            let e = ExistingEvent { version, event_id: *event_id.as_bytes() };
            if !view.existing.contains(&e) {
                view.existing.push(e);
            }
        }
    }
    view.existing.sort_by_key(|e| e.version);
    Ok(view)
}

/// Decodes a driver result of a conditional statement or batch.
pub(crate) fn decode_cas_result(result: QueryResult) -> Result<CasView, BridgeError> {
    let rows = result.into_rows_result().map_err(|e| internal(format!("conditional result is not rows: {e}")))?;
    let names: Vec<String> = rows.column_specs().iter().map(|c| c.name().to_string()).collect();
    let values = rows
        .rows::<Row>()
        .map_err(|e| internal(format!("conditional result: {e}")))?
        .map(|r| r.map(|r| r.columns))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| internal(format!("conditional result: {e}")))?;
    decode_cas(&names, &values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }
    fn id(b: u8) -> Uuid {
        Uuid::from_bytes([b; 16])
    }

    #[test]
    fn cassandra_applied_has_only_applied_column() {
        let v = decode_cas(&names(&["[applied]"]), &[vec![Some(CqlValue::Boolean(true))]]).unwrap();
        assert!(v.applied);
        assert_eq!(v.stream_version, None);
        assert!(v.existing.is_empty());
    }

    #[test]
    fn cassandra_conflict_static_and_rows() {
        // [applied], pk..., event_version, event_id, ..., stream_version: the
        // static row (null clustering) and one existing clustering row.
        let n = names(&["[applied]", "bounded_context", "event_version", "event_id", "stream_version"]);
        let rows = vec![
            vec![Some(CqlValue::Boolean(false)), Some(CqlValue::Text("bc".into())), None, None, Some(CqlValue::Int(3))],
            vec![
                Some(CqlValue::Boolean(false)),
                Some(CqlValue::Text("bc".into())),
                Some(CqlValue::Int(3)),
                Some(CqlValue::Uuid(id(9))),
                Some(CqlValue::Int(3)),
            ],
        ];
        let v = decode_cas(&n, &rows).unwrap();
        assert!(!v.applied);
        assert_eq!(v.stream_version, Some(3));
        assert_eq!(v.existing, vec![ExistingEvent { version: 3, event_id: [9; 16] }]);
    }

    #[test]
    fn scylla_one_row_per_statement_with_nulls_for_missing_rows() {
        let n = names(&["[applied]", "event_version", "event_id", "stream_version"]);
        let f = Some(CqlValue::Boolean(false));
        let rows = vec![
            // UPDATE of the static: old stream_version 2
            vec![f.clone(), None, None, Some(CqlValue::Int(2))],
            // INSERT v3: a row exists
            vec![f.clone(), Some(CqlValue::Int(3)), Some(CqlValue::Uuid(id(1))), Some(CqlValue::Int(2))],
            // INSERT v4: nothing there (key echoed, no event_id)
            vec![f, Some(CqlValue::Int(4)), None, None],
        ];
        let v = decode_cas(&n, &rows).unwrap();
        assert!(!v.applied);
        assert_eq!(v.stream_version, Some(2));
        assert_eq!(v.existing, vec![ExistingEvent { version: 3, event_id: [1; 16] }]);
    }

    #[test]
    fn hard_deleted_is_read_by_name() {
        let n = names(&["[applied]", "hard_deleted", "stream_version"]);
        let f = Some(CqlValue::Boolean(false));
        let v = decode_cas(&n, &[vec![f.clone(), Some(CqlValue::Boolean(true)), Some(CqlValue::Int(7))]]).unwrap();
        assert!(!v.applied && v.hard_deleted);
        assert_eq!(v.stream_version, Some(7));
        let v = decode_cas(&n, &[vec![f, None, Some(CqlValue::Int(7))]]).unwrap();
        assert!(!v.hard_deleted);
    }

    #[test]
    fn missing_applied_is_an_error() {
        assert!(decode_cas(&names(&["x"]), &[vec![None]]).is_err());
        assert!(decode_cas(&names(&["[applied]"]), &[]).is_err());
    }

    #[test]
    fn snapshot_version_is_read() {
        let n = names(&["[applied]", "snapshot_version"]);
        let v = decode_cas(&n, &[vec![Some(CqlValue::Boolean(false)), Some(CqlValue::Int(40))]]).unwrap();
        assert_eq!(v.snapshot_version, Some(40));
    }
}
