//! The PostgreSQL engine: the vault is the schema `keyward` of an existing
//! database. Every write is one transaction that first takes a
//! transaction-level advisory lock, so writes to one vault are serialised
//! as SQLite's `BEGIN IMMEDIATE` serialises them: the limit check, the name
//! rule, the default-key rule and the chain append never race under READ
//! COMMITTED. This folder is the only place with PostgreSQL's SQL.

mod events;
mod keys;
mod quotas;
mod schema;
mod tls;
pub mod url;
mod usage;
pub mod verifier;

use std::cell::RefCell;

use anyhow::Context;
use postgres::{Client, GenericClient, Row, Transaction};

use keys::{KEY_COLUMNS, KEYS_FROM};
use keyward_core::error::{Error, Result};
use keyward_core::key::{Key, KeyId};
use keyward_core::settings::Setting;
use keyward_core::store::{Access, Store, StoredEvent, WriteTx};
use keyward_core::text::Env;
use keyward_core::when::Timestamp;

pub use url::PgUrl;
pub use verifier::FRESHNESS;

/// The channel every write transaction notifies at commit, so that a
/// running `serve` reads the log for the change at once instead of at its
/// next ping. Last-used touches and usage counts change no verdict and
/// notify nothing.
const CHANGES: &str = "keyward_changes";

/// The advisory lock every write of a keyward vault takes ("kwrd").
const WRITE_LOCK: i64 = 0x6b77_7264;

/// Rows read per round trip where a whole table (or environment) is read.
const KEYS_PER_FETCH: usize = 5000;

/// How long recording last-used may wait for a row lock.
const TOUCH_TIMEOUT: &str = "5ms";

/// A connection, or a transaction on one.
pub struct Pg<C> {
    conn: RefCell<C>,
    shown: Named,
}

/// How messages name a vault: its location as shown, and the role
/// connected as (for a refusal to write).
#[derive(Clone)]
struct Named {
    shown: String,
    role: Option<String>,
}

impl Named {
    fn new(url: &PgUrl) -> Self {
        Named {
            shown: url.shown().to_string(),
            role: url.config.get_user().map(str::to_string),
        }
    }
}

impl std::fmt::Display for Named {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

pub type Postgres = Pg<Client>;
pub type PostgresTx<'a> = Pg<Transaction<'a>>;

impl<C> std::fmt::Debug for Pg<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("url", &self.shown.shown)
            .finish()
    }
}

impl Postgres {
    /// Connects and checks the schema: [`Access::Create`] creates or
    /// migrates it (once, under the advisory lock, however many processes
    /// start at once); other accesses need a keyward vault to be there.
    pub fn open(url: &PgUrl, access: Access) -> Result<Self> {
        Self::open_reporting(url, access).map(|(pg, _)| pg)
    }

    /// As [`open`](Self::open), and whether this call created the schema.
    pub fn open_reporting(url: &PgUrl, access: Access) -> Result<(Self, bool)> {
        let client = connect(url)?;
        let mut pg = Pg {
            conn: RefCell::new(client),
            shown: Named::new(url),
        };
        let shown = pg.shown.clone();
        let context = || format!("cannot read the keyward schema of {shown}");
        let mut created = false;
        let found = schema::inspect(pg.conn.get_mut()).with_context(context)?;
        if let Some(refusal) = found.refusal(&pg.shown.to_string(), schema::CURRENT) {
            return Err(refusal.into());
        }
        match found {
            schema::Found::Current | schema::Found::Newer(_) | schema::Found::Foreign(_) => {}
            schema::Found::Empty if access != Access::Create => {
                return Err(Error::VaultMissing(format!(
                    "{} (the database has no keyward schema yet)",
                    pg.shown
                ))
                .into());
            }
            schema::Found::Empty | schema::Found::Older(_) => {
                created = schema::migrate(pg.conn.get_mut(), WRITE_LOCK).with_context(|| {
                    format!("cannot create or upgrade the keyward schema of {shown}")
                })?;
            }
        }
        Ok((pg, created))
    }
}

