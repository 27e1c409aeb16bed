//! The PDU codec: one sample of every SMPP 3.4 operation round-trips byte for byte; every
//! truncation is refused (never a panic, never a wrong PDU); malformed bodies name the status
//! to answer with; sloppy but unambiguous input from real SMSCs is accepted.

use bytes::{Bytes, BytesMut};
use impulse_smpp::pdu::*;
use proptest::prelude::*;

fn addr(a: &str) -> Address {
    Address::new(1, 1, a)
}

fn sm() -> ShortMessage {
    ShortMessage {
        service_type: "CMT".into(),
        source: addr("12345"),
        dest: addr("4445551234"),
        esm_class: 0x40,
        protocol_id: 0,
        priority_flag: 1,
        schedule_delivery_time: String::new(),
        validity_period: "000001000000000R".into(),
        registered_delivery: 1,
        replace_if_present_flag: 0,
        data_coding: 0,
        sm_default_msg_id: 0,
        short_message: Bytes::from_static(b"hello world"),
        tlvs: vec![
            Tlv::u16(tag::SAR_MSG_REF_NUM, 7),
            Tlv::u8(tag::SAR_TOTAL_SEGMENTS, 2),
            Tlv::u8(tag::SAR_SEGMENT_SEQNUM, 1),
        ],
    }
}

fn bind() -> Bind {
    Bind {
        system_id: "GSMSGW".into(),
        password: "secret".into(),
        system_type: "CMT".into(),
        interface_version: 0x34,
        addr_ton: 0,
        addr_npi: 0,
        address_range: String::new(),
    }
}

/// One of every operation, with fields set to non-default values.
fn samples() -> Vec<Frame> {
    let bind_resp = BindResp {
        system_id: "SMSC".into(),
        tlvs: vec![Tlv::u8(tag::SC_INTERFACE_VERSION, 0x34)],
    };
    let pdus = vec![
        Pdu::BindTransmitter(bind()),
        Pdu::BindReceiver(bind()),
        Pdu::BindTransceiver(bind()),
        Pdu::BindTransmitterResp(bind_resp.clone()),
        Pdu::BindReceiverResp(bind_resp.clone()),
        Pdu::BindTransceiverResp(bind_resp),
        Pdu::Outbind(Outbind {
            system_id: "SMSC".into(),
            password: "pw".into(),
        }),
        Pdu::Unbind,
        Pdu::UnbindResp,
        Pdu::SubmitSm(sm()),
        Pdu::SubmitSmResp(MessageIdResp {
            message_id: "0a1b2c".into(),
        }),
        Pdu::DeliverSm(ShortMessage {
            esm_class: 0x04,
            ..sm()
        }),
        Pdu::DeliverSmResp(MessageIdResp::default()),
        Pdu::SubmitMulti(SubmitMulti {
            service_type: String::new(),
            source: addr("12345"),
            dests: vec![
                MultiDest::Sme(addr("111")),
                MultiDest::DistributionList("friends".into()),
            ],
            esm_class: 0,
            protocol_id: 0,
            priority_flag: 0,
            schedule_delivery_time: String::new(),
            validity_period: String::new(),
            registered_delivery: 0,
            replace_if_present_flag: 0,
            data_coding: 8,
            sm_default_msg_id: 0,
            short_message: Bytes::from_static(&[0, 0x48, 0, 0x69]),
            tlvs: vec![],
        }),
        Pdu::SubmitMultiResp(SubmitMultiResp {
            message_id: "m1".into(),
            unsuccess: vec![Unsuccess {
                dest: addr("222"),
                error_status: CommandStatus::ESME_RINVDSTADR,
            }],
        }),
        Pdu::DataSm(DataSm {
            service_type: "WAP".into(),
            source: addr("1"),
            dest: addr("2"),
            esm_class: 0,
            registered_delivery: 1,
            data_coding: 4,
            tlvs: vec![Tlv::bytes(
                tag::MESSAGE_PAYLOAD,
                Bytes::from(vec![7u8; 300]),
            )],
        }),
        Pdu::DataSmResp(DataSmResp {
            message_id: "d1".into(),
            tlvs: vec![Tlv::u8(tag::DELIVERY_FAILURE_REASON, 2)],
        }),
        Pdu::QuerySm(QuerySm {
            message_id: "q1".into(),
            source: addr("12345"),
        }),
        Pdu::QuerySmResp(QuerySmResp {
            message_id: "q1".into(),
            final_date: "251123160000000+".into(),
            message_state: 2,
            error_code: 0,
        }),
        Pdu::CancelSm(CancelSm {
            service_type: String::new(),
            message_id: "c1".into(),
            source: addr("1"),
            dest: addr("2"),
        }),
        Pdu::CancelSmResp,
        Pdu::ReplaceSm(ReplaceSm {
            message_id: "r1".into(),
            source: addr("1"),
            schedule_delivery_time: String::new(),
            validity_period: String::new(),
            registered_delivery: 0,
            sm_default_msg_id: 0,
            short_message: Bytes::from_static(b"new text"),
        }),
        Pdu::ReplaceSmResp,
        Pdu::EnquireLink,
        Pdu::EnquireLinkResp,
        Pdu::GenericNack,
        Pdu::AlertNotification(AlertNotification {
            source: addr("1"),
            esme: addr("12345"),
            tlvs: vec![Tlv::u8(tag::MS_AVAILABILITY_STATUS, 0)],
        }),
    ];
    pdus.into_iter()
        .enumerate()
        .map(|(i, p)| Frame::new(i as u32 + 1, p))
        .collect()
}

