#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the seed files of the fuzz corpora, tests/fuzz/corpus/<target>/seed-*.

Real commands and responses come from tpm2-tools run against a swtpm through tss2's
pcap TCTI (the capture is parsed here; nothing else is needed but swtpm and
tpm2-tools, which scripts/setup installs).  The rest are hand-made sequences in each
target's input framing (see the comment at the top of each fuzz-*.c); the operation
numbers below must match their enums.

    tests/fuzz/make-corpus.py            # rewrites seed-*; merged files stay

Seeds are small on purpose: a few dozen files per target, none above a few KiB.
"""
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(TOP, "corpus")

# --- capture: tpm2-tools against swtpm, through the pcap TCTI ---

HEXDATA = "00" * 32
TOOL_RUNS = [
    ("getrandom", ["tpm2_getrandom 16 --hex"]),
    ("getcap", ["tpm2_getcap properties-fixed", "tpm2_getcap handles-transient",
                "tpm2_getcap handles-persistent"]),
    ("primary-ecc", ["tpm2_createprimary -C o -G ecc -c prim.ctx", "tpm2_readpublic -c prim.ctx",
                     "tpm2_flushcontext -t"]),
    ("hmac-key", ["tpm2_createprimary -C o -G ecc -c prim.ctx",
                  "tpm2_create -C prim.ctx -G hmac -u k.pub -r k.priv",
                  "tpm2_load -C prim.ctx -u k.pub -r k.priv -c k.ctx",
                  "tpm2_hmac -c k.ctx -g sha256 data"]),
    ("sign-ecc", ["tpm2_createprimary -C o -G ecc -c prim.ctx",
                  "tpm2_create -C prim.ctx -G ecc -u e.pub -r e.priv",
                  "tpm2_load -C prim.ctx -u e.pub -r e.priv -c e.ctx",
                  "tpm2_sign -c e.ctx -g sha256 -o sig data"]),
    ("policy", ["tpm2_startauthsession -S s.ctx --policy-session",
                "tpm2_policypcr -S s.ctx -l sha256:0", "tpm2_flushcontext s.ctx"]),
    ("pcr", ["tpm2_pcrread sha256:0,1,2", "tpm2_pcrextend 16:sha256=" + HEXDATA * 1]),
    ("nv", ["tpm2_nvdefine 0x1500016 -C o -s 32 -a ownerread|ownerwrite",
            "tpm2_nvwrite 0x1500016 -C o -i data", "tpm2_nvread 0x1500016 -C o -s 8",
            "tpm2_nvundefine 0x1500016 -C o"]),
    ("hash", ["tpm2_hash -g sha256 data", "tpm2_readclock", "tpm2_selftest",
              "tpm2_gettestresult"]),
    ("persist", ["tpm2_createprimary -C o -G ecc -c prim.ctx",
                 "tpm2_evictcontrol -C o -c prim.ctx 0x81000001",
                 "tpm2_evictcontrol -C o -c 0x81000001"]),
    ("auth", ["tpm2_changeauth -c o newpass", "tpm2_changeauth -c o -p newpass",
              "tpm2_clear"]),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pcap_packets(path):
    """(is_command, payload) of each TCP segment in a pcapng file of the pcap TCTI."""
    data = open(path, "rb").read()
    off, out = 0, []
    while off + 8 <= len(data):
        kind, length = struct.unpack_from("<II", data, off)
        if kind == 6:  # enhanced packet block: IPv4, TCP, payload
            caplen = struct.unpack_from("<I", data, off + 20)[0]
            pkt = data[off + 28:off + 28 + caplen]
            tcp = pkt[(pkt[0] & 15) * 4:]
            dport = struct.unpack_from(">H", tcp, 2)[0]
            payload = tcp[(tcp[12] >> 4) * 4:]
            if payload:
                out.append((dport == 2321, payload))
        off += length
    return out


def capture():
    """{run name: [(command, response), ...]} from tpm2-tools against a fresh swtpm."""
    work = tempfile.mkdtemp(prefix="tpmrm-corpus-")
    port = free_port()
    swtpm = subprocess.Popen(
        ["swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + work,
         "--server", "type=tcp,port=%d" % port, "--ctrl", "type=tcp,port=%d" % (port + 1),
         "--flags", "not-need-init,startup-clear"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = {}
    try:
        time.sleep(0.5)
        with open(os.path.join(work, "data"), "wb") as f:
            f.write(b"tpmrm-cuse fuzz seed data\n")
        for name, lines in TOOL_RUNS:
            pcap = os.path.join(work, name + ".pcap")
            env = dict(os.environ,
                       TPM2TOOLS_TCTI="pcap:swtpm:host=127.0.0.1,port=%d" % port,
                       TCTI_PCAP_FILE=pcap)
            plain = dict(env, TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=%d" % port)
            for line in lines:
                subprocess.run(line.split(), cwd=work, env=env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                # No resource manager here: flush what the tool left loaded, uncaptured.
                subprocess.run(["tpm2_flushcontext", "-t"], cwd=work, env=plain,
                               check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            pkts = pcap_packets(pcap)
            runs[name] = [(c, r) for (ic, c), (ir, r) in zip(pkts[::2], pkts[1::2])
                          if ic and not ir]
    finally:
        swtpm.terminate()
        swtpm.wait()
        shutil.rmtree(work, ignore_errors=True)
    return runs


# --- framings ---

def u16(v):
    return struct.pack(">H", v)


def u32(v):
    return struct.pack(">I", v)


def cmd(cc, handles=(), params=b"", tag=0x8001):
    body = b"".join(u32(h) for h in handles) + params
    return struct.pack(">HII", tag, 10 + len(body), cc) + body


def vhandles(command):
    """The command as a client of a tpmrm sees it: 0x8000000N -> vhandle of slot N."""
    b = bytearray(command)
    for off in (10, 14, 18):
        if off + 4 <= len(b) and b[off:off + 3] == b"\x80\x00\x00" and b[off + 3] < 3:
            b[off:off + 4] = u32(0x80FFFFFF - b[off + 3])
    return bytes(b)


# fuzz-rm-command
(RC_RAW, RC_CLOSE, RC_CREATE_PRIMARY, RC_CREATE_LOADED, RC_HASH_SEQUENCE, RC_START_SESSION,
 RC_FLUSH, RC_CONTEXT_SAVE, RC_CONTEXT_LOAD, RC_GETCAP_HANDLES, RC_READ_PUBLIC,
 RC_SEQUENCE_UPDATE, RC_POLICY_DIGEST, RC_ADMIN) = range(14)


def rc_op(space, op, *args):
    return bytes([op << 2 | space]) + bytes(args)


def rc_raw(space, command):
    return rc_op(space, RC_RAW) + u16(len(command)) + command


POOL = 0x80  # pick the first handle of the pool
POOL1 = 0x81


def rm_command_seeds(runs):
    seeds = {}
    for name, pairs in runs.items():
        seeds["tools-" + name] = b"".join(rc_raw(0, vhandles(c)) for c, _ in pairs[:40])
    # Two clients' tool runs interleaved.
    a, b = runs["hmac-key"], runs["policy"]
    mix = []
    for i in range(max(len(a), len(b))):
        if i < len(a):
            mix.append(rc_raw(0, vhandles(a[i][0])))
        if i < len(b):
            mix.append(rc_raw(1, vhandles(b[i][0])))
    seeds["tools-two-spaces"] = b"".join(mix[:40])

    # Hand-made sequences over the templates (key types: 0 HMAC, 1 AES, 2 AES parent,
    # 3 ECC parent; CreatePrimary's byte: hierarchy in bits 0-1, key type above).
    seeds["spaces-objects"] = b"".join([
        rc_op(0, RC_CREATE_PRIMARY, 0 | 0 << 2), rc_op(1, RC_CREATE_PRIMARY, 0 | 1 << 2),
        rc_op(0, RC_GETCAP_HANDLES, 0), rc_op(1, RC_GETCAP_HANDLES, 0),
        rc_op(1, RC_READ_PUBLIC, 0), rc_op(0, RC_CLOSE), rc_op(1, RC_GETCAP_HANDLES, 1)])
    seeds["four-objects"] = b"".join([rc_op(0, RC_CREATE_PRIMARY, 1 << 2)] * 4 +
                                     [rc_op(0, RC_GETCAP_HANDLES, 0)])
    seeds["four-sessions"] = b"".join([rc_op(0, RC_START_SESSION, 12, 1)] * 4 +
                                      [rc_op(0, RC_POLICY_DIGEST, POOL)])
    seeds["context-across"] = b"".join([
        rc_op(0, RC_CREATE_PRIMARY, 1 << 2), rc_op(0, RC_CONTEXT_SAVE, POOL),
        rc_op(1, RC_CONTEXT_LOAD, 0), rc_op(1, RC_READ_PUBLIC, POOL1),
        rc_op(0, RC_FLUSH, POOL), rc_op(0, RC_GETCAP_HANDLES, 0),
        rc_op(1, RC_GETCAP_HANDLES, 0)])
    seeds["sequence"] = b"".join([
        rc_op(0, RC_HASH_SEQUENCE), rc_op(0, RC_SEQUENCE_UPDATE, POOL),
        rc_op(1, RC_SEQUENCE_UPDATE, POOL), rc_op(0, RC_CONTEXT_SAVE, POOL)])
    seeds["child"] = b"".join([
        rc_op(0, RC_CREATE_PRIMARY, 2 << 2), rc_op(0, RC_CREATE_LOADED, POOL, 0),
        rc_op(0, RC_CREATE_LOADED, POOL, 1), rc_op(0, RC_GETCAP_HANDLES, 0)])
    seeds["ecc-parent"] = b"".join([
        rc_op(2, RC_CREATE_PRIMARY, 3 << 2), rc_op(2, RC_CREATE_LOADED, POOL, 0)])
    seeds["session-flush-across"] = b"".join([
        rc_op(0, RC_START_SESSION, 12, 0), rc_op(1, RC_FLUSH, POOL),
        rc_op(0, RC_POLICY_DIGEST, POOL), rc_op(0, RC_GETCAP_HANDLES, 2)])
    seeds["session-save-own"] = b"".join([
        rc_op(3, RC_START_SESSION, 12, 1), rc_op(3, RC_CONTEXT_SAVE, POOL),
        rc_op(3, RC_CONTEXT_LOAD, 0), rc_op(3, RC_CLOSE), rc_op(2, RC_GETCAP_HANDLES, 3)])
    seeds["bound-session"] = b"".join([
        rc_op(0, RC_CREATE_PRIMARY, 0), rc_op(0, RC_START_SESSION, POOL, 0),
        rc_op(1, RC_START_SESSION, POOL, 0)])
    # OP_ADMIN's byte: 0 Clear, 1-3 owner/endorsement/platform off, 4 ChangePPS,
    # 28 ChangeEPS, 23 EvictControl to 0x81000001 (b % 6 == 5, b >> 4 == 1).
    seeds["wedge-clear"] = b"".join([
        rc_op(0, RC_CREATE_PRIMARY, 1 << 2), rc_op(0, RC_START_SESSION, 12, 0),
        rc_op(1, RC_ADMIN, 0), rc_op(0, RC_GETCAP_HANDLES, 0), rc_op(0, RC_READ_PUBLIC, 0)])
    seeds["wedge-eps"] = b"".join([
        rc_op(0, RC_CREATE_PRIMARY, 1 | 1 << 2), rc_op(1, RC_ADMIN, 28),
        rc_op(0, RC_GETCAP_HANDLES, 0), rc_op(0, RC_CLOSE), rc_op(0, RC_GETCAP_HANDLES, 0)])
    seeds["hierarchy-off"] = b"".join([
        rc_op(0, RC_CREATE_PRIMARY, 0), rc_op(2, RC_ADMIN, 1), rc_op(0, RC_CREATE_PRIMARY, 0),
        rc_op(2, RC_ADMIN, 3), rc_op(0, RC_GETCAP_HANDLES, 0)])
    seeds["evict"] = b"".join([
        rc_op(0, RC_CREATE_PRIMARY, 2 << 2), rc_op(0, RC_ADMIN, 23, POOL),
        rc_op(1, RC_GETCAP_HANDLES, 4), rc_op(1, RC_ADMIN, 4)])
    gr = cmd(0x17B, params=u16(8))
    seeds["malformed"] = b"".join([
        rc_raw(0, gr[:5]), rc_raw(0, gr[:2] + u32(0) + gr[6:]),
        rc_raw(0, gr[:2] + u32(13) + gr[6:]), rc_raw(0, gr + b"\xde\xad"),
        rc_raw(0, cmd(0x1FF)), rc_raw(0, cmd(0x165, [0x80FFFFFF])),
        rc_raw(0, cmd(0x173, [0x80000000])), rc_raw(0, cmd(0x173)[:12]),
        rc_op(0, RC_RAW) + u16(4097) + cmd(0x17B, params=b"\0" * 4087)])
    return seeds


# fuzz-rm-response
(RS_RAW, RS_RAW_PATH, RS_CLOSE, RS_CREATE_PRIMARY, RS_LOAD, RS_HASH_SEQUENCE,
 RS_START_SESSION, RS_FLUSH, RS_CONTEXT_SAVE, RS_CONTEXT_LOAD, RS_GETCAP_HANDLES,
 RS_READ_PUBLIC, RS_SEQUENCE_UPDATE, RS_POLICY_DIGEST, RS_GET_RANDOM, RS_VENDOR) = range(16)


def rs_op(space, op, *args):
    return bytes([op * 3 + space]) + bytes(args)


def rm_response_seed(ops, tpm=b"", options=0x0A, fake=0x0F):
    ops = b"".join(ops)
    return bytes([options, fake]) + u16(len(ops)) + ops + tpm


def rm_response_seeds():
    objs = [rs_op(0, RS_CREATE_PRIMARY, 10), rs_op(1, RS_CREATE_PRIMARY, 10),
            rs_op(0, RS_START_SESSION, 11, 11, 1), rs_op(0, RS_CONTEXT_SAVE, POOL),
            rs_op(1, RS_CONTEXT_LOAD, 0), rs_op(0, RS_GETCAP_HANDLES, 0),
            rs_op(1, RS_GETCAP_HANDLES, 0), rs_op(0, RS_POLICY_DIGEST, POOL1),
            rs_op(1, RS_FLUSH, POOL), rs_op(0, RS_CLOSE)]
    seq = [rs_op(2, RS_HASH_SEQUENCE), rs_op(2, RS_SEQUENCE_UPDATE, POOL),
           rs_op(2, RS_LOAD, POOL), rs_op(2, RS_READ_PUBLIC, POOL),
           rs_op(2, RS_GET_RANDOM), rs_op(2, RS_VENDOR), rs_op(2, RS_RAW_PATH) + u16(12) +
           cmd(0x17B, params=u16(8))]
    seeds = {
        "truthful": rm_response_seed(objs),
        "truthful-sequence": rm_response_seed(seq),
        "small-limits": rm_response_seed(objs, options=0x00),
        "context-bytes-64": rm_response_seed(objs, options=0x1A),
        "fake-one-slot": rm_response_seed(objs, fake=0x00),
        "cc-pages": rm_response_seed(seq, fake=0x1F),
        "no-h5-quirk": rm_response_seed([rs_op(0, RS_RAW) + u16(10) + cmd(0x173)], options=0x4A),
    }
    # Lies (control bytes: 0-2 truth, 3 length, 4 raw, 5 patch, 6 errno, 7 rc).
    seeds["lie-cap-count"] = rm_response_seed(objs, tpm=bytes([0x0D]) + u16(17) + u32(0x7FFFFFFF))
    seeds["lie-cap-short"] = rm_response_seed(objs, tpm=bytes([0x0B]) + u16(19))
    seeds["lie-new-handle"] = rm_response_seed(
        objs, tpm=bytes([0, 0x0D]) + u16(10) + u32(0x80000000))
    seeds["lie-session-handle"] = rm_response_seed(
        objs, tpm=bytes([0, 0, 0, 0, 0, 0x0D]) + u16(10) + u32(0x02000005))
    seeds["lie-save-truncated"] = rm_response_seed(objs, tpm=bytes([0, 0, 0, 0x0B]) + u16(40))
    seeds["lie-errno-each"] = rm_response_seed(objs, tpm=bytes([0, 0, 6, 0, 0x0E, 1, 6, 2]))
    seeds["lie-rc-retry"] = rm_response_seed(objs, tpm=bytes([0, 7]) + u32(0x922) +
                                             bytes([7]) + u32(0x901) + bytes([0x0F]) +
                                             u32(0x910))
    seeds["lie-raw"] = rm_response_seed(objs, tpm=bytes([0, 4]) + u16(14) +
                                        bytes.fromhex("8001 0000000e 00000000 80ffffff"))
    return seeds


# fuzz-cdev
(CD_OPEN, CD_CLOSE, CD_WRITE_RAW, CD_WRITE_CMD, CD_READ, CD_POLL, CD_TOGGLE, CD_WAIT,
 CD_WAIT_OPEN) = range(9)


def cd_op(f, op, *args):
    return bytes([op * 4 + f]) + bytes(args)


def cd_read(f, n):
    return cd_op(f, CD_READ) + u16(n)


def cdev_seeds(runs):
    gr = runs["getrandom"][-1][0]
    blocking = [cd_op(0, CD_WRITE_CMD, 0), cd_op(0, CD_POLL, 1), cd_read(0, 6), cd_read(0, 4),
                cd_read(0, 100), cd_read(0, 10), cd_op(0, CD_POLL, 0)]
    async_ = [cd_op(1, CD_TOGGLE), cd_op(1, CD_WRITE_CMD, 1), cd_op(1, CD_POLL, 1),
              cd_op(1, CD_WRITE_CMD, 0), cd_read(1, 4096), cd_op(1, CD_WRITE_CMD, 3),
              cd_read(1, 4096), cd_op(1, CD_CLOSE)]
    busy = [cd_op(2, CD_WRITE_CMD, 5), cd_op(2, CD_WRITE_CMD, 5), cd_read(2, 1),
            cd_op(2, CD_WRITE_CMD, 7), cd_read(2, 4096)]
    bad = [cd_op(3, CD_WRITE_RAW) + u16(5) + gr[:5],
           cd_op(3, CD_WRITE_RAW) + u16(len(gr)) + gr[:2] + u32(len(gr) + 1) + gr[6:],
           cd_op(3, CD_WRITE_RAW) + u16(len(gr)) + gr[:2] + u32(0) + gr[6:],
           cd_op(3, CD_WRITE_RAW) + u16(4097) + gr + b"\0" * (4097 - len(gr)),
           cd_op(3, CD_WRITE_CMD, 4), cd_op(3, CD_WRITE_CMD, 6)]
    spaces = [cd_op(0, CD_WRITE_CMD, 1), cd_read(0, 4096), cd_op(1, CD_WRITE_CMD, 6),
              cd_read(1, 4096), cd_op(0, CD_CLOSE), cd_op(1, CD_WAIT_OPEN, 1)]
    return {
        "blocking": bytes([0x00]) + b"".join(blocking),
        "async": bytes([0x00]) + b"".join(async_),
        "busy": bytes([0x00]) + b"".join(busy),
        "bad-writes": bytes([0x00]) + b"".join(bad),
        "two-files": bytes([0x00]) + b"".join(spaces),
        "raw-exclusive": bytes([0x01]) + b"".join([cd_op(0, CD_OPEN), cd_op(1, CD_OPEN)] +
                                                  blocking + [cd_op(0, CD_CLOSE),
                                                              cd_op(1, CD_OPEN)]),
        "timeout-1ms": bytes([0x02]) + b"".join([cd_op(0, CD_WRITE_CMD, 0), cd_op(0, CD_POLL, 1),
                                                 cd_op(0, CD_WAIT, 3), cd_read(0, 4096)] +
                                                async_),
        "timeout-5ms": bytes([0x04]) + b"".join(async_ + [cd_op(1, CD_WAIT, 3)] + blocking),
        "no-poll-ops": bytes([0x08]) + b"".join(async_),
        "fault-rc": bytes([0xA0, 4, 0, 0]) + b"".join(blocking + busy),
        "fault-errno": bytes([0xB0, 0, 2, 1]) + b"".join(spaces + async_),
        "fault-save": bytes([0xC0, 0, 0, 1]) + b"".join(spaces),
        "fault-load": bytes([0xD0, 0, 0, 0]) + b"".join(spaces),
        "fault-short": bytes([0xE0, 0, 3, 0]) + b"".join(blocking + async_),
    }


def wire_seeds(runs):
    seeds = {}
    seen = set()
    for name, pairs in runs.items():
        for i, (c, r) in enumerate(pairs):
            cc = struct.unpack_from(">I", c, 6)[0]
            if cc in seen or len(r) > 1024:
                continue
            seen.add(cc)
            seeds["rsp-%s-%03x" % (name, cc & 0xfff)] = r
            if cc == 0x162 and len(r) > 10:  # ContextSave: the context alone
                seeds["context-%s" % name] = r[10:]
    for text in ["libtpms", "libtpms:/var/lib/tpmrm", "device:/dev/tpm0",
                 "swtpm:unix:/run/swtpm.sock", "swtpm:localhost:2321", "swtpm:[::1]:2321"]:
        seeds["spec-" + text.split(":")[0] + "-%d" % len(text)] = text.encode()
    return seeds


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.unlink(os.path.join(d, f))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)
    print("%s: %d seeds, %d bytes" % (target, len(seeds), sum(map(len, seeds.values()))))


def main():
    runs = capture()
    write("fuzz-wire", wire_seeds(runs))
    write("fuzz-rm-command", rm_command_seeds(runs))
    write("fuzz-rm-response", rm_response_seeds())
    write("fuzz-cdev", cdev_seeds(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
