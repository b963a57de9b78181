//! A PostgreSQL vault location, read as libpq reads it: a URL
//! (`postgres://` or `postgresql://`) or a `key=value` string, its password
//! taken from it, `PGPASSWORD` or `~/.pgpass`, and a form to show with every
//! password as `***`. What libpq would read otherwise than meant (a password
//! with an unencoded `/`) is refused, naming no part of it.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use postgres::config::{Host, SslMode};

use keyward_core::error::{Error, Result};
#[cfg(test)]
use keyward_core::store::location::names_postgres;
use keyward_core::store::location::{is_space, is_space_char, scheme};

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
    /// A password file that would have been read but others can read it.
    pgpass_ignored: Option<PathBuf>,
    shown: String,
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// The length of the `postgres://` or `postgresql://` that starts a URL
/// libpq reads as one; anything else that [`scheme`] found is refused,
/// naming only the scheme.
fn url_prefix(location: &str) -> Result<Option<usize>> {
    let Some(scheme) = scheme(location) else {
        return Ok(None);
    };
    if let Some(prefix) = ["postgresql://", "postgres://"]
        .iter()
        .find(|p| location.starts_with(*p))
    {
        return Ok(Some(prefix.len()));
    }
    if scheme.eq_ignore_ascii_case("postgres") || scheme.eq_ignore_ascii_case("postgresql") {
        return Err(refuse(
            "a PostgreSQL URL starts with postgres:// or postgresql://, in lower case, with \
             two slashes and nothing before it (libpq reads no other)"
                .to_string(),
        ));
    }
    Err(refuse(format!(
        "a vault is a SQLite file path, a postgres:// URL or a libpq key=value string, not a \
         {}:// URL (write a file of such a name as ./…)",
        keyward_core::shown::quote(scheme)
    )))
}

/// The options whose values are never shown.
fn is_secret(keyword: &str) -> bool {
    keyword == "password" || keyword == "sslpassword"
}

/// How to write characters libpq would not read as part of a password.
const ENCODE_HINT: &str = "percent-encode the password: / as %2F, ? as %3F, # as %23, @ as %40, \
     & as %26, = as %3D, % as %25 (jq -rn --arg p \"$PW\" '$p|@uri' prints it encoded)";

fn refuse(message: String) -> anyhow::Error {
    Error::usage(message).into()
}

/// One connection option as libpq reads it, in the order given.
struct Opt {
    keyword: String,
    value: Vec<u8>,
    /// Whether it came right after a password: a malformed or unknown
    /// keyword there may be a piece of that password, so it is not named.
    after_secret: bool,
}

impl Opt {
    /// The option as messages name it.
    fn named(&self) -> String {
        if self.after_secret {
            "an option after a password (a password holding & or a space, unencoded or \
             unquoted, is split there)"
                .to_string()
        } else {
            format!("'{}'", keyward_core::shown::quote(&self.keyword))
        }
    }

    fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.value)
            .map_err(|_| refuse(format!("the value of {} is not UTF-8", self.named())))
    }
}

/// A location read as libpq reads it: its options, and the form to show.
struct Parsed {
    options: Vec<Opt>,
    shown: String,
}

/// A URL component with its %XX escapes decoded, refused as libpq refuses
/// a malformed escape or %00 (naming the component, never its text).
fn decode(text: &str, what: &str) -> Result<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let (Some(hi), Some(lo)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
            return Err(refuse(format!(
                "{what} in the PostgreSQL URL has a % that does not start an escape \
                 like %2F: write a % as %25"
            )));
        };
        let byte = u8::try_from(hi * 16 + lo).unwrap_or(0);
        if byte == 0 {
            return Err(refuse(format!(
                "{what} in the PostgreSQL URL holds %00, which libpq refuses"
            )));
        }
        out.push(byte);
        i += 3;
    }
    Ok(out)
}

fn push(options: &mut Vec<Opt>, keyword: &str, value: Vec<u8>) {
    options.push(Opt {
        keyword: keyword.to_string(),
        value,
        after_secret: false,
    });
}

