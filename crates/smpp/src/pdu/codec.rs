//! Wire encoding and decoding of [`Frame`]s.
//!
//! Framing and decoding are separate steps, as the driver needs them: [`check_frame`] splits
//! the stream by command_length (a bad length means the stream cannot be resynchronised and the
//! connection must close); [`decode`] reads one complete frame, and its error says which status
//! to answer with (generic_nack for an unknown command, a field-specific status otherwise), so
//! that one bad PDU never ends a session.

use bytes::{BufMut, Bytes, BytesMut};

use super::*;

/// Why a frame could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// command_length below the header size or above [`MAX_PDU_LEN`]: framing is lost.
    #[error("invalid command_length {0}")]
    BadLength(u32),
    /// A well-framed PDU with a command_id SMPP 3.4 does not define.
    #[error("unknown command_id 0x{:08X}", .id.0)]
    UnknownCommand { id: CommandId, sequence: u32 },
    /// A known command with a malformed body.
    #[error("malformed {id}: bad {field}")]
    Malformed {
        id: CommandId,
        sequence: u32,
        field: &'static str,
    },
}

impl DecodeError {
    /// The status to answer with (in a generic_nack, SMPP 3.4 §4.3).
    pub fn status(&self) -> CommandStatus {
        match self {
            DecodeError::BadLength(_) => CommandStatus::ESME_RINVCMDLEN,
            DecodeError::UnknownCommand { .. } => CommandStatus::ESME_RINVCMDID,
            DecodeError::Malformed { field, .. } => field_status(field),
        }
    }

    pub fn sequence(&self) -> u32 {
        match self {
            DecodeError::BadLength(_) => 0,
            DecodeError::UnknownCommand { sequence, .. }
            | DecodeError::Malformed { sequence, .. } => *sequence,
        }
    }
}

/// The status naming a malformed field (SMPP 3.4 §5.1.3).
fn field_status(field: &str) -> CommandStatus {
    match field {
        "system_id" => CommandStatus::ESME_RINVSYSID,
        "password" => CommandStatus::ESME_RINVPASWD,
        "system_type" => CommandStatus::ESME_RINVSYSTYP,
        "source_addr" | "esme_addr" => CommandStatus::ESME_RINVSRCADR,
        "destination_addr" => CommandStatus::ESME_RINVDSTADR,
        "short_message" | "sm_length" => CommandStatus::ESME_RINVMSGLEN,
        "tlv" => CommandStatus::ESME_RINVOPTPARSTREAM,
        "message_id" => CommandStatus::ESME_RINVMSGID,
        "service_type" => CommandStatus::ESME_RINVSERTYP,
        "number_of_dests" => CommandStatus::ESME_RINVNUMDESTS,
        "dest_flag" => CommandStatus::ESME_RINVDESTFLAG,
        "dl_name" => CommandStatus::ESME_RINVDLNAME,
        "schedule_delivery_time" => CommandStatus::ESME_RINVSCHED,
        "validity_period" => CommandStatus::ESME_RINVEXPIRY,
        _ => CommandStatus::ESME_RINVCMDLEN,
    }
}

/// What the start of a buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameCheck {
    /// Not enough bytes yet for the header or the whole frame.
    Incomplete,
    /// A complete frame of this many bytes.
    Complete(usize),
    /// An impossible command_length: close the connection.
    BadLength(u32),
}

