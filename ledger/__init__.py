"""factledger's headless core: a tamper-evident, event-sourced ledger of fact-checking work.

Importing the core never loads DuckDB or Textual. The modules, in the order the
layers point (each imports only those above it):

- ``errors``      one ``LedgerError`` hierarchy with exit codes and hints
- ``events``      the v1 vocabulary (DESIGN §4) as frozen, tagged msgspec Structs
- ``codec``       canonical bytes <-> entries, strict
- ``keys``        Ed25519 keys, fingerprints, strict admission
- ``merkle``      RFC 9162 tree math, pure
- ``notes``, ``checkpoint``  C2SP signed notes and tlog checkpoints
- ``entry``       header, body hash, signature, event id, redacted form
- ``rules``       the fold that every append and every verification goes through
- ``log``         the append-only file: lock, fsync, atomic replace, torn tails
- ``ledger``      the application service: init, load, append, redact, repair
- ``verify``, ``proofs``, ``receipts``, ``merge``  the checks and evidence built on it
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
