//! SMPP 3.4 PDUs as values, and their wire codec (§4, §5). Pure: encode into a caller's
//! buffer, decode from a slice; no I/O.
//!
//! Untrusted input: every byte from the peer. `command_length` is capped before anything is
//! allocated ([`MAX_PDU_LEN`]); every count and length inside a body is checked against what is
//! left of the frame. Decoding is lenient where SMSCs are sloppy in practice (a C-string longer
//! than the spec's maximum is accepted up to [`MAX_CSTRING`]; a response without a body, as 3.4
//! SMSCs send with error statuses, decodes with empty fields) and strict where leniency would
//! misread the rest of the frame.

mod codec;
mod status;
mod tlv;
mod vendor_csv;
mod vendor_tlv;

pub use codec::{DecodeError, EncodeError, FrameCheck, check_frame, decode, encode, peek_header};
pub use status::{CommandId, CommandStatus, VendorStatuses};
pub use tlv::{Tlv, Tlvs, tag};
pub use vendor_tlv::{TlvKind, VALID_MO, VALID_MT, VALID_RECEIPT, VendorTlv, VendorTlvs};

use bytes::Bytes;

/// Largest PDU accepted from a peer. The biggest legal 3.4 PDU is a submit_multi to 255
/// destinations with a 64 KiB message_payload, so 70 KiB bounds every honest frame.
pub const MAX_PDU_LEN: usize = 70 * 1024;
/// Longest C-octet string accepted in any field (the spec's longest is 65 octets).
pub const MAX_CSTRING: usize = 256;
/// SMPP 3.4.
pub const INTERFACE_VERSION: u8 = 0x34;

/// An SME address: type of number, numbering plan, digits or text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    pub ton: u8,
    pub npi: u8,
    pub addr: String,
}

impl Address {
    pub fn new(ton: u8, npi: u8, addr: impl Into<String>) -> Self {
        Address {
            ton,
            npi,
            addr: addr.into(),
        }
    }
}

/// bind_transmitter, bind_receiver and bind_transceiver (§4.1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bind {
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    pub interface_version: u8,
    pub addr_ton: u8,
    pub addr_npi: u8,
    pub address_range: String,
}

/// The three bind responses (§4.1.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindResp {
    pub system_id: String,
    pub tlvs: Vec<Tlv>,
}

/// outbind (§4.1.7).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outbind {
    pub system_id: String,
    pub password: String,
}

/// submit_sm (§4.4.1) and deliver_sm (§4.6.1), which share their layout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShortMessage {
    pub service_type: String,
    pub source: Address,
    pub dest: Address,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: String,
    pub validity_period: String,
    pub registered_delivery: u8,
    pub replace_if_present_flag: u8,
    pub data_coding: u8,
    pub sm_default_msg_id: u8,
    pub short_message: Bytes,
    pub tlvs: Vec<Tlv>,
}

/// A response carrying a message id: submit_sm_resp, deliver_sm_resp (§4.4.2, §4.6.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageIdResp {
    pub message_id: String,
}

/// One destination of a submit_multi (§4.5.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultiDest {
    Sme(Address),
    DistributionList(String),
}

/// submit_multi (§4.5.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitMulti {
    pub service_type: String,
    pub source: Address,
    pub dests: Vec<MultiDest>,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: String,
    pub validity_period: String,
    pub registered_delivery: u8,
    pub replace_if_present_flag: u8,
    pub data_coding: u8,
    pub sm_default_msg_id: u8,
    pub short_message: Bytes,
    pub tlvs: Vec<Tlv>,
}

/// A destination submit_multi could not reach (§4.5.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsuccess {
    pub dest: Address,
    pub error_status: CommandStatus,
}

/// submit_multi_resp (§4.5.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitMultiResp {
    pub message_id: String,
    pub unsuccess: Vec<Unsuccess>,
}

/// data_sm (§4.7.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataSm {
    pub service_type: String,
    pub source: Address,
    pub dest: Address,
    pub esm_class: u8,
    pub registered_delivery: u8,
    pub data_coding: u8,
    pub tlvs: Vec<Tlv>,
}

/// data_sm_resp (§4.7.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataSmResp {
    pub message_id: String,
    pub tlvs: Vec<Tlv>,
}

/// query_sm (§4.8.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuerySm {
    pub message_id: String,
    pub source: Address,
}

/// query_sm_resp (§4.8.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuerySmResp {
    pub message_id: String,
    pub final_date: String,
    pub message_state: u8,
    pub error_code: u8,
}

/// cancel_sm (§4.9.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CancelSm {
    pub service_type: String,
    pub message_id: String,
    pub source: Address,
    pub dest: Address,
}

/// replace_sm (§4.10.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaceSm {
    pub message_id: String,
    pub source: Address,
    pub schedule_delivery_time: String,
    pub validity_period: String,
    pub registered_delivery: u8,
    pub sm_default_msg_id: u8,
    pub short_message: Bytes,
}

