//! serve's log: lines gathered in memory and written to stderr by a thread
//! of its own every [`FLUSH_EVERY`], so a request never makes a syscall or
//! wakes a thread to log, and a stalled stderr (a full pipe, a slow
//! journal) never holds up a verdict. A request's line is not even
//! formatted on the request path: the request pushes a [`Logged`] request of
//! plain values, and the writer thread formats it, in its place among the
//! other lines, as tracing's formatter would. Past [`MAX_PENDING`] bytes
//! waiting, lines are dropped and counted, and the count is logged once
//! stderr takes lines again.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use tracing_subscriber::fmt::MakeWriter;

const FLUSH_EVERY: Duration = Duration::from_millis(50);
const MAX_PENDING: usize = 8 << 20;
/// What a request's line is counted as against [`MAX_PENDING`].
const REQUEST_LINE: usize = 200;

/// What the request log says of one request: plain values, formatted by
/// the writer thread.
#[derive(Debug, Clone)]
pub struct Logged {
    pub at: SystemTime,
    /// `None` for a request whose head could not be read.
    pub method: Option<hyper::Method>,
    /// The route's name, never the raw path.
    pub path: &'static str,
    pub status: u16,
    /// `-` for none.
    pub code: &'static str,
    pub key_id: Option<keyward_core::key::KeyId>,
    /// Empty for none.
    pub hint: compact_str::CompactString,
    pub latency_us: u64,
}

/// Lines formatted on the spot (tracing's events), and the requests to be
/// formatted, each with the place in `bytes` its line goes.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    requests: Vec<(usize, Logged)>,
}

impl Pending {
    fn size(&self) -> usize {
        self.bytes.len() + self.requests.len() * REQUEST_LINE
    }
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    dropped: AtomicU64,
    stop: AtomicBool,
    format: Format,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where requests' lines go: cheap to clone, one push a request.
#[derive(Clone)]
pub struct Requests(Arc<Shared>);

impl Requests {
    pub fn push(&self, request: Logged) {
        let mut pending = self.0.pending();
        if pending.size() + REQUEST_LINE > MAX_PENDING {
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            let at = pending.bytes.len();
            pending.requests.push((at, request));
        }
    }
}

/// Writes what is left when dropped (at the end of `serve`).
pub struct Guard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[derive(Clone)]
struct Lines(Arc<Shared>);

/// One event: tracing's fmt layer formats an event, then writes it whole.
struct Line<'a>(&'a Shared);

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut pending = self.0.pending();
        if pending.size() + buf.len() > MAX_PENDING {
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            pending.bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line(&self.0)
    }
}

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the log (text or JSON lines on stderr) and starts its writer.
pub fn init(format: Format) -> Guard {
    let shared = Arc::new(Shared {
        pending: Mutex::default(),
        wake: Condvar::new(),
        dropped: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        format,
    });
    let lines = Lines(Arc::clone(&shared));
    let builder = tracing_subscriber::fmt()
        .with_writer(lines)
        .with_ansi(false)
        .with_target(false);
    let _ = match format {
        Format::Text => builder.try_init(),
        Format::Json => builder.json().flatten_event(true).try_init(),
    };
    let writer = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("keyward-log".into())
        .spawn(move || write_out(&writer))
        .ok();
    Guard { shared, thread }
}

impl Guard {
    /// Where the request path puts its lines.
    pub fn requests(&self) -> Requests {
        Requests(Arc::clone(&self.shared))
    }
}

fn write_out(shared: &Shared) {
    let mut taken = Pending::default();
    let mut out = Vec::new();
    loop {
        let stopping = {
            let pending = shared.pending();
            let (mut pending, _) = shared
                .wake
                .wait_timeout(pending, FLUSH_EVERY)
                .unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut *pending, &mut taken);
            shared.stop.load(Ordering::Acquire)
        };
        let dropped = shared.dropped.swap(0, Ordering::Relaxed);
        render(&mut taken, shared.format, &mut out);
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(&out);
        if dropped > 0 {
            let _ = writeln!(
                stderr,
                "keyward: {dropped} log lines were dropped: stderr did not keep up"
            );
        }
        let _ = stderr.flush();
        out.clear();
        if stopping {
            let mut rest = std::mem::take(&mut *shared.pending());
            render(&mut rest, shared.format, &mut out);
            let _ = stderr.write_all(&out);
            return;
        }
    }
}

/// Writes what is pending into `out`, request lines in their places, and
/// empties it (keeping its memory).
fn render(pending: &mut Pending, format: Format, out: &mut Vec<u8>) {
    let mut from = 0;
    for (at, request) in pending.requests.drain(..) {
        out.extend_from_slice(&pending.bytes[from..at]);
        from = at;
        request_line(&request, format, out);
    }
    out.extend_from_slice(&pending.bytes[from..]);
    pending.bytes.clear();
}

