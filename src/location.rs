//! Where a vault is, and the engine that opens it: a SQLite file path, or
//! a PostgreSQL database named by a URL or a libpq `key=value` string.
//! This is the one place that names the engines; everything above it
//! holds a [`Vault`] or a [`Verifier`].

use std::path::PathBuf;
use std::sync::Arc;

use keyward_core::error::Result;
use keyward_core::store::location::{names_postgres, refuse_lookalike};
use keyward_core::store::{Access, Verifier, shown_path};
use keyward_core::vault::Vault;
use keyward_core::when::Clock;
#[cfg(feature = "postgres")]
use keyward_postgres::Postgres;
use keyward_sqlite::Sqlite;

/// Where a vault is: a SQLite file, or the schema `keyward` of a
/// PostgreSQL database (a `postgres://` or `postgresql://` URL, or a libpq
/// `key=value` string).
#[derive(Debug, Clone)]
pub enum Location {
    Sqlite(PathBuf),
    #[cfg(feature = "postgres")]
    Postgres(Box<keyward_postgres::PgUrl>),
}

impl Location {
    /// The location a `--vault` value or `$KEYWARD_VAULT` names.
    pub fn parse(raw: PathBuf) -> Result<Self> {
        refuse_lookalike(&raw.to_string_lossy())?;
        match raw.to_str() {
            #[cfg(feature = "postgres")]
            Some(text) if names_postgres(text) => {
                let pgpass = std::env::var_os("PGPASSFILE")
                    .map(PathBuf::from)
                    .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")));
                Ok(Location::Postgres(Box::new(
                    keyward_postgres::PgUrl::parse(text, pgpass.as_deref())?,
                )))
            }
            #[cfg(not(feature = "postgres"))]
            Some(text) if names_postgres(text) => Err(keyward_core::error::Error::usage(
                "this keyward was built without PostgreSQL (cargo feature `postgres`): \
                 give a SQLite file path, or install a build with PostgreSQL"
                    .to_string(),
            )
            .into()),
            _ => Ok(Location::Sqlite(raw)),
        }
    }

    /// The location as messages show it: a path (with anything shaped like
    /// a secret as its hint, hidden characters escaped), or a URL without
    /// password.
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(path) => shown_path(path),
            #[cfg(feature = "postgres")]
            Location::Postgres(url) => url.shown().to_string(),
        }
    }

    pub fn engine(&self) -> &'static str {
        match self {
            Location::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Location::Postgres(_) => "postgres",
        }
    }

    /// Opens the vault here (see [`Access`]), reading time from `clock`.
    pub fn open(&self, access: Access, clock: Arc<dyn Clock>) -> Result<Vault> {
        let shown = self.shown();
        match self {
            Location::Sqlite(path) => {
                let (store, created) = Sqlite::open_reporting(path, access)?;
                Ok(Vault::new(Box::new(store), created, shown, clock))
            }
            #[cfg(feature = "postgres")]
            Location::Postgres(url) => {
                let (store, created) = Postgres::open_reporting(url, access)?;
                Ok(Vault::new(Box::new(store), created, shown, clock))
            }
        }
    }

    /// The verifier for the vault here, which must exist and be current
    /// (open it first with [`Location::open`] to migrate or refuse it).
    pub fn verifier(&self) -> Result<Arc<dyn Verifier>> {
        Ok(match self {
            Location::Sqlite(path) => keyward_sqlite::verifier::SqliteVerifier::start(path)?,
            #[cfg(feature = "postgres")]
            Location::Postgres(url) => {
                Arc::new(keyward_postgres::verifier::PgVerifier::start(url)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(location: &str) -> Option<String> {
        Location::parse(PathBuf::from(location))
            .err()
            .map(|e| e.to_string())
    }

    /// These were once SQLite file names (some created), and each holds a
    /// password.
    #[test]
    fn a_location_that_is_plainly_no_file_name_is_refused_unquoted() {
        for location in [
            "\"postgres://u:QQpw@h/kw\"",
            "'postgres://u:QQpw@h/kw'",
            "postgres://u:QQpw@h/kw\"",
            "jdbc:postgresql://h/kw?user=u&password=QQpw",
            "DATABASE_URL=postgres://u:QQpw@h/kw",
            "psql host=127.0.0.1 password=QQpw",
            "dbname:kw password=QQpw",
            "./x PASSWORD =QQpw",
            "dir/sslpassword=QQpw",
            " ",
            " vault.db",
            "vault.db\t",
            "host=h password=QQpw ",
        ] {
            let err = refused(location).unwrap_or_else(|| panic!("{location} taken"));
            assert!(!err.contains("QQpw"), "{location}: {err}");
        }
        for path in [
            "vault.db",
            "./a=b",
            "/tmp/it's/v.db",
            "C:\\v.db",
            "a:b",
            "my password.db",
        ] {
            assert!(
                matches!(
                    Location::parse(PathBuf::from(path)),
                    Ok(Location::Sqlite(_))
                ),
                "{path}"
            );
        }
        for location in [
            "host=h password='a QQpw'",
            "postgres://u:QQpw@h/kw?password=x",
        ] {
            #[cfg(feature = "postgres")]
            assert!(refused(location).is_none(), "{location}");
            // Without PostgreSQL a location of it is refused, never taken
            // for a file name, and no password is quoted.
            #[cfg(not(feature = "postgres"))]
            assert!(
                refused(location)
                    .is_some_and(|e| e.contains("without PostgreSQL") && !e.contains("QQpw")),
                "{location}"
            );
        }
    }

    #[test]
    fn a_path_is_shown_with_a_secret_as_its_hint() {
        let secret = keyward_core::secret::generate("kw").expect("rng");
        let secret = secret.expose();
        let path = PathBuf::from(format!("/tmp/{secret}"));
        let shown = Location::Sqlite(path).shown();
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.starts_with("/tmp/kw_…"), "{shown}");
        assert_eq!(Location::Sqlite("a\nb".into()).shown(), "a\\nb");
    }
}
