"""RFC 6962 / RFC 9162 Merkle tree hashing and proofs, independent of any storage.

A tree over leaves ``D[0:n]`` is addressed by *perfect subtrees*: ``(level, index)`` is the
root of leaves ``[index * 2**level, (index + 1) * 2**level)``. Every hash a proof needs is the
hash of a range ``D[start:end]`` in the RFC's recursive shape, and every such range is a
few perfect subtrees folded from the right. So proofs are computed in two steps: the
*ranges* a proof needs (pure arithmetic, :func:`inclusion_ranges`, :func:`consistency_ranges`),
then the perfect subtree hashes of those ranges from any store (:func:`range_keys`,
:func:`fold`). The database store keeps one row per perfect subtree (``tlog.py``), so a
proof costs O(log n) rows, never a re-hash of the leaves.

The verification functions follow RFC 9162 sections 2.1.3.2 and 2.1.4.2 literally: they are
what an outside auditor runs, and what ``tambo audit verify`` runs between checkpoints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
NodeKey = tuple[int, int]  # (level, index) of a perfect subtree
Range = tuple[int, int]  # [start, end) of leaves


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_keys(start: int, end: int) -> list[NodeKey]:
    """The perfect subtrees, left to right, whose fold is the RFC hash of ``D[start:end]``.

    Valid for the ranges the RFC recursion produces (``start`` aligned to the size's
    power-of-two ceiling); the greedy split takes the highest bit of the length first,
    which is exactly the RFC's "largest power of two smaller than n".
    """
    keys = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start % (1 << level):
            level -= 1
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def fold(hashes: Sequence[bytes]) -> bytes:
    """Combine perfect subtree hashes (left to right) into the hash of their range."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose hashes form the audit path of leaf ``index`` in a tree of ``size``
    (RFC 9162 2.1.3.1), nearest the leaf first."""
    if not 0 <= index < size:
        raise ValueError("leaf index outside the tree")
    path: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The ranges whose hashes form the consistency proof from size ``first`` to ``second``
    (RFC 9162 2.1.4.1, SUBPROOF); empty when ``first`` is 0 or equals ``second``."""
    if not 0 <= first <= second:
        raise ValueError("sizes out of order")
    if first in (0, second):
        return []
    proof: list[Range] = []
    lo, hi, m, whole = 0, second, first, True
    while m != hi - lo:
        k = split_point(hi - lo)
        if m <= k:
            proof.append((lo + k, hi))
            hi = lo + k
        else:
            proof.append((lo, lo + k))
            lo += k
            m -= k
            whole = False
    if not whole:
        proof.append((lo, hi))
    proof.reverse()
    return proof


def ranges_hashes(ranges: Iterable[Range], fetch: Callable[[set[NodeKey]], dict]) -> list[bytes]:
    """Hash each range, reading all the perfect subtrees they need with one ``fetch`` call."""
    ranges = list(ranges)
    plans = [range_keys(start, end) for start, end in ranges]
    wanted = {key for plan in plans for key in plan}
    known = fetch(wanted) if wanted else {}
    return [fold([known[key] for key in plan]) for plan in plans]


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does ``path`` prove that leaf hash ``leaf`` is at ``index``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: does ``proof`` show the tree of ``second`` extends that of ``first``?"""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def node_position(level: int, index: int) -> int:
    """1-based position of interior node ``(level >= 1, index)`` in the order nodes complete.

    The node completes when the tree reaches ``s = (index + 1) * 2**level`` leaves; before
    that, ``(s - 1) - popcount(s - 1)`` interior nodes existed, and the nodes completed by
    leaf ``s`` are numbered upwards by level. Storing nodes under this number makes the
    table append-only and lets verification read it in one sequential pass.
    """
    s = (index + 1) << level
    return (s - 1) - (s - 1).bit_count() + level


class Builder:
    """Appends leaf hashes and reports each interior node as it completes (a compact range)."""

    __slots__ = ("size", "stack")

    def __init__(self, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        self.size = size
        levels = [bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]
        if len(levels) != len(frontier):
            raise ValueError("the frontier does not match the tree size")
        self.stack: list[tuple[int, bytes]] = list(zip(levels, frontier, strict=True))

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; returns the completed interior nodes as (level, index, hash)."""
        self.size += 1
        stack = self.stack
        level, value = 0, leaf
        done = []
        while stack and stack[-1][0] == level:
            value = node_hash(stack.pop()[1], value)
            level += 1
            done.append((level, (self.size >> level) - 1, value))
        stack.append((level, value))
        return done

    def root(self) -> bytes:
        return fold([value for _level, value in self.stack])


def frontier_keys(size: int) -> list[NodeKey]:
    """The perfect subtrees that make up a tree of ``size`` leaves, left to right."""
    return range_keys(0, size)
