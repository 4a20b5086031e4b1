"""PoseBooth: pose 3D bodies, render exact ground truth, generate images with diffusion."""

__version__ = "0.1.0"
