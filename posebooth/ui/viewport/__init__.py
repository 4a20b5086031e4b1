"""The Qt side of the viewport: the QOpenGLWidget hosting viewport.Renderer,
its mouse and keyboard input, and the main window's hosting helpers."""