/// A URL, read as libpq's `conninfo_uri_parse_options` reads it. Where
/// libpq would read part of a password as a host, port or database (an
/// unencoded `/` before its `@`), the URL is refused, naming no part of it.
fn parse_url(url: &str, scheme: usize) -> Result<Parsed> {
    let (prefix, rest) = url.split_at(scheme);
    let mut options = Vec::new();
    let mut shown = prefix.to_string();
    // libpq looks for USER[:PASSWORD]@ only up to the first `/`.
    let (credentials, netloc) = match rest.find(['@', '/']) {
        Some(at) if rest.as_bytes()[at] == b'@' => (Some(&rest[..at]), &rest[at + 1..]),
        _ => (None, rest),
    };
    if netloc.contains('@') {
        let problem = match credentials {
            Some(_) => "has more than one @",
            None => {
                "has an @ after a / (libpq ends USER:PASSWORD at the first /, so it would read \
                 part of the password as the host)"
            }
        };
        return Err(refuse(format!(
            "the PostgreSQL URL ({prefix}…) {problem}: {ENCODE_HINT}, and any other @ as %40"
        )));
    }
    if let Some(credentials) = credentials {
        let (user, password) = match credentials.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (credentials, None),
        };
        let user_text = decode(user, "the user name")?;
        if user_text.contains(&b':') {
            return Err(refuse(
                "the user name in the PostgreSQL URL holds an encoded ':': put the password \
                 after an unencoded ':' (postgres://USER:PASSWORD@HOST/DB) so that it is \
                 never shown"
                    .to_string(),
            ));
        }
        if !user.is_empty() {
            push(&mut options, "user", user_text);
        }
        shown.push_str(user);
        if let Some(password) = password {
            shown.push_str(":***");
            if !password.is_empty() {
                push(&mut options, "password", decode(password, "the password")?);
            }
        }
        shown.push('@');
    }
    let end = netloc.find(['/', '?']).unwrap_or(netloc.len());
    let (hostports, tail) = netloc.split_at(end);
    shown.push_str(hostports);
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    for part in hostports.split(',') {
        let (host, port) = if let Some(inner) = part.strip_prefix('[') {
            let Some((host, after)) = inner.split_once(']').filter(|(h, _)| !h.is_empty()) else {
                return Err(refuse(format!(
                    "an IPv6 address in the PostgreSQL URL ({prefix}…) is not closed by ]"
                )));
            };
            match after {
                "" => (host, ""),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, port),
                    None => {
                        return Err(refuse(format!(
                            "the PostgreSQL URL ({prefix}…) has text after the ] of an IPv6 \
                             address where a :PORT, /, ? or , belongs"
                        )));
                    }
                },
            }
        } else {
            part.split_once(':').unwrap_or((part, ""))
        };
        hosts.push(host);
        ports.push(port);
    }
    if hosts.iter().any(|h| !h.is_empty()) {
        push(&mut options, "host", decode(&hosts.join(","), "the host")?);
    }
    if ports.iter().any(|p| !p.is_empty()) {
        push(&mut options, "port", decode(&ports.join(","), "the port")?);
    }
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    if let Some(db) = path.strip_prefix('/') {
        shown.push('/');
        shown.push_str(db);
        if !db.is_empty() {
            push(&mut options, "dbname", decode(db, "the database name")?);
        }
    }
    let Some(query) = query else {
        return Ok(Parsed { options, shown });
    };
    let mut after_secret = false;
    let mut params = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let Some((key, value)) = param.split_once('=') else {
            return Err(refuse(format!(
                "a query parameter of the PostgreSQL URL ({prefix}…) has no '=' \
                 (an & in a value is written %26)"
            )));
        };
        let keyword = String::from_utf8_lossy(&decode(key, "a query parameter")?).into_owned();
        let mut opt = Opt {
            keyword,
            value: Vec::new(),
            after_secret,
        };
        if value.contains('=') {
            return Err(refuse(format!(
                "the value of {} in the PostgreSQL URL holds a second '=': {ENCODE_HINT}",
                opt.named()
            )));
        }
        opt.value = decode(value, "a query parameter's value")?;
        if opt.keyword == "ssl" && opt.value == b"true" {
            // libpq's alias, kept from JDBC.
            opt.keyword = "sslmode".to_string();
            opt.value = b"require".to_vec();
        }
        after_secret = is_secret(&opt.keyword);
        params.push(match after_secret {
            true => format!("{key}=***"),
            false => param.to_string(),
        });
        options.push(opt);
    }
    shown.push('?');
    shown.push_str(&params.join("&"));
    Ok(Parsed { options, shown })
}

