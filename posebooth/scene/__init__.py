"""Qt-free document model: people, poses, keyframes, camera, timeline, prompt."""
from posebooth.scene.io import SceneError, load_scene, save_scene, scene_from_json, scene_to_json
from posebooth.scene.model import (CameraKey, CameraSpec, Generation, Person, PoseKey, Scene,
                                   Timeline)
from posebooth.scene.tracks import PoseState, camera_at, pose_at

__all__ = ["CameraKey", "CameraSpec", "Generation", "Person", "PoseKey", "PoseState", "Scene",
           "SceneError", "Timeline", "camera_at", "load_scene", "pose_at", "save_scene",
           "scene_from_json", "scene_to_json"]
