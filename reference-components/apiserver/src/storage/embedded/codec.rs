//! The byte layout of an event in the persisted event log.
//!
//! ```text
//! u8 format (1) | u8 kind (0 create, 1 update, 2 delete) | u64 key length | key
//! | u64 create_revision | u64 value length | value
//! | u8 has_prev (0/1) | [u64 prev create_revision | u64 prev mod_revision | u64 length | value]
//! ```
//!
//! Integers are little-endian. The event's own revision is the log's key, not repeated here.

use bytes::Bytes;

use crate::storage::{Event, EventKind, KeyValue, Revision};

const FORMAT: u8 = 1;

/// Appends the encoding of `event` to `out`.
pub(super) fn encode(event: &Event, out: &mut Vec<u8>) {
    out.push(FORMAT);
    out.push(match event.kind {
        EventKind::Create => 0,
        EventKind::Update => 1,
        EventKind::Delete => 2,
    });
    put_bytes(out, event.kv.key.as_bytes());
    out.extend_from_slice(&event.kv.create_revision.to_le_bytes());
    put_bytes(out, &event.kv.value);
    match &event.prev {
        None => out.push(0),
        Some(prev) => {
            out.push(1);
            out.extend_from_slice(&prev.create_revision.to_le_bytes());
            out.extend_from_slice(&prev.mod_revision.to_le_bytes());
            put_bytes(out, &prev.value);
        }
    }
}

/// Decodes the event stored at `revision`.
pub(super) fn decode(revision: Revision, bytes: &[u8]) -> Result<Event, String> {
    let mut r = Reader(bytes);
    let format = r.u8()?;
    if format != FORMAT {
        return Err(format!("unknown event format {format}"));
    }
    let kind = match r.u8()? {
        0 => EventKind::Create,
        1 => EventKind::Update,
        2 => EventKind::Delete,
        other => return Err(format!("unknown event kind {other}")),
    };
    let key = String::from_utf8(r.bytes()?.to_vec()).map_err(|e| e.to_string())?;
    let create_revision = r.u64()?;
    let value = Bytes::copy_from_slice(r.bytes()?);
    let prev = match r.u8()? {
        0 => None,
        _ => {
            let create_revision = r.u64()?;
            let mod_revision = r.u64()?;
            Some(KeyValue {
                key: key.clone(),
                value: Bytes::copy_from_slice(r.bytes()?),
                create_revision,
                mod_revision,
            })
        }
    };
    if !r.0.is_empty() {
        return Err(format!("{} trailing bytes", r.0.len()));
    }
    Ok(Event {
        kind,
        kv: KeyValue {
            key,
            value,
            create_revision,
            mod_revision: revision,
        },
        prev,
    })
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Reads the integers and length-prefixed byte strings of these encodings.
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated event".to_owned());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u64(&mut self) -> Result<u64, String> {
        let bytes = self.take(8)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    pub(super) fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = usize::try_from(self.u64()?).map_err(|e| e.to_string())?;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        let kv = |value: &'static str, create, m| KeyValue {
            key: "/registry/pods/default/web".into(),
            value: Bytes::from_static(value.as_bytes()),
            create_revision: create,
            mod_revision: m,
        };
        let events = [
            Event {
                kind: EventKind::Create,
                kv: kv("a", 2, 2),
                prev: None,
            },
            Event {
                kind: EventKind::Update,
                kv: kv("b", 2, 5),
                prev: Some(kv("a", 2, 2)),
            },
            Event {
                kind: EventKind::Delete,
                kv: kv("b", 2, 9),
                prev: Some(kv("b", 2, 5)),
            },
        ];
        for event in events {
            let mut buf = Vec::new();
            encode(&event, &mut buf);
            assert_eq!(decode(event.revision(), &buf).unwrap(), event);
            assert!(decode(event.revision(), &buf[..buf.len() - 1]).is_err());
        }
    }
}
