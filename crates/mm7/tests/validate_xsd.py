#!/usr/bin/env python3
"""Validates every *.xml envelope in a directory against the official MM7 XSDs (lxml/libxml2):
the header's TransactionID and the Body's operation (or a Fault's detail) against the schema of
their own namespace, and the whole envelope against the SOAP 1.1 envelope schema
(docs/reference/mm7-interop.md §11). The XSDs import SOAP's schema by URL; copies using the local
soapEnvelope.xsd are made in a temporary directory. Prints one line per failure; exit 1 if any.
Usage: validate_xsd.py XSD_DIR ENVELOPE_DIR"""
import os, sys, tempfile
from lxml import etree

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
xsd_dir, env_dir = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp()
soap_xsd = os.path.join(os.path.abspath(xsd_dir), "soapEnvelope.xsd")
schemas = {}

def schema_for(ns):
    name = ns.rstrip("/").rsplit("/", 1)[-1]
    if name not in schemas:
        src = open(os.path.join(xsd_dir, name + ".xsd"), encoding="utf-8").read()
        src = src.replace('schemaLocation="http://schemas.xmlsoap.org/soap/envelope/"',
                          'schemaLocation="file://%s"' % soap_xsd)
        path = os.path.join(tmp, name + ".xsd")
        open(path, "w", encoding="utf-8").write(src)
        schemas[name] = etree.XMLSchema(etree.parse(path))
    return schemas[name]

envelope_schema = etree.XMLSchema(etree.parse(soap_xsd))
failures = 0
count = 0
for f in sorted(os.listdir(env_dir)):
    if not f.endswith(".xml"):
        continue
    count += 1
    doc = etree.parse(os.path.join(env_dir, f))
    checks = [("envelope", envelope_schema, doc.getroot())]
    header = doc.getroot().find("{%s}Header" % SOAP)
    body = doc.getroot().find("{%s}Body" % SOAP)
    for el in list(header) + [body[0]]:
        target = el
        if el.tag == "{%s}Fault" % SOAP:
            detail = el.find("detail")
            target = detail[0] if detail is not None and len(detail) else None
        if target is None:
            continue
        ns = etree.QName(target).namespace
        if ns is None:
            print("%s: %s has no namespace" % (f, etree.QName(target).localname))
            failures += 1
            continue
        checks.append((etree.QName(target).localname, schema_for(ns), target))
    for what, schema, el in checks:
        standalone = etree.fromstring(etree.tostring(el))
        if not schema.validate(standalone):
            failures += 1
            for e in schema.error_log:
                print("%s: %s: line %s: %s" % (f, what, e.line, e.message))
print("validated %d envelopes, %d failures" % (count, failures))
sys.exit(1 if failures or count == 0 else 0)
