"""The renderer's passes against an independent reference (trimesh ray
casting through the same pixel centres) and against Camera.project."""
from __future__ import annotations

import concurrent.futures
import threading

import numpy as np
import pytest
import trimesh
from scipy import ndimage

from posebooth.scene.camera import Camera, look_at
from posebooth.viewport.normals import vertex_normals
from posebooth.viewport.renderer import (ALL_PASSES, BACKGROUND_RGB, Renderer, RenderError,
                                         RenderMesh, is_closed_outward)

pytestmark = pytest.mark.gl

W, H = 160, 120




def _camera(width=W, height=H) -> Camera:
    # fx != fy and an off-centre principal point, set directly in K.
    K = np.array([[240.0, 0.0, 0.43 * width], [0.0, 255.0, 0.58 * height], [0.0, 0.0, 1.0]])
    return Camera(K=K, extrinsic=look_at([0.4, 0.5, 2.6], [0.0, 0.0, 0.0]), width=width,
                  height=height)


def _scene():
    """A smooth sphere (instance 1, part 5) partly hidden by a flat-faced box
    (instance 2, one part per triangle), at different depths."""
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.45)
    sphere.apply_translation([0.15, 0.05, -0.2])
    box = trimesh.creation.box(extents=[0.5, 0.4, 0.3])
    box.apply_transform(trimesh.transformations.rotation_matrix(0.5, [0.2, 1.0, 0.1]))
    box.apply_translation([-0.3, -0.1, 0.45])
    box.unmerge_vertices()  # flat faces: vertex normals = face normals
    box_labels = np.repeat(np.arange(len(box.faces)) * 2 % 24, 3).astype(np.uint8)
    meshes = [
        RenderMesh(sphere.vertices, sphere.faces, np.full(len(sphere.vertices), 5, np.uint8),
                   1, (0.9, 0.4, 0.3)),
        RenderMesh(box.vertices, box.faces, box_labels, 2, (0.3, 0.6, 0.9)),
    ]
    return sphere, box, meshes


def _raycast(camera: Camera, tms: list[trimesh.Trimesh]):
    """First hit through every pixel centre: (z, mesh index or -1, triangle
    index within the mesh), all (H, W)."""
    both = trimesh.util.concatenate(tms)
    j, i = np.meshgrid(np.arange(camera.width) + 0.5, np.arange(camera.height) + 0.5)
    pix = np.stack([j.ravel(), i.ravel(), np.ones(j.size)], 1)
    d_cam = pix @ np.linalg.inv(camera.K).T
    d_world = d_cam @ camera.extrinsic[:3, :3]  # R^T d
    origins = np.repeat(camera.position[None], len(d_world), 0)
    tri, ray, loc = trimesh.ray.ray_triangle.RayMeshIntersector(both).intersects_id(
        origins, d_world, multiple_hits=False, return_locations=True)
    shape = (camera.height, camera.width)
    z = np.zeros(j.size)
    z[ray] = camera.to_camera(loc)[:, 2]
    ends = np.cumsum([len(m.faces) for m in tms])
    which = np.full(j.size, -1)
    which[ray] = np.searchsorted(ends, tri, side="right")
    local = np.full(j.size, -1)
    local[ray] = tri - np.concatenate([[0], ends])[which[ray]]
    return z.reshape(shape), which.reshape(shape), local.reshape(shape)


@pytest.fixture(scope="module")
def scene_result(hr):
    sphere, box, meshes = _scene()
    cam = _camera()
    passes = hr.render(meshes, cam)
    return cam, sphere, box, meshes, passes, _raycast(cam, [sphere, box])


def _near_edge(labels: np.ndarray) -> np.ndarray:
    """Pixels within 1 px (3x3) of a change of label."""
    hi = ndimage.maximum_filter(labels, size=3)
    lo = ndimage.minimum_filter(labels, size=3)
    return hi != lo


