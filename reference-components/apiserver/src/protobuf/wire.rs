//! A check that a protobuf message holds only fields this server decodes.
//!
//! prost skips unknown fields silently; a server that dropped part of a request would store
//! something other than what the client sent. Each message type describes its field numbers (a
//! [`Shape`]) and [`check`] walks the wire format against it before decoding.

use bytes::Buf;
use prost::encoding::{WireType, decode_key, decode_varint};

/// The fields of one message type: each known field number, with the shape of the message it
/// holds (for message fields whose contents are checked too).
#[derive(Debug)]
pub struct Shape {
    /// The message's name, for errors (`ObjectMeta`).
    pub name: &'static str,
    /// Known fields.
    pub fields: &'static [(u32, Option<&'static Shape>)],
}

/// What [`check`] finds wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A field number the server does not decode.
    #[error("field {field} of {message} is not supported by this server")]
    Unknown {
        /// The message.
        message: &'static str,
        /// The field number.
        field: u32,
    },
    /// Bytes that are not protobuf.
    #[error("malformed protobuf: {0}")]
    Malformed(String),
}

fn malformed(e: impl std::fmt::Display) -> WireError {
    WireError::Malformed(e.to_string())
}

/// Check that `bytes`, a message of `shape`, holds only known fields (recursively).
pub fn check(mut bytes: &[u8], shape: &Shape) -> Result<(), WireError> {
    while bytes.has_remaining() {
        let (tag, wire_type) = decode_key(&mut bytes).map_err(malformed)?;
        let Some((_, nested)) = shape.fields.iter().find(|(t, _)| *t == tag) else {
            return Err(WireError::Unknown {
                message: shape.name,
                field: tag,
            });
        };
        match wire_type {
            WireType::Varint => {
                decode_varint(&mut bytes).map_err(malformed)?;
            }
            WireType::SixtyFourBit => skip(&mut bytes, 8)?,
            WireType::ThirtyTwoBit => skip(&mut bytes, 4)?,
            WireType::LengthDelimited => {
                let len =
                    usize::try_from(decode_varint(&mut bytes).map_err(malformed)?).map_err(malformed)?;
                if len > bytes.len() {
                    return Err(malformed("length past the end of the message"));
                }
                let (inner, rest) = bytes.split_at(len);
                if let Some(nested) = nested {
                    check(inner, nested)?;
                }
                bytes = rest;
            }
            WireType::StartGroup | WireType::EndGroup => {
                return Err(malformed("groups are not used by Kubernetes"));
            }
        }
    }
    Ok(())
}

fn skip(bytes: &mut &[u8], n: usize) -> Result<(), WireError> {
    if bytes.len() < n {
        return Err(malformed("truncated field"));
    }
    bytes.advance(n);
    Ok(())
}
