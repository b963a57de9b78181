//! A vault file replaced under a running process. SQLite finds a vault's
//! write-ahead log and its index by name (`PATH-wal`, `PATH-shm`), not by
//! the file they belong to. While any process keeps the old file open, its
//! `-wal`/`-shm` stay at those names; a new file put at the path (`mv`, a
//! restore) would be paired with them by the next opener: pages of the old
//! file read as the new one's, and a checkpoint writing them into it.
//!
//! Every process that uses the vault in WAL mode holds a shared lock on the
//! vault file for as long as its connection is open (that is how SQLite
//! knows the last one out may delete the log), and a shared lock on the
//! index's "DMS" byte while it has the index mapped. So an index that other
//! processes hold while none of them holds the file now at the path belongs
//! to another file. The locks are read from `/proc/locks`, which needs no
//! descriptor of either file: closing one would drop every POSIX lock this
//! process holds on it, SQLite's included.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The byte of the WAL index that every connection using it holds a shared
/// lock on (SQLite's `UNIX_SHM_DMS`: 120 + 8).
const DMS: u64 = 128;

/// A file's device and inode.
pub type FileId = (u64, u64);

pub fn identity(path: &Path) -> Option<FileId> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

pub fn shm_path(path: &Path) -> std::path::PathBuf {
    let mut shm = path.as_os_str().to_owned();
    shm.push("-shm");
    shm.into()
}

/// Whether the vault has a write-ahead log with content but no index.
pub fn log_without_index(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(std::path::PathBuf::from(wal)).is_ok_and(|m| m.len() > 0)
        && identity(&shm_path(path)).is_none()
}

/// A process that has the index at `PATH-shm` in use while no process has
/// the file now at `path` open: that index belongs to a file that was
/// replaced. Returns that process's id (it may be this one: serve's usage
/// writer opens the vault anew while its reader may still hold the old
/// file). None where nothing is wrong, or where it cannot be told (no
/// `/proc/locks`).
pub fn stale_index_holder(path: &Path) -> Option<u32> {
    let db = identity(path)?;
    let shm = identity(&shm_path(path))?;
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let holders = index_users(&locks, shm);
    // Where a user's open files cannot be read (another user's process),
    // it cannot be told: SQLite's own behaviour stands.
    let mut stale = None;
    for pid in holders {
        match has_open(pid, db) {
            Some(true) | None => return None,
            Some(false) => stale = Some(pid),
        }
    }
    stale
}

/// The processes holding the index's DMS byte.
fn index_users(locks: &str, shm: FileId) -> Vec<u32> {
    let mut pids: Vec<u32> = locks
        .lines()
        .filter_map(parse)
        .filter(|l| l.pid != 0 && l.file == shm)
        .filter(|l| l.start <= DMS && l.end.is_none_or(|e| e >= DMS))
        .map(|l| l.pid)
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Whether process `pid` has the file `db` open; None where its open
/// files cannot be read.
fn has_open(pid: u32, db: FileId) -> Option<bool> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let mut any = false;
    for fd in fds.flatten() {
        any = true;
        if identity(&fd.path()) == Some(db) {
            return Some(true);
        }
    }
    // A process whose descriptors are all gone has ended meanwhile.
    any.then_some(false)
}

struct Lock {
    pid: u32,
    file: FileId,
    start: u64,
    /// None: to the end of the file.
    end: Option<u64>,
}

/// One line of `/proc/locks`: `1: POSIX  ADVISORY  READ 4242 fe:00:1234 128 128`.
/// Lines of waiters (`1: -> POSIX …`) hold nothing and are skipped, as
/// are kinds other than POSIX record locks (SQLite takes only those).
fn parse(line: &str) -> Option<Lock> {
    let mut fields = line.split_whitespace().skip(1);
    if fields.next()? != "POSIX" {
        return None;
    }
    let _mode = fields.next()?;
    let _kind = fields.next()?;
    let pid = fields.next()?.parse().ok()?;
    let mut file = fields.next()?.split(':');
    let major = u32::from_str_radix(file.next()?, 16).ok()?;
    let minor = u32::from_str_radix(file.next()?, 16).ok()?;
    let ino = file.next()?.parse().ok()?;
    let start = fields.next()?.parse().ok()?;
    let end = match fields.next()? {
        "EOF" => None,
        n => Some(n.parse().ok()?),
    };
    let dev = rustix::fs::makedev(major, minor);
    Some(Lock {
        pid,
        file: (dev, ino),
        start,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(major: u32, minor: u32) -> u64 {
        rustix::fs::makedev(major, minor)
    }

    const LOCKS: &str = "\
1: POSIX  ADVISORY  READ 4242 fe:00:200 128 128
1: -> POSIX  ADVISORY  WRITE 777 fe:00:100 1073741826 1073742335
2: POSIX  ADVISORY  READ 4242 fe:00:300 1073741826 1073742335
3: FLOCK  ADVISORY  WRITE 99 fe:00:100 0 EOF
";

    #[test]
    fn the_users_of_an_index_are_those_holding_its_dms_byte() {
        let shm = (dev(0xfe, 0), 200);
        assert_eq!(index_users(LOCKS, shm), [4242]);
        assert!(index_users(LOCKS, (dev(0xfe, 0), 300)).is_empty());
        let whole = "9: POSIX  ADVISORY  WRITE 17 fe:00:200 0 EOF\n";
        assert_eq!(index_users(whole, shm), [17]);
        let other_byte = "9: POSIX  ADVISORY  READ 17 fe:00:200 120 127\n";
        assert!(index_users(other_byte, shm).is_empty());
    }

    #[test]
    fn this_process_has_its_own_files_open() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let id = identity(file.path()).expect("identity");
        assert_eq!(has_open(std::process::id(), id), Some(true));
        assert_eq!(has_open(std::process::id(), (0, 0)), Some(false));
    }

    #[test]
    fn lines_that_are_not_posix_locks_are_skipped() {
        assert!(parse("1: -> POSIX  ADVISORY  WRITE 777 fe:00:100 0 EOF").is_none());
        assert!(parse("3: FLOCK  ADVISORY  WRITE 99 fe:00:100 0 EOF").is_none());
        assert!(parse("garbage").is_none());
        let l = parse("7: POSIX  ADVISORY  WRITE 5 08:01:42 0 EOF").expect("a lock");
        assert_eq!(
            (l.pid, l.file, l.start, l.end),
            (5, (dev(8, 1), 42), 0, None)
        );
    }
}