def test_depth_matches_ray_casting(scene_result):
    cam, _, _, _, p, (z_ref, which, _) = scene_result
    assert p.depth.shape == (H, W) and p.depth.dtype == np.float32
    fg, fg_ref = p.depth > 0, which >= 0
    assert fg.sum() > 0.15 * W * H and (~fg).sum() > 0.15 * W * H
    mismatch = fg != fg_ref
    assert not (mismatch & ~_near_edge(fg.astype(np.int8))).any()
    both = fg & fg_ref & ~_near_edge(p.instance.astype(np.int16))
    err = np.abs(p.depth[both] - z_ref[both])
    assert np.median(err) < 1e-3
    assert np.percentile(err, 99) < 1e-3, err.max()
    assert (p.depth[~fg] == 0).all()


def test_instances_and_parts(scene_result):
    _, _, box, meshes, p, (_, which, tri) = scene_result
    assert p.instance.dtype == np.uint8 and p.parts.dtype == np.uint8
    assert set(np.unique(p.instance)) == {0, 1, 2}
    # Both meshes are visible and the nearer one wins where they overlap.
    assert (p.instance[~_near_edge(which)] == (which + 1)[~_near_edge(which)]).all()
    assert ((p.parts == 0) == (p.instance == 0)).all()
    assert (p.parts[p.instance == 1] == 6).all()
    on_box = ~_near_edge(which * 100_000 + tri) & (which == 1)  # off triangle edges
    face_labels = meshes[1].part_labels[box.faces[:, 0]]
    assert (p.parts[on_box] == face_labels[tri[on_box]] + 1).all()


def test_nearer_instance_wins_overlap(hr):
    _, _, meshes = _scene()
    cam = _camera()
    alone = [hr.render([m], cam, passes=("depth",)).depth for m in meshes]
    overlap = (alone[0] > 0) & (alone[1] > 0)
    assert overlap.sum() > 50
    p = hr.render(meshes, cam, passes=("instance", "depth"))
    nearer = np.where(alone[0] < alone[1], 1, 2)
    ok = overlap & (np.abs(alone[0] - alone[1]) > 1e-3)
    assert (p.instance[ok] == nearer[ok]).all()
    assert np.allclose(p.depth[overlap], np.minimum(alone[0], alone[1])[overlap], atol=1e-6)


def test_normals(scene_result):
    cam, sphere, box, _, p, (_, which, tri) = scene_result
    fg = p.instance > 0
    n = p.normal
    assert n.dtype == np.float32 and (n[~fg] == 0).all()
    assert np.allclose(np.linalg.norm(n[fg], axis=-1), 1.0, atol=1e-4)
    # Facing the camera: against the viewing ray through the pixel.
    j, i = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    rays = np.stack([j, i, np.ones_like(j)], -1) @ np.linalg.inv(cam.K).T
    assert ((n * rays).sum(-1)[fg] < 0).all()
    R = cam.extrinsic[:3, :3]
    inner = ~_near_edge(which * 100_000 + tri)  # off triangle edges
    on_box = inner & (which == 1)
    face_n = box.face_normals[tri[on_box]] @ R.T
    face_n *= -np.sign((face_n * rays[on_box]).sum(-1, keepdims=True))
    assert on_box.sum() > 100
    assert np.abs(n[on_box] - face_n).max() < 1e-4
    # Smooth sphere normals are close to radial.
    on_sphere = ~_near_edge(which) & (which == 0)
    pts = rays[on_sphere] * p.depth[on_sphere][:, None]
    radial = pts - cam.to_camera(sphere.center_mass)
    radial /= np.linalg.norm(radial, axis=-1, keepdims=True)
    assert ((n[on_sphere] * radial).sum(-1) > 0.99).all()


