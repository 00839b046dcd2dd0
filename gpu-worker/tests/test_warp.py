"""The warp engine: the bilinear mesh, where the garment lands, the blend, and the mask built from landmarks."""

from __future__ import annotations

import io

import numpy as np
import pytest
import redis
from PIL import Image, ImageDraw

from proteus_worker.engines.base import EngineJob, JobFailed, Landmark, Shape
from proteus_worker.engines.landmarks import torso
from proteus_worker.engines.mask import person_mask
from proteus_worker.engines.mesh import COLLAR_UP, HIP_OUT, SHOULDER_OUT, bilinear_point, garment_quad, inverse_bilinear
from proteus_worker.engines.registry import Engines
from proteus_worker.engines.warp import WarpEngine, dress
from tests.conftest import S3Server
from tests.fakes import FakeEngine
from tests.runtime_support import make_weaver, turn_until
from tests.tryon import Objects, enqueue, garment_png, jpeg, lifecycle, of_type, pose, request

SKIN = (200, 180, 160)
BLUE = (20, 40, 200)


def landmarks(**kwargs: object) -> list[Landmark]:
    return [Landmark(p["x"], p["y"], p.get("visibility")) for p in pose(**kwargs)]  # type: ignore[arg-type]


def person(width: int = 300, height: int = 400) -> Image.Image:
    return Image.new("RGB", (width, height), SKIN)


def blue_shirt(width: int = 200, height: int = 240, margin: int = 20) -> Image.Image:
    shirt = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(shirt).rectangle((margin, margin, width - margin - 1, height - margin - 1), fill=(*BLUE, 255))
    return shirt


@pytest.mark.parametrize(
    "quad",
    [
        [[0, 0], [100, 0], [100, 100], [0, 100]],  # a square: the linear case
        [[10, 20], [210, 35], [190, 300], [30, 280]],  # a general convex quad
        [[0, 0], [100, 0], [80, 100], [20, 100]],  # a trapezoid: top and bottom parallel
    ],
)
def test_inverse_bilinear_undoes_the_forward_map(quad: list[list[float]]) -> None:
    q = np.array(quad, dtype=np.float64)
    rng = np.random.default_rng(3)
    u, v = rng.random(500), rng.random(500)
    x, y = bilinear_point(q, u, v)
    back_u, back_v = inverse_bilinear(x, y, q)
    assert np.allclose(back_u, u, atol=1e-9) and np.allclose(back_v, v, atol=1e-9)
    outside_u, outside_v = inverse_bilinear(np.array([-50.0, 500.0]), np.array([-50.0, 500.0]), q)
    assert not (((0 <= outside_u) & (outside_u <= 1)) & ((0 <= outside_v) & (outside_v <= 1))).any()


def test_the_quad_follows_the_documented_margins() -> None:
    t = torso(landmarks(), 300, 400)
    quad = garment_quad(t)
    shoulder_width = 0.3 * 300
    down = 0.4 * 400
    assert quad[0] == pytest.approx([0.35 * 300 - SHOULDER_OUT * shoulder_width, 0.3 * 400 - COLLAR_UP * down])
    assert quad[1] == pytest.approx([0.65 * 300 + SHOULDER_OUT * shoulder_width, 0.3 * 400 - COLLAR_UP * down])
    assert quad[2][0] == pytest.approx(0.6 * 300 + HIP_OUT * 0.2 * 300)
    assert quad[3][0] == pytest.approx(0.4 * 300 - HIP_OUT * 0.2 * 300)


def test_the_garment_lands_on_the_torso_and_nowhere_else() -> None:
    shape = WarpEngine().shape_of(300, 400, None, False)
    out = np.asarray(dress(person(), blue_shirt(), landmarks(), shape))
    assert out.shape == (400, 300, 3)
    assert tuple(out[200, 150]) == BLUE  # the middle of the torso
    assert tuple(out[120 + 5, 150]) == BLUE  # just below the shoulder line (the collar is above it)
    assert tuple(out[20, 150]) == SKIN  # the head
    assert tuple(out[390, 150]) == SKIN  # the legs
    assert tuple(out[200, 5]) == SKIN and tuple(out[200, 295]) == SKIN  # beside the body
    # the shirt's transparent margin was cropped away: its visible box fills the quad to the edges
    quad = garment_quad(torso(landmarks(), 300, 400))
    top_mid = (quad[0] + quad[1]) / 2
    assert tuple(out[int(top_mid[1]) + 2, int(top_mid[0])]) == BLUE


