"""The export's pass names and chunking: plain constants, cheap to import
(the command line builds its options from them before anything heavy)."""

PASSES = ("render", "depth", "normal", "parts", "mask", "control", "overlay", "mesh", "openpose_json")
IMAGE_PASSES = ("render", "depth", "normal", "parts", "mask", "overlay")
DEFAULT_PASSES = ("render", "depth", "normal", "parts", "mask", "control", "overlay")
PASS_FOLDERS = {"openpose_json": "openpose"}   # a pass whose folder is not its name
POSE_CHUNK = 16  # frames posed per batched body call