fn connect(url: &PgUrl) -> Result<Client> {
    let failed = |cause: String| {
        let note = url
            .pgpass_note()
            .map(|n| format!("; {n}"))
            .unwrap_or_default();
        anyhow::anyhow!(
            "cannot connect to PostgreSQL at {} ({}): {cause}{note}",
            url.server(),
            url.shown()
        )
    };
    let tls =
        tls::connector(url.tls, url.root_cert.as_deref()).map_err(|e| failed(format!("{e:#}")))?;
    url.config.connect(tls).map_err(|e| failed(cause(&e)))
}

/// How long a write waits for another writer, as SQLite's busy timeout.
const LOCK_TIMEOUT: &str = "30s";

/// A driver error during use, as a sentence naming the vault: a role
/// without the privileges, or a server that takes no writes, is a
/// read-only vault; a lock wait past [`LOCK_TIMEOUT`] a busy one.
fn failed(shown: &Named, e: postgres::Error) -> anyhow::Error {
    use postgres::error::SqlState;
    match e.code() {
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => {
            let role = match &shown.role {
                Some(role) => format!("the role '{}'", keyward_core::shown::quote(role)),
                None => "the role keyward connected as".to_string(),
            };
            Error::VaultDenied {
                path: shown.to_string(),
                why: format!(
                    "{role} lacks the privileges for this ({}): a role with only SELECT can \
                     read and verify; changes need INSERT and UPDATE on the tables of the schema \
                     keyward and USAGE on its sequences (GRANT them, or connect as a role that \
                     has them)",
                    cause(&e)
                ),
            }
            .into()
        }
        Some(c) if *c == SqlState::READ_ONLY_SQL_TRANSACTION => Error::VaultDenied {
            path: shown.to_string(),
            why: format!(
                "the server takes no writes in this session ({}): connect to the primary, \
                 not a standby, without default_transaction_read_only",
                cause(&e)
            ),
        }
        .into(),
        Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => anyhow::anyhow!(
            "the PostgreSQL vault {shown} is busy: another writer held it for {LOCK_TIMEOUT}; \
             nothing was changed, try again"
        ),
        _ => anyhow::anyhow!("the PostgreSQL vault {shown} failed: {}", cause(&e)),
    }
}