fn wire(f: &Frame) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(f, &mut out).unwrap();
    out.to_vec()
}

#[test]
fn every_pdu_round_trips_byte_for_byte() {
    let samples = samples();
    assert_eq!(samples.len(), 27, "every 3.4 operation has a sample");
    for f in samples {
        let bytes = wire(&f);
        assert_eq!(
            u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
            bytes.len()
        );
        let back = decode(&bytes).unwrap_or_else(|e| panic!("{:?}: {e}", f.pdu.command_id()));
        assert_eq!(back, f);
        assert_eq!(wire(&back), bytes);
    }
}

#[test]
fn a_known_wire_sample_decodes() {
    // enquire_link, sequence 7, as any SMSC sends it.
    let raw = [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7];
    assert_eq!(decode(&raw).unwrap(), Frame::new(7, Pdu::EnquireLink));
    // submit_sm_resp with an error and no body (common in 3.4).
    let raw = [0, 0, 0, 16, 0x80, 0, 0, 4, 0, 0, 0, 0x58, 0, 0, 0, 9];
    let f = decode(&raw).unwrap();
    assert_eq!(f.status, CommandStatus::ESME_RTHROTTLED);
    assert_eq!(f.pdu, Pdu::SubmitSmResp(MessageIdResp::default()));
}

#[test]
fn every_truncation_is_refused() {
    for f in samples() {
        let bytes = wire(&f);
        // Fewer bytes than command_length says: the framer waits for more.
        for cut in 0..bytes.len() {
            assert_eq!(check_frame(&bytes[..cut]), FrameCheck::Incomplete);
        }
        // A frame whose command_length itself was cut: never the original, never a panic, and
        // for requests (whose mandatory fields must all be there) always an error.
        let no_optional = matches!(
            &f.pdu,
            Pdu::BindTransmitter(_)
                | Pdu::QuerySm(_)
                | Pdu::CancelSm(_)
                | Pdu::ReplaceSm(_)
                | Pdu::Outbind(_)
        );
        for cut in 16..bytes.len() {
            let mut t = bytes[..cut].to_vec();
            t[..4].copy_from_slice(&(cut as u32).to_be_bytes());
            match decode(&t) {
                // Responses may lack their body and PDUs may end before their TLVs: what
                // decodes must then be a consistent, shorter PDU.
                Ok(other) => {
                    assert!(
                        !no_optional,
                        "{:?} cut at {cut} decoded",
                        f.pdu.command_id()
                    );
                    assert!(
                        wire(&other).len() <= bytes.len(),
                        "{:?} cut at {cut} grew",
                        f.pdu.command_id()
                    );
                }
                Err(e) => assert_eq!(e.sequence(), f.sequence),
            }
        }
    }
}

