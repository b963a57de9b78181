//! A vault file replaced under a running process. SQLite finds a vault's
//! write-ahead log and its index by name (`PATH-wal`, `PATH-shm`), not by
//! the file they belong to. While any process keeps the old file open, its
//! `-wal`/`-shm` stay at those names; a new file put at the path (`mv`, a
//! restore) would be paired with them by the next opener: pages of the old
//! file read as the new one's, and a checkpoint writing them into it.
//!
//! Every process that uses the index holds a shared lock on its "DMS" byte
//! while it has it mapped, and has the vault file it belongs to open. So an
//! index whose user has another file open than the one now at the path
//! belongs to that other file. The user is found with `F_GETLK` on the
//! index (one atomic answer; `/proc/locks` is read in pieces, and entries
//! are missed while other processes lock and unlock), and its open files
//! in `/proc/PID/fd`. A descriptor of the index is opened for that only
//! when this process has none: closing one drops every POSIX lock the
//! process holds on the file, SQLite's included.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The byte of the WAL index that every connection using it holds a shared
/// lock on (SQLite's `UNIX_SHM_DMS`: 120 + 8).
const DMS: u64 = 128;

/// A file's device and inode.
pub type FileId = (u64, u64);

pub fn identity(path: &Path) -> Option<FileId> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Where SQLite keeps the vault's index: beside the file the path
/// resolves to (through symbolic links), not beside the link.
pub fn shm_path(path: &Path) -> PathBuf {
    beside(path, "-shm")
}

/// Where SQLite keeps the vault's write-ahead log (see [`shm_path`]).
pub fn wal_path(path: &Path) -> PathBuf {
    beside(path, "-wal")
}

fn beside(path: &Path, suffix: &str) -> PathBuf {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut name = real.into_os_string();
    name.push(suffix);
    name.into()
}

/// Whether the vault has a write-ahead log with content but no index.
pub fn log_without_index(path: &Path) -> bool {
    std::fs::metadata(wal_path(path)).is_ok_and(|m| m.len() > 0)
        && identity(&shm_path(path)).is_none()
}

/// An index at the path found in use by a process that does not have the
/// file now at the path open, with the log and index as they were then.
pub struct Stale {
    pub pid: u32,
    shm: FileId,
    /// The log at the path, when the holder had it open too.
    wal: Option<FileId>,
}

/// A process that has the index at `PATH-shm` in use while it does not
/// have the file now at `path` open: that index belongs to a file that was
/// replaced. The process may be this one (serve's usage writer opens the
/// vault anew while its reader may still hold the old file). None where
/// nothing is wrong, or where it cannot be told (another user's process,
/// whose open files cannot be read: SQLite's own behaviour then stands).
pub fn stale_index_holder(path: &Path) -> Option<Stale> {
    let db = identity(path)?;
    let shm_path = shm_path(path);
    let shm = identity(&shm_path)?;
    let me = std::process::id();
    let pid = if has_open(me, shm) == Some(true) {
        me
    } else {
        index_user(&shm_path, shm)?
    };
    if has_open(pid, db) != Some(false) {
        return None;
    }
    // Still so after the look at its files: a process that ended, or let
    // go of the index, while its files were read was no stale holder (its
    // log may hold commits the next opener must read).
    if pid != me && index_user(&shm_path, shm) != Some(pid) {
        return None;
    }
    let wal = identity(&wal_path(path)).filter(|w| has_open(pid, *w) == Some(true));
    Some(Stale { pid, shm, wal })
}

