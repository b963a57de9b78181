//! A PostgreSQL vault location: a libpq-style URL (`postgres://` or
//! `postgresql://`), its password taken from the URL, `PGPASSWORD` or
//! `~/.pgpass`, and a form to show that never holds the password.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use postgres::config::{Host, SslMode};

use crate::error::{Error, Result};

/// How long connecting may take, unless the URL says `connect_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What `sslmode` asks for, including the modes libpq has and the driver's
/// own parser does not (`verify-ca`, `verify-full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

#[derive(Clone)]
pub struct PgUrl {
    pub config: postgres::Config,
    pub tls: Tls,
    /// A CA bundle for verify-ca/verify-full (`sslrootcert`).
    pub root_cert: Option<PathBuf>,
    shown: String,
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Whether a vault location names a PostgreSQL database.
pub fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

impl PgUrl {
    /// Parses a URL; `pgpass` is the password file to look in when neither
    /// the URL nor `PGPASSWORD` has a password.
    pub fn parse(url: &str, pgpass: Option<&Path>) -> Result<Self> {
        let shown = redact(url);
        let authority = url
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or_default())
            .unwrap_or_default();
        if authority.matches('@').count() > 1 {
            return Err(Error::usage(format!(
                "'{}' has more than one @ before the host: write an @ in the password as %40",
                crate::text::quote(&shown)
            ))
            .into());
        }
        let (rest, tls, root_cert) = take_tls_params(url, &shown)?;
        let mut config = postgres::Config::from_str(&rest).map_err(|e| {
            Error::usage(format!(
                "'{}' is not a PostgreSQL URL: {e} (e.g. postgres://keyward@db.example.com/keys?sslmode=require)",
                crate::text::quote(&shown)
            ))
        })?;
        config.ssl_mode(match tls {
            Tls::Disable => SslMode::Disable,
            Tls::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_user().is_none()
            && let Some(user) = std::env::var("PGUSER")
                .ok()
                .or_else(|| std::env::var("USER").ok())
        {
            config.user(&user);
        }
        if config.get_password().is_none() {
            if let Ok(pw) = std::env::var("PGPASSWORD") {
                config.password(pw);
            } else if let Some(pw) = pgpass.and_then(|file| from_pgpass(file, &config)) {
                config.password(pw);
            }
        }
        if config.get_user().is_some_and(|u| u.contains(':')) {
            return Err(Error::usage(format!(
                "the user name in '{}' holds a ':': put the password after an unencoded ':' \
                 (postgres://USER:PASSWORD@HOST/DB) so that it is never shown",
                crate::text::quote(&shown)
            ))
            .into());
        }
        config.application_name("keyward");
        Ok(PgUrl {
            config,
            tls,
            root_cert,
            shown,
        })
    }

    /// The URL with its password replaced by `***`.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// `host:port` of the servers, for messages ("a:1 or b:2").
    pub fn server(&self) -> String {
        let hosts = self.config.get_hosts();
        let ports = self.config.get_ports();
        let port = |i: usize| {
            ports
                .get(i)
                .or_else(|| ports.first())
                .copied()
                .unwrap_or(5432)
        };
        let named: Vec<String> = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| match h {
                Host::Tcp(h) => format!("{h}:{}", port(i)),
                Host::Unix(p) => format!("{}:{}", p.display(), port(i)),
            })
            .collect();
        if named.is_empty() {
            format!("localhost:{}", port(0))
        } else {
            named.join(" or ")
        }
    }
}

/// The URL with any password (`user:PASSWORD@`, `password=…`) replaced by `***`.
pub fn redact(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, hosts)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{user}:***@{hosts}"),
                    // A user name that decodes to USER:PASSWORD hides a password.
                    None if decoded(userinfo).contains(':') => format!("***@{hosts}"),
                    None => format!("{userinfo}@{hosts}"),
                },
                None => authority.to_string(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => head.to_string(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if decoded(k).eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// A URL component with its %XX escapes decoded (bytes kept as they are
/// where an escape is malformed).
fn decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Takes `sslmode` and `sslrootcert` out of the query (the driver knows
/// only some modes), returning the rest of the URL.
fn take_tls_params(url: &str, shown: &str) -> Result<(String, Tls, Option<PathBuf>)> {
    let Some((head, query)) = url.split_once('?') else {
        return Ok((url.to_string(), Tls::Prefer, None));
    };
    let mut tls = Tls::Prefer;
    let mut root = None;
    let mut kept = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        match param.split_once('=') {
            Some(("sslmode", mode)) => {
                tls = match mode {
                    "disable" => Tls::Disable,
                    "allow" | "prefer" => Tls::Prefer,
                    "require" => Tls::Require,
                    "verify-ca" => Tls::VerifyCa,
                    "verify-full" => Tls::VerifyFull,
                    other => {
                        return Err(Error::usage(format!(
                            "sslmode '{}' in '{}' is not one of disable, allow, prefer, require, verify-ca, verify-full",
                            crate::text::quote(other),
                            crate::text::quote(shown)
                        ))
                        .into());
                    }
                }
            }
            Some(("sslrootcert", path)) => root = Some(PathBuf::from(path)),
            _ => kept.push(param),
        }
    }
    let rest = if kept.is_empty() {
        head.to_string()
    } else {
        format!("{head}?{}", kept.join("&"))
    };
    Ok((rest, tls, root))
}

/// The password for this connection in a libpq password file: lines of
/// `host:port:database:user:password`, `*` matching anything, `\` escaping
/// `:` and `\`. libpq ignores a file that others can read; so does keyward.
fn from_pgpass(file: &Path, config: &postgres::Config) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(file).ok()?;
    if meta.permissions().mode() & 0o077 != 0 {
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(_)) | None => "localhost".to_string(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or_default()
        .to_string();
    let user = config.get_user().unwrap_or_default().to_string();
    let wanted = [host, port, db, user];
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|line| {
            let fields = split_pgpass(line);
            if fields.len() != 5 {
                return None;
            }
            let matches = fields.iter().zip(&wanted).all(|(f, w)| f == "*" || f == w);
            matches.then(|| fields[4].clone())
        })
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next()
                    && let Some(field) = fields.last_mut()
                {
                    field.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(
            redact("postgres://kw:s3cret@db:5432/keys?sslmode=require"),
            "postgres://kw:***@db:5432/keys?sslmode=require"
        );
        assert_eq!(
            redact("postgresql://kw@db/keys?password=s3cret&sslmode=disable"),
            "postgresql://kw@db/keys?password=***&sslmode=disable"
        );
        assert_eq!(
            redact("postgres:///keys?host=/run/pg"),
            "postgres:///keys?host=/run/pg"
        );
        assert_eq!(redact("postgres://a:b:c@h/d"), "postgres://a:***@h/d");
        assert_eq!(
            redact("postgres://k@h/d?%70assword=x"),
            "postgres://k@h/d?%70assword=***"
        );
        assert_eq!(
            redact("postgres://k@h/d?pass%77ord=x"),
            "postgres://k@h/d?pass%77ord=***"
        );
    }

    #[test]
    fn a_password_that_could_leak_is_refused() {
        for url in [
            "postgres://kw:SECRETp@ss@127.0.0.1/d",
            "postgres://kw%3Asecret@127.0.0.1/d",
        ] {
            let err = PgUrl::parse(url, None).expect_err(url).to_string();
            assert!(!err.contains("SECRET") && !err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn several_hosts_are_all_named() {
        let url = PgUrl::parse("postgres://u:p@a:1,b:2/d", None).expect("hosts");
        assert_eq!(url.server(), "a:1 or b:2");
    }

    #[test]
    fn sslmodes_of_libpq_are_understood() {
        for (mode, tls) in [
            ("disable", Tls::Disable),
            ("prefer", Tls::Prefer),
            ("require", Tls::Require),
            ("verify-ca", Tls::VerifyCa),
            ("verify-full", Tls::VerifyFull),
        ] {
            let url =
                PgUrl::parse(&format!("postgres://u:p@h/d?sslmode={mode}"), None).expect(mode);
            assert_eq!(url.tls, tls);
        }
        let err = PgUrl::parse("postgres://u:p@h/d?sslmode=maybe", None).expect_err("bad mode");
        assert!(!err.to_string().contains(":p@"), "{err}");
    }

    #[test]
    fn a_socket_directory_and_the_server_for_messages() {
        let url = PgUrl::parse("postgres://u@%2Frun%2Fpg:6543/keys", None).expect("socket");
        assert_eq!(url.server(), "/run/pg:6543");
        let url = PgUrl::parse("postgres://u@db.example.com/keys", None).expect("tcp");
        assert_eq!(url.server(), "db.example.com:5432");
    }

    #[test]
    fn pgpass_lines_match_with_wildcards_and_escapes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:5432:*:kw:no\ndb:5432:keys:kw:pa\\:ss\n*:*:*:*:fallback\n",
        )
        .expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let config = postgres::Config::from_str("postgres://kw@db/keys").expect("config");
        assert_eq!(from_pgpass(&file, &config).as_deref(), Some("pa:ss"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(
            from_pgpass(&file, &config),
            None,
            "a readable file is ignored"
        );
    }
}
