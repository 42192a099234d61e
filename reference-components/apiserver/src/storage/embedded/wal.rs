//! The files of the embedded store: a write-ahead log and snapshots.
//!
//! The [`Engine`] holds the whole store in memory; the files only make it durable. Each commit
//! appends its events to the current log segment and `fdatasync`s it: one sequential write and
//! one flush per group of writes, however many objects the store holds. When the log has grown
//! past the size of the last snapshot (and at least [`MIN_CHECKPOINT_BYTES`]), the writer starts
//! a new segment and a background thread writes a snapshot of the engine as of the end of the
//! old one; once the snapshot is durable, the older segments and snapshots are deleted. So the
//! files stay within a few times the data, and a restart reads one snapshot and a short log.
//!
//! # Files in the data directory
//!
//! - `wal-<first revision, 20 digits>`: log segments. Records:
//!   `u32 length | u32 CRC-32 of the payload | payload`, the payload being `u8 type | u64
//!   revision | body`; type 1 is an event (body: `codec`'s encoding), type 2 a compaction to
//!   that revision (no body).
//! - `snapshot-<revision, 20 digits>`: `SNAPSHOT_MAGIC | u64 revision | u64 compaction point |
//!   u64 live count | (u64 create revision | u64 mod revision | u64 length | key | u64 length |
//!   value)* | u64 event count | (u64 revision | u64 length | event)* | u32 CRC-32 of all that`.
//!   Written to a `.tmp` file, flushed, then renamed, and the directory flushed.
//!
//! # Crashes
//!
//! A write is acknowledged only after its record is flushed. A crash during an append leaves at
//! most one partial record at the end of the last segment: opening the store cuts it off (it
//! was never acknowledged). A damaged record anywhere else, a gap in revisions or a damaged
//! snapshot is corruption, reported as an error rather than guessed around.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;

use super::codec;
use crate::storage::engine::{Engine, EngineConfig, Snapshot};
use crate::storage::{Error, Event, KeyValue, Result, Revision};

/// The first bytes of a snapshot file.
const SNAPSHOT_MAGIC: &[u8; 8] = b"KSNAP001";
const WAL_PREFIX: &str = "wal-";
const SNAPSHOT_PREFIX: &str = "snapshot-";
const RECORD_EVENT: u8 = 1;
const RECORD_COMPACT: u8 = 2;
/// Record header: length and checksum.
const HEADER: usize = 8;
/// The least log growth that starts a new snapshot.
pub const MIN_CHECKPOINT_BYTES: u64 = 64 << 20;

/// The open log: the segment being appended to, and the snapshot being written, if any.
#[derive(Debug)]
pub(super) struct Wal {
    dir: PathBuf,
    segment: File,
    /// The current segment's length (what has been appended and flushed).
    segment_len: u64,
    /// Set when a failed append could not be cut back: the log may end in a partial record,
    /// so nothing more may be appended after it.
    broken: bool,
    /// Bytes appended since the segment the last snapshot covers.
    since_snapshot: u64,
    /// The size of the last snapshot.
    snapshot_bytes: u64,
    /// The snapshot being written in the background.
    checkpoint: Option<JoinHandle<io::Result<u64>>>,
    buf: Vec<u8>,
}

/// What [`Wal::open`] found.
#[derive(Debug)]
pub(super) struct Opened {
    pub wal: Wal,
    pub engine: Engine,
}

