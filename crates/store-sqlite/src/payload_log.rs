//! The payload log: compressed payload values in append-only segment files beside the database.
//!
//! A payload is most of a span's bytes. Stored in SQLite, every byte is written twice (WAL
//! frame, then checkpoint into the database file), checksummed per frame, and split over
//! B-tree overflow pages. Here it is written once, with one `write` per group commit, and the
//! database keeps only its location: `blobs.data` holds an INTEGER (see [`Locator`]) instead
//! of the text or the LZ4 block.
//!
//! Durability: the writer calls [`PayloadLog::sync`] before it commits a transaction that
//! refers to new records, so a committed row never points at bytes a crash could lose. Bytes
//! of a transaction that rolled back (or never committed) stay in the file unreferenced.
//! Records carry their length and an xxh3 checksum, so a damaged record is an error on read,
//! never wrong data.
//!
//! Files: `<data dir>/payloads/<segment number, 8 digits>.log`, a new one after
//! [`SEGMENT_LIMIT`] bytes, and `append.lock`, held by the one process that appends.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use xxhash_rust::xxh3::xxh3_64;

/// A segment is closed once it holds this many bytes.
pub(crate) const SEGMENT_LIMIT: u64 = 1 << 30;

/// Record header: length (u32 LE), then the xxh3-64 of the bytes (u64 LE).
const HEADER: usize = 12;

/// Bits of a [`Locator`] that hold the offset inside the segment.
const OFFSET_BITS: u32 = 40;

/// Where a record is: `segment << 40 | offset of its header`.
pub(crate) type Locator = i64;

/// Reading or appending failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LogError {
    /// The file system refused.
    #[error("payload log {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The record is not what was written there.
    #[error("payload log {path}: the record at offset {offset} is damaged ({what})")]
    Damaged {
        path: PathBuf,
        offset: u64,
        what: &'static str,
    },
    /// Another process appends to the log.
    #[error("another process appends to the payload log")]
    ReadOnly,
    /// A value too large for one record.
    #[error("a payload of {0} bytes is too large for the payload log")]
    TooLarge(usize),
}

/// The segment files, shared by the writer (appends) and every reader.
pub(crate) struct PayloadLog {
    dir: PathBuf,
    /// Open segments, by number; a reader opens one it has not seen yet.
    segments: RwLock<Vec<Option<Arc<File>>>>,
    /// The segment appended to, if this process appends (it holds the lock).
    tail: Option<Mutex<Tail>>,
    /// `append.lock`, held while this process may append: one process appends at a time
    /// (another one, such as `spanloom renormalize` beside a running server, keeps its
    /// payloads in the database), so a locator always points where its record was written.
    _lock: Option<File>,
}

/// Appended records wait in memory up to this many bytes (or the next sync): one `write` per
/// group commit instead of one per value (a `write` per value was a sixth of the writer's time).
const PENDING_LIMIT: usize = 8 << 20;

/// The segment being appended to.
struct Tail {
    segment: u32,
    file: Arc<File>,
    /// Bytes in the file.
    len: u64,
    /// Records appended after those, not written yet.
    pending: Vec<u8>,
    /// Bytes written since the last fdatasync.
    dirty: bool,
}

impl Tail {
    fn new(segment: u32, file: Arc<File>, len: u64) -> Self {
        Self {
            segment,
            file,
            len,
            pending: Vec::new(),
            dirty: false,
        }
    }
}