/// A `key=value` string, read as libpq's `conninfo_parse` reads it: values
/// in single quotes may hold spaces, `\` escapes the next character.
fn parse_conninfo(text: &str) -> Result<Parsed> {
    let bytes = text.as_bytes();
    let mut options: Vec<Opt> = Vec::new();
    let mut i = 0;
    let skip_space = |i: &mut usize| {
        while bytes.get(*i).copied().is_some_and(is_space) {
            *i += 1;
        }
    };
    loop {
        skip_space(&mut i);
        if i == bytes.len() {
            break;
        }
        let after_secret = options.last().is_some_and(|o| is_secret(&o.keyword));
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && !is_space(bytes[i]) {
            i += 1;
        }
        let mut opt = Opt {
            keyword: String::from_utf8_lossy(&bytes[start..i]).into_owned(),
            value: Vec::new(),
            after_secret,
        };
        skip_space(&mut i);
        if bytes.get(i) != Some(&b'=') {
            return Err(refuse(format!(
                "{} has no '=' in the PostgreSQL connection string (quote a value holding \
                 spaces: password='…')",
                opt.named()
            )));
        }
        i += 1;
        skip_space(&mut i);
        let quoted = bytes.get(i) == Some(&b'\'');
        if quoted {
            i += 1;
        }
        loop {
            match bytes.get(i) {
                None if quoted => {
                    return Err(refuse(
                        "a value in the PostgreSQL connection string opens a quote it never \
                         closes (write ' inside a quoted value as \\')"
                            .to_string(),
                    ));
                }
                None => break,
                Some(b'\'') if quoted => {
                    i += 1;
                    break;
                }
                Some(&b) if !quoted && is_space(b) => break,
                Some(b'\\') => {
                    if let Some(&next) = bytes.get(i + 1) {
                        opt.value.push(next);
                    }
                    i += 2;
                }
                Some(&b) => {
                    opt.value.push(b);
                    i += 1;
                }
            }
        }
        options.push(opt);
    }
    let shown = options
        .iter()
        .map(|o| match is_secret(&o.keyword) {
            true => format!("{}=***", o.keyword),
            false => format!("{}={}", o.keyword, conninfo_value(&o.value)),
        })
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Parsed { options, shown })
}

