//! Optional parameters (TLVs, SMPP 3.4 §5.3): kept as tag and raw value so unknown and vendor
//! tags round-trip untouched; the tags Impulse reads have named constants and typed getters.

use bytes::Bytes;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlv {
    pub tag: u16,
    pub value: Bytes,
}

pub mod tag {
    pub const DEST_ADDR_SUBUNIT: u16 = 0x0005;
    pub const SOURCE_PORT: u16 = 0x020A;
    pub const DESTINATION_PORT: u16 = 0x020B;
    pub const SAR_MSG_REF_NUM: u16 = 0x020C;
    pub const SAR_TOTAL_SEGMENTS: u16 = 0x020E;
    pub const SAR_SEGMENT_SEQNUM: u16 = 0x020F;
    pub const SC_INTERFACE_VERSION: u16 = 0x0210;
    pub const USER_MESSAGE_REFERENCE: u16 = 0x0204;
    pub const PAYLOAD_TYPE: u16 = 0x0019;
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    pub const MS_MSG_WAIT_FACILITIES: u16 = 0x0030;
    pub const NETWORK_ERROR_CODE: u16 = 0x0423;
    pub const MESSAGE_PAYLOAD: u16 = 0x0424;
    pub const DELIVERY_FAILURE_REASON: u16 = 0x0425;
    pub const MORE_MESSAGES_TO_SEND: u16 = 0x0426;
    pub const MESSAGE_STATE: u16 = 0x0427;
    pub const MS_AVAILABILITY_STATUS: u16 = 0x0422;
}

/// Typed access to a PDU's TLV list.
pub trait Tlvs {
    fn tlvs(&self) -> &[Tlv];

    fn tlv(&self, tag: u16) -> Option<&[u8]> {
        self.tlvs()
            .iter()
            .find(|t| t.tag == tag)
            .map(|t| &t.value[..])
    }

    fn tlv_u8(&self, tag: u16) -> Option<u8> {
        self.tlv(tag).and_then(|v| v.first().copied())
    }

    fn tlv_u16(&self, tag: u16) -> Option<u16> {
        self.tlv(tag)
            .filter(|v| v.len() >= 2)
            .map(|v| u16::from_be_bytes([v[0], v[1]]))
    }

    /// A C-octet-string TLV (trailing NUL removed if present).
    fn tlv_str(&self, tag: u16) -> Option<String> {
        self.tlv(tag).map(|v| {
            let v = v.strip_suffix(&[0]).unwrap_or(v);
            String::from_utf8_lossy(v).into_owned()
        })
    }
}

impl Tlv {
    pub fn u8(tag: u16, v: u8) -> Tlv {
        Tlv {
            tag,
            value: Bytes::copy_from_slice(&[v]),
        }
    }

    pub fn u16(tag: u16, v: u16) -> Tlv {
        Tlv {
            tag,
            value: Bytes::copy_from_slice(&v.to_be_bytes()),
        }
    }

    /// A C-octet-string TLV (NUL-terminated on the wire).
    pub fn cstr(tag: u16, s: &str) -> Tlv {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        Tlv {
            tag,
            value: Bytes::from(v),
        }
    }

    pub fn bytes(tag: u16, v: impl Into<Bytes>) -> Tlv {
        Tlv {
            tag,
            value: v.into(),
        }
    }
}