impl PayloadLog {
    /// Opens the log in `dir` (created if missing) for reading, and for appending (to the end
    /// of the last segment) if `append` and no other process appends to it.
    pub(crate) fn open(dir: &Path, append: bool) -> Result<Self, LogError> {
        let io = |source| LogError::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut log = Self {
            dir: dir.to_owned(),
            segments: RwLock::new(Vec::new()),
            tail: None,
            _lock: None,
        };
        if !append {
            return Ok(log);
        }
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("append.lock"))
            .map_err(io)?;
        if lock.try_lock().is_err() {
            return Ok(log);
        }
        let mut last = 0;
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let name = entry.map_err(io)?.file_name();
            if let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|n| n.parse::<u32>().ok())
            {
                last = last.max(n);
            }
        }
        let (file, len) = open_tail(dir, last)?;
        log.remember(last, Arc::clone(&file));
        log.tail = Some(Mutex::new(Tail::new(last, file, len)));
        log._lock = Some(lock);
        Ok(log)
    }

    /// Whether this process appends to the log.
    pub(crate) fn appends(&self) -> bool {
        self.tail.is_some()
    }

    fn tail(&self) -> Result<std::sync::MutexGuard<'_, Tail>, LogError> {
        self.tail
            .as_ref()
            .map(|t| t.lock().unwrap_or_else(PoisonError::into_inner))
            .ok_or(LogError::ReadOnly)
    }

    fn path(&self, segment: u32) -> PathBuf {
        segment_path(&self.dir, segment)
    }

    fn remember(&self, segment: u32, file: Arc<File>) {
        let mut segments = self
            .segments
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let i = segment as usize;
        if segments.len() <= i {
            segments.resize(i + 1, None);
        }
        segments[i] = Some(file);
    }

    /// Appends a record; the bytes are durable only after the next [`PayloadLog::sync`].
    pub(crate) fn append(&self, bytes: &[u8]) -> Result<Locator, LogError> {
        let len = u32::try_from(bytes.len()).map_err(|_| LogError::TooLarge(bytes.len()))?;
        let mut tail = self.tail()?;
        let size = (HEADER + bytes.len()) as u64;
        let end = tail.len + tail.pending.len() as u64;
        if end > 0 && end + size > SEGMENT_LIMIT {
            // The closed segment is flushed now: later syncs only flush the new tail.
            self.flush(&mut tail)?;
            let segment = tail.segment + 1;
            let (file, len) = open_tail(&self.dir, segment)?;
            self.remember(segment, Arc::clone(&file));
            *tail = Tail::new(segment, file, len);
        } else if tail.pending.len() + HEADER + bytes.len() > PENDING_LIMIT {
            self.write_pending(&mut tail)?;
        }
        let offset = tail.len + tail.pending.len() as u64;
        tail.pending.extend_from_slice(&len.to_le_bytes());
        tail.pending
            .extend_from_slice(&xxh3_64(bytes).to_le_bytes());
        tail.pending.extend_from_slice(bytes);
        Ok(((tail.segment as i64) << OFFSET_BITS) | offset as i64)
    }

    /// Writes the pending records to the file (not yet durable).
    fn write_pending(&self, tail: &mut Tail) -> Result<(), LogError> {
        if tail.pending.is_empty() {
            return Ok(());
        }
        // At the offset the locators were given for, not at the file's end: a failed write
        // may have left part of its records, which the next write then covers.
        let written = tail.file.write_all_at(&tail.pending, tail.len);
        let size = tail.pending.len() as u64;
        tail.pending.clear();
        written.map_err(|source| LogError::Io {
            path: self.path(tail.segment),
            source,
        })?;
        tail.len += size;
        tail.dirty = true;
        Ok(())
    }

    /// Makes every appended record durable (fdatasync), if any was appended since the last.
    pub(crate) fn sync(&self) -> Result<(), LogError> {
        match self.tail() {
            Ok(mut tail) => self.flush(&mut tail),
            Err(_) => Ok(()),
        }
    }

    fn flush(&self, tail: &mut Tail) -> Result<(), LogError> {
        self.write_pending(tail)?;
        if tail.dirty {
            tail.file.sync_data().map_err(|source| LogError::Io {
                path: self.path(tail.segment),
                source,
            })?;
            tail.dirty = false;
        }
        Ok(())
    }

    /// Reads the record at `locator`, checking its length and checksum.
    pub(crate) fn read(&self, locator: Locator) -> Result<Vec<u8>, LogError> {
        let segment = u32::try_from(locator >> OFFSET_BITS).unwrap_or(u32::MAX);
        let offset = (locator & ((1 << OFFSET_BITS) - 1)) as u64;
        let path = self.path(segment);
        let damaged = |what| LogError::Damaged {
            path: path.clone(),
            offset,
            what,
        };
        let mut header = [0u8; HEADER];
        let bytes = if let Some(record) = self.read_pending(segment, offset) {
            // Only the writer reads a record it has not written out yet (a merge into it).
            let (head, bytes) = record.ok_or_else(|| damaged("past the end of the log"))?;
            header = head;
            bytes
        } else {
            let file = self.segment(segment)?;
            file.read_exact_at(&mut header, offset)
                .map_err(|_| damaged("no record header there"))?;
            let len = record_len(&header);
            // A damaged length must not allocate more than the file could hold.
            let file_len = file.metadata().map_or(0, |m| m.len());
            if offset + (HEADER + len) as u64 > file_len {
                return Err(damaged("shorter than its header says"));
            }
            let mut bytes = vec![0u8; len];
            file.read_exact_at(&mut bytes, offset + HEADER as u64)
                .map_err(|_| damaged("shorter than its header says"))?;
            bytes
        };
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&header[4..]);
        if xxh3_64(&bytes) != u64::from_le_bytes(sum) {
            return Err(damaged("checksum mismatch"));
        }
        Ok(bytes)
    }

    /// The header and bytes of a record not written out yet, if `offset` is past the written
    /// part of the tail (`Some(None)` if there is no whole record there).
    #[allow(clippy::type_complexity)]
    fn read_pending(&self, segment: u32, offset: u64) -> Option<Option<([u8; HEADER], Vec<u8>)>> {
        let tail = self.tail().ok()?;
        let end = tail.len + tail.pending.len() as u64;
        if segment != tail.segment || offset < tail.len || offset >= end {
            return None;
        }
        let start = usize::try_from(offset - tail.len).ok()?;
        let record = || {
            let rest = tail.pending.get(start..)?;
            let header: [u8; HEADER] = rest.get(..HEADER)?.try_into().ok()?;
            Some((
                header,
                rest.get(HEADER..HEADER + record_len(&header))?.to_vec(),
            ))
        };
        Some(record())
    }

    fn segment(&self, segment: u32) -> Result<Arc<File>, LogError> {
        if let Some(Some(file)) = self
            .segments
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(segment as usize)
        {
            return Ok(Arc::clone(file));
        }
        let path = self.path(segment);
        let file = Arc::new(File::open(&path).map_err(|source| LogError::Io { path, source })?);
        self.remember(segment, Arc::clone(&file));
        Ok(file)
    }
}