#[test]
fn malformed_input_names_the_status_to_answer() {
    // Unknown command id: generic_nack with ESME_RINVCMDID, keeping the sequence number.
    let raw = [0, 0, 0, 16, 0, 0, 0x99, 0x99, 0, 0, 0, 0, 0, 0, 0, 42];
    let e = decode(&raw).unwrap_err();
    assert_eq!(
        (e.status(), e.sequence()),
        (CommandStatus::ESME_RINVCMDID, 42)
    );
    // Bad command_length: framing is lost.
    assert_eq!(
        check_frame(&[0, 0, 0, 8, 0, 0, 0, 0]),
        FrameCheck::BadLength(8)
    );
    assert_eq!(
        check_frame(&[0, 0x10, 0, 0]),
        FrameCheck::BadLength(0x100000)
    );
    // submit_sm whose sm_length runs past the end.
    let mut bytes = wire(&Frame::new(
        5,
        Pdu::SubmitSm(ShortMessage {
            tlvs: vec![],
            ..sm()
        }),
    ));
    let sm_len_at = bytes.len() - 12;
    bytes[sm_len_at] = 200;
    let e = decode(&bytes).unwrap_err();
    assert_eq!(
        (e.status(), e.sequence()),
        (CommandStatus::ESME_RINVMSGLEN, 5)
    );
    // A source address without its NUL.
    let mut bad = vec![0u8; 16];
    bad[7] = 4;
    bad.extend_from_slice(b"\0\x01\x01");
    bad.extend(std::iter::repeat_n(b'9', 300));
    let n = bad.len() as u32;
    bad[..4].copy_from_slice(&n.to_be_bytes());
    assert_eq!(
        decode(&bad).unwrap_err().status(),
        CommandStatus::ESME_RINVSRCADR
    );
}

#[test]
fn sloppy_but_unambiguous_input_is_accepted() {
    // A 70-character message id (over the spec's 65) from a real-world SMSC.
    let long_id = "x".repeat(70);
    let f = Frame::new(
        3,
        Pdu::SubmitSmResp(MessageIdResp {
            message_id: long_id.clone(),
        }),
    );
    assert_eq!(decode(&wire(&f)).unwrap(), f);
    // Trailing padding after a response's message id.
    let mut bytes = wire(&Frame::new(
        4,
        Pdu::DeliverSmResp(MessageIdResp {
            message_id: "a".into(),
        }),
    ));
    bytes.extend_from_slice(&[0, 0]);
    let n = bytes.len() as u32;
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    assert_eq!(
        decode(&bytes).unwrap().pdu,
        Pdu::DeliverSmResp(MessageIdResp {
            message_id: "a".into()
        })
    );
}

#[test]
fn values_the_wire_cannot_carry_are_refused_when_encoding() {
    let mut out = BytesMut::new();
    let f = Frame::new(
        1,
        Pdu::SubmitSm(ShortMessage {
            short_message: Bytes::from(vec![b'a'; 255]),
            ..sm()
        }),
    );
    assert_eq!(
        encode(&f, &mut out),
        Err(EncodeError::ShortMessageTooLong(255))
    );
    assert!(out.is_empty(), "nothing written on error");
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400), id in any::<u32>()) {
        let mut frame = Vec::with_capacity(16 + body.len());
        frame.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
        frame.extend_from_slice(&id.to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        frame.extend_from_slice(&body);
        if let Ok(f) = decode(&frame) {
            // Whatever decodes re-encodes and decodes to the same value.
            let mut out = BytesMut::new();
            if encode(&f, &mut out).is_ok() {
                prop_assert_eq!(decode(&out).unwrap(), f);
            }
        }
    }

    #[test]
    fn submit_sm_round_trips(text in proptest::collection::vec(any::<u8>(), 0..=254), dest in "[0-9]{1,20}", seq in any::<u32>(), dc in any::<u8>()) {
        let f = Frame::new(seq, Pdu::SubmitSm(ShortMessage { short_message: Bytes::from(text), dest: addr(&dest), data_coding: dc, ..sm() }));
        prop_assert_eq!(decode(&wire(&f)).unwrap(), f);
    }
}
