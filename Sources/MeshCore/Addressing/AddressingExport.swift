// The address types (IPv4/IPv6 addresses, prefixes, socket endpoints) live in MeshAddressing, a module
// with no dependencies, so that WireGuardControl can use them without the protocol core. MeshCore's
// public API speaks in them, so importing MeshCore brings them along.
@_exported import MeshAddressing