/// A value as a `key=value` string holds it, quoted where it must be.
fn conninfo_value(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    if !text.is_empty() && !text.contains(|c: char| is_space_char(c) || c == '\'' || c == '\\') {
        return text.into_owned();
    }
    let mut out = String::from("'");
    for c in text.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The options the driver takes as they are (`keepalives_count` is its
/// `keepalives_retries`).
const DRIVER_OPTIONS: &[&str] = &[
    "user",
    "dbname",
    "options",
    "application_name",
    "host",
    "hostaddr",
    "port",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
    "sslnegotiation",
];

/// libpq options keyward does not honour: refused, so that none is
/// silently dropped.
const UNSUPPORTED: &[&str] = &[
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcertmode",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "sslcompression",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requiressl",
    "requirepeer",
    "require_auth",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "replication",
    "client_encoding",
    "scram_client_key",
    "scram_server_key",
    "min_protocol_version",
    "max_protocol_version",
    "oauth_issuer",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
];

/// What a location's options ask for, past the driver's own ones.
struct Taken {
    config: postgres::Config,
    tls: Tls,
    root_cert: Option<PathBuf>,
    passfile: Option<PathBuf>,
}

/// What keyward does with an option.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Password,
    SslMode,
    SslRootCert,
    PassFile,
    GssEncMode,
    /// Read by libpq only without `application_name`; keyward names itself.
    Ignored,
    Driver,
    Unsupported,
    Unknown,
}

fn kind(keyword: &str) -> Kind {
    match keyword {
        "password" => Kind::Password,
        "sslmode" => Kind::SslMode,
        "sslrootcert" => Kind::SslRootCert,
        "passfile" => Kind::PassFile,
        "gssencmode" => Kind::GssEncMode,
        "fallback_application_name" => Kind::Ignored,
        k if DRIVER_OPTIONS.contains(&k) => Kind::Driver,
        k if UNSUPPORTED.contains(&k) => Kind::Unsupported,
        _ => Kind::Unknown,
    }
}

fn take_options(options: &[Opt]) -> Result<Taken> {
    // Keywords first: one that is a piece of a password must be refused
    // before any message shows the location (which would hold it).
    for opt in options {
        match kind(&opt.keyword) {
            Kind::Unknown | Kind::Unsupported if opt.after_secret => {
                return Err(refuse(format!(
                    "{} is not a libpq connection option keyward knows",
                    opt.named()
                )));
            }
            Kind::Unsupported => {
                return Err(refuse(format!(
                    "the libpq option {} in the vault location is not supported by keyward",
                    opt.named()
                )));
            }
            Kind::Unknown => {
                return Err(refuse(format!(
                    "{} in the vault location is not a libpq connection option keyward knows{}",
                    opt.named(),
                    match kind(&opt.keyword.to_ascii_lowercase()) {
                        Kind::Unknown => String::new(),
                        _ => format!(
                            " (libpq reads option names in lower case only: write {})",
                            opt.keyword.to_ascii_lowercase()
                        ),
                    }
                )));
            }
            _ => {}
        }
    }
    let mut tls = Tls::Prefer;
    let mut root_cert = None;
    let mut passfile = None;
    let mut password = None;
    let mut application_name = false;
    let mut driver = Vec::new();
    for opt in options {
        match kind(&opt.keyword) {
            Kind::Password => password = Some(opt.value.clone()),
            Kind::SslMode => {
                tls = match opt.text()? {
                    "disable" => Tls::Disable,
                    "allow" | "prefer" => Tls::Prefer,
                    "require" => Tls::Require,
                    "verify-ca" => Tls::VerifyCa,
                    "verify-full" => Tls::VerifyFull,
                    other => {
                        return Err(refuse(format!(
                            "sslmode '{}' in the vault location is not one of disable, allow, prefer, \
                             require, verify-ca, verify-full",
                            keyward_core::shown::quote(other)
                        )));
                    }
                }
            }
            Kind::SslRootCert => root_cert = Some(PathBuf::from(opt.text()?)),
            Kind::PassFile => passfile = Some(PathBuf::from(opt.text()?)),
            // keyward never uses GSS encryption, which is what `disable` asks.
            Kind::GssEncMode if opt.value == b"disable" => {}
            Kind::GssEncMode => {
                return Err(refuse(
                    "gssencmode in the vault location may only be disable: keyward never uses \
                     GSS encryption, so disable is what it does anyway (sslmode sets encryption)"
                        .to_string(),
                ));
            }
            Kind::Driver => {
                let k = opt.keyword.as_str();
                application_name |= k == "application_name";
                let k = if k == "keepalives_count" {
                    "keepalives_retries"
                } else {
                    k
                };
                driver.push(format!("{k}={}", conninfo_value(opt.text()?.as_bytes())));
            }
            // Refused above.
            Kind::Ignored | Kind::Unsupported | Kind::Unknown => {}
        }
    }
    let mut config = match driver.is_empty() {
        true => postgres::Config::new(),
        // The driver's messages name the option, never its value.
        false => postgres::Config::from_str(&driver.join(" ")).map_err(|e| {
            let cause = std::error::Error::source(&e).map_or(e.to_string(), |s| s.to_string());
            refuse(format!(
                "the vault location is not a PostgreSQL location keyward can use: {cause} \
                 (e.g. postgres://keyward:PASSWORD@db.example.com/keys?sslmode=require; \
                 a password needs a user before it and @host after it)"
            ))
        })?,
    };
    if let Some(password) = password {
        config.password(password);
    }
    if !application_name {
        config.application_name("keyward");
    }
    Ok(Taken {
        config,
        tls,
        root_cert,
        passfile,
    })
}

impl PgUrl {
    /// Parses a location (a URL or a `key=value` string) as libpq does;
    /// `pgpass` is the password file to look in when neither the location
    /// nor `PGPASSWORD` has a password (the location's `passfile` comes
    /// first).
    pub fn parse(location: &str, pgpass: Option<&Path>) -> Result<Self> {
        let parsed = match url_prefix(location)? {
            Some(prefix) => parse_url(location, prefix)?,
            None => parse_conninfo(location)?,
        };
        // A user or host shaped like a secret is shown as its hint too.
        let shown = keyward_core::secret::mask(&parsed.shown).into_owned();
        let Taken {
            mut config,
            tls,
            root_cert,
            passfile,
        } = take_options(&parsed.options)?;
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
        let mut pgpass_ignored = None;
        if config.get_password().is_none() {
            if let Ok(pw) = std::env::var("PGPASSWORD") {
                config.password(pw);
            } else if let Some(file) = passfile.as_deref().or(pgpass) {
                match from_pgpass(file, &config) {
                    Pgpass::Found(pw) => {
                        config.password(pw);
                    }
                    Pgpass::Readable => pgpass_ignored = Some(file.to_path_buf()),
                    Pgpass::None => {}
                }
            }
        }
        Ok(PgUrl {
            config,
            tls,
            root_cert,
            pgpass_ignored,
            shown,
        })
    }

    /// What to add to a failure to connect: a password file that was
    /// ignored because others can read it (libpq warns of it too).
    pub fn pgpass_note(&self) -> Option<String> {
        self.pgpass_ignored.as_ref().map(|file| {
            format!(
                "the password file {} was ignored because others can read it \
                 (chmod 600 it, as libpq requires)",
                file.display()
            )
        })
    }

    /// The location with its passwords replaced by `***`.
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

/// The password for this connection in a libpq password file: lines of
/// `host:port:database:user:password`, `*` matching anything, `\` escaping
/// `:` and `\`. libpq ignores a file that others can read; so does keyward
/// (and says so when connecting fails).
fn from_pgpass(file: &Path, config: &postgres::Config) -> Pgpass {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(file) else {
        return Pgpass::None;
    };
    if meta.permissions().mode() & 0o077 != 0 {
        return Pgpass::Readable;
    }
    let Ok(text) = std::fs::read_to_string(file) else {
        return Pgpass::None;
    };
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
        .map_or(Pgpass::None, Pgpass::Found)
}

/// What a password file gave.
#[derive(Debug, PartialEq, Eq)]
enum Pgpass {
    Found(String),
    /// Others can read the file, so it was not read (as libpq does).
    Readable,
    None,
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

    fn shown(location: &str) -> String {
        match PgUrl::parse(location, None) {
            Ok(url) => url.shown().to_string(),
            Err(e) => format!("refused: {e}"),
        }
    }

    #[test]
    fn passwords_are_never_shown() {
        for (location, expected) in [
            (
                "postgres://kw:s3cret@db:5432/keys?sslmode=require",
                "postgres://kw:***@db:5432/keys?sslmode=require",
            ),
            (
                "postgresql://kw@db/keys?password=s3cret&sslmode=disable",
                "postgresql://kw@db/keys?password=***&sslmode=disable",
            ),
            (
                "postgres:///keys?host=/run/pg",
                "postgres:///keys?host=/run/pg",
            ),
            ("postgres://a:b:c@h/d", "postgres://a:***@h/d"),
            (
                "postgres://k@h/d?%70assword=x",
                "postgres://k@h/d?%70assword=***",
            ),
            (
                "postgres://k@h/d?pass%77ord=x",
                "postgres://k@h/d?pass%77ord=***",
            ),
            ("postgres://k:pa?ss#w,d@h/d", "postgres://k:***@h/d"),
            ("postgres://:secret@h/d", "postgres://:***@h/d"),
            (
                "host=h password='a b\\'c' user=k dbname=d",
                "host=h password=*** user=k dbname=d",
            ),
            (
                "host = h  port=5 application_name=''",
                "host=h port=5 application_name=''",
            ),
        ] {
            assert_eq!(shown(location), expected, "{location}");
        }
    }

    #[test]
    fn the_password_is_what_libpq_reads() {
        for (location, password) in [
            ("postgres://k:pa?ss#w,d@h/d", &b"pa?ss#w,d"[..]),
            ("postgres://k:a%2Fb%40c@h/d", b"a/b@c"),
            ("postgres://k:a+b=@h/d", b"a+b="),
            ("postgres://k@h/d?password=a%26b%3D", b"a&b="),
            ("host=h password='a b\\'c'", b"a b'c"),
            ("host=h password=a\\ b", b"a b"),
        ] {
            let url = PgUrl::parse(location, None).expect(location);
            assert_eq!(url.config.get_password(), Some(password), "{location}");
        }
        let url = PgUrl::parse("postgres://k@[::1]:6000,b/d%20b?ssl=true", None).expect("url");
        assert_eq!(url.server(), "::1:6000 or b:5432");
        assert_eq!(url.config.get_dbname(), Some("d b"));
        assert_eq!(url.tls, Tls::Require);
        let url = PgUrl::parse(
            "host=/run/pg options='-c search_path=a\\'b' application_name=x keepalives_count=3",
            None,
        )
        .expect("conninfo");
        assert_eq!(url.server(), "/run/pg:5432");
        assert_eq!(url.config.get_options(), Some("-c search_path=a'b"));
        assert_eq!(url.config.get_application_name(), Some("x"));
        assert_eq!(url.config.get_keepalives_retries(), Some(3));
    }

    #[test]
    fn a_password_that_could_leak_is_refused() {
        for url in [
            "postgres://kw:SECRETp@ss@127.0.0.1/d",
            "postgres://kw%3Asecret@127.0.0.1/d",
            "postgres://kw:SEC/RET@127.0.0.1/d",
            "postgres://kw:SE?C/RET@127.0.0.1/d",
            "postgres://kw@h/d?password=SECRET==",
            "postgres://kw@h/d?password=SE&CRET",
            "postgres://kw@h/d?password=SE&CRET=x",
            "postgres://kw@h/d?password=SE%zzCRET",
            "postgres://kw@h/d?sslpassword=SECRET",
            "POSTGRES://kw:SECRET@h/d",
            "Postgresql://kw:SECRET@h/d",
            "host=h password=SE CRET",
            "host=h password=SE CRET=x",
            "host=h password='SECRET",
        ] {
            let err = PgUrl::parse(url, None).expect_err(url).to_string();
            assert!(
                !err.to_lowercase().contains("secret") && !err.contains("CRET"),
                "{url}: {err}"
            );
        }
    }

    /// Found by a tester: a keyword libpq does not know is no password to
    /// libpq, so the location quoted in the error held its value in clear.
    #[test]
    fn errors_name_the_option_never_the_location() {
        for location in [
            "postgres://u@127.0.0.1:1/kw?PASSWORD=QQpw",
            "postgres://u@h/kw?sslPassword=QQpw",
            "Password=QQpw host=h",
            "host=h pwd=QQpw",
            "host=h gssencmode=x password=QQpw",
            "postgres://u:QQpw/kw",
            "postgres://u:QQpw@h/kw?sslmode=bad",
            "postgres://u:QQpw@h/kw?gssencmode=prefer",
            "postgres://u:QQpw@h/kw?requiressl=1",
        ] {
            let err = PgUrl::parse(location, None)
                .expect_err(location)
                .to_string();
            assert!(!err.contains("QQpw"), "{location}: {err}");
        }
        let err = PgUrl::parse("host=h PASSWORD=QQpw", None)
            .expect_err("upper case")
            .to_string();
        assert!(
            err.contains("'PASSWORD'") && err.contains("write password"),
            "{err}"
        );
        let secret = keyward_core::secret::generate("kw").expect("rng");
        let url = PgUrl::parse(&format!("postgres://{}@h/d", secret.expose()), None)
            .expect("a user shaped like a secret");
        assert!(!url.shown().contains(secret.expose()), "{}", url.shown());
        let long = format!("host=h {}=QQpw", "x".repeat(200));
        let err = PgUrl::parse(&long, None).expect_err("long").to_string();
        assert!(err.len() < 200, "cut to 64: {err}");
    }

    #[test]
    fn locations_are_told_from_file_names() {
        for location in [
            "postgres://h/d",
            "POSTGRES://h/d",
            "PostgreSQL://h/d",
            "host=h",
            "  dbname = d",
        ] {
            assert!(names_postgres(location), "{location}");
        }
        for location in [
            "postgres:/h",
            " postgres://h",
            "postgres:h",
            "mysql://u:SECRET@h/d",
            "file:///tmp/x",
        ] {
            assert!(names_postgres(location), "{location}");
            let err = PgUrl::parse(location, None)
                .expect_err(location)
                .to_string();
            assert!(!err.contains("SECRET") && !err.contains("/h"), "{err}");
        }
        for path in [
            "vault.db", "./host=h", "/tmp/a=b", "=x", "a b=c", "C:\\v.db", "a:b",
        ] {
            assert!(!names_postgres(path), "{path}");
        }
    }

    #[test]
    fn gssencmode_disable_is_what_keyward_does() {
        assert!(PgUrl::parse("postgres://h/d?gssencmode=disable", None).is_ok());
        assert!(PgUrl::parse("host=h gssencmode=disable", None).is_ok());
        for mode in ["prefer", "require"] {
            let err = PgUrl::parse(&format!("postgres://h/d?gssencmode={mode}"), None)
                .expect_err(mode)
                .to_string();
            assert!(err.contains("GSS encryption"), "{err}");
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
        assert_eq!(from_pgpass(&file, &config), Pgpass::Found("pa:ss".into()));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(
            from_pgpass(&file, &config),
            Pgpass::Readable,
            "a readable file is ignored"
        );
    }
}
