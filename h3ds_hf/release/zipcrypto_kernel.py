"""The compiled inner loop of ZipCrypto decryption: four members' bytes in lockstep.

Decrypting one byte takes the keys left by the previous plaintext byte through two CRC-32
table steps and a multiplication: a chain of ~30 cycles that no coding of one stream shortens
(~95 MB/s on one core, what Info-ZIP's unzip manages too). Four independent streams advanced
together keep four chains in flight: ~300 MB/s on one core. Imported only when a large member
is decrypted (numba's start-up, ~0.5 s, is not paid for small reads).
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint8, uint32

#: Members decrypted together by :func:`decrypt_rows`.
STREAMS = 4
_MULTIPLIER = uint32(134775813)


@njit(cache=True, nogil=True, inline="always")
def _step(cipher, k0, k1, k2, table):
    """One byte: (plain byte, keys after it)."""
    low = (k2 | uint32(2)) & uint32(0xFFFF)
    plain = cipher ^ uint8(((low * (low ^ uint32(1))) >> uint32(8)) & uint32(0xFF))
    k0 = table[(k0 ^ plain) & uint32(0xFF)] ^ (k0 >> uint32(8))
    k1 = (k1 + (k0 & uint32(0xFF))) * _MULTIPLIER + uint32(1)
    k2 = table[(k2 ^ (k1 >> uint32(24))) & uint32(0xFF)] ^ (k2 >> uint32(8))
    return plain, k0, k1, k2


@njit(cache=True, nogil=True)
def decrypt_rows(data: np.ndarray, lengths: np.ndarray, keys: np.ndarray, table: np.ndarray):
    """Decrypt, in place, the first ``lengths[r]`` bytes of each row of ``data``.

    Args:
        data: (STREAMS, n) uint8 ciphertext rows, overwritten with the plaintext (unused rows
            and bytes past a row's length are scratch).
        lengths: (STREAMS,) int64 bytes of each row to decrypt; 0 for an unused row.
        keys: (STREAMS, 3) uint32 cipher keys of each row, advanced past its bytes.
        table: (256,) uint32 CRC-32 table.
    """
    common = data.shape[1]
    active = 0
    for r in range(STREAMS):
        if lengths[r] > 0:
            common = min(common, lengths[r])
            active += 1
    if active < 2:  # one stream alone goes faster without three others alongside
        common = 0
    a0, a1, a2 = keys[0, 0], keys[0, 1], keys[0, 2]
    b0, b1, b2 = keys[1, 0], keys[1, 1], keys[1, 2]
    c0, c1, c2 = keys[2, 0], keys[2, 1], keys[2, 2]
    d0, d1, d2 = keys[3, 0], keys[3, 1], keys[3, 2]
    for i in range(common):  # unused rows run along on scratch bytes: their keys are dropped
        data[0, i], a0, a1, a2 = _step(data[0, i], a0, a1, a2, table)
        data[1, i], b0, b1, b2 = _step(data[1, i], b0, b1, b2, table)
        data[2, i], c0, c1, c2 = _step(data[2, i], c0, c1, c2, table)
        data[3, i], d0, d1, d2 = _step(data[3, i], d0, d1, d2, table)
    after = ((a0, a1, a2), (b0, b1, b2), (c0, c1, c2), (d0, d1, d2))
    for r in range(STREAMS):
        if lengths[r] == 0:
            continue
        k0, k1, k2 = after[r]
        for i in range(common, lengths[r]):  # the rows longer than the shortest, one by one
            data[r, i], k0, k1, k2 = _step(data[r, i], k0, k1, k2, table)
        keys[r, 0], keys[r, 1], keys[r, 2] = k0, k1, k2