/// The length a record header gives.
fn record_len(header: &[u8; HEADER]) -> usize {
    u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize
}

fn segment_path(dir: &Path, segment: u32) -> PathBuf {
    dir.join(format!("{segment:08}.log"))
}

/// Opens (creating) a segment for appending, makes a new one's name durable, and returns it
/// with its length.
fn open_tail(dir: &Path, segment: u32) -> Result<(Arc<File>, u64), LogError> {
    let path = segment_path(dir, segment);
    let io = |source| LogError::Io {
        path: path.clone(),
        source,
    };
    let existed = path.exists();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    if !existed {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| LogError::Io {
                path: dir.to_owned(),
                source,
            })?;
    }
    let len = file.metadata().map_err(io)?.len();
    Ok((Arc::new(file), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let log = PayloadLog::open(dir.path(), true).unwrap();
        let a = log.append(b"first value").unwrap();
        let b = log.append(&[7u8; 10_000]).unwrap();
        // Readable before they are written out, too.
        assert_eq!(log.read(b).unwrap(), vec![7u8; 10_000]);
        assert!(log.read(b + 5).is_err());
        log.sync().unwrap();
        assert_eq!(log.read(a).unwrap(), b"first value");
        assert_eq!(log.read(b).unwrap(), vec![7u8; 10_000]);
        drop(log);
        let log = PayloadLog::open(dir.path(), true).unwrap();
        let c = log.append(b"after reopening").unwrap();
        assert!(c > b, "appends continue after the existing records");
        assert_eq!(log.read(a).unwrap(), b"first value");
        assert_eq!(log.read(c).unwrap(), b"after reopening");
    }

    #[test]
    fn one_appender_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let first = PayloadLog::open(dir.path(), true).unwrap();
        let second = PayloadLog::open(dir.path(), true).unwrap();
        assert!(first.appends());
        assert!(!second.appends());
        assert!(matches!(second.append(b"x"), Err(LogError::ReadOnly)));
        let at = first.append(b"shared").unwrap();
        first.sync().unwrap();
        assert_eq!(second.read(at).unwrap(), b"shared");
        drop(first);
        assert!(PayloadLog::open(dir.path(), true).unwrap().appends());
    }

    #[test]
    fn damage_is_an_error_not_data() {
        let dir = tempfile::tempdir().unwrap();
        let log = PayloadLog::open(dir.path(), true).unwrap();
        let at = log.append(b"some payload bytes").unwrap();
        log.sync().unwrap();
        let file = OpenOptions::new()
            .write(true)
            .open(dir.path().join("00000000.log"))
            .unwrap();
        file.write_all_at(b"X", HEADER as u64 + 2).unwrap();
        let err = log.read(at).unwrap_err().to_string();
        assert!(err.contains("checksum mismatch"), "{err}");
        let err = log.read(at + 1_000).unwrap_err().to_string();
        assert!(err.contains("damaged"), "{err}");
        // A length that says 4 GiB is refused before anything is allocated for it.
        file.write_all_at(&u32::MAX.to_le_bytes(), 0).unwrap();
        let err = log.read(at).unwrap_err().to_string();
        assert!(err.contains("shorter than its header says"), "{err}");
        let err = log.read(5 << OFFSET_BITS).unwrap_err().to_string();
        assert!(err.contains("00000005.log"), "{err}");
    }

    #[test]
    fn a_full_segment_starts_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let log = PayloadLog::open(dir.path(), true).unwrap();
        let first = log.append(b"a").unwrap();
        log.sync().unwrap();
        // As if the segment were nearly full.
        log.tail.as_ref().unwrap().lock().unwrap().len = SEGMENT_LIMIT - 4;
        let second = log.append(b"spills over").unwrap();
        assert_eq!(second >> OFFSET_BITS, 1);
        assert_eq!(log.read(first).unwrap(), b"a");
        assert_eq!(log.read(second).unwrap(), b"spills over");
        assert!(dir.path().join("00000001.log").exists());
    }
}
