#!/usr/bin/env python3
"""An ESME built on python-smpplib (a third-party SMPP client), used to check Impulse's SMSC
simulator. Binds as BIND_TYPE with SYSTEM_ID/PASSWORD, sends a short GSM message, a long one
in UDH segments (smpplib.gsm.make_parts) and a UCS-2 one, asks for receipts, sends an
enquire_link, waits for every response and receipt, unbinds, and prints one JSON line.
Usage: smpplib_esme.py HOST PORT BIND_TYPE SYSTEM_ID PASSWORD
"""
import json
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.gsm

host, port, bind_type, system_id, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
client = smpplib.client.Client(host, port, timeout=10, allow_unknown_opt_params=True)
result = {"bind": None, "resp": [], "receipts": [], "enquire_link": False, "unbind": False, "sent": 0}

def sent(pdu):
    result["resp"].append({"seq": pdu.sequence, "status": pdu.status, "message_id": pdu.message_id.decode() if isinstance(pdu.message_id, bytes) else pdu.message_id})

def received(pdu):
    rid = getattr(pdu, "receipted_message_id", None)
    if isinstance(rid, bytes):
        rid = rid.decode()
    text = pdu.short_message.decode("latin-1") if isinstance(pdu.short_message, bytes) else str(pdu.short_message)
    result["receipts"].append({"receipted_message_id": rid, "text": text})

client.set_message_sent_handler(sent)
client.set_message_received_handler(received)
client.connect()
bind = {"transmitter": client.bind_transmitter, "receiver": client.bind_receiver, "transceiver": client.bind_transceiver}[bind_type]
try:
    resp = bind(system_id=system_id, password=password)
    result["bind"] = resp.status
except smpplib.exceptions.PDUError as e:
    result["bind"] = e.args[1] if len(e.args) > 1 else str(e)
    print(json.dumps(result))
    sys.exit(0)

if bind_type != "receiver":
    for text in ["Hello from smpplib", "Long message. " * 20, "Привет, мир"]:
        parts, coding, esm_class = smpplib.gsm.make_parts(text)
        for part in parts:
            client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM, source_addr="smpplib",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL, destination_addr="4445551234",
                short_message=part, data_coding=coding, esm_class=esm_class,
                registered_delivery=1)
            result["sent"] += 1

    # Receipts come only to a bind that can receive: a transmitter waits for responses alone.
    want_receipts = result["sent"] if bind_type == "transceiver" else 0
    deadline = time.time() + 15
    while (len(result["resp"]) < result["sent"] or len(result["receipts"]) < want_receipts) and time.time() < deadline:
        client.read_once()

    # enquire_link, answered by the SMSC
    el = smpplib.smpp.make_pdu("enquire_link", client=client)
    client.send_pdu(el)
    reply = client.read_pdu()
    result["enquire_link"] = reply.command == "enquire_link_resp"

client.unbind()
result["unbind"] = True
client.disconnect()
print(json.dumps(result))
