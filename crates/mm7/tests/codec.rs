//! Round trips of every operation in every schema version, and the reader's leniency: each
//! variation docs/reference/mm7-interop.md lists (§3–§5, §10) as a message a real peer sent.

mod samples;

use impulse_mm7::*;

#[test]
fn every_operation_round_trips_in_every_version() {
    let mut n = 0;
    for schema in Schema::ALL {
        for opts in samples::write_options() {
            for env in samples::envelopes(schema) {
                let xml = write_envelope(&env, &opts);
                let back = read_envelope(xml.as_bytes(), Schema::Rel6_1_4)
                    .unwrap_or_else(|e| panic!("{schema} {}: {e}\n{xml}", env.body.name()));
                assert_eq!(back, env, "{schema} {}:\n{xml}", env.body.name());
                n += 1;
            }
        }
    }
    assert_eq!(n, 10 * 2 * 16);
}

#[test]
fn version_specific_names_are_written() {
    let by_name = |schema: Schema, op: &str| {
        let env = samples::envelopes(schema)
            .into_iter()
            .find(|e| e.body.name() == op)
            .unwrap();
        write_envelope(&env, &WriteOptions::default())
    };
    assert!(by_name(Schema::Rel5_1_0, "SubmitReq").contains("<DistributionProtection>"));
    assert!(by_name(Schema::Rel6_1_4, "SubmitReq").contains("<DistributionIndicator>"));
    assert!(by_name(Schema::Rel5_1_4, "DeliveryReportReq").contains("<TimeStamp>"));
    assert!(by_name(Schema::Rel6_1_2, "DeliveryReportReq").contains("<Date>"));
    assert!(
        by_name(Schema::Rel5_1_0, "SubmitReq").contains("<SenderAddress>12345</SenderAddress>")
    );
    assert!(by_name(Schema::Rel6_1_4, "SubmitReq").contains("env:mustUnderstand=\"1\""));
    assert!(!by_name(Schema::Rel5_1_0, "SubmitReq").contains("mustUnderstand"));
}

#[test]
fn legacy_numbers_lose_what_an_nmtoken_cannot_hold() {
    let mut env = samples::envelopes(Schema::Rel5_1_0).remove(0);
    if let Body::SubmitReq(r) = &mut env.body {
        r.recipients[0].address = Address::number("+1 555 123");
    }
    let xml = write_envelope(&env, &WriteOptions::default());
    assert!(xml.contains("<Number>1555123</Number>"), "{xml}");
}

#[test]
fn a_version_the_schema_does_not_list_is_replaced_by_its_newest() {
    let mut env = samples::envelopes(Schema::Rel6_1_4).remove(1);
    env.version = "6.7.0".into();
    let xml = write_envelope(&env, &WriteOptions::default());
    assert!(xml.contains("<MM7Version>6.8.0</MM7Version>"), "{xml}");
}

const NS14: &str = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4";
const NS12: &str = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-5-MM7-1-2";

fn read(xml: &str) -> Envelope {
    read_envelope(xml.as_bytes(), Schema::Rel6_1_4).unwrap_or_else(|e| panic!("{e}:\n{xml}"))
}

#[test]
fn reads_the_3gpp_style_sample_with_pretty_printed_transaction_id_and_capitalised_booleans() {
    let xml = format!(
        r#"<?xml version="1.0" ?>
<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">
  <env:Header>
    <mm7:TransactionID xmlns:mm7="{NS12}" env:mustUnderstand="1">
      vas00001-sub
    </mm7:TransactionID>
  </env:Header>
  <env:Body>
    <SubmitReq xmlns="{NS12}">
      <MM7Version>5.3.0</MM7Version>
      <SenderIdentification>
        <VASPID>TNN</VASPID>
        <VASID>News</VASID>
      </SenderIdentification>
      <Recipients>
        <To>
          <Number>7255441234</Number>
          <RFC2822Address displayOnly="True">7255442222@OMMS.com</RFC2822Address>
        </To>
        <Bcc><RFC2822Address>tnn@OMMS.com</RFC2822Address></Bcc>
      </Recipients>
      <ServiceCode>gold-sp33-im42</ServiceCode>
      <DeliveryReport>True</DeliveryReport>
      <Subject>News for today</Subject>
      <Content href="cid:SaturnPics-01020930@news.tnn.com" allowAdaptations="True"/>
    </SubmitReq>
  </env:Body>
</env:Envelope>"#
    );
    let env = read(&xml);
    assert_eq!(env.transaction_id, "vas00001-sub");
    assert_eq!(env.schema, Schema::Rel5_1_2);
    assert_eq!(env.version, "5.3.0");
    let Body::SubmitReq(r) = env.body else {
        panic!()
    };
    assert_eq!(r.recipients.len(), 3);
    assert!(r.recipients[1].address.display_only);
    assert_eq!(r.recipients[2].kind, RecipientKind::Bcc);
    assert_eq!(r.delivery_report, Some(true));
    assert_eq!(r.content.unwrap().allow_adaptations, Some(true));
}

