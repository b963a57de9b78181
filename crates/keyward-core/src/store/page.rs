//! A page of the activity log as an [`EventFilter`] means it, written once
//! for every engine: the conditions on the events table (aliased `e`),
//! newest first, before `before_id` when paging (keyset, never OFFSET), at
//! most `limit`. An engine puts its own `SELECT … FROM` before it and
//! numbers the placeholders its way.

use super::EventFilter;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Text(String),
    Int(i64),
}

/// The SQL after `WHERE` (with `?` for each value, in order) and the
/// values.
pub fn conditions(filter: &EventFilter) -> (String, Vec<Param>) {
    let mut sql = String::from("1=1");
    let mut params = Vec::new();
    if let Some(id) = &filter.key_id {
        sql.push_str(" AND (e.key_id = ? OR e.related_key_id = ?)");
        params.push(Param::Text(id.as_str().to_string()));
        params.push(Param::Text(id.as_str().to_string()));
    }
    if let Some(env) = &filter.env {
        sql.push_str(" AND e.env = ?");
        params.push(Param::Text(env.as_str().to_string()));
    }
    if let Some(actor) = &filter.actor {
        sql.push_str(" AND e.actor = ?");
        params.push(Param::Text(actor.as_str().to_string()));
    }
    if !filter.kinds.is_empty() {
        let marks = vec!["?"; filter.kinds.len()].join(", ");
        sql.push_str(&format!(" AND e.event IN ({marks})"));
        params.extend(
            filter
                .kinds
                .iter()
                .map(|k| Param::Text(k.as_str().to_string())),
        );
    }
    if let Some(since) = filter.since {
        sql.push_str(" AND e.at >= ?");
        params.push(Param::Int(since.unix()));
    }
    if let Some(before) = filter.before_id {
        sql.push_str(" AND e.id < ?");
        params.push(Param::Int(before));
    }
    sql.push_str(" ORDER BY e.id DESC LIMIT ?");
    params.push(Param::Int(i64::try_from(filter.limit).unwrap_or(i64::MAX)));
    (sql, params)
}

/// `sql` with its `n`-th `?` (from 1) written as `mark(n)`: `?1` for
/// SQLite, `$1` for PostgreSQL.
pub fn numbered(sql: &str, mark: impl Fn(usize) -> String) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&mark(n));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::text::Env;

    #[test]
    fn every_value_has_its_placeholder_in_order() {
        let filter = EventFilter {
            env: Some(Env::stored("prod".into())),
            kinds: vec![EventKind::Created, EventKind::Revoked],
            before_id: Some(40),
            limit: 10,
            ..EventFilter::default()
        };
        let (sql, params) = conditions(&filter);
        assert_eq!(sql.matches('?').count(), params.len());
        assert_eq!(
            numbered(&sql, |n| format!("${n}")),
            "1=1 AND e.env = $1 AND e.event IN ($2, $3) AND e.id < $4 ORDER BY e.id DESC LIMIT $5"
        );
        assert_eq!(params.last(), Some(&Param::Int(10)));
    }
}
