#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs (tests/fuzz/inputs/<target>/seeds/), small valid files made by
hand so that the mutations start inside each format. Pure Python (no numpy, no imaging library); the
JPEGs are taken from a folder of real JPEG files when one is given. The committed seeds were written by:
    python3 tests/fuzz/make_seeds.py [JPEG_DIR]   (JPEG_DIR: data/cifar10-jpg/train/airplane)
The database seed is written by scripts/fuzz.sh seeds (it runs dqbench).
"""
import gzip
import os
import struct
import sys
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inputs")
SEP = b"\n--8<--\n"  # fuzz_target.h kPartSeparator


def put(target, name, data):
    d = os.path.join(ROOT, target, "seeds")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def npy(descr, shape, payload, version=1, fortran=False):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False", "".join("%d, " % s for s in shape) if len(shape) != 1 else "%d," % shape[0])
    lead = 10 if version == 1 else 12
    pad = (64 - (lead + len(header) + 1) % 64) % 64
    header = header + " " * pad + "\n"
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode() + payload


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, colour_type, bit_depth=8, palette=None):
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    row_bytes = (width * channels * bit_depth + 7) // 8
    raw = b""
    for y in range(height):
        raw += b"\x00" + bytes((x * 37 + y * 11) % 256 for x in range(row_bytes))
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))
    if palette:
        out += png_chunk(b"PLTE", palette)
    return out + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def idx(shape, payload):
    return bytes([0, 0, 8, len(shape)]) + b"".join(struct.pack(">I", s) for s in shape) + payload


def main():
    jpegs = []
    if len(sys.argv) > 1:
        folder = sys.argv[1]
        for name in sorted(os.listdir(folder))[:3]:
            with open(os.path.join(folder, name), "rb") as f:
                jpegs.append(f.read())
    pngs = [png(8, 6, 2), png(5, 7, 0), png(4, 4, 6), png(3, 3, 3, 8, bytes(range(12))), png(4, 2, 2, 16), png(9, 3, 4)]

    # npy: the dtypes and layouts the reader knows, and two it refuses.
    put("npy", "f4_2x3.npy", npy("<f4", (2, 3), struct.pack("<6f", *range(6))))
    put("npy", "i8_5.npy", npy("<i8", (5,), struct.pack("<5q", 4, 0, 3, 1, 2)))
    put("npy", "u1_scalar.npy", npy("|u1", (), b"\x07"))
    put("npy", "f8_v2.npy", npy("<f8", (1, 2), struct.pack("<2d", 0.5, -1.0), version=2))
    put("npy", "i4_empty.npy", npy("<i4", (0, 3), b""))
    put("npy", "fortran.npy", npy("<f4", (2, 2), struct.pack("<4f", 1, 2, 3, 4), fortran=True))
    put("npy", "big_endian.npy", npy(">f4", (2,), struct.pack(">2f", 1, 2)))

    # external_outputs: selection.npy [+ keep.npy] for classes {0,2,4,6}, {1,3,5}, {8,9}.
    put("external_outputs", "selection_only", npy("<i8", (3,), struct.pack("<3q", 4, 1, 9)))
    put("external_outputs", "with_keep",
        npy("<i8", (3,), struct.pack("<3q", 0, 3, 8)) + SEP + npy("<f4", (3,), struct.pack("<3f", 1.0, 0.5, 0.75)))

    # method_spec: methods and datasets as the YAML grid and the command line write them.
    for i, spec in enumerate(["random", "bgfdq(k=20,theta=0.25)", "bgfdq(knn=clustered,nlist=16,spd=on)",
                              "dq(mode=streaming)", "adq(theta=0.25)", "dqas_approx", "external(command=python3 x.py --k 3,embeddings=false)",
                              "image_folder(path=data/x,image_size=32,channels=1)", "synthetic_embeddings(classes=3,per_class=4,dim=2)"]):
        put("method_spec", "spec%d" % i, spec)

    # experiment_yaml: a small matrix, and one with every section.
    put("experiment_yaml", "small.yaml", """name: s
database: s.db
datasets:
  syn: {kind: synthetic_embeddings, classes: 2, per_class: 20, dim: 4, clusters_per_class: 2}