/// A driver error as a sentence, with the server's message when it sent one.
fn cause(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

impl<C: GenericClient> Pg<C> {
    fn query(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        self.conn
            .borrow_mut()
            .query(sql, params)
            .map_err(|e| failed(&self.shown, e))
    }

    fn execute(&self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<u64> {
        self.conn
            .borrow_mut()
            .execute(sql, params)
            .map_err(|e| failed(&self.shown, e))
    }

    fn corrupt(&self, row: String, problem: impl Into<String>) -> anyhow::Error {
        Error::Corrupt {
            path: self.shown.to_string(),
            row,
            problem: problem.into(),
        }
        .into()
    }
}

impl Store for Postgres {
    fn each_key(
        &self,
        env: Option<&Env>,
        passes: &mut [&mut keyward_core::store::KeyPass<'_>],
    ) -> Result<()> {
        let mut conn = self.conn.borrow_mut();
        let mut tx = conn
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| failed(&self.shown, e))?;
        for each in passes {
            let portal = match env.map(Env::as_str) {
                Some(name) => tx.bind(
                    &format!(
                        "SELECT {KEY_COLUMNS} FROM {KEYS_FROM} WHERE env = $1 \
                         ORDER BY env, created_at, seq"
                    ),
                    &[&name],
                ),
                None => tx.bind(
                    &format!("SELECT {KEY_COLUMNS} FROM {KEYS_FROM} ORDER BY env, created_at, seq"),
                    &[],
                ),
            }
            .map_err(|e| failed(&self.shown, e))?;
            loop {
                let rows = tx
                    .query_portal(&portal, i32::try_from(KEYS_PER_FETCH).unwrap_or(i32::MAX))
                    .map_err(|e| failed(&self.shown, e))?;
                if rows.is_empty() {
                    break;
                }
                for r in &rows {
                    each(self.key_from_row(r)?)?;
                }
            }
        }
        tx.commit().map_err(|e| failed(&self.shown, e))
    }

    fn begin(&mut self) -> Result<Box<dyn WriteTx + '_>> {
        let shown = self.shown.clone();
        let mut tx = self
            .conn
            .get_mut()
            .transaction()
            .map_err(|e| failed(&shown, e))?;
        tx.batch_execute(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            .map_err(|e| failed(&shown, e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            .map_err(|e| failed(&shown, e))?;
        Ok(Box::new(Pg {
            conn: RefCell::new(tx),
            shown,
        }))
    }

    fn dump(
        &self,
        rows: usize,
        each: &mut dyn FnMut(keyward_core::store::Dump) -> Result<()>,
    ) -> Result<()> {
        self.dump_all(rows, each)
    }

    fn record_usage(&mut self, batch: &keyward_core::store::UsageBatch) -> Result<()> {
        let shown = self.shown.clone();
        let tx = self
            .conn
            .get_mut()
            .transaction()
            .map_err(|e| failed(&shown, e))?;
        let tx = Pg {
            conn: RefCell::new(tx),
            shown,
        };
        usage::record(&tx, batch)?;
        let shown = tx.shown.clone();
        tx.conn.into_inner().commit().map_err(|e| failed(&shown, e))
    }

    fn touch(&mut self, id: &KeyId, now: Timestamp) -> Result<bool> {
        let client = self.conn.get_mut();
        let result = client.transaction().and_then(|mut tx| {
            tx.batch_execute(&format!("SET LOCAL lock_timeout = '{TOUCH_TIMEOUT}'"))?;
            let n = tx.execute(
                "UPDATE keyward.keys SET last_used_at = $1::bigint WHERE id = $2 \
                 AND (last_used_at IS NULL OR last_used_at <= $1::bigint - $3::bigint)",
                &[
                    &now.unix(),
                    &id.as_str(),
                    &keyward_core::store::LAST_USED_RESOLUTION,
                ],
            )?;
            tx.commit()?;
            Ok(n)
        });
        match result {
            Ok(n) => Ok(n > 0),
            Err(e)
                if e.code().is_some_and(|c| {
                    *c == postgres::error::SqlState::LOCK_NOT_AVAILABLE
                        || *c == postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION
                        || *c == postgres::error::SqlState::INSUFFICIENT_PRIVILEGE
                }) =>
            {
                Ok(false)
            }
            Err(e) => Err(failed(&self.shown, e)),
        }
    }
}

impl Postgres {
    /// Everything, read in one REPEATABLE READ transaction so that it is
    /// one snapshot while other hosts write, through a cursor a chunk of
    /// `rows` rows at a time.
    fn dump_all(
        &self,
        rows: usize,
        each: &mut dyn FnMut(keyward_core::store::Dump) -> Result<()>,
    ) -> Result<()> {
        self.conn
            .borrow_mut()
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(|e| failed(&self.shown, e))?;
        let dump = self.dump_rows(rows, each);
        let end = if dump.is_ok() { "COMMIT" } else { "ROLLBACK" };
        self.conn
            .borrow_mut()
            .batch_execute(end)
            .map_err(|e| failed(&self.shown, e))?;
        dump
    }

    fn dump_rows(
        &self,
        rows: usize,
        each: &mut dyn FnMut(keyward_core::store::Dump) -> Result<()>,
    ) -> Result<()> {
        use keyward_core::store::Dump;
        let mut settings = Vec::new();
        for r in self.query(
            "SELECT name, value FROM keyward.settings ORDER BY name",
            &[],
        )? {
            let name: String = r.try_get(0)?;
            if let Ok(setting) = name.parse::<Setting>() {
                settings.push((setting, r.try_get(1)?));
            }
        }
        each(Dump {
            settings,
            ..Dump::default()
        })?;
        let keys = format!(
            "SELECT {KEY_COLUMNS}, secret_sha256 FROM {KEYS_FROM} ORDER BY created_at, seq"
        );
        self.chunks(&keys, rows, &mut |page| {
            let keys = page
                .iter()
                .map(|r| self.key_and_hash(r))
                .collect::<Result<_>>()?;
            each(Dump {
                keys,
                ..Dump::default()
            })
        })?;
        self.chunks(
            "SELECT id, at, event, key_id, related_key_id, env, actor, details, prev_hash, hash \
             FROM keyward.events ORDER BY id",
            rows,
            &mut |page| {
                let events = page
                    .iter()
                    .map(|r| self.dumped_event(r))
                    .collect::<Result<_>>()?;
                each(Dump {
                    events,
                    ..Dump::default()
                })
            },
        )?;
        self.chunks(usage::DUMP, rows, &mut |page| {
            let usage = page
                .iter()
                .map(|r| usage::from_dump_row(self, r))
                .collect::<Result<_>>()?;
            each(Dump {
                usage,
                ..Dump::default()
            })
        })
    }

    /// The rows `sql` selects, fetched through a cursor (inside the
    /// caller's transaction) `size` at a time and handed to `each`.
    fn chunks(
        &self,
        sql: &str,
        size: usize,
        each: &mut dyn FnMut(Vec<Row>) -> Result<()>,
    ) -> Result<()> {
        self.conn
            .borrow_mut()
            .batch_execute(&format!("DECLARE keyward_copy NO SCROLL CURSOR FOR {sql}"))
            .map_err(|e| failed(&self.shown, e))?;
        let fetch = format!("FETCH FORWARD {size} FROM keyward_copy");
        loop {
            let page = self.query(&fetch, &[])?;
            if page.is_empty() {
                break;
            }
            each(page)?;
        }
        self.conn
            .borrow_mut()
            .batch_execute("CLOSE keyward_copy")
            .map_err(|e| failed(&self.shown, e))
    }
}

impl PostgresTx<'_> {
    /// Sends `rows` to a `COPY … FROM STDIN` statement.
    fn copy_in(&self, sql: &str, rows: CopyText) -> Result<()> {
        use std::io::Write;
        let mut conn = self.conn.borrow_mut();
        let mut writer = conn.copy_in(sql).map_err(|e| failed(&self.shown, e))?;
        writer
            .write_all(rows.0.as_bytes())
            .with_context(|| format!("cannot write rows to {}", self.shown))?;
        writer.finish().map_err(|e| failed(&self.shown, e))?;
        Ok(())
    }
}

/// Rows in COPY's text format: fields separated by tabs, rows ended by a
/// newline, `\N` for NULL, and a backslash, tab, newline or carriage
/// return inside a value escaped.
#[derive(Default)]
struct CopyText(String, bool);

impl CopyText {
    /// Before a field: a tab unless it is the row's first.
    fn separate(&mut self) {
        if self.1 {
            self.0.push('\t');
        }
        self.1 = true;
    }

    fn text(&mut self, value: Option<&str>) {
        self.separate();
        let Some(value) = value else {
            self.0.push_str("\\N");
            return;
        };
        for c in value.chars() {
            match c {
                '\\' => self.0.push_str("\\\\"),
                '\t' => self.0.push_str("\\t"),
                '\n' => self.0.push_str("\\n"),
                '\r' => self.0.push_str("\\r"),
                c => self.0.push(c),
            }
        }
    }

    fn int(&mut self, value: Option<i64>) {
        self.text(value.map(|n| n.to_string()).as_deref());
    }

    /// A bytea in hex: `\x…`, its backslash escaped.
    fn bytes(&mut self, value: &[u8]) {
        use std::fmt::Write;
        self.separate();
        self.0.push_str("\\\\x");
        for b in value {
            let _ = write!(self.0, "{b:02x}");
        }
    }

    fn end(&mut self) {
        self.0.push('\n');
        self.1 = false;
    }
}

impl WriteTx for PostgresTx<'_> {
    fn insert_key(&self, k: &Key, secret_hash: &[u8; 32]) -> Result<()> {
        self.execute(
            "INSERT INTO keyward.keys (id, name, env, prefix, hint, secret_sha256, scopes, is_default, \
             created_at, expires_at, own_expires_at, rotated_from, note, revoked_at, revoke_reason, \
             last_used_at, rotate_every, quota_id, owner, meta) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
            &[
                &k.id.as_str(),
                &k.name.as_str(),
                &k.env.as_str(),
                &k.prefix,
                &k.hint,
                &&secret_hash[..],
                &serde_json::to_string(&k.scopes)?,
                &k.is_default,
                &k.created_at.unix(),
                &k.expires_at.map(Timestamp::unix),
                &k.own_expires_at.map(Timestamp::unix),
                &k.rotated_from.as_ref().map(KeyId::as_str),
                &k.note,
                &k.revoked_at.map(Timestamp::unix),
                &k.revoke_reason,
                &k.last_used_at.map(Timestamp::unix),
                &k.rotate_every,
                &k.quota_id.as_ref().map(KeyId::as_str),
                &k.owner.as_ref().map(|o| o.as_str()),
                &k.meta.as_ref().map(|m| m.as_str()),
            ],
        )?;
        Ok(())
    }

    fn update_key(&self, k: &Key) -> Result<()> {
        self.execute(
            "UPDATE keyward.keys SET expires_at = $1, own_expires_at = $2, rotated_to = $3, \
             is_default = $4, revoked_at = $5, revoke_reason = $6, name = $7, scopes = $8, note = $9, \
             quota_id = $11, owner = $12, meta = $13 WHERE id = $10",
            &[
                &k.expires_at.map(Timestamp::unix),
                &k.own_expires_at.map(Timestamp::unix),
                &k.rotated_to.as_ref().map(KeyId::as_str),
                &k.is_default,
                &k.revoked_at.map(Timestamp::unix),
                &k.revoke_reason,
                &k.name.as_str(),
                &serde_json::to_string(&k.scopes)?,
                &k.note,
                &k.id.as_str(),
                &k.quota_id.as_ref().map(KeyId::as_str),
                &k.owner.as_ref().map(|o| o.as_str()),
                &k.meta.as_ref().map(|m| m.as_str()),
            ],
        )?;
        Ok(())
    }

    fn put_setting(&self, setting: Setting, value: &str) -> Result<()> {
        self.execute(
            "INSERT INTO keyward.settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[&setting.as_str(), &value],
        )?;
        Ok(())
    }

    fn add_usage(&self, id: &KeyId, u: &keyward_core::store::DailyUsage) -> Result<()> {
        usage::add(self, id, u)
    }

    fn now_ms(&self) -> Result<Option<i64>> {
        let rows = self.query(
            "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
            &[],
        )?;
        Ok(rows.first().map(|r| r.try_get(0)).transpose()?)
    }

    fn put_quota(&self, id: &KeyId, q: &keyward_core::quota::Quota) -> Result<()> {
        quotas::put(self, id, q)
    }

    fn add_quota_use(&self, id: &KeyId, name: &str, slot: i64, n: u64) -> Result<()> {
        quotas::add_use(self, id, name, slot, n)
    }

    fn take_back_quota_use(&self, id: &KeyId, name: &str, slot: i64, n: u64) -> Result<()> {
        quotas::take_back_use(self, id, name, slot, n)
    }

    fn forget_quota_use(&self, id: &KeyId, name: &str, before: i64) -> Result<()> {
        quotas::forget_use(self, id, name, before)
    }

    fn insert_event(&self, e: &StoredEvent<'_>) -> Result<()> {
        self.execute(
            "INSERT INTO keyward.events (id, at, event, key_id, related_key_id, env, actor, details, \
             prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &e.id,
                &e.at.unix(),
                &e.kind.as_str(),
                &e.key_id,
                &e.related_key_id,
                &e.env,
                &e.actor,
                &e.details,
                &e.prev_hash,
                &e.hash,
            ],
        )?;
        Ok(())
    }

    /// COPY, in text format: one round trip per chunk and table.
    fn load(&self, part: &keyward_core::store::Dump) -> Result<()> {
        for (setting, value) in &part.settings {
            self.put_setting(*setting, value)?;
        }
        let ts = |t: Option<Timestamp>| t.map(Timestamp::unix);
        if !part.keys.is_empty() {
            let mut rows = CopyText::default();
            for (k, hash) in &part.keys {
                rows.text(Some(k.id.as_str()));
                rows.text(Some(k.name.as_str()));
                rows.text(Some(k.env.as_str()));
                rows.text(Some(&k.prefix));
                rows.text(Some(&k.hint));
                rows.bytes(hash);
                rows.text(Some(&serde_json::to_string(&k.scopes)?));
                rows.text(Some(if k.is_default { "t" } else { "f" }));
                rows.int(Some(k.created_at.unix()));
                rows.int(ts(k.expires_at));
                rows.int(ts(k.own_expires_at));
                rows.text(k.rotated_from.as_ref().map(KeyId::as_str));
                rows.text(k.rotated_to.as_ref().map(KeyId::as_str));
                rows.text(k.note.as_deref());
                rows.int(ts(k.revoked_at));
                rows.text(k.revoke_reason.as_deref());
                rows.int(ts(k.last_used_at));
                rows.int(k.rotate_every);
                rows.text(k.quota_id.as_ref().map(KeyId::as_str));
                rows.text(k.owner.as_ref().map(|o| o.as_str()));
                rows.text(k.meta.as_ref().map(|m| m.as_str()));
                rows.end();
            }
            self.copy_in(
                "COPY keyward.keys (id, name, env, prefix, hint, secret_sha256, scopes, \
                 is_default, created_at, expires_at, own_expires_at, rotated_from, rotated_to, \
                 note, revoked_at, revoke_reason, last_used_at, rotate_every, quota_id, owner, meta) FROM STDIN",
                rows,
            )?;
        }
        if !part.events.is_empty() {
            let mut rows = CopyText::default();
            for e in &part.events {
                rows.int(Some(e.id));
                rows.int(Some(e.at.unix()));
                rows.text(Some(e.kind.as_str()));
                rows.text(e.key_id.as_deref());
                rows.text(e.related_key_id.as_deref());
                rows.text(e.env.as_deref());
                rows.text(Some(&e.actor));
                rows.text(Some(&e.details));
                rows.text(Some(&e.prev_hash));
                rows.text(Some(&e.hash));
                rows.end();
            }
            self.copy_in(
                "COPY keyward.events (id, at, event, key_id, related_key_id, env, actor, \
                 details, prev_hash, hash) FROM STDIN",
                rows,
            )?;
        }
        if !part.usage.is_empty() {
            let count = |n: u64| Some(i64::try_from(n).unwrap_or(i64::MAX));
            let mut rows = CopyText::default();
            for (id, u) in &part.usage {
                rows.text(Some(id.as_str()));
                rows.text(Some(&keyward_core::store::day_text(u.day)));
                rows.int(count(u.valid));
                rows.int(count(u.invalid));
                rows.end();
            }
            self.copy_in(
                "COPY keyward.usage (key_id, day, valid, invalid) FROM STDIN",
                rows,
            )?;
        }
        keyward_core::store::put_quotas(self, part)?;
        Ok(())
    }

    fn is_empty(&self) -> Result<bool> {
        let rows = self.query(
            "SELECT NOT EXISTS (SELECT 1 FROM keyward.keys) AND NOT EXISTS (SELECT 1 FROM keyward.events) \
             AND NOT EXISTS (SELECT 1 FROM keyward.settings)",
            &[],
        )?;
        Ok(rows
            .first()
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(false))
    }

    fn defer_checks(&self) -> Result<()> {
        self.conn
            .borrow_mut()
            .batch_execute("SET CONSTRAINTS ALL DEFERRED")
            .map_err(|e| failed(&self.shown, e))?;
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<()> {
        // Delivered at commit, and only if it commits.
        self.execute(&format!("NOTIFY {CHANGES}"), &[])?;
        let shown = self.shown;
        self.conn.into_inner().commit().map_err(|e| {
            // The server refused the commit: nothing was written. The
            // connection broke: it may or may not have been.
            if e.as_db_error().is_some() {
                failed(&shown, e)
            } else {
                Error::CommitUnknown {
                    path: shown.to_string(),
                    cause: cause(&e),
                }
                .into()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::CopyText;

    #[test]
    fn copy_text_escapes_what_the_format_reads_as_syntax() {
        let mut rows = CopyText::default();
        rows.text(Some(""));
        rows.text(Some("a\tb\nc\rd\\e \\N"));
        rows.text(None);
        rows.int(Some(-7));
        rows.bytes(&[0x00, 0xab]);
        rows.end();
        rows.text(Some(""));
        rows.end();
        assert_eq!(rows.0, "\ta\\tb\\nc\\rd\\\\e \\\\N\t\\N\t-7\t\\\\x00ab\n\n");
    }
}
