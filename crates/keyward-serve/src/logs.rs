//! serve's log: lines gathered in memory and written to stderr by a thread
//! of its own every [`FLUSH_EVERY`], so a request never makes a syscall or
//! wakes a thread to log, and a stalled stderr (a full pipe, a slow
//! journal) never holds up a verdict. A request's line is not even
//! formatted on the request path: the request pushes a [`Logged`] record of
//! plain values into its own thread's list (no lock another worker takes),
//! and the writer thread formats it, in its place among the other lines by
//! time, as tracing's formatter would. Past [`MAX_PENDING`] bytes of other
//! lines, or [`MAX_THREAD_REQUESTS`] requests from one thread, waiting,
//! lines are dropped and counted, and the count is logged once stderr
//! takes lines again.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use keyward_core::key::KeyId;
use keyward_core::striped::Striped;
use tracing_subscriber::fmt::MakeWriter;

const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Bytes of formatted lines (tracing's events) waiting, at most.
const MAX_PENDING: usize = 8 << 20;
/// Requests waiting per thread, at most (about 2 MiB of lines each).
const MAX_THREAD_REQUESTS: usize = 10_000;

/// How the request log names a key: its id and hint (`kw_…5ExD`), never
/// its secret.
#[derive(Debug, Clone)]
pub struct ShownKey {
    pub id: KeyId,
    pub prefix: compact_str::CompactString,
    pub hint: compact_str::CompactString,
}

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
    pub key: Option<ShownKey>,
    pub latency_us: u64,
}

/// Lines formatted on the spot (tracing's events), each with when it came.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Where each event's text starts in `bytes`, and when it was written.
    events: Vec<(usize, SystemTime)>,
}

struct Shared {
    pending: Mutex<Pending>,
    /// Requests to be formatted, per thread.
    requests: Striped<Mutex<Vec<Logged>>>,
    wake: Condvar,
    dropped: AtomicU64,
    stop: AtomicBool,
    format: Format,
}

impl Shared {
    fn new(format: Format) -> Self {
        Shared {
            pending: Mutex::default(),
            requests: Striped::default(),
            wake: Condvar::new(),
            dropped: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            format,
        }
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn locked(requests: &Mutex<Vec<Logged>>) -> MutexGuard<'_, Vec<Logged>> {
    requests.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where requests' lines go: cheap to clone, one push a request.
#[derive(Clone)]
pub struct Requests(Arc<Shared>);

impl Requests {
    pub fn push(&self, request: Logged) {
        let mut mine = locked(self.0.requests.mine());
        if mine.len() >= MAX_THREAD_REQUESTS {
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            mine.push(request);
        }
    }
}

/// Writes what is left when dropped (at the end of `serve`).
pub struct Guard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// How long the end of `serve` waits for the last lines to reach stderr: a
/// stderr nobody reads (a full pipe) must not keep serve from exiting.
const LAST_WRITE: Duration = Duration::from_millis(500);

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let give_up = std::time::Instant::now() + LAST_WRITE;
            while !t.is_finished() && std::time::Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(5));
            }
            // A writer still blocked on stderr is left to the exit.
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

#[derive(Clone)]
struct Lines(Arc<Shared>);

/// One event: tracing's fmt layer formats an event, then writes it whole.
struct Line<'a>(&'a Shared);

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let at = SystemTime::now();
        let mut pending = self.0.pending();
        if pending.bytes.len() + buf.len() > MAX_PENDING {
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            let start = pending.bytes.len();
            pending.events.push((start, at));
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
    let shared = Arc::new(Shared::new(format));
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
    let mut requests = Vec::new();
    let mut spares = Vec::new();
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
        take_requests(shared, &mut spares, &mut requests);
        let dropped = shared.dropped.swap(0, Ordering::Relaxed);
        render(&mut taken, &mut requests, shared.format, &mut out);
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
            take_requests(shared, &mut spares, &mut requests);
            render(&mut rest, &mut requests, shared.format, &mut out);
            let _ = stderr.write_all(&out);
            return;
        }
    }
}

/// Every thread's waiting requests, appended to `into`. Each thread's
/// list is swapped for an empty one (`spares`, kept from the last time
/// with their memory) under its lock, and copied out after: a thread's
/// requests never wait for the copy.
fn take_requests(shared: &Shared, spares: &mut Vec<Vec<Logged>>, into: &mut Vec<Logged>) {
    for (i, stripe) in shared.requests.iter().enumerate() {
        if spares.len() <= i {
            spares.push(Vec::new());
        }
        let spare = &mut spares[i];
        std::mem::swap(&mut *locked(stripe), spare);
        into.append(spare);
    }
}