/// alert_notification (§4.12.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertNotification {
    pub source: Address,
    pub esme: Address,
    pub tlvs: Vec<Tlv>,
}

/// Every SMPP 3.4 operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pdu {
    BindTransmitter(Bind),
    BindTransmitterResp(BindResp),
    BindReceiver(Bind),
    BindReceiverResp(BindResp),
    BindTransceiver(Bind),
    BindTransceiverResp(BindResp),
    Outbind(Outbind),
    Unbind,
    UnbindResp,
    SubmitSm(ShortMessage),
    SubmitSmResp(MessageIdResp),
    SubmitMulti(SubmitMulti),
    SubmitMultiResp(SubmitMultiResp),
    DeliverSm(ShortMessage),
    DeliverSmResp(MessageIdResp),
    DataSm(DataSm),
    DataSmResp(DataSmResp),
    QuerySm(QuerySm),
    QuerySmResp(QuerySmResp),
    CancelSm(CancelSm),
    CancelSmResp,
    ReplaceSm(ReplaceSm),
    ReplaceSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    AlertNotification(AlertNotification),
}

impl Pdu {
    pub fn command_id(&self) -> CommandId {
        match self {
            Pdu::BindTransmitter(_) => CommandId::BIND_TRANSMITTER,
            Pdu::BindTransmitterResp(_) => CommandId::BIND_TRANSMITTER_RESP,
            Pdu::BindReceiver(_) => CommandId::BIND_RECEIVER,
            Pdu::BindReceiverResp(_) => CommandId::BIND_RECEIVER_RESP,
            Pdu::BindTransceiver(_) => CommandId::BIND_TRANSCEIVER,
            Pdu::BindTransceiverResp(_) => CommandId::BIND_TRANSCEIVER_RESP,
            Pdu::Outbind(_) => CommandId::OUTBIND,
            Pdu::Unbind => CommandId::UNBIND,
            Pdu::UnbindResp => CommandId::UNBIND_RESP,
            Pdu::SubmitSm(_) => CommandId::SUBMIT_SM,
            Pdu::SubmitSmResp(_) => CommandId::SUBMIT_SM_RESP,
            Pdu::SubmitMulti(_) => CommandId::SUBMIT_MULTI,
            Pdu::SubmitMultiResp(_) => CommandId::SUBMIT_MULTI_RESP,
            Pdu::DeliverSm(_) => CommandId::DELIVER_SM,
            Pdu::DeliverSmResp(_) => CommandId::DELIVER_SM_RESP,
            Pdu::DataSm(_) => CommandId::DATA_SM,
            Pdu::DataSmResp(_) => CommandId::DATA_SM_RESP,
            Pdu::QuerySm(_) => CommandId::QUERY_SM,
            Pdu::QuerySmResp(_) => CommandId::QUERY_SM_RESP,
            Pdu::CancelSm(_) => CommandId::CANCEL_SM,
            Pdu::CancelSmResp => CommandId::CANCEL_SM_RESP,
            Pdu::ReplaceSm(_) => CommandId::REPLACE_SM,
            Pdu::ReplaceSmResp => CommandId::REPLACE_SM_RESP,
            Pdu::EnquireLink => CommandId::ENQUIRE_LINK,
            Pdu::EnquireLinkResp => CommandId::ENQUIRE_LINK_RESP,
            Pdu::GenericNack => CommandId::GENERIC_NACK,
            Pdu::AlertNotification(_) => CommandId::ALERT_NOTIFICATION,
        }
    }
}

/// A PDU with its header fields: what travels on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub status: CommandStatus,
    pub sequence: u32,
    pub pdu: Pdu,
}

impl Frame {
    pub fn new(sequence: u32, pdu: Pdu) -> Frame {
        Frame {
            status: CommandStatus::ESME_ROK,
            sequence,
            pdu,
        }
    }

    pub fn with_status(mut self, status: CommandStatus) -> Frame {
        self.status = status;
        self
    }
}

impl Tlvs for ShortMessage {
    fn tlvs(&self) -> &[Tlv] {
        &self.tlvs
    }
}

impl Tlvs for DataSm {
    fn tlvs(&self) -> &[Tlv] {
        &self.tlvs
    }
}

impl Tlvs for BindResp {
    fn tlvs(&self) -> &[Tlv] {
        &self.tlvs
    }
}

/// Splits `data` into frames as the driver does and decodes each; whatever decodes must encode
/// and decode back to itself. Never panics on any input: the fuzz target calls this.
pub fn check_stream(mut data: &[u8]) {
    loop {
        match check_frame(data) {
            FrameCheck::Complete(len) => {
                if let Ok(frame) = decode(&data[..len]) {
                    let mut out = bytes::BytesMut::new();
                    if encode(&frame, &mut out).is_ok() {
                        assert_eq!(
                            decode(&out).as_ref(),
                            Ok(&frame),
                            "re-encoded frame must decode to itself"
                        );
                    }
                }
                data = &data[len..];
            }
            FrameCheck::Incomplete | FrameCheck::BadLength(_) => return,
        }
    }
}