def test_half_transparent_garments_blend() -> None:
    shirt = Image.new("RGBA", (100, 100), (*BLUE, 128))
    out = np.asarray(dress(person(), shirt, landmarks(), Shape(300, 400, 0)))
    expected = [round(s * (1 - 128 / 255) + b * 128 / 255) for s, b in zip(SKIN, BLUE, strict=True)]
    assert np.abs(out[200, 150].astype(int) - expected).max() <= 1


def test_a_garment_without_alpha_loses_its_plain_background() -> None:
    photo = Image.new("RGB", (200, 240), (250, 250, 250))
    ImageDraw.Draw(photo).rectangle((40, 40, 160, 200), fill=BLUE)
    out = np.asarray(dress(person(), photo, landmarks(), Shape(300, 400, 0)))
    assert tuple(out[200, 150]) == BLUE
    assert tuple(out[20, 150]) == SKIN


def test_the_photo_is_scaled_to_the_shape() -> None:
    engine = WarpEngine()
    assert engine.shape_of(3000, 4000, 50, True) == Shape(768, 1024, 0)
    assert engine.shape_of(600, 400, None, False) == Shape(600, 400, 0)
    out = dress(person(3000, 4000), blue_shirt(), landmarks(), engine.shape_of(3000, 4000, None, False))
    assert out.size == (768, 1024) and out.getpixel((384, 512)) == BLUE


def test_run_batch_isolates_a_bad_job() -> None:
    engine = WarpEngine()
    shape = Shape(300, 400, 0)
    good = EngineJob("a", person(), blue_shirt(), None, landmarks(), 1, 0)
    bad = EngineJob("b", person(), blue_shirt(), None, None, 2, 0)
    [first, second] = engine.run_batch([good, bad], shape, lambda step, steps: None)
    assert isinstance(first, Image.Image) and first.size == (300, 400)
    assert isinstance(second, JobFailed) and "no pose landmarks" in str(second)


def test_the_mask_covers_torso_and_arms_and_keeps_head_and_legs() -> None:
    mask = np.asarray(person_mask(landmarks(), 300, 400))
    assert mask.shape == (400, 300) and set(np.unique(mask)) <= {0, 255}
    assert mask[200, 150] == 255  # torso
    assert mask[int(0.5 * 400), int(0.30 * 300)] == 255  # the right elbow (image left)
    assert mask[int(0.68 * 400), int(0.71 * 300)] == 255  # the left wrist
    assert mask[int(0.1 * 400), 150] == 0 and mask[395, 150] == 0  # head, feet


def test_the_mask_leaves_out_unseen_arms() -> None:
    points = landmarks()
    hidden = [Landmark(p.x, p.y, 0.1) if i in (13, 15) else p for i, p in enumerate(points)]
    mask = np.asarray(person_mask(hidden, 300, 400))
    assert mask[int(0.68 * 400), int(0.71 * 300)] == 0
    assert mask[int(0.68 * 400), int(0.29 * 300)] == 255


def test_the_mask_needs_a_torso() -> None:
    with pytest.raises(JobFailed, match="no pose landmarks"):
        person_mask(None, 300, 400)
    with pytest.raises(JobFailed, match="33 expected"):
        person_mask(landmarks()[:20], 300, 400)
    with pytest.raises(JobFailed, match="less than 0.5%"):
        person_mask(landmarks(shoulders=(0.49, 0.5), hips=(0.49, 0.5), hip_y=0.31), 300, 400)


def test_a_warp_job_runs_through_the_worker(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str) -> None:
    objects = Objects(s3_server, bucket)
    warp = WarpEngine()
    weaver = make_weaver(redis_url, s3_server, bucket, FakeEngine(), engines=Engines(warp, {"warp": warp}))
    job = request(objects.person(jpeg(300, 400, SKIN)), objects.garment(garment_png(200, 240, (*BLUE, 255))), landmarks=pose())
    enqueue(r, job)
    turn_until(weaver, lambda: of_type(lifecycle(r), "completed"))
    [done] = of_type(lifecycle(r), "completed")
    assert (done["data"]["engine"], done["data"]["resolution"]) == ("warp", "300x400")
    result = Image.open(io.BytesIO(objects.get(done["data"]["resultKey"])))
    assert result.size == (300, 400)
    middle = np.asarray(result.convert("RGB"))[200, 150].astype(int)
    assert np.abs(middle - BLUE).max() <= 8  # through a JPEG person photo