/// Writes what is pending into `out`: the events, and the requests in
/// their places among them by time; and empties both (keeping memory).
fn render(pending: &mut Pending, requests: &mut Vec<Logged>, format: Format, out: &mut Vec<u8>) {
    let stamps = &mut Stamps::default();
    // Each thread's requests came in order; between threads, by time.
    requests.sort_by_key(|r| r.at);
    let mut requests = requests.drain(..).peekable();
    let events = std::mem::take(&mut pending.events);
    for (i, &(start, at)) in events.iter().enumerate() {
        while let Some(r) = requests.next_if(|r| r.at <= at) {
            request_line(&r, format, stamps, out);
        }
        let end = events.get(i + 1).map_or(pending.bytes.len(), |e| e.0);
        out.extend_from_slice(pending.bytes.get(start..end).unwrap_or_default());
    }
    for r in requests {
        request_line(&r, format, stamps, out);
    }
    pending.bytes.clear();
    pending.events = events;
    pending.events.clear();
}

/// A request's line, as tracing's formatter writes the event
/// `info!(method, path, status, code, key_id, hint, latency_us, "request")`
/// with the layer `init` sets up (no target, no colour; JSON flattened);
/// written piece by piece (no `format!`: the writer formats every request).
fn request_line(r: &Logged, format: Format, stamps: &mut Stamps, out: &mut Vec<u8>) {
    let key_id = r.key.as_ref().map_or("-", |k| k.id.as_str());
    let hint = |out: &mut Vec<u8>| match &r.key {
        None => out.push(b'-'),
        Some(k) => {
            out.extend_from_slice(k.prefix.as_bytes());
            out.extend_from_slice("_…".as_bytes());
            out.extend_from_slice(k.hint.as_bytes());
        }
    };
    let mut numbers = itoa::Buffer::new();
    match format {
        Format::Text => {
            stamps.write(r.at, out);
            out.extend_from_slice(b"  INFO request method=");
            out.extend_from_slice(method(r).as_bytes());
            out.extend_from_slice(b" path=");
            out.extend_from_slice(r.path.as_bytes());
            out.extend_from_slice(b" status=");
            out.extend_from_slice(numbers.format(r.status).as_bytes());
            out.extend_from_slice(b" code=");
            out.extend_from_slice(r.code.as_bytes());
            out.extend_from_slice(b" key_id=");
            out.extend_from_slice(key_id.as_bytes());
            out.extend_from_slice(b" hint=");
            hint(out);
            out.extend_from_slice(b" latency_us=");
            out.extend_from_slice(numbers.format(r.latency_us).as_bytes());
        }
        Format::Json => {
            out.extend_from_slice(b"{\"timestamp\":\"");
            stamps.write(r.at, out);
            out.extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"request\",\"method\":");
            json_text(method(r), out);
            out.extend_from_slice(b",\"path\":");
            json_text(r.path, out);
            out.extend_from_slice(b",\"status\":");
            out.extend_from_slice(numbers.format(r.status).as_bytes());
            out.extend_from_slice(b",\"code\":");
            json_text(r.code, out);
            out.extend_from_slice(b",\"key_id\":");
            json_text(key_id, out);
            out.extend_from_slice(b",\"hint\":");
            // A hint is a prefix, `_…` and letters and digits: no escapes
            // (else written again, escaped).
            let start = out.len();
            out.push(b'"');
            hint(out);
            if plain(&out[start + 1..]) {
                out.push(b'"');
            } else {
                let text = String::from_utf8_lossy(&out[start + 1..]).into_owned();
                out.truncate(start);
                json_text(&text, out);
            }
            out.extend_from_slice(b",\"latency_us\":");
            out.extend_from_slice(numbers.format(r.latency_us).as_bytes());
            out.push(b'}');
        }
    }
    out.push(b'\n');
}