extractor: {kind: none}
train: none
grid:
  method: [random, "bgfdq(k=5)", {name: dq, mode: streaming}]
  ratio: [0.1, 0.5]
  seed: [0, 1]
""")
    put("experiment_yaml", "full.yaml", """name: full
description: every section
database: results/full.db
cache_dir: cache
memory_budget: 2GiB
timeout: 30m
threads: 1
datasets:
  fm: {kind: fashion_mnist, path: /usr/share/datasets/fashion-mnist, max_per_class: 10}
  img: {kind: image_folder, path: data/cifar10-jpg, image_size: 16}
extractor: {kind: proxy, arch: small_cnn, epochs: 1, batch_size: 64, lr: 0.05}
train: {preset: cpu_small_cnn, epochs: 1}
patches: {drop: gradcampp, reconstruct: mean, cam_target: predicted, batch: 64}
grid:
  dataset: [fm, img]
  method: [random, "bgfdq(spd=on)", "bgfdq(k=10,theta=0.5)", "adq(theta=0.25)"]
  ratio: [0.1]
  seed: [0]
""")

    # idx: one plain file, one gzipped, and the four files of fashion_mnist (2 train, 1 test image).
    images = idx((2, 3, 3), bytes(range(18)))
    put("idx", "plain.idx", images)
    put("idx", "gzipped.idx", gzip.compress(images, mtime=0))
    put("idx", "fashion_mnist", SEP.join([gzip.compress(idx((2, 4, 4), bytes(range(32))), mtime=0),
                                          gzip.compress(idx((2,), b"\x03\x07"), mtime=0), idx((1, 4, 4), bytes(16)),
                                          idx((1,), b"\x09")]))

    # cifar_binary: CIFAR-10 (first byte even), one record per batch; CIFAR-100 (first byte odd).
    def rec(labels, k):
        return bytes(labels) + bytes((i * k) % 256 for i in range(3072))
    names10 = "\n".join("class%d" % i for i in range(10)) + "\n"
    put("cifar_binary", "cifar10", b"\x00" + SEP.join([rec([b], b + 1) for b in range(5)] + [rec([9], 7), names10.encode()]))
    fine = "\n".join("fine%d" % i for i in range(100)) + "\n"
    coarse = "\n".join("coarse%d" % i for i in range(20)) + "\n"
    put("cifar_binary", "cifar100", b"\x01" + SEP.join([rec([3, 42], 3), rec([19, 99], 5), fine.encode(), coarse.encode()]))

    # image_decode: PNG colour types and depths, and real JPEGs.
    for i, p in enumerate(pngs):
        put("image_decode", "png%d" % i, b"\x00" + p)
    for i, j in enumerate(jpegs):
        put("image_decode", "jpeg%d" % i, bytes([i * 5 + 1]) + j)  # min_side 1 and 6: DCT scaling on

    # image_folder: train/test x two classes; options byte 0 (RGB, crop, area), 0x59 (grey, nearest, skip).
    files = (jpegs + pngs)[:4] if jpegs else pngs[:4]
    put("image_folder", "two_classes", b"\x00" + SEP.join(files))
    put("image_folder", "grey_nearest_skip", b"\x59" + SEP.join(pngs[:4]))

    # fakeddit: rows a..d with images, one without (hasImage False), one whose file is missing.
    header = "\tid\thasImage\timage_url\ttitle\t2_way_label\t3_way_label\t6_way_label\n"
    train = header + "0\ta\tTrue\thttp://x/a\t\"quoted\ttitle\"\t0\t1\t5\n1\tb\tTrue\thttp://x/b\tt\t1\t0\t0\n" \
        "2\tz\tFalse\t\tno image\t1\t2\t3\n3\tm\tTrue\thttp://x/m\tmissing file\t0\t0\t1\n"
    test = header + "0\tc\tTrue\thttp://x/c\tt\t1.0\t1\t2\n1\td\tTrue\thttp://x/d\tt\t0\t2\t4\n"
    put("fakeddit", "four_rows", SEP.join([train.encode(), test.encode()] + files))


if __name__ == "__main__":
    main()
