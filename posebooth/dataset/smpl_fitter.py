"""Fitting the user's SMPL-family model to meshes of another topology (anny).

Per row, x = (global_orient, body_pose, pelvis position, betas) minimises the
sum of squares of these residuals (metres):

    joints   sqrt(w_j / 24) (J_j(x) - T_j)      hips, collars, spine down-weighted
    surface  nearest points both ways            `points` sampled vertices per mesh
    priors   sqrt(prior) betas, sqrt(prior) (pose - exported pose)

by Levenberg-Marquardt, each row with its own damping and its own accept
test (rows never interact); the Jacobian of the joint chain by forward-mode
autodiff, the vertices' from it by the chain rule. First the
joint term alone (it sets the pose and bone lengths from far away), then ICP
rounds: match nearest points (without gradient, against every vertex of the
other mesh), then a few LM steps on those matches.

The model is posed as smplx's lbs does, with its own batch_rodrigues and
batch_rigid_transform, on the module's buffers, only at the vertices a
residual needs; tests check the result against smplx's forward.
The pelvis, not smplx's transl, is the parameter: transl_smplx = pelvis -
J0(betas) follows the shape.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# SMPL-24 joints placed differently by anny (hip centres ~4 cm wider, collars
# ~6 cm nearer the neck, spine and hands shifted): there the surface decides.
JOINT_WEIGHTS = np.ones(24, dtype=np.float32)
JOINT_WEIGHTS[[1, 2, 13, 14]] = 0.1
JOINT_WEIGHTS[[0, 3, 6, 9, 22, 23]] = 0.3
MAX_PAIRS = 1 << 24   # point-vertex distances held at once in a nearest-neighbour search
MAX_TURN = 0.3        # radians: the largest change of one rotation component in one LM step


@dataclass(frozen=True)
class FitSettings:
    joint_steps: int = 15       # LM steps on the joints alone
    rounds: int = 10            # ICP rounds with the surface term
    round_steps: int = 2        # LM steps per round
    points: int = 1024          # sampled vertices per mesh in the surface term
    surface: float = 1.0
    joints: float = 1.0
    betas_prior: float = 1e-7     # m^2 per unit^2: a beta of 1 costs a 0.3 mm mean residual
    pose_prior: float = 1e-7      # keeps twists the data leave free where they were

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Fit:
    betas: np.ndarray           # (B, nb)
    global_orient: np.ndarray   # (B, 3)
    body_pose: np.ndarray       # (B, 69): SMPL's 23 joints; SMPL-H/X leave rows 21, 22 (hands) zero
    transl_smplx: np.ndarray    # (B, 3): smplx's transl (pelvis - J0(betas))
    j0: np.ndarray              # (B, 3): the rest pelvis J0(betas); j0 + transl_smplx is the pelvis
    joints: np.ndarray          # (B, 24, 3) world
    vertices: torch.Tensor      # (B, V, 3) world, on the fitter's device


def nearest(queries: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """(B, N) index of each query's nearest candidate (B, V, 3), in bounded memory."""
    out = torch.empty(queries.shape[:2], dtype=torch.long, device=queries.device)
    step = max(1, MAX_PAIRS // max(1, candidates.shape[1]))
    with torch.no_grad():
        for b in range(queries.shape[0]):
            for lo in range(0, queries.shape[1], step):
                out[b, lo:lo + step] = torch.cdist(queries[b, lo:lo + step], candidates[b]).argmin(1)
    return out


def _apply(m: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) @ (..., 3) per vertex, broadcast: einsum would make it one tiny matmul per vertex."""
    return (m * v[..., None, :]).sum(-1)


def _gather(points: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return points.gather(1, index[..., None].expand(-1, -1, 3))


class SmplFitter:
    def __init__(self, body, device: str = "cpu", settings: FitSettings = FitSettings(), seed: int = 0):
        m = body.torch_model
        self.device = torch.device(device)
        dev = lambda t: t.detach().to(self.device, torch.float32)  # noqa: E731
        self.v_template, self.shapedirs = dev(m.v_template), dev(m.shapedirs)
        n_joints = m.J_regressor.shape[0]
        self.posedirs = dev(m.posedirs).reshape(-1, len(self.v_template), 3).permute(1, 2, 0).contiguous()
        self.lbs_weights = dev(m.lbs_weights)
        reg = dev(m.J_regressor)
        self.j_template = reg @ self.v_template                        # J(betas) is linear in betas
        self.j_dirs = torch.einsum("jv,vcl->jcl", reg, self.shapedirs)
        self.parents = m.parents.cpu()   # walked joint by joint in Python: no device sync per joint
        mean = getattr(m, "pose_mean", None)   # SMPL-H/X (flat hands: zero); SMPL has none
        self.pose_mean = dev(mean) if mean is not None and mean.numel() == n_joints * 3 else None
        self.n_body = 23 if body.kind == "smpl" else 21
        self.n_rest = n_joints - 1 - self.n_body          # jaw, eyes, fingers: kept at rest
        self.smpl24 = torch.tensor(body.smpl24, device=self.device)
        self.num_betas = self.shapedirs.shape[-1]
        self.n_params = 3 + 3 * self.n_body + 3 + self.num_betas
        self.faces = torch.as_tensor(np.asarray(body.faces, dtype=np.int64), device=self.device)
        self.settings = settings
        self._rng = np.random.default_rng(seed)
        self.sample = self._sample(len(self.v_template))
        self.joint_weights = torch.as_tensor(JOINT_WEIGHTS, device=self.device)

    def _sample(self, n: int) -> torch.Tensor:
        k = min(self.settings.points, n)
        return torch.as_tensor(np.sort(self._rng.choice(n, k, replace=False)), device=self.device)

    def _split(self, x):
        nb = 3 * self.n_body
        return x[:, :3], x[:, 3:3 + nb], x[:, 3 + nb:6 + nb], x[:, 6 + nb:]

    def _chain(self, x):
        """The small, nonlinear part of posing: world SMPL-24 joints, the joints' skinning
        transforms, the pose-blend feature and the shift that puts the pelvis in place."""
        from smplx.lbs import batch_rigid_transform, batch_rodrigues

        go, body, pelvis, betas = self._split(x)
        b = x.shape[0]
        full = torch.cat([go, body, torch.zeros(b, self.n_rest * 3, device=self.device)], 1)
        if self.pose_mean is not None:
            full = full + self.pose_mean
        rots = batch_rodrigues(full.reshape(-1, 3)).reshape(b, -1, 3, 3)
        rest_joints = self.j_template + torch.einsum("jcl,bl->bjc", self.j_dirs, betas)
        joints, rel = batch_rigid_transform(rots, rest_joints, self.parents, dtype=torch.float32)
        shift = pelvis - joints[:, 0]      # the chain turns the body about J0(betas), which stays put
        feature = (rots[:, 1:] - torch.eye(3, device=self.device)).reshape(b, -1)
        return joints[:, self.smpl24] + shift[:, None], rel, feature, shift

    def _buffers(self, index, b: int):
        if index is None:
            return tuple(a[None].expand(b, *a.shape) for a in
                         (self.v_template, self.shapedirs, self.posedirs, self.lbs_weights))
        return self.v_template[index], self.shapedirs[index], self.posedirs[index], self.lbs_weights[index]

    def _skin(self, betas, rel, feature, buffers):
        """Linear blend skinning of the vertices in buffers (smplx.lbs's last steps)."""
        vt, sd, pd, w = buffers
        posed = vt + torch.einsum("bkcl,bl->bkc", sd, betas) + torch.einsum("bkcp,bp->bkc", pd, feature)
        t = torch.einsum("bkj,bjmn->bkmn", w, rel)
        return _apply(t[..., :3, :3], posed) + t[..., :3, 3], posed, t

    def pose(self, x, index=None, vertices: bool = True):
        """World SMPL-24 joints (B, 24, 3), vertices (B, V or K, 3) (all, or those in index
        (B, K); None when not asked for) and smplx's transl (B, 3) for parameters x (B, n_params)."""
        joints, rel, feature, shift = self._chain(x)
        if not vertices:
            return joints, None, shift
        verts = self._skin(self._split(x)[3], rel, feature, self._buffers(index, x.shape[0]))[0]
        return joints, verts + shift[:, None], shift

    def _residuals(self, x, data: dict, jacobian: bool = False):
        """Residuals (B, R) and, if asked, their Jacobian (B, R, P). The chain's Jacobian
        comes from forward-mode autodiff (vmap over the P tangents); the vertices', by the
        chain rule through the skinning, which is linear in what the chain gives (vmap
        through the big skinning einsums would copy the pose blend shapes P times)."""
        from torch.func import jvp, vmap

        s, b, p = self.settings, x.shape[0], x.shape[1]
        nb = 3 * self.n_body
        weights = (s.joints * self.joint_weights / 24).sqrt()[:, None]
        joints, rel, feature, shift = self._chain(x)
        pose, betas = x[:, :3 + nb], x[:, 6 + nb:]
        res = [((joints - data["joints"]) * weights).flatten(1), betas * s.betas_prior ** 0.5,
               (pose - data["pose0"]) * s.pose_prior ** 0.5]
        if jacobian:
            tangents = torch.eye(p, device=self.device)[:, None, :].expand(p, b, p)
            d_joints, d_rel, d_feature, d_shift = vmap(lambda v: jvp(self._chain, (x,), (v,))[1])(tangents)
            d_betas = tangents[..., 6 + nb:]
            jac = [(d_joints * weights).flatten(2), d_betas * s.betas_prior ** 0.5,
                   tangents[..., :3 + nb] * s.pose_prior ** 0.5]
        if "index" in data:
            buffers = self._buffers(data["index"], b)
            verts, posed, t = self._skin(betas, rel, feature, buffers)
            verts = verts + shift[:, None]
            n, m = data["to_model_points"].shape[1], data["to_target_points"].shape[1]
            cq, cm = (s.surface / n) ** 0.5, (s.surface / m) ** 0.5
            res += [((data["to_model_points"] - verts[:, :n]) * cq).flatten(1),
                    ((verts[:, n:] - data["to_target_points"]) * cm).flatten(1)]
            if jacobian:
                _, sd, pd, w = buffers
                dt = torch.einsum("bkj,nbjmo->nbkmo", w, d_rel)
                d_posed = torch.einsum("bkcl,nbl->nbkc", sd, d_betas) + torch.einsum("bkcp,nbp->nbkc", pd, d_feature)
                d_verts = _apply(dt[..., :3, :3], posed) + dt[..., :3, 3] + _apply(t[..., :3, :3], d_posed) \
                    + d_shift[:, :, None]
                jac += [(-d_verts[:, :, :n] * cq).flatten(2), (d_verts[:, :, n:] * cm).flatten(2)]
        r = torch.cat(res, 1)
        return (r, torch.cat(jac, 2).permute(1, 2, 0)) if jacobian else r

    def _lm(self, x, data: dict, steps: int, damping: torch.Tensor):
        """Levenberg-Marquardt steps, each row accepted or rejected on its own."""
        with torch.no_grad():
            r = self._residuals(x, data)
            cost = (r ** 2).sum(1)
            for _ in range(steps):
                r, jac = self._residuals(x, data, jacobian=True)
                jac = jac.double()
                g = (jac.transpose(1, 2) @ r.double()[..., None])[..., 0]
                h = jac.transpose(1, 2) @ jac
                diag = torch.diagonal(h, dim1=1, dim2=2)
                a = h + torch.diag_embed(damping[:, None] * diag + 1e-12)
                step = torch.linalg.solve(a, -g).float()
                turn = step[:, :3 + 3 * self.n_body].abs().amax(1, keepdim=True)
                step = step * (MAX_TURN / turn).clamp(max=1.0)           # no wrap-around in one step
                cost_new = (self._residuals(x + step, data) ** 2).sum(1)
                better = torch.isfinite(cost_new) & (cost_new < cost)
                x = torch.where(better[:, None], x + step, x)
                cost = torch.where(better, cost_new, cost)
                damping = torch.where(better, damping / 3, damping * 4).clamp(1e-9, 1e9)
        return x, damping

    def fit(self, target_vertices, target_joints, global_orient, body_pose, pelvis, betas=None) -> Fit:
        """Fit B rows. Targets: world vertices (B, Vt, 3) and SMPL-24 joints (B, 24, 3);
        the initial pose (B, 3), (B, 69) and pelvis (B, 3); betas start at zero unless given."""
        threads = torch.get_num_threads()
        if self.device.type == "cpu":   # hundreds of tiny ops per step: torch's threads only add waits
            torch.set_num_threads(1)     # (3-7x slower with 2 threads, measured)
        try:
            return self._fit(target_vertices, target_joints, global_orient, body_pose, pelvis, betas)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, target_vertices, target_joints, global_orient, body_pose, pelvis, betas) -> Fit:
        s = self.settings
        t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32), device=self.device)  # noqa: E731
        tv, tj = t(target_vertices), t(target_joints)
        b = tv.shape[0]
        tq = tv[:, self._sample(tv.shape[1])]                          # target points that look for the model
        pose0 = torch.cat([t(global_orient).reshape(b, 3), t(body_pose).reshape(b, 69)[:, :3 * self.n_body]], 1)
        beta0 = torch.zeros(b, self.num_betas, device=self.device) if betas is None else t(betas).reshape(b, -1)
        x = torch.cat([pose0, t(pelvis).reshape(b, 3), beta0], 1)
        damping = torch.full((b,), 1e-3, device=self.device)
        data = {"joints": tj, "pose0": pose0}
        x, damping = self._lm(x, data, s.joint_steps, damping)       # joints alone: pose and bone lengths
        sample = self.sample[None].expand(b, -1)
        for _ in range(s.rounds):                                      # ICP: match, then fit to the matches
            with torch.no_grad():
                verts = self.pose(x)[1]
                to_model = nearest(tq, verts)
                to_target = nearest(verts[:, self.sample], tv)
            data = {"joints": tj, "pose0": pose0, "index": torch.cat([to_model, sample], 1),
                    "to_model_points": tq, "to_target_points": _gather(tv, to_target)}
            x, damping = self._lm(x, data, s.round_steps, damping.clamp(min=1e-3))
        with torch.no_grad():
            joints, verts, transl = self.pose(x)
            go, body, pelvis, beta = self._split(x)
            body69 = torch.zeros(b, 69, device=self.device)
            body69[:, :3 * self.n_body] = body
        n = lambda a: a.detach().cpu().numpy().astype(np.float32)  # noqa: E731
        return Fit(betas=n(beta), global_orient=n(go), body_pose=n(body69), transl_smplx=n(transl),
                   j0=n(pelvis - transl), joints=n(joints), vertices=verts)