pub fn check_frame(buf: &[u8]) -> FrameCheck {
    if buf.len() < 4 {
        return FrameCheck::Incomplete;
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len < 16 || len as usize > MAX_PDU_LEN {
        return FrameCheck::BadLength(len);
    }
    if buf.len() < len as usize {
        FrameCheck::Incomplete
    } else {
        FrameCheck::Complete(len as usize)
    }
}

/// command_id, command_status and sequence_number of a frame of at least 16 bytes.
pub fn peek_header(frame: &[u8]) -> Option<(CommandId, CommandStatus, u32)> {
    let h = frame.get(..16)?;
    let word = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    Some((CommandId(word(4)), CommandStatus(word(8)), word(12)))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

type Field<T> = Result<T, &'static str>;

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn u8(&mut self, field: &'static str) -> Field<u8> {
        let b = *self.buf.get(self.pos).ok_or(field)?;
        self.pos += 1;
        Ok(b)
    }

    fn u16(&mut self, field: &'static str) -> Field<u16> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, field: &'static str) -> Field<u32> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn take(&mut self, n: usize, field: &'static str) -> Field<&'a [u8]> {
        if self.remaining() < n {
            return Err(field);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A NUL-terminated string of at most [`MAX_CSTRING`] octets before the NUL.
    fn cstr(&mut self, field: &'static str) -> Field<String> {
        let rest = &self.buf[self.pos..];
        let window = &rest[..rest.len().min(MAX_CSTRING + 1)];
        let nul = window.iter().position(|b| *b == 0).ok_or(field)?;
        let s = match std::str::from_utf8(&rest[..nul]) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(&rest[..nul]).into_owned(),
        };
        self.pos += nul + 1;
        Ok(s)
    }

    fn address(&mut self, field: &'static str) -> Field<Address> {
        Ok(Address {
            ton: self.u8(field)?,
            npi: self.u8(field)?,
            addr: self.cstr(field)?,
        })
    }

    /// sm_length then that many octets.
    fn short_message(&mut self) -> Field<Bytes> {
        let len = self.u8("sm_length")? as usize;
        Ok(Bytes::copy_from_slice(self.take(len, "short_message")?))
    }

    fn tlvs(&mut self) -> Field<Vec<Tlv>> {
        let mut out = Vec::new();
        while self.remaining() > 0 {
            let tag = self.u16("tlv")?;
            let len = self.u16("tlv")? as usize;
            let value = Bytes::copy_from_slice(self.take(len, "tlv")?);
            out.push(Tlv { tag, value });
        }
        Ok(out)
    }
}

fn decode_short_message(r: &mut Reader<'_>) -> Field<ShortMessage> {
    Ok(ShortMessage {
        service_type: r.cstr("service_type")?,
        source: r.address("source_addr")?,
        dest: r.address("destination_addr")?,
        esm_class: r.u8("esm_class")?,
        protocol_id: r.u8("protocol_id")?,
        priority_flag: r.u8("priority_flag")?,
        schedule_delivery_time: r.cstr("schedule_delivery_time")?,
        validity_period: r.cstr("validity_period")?,
        registered_delivery: r.u8("registered_delivery")?,
        replace_if_present_flag: r.u8("replace_if_present_flag")?,
        data_coding: r.u8("data_coding")?,
        sm_default_msg_id: r.u8("sm_default_msg_id")?,
        short_message: r.short_message()?,
        tlvs: r.tlvs()?,
    })
}

fn decode_bind(r: &mut Reader<'_>) -> Field<Bind> {
    Ok(Bind {
        system_id: r.cstr("system_id")?,
        password: r.cstr("password")?,
        system_type: r.cstr("system_type")?,
        interface_version: r.u8("interface_version")?,
        addr_ton: r.u8("addr_ton")?,
        addr_npi: r.u8("addr_npi")?,
        address_range: r.cstr("address_range")?,
    })
}

/// Responses may come without a body (3.4 SMSCs omit it with an error status).
fn decode_bind_resp(r: &mut Reader<'_>) -> Field<BindResp> {
    if r.remaining() == 0 {
        return Ok(BindResp::default());
    }
    Ok(BindResp {
        system_id: r.cstr("system_id")?,
        tlvs: r.tlvs()?,
    })
}

fn decode_message_id_resp(r: &mut Reader<'_>) -> Field<MessageIdResp> {
    if r.remaining() == 0 {
        return Ok(MessageIdResp::default());
    }
    // Anything after the id is ignored: some SMSCs pad, none sends something meaningful.
    Ok(MessageIdResp {
        message_id: r.cstr("message_id")?,
    })
}

fn decode_submit_multi(r: &mut Reader<'_>) -> Field<SubmitMulti> {
    let service_type = r.cstr("service_type")?;
    let source = r.address("source_addr")?;
    let count = r.u8("number_of_dests")?;
    let mut dests = Vec::with_capacity(count as usize);
    for _ in 0..count {
        dests.push(match r.u8("dest_flag")? {
            1 => MultiDest::Sme(r.address("destination_addr")?),
            2 => MultiDest::DistributionList(r.cstr("dl_name")?),
            _ => return Err("dest_flag"),
        });
    }
    Ok(SubmitMulti {
        service_type,
        source,
        dests,
        esm_class: r.u8("esm_class")?,
        protocol_id: r.u8("protocol_id")?,
        priority_flag: r.u8("priority_flag")?,
        schedule_delivery_time: r.cstr("schedule_delivery_time")?,
        validity_period: r.cstr("validity_period")?,
        registered_delivery: r.u8("registered_delivery")?,
        replace_if_present_flag: r.u8("replace_if_present_flag")?,
        data_coding: r.u8("data_coding")?,
        sm_default_msg_id: r.u8("sm_default_msg_id")?,
        short_message: r.short_message()?,
        tlvs: r.tlvs()?,
    })
}

fn decode_body(id: CommandId, r: &mut Reader<'_>) -> Field<Pdu> {
    Ok(match id {
        CommandId::BIND_TRANSMITTER => Pdu::BindTransmitter(decode_bind(r)?),
        CommandId::BIND_RECEIVER => Pdu::BindReceiver(decode_bind(r)?),
        CommandId::BIND_TRANSCEIVER => Pdu::BindTransceiver(decode_bind(r)?),
        CommandId::BIND_TRANSMITTER_RESP => Pdu::BindTransmitterResp(decode_bind_resp(r)?),
        CommandId::BIND_RECEIVER_RESP => Pdu::BindReceiverResp(decode_bind_resp(r)?),
        CommandId::BIND_TRANSCEIVER_RESP => Pdu::BindTransceiverResp(decode_bind_resp(r)?),
        CommandId::OUTBIND => Pdu::Outbind(Outbind {
            system_id: r.cstr("system_id")?,
            password: r.cstr("password")?,
        }),
        CommandId::UNBIND => Pdu::Unbind,
        CommandId::UNBIND_RESP => Pdu::UnbindResp,
        CommandId::SUBMIT_SM => Pdu::SubmitSm(decode_short_message(r)?),
        CommandId::SUBMIT_SM_RESP => Pdu::SubmitSmResp(decode_message_id_resp(r)?),
        CommandId::DELIVER_SM => Pdu::DeliverSm(decode_short_message(r)?),
        CommandId::DELIVER_SM_RESP => Pdu::DeliverSmResp(decode_message_id_resp(r)?),
        CommandId::SUBMIT_MULTI => Pdu::SubmitMulti(decode_submit_multi(r)?),
        CommandId::SUBMIT_MULTI_RESP => {
            if r.remaining() == 0 {
                Pdu::SubmitMultiResp(SubmitMultiResp::default())
            } else {
                let message_id = r.cstr("message_id")?;
                let count = r.u8("no_unsuccess")?;
                let mut unsuccess = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    let dest = r.address("destination_addr")?;
                    let error_status = CommandStatus(r.u32("error_status_code")?);
                    unsuccess.push(Unsuccess { dest, error_status });
                }
                Pdu::SubmitMultiResp(SubmitMultiResp {
                    message_id,
                    unsuccess,
                })
            }
        }
        CommandId::DATA_SM => Pdu::DataSm(DataSm {
            service_type: r.cstr("service_type")?,
            source: r.address("source_addr")?,
            dest: r.address("destination_addr")?,
            esm_class: r.u8("esm_class")?,
            registered_delivery: r.u8("registered_delivery")?,
            data_coding: r.u8("data_coding")?,
            tlvs: r.tlvs()?,
        }),
        CommandId::DATA_SM_RESP => {
            if r.remaining() == 0 {
                Pdu::DataSmResp(DataSmResp::default())
            } else {
                Pdu::DataSmResp(DataSmResp {
                    message_id: r.cstr("message_id")?,
                    tlvs: r.tlvs()?,
                })
            }
        }
        CommandId::QUERY_SM => Pdu::QuerySm(QuerySm {
            message_id: r.cstr("message_id")?,
            source: r.address("source_addr")?,
        }),
        CommandId::QUERY_SM_RESP => {
            if r.remaining() == 0 {
                Pdu::QuerySmResp(QuerySmResp::default())
            } else {
                Pdu::QuerySmResp(QuerySmResp {
                    message_id: r.cstr("message_id")?,
                    final_date: r.cstr("final_date")?,
                    message_state: r.u8("message_state")?,
                    error_code: r.u8("error_code")?,
                })
            }
        }
        CommandId::CANCEL_SM => Pdu::CancelSm(CancelSm {
            service_type: r.cstr("service_type")?,
            message_id: r.cstr("message_id")?,
            source: r.address("source_addr")?,
            dest: r.address("destination_addr")?,
        }),
        CommandId::CANCEL_SM_RESP => Pdu::CancelSmResp,
        CommandId::REPLACE_SM => Pdu::ReplaceSm(ReplaceSm {
            message_id: r.cstr("message_id")?,
            source: r.address("source_addr")?,
            schedule_delivery_time: r.cstr("schedule_delivery_time")?,
            validity_period: r.cstr("validity_period")?,
            registered_delivery: r.u8("registered_delivery")?,
            sm_default_msg_id: r.u8("sm_default_msg_id")?,
            short_message: r.short_message()?,
        }),
        CommandId::REPLACE_SM_RESP => Pdu::ReplaceSmResp,
        CommandId::ENQUIRE_LINK => Pdu::EnquireLink,
        CommandId::ENQUIRE_LINK_RESP => Pdu::EnquireLinkResp,
        CommandId::GENERIC_NACK => Pdu::GenericNack,
        CommandId::ALERT_NOTIFICATION => Pdu::AlertNotification(AlertNotification {
            source: r.address("source_addr")?,
            esme: r.address("esme_addr")?,
            tlvs: r.tlvs()?,
        }),
        _ => return Err("command_id"),
    })
}

/// Decodes one complete frame (exactly the bytes [`check_frame`] measured).
pub fn decode(frame: &[u8]) -> Result<Frame, DecodeError> {
    let len = match check_frame(frame) {
        FrameCheck::Complete(len) if len == frame.len() => len,
        FrameCheck::BadLength(l) => return Err(DecodeError::BadLength(l)),
        _ => return Err(DecodeError::BadLength(frame.len() as u32)),
    };
    let (id, status, sequence) = peek_header(frame).ok_or(DecodeError::BadLength(len as u32))?;
    let mut r = Reader {
        buf: &frame[16..len],
        pos: 0,
    };
    match decode_body(id, &mut r) {
        Ok(pdu) => Ok(Frame {
            status,
            sequence,
            pdu,
        }),
        Err("command_id") => Err(DecodeError::UnknownCommand { id, sequence }),
        Err(field) => Err(DecodeError::Malformed {
            id,
            sequence,
            field,
        }),
    }
}

/// Why a frame could not be encoded: a value the wire format cannot carry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("short_message of {0} octets is over 254 (use message_payload)")]
    ShortMessageTooLong(usize),
    #[error("{0} contains a NUL octet or is over {MAX_CSTRING} octets")]
    BadString(&'static str),
    #[error("a TLV value of {0} octets is over 65535")]
    TlvTooLong(usize),
    #[error("{0} destinations is over 255")]
    TooManyDests(usize),
}

struct Writer<'a> {
    out: &'a mut BytesMut,
}

impl Writer<'_> {
    fn cstr(&mut self, s: &str, field: &'static str) -> Result<(), EncodeError> {
        if s.len() > MAX_CSTRING || s.as_bytes().contains(&0) {
            return Err(EncodeError::BadString(field));
        }
        self.out.put_slice(s.as_bytes());
        self.out.put_u8(0);
        Ok(())
    }

    fn address(&mut self, a: &Address, field: &'static str) -> Result<(), EncodeError> {
        self.out.put_u8(a.ton);
        self.out.put_u8(a.npi);
        self.cstr(&a.addr, field)
    }

    fn short_message(&mut self, sm: &[u8]) -> Result<(), EncodeError> {
        if sm.len() > 254 {
            return Err(EncodeError::ShortMessageTooLong(sm.len()));
        }
        self.out.put_u8(sm.len() as u8);
        self.out.put_slice(sm);
        Ok(())
    }

    fn tlvs(&mut self, tlvs: &[Tlv]) -> Result<(), EncodeError> {
        for t in tlvs {
            if t.value.len() > u16::MAX as usize {
                return Err(EncodeError::TlvTooLong(t.value.len()));
            }
            self.out.put_u16(t.tag);
            self.out.put_u16(t.value.len() as u16);
            self.out.put_slice(&t.value);
        }
        Ok(())
    }

    fn bind(&mut self, b: &Bind) -> Result<(), EncodeError> {
        self.cstr(&b.system_id, "system_id")?;
        self.cstr(&b.password, "password")?;
        self.cstr(&b.system_type, "system_type")?;
        self.out.put_u8(b.interface_version);
        self.out.put_u8(b.addr_ton);
        self.out.put_u8(b.addr_npi);
        self.cstr(&b.address_range, "address_range")
    }

    fn short_message_pdu(&mut self, m: &ShortMessage) -> Result<(), EncodeError> {
        self.cstr(&m.service_type, "service_type")?;
        self.address(&m.source, "source_addr")?;
        self.address(&m.dest, "destination_addr")?;
        self.out.put_u8(m.esm_class);
        self.out.put_u8(m.protocol_id);
        self.out.put_u8(m.priority_flag);
        self.cstr(&m.schedule_delivery_time, "schedule_delivery_time")?;
        self.cstr(&m.validity_period, "validity_period")?;
        self.out.put_u8(m.registered_delivery);
        self.out.put_u8(m.replace_if_present_flag);
        self.out.put_u8(m.data_coding);
        self.out.put_u8(m.sm_default_msg_id);
        self.short_message(&m.short_message)?;
        self.tlvs(&m.tlvs)
    }

    fn body(&mut self, pdu: &Pdu) -> Result<(), EncodeError> {
        match pdu {
            Pdu::BindTransmitter(b) | Pdu::BindReceiver(b) | Pdu::BindTransceiver(b) => {
                self.bind(b)
            }
            Pdu::BindTransmitterResp(r)
            | Pdu::BindReceiverResp(r)
            | Pdu::BindTransceiverResp(r) => {
                self.cstr(&r.system_id, "system_id")?;
                self.tlvs(&r.tlvs)
            }
            Pdu::Outbind(o) => {
                self.cstr(&o.system_id, "system_id")?;
                self.cstr(&o.password, "password")
            }
            Pdu::SubmitSm(m) | Pdu::DeliverSm(m) => self.short_message_pdu(m),
            Pdu::SubmitSmResp(r) | Pdu::DeliverSmResp(r) => self.cstr(&r.message_id, "message_id"),
            Pdu::SubmitMulti(m) => {
                self.cstr(&m.service_type, "service_type")?;
                self.address(&m.source, "source_addr")?;
                if m.dests.len() > 255 {
                    return Err(EncodeError::TooManyDests(m.dests.len()));
                }
                self.out.put_u8(m.dests.len() as u8);
                for d in &m.dests {
                    match d {
                        MultiDest::Sme(a) => {
                            self.out.put_u8(1);
                            self.address(a, "destination_addr")?;
                        }
                        MultiDest::DistributionList(name) => {
                            self.out.put_u8(2);
                            self.cstr(name, "dl_name")?;
                        }
                    }
                }
                self.out.put_u8(m.esm_class);
                self.out.put_u8(m.protocol_id);
                self.out.put_u8(m.priority_flag);
                self.cstr(&m.schedule_delivery_time, "schedule_delivery_time")?;
                self.cstr(&m.validity_period, "validity_period")?;
                self.out.put_u8(m.registered_delivery);
                self.out.put_u8(m.replace_if_present_flag);
                self.out.put_u8(m.data_coding);
                self.out.put_u8(m.sm_default_msg_id);
                self.short_message(&m.short_message)?;
                self.tlvs(&m.tlvs)
            }
            Pdu::SubmitMultiResp(r) => {
                self.cstr(&r.message_id, "message_id")?;
                if r.unsuccess.len() > 255 {
                    return Err(EncodeError::TooManyDests(r.unsuccess.len()));
                }
                self.out.put_u8(r.unsuccess.len() as u8);
                for u in &r.unsuccess {
                    self.address(&u.dest, "destination_addr")?;
                    self.out.put_u32(u.error_status.0);
                }
                Ok(())
            }
            Pdu::DataSm(d) => {
                self.cstr(&d.service_type, "service_type")?;
                self.address(&d.source, "source_addr")?;
                self.address(&d.dest, "destination_addr")?;
                self.out.put_u8(d.esm_class);
                self.out.put_u8(d.registered_delivery);
                self.out.put_u8(d.data_coding);
                self.tlvs(&d.tlvs)
            }
            Pdu::DataSmResp(r) => {
                self.cstr(&r.message_id, "message_id")?;
                self.tlvs(&r.tlvs)
            }
            Pdu::QuerySm(q) => {
                self.cstr(&q.message_id, "message_id")?;
                self.address(&q.source, "source_addr")
            }
            Pdu::QuerySmResp(q) => {
                self.cstr(&q.message_id, "message_id")?;
                self.cstr(&q.final_date, "final_date")?;
                self.out.put_u8(q.message_state);
                self.out.put_u8(q.error_code);
                Ok(())
            }
            Pdu::CancelSm(c) => {
                self.cstr(&c.service_type, "service_type")?;
                self.cstr(&c.message_id, "message_id")?;
                self.address(&c.source, "source_addr")?;
                self.address(&c.dest, "destination_addr")
            }
            Pdu::ReplaceSm(r) => {
                self.cstr(&r.message_id, "message_id")?;
                self.address(&r.source, "source_addr")?;
                self.cstr(&r.schedule_delivery_time, "schedule_delivery_time")?;
                self.cstr(&r.validity_period, "validity_period")?;
                self.out.put_u8(r.registered_delivery);
                self.out.put_u8(r.sm_default_msg_id);
                self.short_message(&r.short_message)
            }
            Pdu::AlertNotification(a) => {
                self.address(&a.source, "source_addr")?;
                self.address(&a.esme, "esme_addr")?;
                self.tlvs(&a.tlvs)
            }
            Pdu::Unbind
            | Pdu::UnbindResp
            | Pdu::CancelSmResp
            | Pdu::ReplaceSmResp
            | Pdu::EnquireLink
            | Pdu::EnquireLinkResp
            | Pdu::GenericNack => Ok(()),
        }
    }
}

/// Appends the wire form of `frame` to `out`. On error nothing is appended.
pub fn encode(frame: &Frame, out: &mut BytesMut) -> Result<(), EncodeError> {
    let start = out.len();
    out.put_u32(0); // command_length, patched below
    out.put_u32(frame.pdu.command_id().0);
    out.put_u32(frame.status.0);
    out.put_u32(frame.sequence);
    if let Err(e) = (Writer { out }).body(&frame.pdu) {
        out.truncate(start);
        return Err(e);
    }
    let len = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}
