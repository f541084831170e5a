"""Who is calling: the client's address and scheme, taking `X-Forwarded-For` / `Forwarded` only
from the proxies the operator named.

A forwarding header is a list any client can write to; only the entries appended by a proxy we
trust say anything. So the walk starts at the socket peer and moves one entry to the left only
while the address it stands on is a trusted proxy (`CODER_EDGE_TRUSTED_PROXIES`, CIDRs) and at
most `CODER_EDGE_TRUSTED_PROXY_HOPS` times. With no trusted proxies (the default) the client is
the socket peer, whatever the headers say. The scheme (`X-Forwarded-Proto`, or `proto=` of
`Forwarded`) is taken from a trusted peer only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

FORWARDED_HEADERS = ("x-forwarded-for", "forwarded")
_SCHEMES = frozenset({"http", "https"})


def parse_networks(raw: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 127.0.0.1, ::1` as networks (a bare address is a /32 or /128). ValueError
    names the entry that is not an address or network."""
    networks = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or CIDR: {entry!r}") from None
    return tuple(networks)


def _address(value: str) -> Address | None:
    """An address from a forwarding entry: `1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `::1`."""
    text = value.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _forwarded_elements(values: Iterable[str]) -> list[dict[str, str]]:
    """RFC 7239 elements, left to right, as lower-cased parameter maps (quoted values
    unquoted; a comma inside quotes does not split)."""
    elements: list[dict[str, str]] = []
    for value in values:
        element: dict[str, str] = {}
        pair: list[str] = []
        quoted = False
        for char in value + ",":
            if char == '"':
                quoted = not quoted
            if not quoted and char in ",;":
                name, _, found = "".join(pair).strip().partition("=")
                if name:
                    element[name.strip().lower()] = found.strip().strip('"')
                pair = []
                if char == ",":
                    elements.append(element)
                    element = {}
                continue
            pair.append(char)
    return elements


@dataclass(frozen=True, slots=True)
class Caller:
    """The resolved client: its address (a string, for limit keys and logs) and the scheme
    the request was made with."""

    address: str
    scheme: str


class TrustedProxies:
    """The proxies whose forwarding headers count, and how many of them stand in a row."""

    def __init__(
        self, networks: Sequence[Network], hops: int = 1, header: str = "x-forwarded-for"
    ) -> None:
        if header not in FORWARDED_HEADERS:
            raise ValueError(f"the forwarding header is one of {FORWARDED_HEADERS}, not {header!r}")
        self.networks = tuple(networks)
        self.hops = hops
        self.header = header

    def trusts(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self.networks)

    def resolve(self, peer: str, scheme: str, headers: Sequence[tuple[bytes, bytes]]) -> Caller:
        """The caller of a request that came from `peer` over `scheme` with `headers`."""
        here = _address(peer)
        if not self.networks or not self.trusts(here):
            return Caller(peer, scheme)
        forwarded, protos = self._chain(headers)
        forwarded_scheme = protos[-1] if protos and protos[-1] in _SCHEMES else scheme
        client = peer
        for _ in range(self.hops):
            if not forwarded or not self.trusts(here):
                break
            here = _address(forwarded.pop())
            if here is None:
                break  # the trusted proxy wrote no address: it is the client we know of
            client = str(here)
        return Caller(client, forwarded_scheme)

    def _chain(self, headers: Sequence[tuple[bytes, bytes]]) -> tuple[list[str], list[str]]:
        """The forwarded addresses (left to right) and the forwarded schemes."""
        name = self.header.encode()
        values = [value.decode("latin-1") for key, value in headers if key == name]
        if self.header == "forwarded":
            elements = _forwarded_elements(values)
            addresses = [element.get("for", "") for element in elements]
            protos = [element["proto"].lower() for element in elements if "proto" in element]
            return addresses, protos
        addresses = [part.strip() for value in values for part in value.split(",")]
        protos = [
            part.strip().lower()
            for key, value in headers
            if key == b"x-forwarded-proto"
            for part in value.decode("latin-1").split(",")
        ]
        return [address for address in addresses if address], protos
