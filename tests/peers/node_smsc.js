#!/usr/bin/env node
// An SMSC built on the npm `smpp` package (node-smpp, a third-party SMPP implementation),
// used to check Impulse's ESME engine. Accepts system_id "impulse" / password "secret" on
// every bind type, answers submit_sm with message ids, sends a delivery receipt when one is
// asked for, sends an MO when the text is "please reply", sends its own enquire_link after
// each bind, and logs every event as one JSON line on stdout.
// With a certificate and key (PEM files) it speaks SMPP over TLS.
// Usage: node node_smsc.js PORT [CERT KEY]
const fs = require('fs');
const smpp = require('smpp');

const port = parseInt(process.argv[2], 10);
const tls = process.argv[4] ? { cert: fs.readFileSync(process.argv[3]), key: fs.readFileSync(process.argv[4]) } : {};
const log = (o) => process.stdout.write(JSON.stringify(o) + '\n');
let nextId = 1000;

const server = smpp.createServer(tls, (session) => {
  for (const type of ['bind_transmitter', 'bind_receiver', 'bind_transceiver']) {
    session.on(type, (pdu) => {
      const ok = pdu.system_id === 'impulse' && pdu.password === 'secret';
      log({ event: 'bind', type, system_id: pdu.system_id, interface_version: pdu.interface_version, ok });
      session.send(pdu.response({ command_status: ok ? smpp.ESME_ROK : smpp.ESME_RBINDFAIL, system_id: 'node-smsc' }));
      if (!ok) { session.close(); return; }
      setTimeout(() => session.enquire_link({}, (resp) => log({ event: 'enquire_link_resp', status: resp.command_status })), 100);
    });
  }
  session.on('submit_sm', (pdu) => {
    const id = (nextId++).toString(16);
    const text = pdu.short_message && pdu.short_message.message !== undefined ? pdu.short_message.message : String(pdu.short_message);
    log({ event: 'submit_sm', dest: pdu.destination_addr, source: pdu.source_addr, data_coding: pdu.data_coding, text, id });
    session.send(pdu.response({ message_id: id }));
    if (pdu.registered_delivery & 1) {
      setTimeout(() => session.deliver_sm({
        source_addr: pdu.destination_addr,
        destination_addr: pdu.source_addr,
        esm_class: 4,
        short_message: `id:${id} sub:001 dlvrd:001 submit date:2511231200 done date:2511231201 stat:DELIVRD err:000 text:`,
        receipted_message_id: id,
        message_state: 2,
      }, (resp) => log({ event: 'deliver_sm_resp', kind: 'receipt', status: resp.command_status })), 30);
    }
    if (text === 'please reply') {
      setTimeout(() => session.deliver_sm({
        source_addr: pdu.destination_addr,
        destination_addr: pdu.source_addr,
        short_message: 'alice@example.com(Re: hi) sure thing',
      }, (resp) => log({ event: 'deliver_sm_resp', kind: 'mo', status: resp.command_status })), 30);
    }
  });
  session.on('enquire_link', (pdu) => { log({ event: 'enquire_link' }); session.send(pdu.response()); });
  session.on('unbind', (pdu) => { log({ event: 'unbind' }); session.send(pdu.response()); session.close(); });
  session.on('error', (e) => log({ event: 'error', message: String(e) }));
  session.on('pdu', (pdu) => { if (process.env.NODE_SMSC_TRACE) log({ event: 'pdu', command: pdu.command, seq: pdu.sequence_number, status: pdu.command_status }); });
});
// Port 0: the system picks one; the ready line says which.
server.listen(port, '127.0.0.1', () => log({ event: 'ready', port: server.address().port, tls: !!tls.cert }));
