//! Decoding streamed responses: one JSON watch event per line.
//!
//! The body arrives in chunks that need not line up with events: an event may span many chunks
//! (a 10 MB ConfigMap) and a chunk may hold many events. Bytes are buffered until a newline
//! completes an event; only bytes not yet scanned are searched for it, so decoding stays linear
//! however a large event is split.

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use kube_core::WatchEvent;

/// Splits a byte stream into newline-terminated frames.
#[derive(Debug, Default)]
pub struct LineFramer {
    buf: BytesMut,
    scanned: usize,
}

impl LineFramer {
    /// Append a chunk.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete line (without its newline), skipping blank lines.
    pub fn next_line(&mut self) -> Option<Bytes> {
        loop {
            let pos = self.buf[self.scanned..].iter().position(|b| *b == b'\n')?;
            let line = self.buf.split_to(self.scanned + pos).freeze();
            self.buf.advance(1);
            self.scanned = 0;
            if !line.iter().all(u8::is_ascii_whitespace) {
                return Some(line);
            }
        }
    }

    /// Remember that everything buffered so far holds no newline.
    fn mark_scanned(&mut self) {
        self.scanned = self.buf.len();
    }

    /// What is left once the stream has ended: a final line without a newline, if any.
    pub fn finish(&mut self) -> Option<Bytes> {
        let rest = self.buf.split().freeze();
        self.scanned = 0;
        (!rest.iter().all(u8::is_ascii_whitespace)).then_some(rest)
    }
}

fn decode_line<T: DeserializeOwned>(url: &str, line: &[u8]) -> Result<WatchEvent<T>> {
    serde_json::from_slice(line).map_err(|source| Error::Decode {
        url: url.to_string(),
        body: String::from_utf8_lossy(&line[..line.len().min(256)]).into_owned(),
        source,
    })
}

/// Turn a chunked body into watch events. The stream ends when the body ends; a transport
/// error or an undecodable event is yielded as an error and ends the stream.
pub fn watch_events<T, S, E>(url: String, body: S) -> impl Stream<Item = Result<WatchEvent<T>>> + Send
where
    T: DeserializeOwned + Send + 'static,
    S: Stream<Item = std::result::Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::fmt::Display,
{
    struct St<S> {
        body: Option<S>,
        framer: LineFramer,
        url: String,
    }
    futures::stream::unfold(
        St {
            body: Some(body),
            framer: LineFramer::default(),
            url,
        },
        |mut st| async move {
            loop {
                if let Some(line) = st.framer.next_line() {
                    let ev = decode_line(&st.url, &line);
                    if ev.is_err() {
                        st.body = None;
                    }
                    return Some((ev, st));
                }
                st.framer.mark_scanned();
                let body = st.body.as_mut()?;
                match body.next().await {
                    Some(Ok(chunk)) => st.framer.push(&chunk),
                    Some(Err(e)) => {
                        let err = Error::Stream {
                            url: st.url.clone(),
                            reason: e.to_string(),
                        };
                        st.body = None;
                        return Some((Err(err), st));
                    }
                    None => {
                        st.body = None;
                        let rest = st.framer.finish()?;
                        return Some((decode_line(&st.url, &rest), st));
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn event(name: &str, rv: u32, payload: usize) -> String {
        format!(
            r#"{{"type":"ADDED","object":{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","resourceVersion":"{rv}"}},"data":{{"k":"{}"}}}}}}"#,
            "x".repeat(payload)
        )
    }

    async fn decode(chunks: Vec<Vec<u8>>) -> Vec<Result<WatchEvent<ConfigMap>>> {
        let body = futures::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
        );
        watch_events("GET /x".into(), body).collect().await
    }

    #[tokio::test]
    async fn events_split_at_every_byte_boundary() {
        let stream = format!(
            "{}\n{}\n\n{}\n",
            event("a", 1, 3),
            event("b", 2, 0),
            event("c", 3, 10)
        );
        let bytes = stream.as_bytes();
        for size in [1, 2, 3, 7, 64, bytes.len()] {
            let chunks = bytes.chunks(size).map(<[u8]>::to_vec).collect();
            let names: Vec<_> = decode(chunks)
                .await
                .into_iter()
                .map(|e| e.unwrap().object().unwrap().metadata.name.clone().unwrap())
                .collect();
            assert_eq!(names, ["a", "b", "c"], "chunk size {size}");
        }
    }

    #[tokio::test]
    async fn a_very_large_event_in_small_chunks() {
        let big = event("big", 9, 8 * 1024 * 1024);
        let stream = format!("{big}\n{}", event("tail", 10, 1));
        let chunks = stream.as_bytes().chunks(4096).map(<[u8]>::to_vec).collect();
        let start = std::time::Instant::now();
        let events = decode(chunks).await;
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "decoding must stay linear"
        );
        assert_eq!(events.len(), 2, "the last event needs no trailing newline");
        let first = events[0].as_ref().unwrap().object().unwrap();
        assert_eq!(first.data.as_ref().unwrap()["k"].len(), 8 * 1024 * 1024);
    }

    #[tokio::test]
    async fn garbage_and_broken_bodies_are_errors_that_end_the_stream() {
        let events = decode(vec![
            b"{\"type\":\"ADDED\",\"object\":{}}\nnot json\n".to_vec(),
            event("x", 1, 0).into_bytes(),
        ])
        .await;
        assert_eq!(events.len(), 2);
        assert!(matches!(events[1], Err(Error::Decode { .. })));

        let body = futures::stream::iter(vec![
            Ok(Bytes::from(format!("{}\n", event("a", 1, 0)))),
            Err(std::io::Error::other("connection reset")),
        ]);
        let events: Vec<Result<WatchEvent<ConfigMap>>> = watch_events("GET /x".into(), body).collect().await;
        assert!(events[0].is_ok());
        assert!(matches!(&events[1], Err(Error::Stream { reason, .. }) if reason.contains("reset")));
    }
}
