"""Validate RDF files with pySHACL against SHACL shape files.

usage: validate.py DATA.ttl[,DATA2.ttl...] SHAPES.ttl [SHAPES.ttl ...]

Prints one JSON object per data file: {"file", "conforms", "violations":
[{"focus", "path", "message"}], "warnings": n}. Warnings (the recommended
shapes) do not make a file fail; violations do.
"""
import json
import sys

from pyshacl import validate
from rdflib import Graph, Namespace
from rdflib.namespace import RDF

SH = Namespace("http://www.w3.org/ns/shacl#")

def main():
    data_files = sys.argv[1].split(",")
    shapes = Graph()
    for f in sys.argv[2:]:
        shapes.parse(f, format="turtle")
    for f in data_files:
        data = Graph().parse(f, format="turtle")
        conforms, report, _ = validate(
            data, shacl_graph=shapes, inference="none", allow_warnings=True,
            do_owl_imports=False,
        )
        violations, warnings = [], 0
        for r in report.subjects(RDF.type, SH.ValidationResult):
            sev = report.value(r, SH.resultSeverity)
            if sev == SH.Violation:
                violations.append({
                    "focus": str(report.value(r, SH.focusNode)),
                    "path": str(report.value(r, SH.resultPath)),
                    "message": str(report.value(r, SH.resultMessage)),
                })
            else:
                warnings += 1
        print(json.dumps({"file": f, "conforms": bool(conforms) and not violations,
                          "violations": violations, "warnings": warnings}))

main()