#[test]
fn reads_unqualified_children_and_a_namespace_only_on_the_transaction_id() {
    // vectorcore: only the operation is prefixed, its children are in no namespace.
    let env = read(&format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:mm7="{NS12}">
<soapenv:Header><mm7:TransactionID>t1</mm7:TransactionID></soapenv:Header>
<soapenv:Body><mm7:DeliverReq><MM7Version>5.3.0</MM7Version><Sender><Number>123</Number></Sender>
<Subject>hi</Subject></mm7:DeliverReq></soapenv:Body></soapenv:Envelope>"#
    ));
    assert_eq!(env.schema, Schema::Rel5_1_2);
    let Body::DeliverReq(d) = env.body else {
        panic!()
    };
    assert_eq!(d.sender, Some(Address::number("123")));
    assert_eq!(d.subject.as_deref(), Some("hi"));

    // Skycore: xmlns only on TransactionID, the operation in no namespace at all.
    let env = read(&format!(
        r#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">
<soap-env:Header><TransactionID xmlns="{NS14}">t2</TransactionID></soap-env:Header>
<soap-env:Body><SubmitRsp><MM7Version>6.8.0</MM7Version><Status><StatusText>Success</StatusText>
<StatusCode>1000</StatusCode></Status><MessageID>m-1</MessageID></SubmitRsp></soap-env:Body></soap-env:Envelope>"#
    ));
    assert_eq!(env.schema, Schema::Rel6_1_4);
    let Body::SubmitRsp(r) = env.body else {
        panic!()
    };
    assert_eq!(r.status.code, StatusCode(1000));
    assert_eq!(r.message_id.as_deref(), Some("m-1"));
}

#[test]
fn reads_delivery_reports_whatever_their_time_element_and_status_spelling() {
    for (time, status, negative) in [
        ("Date", "Retrieved", false),
        ("TimeStamp", "Unrecognized", true),
        ("Date", "NotSupported", true),
        ("TimeStamp", "Expired", true),
    ] {
        let env = read(&format!(
            r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Header>
<TransactionID xmlns="{NS12}">dr</TransactionID></e:Header><e:Body>
<DeliveryReportReq xmlns="{NS12}"><MM7Version>9999.12345.6543</MM7Version><MessageID>m-9</MessageID>
<Recipient><Number>15551234567</Number></Recipient><Sender><ShortCode>28444</ShortCode></Sender>
<{time}>2026-11-23T10:00:00</{time}><MMStatus>{status}</MMStatus></DeliveryReportReq></e:Body></e:Envelope>"#
        ));
        assert_eq!(
            env.version, "9999.12345.6543",
            "an odd version is kept, not refused"
        );
        let Body::DeliveryReportReq(r) = env.body else {
            panic!()
        };
        assert_eq!(r.date, "2026-11-23T10:00:00");
        assert_eq!(r.status.is_negative(), negative, "{status}");
        assert_eq!(r.message_id, "m-9");
    }
}

#[test]
fn reads_faults_with_qualified_children_and_a_bare_client_code() {
    let env = read(&format!(
        r#"<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><env:Fault>
<env:faultcode>Client</env:faultcode><env:faultstring>Client error</env:faultstring>
<env:detail><RSErrorRsp xmlns="{NS14}"><MM7Version>6.8.0</MM7Version><Status><StatusCode>2001</StatusCode>
<StatusText>Operation restricted</StatusText><Details><x>auth</x></Details></Status></RSErrorRsp></env:detail>
</env:Fault></env:Body></env:Envelope>"#
    ));
    let Body::Fault(f) = &env.body else { panic!() };
    assert_eq!(f.code, "Client");
    assert_eq!(env.body.status().unwrap().code, StatusCode(2001));
    assert_eq!(env.body.status().unwrap().details.as_deref(), Some("auth"));
}

#[test]
fn refuses_what_it_cannot_handle_with_the_matching_status() {
    let err = |xml: &str| read_envelope(xml.as_bytes(), Schema::Rel6_1_4).unwrap_err();
    assert_eq!(err("not xml at all").code, StatusCode::FORMAT_CORRUPT);
    assert_eq!(err("<a><b></a>").code, StatusCode::FORMAT_CORRUPT);
    let no_tid = format!(
        r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><DeliverRsp xmlns="{NS14}">
<MM7Version>6.8.0</MM7Version><Status><StatusCode>1000</StatusCode><StatusText>ok</StatusText></Status></DeliverRsp></e:Body></e:Envelope>"#
    );
    assert_eq!(err(&no_tid).code, StatusCode::VALIDATION_ERROR);
    let unknown = format!(
        r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Header><TransactionID xmlns="{NS14}">x</TransactionID></e:Header>
<e:Body><GetDeviceProfileReq xmlns="{NS14}"><MM7Version>6.8.0</MM7Version></GetDeviceProfileReq></e:Body></e:Envelope>"#
    );
    assert_eq!(err(&unknown).code, StatusCode::UNSUPPORTED_OPERATION);
    let dtd = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>&lol2;</e:Body></e:Envelope>"#;
    assert_eq!(err(dtd).code, StatusCode::FORMAT_CORRUPT);
}

#[test]
fn reads_an_envelope_in_a_declared_non_utf8_charset() {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"GB2312\"?><e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\">\
<e:Header><TransactionID xmlns=\"{NS14}\">g</TransactionID></e:Header><e:Body><DeliverReq xmlns=\"{NS14}\">\
<MM7Version>6.8.0</MM7Version><Sender><Number>1</Number></Sender><Subject>\u{4f60}\u{597d}</Subject></DeliverReq></e:Body></e:Envelope>"
    );
    let (bytes, _, _) = encoding_rs::GB18030.encode(&xml);
    let env = read_envelope(&bytes, Schema::Rel6_1_4).unwrap();
    let Body::DeliverReq(d) = env.body else {
        panic!()
    };
    assert_eq!(d.subject.as_deref(), Some("\u{4f60}\u{597d}"));
}
