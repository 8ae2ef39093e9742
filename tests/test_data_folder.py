"""The `folder` loader: the three caption formats and every error path."""

import json

import numpy as np
import pytest
from PIL import Image

from unireps.data import load_dataset


def _png(path, size=(20, 12), colour=(200, 10, 10), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour if mode == "RGB" else colour + (128,)).save(path)
    return path


def _csv(folder, rows, header="image,caption"):
    (folder / "captions.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


@pytest.fixture
def pics(tmp_path):
    _png(tmp_path / "a.png")
    _png(tmp_path / "sub" / "b.png", size=(10, 30), colour=(0, 0, 255))
    _png(tmp_path / "c.png", mode="RGBA", colour=(0, 0, 0))
    return tmp_path


def test_csv_happy_path(pics):
    _csv(pics, ["c.png,\"half-transparent, black\",cat", "a.png,a red block,dog", "sub/b.png,a blue bar,cat"],
         header="image,caption,label")
    ds = load_dataset("folder", path=pics, image_size=16, keep_originals=True)
    assert ds.images.shape == (3, 16, 16, 3) and ds.images.dtype == np.uint8
    assert ds.captions == ["half-transparent, black", "a red block", "a blue bar"]
    assert ds.metadata["files"] == ["c.png", "a.png", "sub/b.png"] and ds.metadata["source"] == "captions.csv"
    assert ds.labels.tolist() == [0, 1, 0] and ds.metadata["label_names"] == ["cat", "dog"]
    assert ds.images[1, 8, 8].tolist() == [200, 10, 10] and ds.images[2, 8, 8].tolist() == [0, 0, 255]
    assert abs(int(ds.images[0, 8, 8, 0]) - 127) <= 2  # black at alpha 128 composited on white
    assert ds.metadata["originals"][2].shape == (30, 10, 3)
    assert load_dataset("folder", path=pics, image_size=16).content_hash == ds.content_hash
    sub = ds.subset([2])
    assert sub.metadata["files"] == ["sub/b.png"] and sub.metadata["originals"][0].shape == (30, 10, 3)


def test_jsonl_and_file_column(pics):
    lines = [json.dumps({"file": f, "caption": f"pic {f}"}) for f in ["a.png", "sub/b.png", "c.png"]]
    (pics / "captions.jsonl").write_text("\n".join(lines) + "\n\n")
    ds = load_dataset("folder", path=str(pics), image_size=8)
    assert ds.captions == ["pic a.png", "pic sub/b.png", "pic c.png"] and ds.labels is None


def test_txt_sidecars(pics):
    for stem, cap in [("a", "first"), ("sub/b", "second\n"), ("c", "third")]:
        (pics / f"{stem}.txt").write_text(cap)
    ds = load_dataset("folder", path=pics)
    assert ds.images.shape == (3, 224, 224, 3)
    assert ds.captions == ["first", "third", "second"]
    assert ds.metadata["files"] == ["a.png", "c.png", "sub/b.png"]


def test_missing_caption(pics):
    _csv(pics, ["a.png,red", "c.png,black"])
    with pytest.raises(ValueError, match=r"1 image\(s\).*no caption.*'sub/b.png'.*add a caption"):
        load_dataset("folder", path=pics)


def test_txt_missing_caption_and_orphan(pics):
    (pics / "a.png").with_suffix(".txt").write_text("red")
    with pytest.raises(ValueError, match="no caption.*'c.png'"):
        load_dataset("folder", path=pics)
    for name in ("c.txt", "sub/b.txt", "zz.txt"):
        (pics / name).write_text("caption")
    with pytest.raises(FileNotFoundError, match="'zz.txt' has no image"):
        load_dataset("folder", path=pics)


def test_caption_for_missing_image(pics):
    _csv(pics, ["a.png,red", "sub/b.png,blue", "c.png,black", "gone.png,nothing"])
    with pytest.raises(FileNotFoundError, match="row 5.*'gone.png'.*no such file"):
        load_dataset("folder", path=pics)


def test_duplicate_ids(pics):
    _csv(pics, ["a.png,red", "sub/b.png,blue", "c.png,black", "./a.png,again"])
    with pytest.raises(ValueError, match="duplicate id.*'a.png'.*row 2 and captions.csv row 5"):
        load_dataset("folder", path=pics)
    (pics / "captions.csv").unlink()
    _png(pics / "a.jpg")
    with pytest.raises(ValueError, match="duplicate id.*'a.jpg' and 'a.png'"):
        load_dataset("folder", path=pics)


def test_corrupt_and_truncated_images(pics):
    _csv(pics, ["a.png,red", "sub/b.png,blue", "c.png,black"])
    (pics / "c.png").write_bytes(b"this is not a png")
    with pytest.raises(ValueError, match=r"cannot read image .*c\.png.*corrupt"):
        load_dataset("folder", path=pics)
    data = (pics / "a.png").read_bytes()
    _png(pics / "c.png")
    (pics / "a.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cannot read image .*a\.png"):
        load_dataset("folder", path=pics)


def test_decompression_bomb(pics, monkeypatch):
    _csv(pics, ["a.png,red", "sub/b.png,blue", "c.png,black"])
    with pytest.raises(ValueError, match="a.png is larger than the 100-pixel limit.*decompression bombs"):
        load_dataset("folder", path=pics, max_pixels=100)
    for limit in (200, 100):  # PIL's own warning (> limit) and error (> 2 x limit)
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
        with pytest.raises(ValueError, match="decompression bombs"):
            load_dataset("folder", path=pics, max_pixels=10**9)


def test_folder_level_errors(tmp_path, pics):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("folder", path=tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images.*found"):
        load_dataset("folder", path=tmp_path / "empty")
    with pytest.raises(ValueError, match="no captions found.*captions.csv"):
        load_dataset("folder", path=pics)
    _csv(pics, ["a.png,red"])
    (pics / "captions.jsonl").write_text("")
    with pytest.raises(ValueError, match="both captions.csv and captions.jsonl"):
        load_dataset("folder", path=pics)
    (pics / "captions.csv").unlink()
    (pics / "captions.jsonl").write_text('{"image": "a.png", "caption": "x"}\n{oops\n')
    with pytest.raises(ValueError, match="captions.jsonl line 2: not valid JSON"):
        load_dataset("folder", path=pics)
    (pics / "captions.jsonl").unlink()
    _csv(pics, ["a.png,red"], header="picture,caption")
    with pytest.raises(ValueError, match=r"no image field; expected one of \['image', 'file'"):
        load_dataset("folder", path=pics)
    _csv(pics, ["a.png,", "sub/b.png,blue", "c.png,black"])
    with pytest.raises(ValueError, match="caption of 'a.png' is empty"):
        load_dataset("folder", path=pics)
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("folder", path=pics, image_size=2)
