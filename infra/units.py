"""Sizes as the program that reads them means them: one parser, one table of suffixes per reader.

The same letters mean different sizes to the programs the benchmark hands sizes to:

- **Kubernetes** resource quantities (`apiMemory`, `mysqlMemory`, volume sizes): `k`, `M`, `G`,
  `T`, `P`, `E` are decimal (10^3, 10^6, ...), `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei` binary (2^10,
  2^20, ...), a decimal fraction is allowed (`1.5Gi`) and a fractional byte counts as a whole one,
  as the API server rounds. `K` is no Kubernetes suffix (the API server refuses `512K`); `m`
  (milli) is one, but a memory in thousandths of a byte is always a mistake for `M`, so it is
  refused here; so is the exponent form (`1e9`), which nothing of the benchmark writes.
- **mysqld** option values (`innodb_buffer_pool_size=3G` in `mysqlConfig`): `K`, `M`, `G`, upper
  or lower case, all binary (1024, 1024^2, 1024^3; MySQL 5.x has no `T`), whole numbers only.
- **the JVM** (`-Xmx`, seldon-server's `XMX_MEMORY`, Spark's `SPARK_DAEMON_MEMORY`): `k`, `m`,
  `g`, upper or lower case, all binary, whole numbers only.

So `4G` is 4,000,000,000 bytes to Kubernetes and 4,294,967,296 to mysqld and the JVM: comparing a
buffer pool or a heap with a container's memory request must read each with its own table.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

_NUMBER = re.compile(r"([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)")
_BINARY = {"K": 2**10, "M": 2**20, "G": 2**30}


@dataclass(frozen=True)
class Units:
    """How one reader of sizes spells them: its suffixes and the bytes each stands for."""

    reader: str  # "a Kubernetes memory quantity": what a message calls a size of this kind
    example: str  # "260Mi or 3Gi"
    factors: Mapping[str, int]  # suffix ("" for none) -> bytes
    fractions: bool  # whether "1.5Gi" is a size
    limit: int  # the largest size the reader holds, in bytes

    def bytes(self, text: str) -> int:
        """The bytes `text` stands for; ValueError saying what a size of this kind looks like."""
        m = _NUMBER.fullmatch(text) if isinstance(text, str) else None
        if not m or m.group(2) not in self.factors or ("." in m.group(1) and not self.fractions):
            raise ValueError(f"must be {self.reader} such as {self.example}")
        value = Decimal(m.group(1)) * self.factors[m.group(2)]
        if value > self.limit:
            raise ValueError(f"must be {self.reader} of at most {self.limit:,} bytes")
        return math.ceil(value)

    def only(self, suffixes: str, example: str) -> "Units":
        """The same reader, taking only the given one-letter suffixes (and no bare bytes)."""
        return Units(self.reader, example, {s: f for s, f in self.factors.items() if s and s in suffixes},
                     self.fractions, self.limit)


KUBERNETES = Units(
    "a Kubernetes memory quantity", "260Mi or 3Gi",
    {"": 1, **{s: 1000**i for i, s in enumerate("kMGTPE", start=1)},
     **{s + "i": 1024**i for i, s in enumerate("KMGTPE", start=1)}},
    fractions=True, limit=2**63 - 1,  # a Quantity's value is an int64
)
MYSQL = Units(
    "a mysqld size", "2G or 512M",
    {"": 1, **_BINARY, **{s.lower(): f for s, f in _BINARY.items()}},
    fractions=False, limit=2**64 - 1,  # an unsigned long long
)
JVM = Units(
    "a Java heap size", "2530M or 4G",
    {"": 1, **_BINARY, **{s.lower(): f for s, f in _BINARY.items()}},
    fractions=False, limit=2**63 - 1,
)