@pytest.mark.parametrize("seed", range(4))
def test_projection_consistency(hr, seed):
    """A small quad parallel to the image plane covers exactly the pixel
    centres inside camera.project of its corners (rows top-down, off-centre K)."""
    rng = np.random.default_rng(seed)
    cam = _camera()
    R, t = cam.extrinsic[:3, :3], cam.extrinsic[:3, 3]
    px = rng.uniform([20, 20], [W - 20, H - 20])
    zc = rng.uniform(1.5, 4.0)
    centre_cam = np.linalg.inv(cam.K) @ [px[0], px[1], 1.0] * zc
    half = 3.5 * zc / cam.K[0, 0]   # ~7 px wide
    corners_cam = centre_cam + np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]]) * half
    corners = (corners_cam - t) @ R       # back to world
    point = (centre_cam - t) @ R
    quad = RenderMesh(corners, np.array([[0, 1, 2], [0, 2, 3]]), np.zeros(4, np.uint8), 1)
    mask = hr.render([quad], cam, passes=("instance",)).instance > 0
    rows, cols = np.nonzero(mask)
    xy, _ = cam.project(corners)
    (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
    # Pixel centres c + 0.5 inside [x0, x1): first/last covered index.
    assert cols.min() == np.ceil(x0 - 0.5) and cols.max() == np.ceil(x1 - 0.5) - 1
    assert rows.min() == np.ceil(y0 - 0.5) and rows.max() == np.ceil(y1 - 0.5) - 1
    centre = np.array([(cols.min() + cols.max() + 1) / 2, (rows.min() + rows.max() + 1) / 2])
    assert np.abs(centre - cam.project(point)[0]).max() <= 0.5


@pytest.mark.parametrize("size", [(64, 128), (200, 100), (W, H)])
def test_rgb_not_blank_any_aspect(hr, size):
    w, h = size
    sphere, _, meshes = _scene()
    cam = Camera.from_look_at([0.0, 0.3, 3.0], [0.0, 0.0, 0.0], 0.0, w, h)
    p = hr.render(meshes[:1], cam)
    assert p.rgb.shape == (h, w, 3) and p.rgb.dtype == np.uint8
    fg = p.instance > 0
    assert 0.05 * w * h < fg.sum() < w * h
    assert (p.rgb[~fg] == BACKGROUND_RGB).all()
    assert (np.abs(p.rgb[fg].astype(int) - BACKGROUND_RGB).sum(-1) > 10).all()
    assert p.rgb[fg].std() > 5  # shaded, not flat


def test_pass_subset_and_resize(hr):
    _, _, meshes = _scene()
    full = hr.render(meshes, _camera())
    sub = hr.render(meshes, _camera(), passes=("depth", "parts"))
    assert sub.rgb is None and sub.normal is None and sub.instance is None
    assert np.array_equal(sub.depth, full.depth) and np.array_equal(sub.parts, full.parts)
    small = hr.render(meshes, _camera(80, 60), passes=("depth",))
    assert small.depth.shape == (60, 80)
    again = hr.render(meshes, _camera(), passes=("depth",))
    assert np.array_equal(again.depth, full.depth)
    with pytest.raises(ValueError):
        hr.render(meshes, _camera(), passes=("albedo",))


def test_frames_do_not_leak_and_empty_scene(hr):
    _, _, meshes = _scene()
    hr.render(meshes, _camera())
    p = hr.render([], _camera())
    assert not p.depth.any() and not p.instance.any() and not p.normal.any()
    assert (p.rgb == BACKGROUND_RGB).all()
    moved = [RenderMesh(m.vertices + [0.0, 5.0, 0.0], m.faces, m.part_labels, m.instance_id)
             for m in meshes]
    assert not hr.render(moved, _camera(), passes=("instance",)).instance.any()


def test_depth_only_matches_all_passes(hr):
    _, _, meshes = _scene()
    p = hr.render(meshes, _camera(), passes=("depth",))
    assert np.array_equal(hr.render_depth_only(meshes, _camera()), p.depth)


def test_draw_into_caller_framebuffer_matches_rgb_pass(hr):
    """The on-screen path (a caller's FBO, as the Qt viewport will pass)
    shares the drawing code: same pixels as the rgb pass. Runs on its own
    thread so no EGL context becomes current on the test's thread."""
    import moderngl
    _, _, meshes = _scene()
    cam = _camera()

    def on_thread():
        ctx = moderngl.create_standalone_context(backend="egl")
        try:
            r = Renderer(ctx)
            fbo = ctx.simple_framebuffer((W, H), components=4)
            r.draw_into(fbo, meshes, cam)
            img = np.frombuffer(fbo.read(components=3), np.uint8).reshape(H, W, 3)[::-1]
            rgb = r.render(meshes, cam, passes=("rgb",)).rgb
            r.release()
            return img, rgb
        finally:
            ctx.release()

    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        img, rgb = ex.submit(on_thread).result()
    assert np.array_equal(img, rgb)


def test_headless_info_threads_and_close():
    from posebooth.viewport.headless import HeadlessRenderer
    try:
        r = HeadlessRenderer()
    except RenderError as exc:
        pytest.skip(f"no EGL OpenGL context here: {exc}")
    info = r.gl_info()
    assert set(info) == {"renderer", "vendor", "version"} and all(info.values())
    _, _, meshes = _scene()
    ref = r.render(meshes, _camera(), passes=("depth",)).depth
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        outs = list(ex.map(lambda _: r.render(meshes, _camera(), passes=("depth",)).depth,
                           range(6)))
    assert all(np.array_equal(o, ref) for o in outs)
    closers = [threading.Thread(target=r.close) for _ in range(3)]
    for t in closers:
        t.start()
    for t in closers:
        t.join()
    with pytest.raises(RenderError):
        r.render(meshes, _camera())


def test_headless_close_on_its_own_thread_does_not_deadlock():
    from posebooth.viewport.headless import HeadlessRenderer
    try:
        r = HeadlessRenderer()
    except RenderError as exc:
        pytest.skip(f"no EGL OpenGL context here: {exc}")
    done = threading.Event()
    caller = threading.Thread(target=lambda: (r._call(r.close), done.set()), daemon=True)
    caller.start()
    assert done.wait(30), "close() on the EGL thread deadlocked"
    r.close()


def test_vertex_normals_area_weighted():
    m = trimesh.creation.icosphere(subdivisions=2)
    v = (m.vertices * [1.0, 0.5, 2.0]).astype(np.float32)
    f = m.faces.astype(np.int32)
    ref = np.zeros_like(v, dtype=np.float64)
    np.add.at(ref, f.ravel(), np.repeat(np.cross(v[f[:, 1]] - v[f[:, 0]],
                                                 v[f[:, 2]] - v[f[:, 0]]), 3, axis=0))
    assert np.allclose(vertex_normals(v, f), ref, atol=1e-5)


def test_native_gl_calls_match_moderngl(monkeypatch):
    """The GIL-free draw/finish (native_gl) and moderngl's own calls give
    the same pixels; POSEBOOTH_NATIVE_GL=0 selects the latter."""
    from posebooth.viewport import native_gl
    from posebooth.viewport.headless import HeadlessRenderer

    assert native_gl.load() is not None   # the CI machine has libOpenGL
    _, _, meshes = _scene()
    with HeadlessRenderer() as r:
        assert r._call(lambda: r._renderer._native) is not None
        native = r.render(meshes, _camera())
    monkeypatch.setenv("POSEBOOTH_NATIVE_GL", "0")
    with HeadlessRenderer() as r:
        assert r._call(lambda: r._renderer._native) is None
        plain = r.render(meshes, _camera())
    for name in ALL_PASSES:
        assert np.array_equal(getattr(native, name), getattr(plain, name)), name


def test_closed_outward_meshes_are_recognised():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    v, f = sphere.vertices, sphere.faces
    assert is_closed_outward(f, v)
    assert not is_closed_outward(f[:, ::-1], v)          # wound inwards
    assert not is_closed_outward(f[1:], v)               # a hole
    assert not is_closed_outward(np.concatenate([f, f[:1]]), v)  # a doubled face
    box = trimesh.creation.box()
    box.unmerge_vertices()                               # no shared edges
    assert not is_closed_outward(box.faces, box.vertices)


def test_back_face_culling_changes_no_pixel(hr):
    """A closed sphere is drawn with back faces culled; the same sphere as
    an open mesh (one face pulled apart) is drawn two-sided. Every pass
    agrees except on the one face that differs."""
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.6)
    closed = RenderMesh(sphere.vertices, sphere.faces, np.full(len(sphere.vertices), 3, np.uint8), 1)
    # The open copy: the last face gets its own copies of its three vertices
    # (same positions), so the index topology has a hole there.
    v = np.concatenate([sphere.vertices, sphere.vertices[sphere.faces[-1]]])
    f = sphere.faces.copy()
    f[-1] = [len(sphere.vertices), len(sphere.vertices) + 1, len(sphere.vertices) + 2]
    opened = RenderMesh(v, f, np.full(len(v), 3, np.uint8), 1)
    assert is_closed_outward(closed.faces, closed.vertices) and not is_closed_outward(f, v)
    cam = _camera()
    a, b = hr.render([closed], cam), hr.render([opened], cam)
    assert np.array_equal(a.instance, b.instance) and np.array_equal(a.parts, b.parts)
    assert np.array_equal(a.depth, b.depth)
    same = np.abs(a.normal - b.normal).max(-1) < 1e-3   # the seam face's vertex normals differ
    assert same.mean() > 0.99


