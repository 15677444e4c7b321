"""Bad and crafted files: image and IDX decompression bombs are refused
before they are decoded, and unreadable data files say what is wrong."""

import gzip
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from skalltransfer import SourceData


def _peak_mb_of(code):
    """Peak resident memory (MB) of a fresh interpreter running ``code``, its
    stderr and its stdout.

    The peak is the child's own high-water mark (``VmHWM``): ``ru_maxrss``
    would not do, as Linux carries it over ``exec`` from the forking process,
    here pytest, which has just written the test's large files.
    """
    if not os.path.exists("/proc/self/status"):
        pytest.skip("the peak memory is read from /proc (Linux)")
    script = (
        code
        + "\nwith open('/proc/self/status') as f:\n"
        + "    status = dict(line.split(':', 1) for line in f)\n"
        + "print(int(status['VmHWM'].split()[0]) // 1024)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True
    )
    lines = result.stdout.strip().splitlines()
    return (int(lines[-1]) if lines else None), result.stderr, result.stdout


def test_a_png_bomb_is_refused_before_it_is_decoded(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    # 12,000 x 12,000 pixels of one colour: a few hundred KB as a PNG, above
    # Pillow's pixel limit but below its own error threshold.
    folder = tmp_path / "bomb" / "a"
    folder.mkdir(parents=True)
    side = 12_000
    PIL.new("L", (side, side)).save(folder / "x.png", optimize=True)
    PIL.new("L", (8, 8)).save(tmp_path / "bomb" / "a" / "y.png")
    (tmp_path / "bomb" / "b").mkdir()
    PIL.new("L", (8, 8)).save(tmp_path / "bomb" / "b" / "z.png")
    code = (
        "from skalltransfer.datasets import load_image_folder\n"
        "try:\n"
        f"    load_image_folder({str(tmp_path / 'bomb')!r})\n"
        "except ValueError as e:\n"
        "    print('REFUSED', e)\n"
    )
    peak, err, out = _peak_mb_of(code)
    assert "REFUSED" in out, err
    assert "x.png" in out and "MAX_IMAGE_PIXELS" in out
    assert peak < 300, f"peak {peak} MB"


def _idx_bytes(n, rows, cols):
    return struct.pack(">BBBBIII", 0, 0, 0x08, 3, n, rows, cols)


def test_a_gzip_idx_bomb_is_refused_without_decompressing_it(tmp_path):
    path = tmp_path / "bomb-idx3-ubyte.gz"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(_idx_bytes(10, 4, 4) + bytes(160))
        zeros = bytes(2**24)
        for _ in range(2**31 // 2**24):  # 2 GB of trailing zeros
            f.write(zeros)
    code = (
        "from skalltransfer.datasets import load_idx\n"
        "try:\n"
        f"    load_idx({str(path)!r})\n"
        "except ValueError as e:\n"
        "    print('REFUSED', e)\n"
    )
    peak, err, out = _peak_mb_of(code)
    assert "REFUSED" in out and "trailing" in out, err
    assert peak < 300, f"peak {peak} MB"


def test_a_gzip_idx_file_of_the_declared_size_still_loads(tmp_path):
    from skalltransfer.datasets import load_idx

    path = tmp_path / "ok-idx3-ubyte.gz"
    pixels = np.arange(160, dtype=np.uint8)
    with gzip.open(path, "wb") as f:
        f.write(_idx_bytes(10, 4, 4) + pixels.tobytes())
    # load_idx returns (X, y); y is None without a labels file.
    X, y = load_idx(path)
    assert X.shape == (10, 16) and y is None
    np.testing.assert_array_equal(X.ravel(), pixels / np.float32(255))


def test_source_data_from_a_missing_file_or_a_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        SourceData.from_npz(tmp_path / "missing.npz")
    with pytest.raises((IsADirectoryError, ValueError), match="folder|directory"):
        SourceData.from_npz(tmp_path)


def test_a_medmnist_file_with_object_labels_says_so(tmp_path):
    from skalltransfer.datasets import load_medmnist

    path = tmp_path / "pneumoniamnist.npz"
    labels = np.array([["a"], ["b"]], dtype=object)
    np.savez(
        path,
        train_images=np.zeros((2, 28, 28), dtype=np.uint8),
        train_labels=labels,
    )
    with pytest.raises(ValueError, match="object") as info:
        load_medmnist(path)
    assert "corrupt" not in str(info.value)


def test_an_image_just_over_the_pixel_limit_is_refused_too(tmp_path, monkeypatch):
    # Between MAX_IMAGE_PIXELS and twice that, Pillow itself only warns.
    from PIL import Image

    from skalltransfer.datasets import load_images

    Image.new("L", (30, 30), 128).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 600)
    with pytest.raises(ValueError, match="big.png") as info:
        load_images(tmp_path / "big.png")
    assert "900 pixels" in str(info.value) and "MAX_IMAGE_PIXELS" in str(info.value)
    assert "corrupt" not in str(info.value)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 900)
    X, _ = load_images(tmp_path / "big.png", size=None)
    assert X.shape == (1, 900)