impl Wal {
    /// Opens the log in `dir` (created if needed): the newest snapshot, then every record after
    /// it; a partial record at the end is cut off. `import` provides the initial state of a
    /// directory without log files (a store written by an older version), which is then
    /// written as the first snapshot.
    pub fn open(
        dir: &Path,
        config: EngineConfig,
        import: impl FnOnce() -> Result<Option<Snapshot>>,
    ) -> Result<Opened> {
        let io_err = |what: &str, e: io::Error| Error::Backend(format!("{what} in {}: {e}", dir.display()));
        fs::create_dir_all(dir).map_err(|e| io_err("creating the directory", e))?;
        let (mut snapshots, segments) = list(dir).map_err(|e| io_err("listing", e))?;
        if snapshots.is_empty()
            && segments.is_empty()
            && let Some(snapshot) = import()?
        {
            let bytes =
                write_snapshot(dir, &snapshot).map_err(|e| io_err("writing the first snapshot", e))?;
            tracing::info!(
                revision = snapshot.revision,
                bytes,
                "imported the store into snapshot files"
            );
            snapshots.push(snapshot.revision);
        }
        let (snapshot, snapshot_bytes) = match snapshots.last() {
            Some(&revision) => read_snapshot(&snapshot_path(dir, revision))?,
            None => (
                Snapshot {
                    revision: 1,
                    compacted: 0,
                    live: Vec::new(),
                    events: Vec::new(),
                },
                0,
            ),
        };
        let engine = Engine::restore(config, snapshot)?;
        let mut since_snapshot = 0;
        for (i, &start) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            since_snapshot += replay(&engine, &segment_path(dir, start), last)?;
        }
        let segment = match segments.last() {
            Some(&start) => OpenOptions::new()
                .append(true)
                .open(segment_path(dir, start))
                .map_err(|e| io_err("opening the log", e))?,
            None => new_segment(dir, engine.revision() + 1).map_err(|e| io_err("creating the log", e))?,
        };
        let segment_len = segment
            .metadata()
            .map_err(|e| io_err("opening the log", e))?
            .len();
        Ok(Opened {
            wal: Wal {
                dir: dir.to_owned(),
                segment,
                segment_len,
                broken: false,
                since_snapshot,
                snapshot_bytes,
                checkpoint: None,
                buf: Vec::new(),
            },
            engine,
        })
    }

    /// Appends `events` and flushes them to disk. On failure the segment is cut back to where
    /// it was, so that a later append does not follow a partial record; if even that fails the
    /// log cannot be trusted and the error says so.
    pub fn append(&mut self, events: &[Arc<Event>]) -> io::Result<()> {
        self.buf.clear();
        for event in events {
            let at = self.buf.len();
            self.buf.extend_from_slice(&[0; HEADER]);
            self.buf.push(RECORD_EVENT);
            self.buf.extend_from_slice(&event.revision().to_le_bytes());
            codec::encode(event, &mut self.buf);
            seal(&mut self.buf, at);
        }
        self.write_buf()
    }

    /// Records a compaction to `revision`.
    pub fn compact(&mut self, revision: Revision) -> io::Result<()> {
        self.buf.clear();
        self.buf.extend_from_slice(&[0; HEADER]);
        self.buf.push(RECORD_COMPACT);
        self.buf.extend_from_slice(&revision.to_le_bytes());
        seal(&mut self.buf, 0);
        self.write_buf()
    }

    fn write_buf(&mut self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "the log could not be cut back after a failed write; restart to recover",
            ));
        }
        let written = self
            .segment
            .write_all(&self.buf)
            .and_then(|()| self.segment.sync_data());
        if let Err(e) = written {
            if let Err(cut) = self
                .segment
                .set_len(self.segment_len)
                .and_then(|()| self.segment.sync_data())
            {
                self.broken = true;
                return Err(io::Error::other(format!(
                    "{e}; then cutting the log back failed: {cut}"
                )));
            }
            return Err(e);
        }
        self.segment_len += self.buf.len() as u64;
        self.since_snapshot += self.buf.len() as u64;
        Ok(())
    }

    /// Starts a snapshot if the log has grown enough and none is being written: a new segment
    /// takes the next appends, and a thread writes `engine`'s state (as of now, the end of the
    /// old segment) then deletes what it supersedes. Call between commits.
    pub fn maybe_checkpoint(&mut self, engine: &Engine) -> io::Result<()> {
        if let Some(handle) = &self.checkpoint {
            if !handle.is_finished() {
                return Ok(());
            }
            self.finish_checkpoint();
        }
        if self.since_snapshot < MIN_CHECKPOINT_BYTES.max(self.snapshot_bytes) {
            return Ok(());
        }
        let snapshot = engine.snapshot();
        let start = snapshot.revision + 1;
        self.segment = new_segment(&self.dir, start)?;
        self.segment_len = 0;
        self.since_snapshot = 0;
        let dir = self.dir.clone();
        self.checkpoint = Some(
            std::thread::Builder::new()
                .name("storage-snapshot".into())
                .spawn(move || {
                    let bytes = write_snapshot(&dir, &snapshot)?;
                    remove_superseded(&dir, snapshot.revision)?;
                    Ok(bytes)
                })?,
        );
        Ok(())
    }

    fn finish_checkpoint(&mut self) {
        let Some(handle) = self.checkpoint.take() else {
            return;
        };
        match handle.join() {
            Ok(Ok(bytes)) => self.snapshot_bytes = bytes,
            // The old segments are still there: nothing is lost, the next check tries again.
            Ok(Err(e)) => tracing::error!(error = %e, "writing a storage snapshot failed"),
            Err(_) => tracing::error!("the storage snapshot thread panicked"),
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        // Leave the directory settled, so that it can be opened again at once.
        self.finish_checkpoint();
    }
}