/// A request's line, as tracing's formatter writes the event
/// `info!(method, path, status, code, key_id, hint, latency_us, "request")`
/// with the layer `init` sets up (no target, no colour; JSON flattened).
fn request_line(r: &Logged, format: Format, out: &mut Vec<u8>) {
    let key_id = r.key_id.as_ref().map_or("-", |id| id.as_str());
    let hint = if r.hint.is_empty() {
        "-"
    } else {
        r.hint.as_str()
    };
    let at = timestamp(r.at);
    let _ = match format {
        Format::Text => writeln!(
            out,
            "{at}  INFO request method={} path={} status={} code={} key_id={key_id} hint={hint} \
             latency_us={}",
            method(r),
            r.path,
            r.status,
            r.code,
            r.latency_us
        ),
        Format::Json => {
            let text = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"-\"".into());
            writeln!(
                out,
                "{{\"timestamp\":\"{at}\",\"level\":\"INFO\",\"message\":\"request\",\"method\":{},\
                 \"path\":{},\"status\":{},\"code\":{},\"key_id\":{},\"hint\":{},\"latency_us\":{}}}",
                text(method(r)),
                text(r.path),
                r.status,
                text(r.code),
                text(key_id),
                text(hint),
                r.latency_us
            )
        }
    };
}

fn method(r: &Logged) -> &str {
    r.method.as_ref().map_or("-", hyper::Method::as_str)
}

/// `2026-12-01T14:19:28.135855Z`, as tracing's formatter writes a time.
fn timestamp(at: SystemTime) -> String {
    use time::format_description::well_known::iso8601::{
        Config, EncodedConfig, Iso8601, TimePrecision,
    };
    const FORMAT: EncodedConfig = Config::DEFAULT
        .set_time_precision(TimePrecision::Second {
            decimal_digits: std::num::NonZeroU8::new(6),
        })
        .encode();
    time::OffsetDateTime::from(at)
        .format(&Iso8601::<FORMAT>)
        .unwrap_or_else(|_| "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// The line tracing's formatter writes for a request event, with the
    /// layer `init` installs.
    fn by_tracing(format: Format, method: &str, key_id: &str, hint: &str) -> String {
        let captured = Captured::default();
        let builder = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .with_target(false);
        let event = || {
            tracing::info!(
                method = %method,
                path = %"/v1/authz",
                status = 200u16,
                code = %"VALID",
                key_id = %key_id,
                hint = %hint,
                latency_us = 417u64,
                "request"
            )
        };
        match format {
            Format::Text => tracing::subscriber::with_default(builder.finish(), event),
            Format::Json => tracing::subscriber::with_default(
                builder.json().flatten_event(true).finish(),
                event,
            ),
        }
        let bytes = captured.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    fn by_writer(format: Format, method: &str, key_id: &str, hint: &str) -> String {
        let mut out = Vec::new();
        let logged = Logged {
            at: SystemTime::now(),
            method: Some(hyper::Method::from_bytes(method.as_bytes()).expect("method")),
            path: "/v1/authz",
            status: 200,
            code: "VALID",
            key_id: (key_id != "-").then(|| keyward_core::key::KeyId::stored(key_id.into())),
            hint: if hint == "-" {
                Default::default()
            } else {
                hint.into()
            },
            latency_us: 417,
        };
        request_line(&logged, format, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    /// The line without its time, which differs between the two.
    fn timeless(line: &str) -> String {
        match line.split_once("\"timestamp\":\"") {
            Some((head, rest)) => {
                let after = rest.split_once('"').map_or("", |(_, a)| a);
                format!("{head}\"timestamp\":\"T\"{after}")
            }
            None => line.get(27..).unwrap_or_default().to_string(),
        }
    }

    #[test]
    fn a_request_line_reads_as_tracing_would_have_written_it() {
        for format in [Format::Text, Format::Json] {
            for (method, key_id, hint) in [
                ("GET", "key_f2cfdpsiuxc5ffmx", "kw_…5ExD"),
                ("PROPFIND", "-", "-"),
            ] {
                let ours = by_writer(format, method, key_id, hint);
                let theirs = by_tracing(format, method, key_id, hint);
                assert_eq!(timeless(&ours), timeless(&theirs), "{format:?}");
                assert_eq!(ours.len(), theirs.len(), "{ours}{theirs}");
            }
        }
    }

    #[test]
    fn request_lines_keep_their_place_among_other_lines() {
        let mut pending = Pending::default();
        pending.bytes.extend_from_slice(b"first\n");
        let at = pending.bytes.len();
        pending.requests.push((
            at,
            Logged {
                at: SystemTime::UNIX_EPOCH,
                method: None,
                path: "-",
                status: 400,
                code: "-",
                key_id: None,
                hint: Default::default(),
                latency_us: 0,
            },
        ));
        pending.bytes.extend_from_slice(b"last\n");
        let mut out = Vec::new();
        render(&mut pending, Format::Text, &mut out);
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(
            text,
            "first\n1970-01-01T00:00:00.000000Z  INFO request method=- path=- status=400 code=- \
             key_id=- hint=- latency_us=0\nlast\n"
        );
        assert!(pending.bytes.is_empty() && pending.requests.is_empty());
    }
}