def test_a_gzip_idx_file_with_one_trailing_byte_says_so(tmp_path):
    from skalltransfer.datasets import load_idx

    path = tmp_path / "long-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(_idx_bytes(10, 4, 4) + bytes(161))
    with pytest.raises(ValueError, match="unexpected trailing bytes"):
        load_idx(path)


def test_an_idx_file_declaring_more_than_it_holds_is_truncated(tmp_path):
    # The declared size is not allocated up front: a header declaring
    # gigabytes over a few bytes of data is reported as truncated.
    from skalltransfer.datasets import load_idx

    for gz in (False, True):
        path = tmp_path / f"huge-idx3-ubyte{'.gz' if gz else ''}"
        content = _idx_bytes(2**31, 28, 28) + bytes(100)
        path.write_bytes(gzip.compress(content) if gz else content)
        with pytest.raises(ValueError, match="is truncated"):
            load_idx(path)


def test_a_medmnist_folder_or_non_array_member_says_so(tmp_path):
    import zipfile

    from skalltransfer.datasets import load_medmnist

    with pytest.raises(IsADirectoryError, match="folder"):
        load_medmnist(tmp_path)
    # Members that are not .npy arrays come back from NumPy as raw bytes.
    path = tmp_path / "raw.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("train_images", b"abc")
        z.writestr("train_labels", b"abc")
    with pytest.raises(ValueError, match="not a NumPy array"):
        load_medmnist(path)


def test_a_huge_resize_is_refused_before_any_allocation(tmp_path):
    from skalltransfer.datasets import load_image_folder

    with pytest.raises(ValueError, match="pixels per image"):
        load_image_folder(tmp_path, size=(100_000, 100_000))


def test_a_medmnist_member_declaring_more_than_it_holds_is_not_read(tmp_path):
    import zipfile

    from skalltransfer.datasets import load_medmnist

    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (10, 28, 28), }"
    header = header.replace("10, 28", f"{10**12}, 28")
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
    path = tmp_path / "bloodmnist.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train_images.npy", npy + bytes(100))
        buffer = __import__("io").BytesIO()
        np.save(buffer, np.zeros((10, 1), dtype=np.uint8))
        archive.writestr("train_labels.npy", buffer.getvalue())
    with pytest.raises(ValueError, match="declares an array"):
        load_medmnist(path)


def test_loader_arguments_of_the_wrong_kind_say_so(tmp_path):
    from skalltransfer.datasets import load_image_folder, make_target_task

    for extensions in (None, 5):
        with pytest.raises(ValueError, match="extensions"):
            load_image_folder(tmp_path, extensions=extensions)
    X, y = np.zeros((20, 4)), np.arange(20) % 2
    with pytest.raises(ValueError, match="classes"):
        make_target_task(X, y, classes=5, n_per_class=5)


def _npz_with_x_member(path, header_shape, payload):
    """An .npz whose X.npy header says ``header_shape`` (uint8) and whose
    data is ``payload`` (bytes, or an iterable of byte blocks)."""
    import io
    import zipfile

    header = f"{{'descr': '|u1', 'fortran_order': False, 'shape': {header_shape!r}, }}"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("X.npy", "w", force_zip64=True) as member:
            member.write(npy)
            for block in [payload] if isinstance(payload, bytes) else payload:
                member.write(block)
        buffer = io.BytesIO()
        np.save(buffer, np.arange(10) % 2)
        archive.writestr("y.npy", buffer.getvalue())
    return path


def test_a_source_npz_bomb_is_refused_before_it_is_decompressed(tmp_path):
    # 64 MB of zeros deflate to about 64 KB; SourceData.from_npz (and the
    # CLI's --source X.npz) used to inflate it whole.
    bomb = _npz_with_x_member(
        tmp_path / "bomb.npz", (1 << 16, 1024), (bytes(1 << 20) for _ in range(64))
    )
    with pytest.raises(ValueError, match="decompression bomb"):
        SourceData.from_npz(bomb)
    declared = _npz_with_x_member(tmp_path / "big.npz", (10**9, 1000), bytes(100))
    with pytest.raises(ValueError, match="declares an array"):
        SourceData.from_npz(declared)


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (np.zeros((4, 0, 0), np.uint8), np.zeros((4, 1), np.int64), "without pixels"),
        (np.zeros((4, 0, 5), np.uint8), np.zeros((4, 1), np.int64), "without pixels"),
        (
            np.zeros((4, 4, 4), np.uint8),
            np.full((4, 1), 2**64 - 1, np.uint64),  # wrapped to -1 before
            "outside the range of int64",
        ),
    ],
)
def test_a_medmnist_file_of_impossible_images_or_labels_says_so(
    images, labels, message, tmp_path
):
    from skalltransfer.datasets import load_medmnist

    path = tmp_path / "pathmnist.npz"
    np.savez(path, train_images=images, train_labels=labels)
    with pytest.raises(ValueError, match=message):
        load_medmnist(path, size=(4, 4))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_given_as_an_image_is_refused_not_waited_on(tmp_path):
    # Opening a FIFO blocks until a writer comes: predict hung on one.
    from skalltransfer.datasets import load_images

    pipe = tmp_path / "scan.png"
    os.mkfifo(pipe)
    with pytest.raises(ValueError, match="neither an image file nor a directory"):
        load_images(pipe)
