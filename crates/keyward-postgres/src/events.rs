//! Events: their rows read back and checked, the chain walked a page at a
//! time, as the SQLite engine's `events.rs`.

use postgres::{GenericClient, Row};

use super::Pg;
use keyward_core::error::Result;
use keyward_core::event::Event;
use keyward_core::store::row::EventRow;
use keyward_core::when::Timestamp;

impl<C: GenericClient> Pg<C> {
    /// An event row's values in PostgreSQL's types, decoded by the core.
    pub(super) fn event_from_row(&self, r: &Row) -> Result<Event> {
        let values = EventRow {
            id: r.try_get(0)?,
            at: r.try_get(1)?,
            kind: r.try_get(2)?,
            key_id: r.try_get(3)?,
            related_key_id: r.try_get(4)?,
            env: r.try_get(5)?,
            actor: r.try_get(6)?,
            details: r.try_get(7)?,
            key_name: r.try_get(8)?,
        };
        let label = values.label();
        values.decode().map_err(|b| self.corrupt(label, b.problem))
    }

    pub(super) fn dumped_event(&self, r: &Row) -> Result<keyward_core::store::DumpedEvent> {
        let id: i64 = r.try_get(0)?;
        let kind: String = r.try_get(2)?;
        Ok(keyward_core::store::DumpedEvent {
            id,
            at: Timestamp::from_unix(r.try_get(1)?),
            kind: kind.parse().map_err(|_| {
                self.corrupt(format!("event {id}"), "its type is not one keyward writes")
            })?,
            key_id: r.try_get(3)?,
            related_key_id: r.try_get(4)?,
            env: r.try_get(5)?,
            actor: r.try_get(6)?,
            details: r.try_get(7)?,
            prev_hash: r.try_get(8)?,
            hash: r.try_get(9)?,
        })
    }
}

/// How many events `verify_chain` reads at a time.
pub(super) const CHAIN_PAGE: i64 = 10_000;
