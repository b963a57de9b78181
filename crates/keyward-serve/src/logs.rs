//! serve's log: lines gathered in memory and written to stderr by a thread
//! of its own every [`FLUSH_EVERY`], so a request never makes a syscall or
//! wakes a thread to log, and a stalled stderr (a full pipe, a slow
//! journal) never holds up a verdict. Past [`MAX_PENDING`] bytes waiting,
//! lines are dropped and counted, and the count is logged once stderr
//! takes lines again.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

const FLUSH_EVERY: Duration = Duration::from_millis(50);
const MAX_PENDING: usize = 8 << 20;

#[derive(Default)]
struct Shared {
    pending: Mutex<Vec<u8>>,
    wake: Condvar,
    dropped: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Vec<u8>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
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
        if pending.len() + buf.len() > MAX_PENDING {
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            pending.extend_from_slice(buf);
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
    let shared = Arc::new(Shared::default());
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

fn write_out(shared: &Shared) {
    let mut out = Vec::new();
    loop {
        let stopping = {
            let pending = shared.pending();
            let (mut pending, _) = shared
                .wake
                .wait_timeout(pending, FLUSH_EVERY)
                .unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut *pending, &mut out);
            shared.stop.load(Ordering::Acquire)
        };
        let dropped = shared.dropped.swap(0, Ordering::Relaxed);
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
            let rest = std::mem::take(&mut *shared.pending());
            let _ = stderr.write_all(&rest);
            return;
        }
    }
}
