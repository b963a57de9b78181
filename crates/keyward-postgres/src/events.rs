//! Events: their rows read back and checked, the chain walked a page at a
//! time, as the SQLite engine's `events.rs`.

use postgres::{GenericClient, Row};

use super::Pg;
use keyward_core::error::{Error, Result};
use keyward_core::event::{Details, Event, EventKind};
use keyward_core::key::KeyId;
use keyward_core::text::{Actor, Env, Name};
use keyward_core::when::Timestamp;

impl<C: GenericClient> Pg<C> {
    pub(super) fn event_from_row(&self, r: &Row) -> Result<Event> {
        let id: i64 = r.try_get(0)?;
        let row = format!("event {id}");
        let kind: EventKind = r
            .try_get::<_, String>(2)?
            .parse()
            .map_err(|_| self.corrupt(row.clone(), "its type is not one keyward writes"))?;
        let details: String = r.try_get(7)?;
        let details = Details::parse(kind, &details).map_err(|_| {
            self.corrupt(
                row.clone(),
                format!("its details are not those of a {kind} event"),
            )
        })?;
        Ok(Event {
            id,
            at: Timestamp::checked_from_unix(r.try_get(1)?)
                .ok_or_else(|| self.corrupt(row.clone(), "its time is not a time"))?,
            kind,
            key_id: r.try_get::<_, Option<String>>(3)?.map(KeyId::stored),
            related_key_id: r.try_get::<_, Option<String>>(4)?.map(KeyId::stored),
            env: r.try_get::<_, Option<String>>(5)?.map(Env::stored),
            actor: Actor::stored(r.try_get(6)?),
            details,
            key_name: r.try_get::<_, Option<String>>(8)?.map(Name::stored),
        })
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

/// Checks one event row (columns as `verify_chain` selects them) against
/// the id it must have and the hash before it; returns its hash.
pub(super) fn check_link(r: &Row, expected: i64, prev: &str) -> Result<String> {
    let id: i64 = r.try_get(0)?;
    let broken = |reason: &str| Error::BrokenChain {
        id,
        reason: reason.to_string(),
    };
    if id != expected {
        return Err(Error::BrokenChain {
            id: expected,
            reason: format!("it is missing (the next event found is {id})"),
        }
        .into());
    }
    let stored_prev: String = r.try_get(8)?;
    if stored_prev != prev {
        return Err(broken("it does not link to the event before it").into());
    }
    let computed = keyward_core::event::chain_hash(
        prev,
        &keyward_core::event::Canonical {
            id,
            at: r.try_get(1)?,
            kind: r.try_get(2)?,
            key_id: r.try_get(3)?,
            related_key_id: r.try_get(4)?,
            env: r.try_get(5)?,
            actor: r.try_get(6)?,
            details: r.try_get(7)?,
        },
    );
    let stored: String = r.try_get(9)?;
    if stored != computed {
        return Err(broken(
            "its contents do not match its hash (it was changed after it was written)",
        )
        .into());
    }
    Ok(computed)
}