/// Whether text needs no escape in a JSON string.
fn plain(text: &[u8]) -> bool {
    text.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// `text` as a JSON string.
fn json_text(text: &str, out: &mut Vec<u8>) {
    if plain(text.as_bytes()) {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, text).is_err() {
        out.extend_from_slice(b"\"-\"");
    }
}

/// Writes times as [`timestamp`] does, formatting each second once (the
/// lines of one flush share a few).
#[derive(Default)]
struct Stamps {
    /// A second since the epoch, and its text up to the fraction's dot.
    last: Option<(u64, Vec<u8>)>,
}

impl Stamps {
    fn write(&mut self, at: SystemTime, out: &mut Vec<u8>) {
        let Ok(since) = at.duration_since(SystemTime::UNIX_EPOCH) else {
            out.extend_from_slice(timestamp(at).as_bytes());
            return;
        };
        let second = since.as_secs();
        if self.last.as_ref().is_none_or(|(s, _)| *s != second) {
            let text = timestamp(at);
            match text.rfind('.') {
                Some(dot) => self.last = Some((second, text.as_bytes()[..=dot].to_vec())),
                None => {
                    self.last = None;
                    out.extend_from_slice(text.as_bytes());
                    return;
                }
            }
        }
        if let Some((_, head)) = &self.last {
            out.extend_from_slice(head);
            let micros = since.subsec_micros();
            let mut digits = [b'0'; 6];
            let mut n = micros;
            for d in digits.iter_mut().rev() {
                *d = b'0' + (n % 10) as u8;
                n /= 10;
            }
            out.extend_from_slice(&digits);
            out.push(b'Z');
        }
    }
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
        let key = (key_id != "-").then(|| {
            let (prefix, hint) = hint.split_once("_…").expect("a hint");
            ShownKey {
                id: KeyId::stored(key_id.into()),
                prefix: prefix.into(),
                hint: hint.into(),
            }
        });
        let logged = Logged {
            at: SystemTime::now(),
            method: Some(hyper::Method::from_bytes(method.as_bytes()).expect("method")),
            path: "/v1/authz",
            status: 200,
            code: "VALID",
            key,
            latency_us: 417,
        };
        request_line(&logged, format, &mut Stamps::default(), &mut out);
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

    fn refused(secs: u64) -> Logged {
        Logged {
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            method: None,
            path: "-",
            status: 400,
            code: "-",
            key: None,
            latency_us: 0,
        }
    }

    #[test]
    fn request_lines_take_their_place_among_other_lines_by_time() {
        let mut pending = Pending::default();
        for (text, secs) in [("first\n", 10), ("last\n", 30)] {
            let start = pending.bytes.len();
            pending
                .events
                .push((start, SystemTime::UNIX_EPOCH + Duration::from_secs(secs)));
            pending.bytes.extend_from_slice(text.as_bytes());
        }
        // From two threads, in each thread's order: 20 and 40, then 5 and 25.
        let mut requests = vec![refused(20), refused(40), refused(5), refused(25)];
        let mut out = Vec::new();
        render(&mut pending, &mut requests, Format::Text, &mut out);
        let text = String::from_utf8(out).expect("utf-8");
        let line = |secs: u64| {
            format!(
                "1970-01-01T00:00:{secs:02}.000000Z  INFO request method=- path=- status=400 \
                 code=- key_id=- hint=- latency_us=0\n"
            )
        };
        assert_eq!(
            text,
            [
                line(5),
                "first\n".into(),
                line(20),
                line(25),
                "last\n".into(),
                line(40)
            ]
            .concat()
        );
        assert!(pending.bytes.is_empty() && pending.events.is_empty() && requests.is_empty());
    }

    #[test]
    fn a_thread_past_its_share_drops_lines_and_counts_them() {
        let shared = Arc::new(Shared::new(Format::Text));
        let requests = Requests(Arc::clone(&shared));
        for _ in 0..MAX_THREAD_REQUESTS + 3 {
            requests.push(refused(1));
        }
        assert_eq!(shared.dropped.load(Ordering::Relaxed), 3);
        let mut taken = Vec::new();
        take_requests(&shared, &mut Vec::new(), &mut taken);
        assert_eq!(taken.len(), MAX_THREAD_REQUESTS);
        // Taken, the thread's share is free again.
        requests.push(refused(1));
        assert_eq!(shared.dropped.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_remembered_second_writes_the_time_as_the_formatter_does() {
        let mut stamps = Stamps::default();
        let epoch = SystemTime::UNIX_EPOCH;
        for at in [
            epoch + Duration::new(1_796_000_000, 1_000),
            epoch + Duration::new(1_796_000_000, 999_999_999),
            epoch + Duration::new(1_796_000_001, 0),
            epoch + Duration::new(1_796_000_000, 5_000_000),
            epoch + Duration::new(59, 123_456_000),
        ] {
            let mut out = Vec::new();
            stamps.write(at, &mut out);
            assert_eq!(String::from_utf8(out).expect("utf-8"), timestamp(at));
        }
    }
}