/// Fills in the header of the record that starts at `at` and runs to the end of `buf`.
fn seal(buf: &mut [u8], at: usize) {
    let payload_len = buf.len() - at - HEADER;
    let crc = crc32(&buf[at + HEADER..]);
    buf[at..at + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    buf[at + 4..at + HEADER].copy_from_slice(&crc.to_le_bytes());
}

fn segment_path(dir: &Path, start: Revision) -> PathBuf {
    dir.join(format!("{WAL_PREFIX}{start:020}"))
}

fn snapshot_path(dir: &Path, revision: Revision) -> PathBuf {
    dir.join(format!("{SNAPSHOT_PREFIX}{revision:020}"))
}

/// The revisions of the snapshots and of the segments' starts in `dir`, each ascending. The
/// leftover of an interrupted snapshot is removed (only one snapshot is written at a time).
fn list(dir: &Path) -> io::Result<(Vec<Revision>, Vec<Revision>)> {
    let (mut snapshots, mut segments) = (Vec::new(), Vec::new());
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(SNAPSHOT_PREFIX) && name.ends_with(".tmp") {
            // A snapshot a crash interrupted: the log it would have replaced is still there.
            fs::remove_file(dir.join(name))?;
        } else if let Some(rev) = name.strip_prefix(SNAPSHOT_PREFIX).and_then(|r| r.parse().ok()) {
            snapshots.push(rev);
        } else if let Some(rev) = name.strip_prefix(WAL_PREFIX).and_then(|r| r.parse().ok()) {
            segments.push(rev);
        }
    }
    snapshots.sort_unstable();
    segments.sort_unstable();
    Ok((snapshots, segments))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn new_segment(dir: &Path, start: Revision) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(segment_path(dir, start))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Deletes the snapshots older than `revision` and the segments it covers (those that end at
/// or before it: every segment but the newest that starts at or before `revision + 1`).
fn remove_superseded(dir: &Path, revision: Revision) -> io::Result<()> {
    let (snapshots, segments) = list(dir)?;
    for old in snapshots.into_iter().filter(|&r| r < revision) {
        fs::remove_file(snapshot_path(dir, old))?;
    }
    for start in segments.into_iter().filter(|&s| s <= revision) {
        fs::remove_file(segment_path(dir, start))?;
    }
    sync_dir(dir)
}

/// Applies the records of one segment that the engine does not have yet. Returns the
/// segment's size. A partial or damaged record at the end of the `last` segment is cut off;
/// anywhere else it is an error.
fn replay(engine: &Engine, path: &Path, last: bool) -> Result<u64> {
    let corrupt = |what: String| Error::Backend(format!("{}: {what}", path.display()));
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(|e| corrupt(format!("reading: {e}")))?;
    let mut at = 0;
    while at < data.len() {
        let Some((kind, revision, body, next)) = record_at(&data, at) else {
            if !last || !torn_tail(&data[at..]) {
                return Err(corrupt(format!("damaged record at byte {at}")));
            }
            tracing::warn!(path = %path.display(), at, dropped = data.len() - at, "cutting off a partial write at the end of the log");
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| corrupt(format!("opening: {e}")))?;
            file.set_len(at as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| corrupt(format!("cutting off a partial record: {e}")))?;
            return Ok(at as u64);
        };
        match kind {
            RECORD_EVENT if revision <= engine.revision() => {} // in the snapshot already
            RECORD_EVENT => {
                let event =
                    codec::decode(revision, body).map_err(|e| corrupt(format!("event {revision}: {e}")))?;
                engine.apply(&[Arc::new(event)])?;
            }
            RECORD_COMPACT if revision <= engine.compacted() => {}
            RECORD_COMPACT => engine.compact(revision)?,
            other => return Err(corrupt(format!("unknown record type {other} at byte {at}"))),
        }
        at = next;
    }
    Ok(data.len() as u64)
}

/// Whether the bytes from a bad record on look like an append cut short by a crash: the
/// record runs past the end, or ends exactly there, or the rest is zeros (a file extended
/// before its data reached the disk). A bad record followed by more data is damage instead.
fn torn_tail(rest: &[u8]) -> bool {
    let Some(header) = rest.get(..HEADER) else {
        return true;
    };
    let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
    rest.len() <= HEADER + len || rest.iter().all(|&b| b == 0)
}

/// The record at `at`: its type, revision, body and the offset after it; `None` if it is
/// incomplete or its checksum does not match.
fn record_at(data: &[u8], at: usize) -> Option<(u8, Revision, &[u8], usize)> {
    let header = data.get(at..at + HEADER)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    let payload = data.get(at + HEADER..at + HEADER + len)?;
    if len < 9 || crc32(payload) != crc {
        return None;
    }
    let revision = u64::from_le_bytes(payload[1..9].try_into().ok()?);
    Some((payload[0], revision, &payload[9..], at + HEADER + len))
}

/// A writer that keeps the CRC-32 of what went through it.
struct Checksummed<W> {
    inner: W,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn put_bytes(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    w.write_all(&(bytes.len() as u64).to_le_bytes())?;
    w.write_all(bytes)
}

/// Writes `snapshot` durably; returns its size.
fn write_snapshot(dir: &Path, snapshot: &Snapshot) -> io::Result<u64> {
    let path = snapshot_path(dir, snapshot.revision);
    let tmp = path.with_extension("tmp");
    // Checksummed below the buffer, so that the CRC runs over whole buffers, not 8-byte fields.
    let mut w = BufWriter::with_capacity(
        1 << 20,
        Checksummed {
            inner: File::create(&tmp)?,
            crc: crc32fast::Hasher::new(),
            len: 0,
        },
    );
    w.write_all(SNAPSHOT_MAGIC)?;
    w.write_all(&snapshot.revision.to_le_bytes())?;
    w.write_all(&snapshot.compacted.to_le_bytes())?;
    w.write_all(&(snapshot.live.len() as u64).to_le_bytes())?;
    for kv in &snapshot.live {
        w.write_all(&kv.create_revision.to_le_bytes())?;
        w.write_all(&kv.mod_revision.to_le_bytes())?;
        put_bytes(&mut w, kv.key.as_bytes())?;
        put_bytes(&mut w, &kv.value)?;
    }
    w.write_all(&(snapshot.events.len() as u64).to_le_bytes())?;
    let mut buf = Vec::new();
    for event in &snapshot.events {
        buf.clear();
        codec::encode(event, &mut buf);
        w.write_all(&event.revision().to_le_bytes())?;
        put_bytes(&mut w, &buf)?;
    }
    let Checksummed { mut inner, crc, len } = w.into_inner().map_err(|e| e.into_error())?;
    let len = len + 4;
    inner.write_all(&crc.finalize().to_le_bytes())?;
    inner.sync_all()?;
    drop(inner);
    fs::rename(&tmp, &path)?;
    sync_dir(dir)?;
    Ok(len)
}

/// Reads and checks a snapshot file; returns it and its size.
fn read_snapshot(path: &Path) -> Result<(Snapshot, u64)> {
    let corrupt = |what: String| Error::Backend(format!("snapshot {}: {what}", path.display()));
    let data = fs::read(path).map_err(|e| corrupt(format!("reading: {e}")))?;
    let body_len = data
        .len()
        .checked_sub(4)
        .ok_or_else(|| corrupt("truncated".into()))?;
    let (body, crc) = data.split_at(body_len);
    if crc32(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
        return Err(corrupt("checksum mismatch".into()));
    }
    let mut r = codec::Reader(body);
    let parse = |r: &mut codec::Reader<'_>| -> Result<Snapshot, String> {
        if r.take(SNAPSHOT_MAGIC.len())? != SNAPSHOT_MAGIC {
            return Err("not a snapshot".into());
        }
        let revision = r.u64()?;
        let compacted = r.u64()?;
        let live_count = r.u64()?;
        let mut live = Vec::with_capacity(live_count.min(1 << 20) as usize);
        for _ in 0..live_count {
            let create_revision = r.u64()?;
            let mod_revision = r.u64()?;
            let key = String::from_utf8(r.bytes()?.to_vec()).map_err(|e| e.to_string())?;
            let value = Bytes::copy_from_slice(r.bytes()?);
            live.push(KeyValue {
                key,
                value,
                create_revision,
                mod_revision,
            });
        }
        let event_count = r.u64()?;
        let mut events = Vec::with_capacity(event_count.min(1 << 20) as usize);
        for _ in 0..event_count {
            let revision = r.u64()?;
            events.push(codec::decode(revision, r.bytes()?)?);
        }
        if !r.0.is_empty() {
            return Err(format!("{} trailing bytes", r.0.len()));
        }
        Ok(Snapshot {
            revision,
            compacted,
            live,
            events,
        })
    };
    let snapshot = parse(&mut r).map_err(|e| corrupt(format!("malformed: {e}")))?;
    Ok((snapshot, data.len() as u64))
}

/// CRC-32 (IEEE 802.3, as zlib and gzip compute it), with the processor's carry-less multiply
/// where it has one.
fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::EventKind;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let mut w = Checksummed {
            inner: Vec::new(),
            crc: crc32fast::Hasher::new(),
            len: 0,
        };
        w.write_all(b"1234").unwrap();
        w.write_all(b"56789").unwrap();
        assert_eq!((w.crc.finalize(), w.len), (0xCBF4_3926, 9));
    }

    fn event(revision: Revision, key: &str, value: &str) -> Arc<Event> {
        Arc::new(Event {
            kind: EventKind::Create,
            kv: KeyValue {
                key: key.into(),
                value: Bytes::from(value.to_owned()),
                create_revision: revision,
                mod_revision: revision,
            },
            prev: None,
        })
    }

    fn open(dir: &Path) -> Opened {
        Wal::open(dir, EngineConfig::default(), || Ok(None)).unwrap()
    }

    /// A log holding writes at revisions 2 and 3, in the segment that starts at 2.
    fn two_writes() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let Opened { mut wal, engine } = open(dir.path());
        let events = [event(2, "/a", "1"), event(3, "/b", "2")];
        wal.append(&events).unwrap();
        engine.apply(&events).unwrap();
        dir
    }

    #[test]
    fn a_partial_record_at_the_end_is_cut_off_and_appends_continue() {
        let dir = two_writes();
        // A crash in the middle of the next append: half a record.
        let segment = segment_path(dir.path(), 2);
        let mut half = Vec::new();
        {
            let mut buf = Vec::new();
            buf.extend_from_slice(&[0; HEADER]);
            buf.push(RECORD_EVENT);
            buf.extend_from_slice(&4u64.to_le_bytes());
            codec::encode(&event(4, "/c", "3"), &mut buf);
            seal(&mut buf, 0);
            half.extend_from_slice(&buf[..buf.len() / 2]);
        }
        let good_len = fs::metadata(&segment).unwrap().len();
        OpenOptions::new()
            .append(true)
            .open(&segment)
            .unwrap()
            .write_all(&half)
            .unwrap();
        let Opened { mut wal, engine } = open(dir.path());
        assert_eq!(engine.revision(), 3);
        assert_eq!(fs::metadata(&segment).unwrap().len(), good_len);
        let next = [event(4, "/d", "4")];
        wal.append(&next).unwrap();
        drop(wal);
        let Opened { engine, .. } = open(dir.path());
        assert_eq!(engine.revision(), 4);
        assert_eq!(engine.get("/d").unwrap().value, "4");
        assert!(engine.get("/c").is_none());
    }

    #[test]
    fn damage_before_the_end_is_an_error_not_a_silent_loss() {
        let dir = two_writes();
        // The first of two records damaged: cutting it off would lose the second, which was
        // acknowledged, so opening fails.
        let segment = segment_path(dir.path(), 2);
        let mut data = fs::read(&segment).unwrap();
        data[HEADER + 3] ^= 0xff;
        fs::write(&segment, &data).unwrap();
        let err = Wal::open(dir.path(), EngineConfig::default(), || Ok(None)).unwrap_err();
        assert!(err.to_string().contains("damaged record"), "{err}");
        // Zeros after the good records (a file extended before its data landed) are a torn tail.
        data[HEADER + 3] ^= 0xff;
        data.extend_from_slice(&[0; 100]);
        fs::write(&segment, &data).unwrap();
        assert_eq!(open(dir.path()).engine.revision(), 3);
    }

    #[test]
    fn snapshots_replace_old_segments_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let Opened { mut wal, engine } = open(dir.path());
        let events: Vec<_> = (2..=5).map(|r| event(r, &format!("/k{r}"), "v")).collect();
        wal.append(&events).unwrap();
        engine.apply(&events).unwrap();
        wal.compact(3).unwrap();
        engine.compact(3).unwrap();
        wal.since_snapshot = MIN_CHECKPOINT_BYTES; // as if the log had grown
        wal.maybe_checkpoint(&engine).unwrap();
        let more = [event(6, "/k6", "v")];
        wal.append(&more).unwrap();
        engine.apply(&more).unwrap();
        drop(wal);
        let (snapshots, segments) = list(dir.path()).unwrap();
        assert_eq!((snapshots, segments), (vec![5], vec![6]));
        // What a crash in the middle of the next snapshot would leave: removed on open.
        let tmp = snapshot_path(dir.path(), 6).with_extension("tmp");
        fs::write(&tmp, b"partial").unwrap();
        let Opened { engine: reopened, .. } = open(dir.path());
        assert_eq!(reopened.revision(), 6);
        assert_eq!(reopened.compacted(), 3);
        assert_eq!(reopened.snapshot().live, engine.snapshot().live);
        assert_eq!(reopened.snapshot().events, engine.snapshot().events);
        assert!(!tmp.exists());
        // A damaged snapshot is an error.
        let path = snapshot_path(dir.path(), 5);
        let mut data = fs::read(&path).unwrap();
        data[20] ^= 1;
        fs::write(&path, data).unwrap();
        assert!(Wal::open(dir.path(), EngineConfig::default(), || Ok(None)).is_err());
    }
}
