//! One envelope of every MM7 operation for a schema, with every optional element the schema
//! has filled in (and only those), so that write → read must give back exactly the same value.

use impulse_mm7::*;

fn status(code: u32, text: &str) -> Status {
    Status {
        code: StatusCode(code),
        text: text.into(),
        details: None,
    }
}

fn sender_address(schema: Schema) -> Address {
    if schema <= Schema::Rel5_1_1 {
        // A plain string in these schemas: read back by its look, so a number.
        Address::number("12345")
    } else {
        Address::short_code("28444")
    }
}

fn sender_id(schema: Schema) -> SenderIdentification {
    SenderIdentification {
        vaspid: Some("vasp-01".into()),
        vasid: Some("MessageSystems-VASID".into()),
        sender_address: Some(sender_address(schema)),
    }
}

fn content() -> Option<ContentRef> {
    Some(ContentRef {
        href: "cid:mms-content@impulse".into(),
        allow_adaptations: Some(true),
    })
}

pub fn envelopes(schema: Schema) -> Vec<Envelope> {
    // REL-5-MM7-1-0/-1-1 numbers are NMTOKENs: no `+` (the writer drops it; tested apart).
    let plus = if schema <= Schema::Rel5_1_1 { "" } else { "+" };
    let r6 = schema >= Schema::Rel6_1_0;
    let ids = schema >= Schema::Rel5_1_1;
    let recipients = vec![
        Recipient {
            kind: RecipientKind::To,
            address: Address::number(format!("{plus}15551234567")),
        },
        Recipient {
            kind: RecipientKind::To,
            address: Address::email("someone@example.com"),
        },
        Recipient {
            kind: RecipientKind::Cc,
            address: Address::short_code("4444"),
        },
        Recipient {
            kind: RecipientKind::Bcc,
            address: Address {
                kind: AddressKind::Rfc2822,
                value: "Display <display@example.com>".into(),
                display_only: true,
            },
        },
    ];
    let bodies = vec![
        Body::SubmitReq(SubmitReq {
            sender: sender_id(schema),
            recipients,
            service_code: Some("gold-sp33-im42".into()),
            linked_id: Some("mms00016666".into()),
            message_class: Some("Informational".into()),
            timestamp: Some("2026-11-23T10:00:00Z".into()),
            reply_charging: Some(ReplyCharging {
                size: Some(1000),
                deadline: Some("P10D".into()),
            }),
            earliest_delivery_time: Some("2026-11-24T10:00:00+01:00".into()),
            expiry_date: Some("P2D".into()),
            delivery_report: Some(true),
            read_reply: Some(false),
            priority: Some("High".into()),
            subject: Some("Héllo & <world> \"quoted\"".into()),
            charged_party: Some("Sender".into()),
            distribution_indicator: Some(false),
            content: content(),
            extension_xml: None,
        }),
        Body::SubmitRsp(SubmitRsp {
            status: status(1000, "Success"),
            message_id: ids.then(|| "041502073667".into()),
        }),
        Body::DeliverReq(DeliverReq {
            relay_server_id: Some("mms-relay-1".into()),
            linked_id: Some("wthr8391".into()),
            sender: Some(Address::number(format!("{plus}15557654321"))),
            recipients: vec![Recipient {
                kind: RecipientKind::To,
                address: Address::short_code("28444"),
            }],
            timestamp: Some("2026-11-23T10:00:00.749Z".into()),
            reply_charging_id: Some("rc-0001".into()),
            priority: Some("Normal".into()),
            subject: Some("Photo from the beach".into()),
            content: content(),
        }),
        Body::DeliverRsp(DeliverRsp {
            status: status(1000, "Success"),
            service_code: ids.then(|| "free".into()),
        }),
        Body::CancelReq(CancelReq {
            sender: sender_id(schema),
            message_id: "041502073667".into(),
        }),
        Body::CancelRsp(status(1000, "Success")),
        Body::ReplaceReq(ReplaceReq {
            sender: sender_id(schema),
            message_id: "041502073667".into(),
            service_code: Some("gold".into()),
            timestamp: Some("2026-11-23T10:00:00Z".into()),
            read_reply: Some(true),
            earliest_delivery_time: Some("PT1H".into()),
            distribution_indicator: Some(true),
            content: content(),
        }),
        Body::ReplaceRsp(status(1000, "Success")),
        Body::DeliveryReportReq(DeliveryReportReq {
            relay_server_id: Some("mms-relay-1".into()),
            message_id: "041502073667".into(),
            recipient: Address::number(format!("{plus}15551234567")),
            sender: Address::short_code("28444"),
            date: "2026-11-23T10:05:00-05:00".into(),
            status: MmStatus::Rejected,
            status_extension: r6.then(|| "RejectionByMMSRecipient".into()),
            status_text: Some("The recipient refused it".into()),
        }),
        Body::DeliveryReportRsp(status(1000, "Success")),
        Body::ReadReplyReq(ReadReplyReq {
            relay_server_id: Some("mms-relay-1".into()),
            message_id: "041502073667".into(),
            recipient: Address::number(format!("{plus}15551234567")),
            sender: Address::short_code("28444"),
            timestamp: "2026-11-23T10:06:00Z".into(),
            status: "Read".into(),
            status_text: None,
        }),
        Body::ReadReplyRsp(status(1000, "Success")),
        Body::ErrorRsp(ErrorRsp {
            side: Side::Relay,
            status: status(2007, "Message format corrupt"),
        }),
        Body::ErrorRsp(ErrorRsp {
            side: Side::Vasp,
            status: status(4004, "Validation error"),
        }),
        Body::Fault(Fault {
            code: "Client".into(),
            string: "Client error".into(),
            detail: Some(ErrorRsp {
                side: Side::Relay,
                status: status(2001, "Operation restricted"),
            }),
        }),
        Body::Fault(Fault {
            code: "Server".into(),
            string: "Server Error".into(),
            detail: Some(ErrorRsp {
                side: Side::Vasp,
                status: status(3000, "Server Error"),
            }),
        }),
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| Envelope {
            transaction_id: format!("impulse-{i:04}"),
            schema,
            version: schema.newest_version().into(),
            body,
        })
        .collect()
}

/// The write options a test runs every sample through: Momentum's default spelling and a
/// prefixed one (mbuni's `mm7:` elements, a `SOAP-ENV` envelope).
pub fn write_options() -> Vec<WriteOptions> {
    vec![
        WriteOptions::default(),
        WriteOptions {
            env_prefix: "SOAP-ENV".into(),
            mm7_prefix: Some("mm7".into()),
        },
    ]
}