/// Moves the log and index at the path aside when they are still those
/// found [`Stale`] (the replaced file's, whether or not their holder still
/// runs): the holder keeps using them through its descriptors, while the
/// file now at the path starts with its own. The holder may be a program
/// that is not keyward and never lets go; when it ends, SQLite would leave
/// them at the path (the file they belong to has moved) for the next
/// opener to read into the new file. Done under [`replace_lock`], so that
/// two openers never move each other's new files. Returns where the log
/// (or, without one, the index) went.
pub fn move_aside(path: &Path, stale: &Stale) -> Option<PathBuf> {
    let _lock = replace_lock(path)?;
    let (wal, shm) = (wal_path(path), shm_path(path));
    if identity(&shm) != Some(stale.shm) {
        return None;
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let aside = |p: &Path| {
        let mut name = p.as_os_str().to_owned();
        name.push(format!(".replaced-{stamp}"));
        PathBuf::from(name)
    };
    // The log first: an index without its log is read as empty by nobody,
    // while openers wait for an index someone holds.
    let mut moved = None;
    if stale.wal.is_some() && identity(&wal) == stale.wal {
        let to = aside(&wal);
        std::fs::rename(&wal, &to).ok()?;
        moved = Some(to);
    }
    let to = aside(&shm);
    std::fs::rename(&shm, &to).ok()?;
    Some(moved.unwrap_or(to))
}

/// Removes the log and index at the path if they are still `wal` and
/// `shm` (what a connection whose file was replaced used), under
/// [`replace_lock`]: never files another process made meanwhile.
pub fn remove_if_still(path: &Path, wal: Option<FileId>, shm: Option<FileId>) {
    let Some(_lock) = replace_lock(path) else {
        return;
    };
    let (wal_at, shm_at) = (wal_path(path), shm_path(path));
    if wal.is_some() && identity(&wal_at) == wal {
        let _ = std::fs::remove_file(&wal_at);
    }
    if shm.is_some() && identity(&shm_at) == shm {
        let _ = std::fs::remove_file(&shm_at);
    }
}

/// An exclusive `flock` on the file now at the path, held while its log
/// and index are moved or removed, so that each keyward process decides on
/// what it sees under the lock. `flock` is apart from SQLite's POSIX locks;
/// the descriptor is kept open for the life of the process (closing any
/// descriptor of a file drops the process's POSIX locks on it, SQLite's
/// included).
struct ReplaceLock(std::os::fd::RawFd);

impl Drop for ReplaceLock {
    fn drop(&mut self) {
        // SAFETY: the descriptor is one of `LOCKS`, which are never closed.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.0) };
        let _ = rustix::fs::flock(fd, rustix::fs::FlockOperation::Unlock);
    }
}

fn replace_lock(path: &Path) -> Option<ReplaceLock> {
    use std::os::fd::AsRawFd;
    static LOCKS: std::sync::Mutex<Vec<(FileId, std::fs::File)>> =
        std::sync::Mutex::new(Vec::new());

    let file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    let id = (meta.dev(), meta.ino());
    // Each lock is a descriptor of its own (flock excludes between open
    // files, also within a process), kept: closing it would drop locks.
    // Taken only when a replaced file is seen, so they stay few.
    let raw = file.as_raw_fd();
    LOCKS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((id, file));
    // SAFETY: `raw` belongs to a file in `LOCKS`, never closed.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) };
    rustix::fs::flock(fd, rustix::fs::FlockOperation::LockExclusive).ok()?;
    Some(ReplaceLock(raw))
}

/// A process holding the index's DMS byte, asked with `F_GETLK` on a
/// descriptor of the index (this process has none other, so closing it
/// drops no lock).
fn index_user(shm_path: &Path, shm: FileId) -> Option<u32> {
    use rustix::process::{Flock, FlockOffsetType, FlockType, fcntl_getlk};
    let file = std::fs::File::open(shm_path).ok()?;
    let meta = file.metadata().ok()?;
    if (meta.dev(), meta.ino()) != shm {
        return None;
    }
    let probe = Flock {
        start: DMS,
        length: 1,
        pid: None,
        typ: FlockType::WriteLock,
        offset_type: FlockOffsetType::Set,
    };
    let holder = fcntl_getlk(&file, &probe).ok()??;
    holder
        .pid
        .and_then(|p| u32::try_from(p.as_raw_nonzero().get()).ok())
}

/// Whether process `pid` has the file `file` open; None where its open
/// files cannot all be read (another user's process, or one closing its
/// descriptors or ending while they are read: a descriptor listed whose
/// file cannot be looked at may be the one asked about).
fn has_open(pid: u32, file: FileId) -> Option<bool> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let (mut any, mut unread) = (false, false);
    for fd in fds {
        match fd.ok().and_then(|fd| identity(&fd.path())) {
            Some(found) if found == file => return Some(true),
            Some(_) => any = true,
            // Closed while listed (a busy process opens and closes
            // descriptors all the time): it may have been that file.
            None => unread = true,
        }
    }
    // A process whose descriptors are all gone has ended meanwhile.
    (any && !unread).then_some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_its_own_files_open() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let id = identity(file.path()).expect("identity");
        assert_eq!(has_open(std::process::id(), id), Some(true));
        assert_eq!(has_open(std::process::id(), (0, 0)), Some(false));
    }

    #[test]
    fn the_user_of_an_index_is_the_process_holding_its_dms_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shm = dir.path().join("v.db-shm");
        std::fs::write(&shm, [0u8; 256]).expect("write");
        let id = identity(&shm).expect("identity");
        assert_eq!(index_user(&shm, id), None, "nobody holds it");
        // Another process takes a shared lock on byte 128, as SQLite does.
        let mut holder = std::process::Command::new("python3")
            .arg("-c")
            .arg(
                "import fcntl, sys\n\
                 f = open(sys.argv[1], 'rb')\n\
                 fcntl.lockf(f, fcntl.LOCK_SH, 1, 128)\n\
                 print('locked', flush=True)\n\
                 sys.stdin.read()\n",
            )
            .arg(&shm)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(holder.stdout.as_mut().expect("stdout")),
            &mut line,
        )
        .expect("read");
        assert_eq!(line.trim(), "locked");
        assert_eq!(index_user(&shm, id), Some(holder.id()));
        drop(holder.stdin.take());
        holder.wait().expect("ends");
    }
}
