//! The hot queries use indexes: this test reads their `EXPLAIN QUERY PLAN`
//! and fails on a full scan or a sort, so a changed query or a dropped
//! index cannot make `verify`, KEY resolution or a log page slow unnoticed.

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::super::Sqlite;
    use super::super::events::{LAST_EVENT, page_query};
    use super::super::keys::{
        ACTIVE_IN_ENV, CURRENT_BY_NAME, KEY_BY_ID, KEY_BY_SECRET, KEYS_BY_ID_PREFIX, KEYS_IN_ENV,
    };
    use keyward_core::store::Access;
    use keyward_core::store::EventFilter;

    fn plan(conn: &Connection, sql: &str) -> Vec<String> {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect(sql);
        let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
        stmt.query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    fn filter(f: impl FnOnce(&mut EventFilter)) -> String {
        let mut filter = EventFilter {
            limit: 50,
            ..EventFilter::default()
        };
        f(&mut filter);
        page_query(&filter).0
    }

    #[test]
    fn hot_queries_use_indexes_and_never_sort() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = Sqlite::open(&dir.path().join("v.db"), Access::Create).expect("open");
        let queries = [
            ("verify", KEY_BY_SECRET.to_string()),
            ("KEY by id", KEY_BY_ID.to_string()),
            ("KEY by id prefix", KEYS_BY_ID_PREFIX.to_string()),
            ("KEY by name", CURRENT_BY_NAME.to_string()),
            ("limit check", ACTIVE_IN_ENV.to_string()),
            ("list --env", KEYS_IN_ENV.to_string()),
            ("chain append", LAST_EVENT.to_string()),
            ("log", filter(|_| {})),
            (
                "log KEY",
                filter(|f| f.key_id = Some(keyward_core::key::KeyId::stored("key_x".into()))),
            ),
            ("log next page", filter(|f| f.before_id = Some(1000))),
        ];
        let mut failures = Vec::new();
        for (name, sql) in queries {
            let steps = plan(vault.connection(), &sql);
            for step in &steps {
                // The unfiltered page walks the rowid backwards and stops at
                // its LIMIT (keyset paging); one key's events are few to sort.
                let allowed = (name == "log" && step == "SCAN e")
                    || (name == "log KEY" && step == "USE TEMP B-TREE FOR ORDER BY");
                if (step.starts_with("SCAN") || step.contains("TEMP B-TREE")) && !allowed {
                    failures.push(format!("{name}: {step} in {steps:?}"));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "queries that scan or sort:\n{}",
            failures.join("\n")
        );
    }
}