def test_camera_inside_a_closed_body_sees_its_inside(hr):
    """Culling must not apply when the near plane cuts the mesh: from inside
    a closed sphere every pixel shows its inner surface, normals facing us."""
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
    mesh = RenderMesh(sphere.vertices, sphere.faces, np.zeros(len(sphere.vertices), np.uint8), 1)
    cam = Camera.from_look_at([0.0, 0.0, 0.2], [0.0, 0.0, -1.0], 0.0, W, H)
    p = hr.render([mesh], cam)
    assert (p.instance == 1).all()
    j, i = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    rays = np.stack([j, i, np.ones_like(j)], -1) @ np.linalg.inv(cam.K).T
    assert ((p.normal * rays).sum(-1) < 0).all()
    # Partly cut by the near plane: the inside shows through the cut.
    near_cut = Camera.from_look_at([0.0, 0.0, 1.02], [0.0, 0.0, 0.0], 0.0, W, H)
    q = hr.render([mesh], near_cut, passes=("instance", "depth"))
    assert (q.instance == 1).all() and (q.depth > 0).all()


def test_render_mesh_validation():
    with pytest.raises(ValueError):
        RenderMesh(np.zeros((3, 3)), np.array([[0, 1, 2]]), np.zeros(3, np.uint8), 0)
    with pytest.raises(ValueError):
        RenderMesh(np.zeros((3, 3)), np.array([[0, 1, 2]]), np.zeros(2, np.uint8), 1)
    with pytest.raises(ValueError):
        RenderMesh(np.zeros((3, 3)), np.array([[0, 1, 3]]), np.zeros(3, np.uint8), 1)
    assert set(ALL_PASSES) == {"rgb", "depth", "normal", "parts", "instance"}


def test_missing_egl_is_a_clear_error(monkeypatch):
    from posebooth.viewport import headless

    def no_egl():
        raise OSError("libEGL.so.1: cannot open shared object file")
    monkeypatch.setattr(headless, "_create_context", no_egl)
    with pytest.raises(RenderError, match="libegl1.*libgl1-mesa-dri"):
        headless.HeadlessRenderer()
